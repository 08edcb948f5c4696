/* danemsg quarantine: what the listener refused, and putting it back (docs/messaging.md).
 * Safe while the listener runs: entries move with rename(), and the listener finds what
 * came back to its spool in its next scan. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "spool.h"

#define MAX_REASON_FILE 4096
#define MIN_PREFIX 6

static const char quarantine_usage[] =
	"usage: danemsg quarantine list [--json] [--reason R] [where]\n"
	"       danemsg quarantine show ENTRY [--payload] [where]\n"
	"       danemsg quarantine retry ENTRY...|--all|--reason R [where]\n"
	"       danemsg quarantine purge ENTRY...|--all|--reason R [where]\n"
	"\n"
	"The messages a listener refused: list them (one line each: entry, reason, size, when\n"
	"it arrived, whether the payload was kept), show one (why, and with --payload the\n"
	"payload, escaped), put them back into the spool to be opened again as of the time\n"
	"they first arrived (retry), or delete them (purge). ENTRY is a name from list, or\n"
	"its first 6 or more characters. Works while the listener runs: it takes entries put\n"
	"back within a few seconds.\n"
	"\n"
	"where: the state folder, as listen finds it:\n"
	"  --as NAME            the listener's identity (env IDENTITY_NAME): DIR/NAME.listen\n"
	"  --dir DIR            identity folder (env DANEMSG_DIR, CRYPTO_PATH; ~/.danemsg)\n"
	"  --state DIR          the state folder itself\n"
	"  --json               list: one JSON object per line\n"
	"  --reason R           only the entries refused for reason R (e.g. dns-temporary)\n"
	"  --all                retry, purge: every entry\n"
	"  --payload            show: the payload too\n"
	"  -h, --help\n"
	"\n"
	"Exit status: 0 done; 1 an entry is unknown, ambiguous or cannot be moved (the others\n"
	"are done); 2 usage.\n";

enum { OPT_AS = 'a', OPT_DIR = 'd', OPT_STATE = 's', OPT_JSON = 'j', OPT_REASON = 'r',
       OPT_ALL = 'A', OPT_PAYLOAD = 'p', OPT_HELP = 'h' };

static const struct option quarantine_longopts[] = {
	{"as", required_argument, NULL, OPT_AS},
	{"dir", required_argument, NULL, OPT_DIR},
	{"state", required_argument, NULL, OPT_STATE},
	{"json", no_argument, NULL, OPT_JSON},
	{"reason", required_argument, NULL, OPT_REASON},
	{"all", no_argument, NULL, OPT_ALL},
	{"payload", no_argument, NULL, OPT_PAYLOAD},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

struct q_args {
	const char *as, *dir, *state, *reason;
	int json, all, payload;
};

struct q_entry {
	char name[SPOOL_NAME_MAX];
	struct spool_reason why;
	int has_msg;
};

/* The entries in quarantine (those with a .reason), sorted by name. */
struct q_list {
	struct q_entry *v;
	size_t n;
};

static int read_reason(int qfd, const char *name, struct spool_reason *out)
{
	char file[SPOOL_NAME_MAX + 16], text[MAX_REASON_FILE];
	ssize_t n;
	int fd;

	snprintf(file, sizeof(file), "%s.reason", name);
	fd = openat(qfd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return -1;
	n = read(fd, text, sizeof(text));
	close(fd);
	if (n < 0 || spool_reason_parse(text, (size_t)n, out))
		memset(out, 0, sizeof(*out));
	if (!out->reason[0])
		snprintf(out->reason, sizeof(out->reason), "?");
	return 0;
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct q_entry *)a)->name, ((const struct q_entry *)b)->name);
}

/* An entry's name from a directory entry "NAME.reason"; 0 when it is one. */
static int entry_name(const char *file, char name[SPOOL_NAME_MAX])
{
	size_t len = strlen(file), slen = strlen(".reason");
	uint8_t sha[32];
	int mid;
	if (len <= slen || len - slen >= SPOOL_NAME_MAX || strcmp(file + len - slen, ".reason"))
		return -1;
	memcpy(name, file, len - slen);
	name[len - slen] = '\0';
	return spool_name_parse(name, sha, &mid);
}

static int load_list(struct spool *s, struct q_list *l)
{
	int qfd = spool_quarantine_fd(s), fd = dup(qfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	size_t cap = 0;

	memset(l, 0, sizeof(*l));
	if (!d) {
		if (fd >= 0)
			close(fd);
		cli_error("cannot read the quarantine: %s", strerror(errno));
		return EXIT_FAILURE_;
	}
	while ((e = readdir(d))) {
		struct q_entry q;
		char msg[SPOOL_NAME_MAX + 16];
		struct stat st;

		if (entry_name(e->d_name, q.name) || read_reason(qfd, q.name, &q.why))
			continue;
		snprintf(msg, sizeof(msg), "%s.msg", q.name);
		q.has_msg = !fstatat(qfd, msg, &st, AT_SYMLINK_NOFOLLOW) && S_ISREG(st.st_mode);
		if (l->n == cap) {
			struct q_entry *v = realloc(l->v, (cap = cap ? 2 * cap : 64) * sizeof(*v));
			if (!v) {
				closedir(d);
				cli_error("out of memory");
				return EXIT_FAILURE_;
			}
			l->v = v;
		}
		l->v[l->n++] = q;
	}
	closedir(d);
	if (l->n)
		qsort(l->v, l->n, sizeof(*l->v), entry_cmp);
	return EXIT_OK_;
}

/* The one entry named, or whose name starts with the prefix given; NULL (reported). */
static struct q_entry *find_entry(struct q_list *l, const char *arg)
{
	size_t len = strlen(arg);
	struct q_entry *found = NULL;
	char shown[2 * SPOOL_NAME_MAX];

	spool_escape(arg, len < SPOOL_NAME_MAX ? len : SPOOL_NAME_MAX, shown, sizeof(shown));
	if (len < MIN_PREFIX) {
		cli_error("'%s': give at least %d characters of an entry's name", shown,
			  MIN_PREFIX);
		return NULL;
	}
	for (size_t i = 0; i < l->n; i++) {
		if (strncmp(l->v[i].name, arg, len))
			continue;
		if (!strcmp(l->v[i].name, arg))
			return &l->v[i];
		if (found) {
			cli_error("'%s' names more than one entry: give more of it", shown);
			return NULL;
		}
		found = &l->v[i];
	}
	if (!found)
		cli_error("no entry '%s' in the quarantine", shown);
	return found;
}

static void print_entry(const struct q_entry *q, int json)
{
	json_t *o;
	char *text;

	if (!json) {
		printf("%s  %s  %llu  %s  %s\n", q->name, q->why.reason, q->why.size,
		       q->why.received[0] ? q->why.received : "-",
		       q->has_msg ? "kept" : "dropped");
		return;
	}
	/* every string is printable ASCII (spool_reason_parse): valid JSON text */
	o = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:b}", "entry", q->name, "reason",
		      q->why.reason, "detail", q->why.detail, "size", (json_int_t)q->why.size,
		      "received", q->why.received, "quarantined", q->why.quarantined,
		      "payload_kept", q->has_msg);
	text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	if (text)
		printf("%s\n", text);
	free(text);
	json_decref(o);
}

static int print_payload(int qfd, const char *name)
{
	char file[SPOOL_NAME_MAX + 16], out[4 * 4096 + 1];
	uint8_t buf[4096];
	ssize_t n;
	int fd;

	snprintf(file, sizeof(file), "%s.msg", name);
	fd = openat(qfd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		printf("payload: (not kept)\n");
		return EXIT_OK_;
	}
	printf("payload: ");
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		spool_escape(buf, (size_t)n, out, sizeof(out));
		fputs(out, stdout);
	}
	close(fd);
	printf("\n");
	return n < 0 ? EXIT_FAILURE_ : EXIT_OK_;
}

static int cmd_list(struct q_list *l, const struct q_args *a)
{
	for (size_t i = 0; i < l->n; i++)
		if (!a->reason || !strcmp(l->v[i].why.reason, a->reason))
			print_entry(&l->v[i], a->json);
	return EXIT_OK_;
}

static int cmd_show(struct spool *s, struct q_list *l, const struct q_args *a, int argc,
		    char **argv)
{
	struct q_entry *q;
	if (argc != 1) {
		cli_error("show takes one ENTRY");
		return EXIT_USAGE;
	}
	if (!(q = find_entry(l, argv[0])))
		return EXIT_FAILURE_;
	printf("entry: %s\nreason: %s\ndetail: %s\nsize: %llu\nreceived: %s\nquarantined: %s\n"
	       "payload kept: %s\nfirst bytes: %s\n", q->name, q->why.reason, q->why.detail,
	       q->why.size, q->why.received, q->why.quarantined, q->has_msg ? "yes" : "no",
	       q->why.head);
	return a->payload ? print_payload(spool_quarantine_fd(s), q->name) : EXIT_OK_;
}

/* The entry's payload is gone (back to the spool, or deleted): its reason goes too. */
static int forget_entry(struct spool *s, const struct q_entry *q, const char *done)
{
	char file[SPOOL_NAME_MAX + 16];
	snprintf(file, sizeof(file), "%s.reason", q->name);
	unlinkat(spool_quarantine_fd(s), file, 0);
	printf("%s %s (%s)\n", done, q->name, q->why.reason);
	return EXIT_OK_;
}

/* Back to the spool: the payload keeps its file time, the time it arrived, which the
 * listener judges its freshness by. The reason goes last, so that a crash in between
 * leaves the message in the spool and a stale reason (listed), never neither. */
static int retry_entry(struct spool *s, const struct q_entry *q)
{
	char file[SPOOL_NAME_MAX + 16];
	if (!q->has_msg) {
		cli_error("%s: its payload was not kept (%s): nothing to retry", q->name,
			  q->why.reason);
		return EXIT_FAILURE_;
	}
	snprintf(file, sizeof(file), "%s.msg", q->name);
	if (renameat(spool_quarantine_fd(s), file, spool_spool_fd(s), file) ||
	    fsync(spool_spool_fd(s))) {
		cli_error("%s: cannot move it to the spool: %s", q->name, strerror(errno));
		return EXIT_FAILURE_;
	}
	return forget_entry(s, q, "retry");
}

static int purge_entry(struct spool *s, const struct q_entry *q)
{
	char file[SPOOL_NAME_MAX + 16];
	snprintf(file, sizeof(file), "%s.msg", q->name);
	if (unlinkat(spool_quarantine_fd(s), file, 0) && errno != ENOENT) {
		cli_error("%s: %s", q->name, strerror(errno));
		return EXIT_FAILURE_;
	}
	return forget_entry(s, q, "purged");
}

static int cmd_each(struct spool *s, struct q_list *l, const struct q_args *a, int argc,
		    char **argv, int (*fn)(struct spool *, const struct q_entry *))
{
	int rc = EXIT_OK_;
	if (!!argc + a->all + !!a->reason != 1) {
		cli_error("give ENTRY..., --all or --reason R (one of them)");
		return EXIT_USAGE;
	}
	for (int i = 0; i < argc; i++) {
		struct q_entry *q = find_entry(l, argv[i]);
		if (!q || fn(s, q))
			rc = EXIT_FAILURE_;
	}
	for (size_t i = 0; !argc && i < l->n; i++)
		if ((a->all || !strcmp(l->v[i].why.reason, a->reason)) && fn(s, &l->v[i]))
			rc = EXIT_FAILURE_;
	return rc;
}

static int parse_args(int argc, char **argv, struct q_args *a)
{
	int c;
	optind = 1;
	while ((c = cli_getopt(argc, argv, quarantine_longopts)) != -1) {
		switch (c) {
		case OPT_AS: a->as = optarg; break;
		case OPT_DIR: a->dir = optarg; break;
		case OPT_STATE: a->state = optarg; break;
		case OPT_JSON: a->json = 1; break;
		case OPT_REASON: a->reason = optarg; break;
		case OPT_ALL: a->all = 1; break;
		case OPT_PAYLOAD: a->payload = 1; break;
		case OPT_HELP: fputs(quarantine_usage, stdout); return -1;
		default: return EXIT_USAGE;
		}
	}
	return EXIT_OK_;
}

/* The state folder, as listen finds it. */
static int state_dir(const struct q_args *a, char *out, size_t len)
{
	static const char *const identity_vars[] = {"IDENTITY_NAME", NULL};
	const char *as = a->as ? a->as : cli_env(identity_vars), *dir;
	char name[DANEMSG_CREDENTIAL_NAME_MAX];

	if (a->state) {
		snprintf(out, len, "%s", a->state);
		return EXIT_OK_;
	}
	if (!as) {
		cli_error("quarantine needs --as NAME or --state DIR");
		return EXIT_USAGE;
	}
	if (danemsg_credential_name_normalize(as, name, sizeof(name))) {
		cli_error("--as: not a DNS name");
		return EXIT_USAGE;
	}
	if (!(dir = cli_identity_dir(a->dir)))
		return EXIT_USAGE;
	return spool_state_dir(dir, name, out, len) ? EXIT_USAGE : EXIT_OK_;
}

int cmd_quarantine(int argc, char **argv)
{
	static const char *const actions[] = {"list", "show", "retry", "purge"};
	struct q_args a = {0};
	struct q_list l = {0};
	struct spool *s = NULL;
	char state[4200];
	int rc, action = -1, locked = 0;

	if ((rc = parse_args(argc, argv, &a)))
		return rc < 0 ? EXIT_OK_ : rc;
	for (size_t i = 0; optind < argc && i < sizeof(actions) / sizeof(*actions); i++)
		if (!strcmp(argv[optind], actions[i]))
			action = (int)i;
	if (action < 0) {
		if (optind < argc)
			cli_error("quarantine: '%s' is not list, show, retry or purge",
				  argv[optind]);
		else
			cli_operands(argc, argv, "list, show, retry or purge", 1, 1);
		return EXIT_USAGE;
	}
	optind++;
	if ((rc = state_dir(&a, state, sizeof(state))) ||
	    (rc = spool_open_unlocked(state, &locked, &s)) || (rc = load_list(s, &l)))
		goto out;
	argc -= optind;
	argv += optind;
	if (action == 0 && argc) {
		cli_error("list takes no ENTRY");
		rc = EXIT_USAGE;
	} else if (action == 0) {
		rc = cmd_list(&l, &a);
	} else if (action == 1) {
		rc = cmd_show(s, &l, &a, argc, argv);
	} else {
		rc = cmd_each(s, &l, &a, argc, argv, action == 2 ? retry_entry : purge_entry);
	}
	if (action == 2 && !rc && !locked)
		fprintf(stderr, "no listener runs on %s: the entries wait in its spool\n", state);
out:
	free(l.v);
	spool_close(s);
	return rc;
}

/* danemsg open: decrypt a sealed message, verify its sender in DNS, apply the policy. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "dns_opts.h"
#include "message_io.h"

static const char open_usage[] =
	"usage: danemsg open --as NAME [options] [DNS options]\n"
	"\n"
	"Opens a sealed message (standard input, or --in) addressed to NAME: decrypts it,\n"
	"finds the sender's key in DNS (DNSSEC-validated), verifies the signature and\n"
	"applies the policy. Writes the payload (to a terminal: escaped, one line), or with\n"
	"--json one JSON object. A message id (jti) is 1-128 of A-Z a-z 0-9 - _.\n"
	"\n"
	"  --as NAME           the recipient: an identity in the identity folder\n"
	"  --json              one object: from, to, payload (or payload_base64), dnssec,\n"
	"                      format, iat, exp, jti, alg, enc, sender_key_sha256\n"
	"  --allow PATTERN     accept only these senders (exact name or *.SUFFIX);\n"
	"                      repeatable; checked before any DNS lookup\n"
	"  --max-size BYTES    refuse larger input before parsing (default 1048576)\n"
	"  --max-age S         refuse messages issued more than S seconds ago (default 300)\n"
	"  --compat            also accept the reference system's format, which binds no\n"
	"                      recipient, time or id (identical texts: the second is a\n"
	"                      replay within --max-age); default: refused (exit 28)\n"
	"  --no-compat         refuse it (the default)\n"
	"  --replay-cache FILE remember message ids here (default DIR/NAME.replay)\n"
	"  --no-replay-cache   do not remember message ids (replays are not detected)\n"
	"  --in FILE, --out FILE\n"
	"  --dir DIR           identity folder (env DANEMSG_DIR, CRYPTO_PATH; ~/.danemsg)\n"
	"  -h, --help\n"
	"\n%s\n%s"
	"\n"
	"Exit status: 0 opened; 2 usage; 10 sender's DNS insecure; 11 bogus; 13 temporary\n"
	"DNS failure (retry later); 20 malformed; 21 not for me; 22 unknown sender;\n"
	"23 bad signature; 24 expired; 25 replayed; 26 sender not allowed; 27 too large;\n"
	"28 algorithm or format not allowed (also: a reference-format message without\n"
	"--compat); 29 cannot decrypt; 1 other errors (also: the replay cache is damaged,\n"
	"or the message's id cannot be saved in it: nothing is written).\n";

struct open_args {
	const char *as, *in, *out, *dir_opt, *replay_file;
	int json, no_replay;
	size_t max_size;
	danemsg_policy *policy;
};

/* Opens and locks path; the lock must be on the file that path names now, since each
 * save replaces it (rename): a lock won on a replaced file is retried. -1 on failure. */
static int lock_replay_file(const char *path)
{
	for (int tries = 0; tries < 100; tries++) {
		struct stat held, now;
		int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 || flock(fd, LOCK_EX) || fstat(fd, &held)) {
			if (fd >= 0)
				close(fd);
			return -1;
		}
		if (!stat(path, &now) && now.st_ino == held.st_ino && now.st_dev == held.st_dev)
			return fd;
		close(fd);
	}
	errno = EBUSY;
	return -1;
}

/* The replay cache file, locked for the whole open so that concurrent opens agree. A
 * file that does not load stops everything: going on with part of it would accept
 * replays of the messages it forgot. */
static int replay_begin(const char *path, danemsg_replay_cache *cache, int *lock_fd)
{
	danemsg_err err;
	char errbuf[1024];
	*lock_fd = lock_replay_file(path);
	if (*lock_fd < 0) {
		cli_error("%s: cannot open the replay cache: %s", path, strerror(errno));
		return EXIT_FAILURE_;
	}
	err = danemsg_replay_cache_load(cache, path, NULL, errbuf, sizeof(errbuf));
	if (err == DANEMSG_ERR_MALFORMED) {
		cli_error("%s: the replay cache is damaged: nothing opened. Move it away to "
			  "start afresh (then replays of messages opened in the last --max-age "
			  "seconds are not detected)", errbuf);
		return EXIT_FAILURE_;
	}
	if (err) {
		cli_error("cannot load the replay cache: %s", errbuf);
		return EXIT_FAILURE_;
	}
	return EXIT_OK_;
}

/* On a terminal the payload cannot move the cursor, clear the screen or forge a line: it
 * is escaped (cli_escape_text), and ends with a new line. */
static int print_for_terminal(const uint8_t *payload, size_t len)
{
	char *text = cli_escape_text(payload, len, &len);
	int rc;
	if (!text)
		return EXIT_FAILURE_;
	text[len] = '\n';   /* over the NUL: the buffer has room */
	rc = cli_write_output(NULL, text, len + 1);
	free(text);
	return rc;
}

static int print_message(const danemsg_message *m, const struct open_args *a)
{
	size_t len;
	const uint8_t *payload = danemsg_message_payload(m, &len);
	int rc;
	if (a->json) {
		json_t *o = cli_message_json(m);
		char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(o);
		if (!text)
			return EXIT_FAILURE_;
		size_t tlen = strlen(text);
		text[tlen] = '\n';
		rc = cli_write_output(a->out, text, tlen + 1);
		free(text);
		return rc;
	}
	if (danemsg_message_insecure_allowed(m))
		fprintf(stderr, "danemsg: WARNING: sender %s is only authenticated by an "
				"INSECURE DNS answer\n", danemsg_message_from(m));
	if ((!a->out || !strcmp(a->out, "-")) && isatty(STDOUT_FILENO))
		return print_for_terminal(payload, len);
	return cli_write_output(a->out, payload, len);   /* the bytes, to a file or a pipe */
}

static int parse_args(int argc, char **argv, struct open_args *a, struct cli_dns_opts *dns)
{
	static const struct option longopts[] = {
		{"as", required_argument, NULL, 'a'},
		{"json", no_argument, NULL, 'j'},
		{"allow", required_argument, NULL, 'A'},
		{"max-size", required_argument, NULL, 's'},
		{"max-age", required_argument, NULL, 'g'},
		{"compat", no_argument, NULL, 'c'},
		{"no-compat", no_argument, NULL, 'C'},
		{"replay-cache", required_argument, NULL, 'r'},
		{"no-replay-cache", no_argument, NULL, 'R'},
		{"in", required_argument, NULL, 'i'},
		{"out", required_argument, NULL, 'o'},
		{"dir", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		CLI_DNS_LONG_OPTIONS,
		CLI_CHAIN_LONG_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	unsigned long v;
	int opt;

	optind = 1;
	while ((opt = cli_next_option(argc, argv, longopts, dns)) != -1) {
		switch (opt) {
		case CLI_OPT_BAD_VALUE: return EXIT_USAGE;
		case 'a': a->as = optarg; break;
		case 'j': a->json = 1; break;
		case 'A':
			if (danemsg_policy_allow_sender(a->policy, optarg)) {
				cli_error("--allow: '%s' is not a name or *.SUFFIX pattern",
					  optarg);
				return EXIT_USAGE;
			}
			break;
		case 's':
			if (cli_parse_uint(optarg, "--max-size", 64, 64u << 20, &v))
				return EXIT_USAGE;
			danemsg_policy_set_max_size(a->policy, v);
			a->max_size = v;
			break;
		case 'g':
			if (cli_parse_uint(optarg, "--max-age", 1, 366u * 86400u, &v))
				return EXIT_USAGE;
			danemsg_policy_set_freshness(a->policy, (uint32_t)v, 60);
			break;
		case 'c': danemsg_policy_set_accept_compat(a->policy, 1); break;
		case 'C': danemsg_policy_set_accept_compat(a->policy, 0); break;
		case 'r': a->replay_file = optarg; break;
		case 'R': a->no_replay = 1; break;
		case 'i': a->in = optarg; break;
		case 'o': a->out = optarg; break;
		case 'd': a->dir_opt = optarg; break;
		case 'h': printf(open_usage, cli_dns_help, cli_chain_help); return -1;
		default: return EXIT_USAGE;
		}
	}
	if (!a->as || optind != argc) {
		cli_error("open needs --as NAME (see 'danemsg open --help')");
		return EXIT_USAGE;
	}
	return EXIT_OK_;
}

int cmd_open(int argc, char **argv)
{
	struct open_args a = {0};
	struct cli_dns_opts dns = {0};
	danemsg_credential *keys[CLI_MAX_KEYS];
	size_t n_keys = 0, in_len = 0;
	danemsg_replay_cache *replay = NULL;
	danemsg_resolver *r = NULL;
	danemsg_trust_anchor *ta = NULL;
	danemsg_message *m = NULL;
	uint8_t *input = NULL;
	char errbuf[512] = "", replay_path[4096];
	const char *dir;
	int rc, lock_fd = -1;
	danemsg_err err;

	if (danemsg_policy_new(&a.policy))
		return EXIT_FAILURE_;
	a.max_size = 1u << 20;
	rc = parse_args(argc, argv, &a, &dns);
	if (rc) {
		danemsg_policy_free(a.policy);
		return rc < 0 ? EXIT_OK_ : rc;
	}
	dir = cli_identity_dir(a.dir_opt);
	rc = dir ? cli_load_keyring(dir, a.as, keys, &n_keys) : EXIT_USAGE;
	if (!rc)
		rc = cli_read_input(a.in, a.max_size, &input, &in_len);
	if (!rc && cli_receiver_new(&dns, &r, &ta))
		rc = EXIT_DNS_CONFIG;
	if (!rc)
		danemsg_policy_set_chain_anchor(a.policy, ta, dns.chain_at);
	if (!rc && a.no_replay) {
		danemsg_replay_ops none = {DANEMSG_REPLAY_OPS_VERSION, NULL, NULL};
		danemsg_policy_set_replay(a.policy, none);
	} else if (!rc) {
		if (!a.replay_file &&
		    !cli_identity_state_path(dir, danemsg_credential_name(keys[0]), "replay",
					     replay_path, sizeof(replay_path)))
			a.replay_file = replay_path;
		if (!a.replay_file) {
			cli_error("no room for the replay cache's path: use --replay-cache FILE");
			rc = EXIT_USAGE;
		} else if (danemsg_replay_cache_new(100000, &replay))
			rc = EXIT_FAILURE_;
		else
			rc = replay_begin(a.replay_file, replay, &lock_fd);
		if (!rc)
			danemsg_policy_set_replay(a.policy, danemsg_replay_cache_ops(replay));
	}
	if (!rc) {
		err = danemsg_open(r, (const danemsg_credential *const *)keys, n_keys, a.policy,
				   input, in_len, &m, errbuf, sizeof(errbuf));
		if (err) {
			cli_error("refused (%s): %s", danemsg_err_name(err),
				  errbuf[0] ? errbuf : danemsg_strerror(err));
			rc = cli_exit_code(err);
		} else {
			/* not remembered, not shown: a copy would be accepted again */
			if (replay && danemsg_replay_cache_save(replay, a.replay_file, errbuf,
								  sizeof(errbuf))) {
				cli_error("cannot save the replay cache (%s): the message is "
					  "not written", errbuf);
				rc = EXIT_FAILURE_;
			} else {
				rc = print_message(m, &a);
			}
		}
	}
	if (lock_fd >= 0)
		close(lock_fd);
	danemsg_message_free(m);
	danemsg_replay_cache_free(replay);
	danemsg_resolver_free(r);
	danemsg_trust_anchor_free(ta);
	free(input);
	cli_free_keyring(keys, n_keys);
	danemsg_policy_free(a.policy);
	return rc;
}

/* Shared pieces of the command-line tool: dispatch, errors, exit codes. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

/* "danemsg id show": set by cli_dispatch, named in option errors. */
static char command_path[64] = "danemsg";

void cli_error(const char *fmt, ...)
{
	va_list ap;
	fputs("danemsg: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_exit_code(danemsg_err err)
{
	switch (err) {
	case DANEMSG_OK: return EXIT_OK_;
	case DANEMSG_ERR_INVALID_ARG: return EXIT_USAGE;
	case DANEMSG_ERR_DNS_INSECURE: return EXIT_DNS_INSECURE;
	case DANEMSG_ERR_DNS_BOGUS: return EXIT_DNS_BOGUS;
	case DANEMSG_ERR_DNS_NOT_FOUND: return EXIT_DNS_NOT_FOUND;
	case DANEMSG_ERR_DNS_TEMPORARY: return EXIT_DNS_TEMPORARY;
	case DANEMSG_ERR_NO_USABLE_RECORD: return EXIT_NO_USABLE_RECORD;
	case DANEMSG_ERR_NO_MATCH: return EXIT_NO_MATCH;
	case DANEMSG_ERR_DNS_CONFIG: return EXIT_DNS_CONFIG;
	case DANEMSG_ERR_UPDATE_REFUSED: return EXIT_UPDATE_REFUSED;
	case DANEMSG_ERR_EXISTS: return EXIT_EXISTS;
	case DANEMSG_ERR_KEY_PERMISSIONS: return EXIT_KEY_PERMISSIONS;
	case DANEMSG_ERR_BROKER: return EXIT_BROKER;
	case DANEMSG_ERR_NOT_FOR_ME: return EXIT_NOT_FOR_ME;
	case DANEMSG_ERR_UNKNOWN_SENDER: return EXIT_UNKNOWN_SENDER;
	case DANEMSG_ERR_BAD_SIGNATURE: return EXIT_BAD_SIGNATURE;
	case DANEMSG_ERR_EXPIRED: return EXIT_EXPIRED;
	case DANEMSG_ERR_REPLAYED: return EXIT_REPLAYED;
	case DANEMSG_ERR_SENDER_NOT_ALLOWED: return EXIT_SENDER_NOT_ALLOWED;
	case DANEMSG_ERR_TOO_LARGE: return EXIT_TOO_LARGE;
	case DANEMSG_ERR_ALGORITHM:
	case DANEMSG_ERR_UNSUPPORTED:
		return EXIT_ALGORITHM;
	case DANEMSG_ERR_DECRYPT: return EXIT_DECRYPT;
	case DANEMSG_ERR_MALFORMED:
		return EXIT_REJECTED;
	default: return EXIT_FAILURE_;
	}
}

const char *cli_env(const char *const *names)
{
	for (; *names; names++) {
		const char *v = getenv(*names);
		if (v && *v)
			return v;
	}
	return NULL;
}

const char *cli_identity_dir(const char *dir_option)
{
	static const char *const vars[] = {"DANEMSG_DIR", "CRYPTO_PATH", NULL};
	static char home_dir[4096];
	const char *dir = dir_option ? dir_option : cli_env(vars);
	if (dir)
		return dir;
	const char *home = getenv("HOME");
	if (!home || !*home) {
		cli_error("HOME is unset: give the identity folder with --dir or DANEMSG_DIR");
		return NULL;
	}
	int n = snprintf(home_dir, sizeof(home_dir), "%s/.danemsg", home);
	if (n < 0 || (size_t)n >= sizeof(home_dir)) {
		cli_error("HOME is too long");
		return NULL;
	}
	return home_dir;
}

int cli_identity_state_path(const char *dir, const char *name, const char *what, char *out,
			    size_t len)
{
	char norm[DANEMSG_CREDENTIAL_NAME_MAX], key[4400];
	size_t at;
	int n;

	/* the key's path says which layout the name has: the byte after DIR/NAME */
	if (danemsg_credential_name_normalize(name, norm, sizeof(norm)) ||
	    danemsg_credential_path(dir, norm, DANEMSG_SLOT_CURRENT, DANEMSG_FILE_KEY, key,
				    sizeof(key)))
		return -1;
	at = strlen(dir) + 1 + strlen(norm);
	n = snprintf(out, len, "%.*s%c%s", (int)at, key, key[at], what);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int cli_parse_uint(const char *arg, const char *what, unsigned long min, unsigned long max,
		   unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(arg, &end, 10);
	if (arg[0] < '0' || arg[0] > '9' || *end || errno || v < min || v > max) {
		cli_error("%s: '%s' is not a number from %lu to %lu", what, arg, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

static void cli_list(FILE *out, const char *prog, const struct cli_command *table)
{
	fprintf(out, "usage: %s COMMAND [ARGS]\n\ncommands:\n", prog);
	for (; table->name; table++)
		fprintf(out, "  %-10s %s\n", table->name, table->summary);
	fprintf(out, "\nRun '%s COMMAND --help' for a command's options.\n", prog);
}

int cli_dispatch(const char *prog, const struct cli_command *table, int argc, char **argv)
{
	if (argc < 1) {
		cli_list(stderr, prog, table);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h") || !strcmp(argv[0], "help")) {
		cli_list(stdout, prog, table);
		return EXIT_OK_;
	}
	for (const struct cli_command *c = table; c->name; c++) {
		if (!strcmp(c->name, argv[0])) {
			snprintf(command_path, sizeof(command_path), "%s %s", prog, c->name);
			return c->run(argc, argv);
		}
	}
	cli_error("unknown command '%s' (try '%s --help')", argv[0], prog);
	return EXIT_USAGE;
}

size_t cli_split_names(char *list, const char **names, size_t max)
{
	size_t n = 0;
	char *save = NULL;
	for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (n == max)
			return max + 1;
		names[n++] = t;
	}
	return n;
}

const char *cli_name_operand(int argc, char **argv, const char *dir_option, const char **dir)
{
	if (cli_operands(argc, argv, "NAME", 1, 1))
		return NULL;
	*dir = cli_identity_dir(dir_option);
	return *dir ? argv[optind] : NULL;
}

/* The user's own text, but a terminal must still not take it for control sequences:
 * options are printable ASCII, so anything else shows as '?'; long ones are cut. */
static void usage_error(const char *what, const char *arg, size_t len)
{
	char shown[64];
	size_t n = 0;
	for (; n < len && n < sizeof(shown) - 1; n++)
		shown[n] = arg[n] >= 0x20 && arg[n] < 0x7f ? arg[n] : '?';
	shown[n] = '\0';
	fprintf(stderr, "%s: %s '%s%s'; see '%s --help'\n", command_path, what, shown,
		n < len ? "..." : "", command_path);
}

/* One line that names the option: getopt's own message followed by the whole help
 * buried it. */
static void report_bad_option(int argc, char **argv)
{
	const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "";
	char short_opt[3] = {'-', (char)optopt, '\0'};

	if (strncmp(arg, "--", 2)) {
		usage_error("unknown option", short_opt, optopt ? 2 : 1);
		return;
	}
	size_t name_len = strcspn(arg, "=");
	if (!optopt)
		usage_error("unknown option", arg, name_len);
	else if (arg[name_len] == '=')
		usage_error("no value allowed for option", arg, name_len);
	else
		usage_error("missing value for option", arg, name_len);
}

/* For the test that holds the man page to the tool: the long options, one a line. */
static void list_options(const struct option *longopts)
{
	for (; longopts->name; longopts++)
		printf("--%s\n", longopts->name);
	exit(EXIT_OK_);
}

int cli_getopt(int argc, char **argv, const struct option *longopts)
{
	int opt;
	if (optind == 1 && argc > 1 && !strcmp(argv[1], "--list-options"))
		list_options(longopts);
	opterr = 0;
	opt = getopt_long(argc, argv, "h", longopts, NULL);
	if (opt != '?')
		return opt;
	report_bad_option(argc, argv);
	return CLI_OPT_BAD_VALUE;
}

int cli_operands(int argc, char **argv, const char *what, int min, int max)
{
	int n = argc - optind;
	if (n < min) {
		fprintf(stderr, "%s: missing %s; see '%s --help'\n", command_path, what,
			command_path);
		return -1;
	}
	if (n > max) {
		const char *extra = argv[optind + max];
		usage_error("unexpected operand", extra, strlen(extra));
		return -1;
	}
	return 0;
}

void cli_identity_hint(danemsg_err err, const char *dir, const char *name)
{
	struct stat st;
	if (err != DANEMSG_ERR_NOT_FOUND)
		return;
	if (stat(dir, &st))
		cli_error("the identity folder %s does not exist: create the identity with "
			  "'danemsg id new %s', or name its folder with --dir or DANEMSG_DIR",
			  dir, name);
	else
		cli_error("create the identity with 'danemsg id new %s', or name the folder "
			  "that holds it with --dir or DANEMSG_DIR", name);
}

danemsg_err cli_credential_load(const char *dir, const char *name, danemsg_credential **out)
{
	char errbuf[512] = "";
	danemsg_err err = danemsg_credential_load_slot(dir, name, DANEMSG_SLOT_CURRENT, out,
						       errbuf, sizeof(errbuf));
	if (err) {
		cli_error("%s: cannot load its key and certificate: %s", name,
			  errbuf[0] ? errbuf : danemsg_strerror(err));
		cli_identity_hint(err, dir, name);
	}
	return err;
}

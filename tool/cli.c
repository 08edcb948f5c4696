/* Shared pieces of the command-line tool: dispatch, errors, exit codes. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

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
	for (const struct cli_command *c = table; c->name; c++)
		if (!strcmp(c->name, argv[0]))
			return c->run(argc, argv);
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

const char *cli_name_operand(int argc, char **argv, const char *cmd, const char *usage,
			     const char *dir_option, const char **dir)
{
	if (optind != argc - 1) {
		cli_error("%s: expected one NAME", cmd);
		fputs(usage, stderr);
		return NULL;
	}
	*dir = cli_identity_dir(dir_option);
	return *dir ? argv[optind] : NULL;
}

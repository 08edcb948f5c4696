/* The tool's configuration file: "key = value" lines named like the long options. */
#ifndef DANEMSG_TOOL_CONFIG_H
#define DANEMSG_TOOL_CONFIG_H

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>

/* Option codes stay below this, so that a command can note which ones a flag gave. */
#define CLI_OPT_CODES 1200

/* Set from the command line, per option code (flags win over everything else). */
struct cli_seen {
	unsigned char flag[CLI_OPT_CODES];
};

static inline void cli_seen_mark(struct cli_seen *s, int code)
{
	if (code >= 0 && code < CLI_OPT_CODES)
		s->flag[code] = 1;
}

struct cli_config;

/*
 * Reads the configuration file path, or when path is NULL $HOME/.config/danemsg/config
 * if it exists (no file there is no error). Lines are "key = value" (the long option
 * names without "--"), blank, or comments starting with '#'; a key may repeat (for
 * repeatable options). *out is NULL when there is no file. 0 or an exit code (reported).
 */
int cli_config_load(const char *path, struct cli_config **out);
/* The same from an open file (or a buffer, with fmemopen); name is for messages. */
int cli_config_parse(FILE *f, const char *name, struct cli_config **out);
void cli_config_free(struct cli_config *c);

/* Takes one option: 0, or an exit code (reported). */
typedef int (*cli_option_fn)(void *ctx, int code, const char *value);

/*
 * Applies the settings of the file that are options of this command (longopts) and that
 * neither a flag (seen) nor the environment gave: precedence is flags, then environment,
 * then file. Keys no command knows are reported and ignored; keys of other commands are
 * ignored. Options without argument take "yes"/"true"/"1" (or "no"/"false"/"0").
 * 0 or an exit code.
 */
int cli_config_apply(const struct cli_config *c, const struct option *longopts,
		     const struct cli_seen *seen, cli_option_fn apply, void *ctx);

/*
 * The command line: apply runs for every option given, each recorded in *seen so that
 * the environment and the config file give way to it. 0, -1 for --help (the caller
 * prints it), or an exit code.
 */
int cli_config_getopt(int argc, char **argv, const struct option *longopts,
		      struct cli_seen *seen, cli_option_fn apply, void *ctx);

#endif

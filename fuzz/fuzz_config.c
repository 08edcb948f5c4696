/* Fuzz target: the configuration file (cli_config_parse), then its settings applied to a
 * command's options as send and listen do. */
#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every value arrives as a string it can read. */
static int take(void *ctx, int code, const char *value)
{
	size_t *n = ctx;
	if (value && strlen(value) >= 4096)
		abort();   /* longer than a line */
	*n += (size_t)code;
	return value && !strcmp(value, "reject") ? EXIT_USAGE : EXIT_OK_;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct option longopts[] = {
		{"broker", required_argument, NULL, 1},
		{"allow", required_argument, NULL, 2},
		{"once", no_argument, NULL, 3},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct cli_config *c = NULL;
	struct cli_seen seen;
	size_t n = 0;
	FILE *f;

	if (!size)
		return 0;
	f = fmemopen((void *)data, size, "r");
	if (!f)
		return 0;
	if (!cli_config_parse(f, "fuzz", &c)) {
		memset(&seen, 0, sizeof(seen));
		seen.flag[2] = size & 1;
		cli_config_apply(c, longopts, &seen, take, &n);
	}
	fclose(f);
	cli_config_free(c);
	return 0;
}

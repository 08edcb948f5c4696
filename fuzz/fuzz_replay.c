/* Fuzz target: the replay cache file that danemsg open reads back (danemsg_replay_cache_load).
 * What parses writes back to a file that parses to the same entries. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <danemsg.h>

#include "policy_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	danemsg_replay_cache *c = NULL, *again = NULL;
	char *text = NULL;
	size_t len = 0, line = 0;
	FILE *f;

	if (danemsg_replay_cache_new(64, &c))
		return 0;
	if (replay_cache_parse(c, (const char *)data, size, 0, &line) != DANEMSG_OK) {
		if (!line)
			abort();   /* a refusal always names its line */
		danemsg_replay_cache_free(c);
		return 0;
	}
	f = open_memstream(&text, &len);
	if (!f || !replay_cache_write(c, f) || fclose(f))
		abort();
	if (danemsg_replay_cache_new(64, &again) ||
	    replay_cache_parse(again, text, len, 0, &line) != DANEMSG_OK ||
	    danemsg_replay_cache_count(again) != danemsg_replay_cache_count(c))
		abort();
	free(text);
	danemsg_replay_cache_free(again);
	danemsg_replay_cache_free(c);
	return 0;
}

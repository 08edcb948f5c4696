/* Fuzz target: the listener's delivery journal, read back at start (journal_scan). What
 * it keeps is whole records that read back again the same, with nothing torn. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <danemsg.h>

#include "journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct journal_scan scan, again;
	danemsg_replay_cache *replay = NULL;
	char *text = NULL;
	size_t len = 0;
	FILE *in, *out;
	int rc;

	if (!size || danemsg_replay_cache_new(64, &replay))
		return 0;
	in = fmemopen((void *)data, size, "r");
	out = open_memstream(&text, &len);
	if (!in || !out)
		abort();
	rc = journal_scan(NULL, in, out, replay, 0, &scan);
	fclose(in);
	if (fclose(out))
		abort();
	if (rc ? !scan.bad_line : scan.kept_bytes != len)
		abort();   /* a refusal names its line; what is kept is what was copied */
	if (!rc) {
		in = fmemopen(text, len ? len : 1, "r");
		if (!in || (len && (journal_scan(NULL, in, NULL, NULL, 0, &again) ||
				    again.kept != scan.kept || again.torn)))
			abort();
		fclose(in);
	}
	free(text);
	danemsg_replay_cache_free(replay);
	return 0;
}

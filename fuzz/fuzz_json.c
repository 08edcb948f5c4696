/* Fuzz target: the JOSE JSON reader (a fast path for flat objects, jansson for the rest)
 * must accept exactly what jansson accepts, and read it the same; the writer (jose_dump,
 * likewise) must write exactly jansson's compact text. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jose.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t err;
	json_t *ours = jose_json_load((const char *)data, size);
	json_t *theirs = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &err);
	if (!ours != !theirs || (ours && !json_equal(ours, theirs)))
		abort();
	if (ours) {
		size_t len = 0;
		char *a = jose_dump(ours, &len), *b = json_dumps(ours, JSON_COMPACT);
		if (!a != !b || (a && (strcmp(a, b) || len != strlen(b))))
			abort();
		free(a);
		free(b);
	}
	json_decref(ours);
	json_decref(theirs);
	return 0;
}

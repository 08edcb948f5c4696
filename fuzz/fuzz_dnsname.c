/* Fuzz target: identity names from outside (messages, command lines, locators). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "identity_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *name = malloc(size + 1);
	char canon[258];
	if (!name)
		return 0;
	memcpy(name, data, size);
	name[size] = '\0';
	if (identity_canonical_name(name, canon, sizeof(canon)) == DANEMSG_OK) {
		/* Canonical names are stable: canonicalising again changes nothing. */
		char again[258];
		if (identity_canonical_name(canon, again, sizeof(again)) != DANEMSG_OK ||
		    strcmp(canon, again) != 0 || strlen(canon) > 254)
			abort();
	}
	free(name);
	return 0;
}

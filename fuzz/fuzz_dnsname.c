/* Fuzz target: names from outside (messages, command lines, locators, policies), through
 * the one validator (src/util/dname.c). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dname.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Only what a name may hold comes out: lower-case letters, digits, '-', '_' and dots. */
static int plain(const char *s)
{
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-_.") == strlen(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *name = malloc(size + 1);
	char canon[DNAME_BUF], bare[DNAME_BUF], again[DNAME_BUF];
	danemsg_err with_dot, without;
	if (!name)
		return 0;
	memcpy(name, data, size);
	name[size] = '\0';
	with_dot = dname_canonical(name, canon, sizeof(canon));
	without = dname_normalize(name, 0, bare, sizeof(bare));
	if (with_dot != without)
		abort();   /* the two forms judge a name alike */
	if (with_dot == DANEMSG_OK) {
		size_t len = strlen(bare);
		/* the forms differ by the dot; both are stable; a short buffer is refused */
		if (len > DNAME_TEXT_MAX || strncmp(canon, bare, len) || strcmp(canon + len, ".") ||
		    !plain(canon) || dname_canonical(canon, again, sizeof(again)) ||
		    strcmp(canon, again) || dname_normalize(canon, 0, again, sizeof(again)) ||
		    strcmp(bare, again) ||
		    dname_canonical(name, again, len + 1) != DANEMSG_ERR_BUFFER_TOO_SMALL)
			abort();
	} else if (with_dot != DANEMSG_ERR_INVALID_ARG) {
		abort();
	}
	free(name);
	return 0;
}

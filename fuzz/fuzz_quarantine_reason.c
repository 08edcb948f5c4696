/* Fuzz target: a quarantine entry's .reason file, which `danemsg quarantine` reads back
 * (the folder may have been edited), and the escaping of what it prints. */
#define _GNU_SOURCE   /* memmem */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_printable(const char *s, size_t max)
{
	size_t n = strnlen(s, max);
	if (n == max)
		abort();   /* not terminated */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spool_reason r;
	char escaped[4 * 64 + 1];

	if (!spool_reason_parse((const char *)data, size, &r) && !memmem(data, size, "reason: ", 8))
		abort();
	check_printable(r.reason, sizeof(r.reason));
	check_printable(r.detail, sizeof(r.detail));
	check_printable(r.head, sizeof(r.head));
	check_printable(r.received, sizeof(r.received));
	check_printable(r.quarantined, sizeof(r.quarantined));
	spool_escape(data, size, escaped, sizeof(escaped));
	check_printable(escaped, sizeof(escaped));
	return 0;
}

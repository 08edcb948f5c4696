/* Fuzz target: the listener's status file, read back by `danemsg listen --status`
 * (status_parse). What it accepts is printed to a terminal: printable ASCII lines only. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct status_info info;
	size_t bad_line = 0;

	if (size > STATUS_MAX)
		return 0;
	if (status_parse((const char *)data, size, &info, &bad_line)) {
		if (!bad_line)
			abort();   /* a refusal names its line */
		return 0;
	}
	for (size_t i = 0; i < size; i++)
		if (data[i] != '\n' && (data[i] < 0x20 || data[i] >= 0x7f))
			abort();
	if (info.samples > size)
		abort();
	return 0;
}

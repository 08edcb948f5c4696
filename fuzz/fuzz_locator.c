/* Fuzz target: x5u locators ("dns://NAME?type=TLSA") read from messages. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <danemsg.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[300], again[300], locator[320];
	if (danemsg_locator_parse((const char *)data, size, name, sizeof(name)) != DANEMSG_OK)
		return 0;
	/* What parses formats back to a locator that parses to the same name. */
	if (danemsg_locator_format(name, locator, sizeof(locator)) != DANEMSG_OK ||
	    danemsg_locator_parse(locator, strlen(locator), again, sizeof(again)) != DANEMSG_OK ||
	    strcmp(name, again))
		abort();
	return 0;
}

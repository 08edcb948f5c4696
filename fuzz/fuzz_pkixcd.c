/* Fuzz target: what PKIX-CD reads from outside: identity names (the authority host) and
 * the CA file a web server returns. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "pkixcd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *name = malloc(size + 1), host[256];
	X509 *ca = NULL;

	if (!name)
		return 0;
	memcpy(name, data, size);
	name[size] = '\0';
	/* The host is a suffix of the name, without '_' at its start. */
	if (pkixcd_authority(name, host, sizeof(host)) == DANEMSG_OK &&
	    (!strstr(name, host) || host[0] == '\0' || host[0] == '.' || strlen(host) > 253))
		abort();
	free(name);
	if (pkixcd_parse_ca(data, size, &ca) == DANEMSG_OK && !ca)
		abort();
	X509_free(ca);
	return 0;
}

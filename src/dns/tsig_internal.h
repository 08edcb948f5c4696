/* Private: a TSIG key's fields (tsig.c makes keys, publish.c signs with them). */
#ifndef DANEMSG_TSIG_INTERNAL_H
#define DANEMSG_TSIG_INTERNAL_H

#include <stddef.h>

#include <ldns/ldns.h>

#include <danemsg/publish.h>

struct danemsg_tsig_key {
	char name[LDNS_MAX_DOMAINLEN + 2];  /* absolute, lower case */
	const char *algorithm;              /* our name, "hmac-sha256" */
	const char *ldns_algorithm;         /* the name ldns and the wire use */
	char *secret;                       /* base64, wiped on free */
};

/* The key in text, the contents of a key file (any form danemsg_tsig_key_load takes).
 * Also the fuzz target's entry point. */
danemsg_err tsig_key_from_text(const char *text, size_t len, danemsg_tsig_key **out,
			       char *errbuf, size_t errbuf_len);

#endif

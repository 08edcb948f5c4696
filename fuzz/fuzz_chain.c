/*
 * libFuzzer target for DNSSEC chains (outside data: a message carries them).
 * Layout: 4 octets of Unix time (big-endian) to check the RRSIGs at, one trust anchor
 * record (DS or DNSKEY) in wire format, then the chain itself. The name verified is the
 * owner of the chain's first record, so that seeds from a real zone reach the
 * signature checks and the climb to the anchor.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include <danemsg.h>

#include "chain_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The owner of the record at wire[0..len), as text, or a fixed name. */
static char *first_owner(const uint8_t *wire, size_t len)
{
	ldns_rdf *owner = NULL;
	size_t pos = 0;
	char *text = NULL;
	if (ldns_wire2dname(&owner, wire, len, &pos) == LDNS_STATUS_OK)
		text = ldns_rdf2str(owner);
	ldns_rdf_deep_free(owner);
	return text ? text : strdup("fuzz.example.");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	danemsg_trust_anchor ta = {NULL};
	danemsg_identity *id = NULL;
	danemsg_chain_reason reason;
	ldns_rr *anchor = NULL;
	size_t pos = 4;
	char err[256], *name;
	int64_t at;

	if (size < 4)
		return 0;
	at = (int64_t)((uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 |
		       (uint32_t)data[2] << 8 | data[3]);
	if (ldns_wire2rr(&anchor, data, size, &pos, LDNS_SECTION_ANSWER) != LDNS_STATUS_OK)
		return 0;
	ta.rrs = ldns_rr_list_new();
	if (!ta.rrs || !ldns_rr_list_push_rr(ta.rrs, anchor)) {
		ldns_rr_free(anchor);
		ldns_rr_list_free(ta.rrs);
		return 0;
	}
	name = first_owner(data + pos, size - pos);
	if (danemsg_chain_verify(data + pos, size - pos, name, &ta, at, &id, &reason, err,
				 sizeof(err)) == DANEMSG_OK &&
	    (!id || reason != DANEMSG_CHAIN_OK))
		abort();
	danemsg_identity_unref(id);
	free(name);
	ldns_rr_list_deep_free(ta.rrs);
	return 0;
}

/* Private: DNSSEC chains (chain.c) and what the resolver lends them (resolver.c). */
#ifndef DANEMSG_CHAIN_INTERNAL_H
#define DANEMSG_CHAIN_INTERNAL_H

#include <jansson.h>
#include <ldns/ldns.h>

#include <danemsg.h>

struct danemsg_trust_anchor {
	ldns_rr_list *rrs;   /* DS and DNSKEY records */
};

/* Appends the DS and DNSKEY records of a trust anchor file (presentation format) to
 * into; *added (may be NULL) counts them. DANEMSG_ERR_DNS_CONFIG with errbuf set when
 * the file is unreadable, a line does not parse, or it holds no DS or DNSKEY record. */
danemsg_err chain_anchor_read_file(const char *path, ldns_rr_list *into, size_t *added,
				   char *errbuf, size_t errlen);

/* The protected header parameter that carries a chain: base64url of the records. */
#define CHAIN_HEADER "dnssec_chain"

/* seal: collects name's chain through r and sets it in the signed header. */
danemsg_err chain_header_add(danemsg_resolver *r, const char *name, json_t *header,
			     char *errbuf, size_t errlen);

/* open: the sender's identity from the chain its signed header carries, when the policy
 * says to verify chains. *id stays NULL when the caller must look the sender up (r is
 * not NULL): the resolver's own validation decides, though a carried chain that does
 * not verify is refused first. With r NULL, a message without a chain is refused. */
danemsg_err chain_sender_identity(danemsg_resolver *r, const danemsg_policy *policy,
				  const json_t *header, const char *sender, int64_t iat,
				  int64_t now, danemsg_identity **id, char *errbuf,
				  size_t errlen);

/* The trust anchors the resolver validates with (never NULL for a resolver). */
const danemsg_trust_anchor *resolver_trust_anchor(const danemsg_resolver *r);

/* One blocking query through the resolver's validating context, bypassing the identity
 * cache: the answer as a packet (with RRSIGs) and whether it validated as secure.
 * DNS_TEMPORARY when there is no answer, DNS_BOGUS when it does not validate. */
danemsg_err resolver_query_packet(danemsg_resolver *r, const char *name, ldns_rr_type type,
				  ldns_pkt **out, char *errbuf, size_t errlen);

#endif

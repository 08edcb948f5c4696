/* danemsg: the DNSSEC chain of a sender's TLSA records, carried in a message and
 * verified with a trust anchor alone, with no DNS (RFC 9102's chain, in a message). */
#ifndef DANEMSG_CHAIN_H
#define DANEMSG_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#include <danemsg/error.h>
#include <danemsg/identity.h>
#include <danemsg/policy.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bounds on a chain read from a message: its decoded size, its records, the zones it
 * climbs, the signatures and keys of one RRset (they bound the signature checks). */
#define DANEMSG_CHAIN_MAX_BYTES 8192u
#define DANEMSG_CHAIN_MAX_RECORDS 64u
#define DANEMSG_CHAIN_MAX_ZONES 8u
#define DANEMSG_CHAIN_MAX_SIGS 4u
#define DANEMSG_CHAIN_MAX_KEYS 8u

/* DS and DNSKEY trust anchors, read from files in presentation format (the format the
 * resolver's trust anchor files have, e.g. /usr/share/dns/root.key). */
typedef struct danemsg_trust_anchor danemsg_trust_anchor;

/* Reads every file of the NULL-terminated list; DANEMSG_ERR_DNS_CONFIG (errbuf says
 * which file and line) when one is unreadable, does not parse or holds no anchor. */
danemsg_err danemsg_trust_anchor_load(const char *const *files, danemsg_trust_anchor **out,
				      char *errbuf, size_t errbuf_len);
void danemsg_trust_anchor_free(danemsg_trust_anchor *ta);

/* Why a chain was refused: each case its own reason. */
typedef enum danemsg_chain_reason {
	DANEMSG_CHAIN_OK = 0,
	DANEMSG_CHAIN_MALFORMED,      /* not DNS records in uncompressed wire format, class IN */
	DANEMSG_CHAIN_TRUNCATED,      /* the data ends inside a record */
	DANEMSG_CHAIN_TOO_LARGE,      /* over one of the bounds above */
	DANEMSG_CHAIN_WRONG_NAME,     /* no TLSA RRset for the name asked */
	DANEMSG_CHAIN_INCOMPLETE,     /* a DNSKEY or DS RRset, or its RRSIG, is missing */
	DANEMSG_CHAIN_NO_ANCHOR,      /* no key matches the trust anchor, or a zone's DS */
	DANEMSG_CHAIN_BAD_SIGNATURE,  /* an RRSIG does not verify (altered records) */
	DANEMSG_CHAIN_EXPIRED,        /* RRSIGs expired, or not yet valid, at the time used */
} danemsg_chain_reason;

/* "malformed", "truncated", "too-large", "wrong-name", "incomplete", "no-anchor",
 * "bad-signature", "expired"; "ok". Never NULL. */
const char *danemsg_chain_reason_name(danemsg_chain_reason reason);

/*
 * Verifies a chain (a sequence of DNS records in wire format: the TLSA RRset of name
 * and its RRSIGs, the signing zone's DNSKEY RRset and RRSIGs, then DS and DNSKEY
 * RRsets up to a zone of the trust anchor) with no network, every RRSIG checked as of
 * the Unix time at. On success *out is the identity the TLSA records give (DNSSEC
 * secure; status as a lookup's). Errors: DANEMSG_ERR_MALFORMED (malformed, truncated),
 * DANEMSG_ERR_TOO_LARGE, DANEMSG_ERR_DNS_BOGUS (every other reason); *reason (may be
 * NULL) says which, errbuf says where.
 */
DANEMSG_NODISCARD
danemsg_err danemsg_chain_verify(const uint8_t *chain, size_t len, const char *name,
				 const danemsg_trust_anchor *ta, int64_t at,
				 danemsg_identity **out, danemsg_chain_reason *reason,
				 char *errbuf, size_t errbuf_len);

/*
 * Collects the chain of name's TLSA records through the resolver (which must find them
 * DNSSEC-secure), up to a zone of the resolver's own trust anchors, and verifies it as
 * a receiver will before returning it. *out: a new buffer (free()) of *out_len bytes.
 */
danemsg_err danemsg_chain_collect(danemsg_resolver *r, const char *name, uint8_t **out,
				  size_t *out_len, char *errbuf, size_t errbuf_len);

/* The time a receiver checks a carried chain's RRSIGs at. */
typedef enum danemsg_chain_time {
	/* Now: strict. A record removed from DNS (a revoked key) stops validating once
	 * the RRSIGs of the chain that carried it expire, whatever the message says. */
	DANEMSG_CHAIN_AT_NOW = 0,
	/* The message's signed iat: for archives and auditors opening old messages. The
	 * sender chooses iat, so whoever holds a key that was removed from DNS can still
	 * sign messages dated inside an old chain's validity: only for messages whose
	 * time is vouched for otherwise. */
	DANEMSG_CHAIN_AT_IAT,
} danemsg_chain_time;

/*
 * Lets open verify the chain a message carries (header "dnssec_chain") with ta (which
 * must outlive the policy), its RRSIGs as of at. With a NULL resolver (offline), open
 * then takes the sender's TLSA records from the chain, and refuses a message without
 * one. With a resolver, a carried chain must verify too, but the sender's records come
 * from the resolver's own validation. ta NULL: carried chains are checked with the
 * resolver's own trust anchors (the default), and open needs a resolver.
 */
danemsg_err danemsg_policy_set_chain_anchor(danemsg_policy *policy,
					    const danemsg_trust_anchor *ta,
					    danemsg_chain_time at);

#ifdef __cplusplus
}
#endif
#endif

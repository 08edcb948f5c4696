/* Private: the identity object that lookups produce and the cache holds. */
#ifndef DANEMSG_IDENTITY_INTERNAL_H
#define DANEMSG_IDENTITY_INTERNAL_H

#include <danemsg.h>

#include "jose.h"
#include "keycache.h"

struct danemsg_identity {
	int refs;                   /* atomic */
	char *name;                 /* canonical: lower case, trailing dot */
	danemsg_err status;
	danemsg_dnssec dnssec;
	char *why;                  /* reason for failure, or NULL */
	uint32_t ttl;
	int insecure_allowed;
	size_t n_records;
	danemsg_tlsa *records;
	X509_STORE *pkix;           /* Web PKI trust store for usages 0/1 (a reference), or NULL */
	STACK_OF(X509) *pkixcd_cas; /* the CAs of its validated PKIX-CD records, or NULL */
	struct keycache *keys;      /* the resolver's live keys (a reference), or NULL */
};

/* A new identity with one reference and no records; NULL on allocation failure. */
danemsg_identity *identity_new(const char *name);

/* Parses TLSA rdatas into id; counts usable records. */
danemsg_err identity_set_records(danemsg_identity *id, char **rdata, int *len, size_t n);

/* Replaces id->why with a copy of why (may be NULL). */
void identity_set_why(danemsg_identity *id, const char *why);

/*
 * May the key a record carries be used as the identity's own, to verify its signatures
 * or to encrypt to it? DANE-EE and DANE-TA records: yes (as ever); PKIX-TA: never (a Web
 * PKI CA is not the identity); PKIX-EE: only a whole certificate that validates, on its
 * own, to id->pkix and names the identity.
 */
int identity_record_key_trusted(const danemsg_identity *id, const danemsg_tlsa *rec);

/*
 * Verifies jws with the keys id publishes. With x5t (a certificate's x5t#S256; keys roll
 * over) only that certificate's record and records of a bare key (3 1 0, which cannot be
 * told apart); without it every usable record whose key fits the algorithm; only records
 * whose key is trusted (identity_record_key_trusted). own_key: only
 * DANE-EE records (the identity's own key, not a CA's), and only if the key's own algorithm
 * (jose_sig_alg_for_key) is jws->alg. DANEMSG_OK with *key the caller's (EVP_PKEY_free)
 * and *rec the record that verified, borrowed from id; DANEMSG_ERR_UNKNOWN_SENDER when no
 * record is a candidate, DANEMSG_ERR_BAD_SIGNATURE when none verifies.
 */
danemsg_err identity_verify_jws(const danemsg_identity *id, const jose_jws *jws, const char *x5t,
				int own_key, EVP_PKEY **key, const danemsg_tlsa **rec);

/* The key rec (one of id's records) carries, from the resolver's live keys: the caller's
 * reference (EVP_PKEY_free). DANEMSG_ERR_NOT_FOUND when it carries none. */
danemsg_err identity_record_pkey(const danemsg_identity *id, const danemsg_tlsa *rec,
				 EVP_PKEY **out);

/* For an x 0 0 or x 1 0 record whose data is a whole certificate or key: takes what
 * matching and verification need from it (see danemsg_tlsa); NULL, or why it cannot be
 * used. For records made usable after parsing (PKIX-CD). In tlsa.c. */
const char *tlsa_take_facts(danemsg_tlsa *rec);

#endif

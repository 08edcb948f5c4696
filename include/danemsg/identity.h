/* danemsg: discovering identities in DNS (TLSA, validated with DNSSEC locally). */
#ifndef DANEMSG_IDENTITY_H
#define DANEMSG_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

#include <danemsg/error.h>
#include <danemsg/tlsa.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What DNSSEC said about an answer. */
typedef enum danemsg_dnssec {
	DANEMSG_DNSSEC_SECURE = 0,   /* chain of trust validated from a trust anchor */
	DANEMSG_DNSSEC_INSECURE,     /* provably unsigned, or no trust anchor covers it */
	DANEMSG_DNSSEC_BOGUS,        /* signatures do not validate: an attack or a broken zone */
	DANEMSG_DNSSEC_UNKNOWN,      /* no answer (temporary failure) */
} danemsg_dnssec;

/* "secure", "insecure", "bogus", "unknown". */
const char *danemsg_dnssec_name(danemsg_dnssec status);

/* How a resolver finds and validates answers. Start from danemsg_resolver_config_init(). */
typedef struct danemsg_resolver_config {
	size_t struct_size;   /* set by danemsg_resolver_config_init() (ABI: see danemsg/error.h) */
	/* "ADDR[@PORT]" of a server to send every query to (validation stays local);
	 * NULL: the system's resolvers (/etc/resolv.conf). */
	const char *server;
	/* Files of DS or DNSKEY records in presentation format, NULL-terminated list;
	 * each adds trust anchors (for private zones). May be NULL. */
	const char *const *trust_anchor_files;
	/* The root trust anchor file; default "/usr/share/dns/root.key" (dns-root-data).
	 * Set to "" to load no root anchor. Missing default file: no root anchor. */
	const char *root_anchor_file;
	/* Offline mode: validate records from this signed zone file with no server at
	 * all (zone_file's origin given by offline_zone). Needs a trust anchor. */
	const char *offline_zone_file;
	const char *offline_zone;
	/* Opt-out: let INSECURE answers authenticate. Off by default; loud when on. */
	int allow_insecure;
	/* Upper bound on how long any answer is used, in seconds (bounds how long a
	 * removed record keeps working). Default 300. */
	uint32_t cache_max_ttl;
	/* How long a negative or failed answer is remembered, seconds. Default 30 for
	 * NXDOMAIN/NODATA (capped by the SOA minimum), 5 for temporary failures. */
	uint32_t cache_negative_ttl;
	uint32_t cache_failure_ttl;
	/* Most identities kept; least recently used ones go first. Default 10000. */
	size_t cache_max_entries;
	/* Most public keys kept parsed (an OpenSSL key costs some 2 KB; the identities keep
	 * keys as DER), shared by the senders in use; least recently used ones go first.
	 * Default 1024. */
	size_t cache_max_keys;
	/* A lookup that has no answer after this long fails as temporary. Default 5000. */
	uint32_t timeout_ms;
	/* Queries in flight at most: in all, and under a zone whose last query failed as
	 * temporary (a zone: the name after its last "_label", e.g. example.net. for
	 * alice._device.example.net.); beyond, a lookup fails at once as temporary. Such
	 * a zone is not asked at all for cache_failure_ttl, doubling with each failure in
	 * a row up to 60 s. Names that never had a usable answer may take 3/4 of
	 * max_inflight, and are also counted under their zone's ancestors of 3 and 2 labels
	 * (4 * max_inflight_per_zone each). So names that never answer cannot take the
	 * resolver from the others. Defaults 64 and 4. */
	uint32_t max_inflight;
	uint32_t max_inflight_per_zone;
	/* The Web PKI trust store for PKIX-TA and PKIX-EE records (usages 0 and 1): a PEM
	 * file of CA certificates and/or a folder of them named by hash (c_rehash). Both
	 * NULL: the system's (OpenSSL's default folder, /etc/ssl/certs on Debian). A
	 * pkix_ca_file of "" and no pkix_ca_path: none, PKIX records never match. */
	const char *pkix_ca_file;
	const char *pkix_ca_path;
	/* Opt-in: the reference system's PKIX-CD records ("4 0 0", a usage IANA has not
	 * assigned). Off by default. On: the CA of each such record's certificate is fetched
	 * from https://AUTHORITY/.well-known/ca/AKI.pem (AUTHORITY: the identity name from
	 * its first "_" label on, without the "_"), over HTTPS verified with the Web PKI
	 * store above, no redirects, at most 64 KiB, within timeout_ms, cached per
	 * Cache-Control max-age capped by cache_max_ttl; the record is usable only when the
	 * answer is DNSSEC-secure and its certificate passes RFC 5280 validation to that CA
	 * (dates, basicConstraints, keyUsage) naming the identity in a DNS SAN. The fetches
	 * run on the resolver's own 4 worker threads (at most 4 in flight, 64 answers
	 * waiting; beyond that the records stay unusable), within what is left of the
	 * lookup's timeout_ms: the thread that calls danemsg_resolver_process never waits for
	 * a web server. A fetch that failed is not tried again for cache_failure_ttl, and an
	 * answer left unusable by one is cached that long only. */
	int pkix_cd;
	/* "ADDR:PORT" to send those HTTPS fetches to (the name checked in TLS is still the
	 * authority's), like curl's --connect-to; NULL: the authority's own address. */
	const char *pkix_cd_connect;
} danemsg_resolver_config;

/* Fills cfg with the defaults above. */
void danemsg_resolver_config_init(danemsg_resolver_config *cfg);

/* An opaque, thread-safe resolver with its identity cache. */
typedef struct danemsg_resolver danemsg_resolver;

/* Creates a resolver. Configuration errors (unreadable trust anchor, bad server
 * address) are reported here with a message in errbuf (may be NULL). */
danemsg_err danemsg_resolver_new(const danemsg_resolver_config *cfg, danemsg_resolver **out,
				 char *errbuf, size_t errbuf_len);
void danemsg_resolver_free(danemsg_resolver *r);

/* The result of looking up an identity: its TLSA RRset and what DNSSEC said.
 * Immutable and reference-counted: the cache hands out references. */
typedef struct danemsg_identity danemsg_identity;

/*
 * Looks up the TLSA RRset at name (the bare identity name, or any owner name
 * such as _443._tcp.host) through the cache. Returns a reference in *out even
 * for negative results (release it with danemsg_identity_unref). The return value
 * is danemsg_identity_status() of the result, or an error before any lookup
 * (DANEMSG_ERR_INVALID_ARG for a name that is not a DNS name).
 */
danemsg_err danemsg_resolver_lookup(danemsg_resolver *r, const char *name,
				    danemsg_identity **out);

/* Asynchronous lookup: cb runs once, from a thread that calls
 * danemsg_resolver_process(), or at once (from this call) on a cache hit.
 * The callback receives its own reference to the identity. */
typedef void (*danemsg_lookup_cb)(void *arg, danemsg_err status, danemsg_identity *id);
danemsg_err danemsg_resolver_lookup_async(danemsg_resolver *r, const char *name,
					  danemsg_lookup_cb cb, void *arg);
/* A file descriptor that becomes readable when async answers are ready. */
int danemsg_resolver_fd(danemsg_resolver *r);
/* Delivers ready async answers (and times out overdue lookups). Non-blocking. */
danemsg_err danemsg_resolver_process(danemsg_resolver *r);
/* Waits up to timeout_ms for answers and delivers them. */
danemsg_err danemsg_resolver_wait(danemsg_resolver *r, int timeout_ms);

/* Cache statistics, for tests and benchmarks. */
typedef struct danemsg_cache_stats {
	size_t struct_size;   /* set by danemsg_cache_stats_init() (ABI: see danemsg/error.h) */
	uint64_t hits, misses, queries, evictions;
	size_t entries;
} danemsg_cache_stats;
/* Zeroes stats and sets its struct_size. */
void danemsg_cache_stats_init(danemsg_cache_stats *stats);
/* Fills out, which danemsg_cache_stats_init() started (else it is left alone). */
void danemsg_resolver_cache_stats(danemsg_resolver *r, danemsg_cache_stats *out);

danemsg_identity *danemsg_identity_ref(danemsg_identity *id);
void danemsg_identity_unref(danemsg_identity *id);

/* The identity's name, lower case, with a trailing dot. */
const char *danemsg_identity_name(const danemsg_identity *id);
/*
 * DANEMSG_OK: a secure answer (or an insecure one the configuration allows) with
 * at least one usable record; otherwise DANEMSG_ERR_DNS_INSECURE, _DNS_BOGUS,
 * _DNS_NOT_FOUND, _DNS_TEMPORARY or _NO_USABLE_RECORD.
 */
DANEMSG_NODISCARD
danemsg_err danemsg_identity_status(const danemsg_identity *id);
danemsg_dnssec danemsg_identity_dnssec(const danemsg_identity *id);
/* The validator's reason for a bogus answer, or the failure's reason; NULL if none. */
const char *danemsg_identity_why(const danemsg_identity *id);
/* The TTL the answer is cached for (already capped), seconds. */
uint32_t danemsg_identity_ttl(const danemsg_identity *id);
/* Nonzero when the answer is only accepted because allow_insecure is on. */
int danemsg_identity_insecure_allowed(const danemsg_identity *id);
size_t danemsg_identity_record_count(const danemsg_identity *id);
const danemsg_tlsa *danemsg_identity_record(const danemsg_identity *id, size_t i);

/*
 * The public key record i carries (x 0 0 or x 1 0), as a new reference that is the caller's
 * (EVP_PKEY_free). Identities do not keep parsed keys (see danemsg_tlsa): the key comes
 * from the resolver's cache of live keys (cache_max_keys, least recently used first out),
 * or is parsed now and kept there. DANEMSG_ERR_NOT_FOUND when i is out of range or the
 * record carries no whole key.
 */
danemsg_err danemsg_identity_record_pkey(const danemsg_identity *id, size_t i, EVP_PKEY **out);

/* With pkix_cd on: the CA certificates fetched for the identity's usable PKIX-CD records
 * (intermediates in issuer order, each root after them); NULL when none. Borrowed. */
STACK_OF(X509) *danemsg_identity_pkix_cd_cas(const danemsg_identity *id);

/*
 * Authenticates a certificate (and optional in-band chain) or a bare key as
 * this identity's: DANEMSG_OK only if the status is OK and a record matches
 * (danemsg_tlsa_match_cert_pkix with the resolver's Web PKI trust store).
 * Otherwise the status error, or DANEMSG_ERR_NO_MATCH.
 */
DANEMSG_NODISCARD
danemsg_err danemsg_identity_authenticate_cert(const danemsg_identity *id, X509 *ee,
					       STACK_OF(X509) *chain, size_t *matched);
DANEMSG_NODISCARD
danemsg_err danemsg_identity_authenticate_pkey(const danemsg_identity *id, EVP_PKEY *pkey,
					       size_t *matched);

#ifdef __cplusplus
}
#endif
#endif

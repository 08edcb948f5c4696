/* danemsg: publishing TLSA records by authenticated DNS UPDATE (RFC 2136, RFC 8945 TSIG). */
#ifndef DANEMSG_PUBLISH_H
#define DANEMSG_PUBLISH_H

#include <stddef.h>
#include <stdint.h>

#include <danemsg/error.h>
#include <danemsg/tlsa.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A TSIG key: algorithm, key name and shared secret. Opaque; the secret is
 * wiped when the key is freed. Algorithms: hmac-sha256 (the default),
 * hmac-sha512, hmac-sha1, hmac-md5 (those ldns can sign with).
 */
typedef struct danemsg_tsig_key danemsg_tsig_key;

/*
 * Parses "ALG:KEYNAME:BASE64SECRET" or "KEYNAME:BASE64SECRET" (hmac-sha256),
 * the form of `knsupdate -y` and `kdig -y`. Errors: DANEMSG_ERR_INVALID_ARG for
 * a NULL argument; DANEMSG_ERR_MALFORMED (with a message naming the bad part in
 * errbuf, which may be NULL) for a missing or extra part, an empty or invalid
 * key name, bad base64, an empty secret; DANEMSG_ERR_UNSUPPORTED for an unknown
 * algorithm. The message never contains the secret.
 */
danemsg_err danemsg_tsig_key_parse(const char *spec, danemsg_tsig_key **out,
				   char *errbuf, size_t errbuf_len);

/*
 * Loads a TSIG key from a file in any of these forms (the first key found):
 *   BIND / nsupdate -k:  key "NAME" { algorithm hmac-sha256; secret "BASE64"; };
 *   knot (keymgr -t):    key:\n  - id: NAME\n    algorithm: hmac-sha256\n    secret: BASE64
 *   knsupdate -k:        one line "[ALG:]NAME:BASE64" ('#' comment lines skipped)
 * Missing file: DANEMSG_ERR_NOT_FOUND; unreadable or over 64 KiB: DANEMSG_ERR_IO;
 * otherwise as danemsg_tsig_key_parse.
 */
danemsg_err danemsg_tsig_key_load(const char *path, danemsg_tsig_key **out,
				  char *errbuf, size_t errbuf_len);

void danemsg_tsig_key_free(danemsg_tsig_key *key);

/* The key's name, absolute ("danemsg-lab."), and its algorithm ("hmac-sha256"). */
const char *danemsg_tsig_key_name(const danemsg_tsig_key *key);
const char *danemsg_tsig_key_algorithm(const danemsg_tsig_key *key);

/* A DNS server's address: an IPv4 or IPv6 literal and a port. */
typedef struct danemsg_dns_server {
	int family;          /* AF_INET or AF_INET6 */
	uint8_t addr[16];    /* network byte order; IPv4 uses the first 4 octets */
	uint16_t port;       /* host byte order */
} danemsg_dns_server;

/*
 * Parses "ADDR[@PORT]" ("127.0.0.1@5353", "::1", "[::1]@53"); the port defaults
 * to 53 and must be 1..65535. Host names are not accepted (the update must go
 * to a server the caller chose, not to whatever a lookup returns).
 * DANEMSG_ERR_INVALID_ARG for NULL, DANEMSG_ERR_MALFORMED for anything else.
 */
danemsg_err danemsg_dns_server_parse(const char *spec, danemsg_dns_server *out);

/* Writes "ADDR@PORT" to buf (48 octets always suffice). */
danemsg_err danemsg_dns_server_format(const danemsg_dns_server *server, char *buf,
				      size_t buflen);

/* What an update does to the TLSA RRset at the name. */
typedef enum danemsg_publish_mode {
	DANEMSG_PUBLISH_REPLACE = 0, /* delete the RRset, then add the records (one UPDATE) */
	DANEMSG_PUBLISH_ADD,         /* add the records beside those already there */
	DANEMSG_PUBLISH_REMOVE,      /* delete the records given; with none, the whole RRset */
} danemsg_publish_mode;

/* How to send an update. Start from danemsg_publish_options_init(). */
typedef struct danemsg_publish_options {
	size_t struct_size;   /* set by danemsg_publish_options_init() (ABI: see danemsg/error.h) */
	danemsg_dns_server server;   /* the primary that accepts updates (required) */
	const danemsg_tsig_key *key; /* signs the update; NULL sends it unsigned */
	const char *zone;            /* the zone to update; NULL: found as nsupdate does */
	danemsg_publish_mode mode;   /* default DANEMSG_PUBLISH_REPLACE */
	uint32_t ttl;                /* TTL of added records, seconds; default 300 */
	uint32_t timeout_ms;         /* per exchange with the server; default 5000 */
} danemsg_publish_options;

/* Fills opt with the defaults above (server unset: port 0, which is rejected). */
void danemsg_publish_options_init(danemsg_publish_options *opt);

/*
 * Finds the zone that holds name the way nsupdate does: asks server (over TCP)
 * for name's SOA and takes the owner of the SOA record in the answer or the
 * authority section. zone receives it, absolute, lower case ("example.net.");
 * DANEMSG_ERR_BUFFER_TOO_SMALL if it does not fit (256 octets always do).
 * Errors: DANEMSG_ERR_DNS_TEMPORARY (server unreachable, timeout, SERVFAIL);
 * DANEMSG_ERR_UPDATE_REFUSED (the server holds no zone for name: REFUSED,
 * NOTAUTH, or a referral elsewhere); DANEMSG_ERR_MALFORMED (an answer that does
 * not parse or whose SOA is not at or above name); DANEMSG_ERR_INVALID_ARG.
 * errbuf (may be NULL) receives a specific message.
 */
danemsg_err danemsg_dns_find_zone(const danemsg_dns_server *server, const char *name,
				  uint32_t timeout_ms, char *zone, size_t zone_len,
				  char *errbuf, size_t errbuf_len);

/*
 * Sends one DNS UPDATE for the TLSA RRset at name, over TCP, signed with
 * opt->key, and checks the answer (its ID, opcode and TSIG).
 * Of each record only usage, selector, matching_type, data and data_len are
 * read (the data must be 1..65532 octets); a record filled by hand with the
 * other fields zero is fine. REPLACE and ADD need at least one record; REMOVE
 * with n == 0 deletes the whole RRset. At most 64 records.
 *
 * Results:
 *   DANEMSG_OK                  the server answered NOERROR, TSIG verified.
 *   DANEMSG_ERR_UPDATE_REFUSED  any other RCODE (NOTAUTH, REFUSED, NOTZONE,
 *       SERVFAIL, FORMERR, ...) or a TSIG error (BADSIG, BADKEY, BADTIME); the
 *       message names both: "server refused the update: NOTAUTH (TSIG key not
 *       accepted: BADSIG)". Nothing was changed.
 *   DANEMSG_ERR_DNS_TEMPORARY   server unreachable or no answer in time: the
 *       update may or may not have been applied; retry (replace is idempotent).
 *   DANEMSG_ERR_BAD_SIGNATURE   a NOERROR answer whose TSIG is missing or does
 *       not verify (wrong key, forged answer, clock skew beyond the fudge): the
 *       update's outcome is unknown.
 *   DANEMSG_ERR_MALFORMED       an answer that does not parse or does not match.
 *   DANEMSG_ERR_TOO_LARGE       the update would exceed 65535 octets (too much data).
 *   DANEMSG_ERR_INVALID_ARG     bad arguments (NULL, bad name, no records, ...).
 * plus the errors of danemsg_dns_find_zone when opt->zone is NULL.
 * errbuf (may be NULL) receives a message; it is truncated to fit.
 */
danemsg_err danemsg_publish_tlsa(const danemsg_publish_options *opt, const char *name,
				 const danemsg_tlsa *recs, size_t n,
				 char *errbuf, size_t errbuf_len);

#ifdef __cplusplus
}
#endif
#endif

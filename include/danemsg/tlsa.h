/* danemsg: TLSA records (RFC 6698) and DANE matching (RFC 7671). */
#ifndef DANEMSG_TLSA_H
#define DANEMSG_TLSA_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include <danemsg/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Certificate usages, selectors and matching types (IANA registries). */
enum {
	DANEMSG_TLSA_PKIX_TA = 0,
	DANEMSG_TLSA_PKIX_EE = 1,
	DANEMSG_TLSA_DANE_TA = 2,
	DANEMSG_TLSA_DANE_EE = 3,
	/* Not assigned by IANA: the reference system's private "PKIX-CD". Never usable as
	 * parsed; a resolver with pkix_cd on makes a validated "4 0 0" record usable. */
	DANEMSG_TLSA_PKIX_CD = 4,
};
enum { DANEMSG_TLSA_SEL_CERT = 0, DANEMSG_TLSA_SEL_SPKI = 1 };
enum { DANEMSG_TLSA_MATCH_FULL = 0, DANEMSG_TLSA_MATCH_SHA256 = 1, DANEMSG_TLSA_MATCH_SHA512 = 2 };

/* keyUsage of a certificate without that extension: every use is allowed. */
#define DANEMSG_TLSA_KEY_USAGE_ANY UINT32_MAX

/*
 * One TLSA record, parsed. The record owns everything it points to; free it
 * with danemsg_tlsa_clear(). A record that cannot be used (unknown usage,
 * digest of the wrong length, certificate that does not parse, ...) still
 * parses: usable is 0 and unusable_reason says why. It never spoils others.
 * The functions that take an array of records step through it by the first
 * record's struct_size, which every record must share.
 *
 * A record that carries a whole certificate (x 0 0) or key (x 1 0) keeps what matching
 * and verification need, taken from it once at parse time; it does not keep OpenSSL's
 * parsed objects (an X509 and an EVP_PKEY cost some 2 KB each, more than all the rest of
 * a cached sender). danemsg_tlsa_cert() and danemsg_tlsa_pkey() parse them from data on
 * demand; a resolver's identities hand out keys from a small cache of live ones
 * (danemsg_identity_record_pkey()).
 */
typedef struct danemsg_tlsa {
	size_t struct_size;   /* set by danemsg_tlsa_init() (ABI: see danemsg/error.h) */
	uint8_t usage;
	uint8_t selector;
	uint8_t matching_type;
	uint8_t *data;              /* certificate association data */
	size_t data_len;
	/* x 0 0 and x 1 0 records that parse (else all zero): */
	int has_cert;               /* data is a certificate (x 0 0), not a bare key */
	size_t spki_off, spki_len;  /* the SubjectPublicKeyInfo's DER, inside data */
	uint8_t sha256[32];         /* SHA-256 of data: of the certificate, or of the key */
	/* x 0 0 records that parse (else as said): */
	char x5t_s256[44];          /* JOSE x5t#S256 (base64url of sha256); "" for a key */
	int64_t not_before;         /* validity, seconds since the epoch; 0 and */
	int64_t not_after;          /* INT64_MAX for a bare key */
	uint32_t key_usage;         /* keyUsage bits (X509v3 KU_*), or DANEMSG_TLSA_KEY_USAGE_ANY */
	int usable;                 /* nonzero when the record can authenticate */
	const char *unusable_reason;/* static string, NULL when usable */
} danemsg_tlsa;

/* An empty record: zeroed, with its struct_size. A record filled by hand (for
 * danemsg_publish_tlsa) or by danemsg_tlsa_parse starts here. */
void danemsg_tlsa_init(danemsg_tlsa *rec);

/*
 * Parses one TLSA RDATA in wire format (3 octets, then the data) into out, which
 * danemsg_tlsa_init() started (or a danemsg_tlsa_clear() emptied).
 * Returns DANEMSG_ERR_MALFORMED only when rdata is shorter than 3 octets
 * (out is then cleared); any other oddity makes an unusable record (RDATA
 * over 65535 octets, which DNS cannot carry, is not even copied).
 * DANEMSG_ERR_INVALID_ARG when out is NULL or was not initialised, or rdata is NULL
 * with a length.
 */
danemsg_err danemsg_tlsa_parse(const uint8_t *rdata, size_t rdata_len, danemsg_tlsa *out);

/* Frees what a record owns and empties it, keeping its struct_size. Safe on an empty
 * record. */
void danemsg_tlsa_clear(danemsg_tlsa *rec);

/* ---- TLSA RDATA: made from a certificate, read from and written as text ---- */

/*
 * The TLSA RDATA (wire format: usage, selector, matching type octets, then the
 * association data) that publishes cert: selector 0 = certificate DER, 1 = SPKI
 * DER; matching 0 = full, 1 = SHA-256, 2 = SHA-512 (the constants above).
 * usage 0..3, selector 0..1, matching 0..2, else INVALID_ARG. *outlen is the
 * RDATA's length; with DANEMSG_ERR_BUFFER_TOO_SMALL it is the length needed.
 */
danemsg_err danemsg_tlsa_rdata(X509 *cert, uint8_t usage, uint8_t selector, uint8_t matching,
			       uint8_t *buf, size_t buflen, size_t *outlen);

/*
 * The zone-file line "NAME. TTL IN TLSA U S M HEX" (hex lower case, one line,
 * no newline) for TLSA RDATA rdata (at least 4 octets) at name (normalized,
 * trailing dot added). On success *outlen (may be NULL) is the line's length
 * without the NUL; with DANEMSG_ERR_BUFFER_TOO_SMALL it is the buffer size needed.
 */
danemsg_err danemsg_tlsa_format_line(const char *name, uint32_t ttl, const uint8_t *rdata,
				     size_t rdata_len, char *buf, size_t buflen, size_t *outlen);

/*
 * Parses a TLSA record's presentation form "USAGE SELECTOR MATCHING HEX" (three
 * decimals 0..255, then the association data in hex, either case, blanks allowed
 * inside it, as zone files split it) into RDATA (the three octets, then the data).
 * *outlen is its length; DANEMSG_ERR_BUFFER_TOO_SMALL when buflen is shorter (then
 * *outlen is the length needed; 3 + strlen(text) / 2 always suffices).
 * DANEMSG_ERR_MALFORMED for anything else (no data, an odd number of hex digits),
 * DANEMSG_ERR_TOO_LARGE for more than 65532 octets of data.
 */
danemsg_err danemsg_tlsa_rdata_from_text(const char *text, uint8_t *buf, size_t buflen,
					 size_t *outlen);

/*
 * The certificate a record carries (x 0 0, whatever its usage), parsed from data now:
 * *out is the caller's (X509_free). DANEMSG_ERR_NOT_FOUND for a record that carries none
 * (or whose data does not parse as exactly one certificate); INVALID_ARG for NULLs.
 */
danemsg_err danemsg_tlsa_cert(const danemsg_tlsa *rec, X509 **out);

/*
 * The public key a record carries (x 0 0 or x 1 0), parsed from its SubjectPublicKeyInfo
 * now: *out is the caller's (EVP_PKEY_free). DANEMSG_ERR_NOT_FOUND when it carries none.
 */
danemsg_err danemsg_tlsa_pkey(const danemsg_tlsa *rec, EVP_PKEY **out);

/* "DANE-EE", "DANE-TA", ...; "SPKI", "Cert"; "Full", "SHA2-256", ... */
const char *danemsg_tlsa_usage_name(uint8_t usage);
const char *danemsg_tlsa_selector_name(uint8_t selector);
const char *danemsg_tlsa_matching_name(uint8_t matching_type);

/*
 * Does any usable record of the set authenticate the end-entity certificate ee
 * (with an optional in-band chain, issuer order, ee excluded) for identity name?
 * - DANE-EE (3): selector 0/1, matching 0/1/2 against ee; no name or date checks
 *   (RFC 7671 section 5.1).
 * - DANE-TA (2): a certificate of the chain (or, for x 1 0, a key) matches; ee
 *   must chain to it (signatures, validity dates) and name `name` in a DNS SAN
 *   (the subject CN is never used; no partial wildcards). A 2 0 0 record is the
 *   trust anchor itself, whether or not the chain repeats it. For 2 1 0 the
 *   chain may stop below the TA: its top-most certificate (ee when chain is
 *   NULL or empty) must then be signed by the record's key.
 * - PKIX-TA/PKIX-EE (0/1) never match here: they need a Web PKI trust store, see
 *   danemsg_tlsa_match_cert_pkix().
 * - Digest agility (RFC 7671 section 9) is applied per usage and selector.
 * name is a DNS name, trailing dot optional, required even for DANE-EE sets.
 * Returns DANEMSG_OK and sets *matched (if not NULL) to the index of the record
 * that matched; DANEMSG_ERR_NO_USABLE_RECORD when no record is usable;
 * DANEMSG_ERR_NO_MATCH otherwise; DANEMSG_ERR_INVALID_ARG when recs, name or
 * ee is NULL or name is empty or too long.
 */
DANEMSG_NODISCARD
danemsg_err danemsg_tlsa_match_cert(const danemsg_tlsa *recs, size_t n, const char *name,
				    X509 *ee, STACK_OF(X509) *chain, size_t *matched);

/*
 * danemsg_tlsa_match_cert(), with pkix_store (may be NULL: then as above) the Web PKI
 * trust store for PKIX-TA and PKIX-EE records (RFC 6698 section 2.1.1, RFC 7671 section
 * 4). OpenSSL validates ee's path to the store (RFC 5280: signatures, validity dates,
 * basicConstraints, key usage of CAs) and the name in a DNS SAN, as for DANE-TA; then
 * - PKIX-EE (1): the record matches ee;
 * - PKIX-TA (0): the record matches a CA certificate of that validated path, the store's
 *   trust anchor included (the record narrows which Web PKI CA may vouch).
 * X509_STORE is thread-safe: one store may serve concurrent calls.
 */
DANEMSG_NODISCARD
danemsg_err danemsg_tlsa_match_cert_pkix(const danemsg_tlsa *recs, size_t n, const char *name,
					 X509 *ee, STACK_OF(X509) *chain, X509_STORE *pkix_store,
					 size_t *matched);

/*
 * Does any usable DANE-EE SPKI record (3 1 x) or any record carrying a whole
 * certificate or key authenticate the bare public key pkey? For messages that
 * carry no certificate: the key is then the one the record publishes.
 * DANE-TA, PKIX-TA and PKIX-EE records never match a bare key. Digest agility applies as above.
 * Returns as danemsg_tlsa_match_cert(): DANEMSG_ERR_NO_USABLE_RECORD only when
 * no record at all is usable (a set of DANE-TA records gives NO_MATCH).
 */
DANEMSG_NODISCARD
danemsg_err danemsg_tlsa_match_pkey(const danemsg_tlsa *recs, size_t n, EVP_PKEY *pkey,
				    size_t *matched);

#ifdef __cplusplus
}
#endif
#endif

/*
 * Private: a narrow, strict JOSE layer (JWS RFC 7515, JWE RFC 7516, JWA RFC 7518,
 * OKP RFC 8037, thumbprints RFC 7638) on OpenSSL 3 and jansson.
 *
 * Only what danemsg needs:
 *   signatures      ES256 (P-256, raw r||s), EdDSA (Ed25519; "Ed25519" accepted on input),
 *                   RS256 (compat), PS256 (RSA >= 2048 bits)
 *   key management  RSA-OAEP-256 (RSA >= 2048), ECDH-ES+A256KW (P-256, X25519)
 *   content         A256GCM (native), A256CBC-HS512 (compat)
 * Anything else (none, HS*, dir, zip, b64, unknown crit) is refused.
 *
 * Errors: DANEMSG_ERR_INVALID_ARG (NULL or unusable argument), _MALFORMED (does not
 * parse, bad base64url, wrong lengths, duplicate JSON keys or header members), _TOO_LARGE
 * (over JOSE_MAX_INPUT / JOSE_MAX_HEADER), _ALGORITHM (alg/enc not allowed, or not the
 * key's type, crit not understood, zip, b64), _BAD_SIGNATURE (JWS does not verify),
 * _DECRYPT (no recipient entry for our key, or tag/key unwrap wrong), _NOMEM, _CRYPTO,
 * _BUFFER_TOO_SMALL.
 *
 * Memory: every allocated output (char *, uint8_t *) is released with free(); json_t
 * outputs with json_decref(). Structures are released with their _clear function, which
 * accepts a zeroed structure and may be called twice.
 */
#ifndef DANEMSG_JOSE_H
#define DANEMSG_JOSE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/x509.h>

#include <danemsg/error.h>

#include "base64.h"

/* Bounds on outside data. */
#define JOSE_MAX_INPUT   (1u << 20)  /* a whole serialized JWS or JWE, in bytes */
#define JOSE_MAX_HEADER  8192u       /* one decoded header (protected or not), in bytes */
#define JOSE_MAX_RECIPIENTS 16u      /* entries in a general JWE "recipients" array */

/*
 * The algorithm implementations JOSE uses, fetched once per process from the default
 * library context (each EVP_*_fetch is a locked lookup, and a legacy EVP_sha256() or
 * EVP_aes_256_gcm() given to an init function is fetched again on every call). Set once
 * under CRYPTO_THREAD_run_once and never changed: immutable, shared by all threads, as
 * OpenSSL allows for fetched objects. NULL if a fetch failed (no default provider).
 */
struct jose_algs {
	EVP_MD *sha256;
	EVP_CIPHER *aes256gcm, *aes256cbc, *aes256wrap;
	EVP_KDF *sskdf;
	EVP_MAC *hmac;
};
const struct jose_algs *jose_algs(void);

/* Length of a base64url SHA-256 digest (thumbprints, x5t#S256) plus its NUL. */
#define JOSE_THUMBPRINT_SIZE 44

/* base64url: jose_b64url_* in base64.h (src/util). */

/* ---- algorithms ---- */

typedef enum jose_alg {
	JOSE_ALG_UNKNOWN = 0,
	/* signatures */
	JOSE_ALG_ES256,
	JOSE_ALG_EDDSA,
	JOSE_ALG_RS256,
	JOSE_ALG_PS256,
	/* key management */
	JOSE_ALG_RSA_OAEP_256,
	JOSE_ALG_ECDH_ES_A256KW,
} jose_alg;

typedef enum jose_enc {
	JOSE_ENC_UNKNOWN = 0,
	JOSE_ENC_A256GCM,
	JOSE_ENC_A256CBC_HS512,
} jose_enc;

/* Wire names ("ES256", "EdDSA", "RSA-OAEP-256", "A256GCM", ...); "?" if unknown. */
const char *jose_alg_name(jose_alg alg);
const char *jose_enc_name(jose_enc enc);
/* Names to values: JOSE_ALG_UNKNOWN / JOSE_ENC_UNKNOWN for anything not supported
 * (including "none", "HS256", "dir"). "Ed25519" maps to JOSE_ALG_EDDSA. */
jose_alg jose_alg_from_name(const char *name);
jose_enc jose_enc_from_name(const char *name);

/* The default signature alg for a key: ES256 (P-256), EdDSA (Ed25519), PS256 (RSA >= 2048);
 * JOSE_ALG_UNKNOWN for anything else. */
jose_alg jose_sig_alg_for_key(const EVP_PKEY *key);
/* The key management alg for a key: RSA-OAEP-256 (RSA >= 2048), ECDH-ES+A256KW (P-256,
 * X25519); JOSE_ALG_UNKNOWN for anything else. */
jose_alg jose_kw_alg_for_key(const EVP_PKEY *key);
/* DANEMSG_OK when alg may be used with key (kind, curve, RSA size), else
 * DANEMSG_ERR_ALGORITHM. */
danemsg_err jose_alg_check_key(jose_alg alg, const EVP_PKEY *key);

/* ---- headers ---- */

/*
 * Parses a header's JSON text (duplicate keys refused, object required, size bounded)
 * and checks what every header must pass: "crit" names only members listed in
 * understood (NULL-terminated; NULL = none understood), each present in the header,
 * none of them registered names; "b64" and "zip" refused. *out is a new reference.
 */
danemsg_err jose_header_parse(const char *json, size_t len, const char *const *understood,
			      json_t **out);

/* A member's string value in the first header that has it (headers may be NULL), or
 * NULL. Used to read alg/enc/kid across protected, shared and per-recipient headers. */
const char *jose_header_get_string(const char *name, const json_t *h1, const json_t *h2,
				   const json_t *h3);

/* ---- JWK and thumbprints ---- */

/* The public JWK of key (EC P-256, OKP Ed25519/X25519, RSA): a new object holding only
 * the required members (kty, crv, x, y / n, e). */
danemsg_err jose_jwk_from_pkey(const EVP_PKEY *key, json_t **jwk);
/* A public key from a JWK (EC P-256, OKP X25519/Ed25519, RSA >= 2048). Points are
 * validated (on the curve, right length); a "d" member is refused. */
danemsg_err jose_jwk_to_pkey(const json_t *jwk, EVP_PKEY **key);
/* RFC 7638 thumbprint (SHA-256) of key's public JWK, base64url, NUL-terminated. */
danemsg_err jose_jwk_thumbprint(const EVP_PKEY *key, char out[JOSE_THUMBPRINT_SIZE]);
/* "x5t#S256": SHA-256 of the certificate's DER, base64url, NUL-terminated. */
danemsg_err jose_x5t_s256(const X509 *cert, char out[JOSE_THUMBPRINT_SIZE]);

/* ---- JWS ---- */

typedef struct jose_jws {
	json_t *protected_header;     /* decoded protected header (object), holds "alg" */
	json_t *header;               /* unprotected header (object) or NULL */
	jose_alg alg;                 /* from the protected header */
	uint8_t *payload;             /* decoded payload, NUL-terminated for convenience */
	size_t payload_len;
	char *signing_input;          /* ASCII(b64url(protected)) "." b64url(payload) */
	size_t signing_input_len;
	uint8_t *signature;           /* raw (ES256: r||s, 64 bytes) */
	size_t signature_len;
} jose_jws;

/*
 * Signs payload with key, producing the flattened JSON serialization
 * {"payload":...,"protected":...,"signature":...} as a new NUL-terminated string.
 * alg: JOSE_ALG_UNKNOWN picks jose_sig_alg_for_key(); otherwise must fit the key.
 * protected_header: object (may be NULL) copied, "alg" added; an "alg" already in it must
 * name the same algorithm. The caller's object is not modified.
 */
danemsg_err jose_jws_sign(EVP_PKEY *key, jose_alg alg, const json_t *protected_header,
			  const uint8_t *payload, size_t payload_len, char **out, size_t *out_len);

/* The same in the compact serialization "H.P.S" (tokens that travel as one string). */
danemsg_err jose_jws_sign_compact(EVP_PKEY *key, jose_alg alg, const json_t *protected_header,
				  const uint8_t *payload, size_t payload_len, char **out,
				  size_t *out_len);

/*
 * Parses a JWS in flattened JSON, general JSON (exactly one signature) or compact form.
 * Checks the headers (see jose_header_parse; understood lists the crit names the caller
 * handles), refuses unprotected members that repeat protected ones, an "alg" outside the
 * protected header, and unsupported algs (DANEMSG_ERR_ALGORITHM). Does not verify.
 * On error *jws is left cleared.
 */
danemsg_err jose_jws_parse(const char *in, size_t in_len, const char *const *understood,
			   jose_jws *jws);

/* Verifies a parsed JWS with key: DANEMSG_ERR_ALGORITHM when jws->alg does not fit the
 * key, DANEMSG_ERR_BAD_SIGNATURE when the signature is wrong. Each thread keeps the
 * verification context of the last key it verified with (and a reference to that key):
 * messages from one sender, the common case, reuse it. */
danemsg_err jose_jws_verify(const jose_jws *jws, EVP_PKEY *key);

void jose_jws_clear(jose_jws *jws);

/*
 * A signature context for one key and alg, made once and used for many signatures or
 * verifications: what an OpenSSL operation costs to set up (method fetches, the digest
 * fetched again by name, a key context) is paid once instead of per message. ES256, RS256
 * and PS256 hash the input with the prefetched SHA-256 and sign the digest; EdDSA signs
 * the input in one shot. Not for two threads at once: its owner serializes its use.
 * jose_signer_new checks that alg fits key (DANEMSG_ERR_ALGORITHM) and takes a reference
 * to key. sign: 1 to sign, 0 to verify.
 */
typedef struct jose_signer jose_signer;
danemsg_err jose_signer_new(EVP_PKEY *key, jose_alg alg, int sign, jose_signer **out);
void jose_signer_free(jose_signer *s);
jose_alg jose_signer_alg(const jose_signer *s);
/* jose_jws_sign with a signing context of the key and alg to use. */
danemsg_err jose_jws_sign_with(jose_signer *s, const json_t *protected_header,
			       const uint8_t *payload, size_t payload_len, char **out,
			       size_t *out_len);

/* ---- JWE ---- */

/* One recipient of jose_jwe_encrypt. */
typedef struct jose_recipient {
	EVP_PKEY *key;          /* public key: RSA >= 2048, P-256 or X25519. Trusted: its
				 * point was validated when it was decoded (certificate) */
	jose_alg alg;           /* JOSE_ALG_UNKNOWN: jose_kw_alg_for_key() */
	const json_t *header;   /* members to add for this recipient (kid, x5t#S256, x5u),
				 * or NULL; copied */
} jose_recipient;

/*
 * Encrypts plaintext to n recipients with a fresh CEK.
 * n == 1: flattened JSON; alg, epk and the recipient's header members go in the
 *         protected header (integrity-protected, as the reference system does).
 * n > 1:  general JSON; each recipients[i] entry has its own "header" with alg, epk (if
 *         any) and the recipient's members; the protected header holds enc.
 * protected_header: object (may be NULL) copied, "enc" added (an "enc" in it must match).
 * aad: optional JWE AAD (NULL/0 for none), emitted as "aad".
 * *out: new NUL-terminated string.
 */
danemsg_err jose_jwe_encrypt(const jose_recipient *recipients, size_t n, jose_enc enc,
			     const json_t *protected_header, const uint8_t *plaintext,
			     size_t plaintext_len, const uint8_t *aad, size_t aad_len,
			     char **out, size_t *out_len);

typedef struct jose_jwe_recipient {
	json_t *header;               /* per-recipient unprotected header or NULL */
	jose_alg alg;                 /* from protected/shared/per-recipient header */
	uint8_t *encrypted_key;
	size_t encrypted_key_len;
} jose_jwe_recipient;

typedef struct jose_jwe {
	json_t *protected_header;     /* decoded protected header (object) or NULL */
	char *protected_b64;          /* as received (the AAD is built from it) */
	json_t *unprotected;          /* shared unprotected header or NULL */
	jose_enc enc;
	jose_jwe_recipient *recipients;
	size_t n_recipients;
	uint8_t *iv, *ciphertext, *tag, *aad;
	size_t iv_len, ciphertext_len, tag_len, aad_len;
	char *aad_b64;                /* "aad" member as received, or NULL */
} jose_jwe;

/*
 * Parses a JWE in flattened JSON, general JSON or compact form. Checks the headers
 * (crit as above, zip refused), refuses a member in two headers, unknown alg/enc
 * (including dir), and IV/tag lengths wrong for enc. Does not decrypt.
 */
danemsg_err jose_jwe_parse(const char *in, size_t in_len, const char *const *understood,
			   jose_jwe *jwe);

/* Chooses recipient entries: return nonzero to try entry i. merged is a union of the
 * protected, shared unprotected and per-recipient headers (read-only). */
typedef int (*jose_recipient_pred)(const json_t *merged, size_t index, void *arg);

/* A ready predicate: arg is a struct jose_id_match; the entry must have a string member
 * name equal to value in any of its headers. */
struct jose_id_match {
	const char *name;    /* "kid", "x5t#S256", "x5u", ... */
	const char *value;
};
int jose_recipient_has_id(const json_t *merged, size_t index, void *arg);

/*
 * Decrypts with key (RSA, P-256 or X25519 private key). Entries tried, in order: those
 * whose alg fits the key (for ECDH-ES, whose epk is on the key's curve) and that pred
 * accepts (every such entry when pred is NULL). With several entries, a pred (e.g.
 * jose_recipient_has_id) keeps the work to one private-key operation.
 * *plaintext: new buffer (NUL-terminated beyond plaintext_len) that the caller should
 * OPENSSL_cleanse before free. *index (may be NULL) is the entry that decrypted.
 * DANEMSG_ERR_ALGORITHM when no entry fits the key; DANEMSG_ERR_DECRYPT when none
 * decrypts (a bad RSA-OAEP key shows only here, at the tag: no padding oracle);
 * DANEMSG_ERR_MALFORMED for an epk that is not a valid point.
 */
danemsg_err jose_jwe_decrypt(const jose_jwe *jwe, EVP_PKEY *key, jose_recipient_pred pred,
			     void *arg, uint8_t **plaintext, size_t *plaintext_len,
			     size_t *index);

void jose_jwe_clear(jose_jwe *jwe);

/* ---- shared by the jose modules (not for other callers) ---- */

typedef enum jose_key_kind {
	JOSE_KEY_OTHER = 0,
	JOSE_KEY_P256,
	JOSE_KEY_ED25519,
	JOSE_KEY_X25519,
	JOSE_KEY_RSA,       /* 2048 to 16384 bits */
} jose_key_kind;

jose_key_kind jose_key_kind_of(const EVP_PKEY *key);
int jose_alg_fits_kind(jose_alg alg, jose_key_kind kind);
int jose_alg_is_signature(jose_alg alg);
int jose_alg_is_key_management(jose_alg alg);

/* Checks one already-parsed header (object, no b64/zip; protected: crit understood;
 * unprotected: no crit, size bounded). */
danemsg_err jose_header_check(const json_t *header, int is_protected,
			      const char *const *understood);
/* Decodes and parses a base64url protected header (jose_header_parse). */
danemsg_err jose_header_decode(const char *b64, size_t b64_len, const char *const *understood,
			       json_t **out);
/* DANEMSG_ERR_MALFORMED when a member name is in both (either may be NULL). */
danemsg_err jose_headers_disjoint(const json_t *a, const json_t *b);
/* A member from the first header that has it, or NULL. */
const json_t *jose_header_get(const char *name, const json_t *h1, const json_t *h2,
			      const json_t *h3);
/* Decodes obj's base64url string member name (absent: MALFORMED if required, else
 * *out NULL); decoded size over max: TOO_LARGE. */
danemsg_err jose_json_b64(const json_t *obj, const char *name, int required, size_t max,
			  uint8_t **out, size_t *out_len);
/* A copy of base (or a new object) with extra's members added; a member in both is
 * DANEMSG_ERR_INVALID_ARG. */
danemsg_err jose_header_with_members(const json_t *base, const json_t *extra, json_t **out);
/* jose_jwk_to_pkey, faster for a P-256 point when like is a P-256 key (its group is
 * reused); the point is validated the same way. like may be NULL. */
danemsg_err jose_jwk_to_pkey_like(const json_t *jwk, const EVP_PKEY *like, EVP_PKEY **key);
/* Parses JSON text as jansson does with duplicate keys refused (NULL when it does not
 * parse), with a fast path for flat objects of plain strings. */
json_t *jose_json_load(const char *in, size_t len);
/* Nonzero when a JWS/JWE text uses a JSON serialization ('{' after white space), zero
 * for the compact one. */
int jose_is_json_serialization(const char *in, size_t len);
/* One member of a flat JSON object of base64url strings: raw bytes to encode, or
 * text that is base64url already (b64 not NULL). */
struct jose_text_member {
	const char *name;
	const uint8_t *raw;
	size_t raw_len;
	const char *b64;
	size_t b64_len;
};
/* {"name":"value",...} written directly (no JSON library on the hot path): a new
 * NUL-terminated string, its length in *out_len (may be NULL). Members with neither
 * raw bytes nor text are left out. */
danemsg_err jose_flat_text(const struct jose_text_member *m, size_t n, char **out,
			   size_t *out_len);
/* 128 random bits, base64url (22 characters): a jti. len at least 23. */
danemsg_err jose_random_id(char *out, size_t len);
/* Compact JSON text of json (free()), its length in *len (may be NULL). */
char *jose_dump(const json_t *json, size_t *len);

#endif

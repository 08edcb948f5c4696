/* danemsg: an identity's own credentials on disk (keys, certificates, TLSA records). */
#ifndef DANEMSG_CREDENTIAL_H
#define DANEMSG_CREDENTIAL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <danemsg/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Files of identity NAME in directory DIR (docs/identities.md), NAME in lower
 * case without the trailing dot:
 *   NAME.key.pem         signing private key, PEM PKCS#8, mode 0600
 *   NAME.crt.pem         its certificate (self-signed, or imported), 0644
 *   NAME.csr.pem         a CSR for the key (written by danemsg_credential_new), 0644
 *   NAME.chain.pem       optional: the CA chain of an imported certificate, 0644
 *   NAME.x25519.key.pem  Ed25519 identities only: the encryption (X25519) key, 0600
 *   NAME.x25519.crt.pem  Ed25519 identities only: its certificate, issued by the
 *                        Ed25519 key (keyUsage keyAgreement only)
 * The next key of a rollover uses "NAME.next.*" for the same files, and a
 * rollover keeps the replaced ones as "NAME.old.*"; "NAME.rollover" exists while a
 * rollover is unfinished (see danemsg_credential_rollover).
 */

/* Longest identity name in presentation form, without trailing dot, plus NUL. */
#define DANEMSG_CREDENTIAL_NAME_MAX 254

/* Default certificate lifetime, days. */
#define DANEMSG_CREDENTIAL_DEFAULT_DAYS 365
/* Longest certificate lifetime accepted, days. */
#define DANEMSG_CREDENTIAL_MAX_DAYS 36500

/* Key types. The signing key's type; Ed25519 identities add an X25519 key. */
typedef enum danemsg_keytype {
	DANEMSG_KEY_P256 = 0,   /* ECDSA P-256 (ES256) + ECDH-ES; the default */
	DANEMSG_KEY_ED25519,    /* EdDSA; encryption through a separate X25519 key */
	DANEMSG_KEY_RSA2048,    /* RS256 + RSA-OAEP-256, as the reference system */
	DANEMSG_KEY_RSA3072,
} danemsg_keytype;

/* "p256", "ed25519", "rsa2048", "rsa3072" (case-insensitive) -> *out; else INVALID_ARG. */
danemsg_err danemsg_keytype_parse(const char *s, danemsg_keytype *out);
/* The name above, or "unknown". */
const char *danemsg_keytype_name(danemsg_keytype type);

/*
 * Checks that name is a DNS name usable as an identity (labels of letters,
 * digits, '-' and '_', 1..63 octets each, at most 253 octets in all, optional
 * trailing dot) and writes it to buf in lower case, without the trailing dot.
 * Anything else ("", "a/b", "..", "a..b") is DANEMSG_ERR_INVALID_ARG; a buffer
 * shorter than the result plus NUL is DANEMSG_ERR_BUFFER_TOO_SMALL
 * (DANEMSG_CREDENTIAL_NAME_MAX always suffices).
 */
danemsg_err danemsg_credential_name_normalize(const char *name, char *buf, size_t buflen);

/*
 * A name as a topic path, for brokers whose topics may not hold '.' (NATS): the labels
 * in reverse order, separated by '/' ("bob._device.example.net" gives
 * "net/example/_device/bob"). name is normalized first (errors as above). The path has
 * the name's length, so DANEMSG_CREDENTIAL_NAME_MAX always suffices.
 */
danemsg_err danemsg_credential_name_to_path(const char *name, char *buf, size_t buflen);

/*
 * The reverse: the normalized name of a topic path (levels of letters, digits, '-' and
 * '_'; no empty level, no leading or trailing '/'). Anything else is
 * DANEMSG_ERR_INVALID_ARG; a short buffer DANEMSG_ERR_BUFFER_TOO_SMALL.
 */
danemsg_err danemsg_credential_name_from_path(const char *path, char *buf, size_t buflen);

/* Which generation of an identity's files. */
typedef enum danemsg_credential_slot {
	DANEMSG_SLOT_CURRENT = 0,  /* NAME.*      */
	DANEMSG_SLOT_NEXT,         /* NAME.next.* (rollover, from danemsg_credential_new) */
	DANEMSG_SLOT_OLD,          /* NAME.old.*  (kept by danemsg_credential_rollover) */
	/* During an unfinished rollover, loading CURRENT reads NAME.old.* and OLD is NOT_FOUND. */
} danemsg_credential_slot;

/* Which file of a slot. */
typedef enum danemsg_credential_file {
	DANEMSG_FILE_KEY = 0,      /* .key.pem */
	DANEMSG_FILE_CERT,         /* .crt.pem */
	DANEMSG_FILE_CSR,          /* .csr.pem */
	DANEMSG_FILE_CHAIN,        /* .chain.pem */
	DANEMSG_FILE_ENC_KEY,      /* .x25519.key.pem */
	DANEMSG_FILE_ENC_CERT,     /* .x25519.crt.pem */
} danemsg_credential_file;

/*
 * The path "DIR/NAME[.next|.old].SUFFIX" of one file (name is normalized first); for
 * names over 225 octets, whose file names would not fit in 255 octets,
 * "DIR/NAME/[next.|old.]SUFFIX" (the folder DIR/NAME is made by danemsg_credential_new).
 */
danemsg_err danemsg_credential_path(const char *dir, const char *name,
				    danemsg_credential_slot slot, danemsg_credential_file file,
				    char *buf, size_t buflen);

/* Flags of danemsg_credential_new and danemsg_credential_import. */
#define DANEMSG_CREDENTIAL_FORCE 0x1u  /* overwrite existing keys / accept expired certs */
#define DANEMSG_CREDENTIAL_NEXT  0x2u  /* work on the next slot (NAME.next.*) */

/*
 * Creates identity name in dir (created 0700 with its parents if missing):
 * a new private key of the given type (written with O_EXCL semantics: an
 * existing key file is never replaced unless DANEMSG_CREDENTIAL_FORCE, else
 * DANEMSG_ERR_EXISTS and nothing is touched), a self-signed certificate valid
 * from now-1h for days days (0: DANEMSG_CREDENTIAL_DEFAULT_DAYS; subject CN=name, or
 * for names over 64 octets the labels as domainComponents; SAN dNSName=name), a CSR and, for
 * Ed25519, the X25519 key and certificate. With DANEMSG_CREDENTIAL_NEXT the
 * files are the next slot's (the current identity must exist: NOT_FOUND else).
 * Replacing an identity removes its stale chain (and X25519 files if the new
 * type has none). errbuf (may be NULL) receives a message naming the file.
 */
danemsg_err danemsg_credential_new(const char *dir, const char *name, danemsg_keytype type,
				   unsigned days, unsigned flags, char *errbuf, size_t errbuf_len);

/* A loaded identity: keys, certificates, chain. Opaque, immutable after load. */
typedef struct danemsg_credential danemsg_credential;

/*
 * Loads identity name's current files from dir; on failure errbuf (may be NULL) says
 * which file and why. A key file that group or other may access is refused with
 * DANEMSG_ERR_KEY_PERMISSIONS, as ssh does; a certificate whose key is not the private
 * key is DANEMSG_ERR_KEY_MISMATCH (for Ed25519 also an X25519 certificate not signed by
 * the Ed25519 key); missing files are DANEMSG_ERR_NOT_FOUND.
 */
danemsg_err danemsg_credential_load(const char *dir, const char *name,
				    danemsg_credential **out, char *errbuf, size_t errbuf_len);
/* The same for any slot. */
danemsg_err danemsg_credential_load_slot(const char *dir, const char *name,
					 danemsg_credential_slot slot, danemsg_credential **out,
					 char *errbuf, size_t errbuf_len);
void danemsg_credential_free(danemsg_credential *cred);

/*
 * Accessors. Pointers are borrowed: valid until danemsg_credential_free
 * (take a reference with EVP_PKEY_up_ref / X509_up_ref to keep one longer).
 */
/* The identity's name, lower case, no trailing dot. */
const char *danemsg_credential_name(const danemsg_credential *cred);
/* The signing key and its certificate (what verifiers authenticate). */
EVP_PKEY *danemsg_credential_sign_key(const danemsg_credential *cred);
X509 *danemsg_credential_sign_cert(const danemsg_credential *cred);
/* The chain from NAME.chain.pem, issuer order, EE excluded; NULL when none. */
STACK_OF(X509) *danemsg_credential_chain(const danemsg_credential *cred);
/* The key messages are encrypted to: the X25519 pair for Ed25519, else the
 * signing key and certificate themselves. */
EVP_PKEY *danemsg_credential_enc_key(const danemsg_credential *cred);
X509 *danemsg_credential_enc_cert(const danemsg_credential *cred);

/*
 * Every certificate identity name publishes in DNS, in this order: current
 * signing, current X25519 (Ed25519 only), and during a rollover next signing,
 * next X25519. Each slot is loaded and checked as by danemsg_credential_load.
 * *out is the caller's: free with sk_X509_pop_free(*out, X509_free).
 */
danemsg_err danemsg_credential_published(const char *dir, const char *name,
					 STACK_OF(X509) **out, char *errbuf, size_t errbuf_len);

/*
 * A CSR for identity name's existing key (any slot): subject CN=NAME (over 64
 * octets: domainComponents), extension request subjectAltName dNSName=NAME, signed
 * by the key.
 * *out is the caller's (X509_REQ_free).
 */
danemsg_err danemsg_credential_csr(const char *dir, const char *name,
				   danemsg_credential_slot slot, X509_REQ **out,
				   char *errbuf, size_t errbuf_len);

/*
 * Installs a CA-issued certificate for identity name's existing key.
 * cert_file: PEM, the end-entity certificate first (further certificates in it
 * are taken as chain); chain_file (may be NULL): PEM, one or more certificates.
 * Checks: the certificate's key is the private key (else KEY_MISMATCH), its SAN
 * names NAME (else NO_MATCH), each chain certificate signs the one before it
 * (else BAD_SIGNATURE), it is valid now (else EXPIRED, unless FORCE).
 * The replaced NAME.crt.pem / NAME.chain.pem are kept as NAME.crt.pem.bak /
 * NAME.chain.pem.bak. DANEMSG_CREDENTIAL_NEXT: the next slot instead.
 */
danemsg_err danemsg_credential_import(const char *dir, const char *name, const char *cert_file,
				      const char *chain_file, unsigned flags,
				      char *errbuf, size_t errbuf_len);

/*
 * Promotes identity name's next slot to current, in steps that each survive an
 * interruption (crash, full disk, I/O error) and that a second call resumes:
 *   1. NAME.old.* becomes a copy of NAME.* (hard links where the file system has them);
 *   2. the file NAME.rollover is created: from now on, and until step 4, loading the
 *      current slot reads NAME.old.* (the complete previous set) and there is no old slot;
 *   3. NAME.* becomes a copy of NAME.next.*;
 *   4. NAME.rollover is removed: the commit; the current slot is now the new key;
 *   5. NAME.next.* is removed (each file only where NAME.* holds the same).
 * Readers thus see the previous key or the new one, never a mix, and no file is removed
 * unless another copy of it remains. The next slot is loaded and checked first; without
 * one: DANEMSG_ERR_NOT_FOUND and nothing changes. An old slot that is not a copy of the
 * current one (kept by an earlier rollover): DANEMSG_ERR_EXISTS and nothing changes;
 * delete it first with danemsg_credential_delete_old().
 */
danemsg_err danemsg_credential_rollover(const char *dir, const char *name,
					char *errbuf, size_t errbuf_len);

/*
 * Deletes the old slot (NAME.old.*, the key a rollover retired): the only call apart from
 * danemsg_credential_new with DANEMSG_CREDENTIAL_FORCE that deletes a key. Nothing to
 * delete is success; during an unfinished rollover (whose old slot is the current key):
 * DANEMSG_ERR_EXISTS and nothing changes.
 */
danemsg_err danemsg_credential_delete_old(const char *dir, const char *name,
					  char *errbuf, size_t errbuf_len);

#ifdef __cplusplus
}
#endif
#endif

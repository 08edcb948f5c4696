/* An identity's own credentials on disk: create, load, import, roll over. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <danemsg.h>

#include "credential_certs.h"
#include "credential_files.h"
#include "credential_internal.h"
#include "credential_keys.h"
#include "dname.h"
#include "error_internal.h"
#include "jose.h"
#include "util.h"

struct danemsg_credential {
	char name[DANEMSG_CREDENTIAL_NAME_MAX];
	EVP_PKEY *sign_key;
	X509 *sign_cert;
	STACK_OF(X509) *chain;
	EVP_PKEY *enc_key;      /* own reference; the signing key itself unless Ed25519 */
	X509 *enc_cert;
	/* x5t#S256 of sign_cert and enc_cert: named in every message sealed or opened. */
	char sign_x5t[JOSE_THUMBPRINT_SIZE];
	char enc_x5t[JOSE_THUMBPRINT_SIZE];
	/* The signing context, made at the first seal and kept: its set-up cost as much as
	 * a tenth of a seal. The lock lets one seal at a time use it (see credential_jws_sign). */
	pthread_mutex_t signer_lock;
	int signer_lock_ok;
	jose_signer *signer;
};

danemsg_err danemsg_credential_name_normalize(const char *name, char *buf, size_t buflen)
{
	return dname_normalize(name, 0, buf, buflen);
}

/* Writes the labels of src (separated by sep_in) in reverse order, separated by sep_out. */
static void reverse_labels(const char *src, size_t len, char sep_in, char sep_out, char *out)
{
	size_t n = 0, end = len;
	for (;;) {   /* empty labels too: the caller refuses them */
		size_t start = end;
		while (start > 0 && src[start - 1] != sep_in)
			start--;
		if (n || end < len)
			out[n++] = sep_out;
		memcpy(out + n, src + start, end - start);
		n += end - start;
		if (start == 0)
			break;
		end = start - 1;
	}
	out[n] = '\0';
}

danemsg_err danemsg_credential_name_to_path(const char *name, char *buf, size_t buflen)
{
	char norm[DANEMSG_CREDENTIAL_NAME_MAX];
	danemsg_err err = danemsg_credential_name_normalize(name, norm, sizeof(norm));
	if (err)
		return err;
	if (buflen < strlen(norm) + 1)
		return DANEMSG_ERR_BUFFER_TOO_SMALL;
	reverse_labels(norm, strlen(norm), '.', '/', buf);
	return DANEMSG_OK;
}

danemsg_err danemsg_credential_name_from_path(const char *path, char *buf, size_t buflen)
{
	char name[DANEMSG_CREDENTIAL_NAME_MAX];
	size_t len;
	if (!path || !buf)
		return DANEMSG_ERR_INVALID_ARG;
	len = strnlen(path, sizeof(name));
	/* '.' would let a path pass for a name of other levels; normalize checks the rest */
	if (len == 0 || len >= sizeof(name) || memchr(path, '.', len))
		return DANEMSG_ERR_INVALID_ARG;
	reverse_labels(path, len, '/', '.', name);
	if (name[0] == '.' || name[len - 1] == '.')
		return DANEMSG_ERR_INVALID_ARG;   /* a leading or trailing '/' */
	return danemsg_credential_name_normalize(name, buf, buflen);
}

/* The arguments every entry point checks: a directory and a valid name, normalized. */
static danemsg_err check_dir_name(const char *dir, const char *name, char *norm,
				  char *errbuf, size_t errbuf_len)
{
	if (!dir || !*dir)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_INVALID_ARG,
				  "no identity directory");
	if (strlen(dir) > CRED_PATH_MAX - 300)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_INVALID_ARG,
				  "directory name too long");
	if (!name || danemsg_credential_name_normalize(name, norm, DANEMSG_CREDENTIAL_NAME_MAX))
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_INVALID_ARG, "'%s' is not a DNS "
				  "name (letters, digits, '-', '_'; labels of 1-63)", name ? name :
				  "(null)");
	return DANEMSG_OK;
}

/* new and import change files that an unfinished rollover is still copying. */
static danemsg_err refuse_if_rollover_pending(const char *dir, const char *norm,
					      char *errbuf, size_t errbuf_len)
{
	if (!cred_rollover_pending(dir, norm))
		return DANEMSG_OK;
	return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_EXISTS, "a rollover of %s is unfinished: "
			  "run 'danemsg id rollover %s' to finish it " "first", norm, norm);
}

/* --- creating an identity --- */

/* Everything danemsg_credential_new makes, before anything is written. */
struct new_credential {
	EVP_PKEY *key, *enc_key;
	X509 *cert, *enc_cert;
	X509_REQ *csr;
};

static void new_credential_clear(struct new_credential *n)
{
	EVP_PKEY_free(n->key);
	EVP_PKEY_free(n->enc_key);
	X509_free(n->cert);
	X509_free(n->enc_cert);
	X509_REQ_free(n->csr);
}

static danemsg_err new_credential_make(struct new_credential *n, const char *norm,
				       danemsg_keytype type, unsigned days,
				       char *errbuf, size_t errbuf_len)
{
	const char *usage = cred_keytype_usage(type);
	n->key = cred_generate_key(type);
	n->cert = n->key ? cred_make_cert(norm, n->key, usage, days, NULL, NULL) : NULL;
	n->csr = n->cert ? cred_make_csr(norm, n->key) : NULL;
	if (n->csr && type == DANEMSG_KEY_ED25519) {
		n->enc_key = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
		if (n->enc_key)
			n->enc_cert = cred_make_cert(norm, n->enc_key, CRED_X25519_KEY_USAGE, days,
						     n->cert, n->key);
		if (!n->enc_cert)
			return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_CRYPTO,
					  "cannot make the X25519 key and certificate: %s",
					  cred_ossl_reason());
	}
	if (!n->csr)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_CRYPTO,
				  "cannot make the %s key and certificate: %s",
				  danemsg_keytype_name(type), cred_ossl_reason());
	return DANEMSG_OK;
}

danemsg_err danemsg_credential_new(const char *dir, const char *name, danemsg_keytype type,
				   unsigned days, unsigned flags, char *errbuf, size_t errbuf_len)
{
	char norm[DANEMSG_CREDENTIAL_NAME_MAX];
	char path[CRED_N_FILES][CRED_PATH_MAX], current_key[CRED_PATH_MAX];
	danemsg_err err = check_dir_name(dir, name, norm, errbuf, errbuf_len);
	if (err)
		return err;
	if (!cred_keytype_valid(type) || days > DANEMSG_CREDENTIAL_MAX_DAYS ||
	    (flags & ~(DANEMSG_CREDENTIAL_FORCE | DANEMSG_CREDENTIAL_NEXT)))
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_INVALID_ARG,
				  "bad key type, lifetime (at most %d days) or flags",
				  DANEMSG_CREDENTIAL_MAX_DAYS);
	if (days == 0)
		days = DANEMSG_CREDENTIAL_DEFAULT_DAYS;
	if ((err = refuse_if_rollover_pending(dir, norm, errbuf, errbuf_len)))
		return err;
	danemsg_credential_slot slot = (flags & DANEMSG_CREDENTIAL_NEXT) ? DANEMSG_SLOT_NEXT :
				       DANEMSG_SLOT_CURRENT;
	for (size_t f = 0; f < CRED_N_FILES; f++)
		cred_path(dir, norm, slot, (danemsg_credential_file)f, path[f], CRED_PATH_MAX);
	cred_path(dir, norm, DANEMSG_SLOT_CURRENT, DANEMSG_FILE_KEY, current_key,
		  sizeof(current_key));
	int ed = type == DANEMSG_KEY_ED25519;

	if (slot == DANEMSG_SLOT_NEXT && !cred_path_exists(current_key))
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_NOT_FOUND,
				  "%s has no current key (%s): create it without --next first",
				  norm, current_key);
	if (!(flags & DANEMSG_CREDENTIAL_FORCE)) {
		const char *existing = cred_path_exists(path[DANEMSG_FILE_KEY]) ?
				       path[DANEMSG_FILE_KEY] :
				       ed && cred_path_exists(path[DANEMSG_FILE_ENC_KEY]) ?
				       path[DANEMSG_FILE_ENC_KEY] : NULL;
		if (existing)
			return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_EXISTS,
					  "%s exists (use --force to replace it)", existing);
	}
	err = cred_make_dir(dir, errbuf, errbuf_len);
	if (!err && cred_name_separator(norm) == '/') {
		char own[CRED_PATH_MAX];
		snprintf(own, sizeof(own), "%s/%s", dir, norm);
		err = cred_make_dir(own, errbuf, errbuf_len);
	}
	if (err)
		return err;

	struct new_credential n = {0};
	enum cred_write_mode how = (flags & DANEMSG_CREDENTIAL_FORCE) ? CRED_WRITE_REPLACE :
				   CRED_WRITE_EXCLUSIVE;
	err = new_credential_make(&n, norm, type, days, errbuf, errbuf_len);
	if (!err)
		err = cred_write_key(path[DANEMSG_FILE_KEY], n.key, how, errbuf, errbuf_len);
	if (!err && ed)
		err = cred_write_key(path[DANEMSG_FILE_ENC_KEY], n.enc_key, how, errbuf,
				     errbuf_len);
	if (!err)
		err = cred_write_certs(path[DANEMSG_FILE_CERT], n.cert, NULL, NULL, errbuf,
				       errbuf_len);
	if (!err)
		err = cred_write_certs(path[DANEMSG_FILE_CSR], NULL, NULL, n.csr, errbuf,
				       errbuf_len);
	if (!err && ed)
		err = cred_write_certs(path[DANEMSG_FILE_ENC_CERT], n.enc_cert, NULL, NULL, errbuf,
				       errbuf_len);
	/* What belonged to a replaced key: its CA chain, its X25519 pair. */
	if (!err)
		err = cred_remove_file(path[DANEMSG_FILE_CHAIN], errbuf, errbuf_len);
	if (!err && !ed)
		err = cred_remove_file(path[DANEMSG_FILE_ENC_KEY], errbuf, errbuf_len);
	if (!err && !ed)
		err = cred_remove_file(path[DANEMSG_FILE_ENC_CERT], errbuf, errbuf_len);
	new_credential_clear(&n);
	return err;
}

/* --- loading --- */

void danemsg_credential_free(danemsg_credential *cred)
{
	if (!cred)
		return;
	jose_signer_free(cred->signer);
	if (cred->signer_lock_ok)
		pthread_mutex_destroy(&cred->signer_lock);
	EVP_PKEY_free(cred->sign_key);
	X509_free(cred->sign_cert);
	sk_X509_pop_free(cred->chain, X509_free);
	EVP_PKEY_free(cred->enc_key);
	X509_free(cred->enc_cert);
	OPENSSL_free(cred);
}

/* Loads the X25519 pair of an Ed25519 identity and checks it belongs to it. */
static danemsg_err load_enc_pair(danemsg_credential *c, const char *key_path,
				 const char *cert_path, char *errbuf, size_t errbuf_len)
{
	STACK_OF(X509) *certs = NULL;
	danemsg_err err = cred_load_key(key_path, &c->enc_key, errbuf, errbuf_len);
	if (!err)
		err = cred_load_certs(cert_path, &certs, errbuf, errbuf_len);
	if (err)
		return err;
	c->enc_cert = sk_X509_shift(certs);
	sk_X509_pop_free(certs, X509_free);
	if (!EVP_PKEY_is_a(c->enc_key, "X25519"))
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_UNSUPPORTED,
				  "%s is not an X25519 key", key_path);
	if (!cred_key_matches(c->enc_key, c->enc_cert))
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_KEY_MISMATCH,
				  "%s is not the certificate of the key %s", cert_path, key_path);
	if (X509_verify(c->enc_cert, c->sign_key) != 1)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_KEY_MISMATCH,
				  "%s is not signed by the identity's Ed25519 key", cert_path);
	return DANEMSG_OK;
}

static danemsg_err load_slot(danemsg_credential *c, const char *dir,
			     danemsg_credential_slot slot, char *errbuf, size_t errbuf_len)
{
	char path[CRED_N_FILES][CRED_PATH_MAX];
	STACK_OF(X509) *certs = NULL, *chain = NULL;
	for (size_t f = 0; f < CRED_N_FILES; f++)
		cred_path(dir, c->name, slot, (danemsg_credential_file)f, path[f], CRED_PATH_MAX);

	danemsg_err err = cred_load_key(path[DANEMSG_FILE_KEY], &c->sign_key, errbuf, errbuf_len);
	if (!err)
		err = cred_load_certs(path[DANEMSG_FILE_CERT], &certs, errbuf, errbuf_len);
	if (err)
		return err;
	c->sign_cert = sk_X509_shift(certs);
	c->chain = certs;       /* certificates after the first one in NAME.crt.pem */
	if (!cred_sign_key_supported(c->sign_key))
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_UNSUPPORTED,
				  "%s: unsupported key type (P-256, Ed25519 or RSA)", path[0]);
	if (!cred_key_matches(c->sign_key, c->sign_cert))
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_KEY_MISMATCH,
				  "%s is not the certificate of the key %s",
				  path[DANEMSG_FILE_CERT], path[DANEMSG_FILE_KEY]);

	err = cred_load_certs(path[DANEMSG_FILE_CHAIN], &chain, errbuf, errbuf_len);
	if (err == DANEMSG_ERR_NOT_FOUND)
		err = DANEMSG_OK;
	for (int i = 0; chain && i < sk_X509_num(chain) && !err; i++) {
		X509 *x = sk_X509_value(chain, i);
		if (!X509_up_ref(x) || !sk_X509_push(c->chain, x)) {
			X509_free(x);
			err = errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_NOMEM, "out of memory");
		}
	}
	sk_X509_pop_free(chain, X509_free);
	if (err)
		return err;
	if (sk_X509_num(c->chain) == 0) {
		sk_X509_free(c->chain);
		c->chain = NULL;
	}

	if (EVP_PKEY_is_a(c->sign_key, "ED25519"))
		return load_enc_pair(c, path[DANEMSG_FILE_ENC_KEY], path[DANEMSG_FILE_ENC_CERT],
				     errbuf, errbuf_len);
	if (!EVP_PKEY_up_ref(c->sign_key) || !X509_up_ref(c->sign_cert))
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_NOMEM, "out of memory");
	c->enc_key = c->sign_key;
	c->enc_cert = c->sign_cert;
	return DANEMSG_OK;
}

/*
 * Loads what slot means now: during an unfinished rollover (pending) the previous set,
 * NAME.old.*, is the current one, and there is no old one.
 */
static danemsg_err load_slot_view(const char *dir, const char *norm, danemsg_credential_slot slot,
				  int pending, danemsg_credential **out,
				  char *errbuf, size_t errbuf_len)
{
	if (pending && slot == DANEMSG_SLOT_OLD)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_NOT_FOUND,
				  "%s: a rollover is unfinished, its old key is the current one",
				  norm);
	danemsg_credential *c = OPENSSL_zalloc(sizeof(*c));
	if (!c)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_NOMEM, "out of memory");
	memcpy(c->name, norm, sizeof(c->name));
	c->signer_lock_ok = pthread_mutex_init(&c->signer_lock, NULL) == 0;
	danemsg_err err = load_slot(c, dir, pending && slot == DANEMSG_SLOT_CURRENT ?
				    DANEMSG_SLOT_OLD : slot, errbuf, errbuf_len);
	if (!err && (jose_x5t_s256(c->sign_cert, c->sign_x5t)
		     || jose_x5t_s256(c->enc_cert, c->enc_x5t)))
		err = errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_CRYPTO,
				 "%s: cannot hash the certificate", norm);
	if (err) {
		danemsg_credential_free(c);
		return err;
	}
	*out = c;
	return DANEMSG_OK;
}

danemsg_err danemsg_credential_load_slot(const char *dir, const char *name,
					 danemsg_credential_slot slot, danemsg_credential **out,
					 char *errbuf, size_t errbuf_len)
{
	if (!out)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_INVALID_ARG, "no output");
	*out = NULL;
	if ((unsigned)slot > DANEMSG_SLOT_OLD)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_INVALID_ARG, "bad slot");
	char norm[DANEMSG_CREDENTIAL_NAME_MAX];
	danemsg_err err = check_dir_name(dir, name, norm, errbuf, errbuf_len);
	/* A rollover that commits while we read makes a mix: read again (it commits once). */
	for (int attempt = 0; !err && attempt < 2; attempt++) {
		int pending = cred_rollover_pending(dir, norm);
		err = load_slot_view(dir, norm, slot, pending, out, errbuf, errbuf_len);
		if (!err || cred_rollover_pending(dir, norm) == pending)
			break;
	}
	return err;
}

danemsg_err danemsg_credential_load(const char *dir, const char *name,
				    danemsg_credential **out, char *errbuf, size_t errbuf_len)
{
	return danemsg_credential_load_slot(dir, name, DANEMSG_SLOT_CURRENT, out, errbuf,
					    errbuf_len);
}

const char *danemsg_credential_name(const danemsg_credential *cred)
{
	return cred ? cred->name : NULL;
}

EVP_PKEY *danemsg_credential_sign_key(const danemsg_credential *cred)
{
	return cred ? cred->sign_key : NULL;
}

X509 *danemsg_credential_sign_cert(const danemsg_credential *cred)
{
	return cred ? cred->sign_cert : NULL;
}

STACK_OF(X509) *danemsg_credential_chain(const danemsg_credential *cred)
{
	return cred ? cred->chain : NULL;
}

EVP_PKEY *danemsg_credential_enc_key(const danemsg_credential *cred)
{
	return cred ? cred->enc_key : NULL;
}

X509 *danemsg_credential_enc_cert(const danemsg_credential *cred)
{
	return cred ? cred->enc_cert : NULL;
}

const char *credential_sign_x5t(const danemsg_credential *cred)
{
	return cred ? cred->sign_x5t : "";
}

const char *credential_enc_x5t(const danemsg_credential *cred)
{
	return cred ? cred->enc_x5t : "";
}

danemsg_err credential_jws_sign(const danemsg_credential *cred, jose_alg alg,
				const json_t *protected_header, const uint8_t *payload,
				size_t payload_len, char **out, size_t *out_len)
{
	/* The kept context is a cache, not part of the credential's value: const still holds
	 * for everything a caller can see. */
	struct danemsg_credential *c = (struct danemsg_credential *)cred;
	danemsg_err err;

	if (!c || !c->signer_lock_ok || pthread_mutex_trylock(&c->signer_lock) != 0)
		return jose_jws_sign(cred ? cred->sign_key : NULL, alg, protected_header, payload,
				     payload_len, out, out_len);   /* another seal holds it */
	if (c->signer && jose_signer_alg(c->signer) != alg) {
		jose_signer_free(c->signer);
		c->signer = NULL;
	}
	if (!c->signer && (err = jose_signer_new(c->sign_key, alg, 1, &c->signer)) != DANEMSG_OK) {
		pthread_mutex_unlock(&c->signer_lock);
		return err;
	}
	err = jose_jws_sign_with(c->signer, protected_header, payload, payload_len, out, out_len);
	pthread_mutex_unlock(&c->signer_lock);
	return err;
}

/* --- what is published --- */

static int push_ref(STACK_OF(X509) *s, X509 *x)
{
	if (!X509_up_ref(x))
		return 0;
	if (!sk_X509_push(s, x)) {
		X509_free(x);
		return 0;
	}
	return 1;
}

danemsg_err danemsg_credential_published(const char *dir, const char *name,
					 STACK_OF(X509) **out, char *errbuf, size_t errbuf_len)
{
	char norm[DANEMSG_CREDENTIAL_NAME_MAX], next_key[CRED_PATH_MAX];
	if (!out)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_INVALID_ARG, "no output");
	*out = NULL;
	danemsg_err err = check_dir_name(dir, name, norm, errbuf, errbuf_len);
	if (err)
		return err;
	cred_path(dir, norm, DANEMSG_SLOT_NEXT, DANEMSG_FILE_KEY, next_key, sizeof(next_key));
	STACK_OF(X509) *certs = sk_X509_new_null();
	if (!certs)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_NOMEM, "out of memory");
	int slots = cred_path_exists(next_key) ? 2 : 1;
	for (int s = 0; s < slots && !err; s++) {
		danemsg_credential *c;
		err = danemsg_credential_load_slot(dir, norm, s ? DANEMSG_SLOT_NEXT :
						   DANEMSG_SLOT_CURRENT, &c, errbuf, errbuf_len);
		if (err)
			break;
		if (!push_ref(certs, c->sign_cert) ||
		    (c->enc_cert != c->sign_cert && !push_ref(certs, c->enc_cert)))
			err = errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_NOMEM, "out of memory");
		danemsg_credential_free(c);
	}
	if (err) {
		sk_X509_pop_free(certs, X509_free);
		return err;
	}
	*out = certs;
	return DANEMSG_OK;
}

/* --- CSR, import, rollover --- */

danemsg_err danemsg_credential_csr(const char *dir, const char *name,
				   danemsg_credential_slot slot, X509_REQ **out,
				   char *errbuf, size_t errbuf_len)
{
	if (!out)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_INVALID_ARG, "no output");
	*out = NULL;
	danemsg_credential *c;
	danemsg_err err = danemsg_credential_load_slot(dir, name, slot, &c, errbuf, errbuf_len);
	if (err)
		return err;
	*out = cred_make_csr(c->name, c->sign_key);
	if (!*out)
		err = errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_CRYPTO, "cannot make the CSR: %s",
				 cred_ossl_reason());
	danemsg_credential_free(c);
	return err;
}

/* Checks an imported certificate and chain against the key and the name. */
static danemsg_err import_check(const char *norm, EVP_PKEY *key, const char *key_path,
				X509 *ee, STACK_OF(X509) *chain, unsigned flags,
				char *errbuf, size_t errbuf_len)
{
	if (!cred_key_matches(key, ee))
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_KEY_MISMATCH,
				  "the certificate is for another key than %s", key_path);
	if (!cred_san_names(ee, norm))
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_NO_MATCH,
				  "the certificate's subjectAltName does not name %s", norm);
	X509 *prev = ee;
	for (int i = 0; i < sk_X509_num(chain); i++) {
		X509 *issuer = sk_X509_value(chain, i);
		if (X509_verify(prev, X509_get0_pubkey(issuer)) != 1)
			return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_BAD_SIGNATURE, "chain "
					  "certificate %d did not sign the certificate before it", i
					  + 1);
		prev = issuer;
	}
	if (!(flags & DANEMSG_CREDENTIAL_FORCE) &&
	    (X509_cmp_current_time(X509_get0_notBefore(ee)) >= 0 ||
	     X509_cmp_current_time(X509_get0_notAfter(ee)) <= 0))
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_EXPIRED, "the certificate is "
				  "expired or not yet valid (--force to import it)");
	return DANEMSG_OK;
}

danemsg_err danemsg_credential_import(const char *dir, const char *name, const char *cert_file,
				      const char *chain_file, unsigned flags,
				      char *errbuf, size_t errbuf_len)
{
	char norm[DANEMSG_CREDENTIAL_NAME_MAX];
	char key_path[CRED_PATH_MAX], cert_path[CRED_PATH_MAX], chain_path[CRED_PATH_MAX];
	danemsg_err err = check_dir_name(dir, name, norm, errbuf, errbuf_len);
	if (err)
		return err;
	if (!cert_file || (flags & ~(DANEMSG_CREDENTIAL_FORCE | DANEMSG_CREDENTIAL_NEXT)))
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_INVALID_ARG,
				  "no certificate file");
	if ((err = refuse_if_rollover_pending(dir, norm, errbuf, errbuf_len)))
		return err;
	danemsg_credential_slot slot = (flags & DANEMSG_CREDENTIAL_NEXT) ? DANEMSG_SLOT_NEXT :
				       DANEMSG_SLOT_CURRENT;
	cred_path(dir, norm, slot, DANEMSG_FILE_KEY, key_path, sizeof(key_path));
	cred_path(dir, norm, slot, DANEMSG_FILE_CERT, cert_path, sizeof(cert_path));
	cred_path(dir, norm, slot, DANEMSG_FILE_CHAIN, chain_path, sizeof(chain_path));

	EVP_PKEY *key = NULL;
	STACK_OF(X509) *certs = NULL, *more = NULL;
	X509 *ee = NULL;
	err = cred_load_key(key_path, &key, errbuf, errbuf_len);
	if (!err)
		err = cred_load_certs(cert_file, &certs, errbuf, errbuf_len);
	if (!err && chain_file)
		err = cred_load_certs(chain_file, &more, errbuf, errbuf_len);
	if (!err) {
		ee = sk_X509_shift(certs);      /* certs is now the chain */
		while (sk_X509_num(more) > 0 && !err) {
			X509 *x = sk_X509_shift(more);
			if (sk_X509_num(certs) >= CRED_CERTS_MAX || !sk_X509_push(certs, x)) {
				X509_free(x);
				err = errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_TOO_LARGE,
						 "chain longer than %d certificates",
						 CRED_CERTS_MAX);
			}
		}
	}
	if (!err)
		err = import_check(norm, key, key_path, ee, certs, flags, errbuf, errbuf_len);
	if (!err)
		err = cred_backup_file(cert_path, errbuf, errbuf_len);
	if (!err)
		err = cred_backup_file(chain_path, errbuf, errbuf_len);
	if (!err)
		err = cred_write_certs(cert_path, ee, NULL, NULL, errbuf, errbuf_len);
	if (!err)
		err = sk_X509_num(certs) > 0 ?
		      cred_write_certs(chain_path, NULL, certs, NULL, errbuf, errbuf_len) :
		      cred_remove_file(chain_path, errbuf, errbuf_len);
	EVP_PKEY_free(key);
	X509_free(ee);
	sk_X509_pop_free(certs, X509_free);
	sk_X509_pop_free(more, X509_free);
	return err;
}

/* --- rollover: a sequence of steps that each survive interruption (docs/identities.md) --- */

/* Key files are read as secrets (and must be private). */
static int file_is_key(size_t f)
{
	return f == DANEMSG_FILE_KEY || f == DANEMSG_FILE_ENC_KEY;
}

/* The paths of one file in the three slots. */
struct slot_paths {
	char cur[CRED_PATH_MAX], next[CRED_PATH_MAX], old[CRED_PATH_MAX];
};

static void slot_paths(const char *dir, const char *norm, size_t f, struct slot_paths *p)
{
	danemsg_credential_file file = (danemsg_credential_file)f;
	cred_path(dir, norm, DANEMSG_SLOT_CURRENT, file, p->cur, sizeof(p->cur));
	cred_path(dir, norm, DANEMSG_SLOT_NEXT, file, p->next, sizeof(p->next));
	cred_path(dir, norm, DANEMSG_SLOT_OLD, file, p->old, sizeof(p->old));
}

/* One step of a rollover for one file; secret: a key file. */
typedef danemsg_err (*rollover_file_step)(const struct slot_paths *p, int secret,
					  char *errbuf, size_t errbuf_len);

static danemsg_err rollover_each_file(const char *dir, const char *norm,
				      rollover_file_step step, char *errbuf, size_t errbuf_len)
{
	struct slot_paths p;
	danemsg_err err = DANEMSG_OK;
	for (size_t f = 0; f < CRED_N_FILES && !err; f++) {
		slot_paths(dir, norm, f, &p);
		err = step(&p, file_is_key(f), errbuf, errbuf_len);
	}
	return err;
}

/* Step 1 for one file. */
static danemsg_err keep_current_file(const struct slot_paths *p, int secret,
				     char *errbuf, size_t errbuf_len)
{
	if (!cred_path_exists(p->cur) || cred_path_exists(p->old))
		return DANEMSG_OK;
	return cred_copy_file(p->cur, p->old, secret, CRED_WRITE_EXCLUSIVE, errbuf, errbuf_len);
}

/*
 * Step 1: NAME.old.* becomes a copy of NAME.* (NAME.* unchanged). An old file that is
 * not a copy of the current one is an earlier rollover's key: only --delete-old removes it.
 */
static danemsg_err rollover_keep_current(const char *dir, const char *norm,
					 char *errbuf, size_t errbuf_len)
{
	struct slot_paths p;
	for (size_t f = 0; f < CRED_N_FILES; f++) {
		slot_paths(dir, norm, f, &p);
		if (cred_path_exists(p.old) && !cred_same_file(p.old, p.cur, file_is_key(f)))
			return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_EXISTS, "%s keeps the "
					  "key an earlier rollover retired: once no message " "for "
					  "it can arrive, delete it with 'danemsg id rollover %s "
					  "--delete-old', then roll over", p.old, norm);
	}
	danemsg_err err = rollover_each_file(dir, norm, keep_current_file, errbuf, errbuf_len);
	return err ? err : cred_sync_dir(dir, errbuf, errbuf_len);
}

/* Step 3 (marker set): NAME.* becomes a copy of NAME.next.*; what next lacks goes (kept in old). */
static danemsg_err install_next_file(const struct slot_paths *p, int secret,
				     char *errbuf, size_t errbuf_len)
{
	if (!cred_path_exists(p->next))
		return cred_remove_copy(p->cur, p->old, secret, errbuf, errbuf_len);
	if (cred_same_file(p->next, p->cur, secret))
		return DANEMSG_OK;
	return cred_copy_file(p->next, p->cur, secret, CRED_WRITE_REPLACE, errbuf, errbuf_len);
}

/* Step 5 (committed): the next slot's files go, each only if NAME.* holds the same. */
static danemsg_err drop_next_file(const struct slot_paths *p, int secret,
				  char *errbuf, size_t errbuf_len)
{
	return cred_remove_copy(p->next, p->cur, secret, errbuf, errbuf_len);
}

/* After a commit that was interrupted: every next file left is a copy of the current one. */
static int next_is_leftover(const char *dir, const char *norm)
{
	struct slot_paths p;
	int any = 0;
	for (size_t f = 0; f < CRED_N_FILES; f++) {
		slot_paths(dir, norm, f, &p);
		if (!cred_path_exists(p.next))
			continue;
		if (!cred_same_file(p.next, p.cur, file_is_key(f)))
			return 0;
		any = 1;
	}
	return any;
}

static danemsg_err rollover_begin(const char *dir, const char *norm, const char *marker,
				  char *errbuf, size_t errbuf_len)
{
	static const char note[] =
		"A key rollover is in progress: NAME.old.* is current until it ends.\n"
		"Run 'danemsg id rollover NAME' to finish it.\n";
	danemsg_err err = rollover_keep_current(dir, norm, errbuf, errbuf_len);
	if (err)
		return err;
	/* Only its existence counts: created in place, no temporary file to leave behind. */
	int fd = open(marker, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || util_write_all(fd, note, sizeof(note) - 1) != 0 || fsync(fd) != 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_IO, "cannot create %s: %s",
				  marker, strerror(e));
	}
	close(fd);
	return cred_sync_dir(dir, errbuf, errbuf_len);
}

danemsg_err danemsg_credential_rollover(const char *dir, const char *name,
					char *errbuf, size_t errbuf_len)
{
	char norm[DANEMSG_CREDENTIAL_NAME_MAX], next[CRED_PATH_MAX], marker[CRED_PATH_MAX];
	danemsg_err err = check_dir_name(dir, name, norm, errbuf, errbuf_len);
	if (err)
		return err;
	cred_marker_path(dir, norm, marker, sizeof(marker));
	cred_path(dir, norm, DANEMSG_SLOT_NEXT, DANEMSG_FILE_KEY, next, sizeof(next));
	int pending = cred_path_exists(marker);
	if (!pending && next_is_leftover(dir, norm))
		return rollover_each_file(dir, norm, drop_next_file, errbuf, errbuf_len);
	if (!cred_path_exists(next))
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_NOT_FOUND,
				  "%s has no next key (%s): create one with 'id new %s --next'",
				  norm, next, norm);
	danemsg_credential *c;
	err = danemsg_credential_load_slot(dir, norm, DANEMSG_SLOT_NEXT, &c, errbuf, errbuf_len);
	danemsg_credential_free(c);
	if (!err && !pending)
		err = rollover_begin(dir, norm, marker, errbuf, errbuf_len);
	if (!err)
		err = rollover_each_file(dir, norm, install_next_file, errbuf, errbuf_len);
	if (!err)
		err = cred_sync_dir(dir, errbuf, errbuf_len);
	if (!err)
		err = cred_remove_file(marker, errbuf, errbuf_len);       /* the commit */
	if (!err)
		err = cred_sync_dir(dir, errbuf, errbuf_len);
	return err ? err : rollover_each_file(dir, norm, drop_next_file, errbuf, errbuf_len);
}

danemsg_err danemsg_credential_delete_old(const char *dir, const char *name,
					  char *errbuf, size_t errbuf_len)
{
	char norm[DANEMSG_CREDENTIAL_NAME_MAX], path[CRED_PATH_MAX];
	danemsg_err err = check_dir_name(dir, name, norm, errbuf, errbuf_len);
	if (err)
		return err;
	if (cred_rollover_pending(dir, norm))
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_EXISTS, "a rollover of %s is "
				  "unfinished and its old key is still current: run "
				  "'danemsg id rollover %s' first", norm, norm);
	/* The key first: a set without its key no longer loads as a slot. */
	for (size_t f = 0; f < CRED_N_FILES && !err; f++) {
		cred_path(dir, norm, DANEMSG_SLOT_OLD, (danemsg_credential_file)f, path,
			  sizeof(path));
		err = cred_remove_file(path, errbuf, errbuf_len);
	}
	return err ? err : cred_sync_dir(dir, errbuf, errbuf_len);
}

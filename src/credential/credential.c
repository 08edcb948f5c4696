/* An identity's own credentials on disk: create, load, import, roll over; their TLSA records. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <danemsg.h>

#include "credential_internal.h"
#include "error_internal.h"
#include "jose.h"
#include "util.h"

/* Bounds on what is read from disk: files, certificates per file, path lengths. */
#define CRED_FILE_MAX (256 * 1024)
#define CRED_CERTS_MAX 16
#define CRED_PATH_MAX 4096
#define TLSA_RDATA_MAX 65535

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

/* OpenSSL's reason for the latest failure, for messages. It empties OpenSSL's error
 * queue, so that a later message cannot show this stale reason. */
static const char *ossl_reason(void)
{
	const char *r = ERR_reason_error_string(ERR_peek_last_error());
	ERR_clear_error();
	return r ? r : "unknown reason";
}

/* --- key types and names --- */

/* Indexed by danemsg_keytype. */
static const struct {
	danemsg_keytype type;
	const char *name;
	const char *key_usage;      /* of its self-signed certificate */
} keytypes[] = {
	{DANEMSG_KEY_P256, "p256", "critical,digitalSignature,keyAgreement"},
	{DANEMSG_KEY_ED25519, "ed25519", "critical,digitalSignature"},
	{DANEMSG_KEY_RSA2048, "rsa2048", "critical,digitalSignature,keyEncipherment"},
	{DANEMSG_KEY_RSA3072, "rsa3072", "critical,digitalSignature,keyEncipherment"},
};
#define N_KEYTYPES (sizeof(keytypes) / sizeof(keytypes[0]))
#define X25519_KEY_USAGE "critical,keyAgreement"

danemsg_err danemsg_keytype_parse(const char *s, danemsg_keytype *out)
{
	if (!s || !out)
		return DANEMSG_ERR_INVALID_ARG;
	for (size_t i = 0; i < N_KEYTYPES; i++) {
		if (!strcasecmp(s, keytypes[i].name)) {
			*out = keytypes[i].type;
			return DANEMSG_OK;
		}
	}
	return DANEMSG_ERR_INVALID_ARG;
}

const char *danemsg_keytype_name(danemsg_keytype type)
{
	for (size_t i = 0; i < N_KEYTYPES; i++)
		if (keytypes[i].type == type)
			return keytypes[i].name;
	return "unknown";
}

static int keytype_valid(danemsg_keytype type)
{
	return strcmp(danemsg_keytype_name(type), "unknown") != 0;
}

static int name_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

danemsg_err danemsg_credential_name_normalize(const char *name, char *buf, size_t buflen)
{
	if (!name || !buf)
		return DANEMSG_ERR_INVALID_ARG;
	size_t len = strnlen(name, 256);
	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return DANEMSG_ERR_INVALID_ARG;
	size_t label = 0;
	for (size_t i = 0; i < len; i++) {
		if (name[i] == '.') {
			if (label == 0)
				return DANEMSG_ERR_INVALID_ARG;
			label = 0;
		} else if (!name_char_ok(name[i]) || ++label > 63) {
			return DANEMSG_ERR_INVALID_ARG;
		}
	}
	if (label == 0)
		return DANEMSG_ERR_INVALID_ARG;
	if (buflen < len + 1)
		return DANEMSG_ERR_BUFFER_TOO_SMALL;
	for (size_t i = 0; i < len; i++)
		buf[i] = (name[i] >= 'A' && name[i] <= 'Z') ? (char)(name[i] - 'A' + 'a') : name[i];
	buf[len] = '\0';
	return DANEMSG_OK;
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

/* --- paths --- */

static const char *const slot_infix[] = {"", "next.", "old."};
static const char *const file_suffix[] = {
	"key.pem", "crt.pem", "csr.pem", "chain.pem", "x25519.key.pem", "x25519.crt.pem",
};
#define N_FILES (sizeof(file_suffix) / sizeof(file_suffix[0]))

/*
 * Longer names keep their files in a folder of their own, DIR/NAME/, because a file name
 * has at most 255 octets: NAME.next.x25519.key.pem plus a temporary suffix (.tmpXXXXXX)
 * must fit.
 */
#define CRED_FLAT_NAME_MAX 225

/* What separates the name from the rest of its file names: "DIR/NAME." or "DIR/NAME/". */
static char name_separator(const char *norm)
{
	return strlen(norm) > CRED_FLAT_NAME_MAX ? '/' : '.';
}

/* The path of a file of an already normalized name. */
static danemsg_err cred_path(const char *dir, const char *norm, danemsg_credential_slot slot,
			     danemsg_credential_file file, char *buf, size_t buflen)
{
	if ((unsigned)slot > DANEMSG_SLOT_OLD || (unsigned)file >= N_FILES)
		return DANEMSG_ERR_INVALID_ARG;
	int n = snprintf(buf, buflen, "%s/%s%c%s%s", dir, norm, name_separator(norm),
			 slot_infix[slot], file_suffix[file]);
	if (n < 0 || (size_t)n >= buflen)
		return DANEMSG_ERR_BUFFER_TOO_SMALL;
	return DANEMSG_OK;
}

danemsg_err danemsg_credential_path(const char *dir, const char *name,
				    danemsg_credential_slot slot, danemsg_credential_file file,
				    char *buf, size_t buflen)
{
	char norm[DANEMSG_CREDENTIAL_NAME_MAX];
	if (!dir || !*dir || !buf)
		return DANEMSG_ERR_INVALID_ARG;
	danemsg_err err = danemsg_credential_name_normalize(name, norm, sizeof(norm));
	if (err)
		return err;
	return cred_path(dir, norm, slot, file, buf, buflen);
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

static int path_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/*
 * While NAME.rollover exists, NAME.old.* is the complete previous set and loads as the
 * current slot, so that readers see the previous key until the one atomic commit (the
 * marker's removal) and the new one after it, never a mix of the two.
 */
static void marker_path(const char *dir, const char *norm, char *buf, size_t buflen)
{
	snprintf(buf, buflen, "%s/%s%crollover", dir, norm, name_separator(norm));
}

static int rollover_pending(const char *dir, const char *norm)
{
	char marker[CRED_PATH_MAX];
	marker_path(dir, norm, marker, sizeof(marker));
	return path_exists(marker);
}

/* new and import change files that an unfinished rollover is still copying. */
static danemsg_err refuse_if_rollover_pending(const char *dir, const char *norm,
					      char *errbuf, size_t errbuf_len)
{
	if (!rollover_pending(dir, norm))
		return DANEMSG_OK;
	return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_EXISTS, "a rollover of %s is unfinished: "
			  "run 'danemsg id rollover %s' to finish it " "first", norm, norm);
}

/* Like `mkdir -p`, new folders 0700. */
static danemsg_err make_dir(const char *dir, char *errbuf, size_t errbuf_len)
{
	char path[CRED_PATH_MAX];
	struct stat st;
	if (stat(dir, &st) == 0)
		return S_ISDIR(st.st_mode) ? DANEMSG_OK :
		       errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_IO, "%s is not a directory", dir);
	snprintf(path, sizeof(path), "%s", dir);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
			return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_IO,
					  "cannot create %s: %s", path, strerror(errno));
		*p = '/';
	}
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_IO, "cannot create %s: %s", path,
				  strerror(errno));
	return DANEMSG_OK;
}

/* --- reading files (bounded; key files must be private) --- */

static int no_password(char *buf, int size, int rwflag, void *u)
{
	return -1;      /* never prompt: encrypted key files are not supported */
}

/* Reads a whole file into a new memory BIO (secure memory for secrets). */
static danemsg_err read_file(const char *path, int secret, BIO **out,
			     char *errbuf, size_t errbuf_len)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errbuf_set(errbuf, errbuf_len, errno == ENOENT ? DANEMSG_ERR_NOT_FOUND :
				  DANEMSG_ERR_IO, "cannot open %s: %s", path, strerror(errno));
	danemsg_err err = DANEMSG_OK;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		err = errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_IO, "%s is not a regular file",
				 path);
	else if (st.st_size > CRED_FILE_MAX)
		err = errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_TOO_LARGE,
				 "%s is larger than %d bytes", path, CRED_FILE_MAX);
	else if (secret && (st.st_mode & 077))
		err = errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_IO, "private key %s is accessible "
				 "by others (mode %04o): run 'chmod 600 %s'", path,
				 (unsigned)(st.st_mode & 07777), path);
	if (err) {
		close(fd);
		return err;
	}
	BIO *bio = BIO_new(secret ? BIO_s_secmem() : BIO_s_mem());
	unsigned char chunk[4096];
	size_t total = 0;
	ssize_t n;
	while (bio && (n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || (total += (size_t)n) > CRED_FILE_MAX ||
		    BIO_write(bio, chunk, (int)n) != (int)n) {
			err = errbuf_set(errbuf, errbuf_len, n < 0 ? DANEMSG_ERR_IO :
					 DANEMSG_ERR_TOO_LARGE, "cannot read %s", path);
			break;
		}
	}
	OPENSSL_cleanse(chunk, sizeof(chunk));
	close(fd);
	if (!bio)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_NOMEM, "out of memory");
	if (err) {
		BIO_free(bio);
		return err;
	}
	*out = bio;
	return DANEMSG_OK;
}

static danemsg_err load_key(const char *path, EVP_PKEY **out, char *errbuf, size_t errbuf_len)
{
	BIO *bio;
	danemsg_err err = read_file(path, 1, &bio, errbuf, errbuf_len);
	if (err)
		return err;
	*out = PEM_read_bio_PrivateKey(bio, NULL, no_password, NULL);
	BIO_free(bio);
	if (!*out)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_MALFORMED,
				  "%s holds no usable private key (PEM, unencrypted): %s", path,
				  ossl_reason());
	return DANEMSG_OK;
}

/* All PEM certificates of a file (at least one, at most CRED_CERTS_MAX). */
static danemsg_err load_certs(const char *path, STACK_OF(X509) **out,
			      char *errbuf, size_t errbuf_len)
{
	BIO *bio;
	danemsg_err err = read_file(path, 0, &bio, errbuf, errbuf_len);
	if (err)
		return err;
	STACK_OF(X509) *certs = sk_X509_new_null();
	X509 *x;
	while (certs && (x = PEM_read_bio_X509(bio, NULL, no_password, NULL)) != NULL) {
		if (sk_X509_num(certs) >= CRED_CERTS_MAX || !sk_X509_push(certs, x)) {
			X509_free(x);
			err = errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_TOO_LARGE,
					 "%s: more than %d certificates", path, CRED_CERTS_MAX);
			break;
		}
	}
	BIO_free(bio);
	if (!certs)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_NOMEM, "out of memory");
	if (!err && sk_X509_num(certs) == 0)
		err = errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_MALFORMED,
				 "%s holds no PEM certificate: %s", path, ossl_reason());
	if (err) {
		sk_X509_pop_free(certs, X509_free);
		return err;
	}
	ERR_clear_error();      /* the expected "no start line" at the end of the file */
	*out = certs;
	return DANEMSG_OK;
}

/* --- writing files --- */

enum write_mode { WRITE_REPLACE, WRITE_EXCLUSIVE };

/*
 * Writes path atomically: a temporary file beside it, then rename (replace) or
 * link (exclusive: an existing path is never replaced, as with O_EXCL).
 * Where hard links are not supported, exclusive falls back to O_EXCL on path.
 */
static danemsg_err write_file(const char *path, const void *data, size_t len, mode_t mode,
			      enum write_mode how, char *errbuf, size_t errbuf_len)
{
	char tmp[CRED_PATH_MAX];
	if (snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", path) >= (int)sizeof(tmp))
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_INVALID_ARG, "path too long: %s",
				  path);
	int fd = mkstemp(tmp);
	if (fd < 0)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_IO, "cannot create %s: %s", tmp,
				  strerror(errno));
	if (fchmod(fd, mode) != 0 || util_write_all(fd, data, len) != 0 || fsync(fd) != 0) {
		int e = errno;
		close(fd);
		unlink(tmp);
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_IO, "cannot write %s: %s", tmp,
				  strerror(e));
	}
	close(fd);
	int rc = how == WRITE_REPLACE ? rename(tmp, path) : link(tmp, path);
	int e = errno;
	if (how == WRITE_EXCLUSIVE || rc != 0)
		unlink(tmp);
	if (rc == 0)
		return DANEMSG_OK;
	if (e == EEXIST)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_EXISTS,
				  "%s exists (use --force to replace it)", path);
	if (how == WRITE_EXCLUSIVE && (e == EPERM || e == EOPNOTSUPP || e == ENOSYS)) {
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
		if (fd < 0)
			return errbuf_set(errbuf, errbuf_len, errno == EEXIST ? DANEMSG_ERR_EXISTS :
					  DANEMSG_ERR_IO, "cannot create %s: %s", path,
					  strerror(errno));
		rc = util_write_all(fd, data, len) == 0 && fsync(fd) == 0 ? 0 : -1;
		e = errno;
		close(fd);
		if (rc == 0)
			return DANEMSG_OK;
		unlink(path);
	}
	return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_IO, "cannot write %s: %s", path,
			  strerror(e));
}

/* Writes what a memory BIO holds. */
static danemsg_err write_bio(const char *path, BIO *bio, mode_t mode, enum write_mode how,
			     char *errbuf, size_t errbuf_len)
{
	char *data;
	long len = BIO_get_mem_data(bio, &data);
	if (len <= 0)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_CRYPTO, "cannot encode %s", path);
	return write_file(path, data, (size_t)len, mode, how, errbuf, errbuf_len);
}

static danemsg_err write_key(const char *path, EVP_PKEY *key, enum write_mode how,
			     char *errbuf, size_t errbuf_len)
{
	BIO *bio = BIO_new(BIO_s_secmem());
	danemsg_err err;
	if (!bio || !PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL))
		err = errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_CRYPTO,
				 "cannot encode the key: %s", ossl_reason());
	else
		err = write_bio(path, bio, 0600, how, errbuf, errbuf_len);
	BIO_free(bio);
	return err;
}

/* Writes certificates (and, if req, a CSR) as PEM, 0644. */
static danemsg_err write_certs(const char *path, X509 *first, STACK_OF(X509) *more,
			       X509_REQ *req, char *errbuf, size_t errbuf_len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int ok = bio != NULL;
	if (ok && first)
		ok = PEM_write_bio_X509(bio, first);
	for (int i = 0; ok && i < sk_X509_num(more); i++)
		ok = PEM_write_bio_X509(bio, sk_X509_value(more, i));
	if (ok && req)
		ok = PEM_write_bio_X509_REQ(bio, req);
	danemsg_err err = ok ? write_bio(path, bio, 0644, WRITE_REPLACE, errbuf, errbuf_len) :
			  errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_CRYPTO, "cannot encode %s",
				     path);
	BIO_free(bio);
	return err;
}

/* Removes a file if it exists. */
static danemsg_err remove_file(const char *path, char *errbuf, size_t errbuf_len)
{
	if (unlink(path) != 0 && errno != ENOENT)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_IO, "cannot remove %s: %s", path,
				  strerror(errno));
	return DANEMSG_OK;
}

/* --- keys, certificates, CSRs --- */

static EVP_PKEY *generate_key(danemsg_keytype type)
{
	switch (type) {
	case DANEMSG_KEY_P256: return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	case DANEMSG_KEY_ED25519: return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	case DANEMSG_KEY_RSA2048: return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	case DANEMSG_KEY_RSA3072: return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
	}
	return NULL;
}

/* The digest to sign with: none for EdDSA (it hashes internally), else SHA-256. */
static const EVP_MD *sign_md(EVP_PKEY *key)
{
	return EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448") ? NULL : EVP_sha256();
}

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	int ok = ext && X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

/* The longest commonName (RFC 5280 ub-common-name). */
#define CN_MAX 64

/*
 * The subject: CN=name, which the reference system reads, when name fits in a CN; else
 * the name's labels as domainComponents (RFC 4519; DC=net,DC=example,... in DER order),
 * a non-empty name that a self-signed certificate's issuer needs. Either way the name that
 * counts is the subjectAltName's dNSName.
 */
static X509_NAME *subject_name(const char *name)
{
	X509_NAME *n = X509_NAME_new();
	int ok = n != NULL;
	size_t len = strlen(name);
	if (ok && len <= CN_MAX)
		ok = X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
						(const unsigned char *)name, -1, -1, 0);
	for (size_t end = len; ok && len > CN_MAX && end > 0;) {
		size_t start = end;
		while (start > 0 && name[start - 1] != '.')
			start--;
		ok = X509_NAME_add_entry_by_txt(n, "DC", MBSTRING_ASC,
						(const unsigned char *)name + start,
						(int)(end - start), -1, 0);
		end = start > 0 ? start - 1 : 0;
	}
	if (!ok) {
		X509_NAME_free(n);
		return NULL;
	}
	return n;
}

/*
 * A certificate for subject_key, subject_name(name), SAN dNSName = name, end entity, valid
 * from now-1h for days days, random positive 128-bit serial. Self-signed by
 * subject_key when issuer is NULL; else issued by issuer (cert + key) with an
 * authorityKeyIdentifier.
 */
static X509 *make_cert(const char *name, EVP_PKEY *subject_key, const char *key_usage,
		       unsigned days, X509 *issuer, EVP_PKEY *issuer_key)
{
	char san[DANEMSG_CREDENTIAL_NAME_MAX + 8];
	X509 *x = X509_new();
	X509_NAME *subject = subject_name(name);
	BIGNUM *serial = BN_new();
	X509V3_CTX ctx;
	int ok = x && subject && serial;

	snprintf(san, sizeof(san), "DNS:%s", name);
	ok = ok && X509_set_version(x, X509_VERSION_3);
	ok = ok && BN_rand(serial, 128, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY);
	ok = ok && BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x));
	ok = ok && X509_set_subject_name(x, subject);
	ok = ok && X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : subject);
	ok = ok && X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	ok = ok && X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, NULL);
	ok = ok && X509_set_pubkey(x, subject_key);
	if (ok) {
		X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
		ok = add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") &&
		     add_ext(x, &ctx, NID_key_usage, key_usage) &&
		     add_ext(x, &ctx, NID_subject_key_identifier, "hash") &&
		     (!issuer || add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always")) &&
		     add_ext(x, &ctx, NID_subject_alt_name, san);
	}
	EVP_PKEY *signer = issuer ? issuer_key : subject_key;
	ok = ok && X509_sign(x, signer, sign_md(signer)) > 0;
	BN_free(serial);
	X509_NAME_free(subject);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* A CSR: subject_name(name), requested extension subjectAltName dNSName=name. */
static X509_REQ *make_csr(const char *name, EVP_PKEY *key)
{
	char san[DANEMSG_CREDENTIAL_NAME_MAX + 8];
	X509_REQ *req = X509_REQ_new();
	X509_NAME *subject = subject_name(name);
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	X509_EXTENSION *ext = NULL;
	int ok = req && subject && exts;

	snprintf(san, sizeof(san), "DNS:%s", name);
	ok = ok && X509_REQ_set_version(req, X509_REQ_VERSION_1);
	ok = ok && X509_REQ_set_subject_name(req, subject);
	ok = ok && X509_REQ_set_pubkey(req, key);
	ok = ok && (ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san)) != NULL;
	ok = ok && sk_X509_EXTENSION_push(exts, ext);
	if (!ok)
		X509_EXTENSION_free(ext);
	ok = ok && X509_REQ_add_extensions(req, exts);
	ok = ok && X509_REQ_sign(req, key, sign_md(key)) > 0;
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_NAME_free(subject);
	if (!ok) {
		X509_REQ_free(req);
		return NULL;
	}
	return req;
}

/* Does the key match the certificate's public key? */
static int key_matches(EVP_PKEY *key, X509 *cert)
{
	EVP_PKEY *pub = X509_get0_pubkey(cert);
	return pub && EVP_PKEY_eq(key, pub) == 1;
}

/* The signing key types we use (or read from the reference system: RSA >= 2048). */
static int sign_key_supported(EVP_PKEY *key)
{
	char group[32];
	if (EVP_PKEY_is_a(key, "ED25519"))
		return 1;
	if (EVP_PKEY_is_a(key, "RSA"))
		return EVP_PKEY_get_bits(key) >= 2048 && EVP_PKEY_get_bits(key) <= 16384;
	if (EVP_PKEY_is_a(key, "EC"))
		return EVP_PKEY_get_group_name(key, group, sizeof(group), NULL) &&
		       (!strcmp(group, "prime256v1") || !strcmp(group, "P-256"));
	return 0;
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
	const char *usage = keytypes[type].key_usage;
	n->key = generate_key(type);
	n->cert = n->key ? make_cert(norm, n->key, usage, days, NULL, NULL) : NULL;
	n->csr = n->cert ? make_csr(norm, n->key) : NULL;
	if (n->csr && type == DANEMSG_KEY_ED25519) {
		n->enc_key = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
		if (n->enc_key)
			n->enc_cert = make_cert(norm, n->enc_key, X25519_KEY_USAGE, days, n->cert,
						n->key);
		if (!n->enc_cert)
			return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_CRYPTO,
					  "cannot make the X25519 key and certificate: %s",
					  ossl_reason());
	}
	if (!n->csr)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_CRYPTO,
				  "cannot make the %s key and certificate: %s",
				  danemsg_keytype_name(type), ossl_reason());
	return DANEMSG_OK;
}

danemsg_err danemsg_credential_new(const char *dir, const char *name, danemsg_keytype type,
				   unsigned days, unsigned flags, char *errbuf, size_t errbuf_len)
{
	char norm[DANEMSG_CREDENTIAL_NAME_MAX];
	char path[N_FILES][CRED_PATH_MAX], current_key[CRED_PATH_MAX];
	danemsg_err err = check_dir_name(dir, name, norm, errbuf, errbuf_len);
	if (err)
		return err;
	if (!keytype_valid(type) || days > DANEMSG_CREDENTIAL_MAX_DAYS ||
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
	for (size_t f = 0; f < N_FILES; f++)
		cred_path(dir, norm, slot, (danemsg_credential_file)f, path[f], CRED_PATH_MAX);
	cred_path(dir, norm, DANEMSG_SLOT_CURRENT, DANEMSG_FILE_KEY, current_key,
		  sizeof(current_key));
	int ed = type == DANEMSG_KEY_ED25519;

	if (slot == DANEMSG_SLOT_NEXT && !path_exists(current_key))
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_NOT_FOUND,
				  "%s has no current key (%s): create it without --next first",
				  norm, current_key);
	if (!(flags & DANEMSG_CREDENTIAL_FORCE)) {
		const char *existing = path_exists(path[DANEMSG_FILE_KEY]) ?
				       path[DANEMSG_FILE_KEY] :
				       ed && path_exists(path[DANEMSG_FILE_ENC_KEY]) ?
				       path[DANEMSG_FILE_ENC_KEY] : NULL;
		if (existing)
			return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_EXISTS,
					  "%s exists (use --force to replace it)", existing);
	}
	err = make_dir(dir, errbuf, errbuf_len);
	if (!err && name_separator(norm) == '/') {
		char own[CRED_PATH_MAX];
		snprintf(own, sizeof(own), "%s/%s", dir, norm);
		err = make_dir(own, errbuf, errbuf_len);
	}
	if (err)
		return err;

	struct new_credential n = {0};
	enum write_mode how = (flags & DANEMSG_CREDENTIAL_FORCE) ? WRITE_REPLACE : WRITE_EXCLUSIVE;
	err = new_credential_make(&n, norm, type, days, errbuf, errbuf_len);
	if (!err)
		err = write_key(path[DANEMSG_FILE_KEY], n.key, how, errbuf, errbuf_len);
	if (!err && ed)
		err = write_key(path[DANEMSG_FILE_ENC_KEY], n.enc_key, how, errbuf, errbuf_len);
	if (!err)
		err = write_certs(path[DANEMSG_FILE_CERT], n.cert, NULL, NULL, errbuf, errbuf_len);
	if (!err)
		err = write_certs(path[DANEMSG_FILE_CSR], NULL, NULL, n.csr, errbuf, errbuf_len);
	if (!err && ed)
		err = write_certs(path[DANEMSG_FILE_ENC_CERT], n.enc_cert, NULL, NULL, errbuf,
				  errbuf_len);
	/* What belonged to a replaced key: its CA chain, its X25519 pair. */
	if (!err)
		err = remove_file(path[DANEMSG_FILE_CHAIN], errbuf, errbuf_len);
	if (!err && !ed)
		err = remove_file(path[DANEMSG_FILE_ENC_KEY], errbuf, errbuf_len);
	if (!err && !ed)
		err = remove_file(path[DANEMSG_FILE_ENC_CERT], errbuf, errbuf_len);
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
	danemsg_err err = load_key(key_path, &c->enc_key, errbuf, errbuf_len);
	if (!err)
		err = load_certs(cert_path, &certs, errbuf, errbuf_len);
	if (err)
		return err;
	c->enc_cert = sk_X509_shift(certs);
	sk_X509_pop_free(certs, X509_free);
	if (!EVP_PKEY_is_a(c->enc_key, "X25519"))
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_UNSUPPORTED,
				  "%s is not an X25519 key", key_path);
	if (!key_matches(c->enc_key, c->enc_cert))
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
	char path[N_FILES][CRED_PATH_MAX];
	STACK_OF(X509) *certs = NULL, *chain = NULL;
	for (size_t f = 0; f < N_FILES; f++)
		cred_path(dir, c->name, slot, (danemsg_credential_file)f, path[f], CRED_PATH_MAX);

	danemsg_err err = load_key(path[DANEMSG_FILE_KEY], &c->sign_key, errbuf, errbuf_len);
	if (!err)
		err = load_certs(path[DANEMSG_FILE_CERT], &certs, errbuf, errbuf_len);
	if (err)
		return err;
	c->sign_cert = sk_X509_shift(certs);
	c->chain = certs;       /* certificates after the first one in NAME.crt.pem */
	if (!sign_key_supported(c->sign_key))
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_UNSUPPORTED,
				  "%s: unsupported key type (P-256, Ed25519 or RSA)", path[0]);
	if (!key_matches(c->sign_key, c->sign_cert))
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_KEY_MISMATCH,
				  "%s is not the certificate of the key %s",
				  path[DANEMSG_FILE_CERT], path[DANEMSG_FILE_KEY]);

	err = load_certs(path[DANEMSG_FILE_CHAIN], &chain, errbuf, errbuf_len);
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
		int pending = rollover_pending(dir, norm);
		err = load_slot_view(dir, norm, slot, pending, out, errbuf, errbuf_len);
		if (!err || rollover_pending(dir, norm) == pending)
			break;
	}
	return err;
}

danemsg_err danemsg_credential_load(const char *dir, const char *name,
				    danemsg_credential **out)
{
	return danemsg_credential_load_slot(dir, name, DANEMSG_SLOT_CURRENT, out, NULL, 0);
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
	int slots = path_exists(next_key) ? 2 : 1;
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

/* --- TLSA records --- */

danemsg_err danemsg_tlsa_rdata(X509 *cert, uint8_t usage, uint8_t selector, uint8_t matching,
			       uint8_t *buf, size_t buflen, size_t *outlen)
{
	if (!cert || !outlen || (!buf && buflen) || usage > DANEMSG_TLSA_DANE_EE ||
	    selector > DANEMSG_TLSA_SEL_SPKI || matching > DANEMSG_TLSA_MATCH_SHA512)
		return DANEMSG_ERR_INVALID_ARG;
	unsigned char *der = NULL;
	int der_len = selector == DANEMSG_TLSA_SEL_CERT ? i2d_X509(cert, &der) :
		      i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
	if (der_len <= 0) {
		ERR_clear_error();
		return DANEMSG_ERR_CRYPTO;
	}
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int digest_len = 0;
	const unsigned char *data = der;
	size_t data_len = (size_t)der_len;
	if (matching != DANEMSG_TLSA_MATCH_FULL) {
		const EVP_MD *md = matching == DANEMSG_TLSA_MATCH_SHA256 ? EVP_sha256() :
				   EVP_sha512();
		if (!EVP_Digest(der, (size_t)der_len, digest, &digest_len, md, NULL)) {
			OPENSSL_free(der);
			ERR_clear_error();
			return DANEMSG_ERR_CRYPTO;
		}
		data = digest;
		data_len = digest_len;
	}
	danemsg_err err = DANEMSG_OK;
	*outlen = 3 + data_len;
	if (*outlen > TLSA_RDATA_MAX) {
		err = DANEMSG_ERR_TOO_LARGE;
	} else if (buflen < *outlen) {
		err = DANEMSG_ERR_BUFFER_TOO_SMALL;
	} else {
		buf[0] = usage;
		buf[1] = selector;
		buf[2] = matching;
		memcpy(buf + 3, data, data_len);
	}
	OPENSSL_free(der);
	return err;
}

danemsg_err danemsg_tlsa_format_line(const char *name, uint32_t ttl, const uint8_t *rdata,
				     size_t rdata_len, char *buf, size_t buflen, size_t *outlen)
{
	char norm[DANEMSG_CREDENTIAL_NAME_MAX];
	if (!rdata || rdata_len < 4 || rdata_len > TLSA_RDATA_MAX || (!buf && buflen) ||
	    danemsg_credential_name_normalize(name, norm, sizeof(norm)))
		return DANEMSG_ERR_INVALID_ARG;
	char prefix[DANEMSG_CREDENTIAL_NAME_MAX + 64];
	int plen = snprintf(prefix, sizeof(prefix), "%s. %u IN TLSA %u %u %u ", norm,
			    (unsigned)ttl, rdata[0], rdata[1], rdata[2]);
	size_t need = (size_t)plen + 2 * (rdata_len - 3) + 1;
	if (buflen < need) {
		if (outlen)
			*outlen = need;
		return DANEMSG_ERR_BUFFER_TOO_SMALL;
	}
	memcpy(buf, prefix, (size_t)plen);
	danemsg_hex_encode(rdata + 3, rdata_len - 3, buf + plen, buflen - (size_t)plen);
	if (outlen)
		*outlen = need - 1;
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
	*out = make_csr(c->name, c->sign_key);
	if (!*out)
		err = errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_CRYPTO, "cannot make the CSR: %s",
				 ossl_reason());
	danemsg_credential_free(c);
	return err;
}

/* Does the certificate's subjectAltName hold dNSName name (exactly, any case)? */
static int san_names(X509 *cert, const char *name)
{
	GENERAL_NAMES *sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	size_t len = strlen(name);
	int found = 0;
	for (int i = 0; !found && i < sk_GENERAL_NAME_num(sans); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);
		if (gn->type != GEN_DNS)
			continue;
		const unsigned char *d = ASN1_STRING_get0_data(gn->d.dNSName);
		size_t dlen = (size_t)ASN1_STRING_length(gn->d.dNSName);
		if (dlen == len + 1 && d[len] == '.')
			dlen = len;
		found = dlen == len && !strncasecmp((const char *)d, name, len) &&
			!memchr(d, '\0', dlen);
	}
	GENERAL_NAMES_free(sans);
	return found;
}

/* Checks an imported certificate and chain against the key and the name. */
static danemsg_err import_check(const char *norm, EVP_PKEY *key, const char *key_path,
				X509 *ee, STACK_OF(X509) *chain, unsigned flags,
				char *errbuf, size_t errbuf_len)
{
	if (!key_matches(key, ee))
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_KEY_MISMATCH,
				  "the certificate is for another key than %s", key_path);
	if (!san_names(ee, norm))
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

/* Copies path to path.bak, if path exists. */
static danemsg_err backup_file(const char *path, char *errbuf, size_t errbuf_len)
{
	char bak[CRED_PATH_MAX];
	BIO *bio;
	snprintf(bak, sizeof(bak), "%s.bak", path);
	danemsg_err err = read_file(path, 0, &bio, errbuf, errbuf_len);
	if (err == DANEMSG_ERR_NOT_FOUND)
		return DANEMSG_OK;
	if (err)
		return err;
	char *data;
	long len = BIO_get_mem_data(bio, &data);
	err = write_file(bak, data, len > 0 ? (size_t)len : 0, 0644, WRITE_REPLACE, errbuf,
			 errbuf_len);
	BIO_free(bio);
	return err;
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
	err = load_key(key_path, &key, errbuf, errbuf_len);
	if (!err)
		err = load_certs(cert_file, &certs, errbuf, errbuf_len);
	if (!err && chain_file)
		err = load_certs(chain_file, &more, errbuf, errbuf_len);
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
		err = backup_file(cert_path, errbuf, errbuf_len);
	if (!err)
		err = backup_file(chain_path, errbuf, errbuf_len);
	if (!err)
		err = write_certs(cert_path, ee, NULL, NULL, errbuf, errbuf_len);
	if (!err)
		err = sk_X509_num(certs) > 0 ?
		      write_certs(chain_path, NULL, certs, NULL, errbuf, errbuf_len) :
		      remove_file(chain_path, errbuf, errbuf_len);
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

/* 1 when a and b both exist with the same content (the same inode, or equal bytes). */
static int same_file(const char *a, const char *b, int secret)
{
	struct stat sa, sb;
	if (stat(a, &sa) != 0 || stat(b, &sb) != 0)
		return 0;
	if (sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino)
		return 1;
	if (sa.st_size != sb.st_size)
		return 0;
	BIO *ba = NULL, *bb = NULL;
	int same = 0;
	if (!read_file(a, secret, &ba, NULL, 0) && !read_file(b, secret, &bb, NULL, 0)) {
		char *da, *db;
		long la = BIO_get_mem_data(ba, &da), lb = BIO_get_mem_data(bb, &db);
		same = la == lb && (la == 0 || CRYPTO_memcmp(da, db, (size_t)la) == 0);
	}
	BIO_free(ba);
	BIO_free(bb);
	return same;
}

/* Makes dst a copy of src: a hard link (where links work, else a copy), replacing dst or not. */
static danemsg_err copy_file(const char *src, const char *dst, int secret, enum write_mode how,
			     char *errbuf, size_t errbuf_len)
{
	char tmp[CRED_PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s.new", dst);
	/* A stale tmp is an earlier run's link to the same source. */
	if (how == WRITE_REPLACE && unlink(tmp) != 0 && errno != ENOENT)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_IO, "cannot remove %s: %s", tmp,
				  strerror(errno));
	if (link(src, how == WRITE_REPLACE ? tmp : dst) == 0) {
		if (how == WRITE_EXCLUSIVE || rename(tmp, dst) == 0)
			return DANEMSG_OK;
		int e = errno;
		unlink(tmp);
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_IO, "cannot rename %s to %s: %s",
				  tmp, dst, strerror(e));
	}
	if (errno == EEXIST)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_EXISTS, "%s exists", dst);
	if (errno != EPERM && errno != EOPNOTSUPP && errno != ENOSYS && errno != EXDEV)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_IO, "cannot link %s to %s: %s",
				  src, dst, strerror(errno));
	BIO *bio;
	struct stat st;
	danemsg_err err = read_file(src, secret, &bio, errbuf, errbuf_len);
	if (err)
		return err;
	if (stat(src, &st) != 0)
		st.st_mode = secret ? 0600 : 0644;
	err = write_bio(dst, bio, st.st_mode & 0777, how, errbuf, errbuf_len);
	BIO_free(bio);
	return err;
}

/* Removes path, but only when keep holds the same content: never the last copy of a key. */
static danemsg_err remove_copy(const char *path, const char *keep, int secret,
			       char *errbuf, size_t errbuf_len)
{
	if (!path_exists(path))
		return DANEMSG_OK;
	if (!same_file(path, keep, secret))
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_EXISTS,
				  "%s differs from %s: not removed (move it away by hand)", path,
				  keep);
	return remove_file(path, errbuf, errbuf_len);
}

/* Makes the renames and links so far durable before the next step depends on them. */
static danemsg_err sync_dir(const char *dir, char *errbuf, size_t errbuf_len)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = fd >= 0 ? fsync(fd) : -1;
	int e = errno;
	if (fd >= 0)
		close(fd);
	if (rc != 0 && e != EINVAL)     /* EINVAL: the file system cannot sync folders */
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_IO, "cannot sync %s: %s", dir,
				  strerror(e));
	return DANEMSG_OK;
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
	for (size_t f = 0; f < N_FILES && !err; f++) {
		slot_paths(dir, norm, f, &p);
		err = step(&p, file_is_key(f), errbuf, errbuf_len);
	}
	return err;
}

/* Step 1 for one file. */
static danemsg_err keep_current_file(const struct slot_paths *p, int secret,
				     char *errbuf, size_t errbuf_len)
{
	if (!path_exists(p->cur) || path_exists(p->old))
		return DANEMSG_OK;
	return copy_file(p->cur, p->old, secret, WRITE_EXCLUSIVE, errbuf, errbuf_len);
}

/*
 * Step 1: NAME.old.* becomes a copy of NAME.* (NAME.* unchanged). An old file that is
 * not a copy of the current one is an earlier rollover's key: only --delete-old removes it.
 */
static danemsg_err rollover_keep_current(const char *dir, const char *norm,
					 char *errbuf, size_t errbuf_len)
{
	struct slot_paths p;
	for (size_t f = 0; f < N_FILES; f++) {
		slot_paths(dir, norm, f, &p);
		if (path_exists(p.old) && !same_file(p.old, p.cur, file_is_key(f)))
			return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_EXISTS, "%s keeps the "
					  "key an earlier rollover retired: once no message " "for "
					  "it can arrive, delete it with 'danemsg id rollover %s "
					  "--delete-old', then roll over", p.old, norm);
	}
	danemsg_err err = rollover_each_file(dir, norm, keep_current_file, errbuf, errbuf_len);
	return err ? err : sync_dir(dir, errbuf, errbuf_len);
}

/* Step 3 (marker set): NAME.* becomes a copy of NAME.next.*; what next lacks goes (kept in old). */
static danemsg_err install_next_file(const struct slot_paths *p, int secret,
				     char *errbuf, size_t errbuf_len)
{
	if (!path_exists(p->next))
		return remove_copy(p->cur, p->old, secret, errbuf, errbuf_len);
	if (same_file(p->next, p->cur, secret))
		return DANEMSG_OK;
	return copy_file(p->next, p->cur, secret, WRITE_REPLACE, errbuf, errbuf_len);
}

/* Step 5 (committed): the next slot's files go, each only if NAME.* holds the same. */
static danemsg_err drop_next_file(const struct slot_paths *p, int secret,
				  char *errbuf, size_t errbuf_len)
{
	return remove_copy(p->next, p->cur, secret, errbuf, errbuf_len);
}

/* After a commit that was interrupted: every next file left is a copy of the current one. */
static int next_is_leftover(const char *dir, const char *norm)
{
	struct slot_paths p;
	int any = 0;
	for (size_t f = 0; f < N_FILES; f++) {
		slot_paths(dir, norm, f, &p);
		if (!path_exists(p.next))
			continue;
		if (!same_file(p.next, p.cur, file_is_key(f)))
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
	return sync_dir(dir, errbuf, errbuf_len);
}

danemsg_err danemsg_credential_rollover(const char *dir, const char *name,
					char *errbuf, size_t errbuf_len)
{
	char norm[DANEMSG_CREDENTIAL_NAME_MAX], next[CRED_PATH_MAX], marker[CRED_PATH_MAX];
	danemsg_err err = check_dir_name(dir, name, norm, errbuf, errbuf_len);
	if (err)
		return err;
	marker_path(dir, norm, marker, sizeof(marker));
	cred_path(dir, norm, DANEMSG_SLOT_NEXT, DANEMSG_FILE_KEY, next, sizeof(next));
	int pending = path_exists(marker);
	if (!pending && next_is_leftover(dir, norm))
		return rollover_each_file(dir, norm, drop_next_file, errbuf, errbuf_len);
	if (!path_exists(next))
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
		err = sync_dir(dir, errbuf, errbuf_len);
	if (!err)
		err = remove_file(marker, errbuf, errbuf_len);       /* the commit */
	if (!err)
		err = sync_dir(dir, errbuf, errbuf_len);
	return err ? err : rollover_each_file(dir, norm, drop_next_file, errbuf, errbuf_len);
}

danemsg_err danemsg_credential_delete_old(const char *dir, const char *name,
					  char *errbuf, size_t errbuf_len)
{
	char norm[DANEMSG_CREDENTIAL_NAME_MAX], path[CRED_PATH_MAX];
	danemsg_err err = check_dir_name(dir, name, norm, errbuf, errbuf_len);
	if (err)
		return err;
	if (rollover_pending(dir, norm))
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_EXISTS, "a rollover of %s is "
				  "unfinished and its old key is still current: run "
				  "'danemsg id rollover %s' first", norm, norm);
	/* The key first: a set without its key no longer loads as a slot. */
	for (size_t f = 0; f < N_FILES && !err; f++) {
		cred_path(dir, norm, DANEMSG_SLOT_OLD, (danemsg_credential_file)f, path,
			  sizeof(path));
		err = remove_file(path, errbuf, errbuf_len);
	}
	return err ? err : sync_dir(dir, errbuf, errbuf_len);
}

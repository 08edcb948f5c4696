/* An identity's files: their paths, bounded reads (key files must be private), atomic
 * writes, and the copies, links and syncs that a rollover is made of. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <danemsg.h>

#include "credential_files.h"
#include "credential_keys.h"
#include "error_internal.h"
#include "util.h"

#define CRED_FILE_MAX (256 * 1024)

/* --- paths --- */

static const char *const slot_infix[] = {"", "next.", "old."};
static const char *const file_suffix[] = {
	"key.pem", "crt.pem", "csr.pem", "chain.pem", "x25519.key.pem", "x25519.crt.pem",
};
_Static_assert(sizeof(file_suffix) / sizeof(file_suffix[0]) == CRED_N_FILES, "a suffix a file");

/*
 * Longer names keep their files in a folder of their own, DIR/NAME/, because a file name
 * has at most 255 octets: NAME.next.x25519.key.pem plus a temporary suffix (.tmpXXXXXX)
 * must fit.
 */
#define CRED_FLAT_NAME_MAX 225

/* What separates the name from the rest of its file names: "DIR/NAME." or "DIR/NAME/". */
char cred_name_separator(const char *norm)
{
	return strlen(norm) > CRED_FLAT_NAME_MAX ? '/' : '.';
}

/* The path of a file of an already normalized name. */
danemsg_err cred_path(const char *dir, const char *norm, danemsg_credential_slot slot,
		      danemsg_credential_file file, char *buf, size_t buflen)
{
	if ((unsigned)slot > DANEMSG_SLOT_OLD || (unsigned)file >= CRED_N_FILES)
		return DANEMSG_ERR_INVALID_ARG;
	int n = snprintf(buf, buflen, "%s/%s%c%s%s", dir, norm, cred_name_separator(norm),
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

int cred_path_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/*
 * While NAME.rollover exists, NAME.old.* is the complete previous set and loads as the
 * current slot, so that readers see the previous key until the one atomic commit (the
 * marker's removal) and the new one after it, never a mix of the two.
 */
void cred_marker_path(const char *dir, const char *norm, char *buf, size_t buflen)
{
	snprintf(buf, buflen, "%s/%s%crollover", dir, norm, cred_name_separator(norm));
}

int cred_rollover_pending(const char *dir, const char *norm)
{
	char marker[CRED_PATH_MAX];
	cred_marker_path(dir, norm, marker, sizeof(marker));
	return cred_path_exists(marker);
}

/* Like `mkdir -p`, new folders 0700. */
danemsg_err cred_make_dir(const char *dir, char *errbuf, size_t errbuf_len)
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
		err = errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_KEY_PERMISSIONS,
				 "private key %s is accessible by others (mode %04o): run "
				 "'chmod 600 %s'", path, (unsigned)(st.st_mode & 07777), path);
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

danemsg_err cred_load_key(const char *path, EVP_PKEY **out, char *errbuf, size_t errbuf_len)
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
				  cred_ossl_reason());
	return DANEMSG_OK;
}

/* All PEM certificates of a file (at least one, at most CRED_CERTS_MAX). */
danemsg_err cred_load_certs(const char *path, STACK_OF(X509) **out,
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
				 "%s holds no PEM certificate: %s", path, cred_ossl_reason());
	if (err) {
		sk_X509_pop_free(certs, X509_free);
		return err;
	}
	ERR_clear_error();      /* the expected "no start line" at the end of the file */
	*out = certs;
	return DANEMSG_OK;
}

/* --- writing files --- */

/*
 * Writes path atomically: a temporary file beside it, then rename (replace) or
 * link (exclusive: an existing path is never replaced, as with O_EXCL).
 * Where hard links are not supported, exclusive falls back to O_EXCL on path.
 */
static danemsg_err write_file(const char *path, const void *data, size_t len, mode_t mode,
			      enum cred_write_mode how, char *errbuf, size_t errbuf_len)
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
	int rc = how == CRED_WRITE_REPLACE ? rename(tmp, path) : link(tmp, path);
	int e = errno;
	if (how == CRED_WRITE_EXCLUSIVE || rc != 0)
		unlink(tmp);
	if (rc == 0)
		return DANEMSG_OK;
	if (e == EEXIST)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_EXISTS,
				  "%s exists (use --force to replace it)", path);
	if (how == CRED_WRITE_EXCLUSIVE && (e == EPERM || e == EOPNOTSUPP || e == ENOSYS)) {
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
static danemsg_err write_bio(const char *path, BIO *bio, mode_t mode, enum cred_write_mode how,
			     char *errbuf, size_t errbuf_len)
{
	char *data;
	long len = BIO_get_mem_data(bio, &data);
	if (len <= 0)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_CRYPTO, "cannot encode %s", path);
	return write_file(path, data, (size_t)len, mode, how, errbuf, errbuf_len);
}

danemsg_err cred_write_key(const char *path, EVP_PKEY *key, enum cred_write_mode how,
			   char *errbuf, size_t errbuf_len)
{
	BIO *bio = BIO_new(BIO_s_secmem());
	danemsg_err err;
	if (!bio || !PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL))
		err = errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_CRYPTO,
				 "cannot encode the key: %s", cred_ossl_reason());
	else
		err = write_bio(path, bio, 0600, how, errbuf, errbuf_len);
	BIO_free(bio);
	return err;
}

/* Writes certificates (and, if req, a CSR) as PEM, 0644. */
danemsg_err cred_write_certs(const char *path, X509 *first, STACK_OF(X509) *more,
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
	danemsg_err err = ok ? write_bio(path, bio, 0644, CRED_WRITE_REPLACE, errbuf, errbuf_len) :
			  errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_CRYPTO, "cannot encode %s",
				     path);
	BIO_free(bio);
	return err;
}

/* Removes a file if it exists. */
danemsg_err cred_remove_file(const char *path, char *errbuf, size_t errbuf_len)
{
	if (unlink(path) != 0 && errno != ENOENT)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_IO, "cannot remove %s: %s", path,
				  strerror(errno));
	return DANEMSG_OK;
}

/* Copies path to path.bak, if path exists. */
danemsg_err cred_backup_file(const char *path, char *errbuf, size_t errbuf_len)
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
	err = write_file(bak, data, len > 0 ? (size_t)len : 0, 0644, CRED_WRITE_REPLACE, errbuf,
			 errbuf_len);
	BIO_free(bio);
	return err;
}

/* 1 when a and b both exist with the same content (the same inode, or equal bytes). */
int cred_same_file(const char *a, const char *b, int secret)
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
danemsg_err cred_copy_file(const char *src, const char *dst, int secret, enum cred_write_mode how,
			   char *errbuf, size_t errbuf_len)
{
	char tmp[CRED_PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s.new", dst);
	/* A stale tmp is an earlier run's link to the same source. */
	if (how == CRED_WRITE_REPLACE && unlink(tmp) != 0 && errno != ENOENT)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_IO, "cannot remove %s: %s", tmp,
				  strerror(errno));
	if (link(src, how == CRED_WRITE_REPLACE ? tmp : dst) == 0) {
		if (how == CRED_WRITE_EXCLUSIVE || rename(tmp, dst) == 0)
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
danemsg_err cred_remove_copy(const char *path, const char *keep, int secret,
			     char *errbuf, size_t errbuf_len)
{
	if (!cred_path_exists(path))
		return DANEMSG_OK;
	if (!cred_same_file(path, keep, secret))
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_EXISTS,
				  "%s differs from %s: not removed (move it away by hand)", path,
				  keep);
	return cred_remove_file(path, errbuf, errbuf_len);
}

/* Makes the renames and links so far durable before the next step depends on them. */
danemsg_err cred_sync_dir(const char *dir, char *errbuf, size_t errbuf_len)
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

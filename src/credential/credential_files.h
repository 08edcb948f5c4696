/* Private: an identity's files (credential_files.c): paths, bounded reads, atomic writes. */
#ifndef DANEMSG_CREDENTIAL_FILES_H
#define DANEMSG_CREDENTIAL_FILES_H

#include <stddef.h>
#include <sys/types.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <danemsg.h>

/* Bounds on what is read from disk: certificates per file, path lengths. */
#define CRED_CERTS_MAX 16
#define CRED_PATH_MAX 4096
/* The files of a slot: danemsg_credential_file from DANEMSG_FILE_KEY to _ENC_CERT. */
#define CRED_N_FILES 6

/* Replace an existing file, or never (as O_EXCL). */
enum cred_write_mode { CRED_WRITE_REPLACE, CRED_WRITE_EXCLUSIVE };

/* What separates a normalized name from the rest of its file names: '.' or '/' (long
 * names keep their files in a folder DIR/NAME/). */
char cred_name_separator(const char *norm);
/* The path of a file of an already normalized name; _BUFFER_TOO_SMALL if it does not fit. */
danemsg_err cred_path(const char *dir, const char *norm, danemsg_credential_slot slot,
		      danemsg_credential_file file, char *buf, size_t buflen);
/* 1 when path exists (as lstat sees it). */
int cred_path_exists(const char *path);
/* The path of the marker that an unfinished rollover leaves (NAME.rollover). */
void cred_marker_path(const char *dir, const char *norm, char *buf, size_t buflen);
/* 1 while a rollover of norm is unfinished: NAME.old.* is then the current slot. */
int cred_rollover_pending(const char *dir, const char *norm);
/* Like `mkdir -p`, new folders 0700. */
danemsg_err cred_make_dir(const char *dir, char *errbuf, size_t errbuf_len);

/* The private key of a PEM file that only its owner may read (unencrypted). */
danemsg_err cred_load_key(const char *path, EVP_PKEY **out, char *errbuf, size_t errbuf_len);
/* All PEM certificates of a file: at least one, at most CRED_CERTS_MAX. */
danemsg_err cred_load_certs(const char *path, STACK_OF(X509) **out,
			    char *errbuf, size_t errbuf_len);

/* Writes key as PEM, 0600, atomically. */
danemsg_err cred_write_key(const char *path, EVP_PKEY *key, enum cred_write_mode how,
			   char *errbuf, size_t errbuf_len);
/* Writes first, more and req (each optional) as PEM, 0644, atomically, replacing. */
danemsg_err cred_write_certs(const char *path, X509 *first, STACK_OF(X509) *more,
			     X509_REQ *req, char *errbuf, size_t errbuf_len);
/* Removes a file if it exists. */
danemsg_err cred_remove_file(const char *path, char *errbuf, size_t errbuf_len);
/* Copies path to path.bak, if path exists. */
danemsg_err cred_backup_file(const char *path, char *errbuf, size_t errbuf_len);

/* 1 when a and b both exist with the same content; secret: read them as key files. */
int cred_same_file(const char *a, const char *b, int secret);
/* Makes dst a copy of src: a hard link where links work, else a copy. */
danemsg_err cred_copy_file(const char *src, const char *dst, int secret,
			   enum cred_write_mode how, char *errbuf, size_t errbuf_len);
/* Removes path, but only when keep holds the same content: never the last copy of a key. */
danemsg_err cred_remove_copy(const char *path, const char *keep, int secret,
			     char *errbuf, size_t errbuf_len);
/* fsync of a folder, so that renames and links so far are durable. */
danemsg_err cred_sync_dir(const char *dir, char *errbuf, size_t errbuf_len);

#endif

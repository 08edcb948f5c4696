/* Private: DNS names in text, the one validator that every module uses. */
#ifndef DANEMSG_DNAME_H
#define DANEMSG_DNAME_H

#include <stddef.h>

#include <danemsg/error.h>

/* Longest name without its trailing dot (255 octets on the wire), and with it plus NUL. */
#define DNAME_TEXT_MAX 253
#define DNAME_BUF (DNAME_TEXT_MAX + 2)

/*
 * Checks that name is a DNS name as identities and TLSA owners are written: labels of
 * ASCII letters, digits, '-' and '_', 1..63 octets each, at most DNAME_TEXT_MAX octets in
 * all, an optional trailing dot. Bytes are compared as ASCII, whatever the locale; a
 * wildcard '*', an escape, a blank or any other byte is refused. On success writes it to
 * buf in lower case, ending with a dot when trailing_dot is nonzero and without one
 * otherwise. DANEMSG_ERR_INVALID_ARG for a name that is none (or NULL);
 * DANEMSG_ERR_BUFFER_TOO_SMALL when buf is shorter than the result and its NUL (a valid
 * name is judged first; DNAME_BUF always suffices).
 */
danemsg_err dname_normalize(const char *name, int trailing_dot, char *buf, size_t buflen);

/* dname_normalize with the trailing dot: the canonical form lookups and messages use. */
danemsg_err dname_canonical(const char *name, char *buf, size_t buflen);

#endif

/* Private: small helpers that the library's modules (and the tool) share, each written
 * once. */
#ifndef DANEMSG_UTIL_H
#define DANEMSG_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Writes all of data to fd, retrying short writes and EINTR: 0, or -1 with errno set. */
int util_write_all(int fd, const void *data, size_t len);

/* The 32-bit FNV-1a hash of a NUL-terminated string: for hash tables, not for security
 * (anyone can make names that collide). */
uint32_t util_fnv1a(const char *s);

#endif

/* Private: writing an error message into a caller's buffer. */
#ifndef DANEMSG_ERROR_INTERNAL_H
#define DANEMSG_ERROR_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>

#include <danemsg/error.h>

/* Formats into errbuf (when errbuf and len are set) and returns err, so that a failure
 * is reported and returned in one statement. */
danemsg_err errbuf_set(char *errbuf, size_t len, danemsg_err err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The same from a va_list, written at errbuf + offset (nothing when offset >= len). */
void errbuf_vset(char *errbuf, size_t len, size_t offset, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));

#endif

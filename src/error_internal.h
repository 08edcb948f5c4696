/* Private: writing why a call failed into a caller's errbuf. */
#ifndef DANEMSG_ERROR_INTERNAL_H
#define DANEMSG_ERROR_INTERNAL_H

#include <stddef.h>

#include <danemsg/error.h>

/* Formats the reason into errbuf (may be NULL, or len 0) and returns err. */
danemsg_err error_fail(char *errbuf, size_t len, danemsg_err err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif

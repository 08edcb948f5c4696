/* Internals of publish.c shared with its fuzz target. */
#ifndef DANEMSG_PUBLISH_INTERNAL_H
#define DANEMSG_PUBLISH_INTERNAL_H

#include <stddef.h>

#include <danemsg/publish.h>

/* The key in text, the contents of a key file (any form danemsg_tsig_key_load takes). */
danemsg_err publish_tsig_key_from_text(const char *text, size_t len, danemsg_tsig_key **out,
				       char *errbuf, size_t errbuf_len);

#endif

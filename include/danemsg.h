/* danemsg: end-to-end secured messages between identities published in DNS. */
#ifndef DANEMSG_H
#define DANEMSG_H

#include <stddef.h>
#include <stdint.h>

#include <danemsg/error.h>
#include <danemsg/tlsa.h>
#include <danemsg/identity.h>
#include <danemsg/credential.h>
#include <danemsg/publish.h>
#include <danemsg/locator.h>
#include <danemsg/policy.h>
#include <danemsg/envelope.h>
#include <danemsg/chain.h>
#include <danemsg/token.h>

#define DANEMSG_VERSION_STRING "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version, as "MAJOR.MINOR.PATCH". */
const char *danemsg_version(void);

/* Lower-case hex of in[0..len) into out, NUL-terminated: out_size >= 2 * len + 1,
 * else DANEMSG_ERR_BUFFER_TOO_SMALL and nothing written. */
danemsg_err danemsg_hex_encode(const uint8_t *in, size_t len, char *out, size_t out_size);

#ifdef __cplusplus
}
#endif
#endif

/* danemsg: end-to-end secured messages between identities published in DNS. */
#ifndef DANEMSG_H
#define DANEMSG_H

#include <stddef.h>
#include <stdint.h>

#include <danemsg/version.h>
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

#ifdef __cplusplus
extern "C" {
#endif

/* The running library's version, as "MAJOR.MINOR.PATCH", and as 0xMMmmpp: a program
 * compiled against DANEMSG_VERSION_NUMBER may find an older or newer library at run time. */
const char *danemsg_version(void);
unsigned long danemsg_version_number(void);

/* Lower-case hex of in[0..len) into out, NUL-terminated: out_size >= 2 * len + 1,
 * else DANEMSG_ERR_BUFFER_TOO_SMALL and nothing written. */
danemsg_err danemsg_hex_encode(const uint8_t *in, size_t len, char *out, size_t out_size);

#ifdef __cplusplus
}
#endif
#endif

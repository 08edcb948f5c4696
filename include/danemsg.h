/* danemsg: end-to-end secured messages between identities published in DNS. */
#ifndef DANEMSG_H
#define DANEMSG_H

#include <danemsg/error.h>
#include <danemsg/tlsa.h>
#include <danemsg/identity.h>
#include <danemsg/credential.h>
#include <danemsg/publish.h>
#include <danemsg/envelope.h>

#define DANEMSG_VERSION_STRING "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version, as "MAJOR.MINOR.PATCH". */
const char *danemsg_version(void);

#ifdef __cplusplus
}
#endif
#endif

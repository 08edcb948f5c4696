/* danemsg: locators, how a message names an identity (the x5u of the reference system). */
#ifndef DANEMSG_LOCATOR_H
#define DANEMSG_LOCATOR_H

#include <stddef.h>

#include <danemsg/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Reads an identity name from an x5u locator as the reference system writes it:
 * "dns://NAME?type=TLSA", "dns:NAME?type=TLSA" (RFC 4501), "dns://SERVER/NAME?type=TLSA"
 * or "dns:NAME". The name is written canonical (lower case, trailing dot) into buf.
 * DANEMSG_ERR_MALFORMED for anything else (another scheme or query, '%', bad name).
 */
danemsg_err danemsg_locator_parse(const char *locator, size_t len, char *name, size_t name_len);

/* Writes "dns://NAME?type=TLSA" (NAME without its trailing dot) into buf. */
danemsg_err danemsg_locator_format(const char *name, char *buf, size_t buflen);

#ifdef __cplusplus
}
#endif
#endif

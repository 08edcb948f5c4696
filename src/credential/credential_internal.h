/* Private: what a loaded credential keeps so that seal and open need not recompute it. */
#ifndef DANEMSG_CREDENTIAL_INTERNAL_H
#define DANEMSG_CREDENTIAL_INTERNAL_H

#include <danemsg.h>

/*
 * x5t#S256 of the credential's signing and encryption certificates (jose_x5t_s256),
 * computed once when the credential is loaded; "" for NULL.
 */
const char *credential_sign_x5t(const danemsg_credential *cred);
const char *credential_enc_x5t(const danemsg_credential *cred);

#endif

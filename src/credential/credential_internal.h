/* Private: what a loaded credential keeps so that seal and open need not recompute it. */
#ifndef DANEMSG_CREDENTIAL_INTERNAL_H
#define DANEMSG_CREDENTIAL_INTERNAL_H

#include <danemsg.h>

#include "jose.h"

/*
 * x5t#S256 of the credential's signing and encryption certificates (jose_x5t_s256),
 * computed once when the credential is loaded; "" for NULL.
 */
const char *credential_sign_x5t(const danemsg_credential *cred);
const char *credential_enc_x5t(const danemsg_credential *cred);

/*
 * jose_jws_sign with the credential's signing key, on a signing context the credential
 * keeps (made at the first call, remade when alg changes): one caller at a time uses it, a
 * concurrent one signs on a context of its own, as jose_jws_sign does.
 */
danemsg_err credential_jws_sign(const danemsg_credential *cred, jose_alg alg,
				const json_t *protected_header, const uint8_t *payload,
				size_t payload_len, char **out, size_t *out_len);

#endif

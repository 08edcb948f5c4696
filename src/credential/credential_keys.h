/* Private: key operations shared by the credential modules (credential_keys.c). */
#ifndef DANEMSG_CREDENTIAL_KEYS_H
#define DANEMSG_CREDENTIAL_KEYS_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <danemsg.h>

/* The keyUsage of the X25519 certificate beside an Ed25519 identity. */
#define CRED_X25519_KEY_USAGE "critical,keyAgreement"

/* OpenSSL's reason for the latest failure, for messages; empties OpenSSL's error queue. */
const char *cred_ossl_reason(void);
/* 1 for a key type danemsg_credential_new makes. */
int cred_keytype_valid(danemsg_keytype type);
/* The keyUsage of type's self-signed certificate (OpenSSL config form); NULL if invalid. */
const char *cred_keytype_usage(danemsg_keytype type);
/* A new key of type (the caller's), or NULL. */
EVP_PKEY *cred_generate_key(danemsg_keytype type);
/* The digest to sign with: NULL for EdDSA (it hashes internally), else SHA-256. */
const EVP_MD *cred_sign_md(EVP_PKEY *key);
/* 1 when key is the private half of cert's public key. */
int cred_key_matches(EVP_PKEY *key, X509 *cert);
/* 1 for the signing keys we use or accept: P-256, Ed25519, RSA of 2048 to 16384 bits. */
int cred_sign_key_supported(EVP_PKEY *key);

#endif

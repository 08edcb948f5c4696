/* Private: certificate operations shared by the credential modules (credential_certs.c). */
#ifndef DANEMSG_CREDENTIAL_CERTS_H
#define DANEMSG_CREDENTIAL_CERTS_H

#include <openssl/evp.h>
#include <openssl/x509.h>

/*
 * A certificate for subject_key naming name (subject and subjectAltName dNSName), end
 * entity, valid from an hour ago for days days. Self-signed when issuer is NULL, else
 * issued by issuer and issuer_key. The caller's, or NULL.
 */
X509 *cred_make_cert(const char *name, EVP_PKEY *subject_key, const char *key_usage,
		     unsigned days, X509 *issuer, EVP_PKEY *issuer_key);
/* A CSR signed by key asking for subjectAltName dNSName name; the caller's, or NULL. */
X509_REQ *cred_make_csr(const char *name, EVP_PKEY *key);
/* 1 when cert's subjectAltName holds dNSName name (exactly, any case). */
int cred_san_names(X509 *cert, const char *name);

#endif

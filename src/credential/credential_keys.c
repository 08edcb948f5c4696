/* Key operations: the key types we make and accept, making keys, matching them to
 * certificates. */
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <danemsg.h>

#include "credential_keys.h"

/* OpenSSL's reason for the latest failure, for messages. It empties OpenSSL's error
 * queue, so that a later message cannot show this stale reason. */
const char *cred_ossl_reason(void)
{
	const char *r = ERR_reason_error_string(ERR_peek_last_error());
	ERR_clear_error();
	return r ? r : "unknown reason";
}

/* --- key types and names --- */

/* Indexed by danemsg_keytype. */
static const struct {
	danemsg_keytype type;
	const char *name;
	const char *key_usage;      /* of its self-signed certificate */
} keytypes[] = {
	{DANEMSG_KEY_P256, "p256", "critical,digitalSignature,keyAgreement"},
	{DANEMSG_KEY_ED25519, "ed25519", "critical,digitalSignature"},
	{DANEMSG_KEY_RSA2048, "rsa2048", "critical,digitalSignature,keyEncipherment"},
	{DANEMSG_KEY_RSA3072, "rsa3072", "critical,digitalSignature,keyEncipherment"},
};
#define N_KEYTYPES (sizeof(keytypes) / sizeof(keytypes[0]))

danemsg_err danemsg_keytype_parse(const char *s, danemsg_keytype *out)
{
	if (!s || !out)
		return DANEMSG_ERR_INVALID_ARG;
	for (size_t i = 0; i < N_KEYTYPES; i++) {
		if (!strcasecmp(s, keytypes[i].name)) {
			*out = keytypes[i].type;
			return DANEMSG_OK;
		}
	}
	return DANEMSG_ERR_INVALID_ARG;
}

const char *danemsg_keytype_name(danemsg_keytype type)
{
	for (size_t i = 0; i < N_KEYTYPES; i++)
		if (keytypes[i].type == type)
			return keytypes[i].name;
	return "unknown";
}

const char *cred_keytype_usage(danemsg_keytype type)
{
	return cred_keytype_valid(type) ? keytypes[type].key_usage : NULL;
}

int cred_keytype_valid(danemsg_keytype type)
{
	return strcmp(danemsg_keytype_name(type), "unknown") != 0;
}

EVP_PKEY *cred_generate_key(danemsg_keytype type)
{
	switch (type) {
	case DANEMSG_KEY_P256: return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	case DANEMSG_KEY_ED25519: return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	case DANEMSG_KEY_RSA2048: return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	case DANEMSG_KEY_RSA3072: return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
	}
	return NULL;
}

/* The digest to sign with: none for EdDSA (it hashes internally), else SHA-256. */
const EVP_MD *cred_sign_md(EVP_PKEY *key)
{
	return EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448") ? NULL : EVP_sha256();
}

/* Does the key match the certificate's public key? */
int cred_key_matches(EVP_PKEY *key, X509 *cert)
{
	EVP_PKEY *pub = X509_get0_pubkey(cert);
	return pub && EVP_PKEY_eq(key, pub) == 1;
}

/* The signing key types we use (or read from the reference system: RSA >= 2048). */
int cred_sign_key_supported(EVP_PKEY *key)
{
	char group[32];
	if (EVP_PKEY_is_a(key, "ED25519"))
		return 1;
	if (EVP_PKEY_is_a(key, "RSA"))
		return EVP_PKEY_get_bits(key) >= 2048 && EVP_PKEY_get_bits(key) <= 16384;
	if (EVP_PKEY_is_a(key, "EC"))
		return EVP_PKEY_get_group_name(key, group, sizeof(group), NULL) &&
		       (!strcmp(group, "prime256v1") || !strcmp(group, "P-256"));
	return 0;
}

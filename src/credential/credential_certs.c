/* Certificate operations: self-signed and issued certificates, CSRs, subjectAltName checks,
 * and the TLSA records of a certificate. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <danemsg.h>

#include "credential_certs.h"
#include "credential_keys.h"

#define TLSA_RDATA_MAX 65535

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	int ok = ext && X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

/* The longest commonName (RFC 5280 ub-common-name). */
#define CN_MAX 64

/*
 * The subject: CN=name, which the reference system reads, when name fits in a CN; else
 * the name's labels as domainComponents (RFC 4519; DC=net,DC=example,... in DER order),
 * a non-empty name that a self-signed certificate's issuer needs. Either way the name that
 * counts is the subjectAltName's dNSName.
 */
static X509_NAME *subject_name(const char *name)
{
	X509_NAME *n = X509_NAME_new();
	int ok = n != NULL;
	size_t len = strlen(name);
	if (ok && len <= CN_MAX)
		ok = X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
						(const unsigned char *)name, -1, -1, 0);
	for (size_t end = len; ok && len > CN_MAX && end > 0;) {
		size_t start = end;
		while (start > 0 && name[start - 1] != '.')
			start--;
		ok = X509_NAME_add_entry_by_txt(n, "DC", MBSTRING_ASC,
						(const unsigned char *)name + start,
						(int)(end - start), -1, 0);
		end = start > 0 ? start - 1 : 0;
	}
	if (!ok) {
		X509_NAME_free(n);
		return NULL;
	}
	return n;
}

/*
 * A certificate for subject_key, subject_name(name), SAN dNSName = name, end entity, valid
 * from now-1h for days days, random positive 128-bit serial. Self-signed by
 * subject_key when issuer is NULL; else issued by issuer (cert + key) with an
 * authorityKeyIdentifier.
 */
X509 *cred_make_cert(const char *name, EVP_PKEY *subject_key, const char *key_usage,
		     unsigned days, X509 *issuer, EVP_PKEY *issuer_key)
{
	char san[DANEMSG_CREDENTIAL_NAME_MAX + 8];
	X509 *x = X509_new();
	X509_NAME *subject = subject_name(name);
	BIGNUM *serial = BN_new();
	X509V3_CTX ctx;
	int ok = x && subject && serial;

	snprintf(san, sizeof(san), "DNS:%s", name);
	ok = ok && X509_set_version(x, X509_VERSION_3);
	ok = ok && BN_rand(serial, 128, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY);
	ok = ok && BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x));
	ok = ok && X509_set_subject_name(x, subject);
	ok = ok && X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : subject);
	ok = ok && X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	ok = ok && X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, NULL);
	ok = ok && X509_set_pubkey(x, subject_key);
	if (ok) {
		X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
		ok = add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") &&
		     add_ext(x, &ctx, NID_key_usage, key_usage) &&
		     add_ext(x, &ctx, NID_subject_key_identifier, "hash") &&
		     (!issuer || add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always")) &&
		     add_ext(x, &ctx, NID_subject_alt_name, san);
	}
	EVP_PKEY *signer = issuer ? issuer_key : subject_key;
	ok = ok && X509_sign(x, signer, cred_sign_md(signer)) > 0;
	BN_free(serial);
	X509_NAME_free(subject);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* A CSR: subject_name(name), requested extension subjectAltName dNSName=name. */
X509_REQ *cred_make_csr(const char *name, EVP_PKEY *key)
{
	char san[DANEMSG_CREDENTIAL_NAME_MAX + 8];
	X509_REQ *req = X509_REQ_new();
	X509_NAME *subject = subject_name(name);
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	X509_EXTENSION *ext = NULL;
	int ok = req && subject && exts;

	snprintf(san, sizeof(san), "DNS:%s", name);
	ok = ok && X509_REQ_set_version(req, X509_REQ_VERSION_1);
	ok = ok && X509_REQ_set_subject_name(req, subject);
	ok = ok && X509_REQ_set_pubkey(req, key);
	ok = ok && (ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san)) != NULL;
	ok = ok && sk_X509_EXTENSION_push(exts, ext);
	if (!ok)
		X509_EXTENSION_free(ext);
	ok = ok && X509_REQ_add_extensions(req, exts);
	ok = ok && X509_REQ_sign(req, key, cred_sign_md(key)) > 0;
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_NAME_free(subject);
	if (!ok) {
		X509_REQ_free(req);
		return NULL;
	}
	return req;
}

/* Does the certificate's subjectAltName hold dNSName name (exactly, any case)? */
int cred_san_names(X509 *cert, const char *name)
{
	GENERAL_NAMES *sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	size_t len = strlen(name);
	int found = 0;
	for (int i = 0; !found && i < sk_GENERAL_NAME_num(sans); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);
		if (gn->type != GEN_DNS)
			continue;
		const unsigned char *d = ASN1_STRING_get0_data(gn->d.dNSName);
		size_t dlen = (size_t)ASN1_STRING_length(gn->d.dNSName);
		if (dlen == len + 1 && d[len] == '.')
			dlen = len;
		found = dlen == len && !strncasecmp((const char *)d, name, len) &&
			!memchr(d, '\0', dlen);
	}
	GENERAL_NAMES_free(sans);
	return found;
}

/* --- TLSA records --- */

danemsg_err danemsg_tlsa_rdata(X509 *cert, uint8_t usage, uint8_t selector, uint8_t matching,
			       uint8_t *buf, size_t buflen, size_t *outlen)
{
	if (!cert || !outlen || (!buf && buflen) || usage > DANEMSG_TLSA_DANE_EE ||
	    selector > DANEMSG_TLSA_SEL_SPKI || matching > DANEMSG_TLSA_MATCH_SHA512)
		return DANEMSG_ERR_INVALID_ARG;
	unsigned char *der = NULL;
	int der_len = selector == DANEMSG_TLSA_SEL_CERT ? i2d_X509(cert, &der) :
		      i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
	if (der_len <= 0) {
		ERR_clear_error();
		return DANEMSG_ERR_CRYPTO;
	}
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int digest_len = 0;
	const unsigned char *data = der;
	size_t data_len = (size_t)der_len;
	if (matching != DANEMSG_TLSA_MATCH_FULL) {
		const EVP_MD *md = matching == DANEMSG_TLSA_MATCH_SHA256 ? EVP_sha256() :
				   EVP_sha512();
		if (!EVP_Digest(der, (size_t)der_len, digest, &digest_len, md, NULL)) {
			OPENSSL_free(der);
			ERR_clear_error();
			return DANEMSG_ERR_CRYPTO;
		}
		data = digest;
		data_len = digest_len;
	}
	danemsg_err err = DANEMSG_OK;
	*outlen = 3 + data_len;
	if (*outlen > TLSA_RDATA_MAX) {
		err = DANEMSG_ERR_TOO_LARGE;
	} else if (buflen < *outlen) {
		err = DANEMSG_ERR_BUFFER_TOO_SMALL;
	} else {
		buf[0] = usage;
		buf[1] = selector;
		buf[2] = matching;
		memcpy(buf + 3, data, data_len);
	}
	OPENSSL_free(der);
	return err;
}

danemsg_err danemsg_tlsa_format_line(const char *name, uint32_t ttl, const uint8_t *rdata,
				     size_t rdata_len, char *buf, size_t buflen, size_t *outlen)
{
	char norm[DANEMSG_CREDENTIAL_NAME_MAX];
	if (!rdata || rdata_len < 4 || rdata_len > TLSA_RDATA_MAX || (!buf && buflen) ||
	    danemsg_credential_name_normalize(name, norm, sizeof(norm)))
		return DANEMSG_ERR_INVALID_ARG;
	char prefix[DANEMSG_CREDENTIAL_NAME_MAX + 64];
	int plen = snprintf(prefix, sizeof(prefix), "%s. %u IN TLSA %u %u %u ", norm,
			    (unsigned)ttl, rdata[0], rdata[1], rdata[2]);
	size_t need = (size_t)plen + 2 * (rdata_len - 3) + 1;
	if (buflen < need) {
		if (outlen)
			*outlen = need;
		return DANEMSG_ERR_BUFFER_TOO_SMALL;
	}
	memcpy(buf, prefix, (size_t)plen);
	danemsg_hex_encode(rdata + 3, rdata_len - 3, buf + plen, buflen - (size_t)plen);
	if (outlen)
		*outlen = need - 1;
	return DANEMSG_OK;
}

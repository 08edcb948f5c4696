/* TLSA records (RFC 6698): parsing, and DANE matching of certificates and keys (RFC 7671). */
#define _GNU_SOURCE   /* memmem, timegm */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/provider.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <danemsg/publish.h>
#include <danemsg/tlsa.h>

#include "identity_internal.h"
#include "jose.h"
#include "tlsa_internal.h"

/* RDATA is at most 65535 octets on the wire (RFC 1035 section 3.2.1). */
#define TLSA_RDATA_MAX 65535
/* A DNS name in text: 253 characters, one more for the root's trailing dot. */
#define TLSA_NAME_MAX 254

static const char *unusable_reason(const uint8_t *rdata, size_t rdata_len)
{
	uint8_t usage = rdata[0], selector = rdata[1], matching = rdata[2];
	size_t data_len = rdata_len - 3;

	if (rdata_len > TLSA_RDATA_MAX)
		return "RDATA longer than 65535 octets";
	if (usage == DANEMSG_TLSA_PKIX_CD)
		return "private usage 4 (the reference's PKIX-CD): used only when enabled "
		       "(--pkix-cd)";
	if (usage > DANEMSG_TLSA_DANE_EE)
		return "unknown certificate usage";
	if (selector != DANEMSG_TLSA_SEL_CERT && selector != DANEMSG_TLSA_SEL_SPKI)
		return "unknown selector";
	if (matching > DANEMSG_TLSA_MATCH_SHA512)
		return "unknown matching type";
	if (data_len == 0)
		return "empty association data";
	if (matching == DANEMSG_TLSA_MATCH_SHA256 && data_len != 32)
		return "SHA2-256 data is not 32 octets";
	if (matching == DANEMSG_TLSA_MATCH_SHA512 && data_len != 64)
		return "SHA2-512 data is not 64 octets";
	return NULL;
}

/*
 * OpenSSL 3.0 decodes a certificate's public key as it parses the certificate, through its
 * provider decoders, whose set-up costs ten times the rest of the parse (some 1.2 M
 * instructions for a P-256 certificate: most of a new name's lookup). Certificates are
 * parsed here in a library context with no provider at all, where the key stays as DER;
 * the key is then imported directly (key_import). Made once per process, then read-only,
 * like jose_algs().
 */
static OSSL_LIB_CTX *bare_ctx;
static CRYPTO_ONCE bare_once = CRYPTO_ONCE_STATIC_INIT;

static void make_bare_ctx(void)
{
	bare_ctx = OSSL_LIB_CTX_new();
	if (bare_ctx && !OSSL_PROVIDER_load(bare_ctx, "null")) {
		OSSL_LIB_CTX_free(bare_ctx);
		bare_ctx = NULL;
	}
}

/* A certificate parsed entirely, its key left as DER; NULL when data is not exactly one. */
static X509 *parse_bare_cert(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509 *cert;

	if (!CRYPTO_THREAD_run_once(&bare_once, make_bare_ctx) || !bare_ctx ||
	    !(cert = X509_new_ex(bare_ctx, NULL)))
		return NULL;
	if (!d2i_X509(&cert, &p, (long)len) || p != der + len) {
		X509_free(cert);
		return NULL;
	}
	return cert;
}

/* An RSA key from its SPKI's bits (RSAPublicKey: the modulus and the exponent, positive). */
static EVP_PKEY *rsa_import_bits(const unsigned char *bits, int len)
{
	const unsigned char *p = bits;
	STACK_OF(ASN1_TYPE) *seq = d2i_ASN1_SEQUENCE_ANY(NULL, &p, len);
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	BIGNUM *n = NULL, *e = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *key = NULL;
	ASN1_TYPE *tn, *te;

	if (!seq || !bld || p != bits + len || sk_ASN1_TYPE_num(seq) != 2)
		goto out;
	tn = sk_ASN1_TYPE_value(seq, 0);
	te = sk_ASN1_TYPE_value(seq, 1);
	if (tn->type != V_ASN1_INTEGER || te->type != V_ASN1_INTEGER ||
	    tn->value.integer->type != V_ASN1_INTEGER || te->value.integer->type != V_ASN1_INTEGER)
		goto out;   /* negative numbers are V_ASN1_NEG_INTEGER */
	if (!(n = ASN1_INTEGER_to_BN(tn->value.integer, NULL)) ||
	    !(e = ASN1_INTEGER_to_BN(te->value.integer, NULL)) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
	    !(params = OSSL_PARAM_BLD_to_param(bld)))
		goto out;
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
		key = NULL;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
	return key;
}

/* The key of an SPKI whose algorithm needs only its bits: named curves, EdDSA, ECDH, RSA. */
static EVP_PKEY *key_import_bits(int nid, int param_nid, const unsigned char *bits, int len)
{
	static const struct { int nid; const char *name; } raw[] = {
		{NID_ED25519, "ED25519"}, {NID_X25519, "X25519"},
		{NID_ED448, "ED448"}, {NID_X448, "X448"},
	};
	const char *group = OBJ_nid2sn(param_nid);
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *key = NULL;
	OSSL_PARAM params[3];

	if (nid == NID_rsaEncryption)   /* its parameters: NULL (read as absent here) */
		return rsa_import_bits(bits, len);
	for (size_t i = 0; i < sizeof(raw) / sizeof(raw[0]); i++)
		if (nid == raw[i].nid)
			return param_nid == NID_undef ?
				EVP_PKEY_new_raw_public_key_ex(NULL, raw[i].name, NULL, bits,
							       (size_t)len) : NULL;
	if (nid != NID_X9_62_id_ecPublicKey || (param_nid != NID_X9_62_prime256v1 &&
	    param_nid != NID_secp384r1 && param_nid != NID_secp521r1))
		return NULL;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)group, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)bits,
						      (size_t)len);
	params[2] = OSSL_PARAM_construct_end();
	/* The import checks the point is on the curve. */
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
		key = NULL;
	EVP_PKEY_CTX_free(ctx);
	return key;
}

/* The key of an SPKI (DER of exactly that length): imported from its bits where the
 * algorithm allows, else through OpenSSL's decoders. NULL when it does not parse. */
static EVP_PKEY *key_import(const uint8_t *spki, size_t len)
{
	const unsigned char *p = spki;
	X509_PUBKEY *pub = NULL;
	const unsigned char *bits;
	const void *param = NULL;
	int bits_len, param_type = V_ASN1_UNDEF;
	ASN1_OBJECT *alg_obj;
	X509_ALGOR *alg;
	EVP_PKEY *key = NULL;

	if (len > TLSA_RDATA_MAX || !CRYPTO_THREAD_run_once(&bare_once, make_bare_ctx) ||
	    !bare_ctx || !(pub = X509_PUBKEY_new_ex(bare_ctx, NULL)))
		return NULL;
	if (d2i_X509_PUBKEY(&pub, &p, (long)len) && p == spki + len &&
	    X509_PUBKEY_get0_param(&alg_obj, &bits, &bits_len, &alg, pub)) {
		X509_ALGOR_get0(NULL, &param_type, &param, alg);
		key = key_import_bits(OBJ_obj2nid(alg_obj),
				      param_type == V_ASN1_OBJECT ? OBJ_obj2nid(param) : NID_undef,
				      bits, bits_len);
		if (!key) {
			/* other algorithms (RSA, other curves, explicit ones): the decoders, which
			 * also judge the keys the import refused */
			p = spki;
			key = d2i_PUBKEY(NULL, &p, (long)len);
			if (key && p != spki + len) {
				EVP_PKEY_free(key);
				key = NULL;
			}
		}
	}
	X509_PUBKEY_free(pub);
	ERR_clear_error();
	return key;
}

/* Where the DER of a certificate's SubjectPublicKeyInfo lies inside the certificate's. */
static const char *locate_spki(danemsg_tlsa *rec, X509 *cert)
{
	unsigned char *der = NULL;
	int der_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
	const uint8_t *at = der_len > 0 ? memmem(rec->data, rec->data_len, der, (size_t)der_len)
					: NULL;

	OPENSSL_free(der);
	if (!at)
		return "certificate public key is not supported";
	rec->spki_off = (size_t)(at - rec->data);
	rec->spki_len = (size_t)der_len;
	return NULL;
}

void danemsg_tlsa_init(danemsg_tlsa *rec)
{
	if (!rec)
		return;
	memset(rec, 0, sizeof(*rec));
	rec->struct_size = sizeof(*rec);
}

static int asn1_time_seconds(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;

	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return 0;
	*out = (int64_t)timegm(&tm);
	return 1;
}

/* keyUsage as OpenSSL reads it (X509_get_key_usage), without its extension cache, which
 * needs a digest: all uses without the extension, none with a broken or repeated one. */
static uint32_t key_usage_of(X509 *cert)
{
	int found = -1;
	ASN1_BIT_STRING *usage = X509_get_ext_d2i(cert, NID_key_usage, &found, NULL);
	uint32_t bits = 0;

	if (!usage)
		return found == -1 ? DANEMSG_TLSA_KEY_USAGE_ANY : 0;
	if (usage->length > 0)
		bits = usage->data[0];
	if (usage->length > 1)
		bits |= (uint32_t)usage->data[1] << 8;
	ASN1_BIT_STRING_free(usage);
	return bits;
}

/* Does the record's key import (a key a certificate carries, or a bare one)? */
static const char *key_supported(const danemsg_tlsa *rec)
{
	EVP_PKEY *key = key_import(rec->data + rec->spki_off, rec->spki_len);

	EVP_PKEY_free(key);
	return key ? NULL : rec->has_cert ? "certificate public key is not supported"
					  : "public key does not parse";
}

/* What matching and verification need of a certificate, so that it need not be kept. */
static const char *cert_facts(danemsg_tlsa *rec, X509 *cert)
{
	size_t len;
	const char *reason;

	if (!asn1_time_seconds(X509_get0_notBefore(cert), &rec->not_before) ||
	    !asn1_time_seconds(X509_get0_notAfter(cert), &rec->not_after))
		return "certificate validity dates do not parse";
	rec->key_usage = key_usage_of(cert);
	rec->has_cert = 1;
	if (jose_b64url_encode(rec->sha256, sizeof(rec->sha256), rec->x5t_s256,
			       sizeof(rec->x5t_s256), &len))
		return "out of memory";
	if ((reason = locate_spki(rec, cert)))
		return reason;
	return key_supported(rec);
}

/* For x 0 0 and x 1 0: the DER must parse, entirely, into a certificate or a key; the
 * facts are kept, the parsed objects are not. */
static const char *take_facts(danemsg_tlsa *rec)
{
	const struct jose_algs *algs = jose_algs();
	const char *reason;
	X509 *cert;

	if (!algs || !EVP_Digest(rec->data, rec->data_len, rec->sha256, NULL, algs->sha256, NULL))
		return "SHA-256 is not available";
	if (rec->selector == DANEMSG_TLSA_SEL_CERT) {
		if (!(cert = parse_bare_cert(rec->data, rec->data_len)))
			return "certificate does not parse";
		reason = cert_facts(rec, cert);
		X509_free(cert);
		return reason;
	}
	rec->spki_off = 0;
	rec->spki_len = rec->data_len;
	rec->not_after = INT64_MAX;
	rec->key_usage = DANEMSG_TLSA_KEY_USAGE_ANY;
	return key_supported(rec);
}

/* The facts of a record that turned out unusable: none, so none can be used. */
static void forget_facts(danemsg_tlsa *rec)
{
	rec->has_cert = 0;
	rec->spki_off = rec->spki_len = 0;
	memset(rec->sha256, 0, sizeof(rec->sha256));
	memset(rec->x5t_s256, 0, sizeof(rec->x5t_s256));
	rec->not_before = rec->not_after = 0;
	rec->key_usage = 0;
}

const char *tlsa_take_facts(danemsg_tlsa *rec)
{
	const char *reason = take_facts(rec);

	if (reason) {
		/* Half-taken facts would only invite their use. */
		forget_facts(rec);
		ERR_clear_error();
	}
	return reason;
}

/* danemsg_tlsa_parse into an empty record of ours. */
static danemsg_err parse_record(const uint8_t *rdata, size_t rdata_len, danemsg_tlsa *out)
{
	const char *reason;

	if (!rdata && rdata_len)
		return DANEMSG_ERR_INVALID_ARG;
	if (rdata_len < 3)
		return DANEMSG_ERR_MALFORMED;

	out->usage = rdata[0];
	out->selector = rdata[1];
	out->matching_type = rdata[2];
	reason = unusable_reason(rdata, rdata_len);
	if (reason && rdata_len > TLSA_RDATA_MAX) {
		out->unusable_reason = reason;
		return DANEMSG_OK;
	}
	if (rdata_len > 3) {
		out->data = malloc(rdata_len - 3);
		if (!out->data)
			return DANEMSG_ERR_NOMEM;
		memcpy(out->data, rdata + 3, rdata_len - 3);
		out->data_len = rdata_len - 3;
	}
	if (!reason && out->matching_type == DANEMSG_TLSA_MATCH_FULL)
		reason = tlsa_take_facts(out);
	out->usable = reason == NULL;
	out->unusable_reason = reason;
	return DANEMSG_OK;
}

danemsg_err danemsg_tlsa_parse(const uint8_t *rdata, size_t rdata_len, danemsg_tlsa *out)
{
	danemsg_tlsa rec;
	danemsg_err err;

	if (!out || abi_struct_size(out) < TLSA_SIZE_V1)
		return DANEMSG_ERR_INVALID_ARG;
	danemsg_tlsa_init(&rec);
	err = parse_record(rdata, rdata_len, &rec);
	abi_struct_out(out, &rec, sizeof(rec), TLSA_SIZE_V1);
	return err;
}

void danemsg_tlsa_clear(danemsg_tlsa *rec)
{
	size_t size;

	if (!rec)
		return;
	free(rec->data);
	/* the caller's record: no more than its size; a zeroed one has at least the first
	 * version's fields */
	size = rec->struct_size;
	memset(rec, 0, size < TLSA_SIZE_V1 ? TLSA_SIZE_V1 : size < sizeof(*rec) ? size
										: sizeof(*rec));
	rec->struct_size = size;
}

/*
 * Copies record i of the caller's array recs (whose records are the first's struct_size
 * apart) into one of ours; tlsa_array_check has accepted the array.
 */
static void tlsa_at(const danemsg_tlsa *recs, size_t i, danemsg_tlsa *out)
{
	danemsg_tlsa_init(out);
	(void)abi_array_in(out, sizeof(*out), recs, i, TLSA_SIZE_V1, "TLSA record", NULL, 0);
}

danemsg_err tlsa_array_check(const danemsg_tlsa *recs, size_t n, char *errbuf,
			     size_t errbuf_len)
{
	danemsg_tlsa rec;
	danemsg_err err = DANEMSG_OK;

	for (size_t i = 0; i < n && !err; i++) {
		danemsg_tlsa_init(&rec);
		err = abi_array_in(&rec, sizeof(rec), recs, i, TLSA_SIZE_V1, "TLSA record", errbuf,
				   errbuf_len);
	}
	return err;
}

danemsg_err tlsa_array_copy(const danemsg_tlsa *recs, size_t n, danemsg_tlsa *out,
			    char *errbuf, size_t errbuf_len)
{
	danemsg_err err = tlsa_array_check(recs, n, errbuf, errbuf_len);

	for (size_t i = 0; i < n && !err; i++)
		tlsa_at(recs, i, &out[i]);
	return err;
}

danemsg_err danemsg_tlsa_cert(const danemsg_tlsa *rec, X509 **out)
{
	const unsigned char *p;

	if (!rec || !out)
		return DANEMSG_ERR_INVALID_ARG;
	*out = NULL;
	if (rec->selector != DANEMSG_TLSA_SEL_CERT || rec->matching_type != DANEMSG_TLSA_MATCH_FULL
	    || !rec->data || rec->data_len == 0 || rec->data_len > TLSA_RDATA_MAX)
		return DANEMSG_ERR_NOT_FOUND;
	p = rec->data;
	*out = d2i_X509(NULL, &p, (long)rec->data_len);
	if (*out && p != rec->data + rec->data_len) {
		X509_free(*out);
		*out = NULL;
	}
	ERR_clear_error();
	return *out ? DANEMSG_OK : DANEMSG_ERR_NOT_FOUND;
}

danemsg_err danemsg_tlsa_pkey(const danemsg_tlsa *rec, EVP_PKEY **out)
{
	if (!rec || !out)
		return DANEMSG_ERR_INVALID_ARG;
	*out = NULL;
	if (!rec->data || rec->spki_len == 0 || rec->spki_len > rec->data_len ||
	    rec->spki_off > rec->data_len - rec->spki_len)
		return DANEMSG_ERR_NOT_FOUND;
	*out = key_import(rec->data + rec->spki_off, rec->spki_len);
	return *out ? DANEMSG_OK : DANEMSG_ERR_NOT_FOUND;
}

const char *danemsg_tlsa_usage_name(uint8_t usage)
{
	static const char *const names[] = {"PKIX-TA", "PKIX-EE", "DANE-TA", "DANE-EE",
					    "PKIX-CD"};

	if (usage < sizeof(names) / sizeof(names[0]))
		return names[usage];
	return usage == 255 ? "PrivCert" : "unknown";
}

const char *danemsg_tlsa_selector_name(uint8_t selector)
{
	static const char *const names[] = {"Cert", "SPKI"};

	if (selector < sizeof(names) / sizeof(names[0]))
		return names[selector];
	return selector == 255 ? "PrivSel" : "unknown";
}

const char *danemsg_tlsa_matching_name(uint8_t matching_type)
{
	static const char *const names[] = {"Full", "SHA2-256", "SHA2-512"};

	if (matching_type < sizeof(names) / sizeof(names[0]))
		return names[matching_type];
	return matching_type == 255 ? "PrivMatch" : "unknown";
}

/*
 * Usable as parsed by danemsg_tlsa_parse(). Rechecked here so that a record
 * assembled by hand (or damaged) cannot lead matching astray.
 */
static int record_usable(const danemsg_tlsa *rec)
{
	if (!rec->usable || !rec->data || rec->data_len == 0)
		return 0;
	if (rec->usage > DANEMSG_TLSA_PKIX_CD)
		return 0;
	if (rec->selector > DANEMSG_TLSA_SEL_SPKI || rec->matching_type > DANEMSG_TLSA_MATCH_SHA512)
		return 0;
	if (rec->matching_type == DANEMSG_TLSA_MATCH_FULL) {
		if (!rec->spki_len || rec->has_cert != (rec->selector == DANEMSG_TLSA_SEL_CERT))
			return 0;
	}
	return 1;
}

/*
 * Digest algorithm agility, RFC 7671 section 9: for each combination of
 * usage and selector, only the records with the strongest digest present
 * among the usable ones are used (SHA2-512 over SHA2-256); records with a
 * weaker digest are ignored, so that a key matching only the "3 1 1" of a
 * set with "3 1 0", "3 1 1" and "3 1 2" is refused. Full(0) is not a digest
 * and is not subject to the rule. Unusable records (wrong digest length, ...)
 * take no part, so they cannot hide a good weaker digest.
 */
struct agility {
	int strongest[5][2]; /* [usage][selector]: digest strength */
};

static int digest_strength(uint8_t matching_type)
{
	switch (matching_type) {
	case DANEMSG_TLSA_MATCH_SHA256:
		return 1;
	case DANEMSG_TLSA_MATCH_SHA512:
		return 2;
	default:
		return 0;
	}
}

static void agility_init(struct agility *ag, const danemsg_tlsa *recs, size_t n)
{
	memset(ag, 0, sizeof(*ag));
	for (size_t i = 0; i < n; i++) {
		danemsg_tlsa rec;
		int *strongest;

		tlsa_at(recs, i, &rec);
		if (!record_usable(&rec))
			continue;
		strongest = &ag->strongest[rec.usage][rec.selector];
		if (digest_strength(rec.matching_type) > *strongest)
			*strongest = digest_strength(rec.matching_type);
	}
}

static int agility_allows(const struct agility *ag, const danemsg_tlsa *rec)
{
	int strength = digest_strength(rec->matching_type);

	if (rec->matching_type == DANEMSG_TLSA_MATCH_FULL)
		return 1;
	return strength == ag->strongest[rec->usage][rec->selector];
}

/* Does the record's association data match these DER octets? */
static danemsg_err data_matches(const danemsg_tlsa *rec, const unsigned char *der, size_t der_len,
				int *match)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	const EVP_MD *type;

	*match = 0;
	switch (rec->matching_type) {
	case DANEMSG_TLSA_MATCH_FULL:
		*match = der_len == rec->data_len && CRYPTO_memcmp(der, rec->data, der_len) == 0;
		return DANEMSG_OK;
	case DANEMSG_TLSA_MATCH_SHA256:
		type = EVP_sha256();
		break;
	case DANEMSG_TLSA_MATCH_SHA512:
		type = EVP_sha512();
		break;
	default:
		return DANEMSG_OK;
	}
	if (!EVP_Digest(der, der_len, md, &md_len, type, NULL))
		return DANEMSG_ERR_CRYPTO;
	*match = md_len == rec->data_len && CRYPTO_memcmp(md, rec->data, md_len) == 0;
	return DANEMSG_OK;
}

/* Does the record match the certificate, or its SubjectPublicKeyInfo, per its selector? */
static danemsg_err cert_matches(const danemsg_tlsa *rec, X509 *cert, int *match)
{
	unsigned char *der = NULL;
	int der_len;
	danemsg_err err;

	*match = 0;
	if (rec->selector == DANEMSG_TLSA_SEL_CERT)
		der_len = i2d_X509(cert, &der);
	else
		der_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
	if (der_len <= 0) {
		/* A certificate that does not encode matches nothing. */
		ERR_clear_error();
		return DANEMSG_OK;
	}
	err = data_matches(rec, der, (size_t)der_len, match);
	OPENSSL_free(der);
	return err;
}

/*
 * Does ee chain up to a trust anchor of store, through the untrusted chain, with
 * valid signatures and dates (OpenSSL's RFC 5280 path validation), and name host
 * in a DNS subjectAltName? flags: extra X509_V_FLAG_*. With path (may be NULL),
 * the validated path (ee first, trust anchor last) is the caller's on success.
 */
static danemsg_err verify_path(X509_STORE *store, unsigned long flags, X509 *ee,
			       STACK_OF(X509) *chain, const char *host, size_t host_len, int *ok,
			       STACK_OF(X509) **path)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509_VERIFY_PARAM *param;
	danemsg_err err = DANEMSG_ERR_NOMEM;

	*ok = 0;
	if (!ctx || !X509_STORE_CTX_init(ctx, store, ee, chain))
		goto out;
	param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_flags(param, flags);
	X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS
						       | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
	if (!X509_VERIFY_PARAM_set1_host(param, host, host_len))
		goto out;
	*ok = X509_verify_cert(ctx) == 1;
	err = DANEMSG_OK;
	if (*ok && path && !(*path = X509_STORE_CTX_get1_chain(ctx))) {
		*ok = 0;
		err = DANEMSG_ERR_NOMEM;
	}
out:
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return err;
}

/*
 * Does ee chain up to anchor, as verify_path() checks? The anchor need not be
 * self-signed (RFC 7671 section 5.2: the TA is whatever the record designates),
 * hence X509_V_FLAG_PARTIAL_CHAIN.
 */
static danemsg_err chains_to_anchor(X509 *anchor, X509 *ee, STACK_OF(X509) *chain,
				    const char *host, size_t host_len, int *ok)
{
	X509_STORE *store = X509_STORE_new();
	danemsg_err err = DANEMSG_ERR_NOMEM;

	*ok = 0;
	if (store && X509_STORE_add_cert(store, anchor))
		err = verify_path(store, X509_V_FLAG_PARTIAL_CHAIN, ee, chain, host, host_len, ok,
				  NULL);
	X509_STORE_free(store);
	ERR_clear_error();
	return err;
}

/*
 * PKIX-TA and PKIX-EE (RFC 7671 sections 4.1, 4.2) need ee's Web PKI path, the same
 * for every record of a set: validated once, on first need.
 */
struct pkix_state {
	X509_STORE *store;      /* NULL: no Web PKI trust store, PKIX records never match */
	int done;
	STACK_OF(X509) *path;   /* ee first, trust anchor last; NULL if it does not validate */
};

static danemsg_err pkix_path(struct pkix_state *p, X509 *ee, STACK_OF(X509) *chain,
			     const char *host, size_t host_len)
{
	int ok;
	danemsg_err err;

	if (p->done || !p->store)
		return DANEMSG_OK;
	err = verify_path(p->store, 0, ee, chain, host, host_len, &ok, &p->path);
	p->done = err == DANEMSG_OK;
	return err;
}

/* PKIX-EE: the record matches ee, which validates to the store. PKIX-TA: the record
 * matches a CA certificate of ee's validated path (the trust anchor included). */
static danemsg_err match_pkix(const danemsg_tlsa *rec, struct pkix_state *p, X509 *ee,
			      STACK_OF(X509) *chain, const char *host, size_t host_len, int *ok)
{
	danemsg_err err = pkix_path(p, ee, chain, host, host_len);

	*ok = 0;
	if (err != DANEMSG_OK || !p->path)
		return err;
	if (rec->usage == DANEMSG_TLSA_PKIX_EE)
		return cert_matches(rec, ee, ok);
	for (int i = 1; i < sk_X509_num(p->path) && !*ok; i++) {
		err = cert_matches(rec, sk_X509_value(p->path, i), ok);
		if (err != DANEMSG_OK)
			return err;
	}
	return DANEMSG_OK;
}

static danemsg_err match_dane_ee(const danemsg_tlsa *rec, X509 *ee, int *ok)
{
	/* RFC 7671 section 5.1: the record binds the key; no name or date checks. */
	return cert_matches(rec, ee, ok);
}

/* chains_to_anchor() with the certificate a 2 0 0 record carries, parsed for the purpose. */
static danemsg_err chains_to_record(const danemsg_tlsa *rec, X509 *ee, STACK_OF(X509) *chain,
				    const char *host, size_t host_len, int *ok)
{
	X509 *anchor = NULL;
	danemsg_err err;

	*ok = 0;
	if (danemsg_tlsa_cert(rec, &anchor) != DANEMSG_OK)
		return DANEMSG_OK;   /* cannot happen to a usable record: matches nothing */
	err = chains_to_anchor(anchor, ee, chain, host, host_len, ok);
	X509_free(anchor);
	return err;
}

/* Is cert signed by the key a 2 1 0 record carries? */
static int signed_by_record(X509 *cert, const danemsg_tlsa *rec)
{
	EVP_PKEY *key = NULL;
	int ok = danemsg_tlsa_pkey(rec, &key) == DANEMSG_OK && X509_verify(cert, key) == 1;

	EVP_PKEY_free(key);
	ERR_clear_error();
	return ok;
}

static danemsg_err match_dane_ta(const danemsg_tlsa *rec, X509 *ee, STACK_OF(X509) *chain,
				 const char *host, size_t host_len, int *ok)
{
	int nchain = chain ? sk_X509_num(chain) : 0;
	X509 *top;
	danemsg_err err;

	*ok = 0;
	/* 2 0 0 carries the trust anchor itself: whether or not the chain repeats it. */
	if (rec->selector == DANEMSG_TLSA_SEL_CERT && rec->matching_type == DANEMSG_TLSA_MATCH_FULL)
		return chains_to_record(rec, ee, chain, host, host_len, ok);

	for (int i = 0; i < nchain; i++) {
		X509 *candidate = sk_X509_value(chain, i);
		int match;

		err = cert_matches(rec, candidate, &match);
		if (err != DANEMSG_OK)
			return err;
		if (!match)
			continue;
		err = chains_to_anchor(candidate, ee, chain, host, host_len, ok);
		if (err != DANEMSG_OK || *ok)
			return err;
	}

	/*
	 * 2 1 0 carries the trust anchor's key: the chain may stop below the TA
	 * certificate, so the top-most certificate (ee itself when there is no
	 * chain) must be signed by that key, and then serves as the anchor.
	 */
	if (rec->selector != DANEMSG_TLSA_SEL_SPKI || rec->matching_type != DANEMSG_TLSA_MATCH_FULL)
		return DANEMSG_OK;
	top = nchain > 0 ? sk_X509_value(chain, nchain - 1) : ee;
	if (!signed_by_record(top, rec))
		return DANEMSG_OK;
	return chains_to_anchor(top, ee, chain, host, host_len, ok);
}

/* The reference identifier: name without its trailing dot. */
static danemsg_err host_of(const char *name, size_t *host_len)
{
	size_t len = strnlen(name, TLSA_NAME_MAX + 1);

	if (len > TLSA_NAME_MAX)
		return DANEMSG_ERR_INVALID_ARG;
	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > TLSA_NAME_MAX - 1)
		return DANEMSG_ERR_INVALID_ARG;
	*host_len = len;
	return DANEMSG_OK;
}

static danemsg_err match_record(const danemsg_tlsa *rec, struct pkix_state *pkix, X509 *ee,
				STACK_OF(X509) *chain, const char *name, size_t host_len, int *ok)
{
	switch (rec->usage) {
	case DANEMSG_TLSA_DANE_EE:
	case DANEMSG_TLSA_PKIX_CD:   /* validated when the resolver made it usable */
		return match_dane_ee(rec, ee, ok);
	case DANEMSG_TLSA_DANE_TA:
		return match_dane_ta(rec, ee, chain, name, host_len, ok);
	default:
		return match_pkix(rec, pkix, ee, chain, name, host_len, ok);
	}
}

danemsg_err danemsg_tlsa_match_cert_pkix(const danemsg_tlsa *recs, size_t n, const char *name,
					 X509 *ee, STACK_OF(X509) *chain, X509_STORE *pkix_store,
					 size_t *matched)
{
	struct pkix_state pkix = {pkix_store, 0, NULL};
	struct agility ag;
	size_t host_len;
	int any_usable = 0, ok = 0;
	danemsg_err err = DANEMSG_OK;

	if (!recs || !name || !ee || tlsa_array_check(recs, n, NULL, 0))
		return DANEMSG_ERR_INVALID_ARG;
	if (host_of(name, &host_len) != DANEMSG_OK)
		return DANEMSG_ERR_INVALID_ARG;

	agility_init(&ag, recs, n);
	for (size_t i = 0; i < n && !ok && err == DANEMSG_OK; i++) {
		danemsg_tlsa rec;

		tlsa_at(recs, i, &rec);
		if (!record_usable(&rec))
			continue;
		any_usable = 1;
		if (!agility_allows(&ag, &rec))
			continue;
		err = match_record(&rec, &pkix, ee, chain, name, host_len, &ok);
		if (ok && matched)
			*matched = i;
	}
	sk_X509_pop_free(pkix.path, X509_free);
	if (err != DANEMSG_OK || ok)
		return err;
	return any_usable ? DANEMSG_ERR_NO_MATCH : DANEMSG_ERR_NO_USABLE_RECORD;
}

danemsg_err danemsg_tlsa_match_cert(const danemsg_tlsa *recs, size_t n, const char *name,
				    X509 *ee, STACK_OF(X509) *chain, size_t *matched)
{
	return danemsg_tlsa_match_cert_pkix(recs, n, name, ee, chain, NULL, matched);
}

/* A bare key: DANE-EE records that carry the key or certificate, or an SPKI digest. */
static danemsg_err pkey_matches(const danemsg_tlsa *rec, EVP_PKEY *pkey, int *ok)
{
	unsigned char *der = NULL;
	int der_len;
	danemsg_err err;

	*ok = 0;
	if (rec->usage != DANEMSG_TLSA_DANE_EE)
		return DANEMSG_OK;
	if (rec->matching_type == DANEMSG_TLSA_MATCH_FULL) {
		EVP_PKEY *mine = NULL;
		*ok = danemsg_tlsa_pkey(rec, &mine) == DANEMSG_OK && EVP_PKEY_eq(mine, pkey) == 1;
		EVP_PKEY_free(mine);
		ERR_clear_error();
		return DANEMSG_OK;
	}
	if (rec->selector != DANEMSG_TLSA_SEL_SPKI)
		return DANEMSG_OK;
	der_len = i2d_PUBKEY(pkey, &der);
	if (der_len <= 0) {
		ERR_clear_error();
		return DANEMSG_OK;
	}
	err = data_matches(rec, der, (size_t)der_len, ok);
	OPENSSL_free(der);
	return err;
}

danemsg_err danemsg_tlsa_match_pkey(const danemsg_tlsa *recs, size_t n, EVP_PKEY *pkey,
				    size_t *matched)
{
	struct agility ag;
	int any_usable = 0;

	if (!recs || !pkey || tlsa_array_check(recs, n, NULL, 0))
		return DANEMSG_ERR_INVALID_ARG;

	agility_init(&ag, recs, n);
	for (size_t i = 0; i < n; i++) {
		danemsg_tlsa rec;
		danemsg_err err;
		int ok;

		tlsa_at(recs, i, &rec);
		if (!record_usable(&rec))
			continue;
		any_usable = 1;
		if (!agility_allows(&ag, &rec))
			continue;
		err = pkey_matches(&rec, pkey, &ok);
		if (err != DANEMSG_OK)
			return err;
		if (ok) {
			if (matched)
				*matched = i;
			return DANEMSG_OK;
		}
	}
	return any_usable ? DANEMSG_ERR_NO_MATCH : DANEMSG_ERR_NO_USABLE_RECORD;
}

/* Reads a decimal 0..255 after optional blanks; NULL if there is none. */
static const char *parse_octet(const char *p, uint8_t *out)
{
	unsigned v = 0;
	while (*p == ' ' || *p == '\t')
		p++;
	if (!isdigit((unsigned char)*p))
		return NULL;
	for (; isdigit((unsigned char)*p); p++)
		if ((v = v * 10 + (unsigned)(*p - '0')) > 255)
			return NULL;
	*out = (uint8_t)v;
	return p;
}

danemsg_err danemsg_tlsa_rdata_from_text(const char *text, uint8_t *buf, size_t buflen,
					 size_t *outlen)
{
	uint8_t field[3];
	const char *p = text;
	size_t digits = 0;
	if (!text || !outlen || (!buf && buflen))
		return DANEMSG_ERR_INVALID_ARG;
	for (int i = 0; i < 3; i++)
		if (!(p = parse_octet(p, &field[i])) || (*p != ' ' && *p != '\t'))
			return DANEMSG_ERR_MALFORMED;
	for (const char *q = p; *q; q++) {
		if (*q == ' ' || *q == '\t')
			continue;
		if (!isxdigit((unsigned char)*q))
			return DANEMSG_ERR_MALFORMED;
		if (++digits > 2 * (TLSA_RDATA_MAX - 3))
			return DANEMSG_ERR_TOO_LARGE;
	}
	if (digits == 0 || digits % 2)
		return DANEMSG_ERR_MALFORMED;
	*outlen = 3 + digits / 2;
	if (buflen < *outlen)
		return DANEMSG_ERR_BUFFER_TOO_SMALL;
	memcpy(buf, field, 3);
	digits = 0;
	for (; *p; p++) {
		int v = OPENSSL_hexchar2int((unsigned char)*p);
		if (v < 0)
			continue;       /* a blank: anything else was refused above */
		buf[3 + digits / 2] = digits % 2 ? (uint8_t)(buf[3 + digits / 2] | v) :
				      (uint8_t)(v << 4);
		digits++;
	}
	return DANEMSG_OK;
}

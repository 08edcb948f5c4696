/*
 * libFuzzer target for TLSA RDATA (outside data: it comes from DNS).
 * The input is parsed as one RDATA, then read as a record set that is
 * matched against a fixed CA -> end-entity pair made once at start-up.
 *
 * Set layout: one flags octet, then records as [2-octet length][RDATA].
 * Flags bit 0 adds a record made from a fixture certificate, so that the
 * matching paths (digests, chain verification, name checks) are reached:
 * bits 1-2 usage, bit 3 selector, bits 4-5 matching type, bit 6 the CA
 * rather than the end-entity.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <danemsg/tlsa.h>

#define MAX_RECORDS 8
#define EE_NAME "ee.fuzz.example"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
	EVP_PKEY *ca_key, *ee_key;
	X509 *ca, *ee;
	STACK_OF(X509) *chain;
} fx;

static void require(int ok)
{
	if (!ok)
		abort();
}

static void add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);

	require(ext && X509_add_ext(x, ext, -1));
	X509_EXTENSION_free(ext);
}

static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key)
{
	X509 *x = X509_new();
	X509V3_CTX ctx;

	require(x && X509_set_version(x, X509_VERSION_3));
	require(ASN1_INTEGER_set(X509_get_serialNumber(x), issuer ? 2 : 1));
	require(X509_time_adj_ex(X509_getm_notBefore(x), -1, 0, NULL) != NULL);
	require(X509_time_adj_ex(X509_getm_notAfter(x), 3650, 0, NULL) != NULL);
	require(X509_set_pubkey(x, key));
	require(X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
					   (const unsigned char *)cn, -1, -1, 0));
	require(X509_set_issuer_name(x, X509_get_subject_name(issuer ? issuer : x)));
	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	add_ext(x, &ctx, NID_basic_constraints, issuer ? "CA:FALSE" : "critical,CA:TRUE");
	if (issuer)
		add_ext(x, &ctx, NID_subject_alt_name, "DNS:" EE_NAME);
	require(X509_sign(x, issuer ? issuer_key : key, EVP_sha256()) > 0);
	return x;
}

static void fixture_init(void)
{
	if (fx.ee)
		return;
	fx.ca_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	fx.ee_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	require(fx.ca_key && fx.ee_key);
	fx.ca = make_cert(fx.ca_key, "fuzz CA", NULL, NULL);
	fx.ee = make_cert(fx.ee_key, "fuzz EE", fx.ca, fx.ca_key);
	fx.chain = sk_X509_new_null();
	require(fx.chain && sk_X509_push(fx.chain, fx.ca) > 0);
}

/* A record for a fixture certificate, with the header the flags choose. */
static int parse_fixture_record(uint8_t flags, danemsg_tlsa *rec)
{
	uint8_t selector = (flags >> 3) & 1, matching = (flags >> 4) & 3;
	X509 *cert = flags & 0x40 ? fx.ca : fx.ee;
	unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	const unsigned char *assoc;
	int der_len;
	size_t assoc_len;
	uint8_t *rdata;
	danemsg_err err;

	if (selector == DANEMSG_TLSA_SEL_CERT)
		der_len = i2d_X509(cert, &der);
	else
		der_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
	require(der_len > 0);
	assoc = der;
	assoc_len = (size_t)der_len;
	if (matching == DANEMSG_TLSA_MATCH_SHA256 || matching == DANEMSG_TLSA_MATCH_SHA512) {
		const EVP_MD *type = matching == DANEMSG_TLSA_MATCH_SHA256 ? EVP_sha256()
									  : EVP_sha512();

		require(EVP_Digest(der, assoc_len, md, &md_len, type, NULL));
		assoc = md;
		assoc_len = md_len;
	}
	rdata = malloc(3 + assoc_len);
	require(rdata != NULL);
	rdata[0] = (flags >> 1) & 3;
	rdata[1] = selector;
	rdata[2] = matching;
	memcpy(rdata + 3, assoc, assoc_len);
	err = danemsg_tlsa_parse(rdata, 3 + assoc_len, rec);
	free(rdata);
	OPENSSL_free(der);
	return err == DANEMSG_OK;
}

static void check_record(const danemsg_tlsa *rec)
{
	/* Invariants the callers rely on. */
	require(rec->usable ? rec->unusable_reason == NULL : rec->unusable_reason != NULL);
	require(!rec->has_cert || rec->spki_len);
	require(rec->spki_off <= rec->data_len && rec->spki_len <= rec->data_len - rec->spki_off);
	require(rec->data_len == 0 || rec->data != NULL);
	if (rec->usable && rec->spki_len) {
		/* The facts kept must give back the certificate and key on demand. */
		X509 *cert = NULL;
		EVP_PKEY *key = NULL;
		require(danemsg_tlsa_pkey(rec, &key) == DANEMSG_OK);
		require(!rec->has_cert || danemsg_tlsa_cert(rec, &cert) == DANEMSG_OK);
		require(!cert || EVP_PKEY_eq(X509_get0_pubkey(cert), key) == 1);
		X509_free(cert);
		EVP_PKEY_free(key);
	}
	require(danemsg_tlsa_usage_name(rec->usage) != NULL);
	require(danemsg_tlsa_selector_name(rec->selector) != NULL);
	require(danemsg_tlsa_matching_name(rec->matching_type) != NULL);
}

static void check_result(danemsg_err err, size_t matched, size_t n)
{
	require(err == DANEMSG_OK || err == DANEMSG_ERR_NO_MATCH
		|| err == DANEMSG_ERR_NO_USABLE_RECORD);
	require(err != DANEMSG_OK || matched < n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	danemsg_tlsa recs[MAX_RECORDS + 1];
	const uint8_t *p;
	size_t n = 0, left, matched = 0;
	danemsg_err err;
	uint8_t flags;

	fixture_init();
	for (size_t i = 0; i < MAX_RECORDS + 1; i++)
		danemsg_tlsa_init(&recs[i]);

	/* The whole input as one RDATA. */
	err = danemsg_tlsa_parse(data, size, &recs[0]);
	require(err == DANEMSG_OK || (err == DANEMSG_ERR_MALFORMED && size < 3));
	if (err == DANEMSG_OK)
		check_record(&recs[0]);
	else
		require(!recs[0].usable && !recs[0].data && !recs[0].spki_len);
	danemsg_tlsa_clear(&recs[0]);

	/* The input as a record set. */
	if (size == 0)
		return 0;
	flags = data[0];
	p = data + 1;
	left = size - 1;
	while (n < MAX_RECORDS && left >= 2) {
		size_t len = (size_t)p[0] << 8 | p[1];

		p += 2;
		left -= 2;
		if (len > left)
			len = left;
		if (danemsg_tlsa_parse(p, len, &recs[n]) == DANEMSG_OK)
			check_record(&recs[n++]);
		p += len;
		left -= len;
	}
	if ((flags & 1) && parse_fixture_record(flags, &recs[n]))
		check_record(&recs[n++]);

	err = danemsg_tlsa_match_cert(recs, n, EE_NAME ".", fx.ee, fx.chain, &matched);
	check_result(err, matched, n);
	err = danemsg_tlsa_match_cert(recs, n, EE_NAME, fx.ee, NULL, &matched);
	check_result(err, matched, n);
	err = danemsg_tlsa_match_pkey(recs, n, fx.ee_key, &matched);
	check_result(err, matched, n);

	for (size_t i = 0; i < n; i++)
		danemsg_tlsa_clear(&recs[i]);
	return 0;
}

/* TLSA parsing and DANE matching against certificates and keys made here with OpenSSL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <danemsg/tlsa.h>

#include "jose.h"
#include "testutil.h"

/* Keys, certificates and chains shared by every test, made once by the group setup. */
static struct fixtures {
	EVP_PKEY *k_p256, *k_ed25519, *k_rsa, *k_ca, *k_ica, *k_other_ca, *k_ee;
	X509 *ee_p256, *ee_ed25519, *ee_rsa;   /* self-signed, SAN alice/bob/carol */
	X509 *ca, *ica, *other_ca;             /* ca -> ica; other_ca unrelated */
	X509 *ca_ee;                           /* under ca, SAN dave */
	X509 *ca_ee_expired;                   /* under ca, SAN dave, expired */
	X509 *ca_ee_wrongname;                 /* under ca, SAN eve (another identity) */
	X509 *ca_ee_cn_only;                   /* under ca, CN dave, no SAN */
	X509 *ca_ee_partial_wildcard;          /* under ca, SAN d*.mail.example.org */
	X509 *ca_ee_wildcard;                  /* under ca, SAN *.mail.example.org */
	X509 *ica_ee;                          /* under ica, SAN dave */
	X509 *other_ee;                        /* under other_ca, SAN dave */
	STACK_OF(X509) *chain_ca, *chain_ica, *chain_other;
} F;

#define DAVE "dave.example.org"

struct cert_spec {
	EVP_PKEY *key;
	const char *cn;
	const char *san;        /* "DNS:..." or NULL for none */
	X509 *issuer;           /* NULL: self-signed */
	EVP_PKEY *issuer_key;
	long not_before_days, not_after_days;
	int ca;
};

static void add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);

	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

static X509 *make_cert(const struct cert_spec *s)
{
	static long serial = 1;
	X509 *x = X509_new();
	X509_NAME *subject;
	X509V3_CTX ctx;
	EVP_PKEY *signer = s->issuer ? s->issuer_key : s->key;
	const EVP_MD *md;

	assert_non_null(x);
	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial++), 1);
	assert_non_null(X509_time_adj_ex(X509_getm_notBefore(x), (int)s->not_before_days, 0, NULL));
	assert_non_null(X509_time_adj_ex(X509_getm_notAfter(x), (int)s->not_after_days, 0, NULL));
	assert_int_equal(X509_set_pubkey(x, s->key), 1);
	subject = X509_get_subject_name(x);
	assert_int_equal(X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
						    (const unsigned char *)s->cn, -1, -1, 0), 1);
	assert_int_equal(X509_set_issuer_name(x, s->issuer ? X509_get_subject_name(s->issuer)
							    : subject), 1);
	X509V3_set_ctx(&ctx, s->issuer ? s->issuer : x, x, NULL, NULL, 0);
	add_ext(x, &ctx, NID_basic_constraints, s->ca ? "critical,CA:TRUE" : "CA:FALSE");
	if (s->ca)
		add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
	add_ext(x, &ctx, NID_subject_key_identifier, "hash");
	if (s->issuer)
		add_ext(x, &ctx, NID_authority_key_identifier, "keyid");
	if (s->san)
		add_ext(x, &ctx, NID_subject_alt_name, s->san);
	/* Ed25519 signs without a separate digest. */
	md = EVP_PKEY_is_a(signer, "ED25519") ? NULL : EVP_sha256();
	assert_true(X509_sign(x, signer, md) > 0);
	return x;
}

static X509 *self_signed(EVP_PKEY *key, const char *cn, const char *san)
{
	struct cert_spec s = {key, cn, san, NULL, NULL, -1, 365, 0};

	return make_cert(&s);
}

static X509 *issued(EVP_PKEY *key, const char *cn, const char *san, X509 *issuer,
		    EVP_PKEY *issuer_key, int ca)
{
	struct cert_spec s = {key, cn, san, issuer, issuer_key, -1, 365, ca};

	return make_cert(&s);
}

static STACK_OF(X509) *chain_of(X509 *cert)
{
	STACK_OF(X509) *chain = sk_X509_new_null();

	assert_non_null(chain);
	assert_true(sk_X509_push(chain, cert) > 0);
	return chain;
}

static int setup_fixtures(void **state)
{
	struct cert_spec expired;

	F.k_p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	F.k_ed25519 = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	F.k_rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	F.k_ca = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	F.k_ica = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	F.k_other_ca = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	F.k_ee = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (!F.k_p256 || !F.k_ed25519 || !F.k_rsa || !F.k_ca || !F.k_ica || !F.k_other_ca
	    || !F.k_ee)
		return -1;

	F.ee_p256 = self_signed(F.k_p256, "alice", "DNS:alice.example.org");
	F.ee_ed25519 = self_signed(F.k_ed25519, "bob", "DNS:bob.example.org");
	F.ee_rsa = self_signed(F.k_rsa, "carol", "DNS:carol.example.org");

	F.ca = issued(F.k_ca, "Test CA", NULL, NULL, NULL, 1);
	F.ica = issued(F.k_ica, "Test intermediate", NULL, F.ca, F.k_ca, 1);
	F.other_ca = issued(F.k_other_ca, "Other CA", NULL, NULL, NULL, 1);

	F.ca_ee = issued(F.k_ee, "dave", "DNS:" DAVE, F.ca, F.k_ca, 0);
	expired = (struct cert_spec){F.k_ee, "dave", "DNS:" DAVE, F.ca, F.k_ca, -30, -1, 0};
	F.ca_ee_expired = make_cert(&expired);
	F.ca_ee_wrongname = issued(F.k_ee, "eve", "DNS:eve.example.org", F.ca, F.k_ca, 0);
	F.ca_ee_cn_only = issued(F.k_ee, DAVE, NULL, F.ca, F.k_ca, 0);
	F.ca_ee_partial_wildcard = issued(F.k_ee, "w", "DNS:d*.mail.example.org", F.ca, F.k_ca, 0);
	F.ca_ee_wildcard = issued(F.k_ee, "w", "DNS:*.mail.example.org", F.ca, F.k_ca, 0);
	F.ica_ee = issued(F.k_ee, "dave", "DNS:" DAVE, F.ica, F.k_ica, 0);
	F.other_ee = issued(F.k_ee, "dave", "DNS:" DAVE, F.other_ca, F.k_other_ca, 0);

	F.chain_ca = chain_of(F.ca);
	F.chain_ica = chain_of(F.ica);
	F.chain_other = chain_of(F.other_ca);
	*state = &F;
	return 0;
}

static int teardown_fixtures(void **state)
{
	X509 *certs[] = {F.ee_p256, F.ee_ed25519, F.ee_rsa, F.ca, F.ica, F.other_ca, F.ca_ee,
			 F.ca_ee_expired, F.ca_ee_wrongname, F.ca_ee_cn_only,
			 F.ca_ee_partial_wildcard, F.ca_ee_wildcard, F.ica_ee, F.other_ee};
	EVP_PKEY *keys[] = {F.k_p256, F.k_ed25519, F.k_rsa, F.k_ca, F.k_ica, F.k_other_ca, F.k_ee};

	sk_X509_free(F.chain_ca);
	sk_X509_free(F.chain_ica);
	sk_X509_free(F.chain_other);
	for (size_t i = 0; i < sizeof(certs) / sizeof(certs[0]); i++)
		X509_free(certs[i]);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		EVP_PKEY_free(keys[i]);
	memset(&F, 0, sizeof(F));
	return 0;
}

/* Record builders. */

static void parse_bytes(danemsg_tlsa *rec, const uint8_t *rdata, size_t len)
{
	danemsg_tlsa_init(rec);
	assert_int_equal(danemsg_tlsa_parse(rdata, len, rec), DANEMSG_OK);
}

/* RDATA "usage selector matching data" with data made from cert as the record says. */
static uint8_t *rdata_for(uint8_t usage, uint8_t selector, uint8_t matching, X509 *cert,
			  size_t *len)
{
	unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	const unsigned char *data;
	int der_len;
	size_t data_len;
	uint8_t *rdata;

	if (selector == DANEMSG_TLSA_SEL_CERT)
		der_len = i2d_X509(cert, &der);
	else
		der_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
	assert_true(der_len > 0);
	data = der;
	data_len = (size_t)der_len;
	if (matching == DANEMSG_TLSA_MATCH_SHA256 || matching == DANEMSG_TLSA_MATCH_SHA512) {
		assert_int_equal(EVP_Digest(der, (size_t)der_len, md, &md_len,
					    matching == DANEMSG_TLSA_MATCH_SHA256 ? EVP_sha256()
										  : EVP_sha512(),
					    NULL), 1);
		data = md;
		data_len = md_len;
	}
	rdata = malloc(3 + data_len);
	assert_non_null(rdata);
	rdata[0] = usage;
	rdata[1] = selector;
	rdata[2] = matching;
	memcpy(rdata + 3, data, data_len);
	OPENSSL_free(der);
	*len = 3 + data_len;
	return rdata;
}

static void parse_for(danemsg_tlsa *rec, uint8_t usage, uint8_t selector, uint8_t matching,
		      X509 *cert)
{
	size_t len;
	uint8_t *rdata = rdata_for(usage, selector, matching, cert, &len);

	parse_bytes(rec, rdata, len);
	free(rdata);
}

/* A record with a valid header and len octets of data (a counting pattern). */
static void parse_filler(danemsg_tlsa *rec, uint8_t usage, uint8_t selector, uint8_t matching,
			 size_t len)
{
	uint8_t *rdata = malloc(3 + len);

	assert_non_null(rdata);
	rdata[0] = usage;
	rdata[1] = selector;
	rdata[2] = matching;
	for (size_t i = 0; i < len; i++)
		rdata[3 + i] = (uint8_t)(i * 7 + 1);
	parse_bytes(rec, rdata, 3 + len);
	free(rdata);
}

static void clear_all(danemsg_tlsa *recs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		danemsg_tlsa_clear(&recs[i]);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void expect_cert_match(const danemsg_tlsa *recs, size_t n, const char *name, X509 *ee,
			      STACK_OF(X509) *chain, size_t index)
{
	size_t matched = (size_t)-1;

	assert_int_equal(danemsg_tlsa_match_cert(recs, n, name, ee, chain, &matched), DANEMSG_OK);
	assert_int_equal(matched, index);
}

static void expect_cert_result(const danemsg_tlsa *recs, size_t n, const char *name, X509 *ee,
			       STACK_OF(X509) *chain, danemsg_err expected)
{
	size_t matched = 12345;

	assert_int_equal(danemsg_tlsa_match_cert(recs, n, name, ee, chain, &matched), expected);
	assert_int_equal(matched, 12345); /* untouched on failure */
}

static void expect_pkey_match(const danemsg_tlsa *recs, size_t n, EVP_PKEY *pkey, size_t index)
{
	size_t matched = (size_t)-1;

	assert_int_equal(danemsg_tlsa_match_pkey(recs, n, pkey, &matched), DANEMSG_OK);
	assert_int_equal(matched, index);
}

static void expect_pkey_result(const danemsg_tlsa *recs, size_t n, EVP_PKEY *pkey,
			       danemsg_err expected)
{
	assert_int_equal(danemsg_tlsa_match_pkey(recs, n, pkey, NULL), expected);
}

/* One record per combination: the matching certificate matches, another one does not. */
struct match_case {
	uint8_t usage, selector, matching;
	X509 **record_from;
	const char *name;
	X509 **good;
	STACK_OF(X509) **good_chain;
	X509 **bad;
	STACK_OF(X509) **bad_chain;
};

static const struct match_case match_cases[] = {
	{3, 0, 0, &F.ee_p256, "alice.example.org", &F.ee_p256, NULL, &F.ee_ed25519, NULL},
	{3, 0, 1, &F.ee_ed25519, "bob.example.org", &F.ee_ed25519, NULL, &F.ee_rsa, NULL},
	{3, 0, 2, &F.ee_rsa, "carol.example.org", &F.ee_rsa, NULL, &F.ee_p256, NULL},
	{3, 1, 0, &F.ee_ed25519, "bob.example.org", &F.ee_ed25519, NULL, &F.ee_p256, NULL},
	{3, 1, 1, &F.ee_rsa, "carol.example.org", &F.ee_rsa, NULL, &F.ee_ed25519, NULL},
	{3, 1, 2, &F.ee_p256, "alice.example.org", &F.ee_p256, NULL, &F.ee_rsa, NULL},
	/* DANE-EE binds the key, not the chain: a chain beside ee changes nothing. */
	{3, 1, 1, &F.ca_ee, DAVE, &F.ca_ee, &F.chain_ca, &F.ca, NULL},
	{2, 0, 0, &F.ca, DAVE, &F.ca_ee, &F.chain_ca, &F.other_ee, &F.chain_other},
	{2, 0, 1, &F.ca, DAVE, &F.ca_ee, &F.chain_ca, &F.other_ee, &F.chain_other},
	{2, 0, 2, &F.ca, DAVE, &F.ca_ee, &F.chain_ca, &F.other_ee, &F.chain_other},
	{2, 1, 1, &F.ca, DAVE, &F.ca_ee, &F.chain_ca, &F.other_ee, &F.chain_other},
	{2, 1, 2, &F.ca, DAVE, &F.ca_ee, &F.chain_ca, &F.other_ee, &F.chain_other},
	{2, 1, 0, &F.ca, DAVE, &F.ca_ee, &F.chain_ca, &F.other_ee, &F.chain_other},
	/* The trust anchor's certificate is not in the chain. */
	{2, 1, 0, &F.ca, DAVE, &F.ica_ee, &F.chain_ica, &F.other_ee, &F.chain_other},
	{2, 1, 0, &F.ca, DAVE, &F.ca_ee, NULL, &F.other_ee, NULL},
	{2, 0, 0, &F.ca, DAVE, &F.ca_ee, NULL, &F.other_ee, NULL},
	{2, 0, 0, &F.ca, DAVE, &F.ica_ee, &F.chain_ica, &F.other_ee, &F.chain_other},
	/* A DANE-TA record for the intermediate: the chain may go on above it. */
	{2, 0, 1, &F.ica, DAVE, &F.ica_ee, &F.chain_ica, &F.ca_ee, &F.chain_ca},
	/* The reference name: trailing dot and case do not matter. */
	{2, 1, 1, &F.ca, DAVE ".", &F.ca_ee, &F.chain_ca, &F.other_ee, &F.chain_other},
	{2, 0, 1, &F.ca, "Dave.EXAMPLE.org", &F.ca_ee, &F.chain_ca, &F.other_ee, &F.chain_other},
};

static void test_match_table(void **state)
{
	for (size_t i = 0; i < N(match_cases); i++) {
		const struct match_case *c = &match_cases[i];
		STACK_OF(X509) *good_chain = c->good_chain ? *c->good_chain : NULL;
		STACK_OF(X509) *bad_chain = c->bad_chain ? *c->bad_chain : NULL;
		danemsg_tlsa rec;

		print_message("case %zu: %u %u %u\n", i, c->usage, c->selector, c->matching);
		parse_for(&rec, c->usage, c->selector, c->matching, *c->record_from);
		assert_true(rec.usable);
		assert_null(rec.unusable_reason);
		expect_cert_match(&rec, 1, c->name, *c->good, good_chain, 0);
		expect_cert_result(&rec, 1, c->name, *c->bad, bad_chain, DANEMSG_ERR_NO_MATCH);
		/* *matched is optional */
		assert_int_equal(danemsg_tlsa_match_cert(&rec, 1, c->name, *c->good, good_chain,
							 NULL), DANEMSG_OK);
		danemsg_tlsa_clear(&rec);
	}
}

static void test_parse_fields_and_objects(void **state)
{
	danemsg_tlsa rec;
	EVP_PKEY *key = X509_get0_pubkey(F.ee_p256);

	X509 *cert = NULL;
	EVP_PKEY *parsed = NULL;
	char x5t[JOSE_THUMBPRINT_SIZE];

	parse_for(&rec, 3, 0, 0, F.ee_p256);
	assert_int_equal(rec.usage, 3);
	assert_int_equal(rec.selector, 0);
	assert_int_equal(rec.matching_type, 0);
	/* the facts, taken once; the objects on demand */
	assert_true(rec.has_cert);
	assert_int_equal(jose_x5t_s256(F.ee_p256, x5t), DANEMSG_OK);
	assert_string_equal(rec.x5t_s256, x5t);
	assert_int_equal(rec.not_before, tu_asn1_seconds(X509_get0_notBefore(F.ee_p256)));
	assert_int_equal(rec.not_after, tu_asn1_seconds(X509_get0_notAfter(F.ee_p256)));
	assert_true(rec.not_before < rec.not_after);
	assert_int_equal(rec.key_usage, X509_get_key_usage(F.ee_p256));
	assert_int_equal(danemsg_tlsa_cert(&rec, &cert), DANEMSG_OK);
	assert_int_equal(X509_cmp(cert, F.ee_p256), 0);
	assert_int_equal(danemsg_tlsa_pkey(&rec, &parsed), DANEMSG_OK);
	assert_int_equal(EVP_PKEY_eq(parsed, key), 1);
	X509_free(cert);
	EVP_PKEY_free(parsed);
	danemsg_tlsa_clear(&rec);
	assert_false(rec.has_cert);
	assert_int_equal(rec.spki_len, 0);
	assert_null(rec.data);
	assert_int_equal(rec.data_len, 0);
	assert_int_equal(danemsg_tlsa_pkey(&rec, &parsed), DANEMSG_ERR_NOT_FOUND);

	parse_for(&rec, 2, 1, 0, F.ee_ed25519);
	assert_false(rec.has_cert);
	assert_string_equal(rec.x5t_s256, "");
	assert_int_equal(rec.spki_off, 0);
	assert_int_equal(rec.spki_len, rec.data_len);
	assert_int_equal(rec.key_usage, DANEMSG_TLSA_KEY_USAGE_ANY);
	assert_int_equal(danemsg_tlsa_cert(&rec, &cert), DANEMSG_ERR_NOT_FOUND);
	assert_int_equal(danemsg_tlsa_pkey(&rec, &parsed), DANEMSG_OK);
	assert_int_equal(EVP_PKEY_eq(parsed, F.k_ed25519), 1);
	EVP_PKEY_free(parsed);
	danemsg_tlsa_clear(&rec);

	parse_for(&rec, 3, 1, 2, F.ee_rsa);
	assert_true(rec.usable);
	assert_false(rec.has_cert);
	assert_int_equal(rec.spki_len, 0);
	assert_int_equal(danemsg_tlsa_pkey(&rec, &parsed), DANEMSG_ERR_NOT_FOUND);
	assert_int_equal(rec.data_len, 64);
	danemsg_tlsa_clear(&rec);
	danemsg_tlsa_clear(&rec); /* twice is fine */
}

/* Keys are imported from their bits where the algorithm allows (not through OpenSSL's
 * slow decoders): every type must come back equal to what OpenSSL's decoders give, in a
 * bare key record and in a certificate; a P-256 point off the curve must not. */
static void test_keys_import_as_decoded(void **state)
{
	static const char *const types[] = {"P-256", "P-384", "P-521", "ED25519", "X25519",
					    "ED448", "RSA2048"};
	(void)state;
	for (size_t i = 0; i < N(types); i++) {
		EVP_PKEY *key = strcmp(types[i], "P-384") && strcmp(types[i], "P-521") ?
			tu_key(types[i]) : EVP_PKEY_Q_keygen(NULL, NULL, "EC", types[i]);
		unsigned char *der = NULL;
		int len = i2d_PUBKEY(key, &der);
		uint8_t *rdata = malloc(3 + (size_t)len);
		danemsg_tlsa rec;
		EVP_PKEY *got = NULL, *decoded;
		const unsigned char *p = der;

		print_message("%s\n", types[i]);
		assert_non_null(rdata);
		rdata[0] = 3;
		rdata[1] = 1;
		rdata[2] = 0;
		memcpy(rdata + 3, der, (size_t)len);
		parse_bytes(&rec, rdata, 3 + (size_t)len);
		assert_true(rec.usable);
		assert_int_equal(danemsg_tlsa_pkey(&rec, &got), DANEMSG_OK);
		assert_non_null(decoded = d2i_PUBKEY(NULL, &p, len));
		assert_int_equal(EVP_PKEY_eq(got, decoded), 1);
		assert_int_equal(EVP_PKEY_eq(got, key), 1);
		assert_int_equal(EVP_PKEY_get_bits(got), EVP_PKEY_get_bits(key));
		EVP_PKEY_free(got);
		EVP_PKEY_free(decoded);
		danemsg_tlsa_clear(&rec);
		if (!strcmp(types[i], "P-256")) {
			/* the point's last octet changed: off the curve (as good as certain) */
			rdata[3 + len - 1] ^= 0x01;
			parse_bytes(&rec, rdata, 3 + (size_t)len);
			assert_false(rec.usable);
			assert_string_equal(rec.unusable_reason, "public key does not parse");
			danemsg_tlsa_clear(&rec);
		}
		if (strcmp(types[i], "X25519") && strcmp(types[i], "ED448")) {   /* tu_cert signs */
			X509 *cert = tu_cert(key, "alice.example.org", 1);
			parse_for(&rec, 3, 0, 0, cert);
			assert_true(rec.usable);
			/* tu_cert sets keyUsage: read as OpenSSL reads it */
			assert_int_equal(rec.key_usage, X509_get_key_usage(cert));
			assert_int_not_equal(rec.key_usage, DANEMSG_TLSA_KEY_USAGE_ANY);
			assert_int_equal(danemsg_tlsa_pkey(&rec, &got), DANEMSG_OK);
			assert_int_equal(EVP_PKEY_eq(got, key), 1);
			EVP_PKEY_free(got);
			danemsg_tlsa_clear(&rec);
			X509_free(cert);
		}
		free(rdata);
		OPENSSL_free(der);
		EVP_PKEY_free(key);
	}
}

static void test_parse_copies_data(void **state)
{
	size_t len;
	uint8_t *rdata = rdata_for(3, 1, 1, F.ee_p256, &len);
	danemsg_tlsa rec;

	parse_bytes(&rec, rdata, len);
	assert_ptr_not_equal(rec.data, rdata + 3);
	assert_int_equal(rec.data_len, len - 3);
	assert_memory_equal(rec.data, rdata + 3, len - 3);
	memset(rdata, 0, len);
	free(rdata);
	expect_cert_match(&rec, 1, "alice.example.org", F.ee_p256, NULL, 0);
	danemsg_tlsa_clear(&rec);
}

static void test_parse_short_rdata_is_malformed(void **state)
{
	const uint8_t two[] = {3, 1};
	danemsg_tlsa rec;

	memset(&rec, 0xa5, sizeof(rec));
	rec.struct_size = sizeof(rec);
	assert_int_equal(danemsg_tlsa_parse(two, sizeof(two), &rec), DANEMSG_ERR_MALFORMED);
	assert_null(rec.data);
	assert_false(rec.has_cert);
	assert_int_equal(rec.spki_len, 0);
	assert_false(rec.usable);
	assert_int_equal(danemsg_tlsa_parse(two, 0, &rec), DANEMSG_ERR_MALFORMED);
	assert_int_equal(danemsg_tlsa_parse(NULL, 0, &rec), DANEMSG_ERR_MALFORMED);
	danemsg_tlsa_clear(&rec);
}

/* Each unusable record keeps usable=0 and a static reason, whatever the bytes. */
struct unusable_case {
	uint8_t usage, selector, matching;
	size_t filler_len;      /* data: filler octets... */
	X509 **cert;            /* ...or, when set, made from this cert, plus trailing octets */
	size_t trailing;
	const char *reason;
};

static const struct unusable_case unusable_cases[] = {
	{3, 1, 1, 31, NULL, 0, "SHA2-256 data is not 32 octets"},
	{3, 1, 1, 33, NULL, 0, "SHA2-256 data is not 32 octets"},
	{3, 1, 2, 63, NULL, 0, "SHA2-512 data is not 64 octets"},
	{3, 1, 2, 32, NULL, 0, "SHA2-512 data is not 64 octets"},
	{3, 0, 0, 40, NULL, 0, "certificate does not parse"},
	{3, 1, 0, 40, NULL, 0, "public key does not parse"},
	{3, 0, 0, 0, &F.ee_p256, 1, "certificate does not parse"},
	{3, 1, 0, 0, &F.ee_p256, 1, "public key does not parse"},
	{7, 1, 1, 32, NULL, 0, "unknown certificate usage"},
	{255, 1, 1, 32, NULL, 0, "unknown certificate usage"},
	{3, 5, 1, 32, NULL, 0, "unknown selector"},
	{3, 1, 9, 32, NULL, 0, "unknown matching type"},
	{3, 1, 1, 0, NULL, 0, "empty association data"},
	{3, 1, 0, 0, NULL, 0, "empty association data"},
};

static void parse_unusable(danemsg_tlsa *rec, const struct unusable_case *c)
{
	size_t len;
	uint8_t *rdata;

	if (!c->cert) {
		parse_filler(rec, c->usage, c->selector, c->matching, c->filler_len);
		return;
	}
	rdata = rdata_for(c->usage, c->selector, c->matching, *c->cert, &len);
	rdata = realloc(rdata, len + c->trailing);
	assert_non_null(rdata);
	memset(rdata + len, 0, c->trailing);
	parse_bytes(rec, rdata, len + c->trailing);
	free(rdata);
}

static void test_unusable_records_say_why(void **state)
{
	for (size_t i = 0; i < N(unusable_cases); i++) {
		const struct unusable_case *c = &unusable_cases[i];
		danemsg_tlsa rec;

		print_message("case %zu: %s\n", i, c->reason);
		parse_unusable(&rec, c);
		assert_false(rec.usable);
		assert_string_equal(rec.unusable_reason, c->reason);
		/* no facts of a record that cannot be used */
		assert_false(rec.has_cert);
		assert_int_equal(rec.spki_len, 0);
		assert_string_equal(rec.x5t_s256, "");
		assert_int_equal(rec.usage, c->usage);
		assert_int_equal(rec.selector, c->selector);
		assert_int_equal(rec.matching_type, c->matching);
		expect_cert_result(&rec, 1, "alice.example.org", F.ee_p256, NULL,
				   DANEMSG_ERR_NO_USABLE_RECORD);
		expect_pkey_result(&rec, 1, F.k_p256, DANEMSG_ERR_NO_USABLE_RECORD);
		danemsg_tlsa_clear(&rec);
	}
}

static void test_oversized_rdata_is_unusable(void **state)
{
	size_t len = 65536;
	uint8_t *rdata = calloc(1, len);
	danemsg_tlsa rec;

	assert_non_null(rdata);
	rdata[0] = 3;
	rdata[1] = 1;
	rdata[2] = 0;
	parse_bytes(&rec, rdata, len);
	assert_false(rec.usable);
	assert_non_null(rec.unusable_reason);
	assert_null(rec.data);
	danemsg_tlsa_clear(&rec);
	free(rdata);
}

static void test_malformed_beside_good_never_spoils_it(void **state)
{
	danemsg_tlsa recs[N(unusable_cases) + 1];
	const uint8_t two[] = {3, 1};
	danemsg_tlsa dropped;
	size_t good = N(unusable_cases);

	danemsg_tlsa_init(&dropped);
	for (size_t i = 0; i < N(unusable_cases); i++)
		parse_unusable(&recs[i], &unusable_cases[i]);
	/* What the caller drops: a 2-octet RDATA does not even parse. */
	assert_int_equal(danemsg_tlsa_parse(two, sizeof(two), &dropped), DANEMSG_ERR_MALFORMED);
	parse_for(&recs[good], 3, 1, 1, F.ee_p256);

	expect_cert_match(recs, N(recs), "alice.example.org", F.ee_p256, NULL, good);
	expect_cert_result(recs, N(recs), "alice.example.org", F.ee_ed25519, NULL,
			   DANEMSG_ERR_NO_MATCH);
	expect_pkey_match(recs, N(recs), F.k_p256, good);
	expect_pkey_result(recs, N(recs), F.k_ed25519, DANEMSG_ERR_NO_MATCH);
	clear_all(recs, N(recs));
}

static void test_all_unusable_is_no_usable_record(void **state)
{
	danemsg_tlsa recs[3];

	parse_filler(&recs[0], 7, 1, 1, 32);
	parse_filler(&recs[1], 3, 1, 9, 32);
	parse_filler(&recs[2], 3, 0, 0, 10);
	expect_cert_result(recs, N(recs), "alice.example.org", F.ee_p256, NULL,
			   DANEMSG_ERR_NO_USABLE_RECORD);
	expect_pkey_result(recs, N(recs), F.k_p256, DANEMSG_ERR_NO_USABLE_RECORD);
	/* An empty set has no usable record either. */
	expect_cert_result(recs, 0, "alice.example.org", F.ee_p256, NULL,
			   DANEMSG_ERR_NO_USABLE_RECORD);
	expect_pkey_result(recs, 0, F.k_p256, DANEMSG_ERR_NO_USABLE_RECORD);
	clear_all(recs, N(recs));
}

/* PKIX-TA and PKIX-EE parse as usable, but match nothing without a Web PKI store. */
static void test_pkix_needs_a_store(void **state)
{
	danemsg_tlsa recs[4];

	parse_for(&recs[0], 0, 0, 1, F.ca);
	parse_for(&recs[1], 0, 1, 0, F.ca);
	parse_for(&recs[2], 1, 0, 0, F.ca_ee);
	parse_for(&recs[3], 1, 1, 1, F.ca_ee);
	for (size_t i = 0; i < N(recs); i++) {
		assert_true(recs[i].usable);
		assert_null(recs[i].unusable_reason);
	}
	assert_true(recs[2].has_cert);
	expect_cert_result(recs, N(recs), DAVE, F.ca_ee, F.chain_ca, DANEMSG_ERR_NO_MATCH);
	assert_int_equal(danemsg_tlsa_match_cert_pkix(recs, N(recs), DAVE, F.ca_ee, F.chain_ca,
						      NULL, NULL), DANEMSG_ERR_NO_MATCH);
	/* Not even with a store does a bare key match a PKIX record. */
	expect_pkey_result(recs, N(recs), F.k_ee, DANEMSG_ERR_NO_MATCH);
	clear_all(recs, N(recs));
}

static X509_STORE *store_of(X509 *ca)
{
	X509_STORE *store = X509_STORE_new();

	assert_non_null(store);
	assert_int_equal(X509_STORE_add_cert(store, ca), 1);
	return store;
}

/* One record, a certificate with its chain, a Web PKI store trusting one CA. */
struct pkix_case {
	uint8_t usage, selector, matching;
	X509 **record_from, **ee;
	STACK_OF(X509) **chain;
	X509 **store_ca;
	danemsg_err expected;
	const char *what;
};

static const struct pkix_case pkix_cases[] = {
	{1, 0, 0, &F.ca_ee, &F.ca_ee, NULL, &F.ca, DANEMSG_OK, "PKIX-EE, full certificate"},
	{1, 1, 1, &F.ca_ee, &F.ca_ee, &F.chain_ca, &F.ca, DANEMSG_OK, "PKIX-EE, SPKI digest"},
	{1, 0, 1, &F.ica_ee, &F.ica_ee, &F.chain_ica, &F.ca, DANEMSG_OK, "through an intermediate"},
	{1, 0, 1, &F.ica_ee, &F.ica_ee, NULL, &F.ca, DANEMSG_ERR_NO_MATCH, "intermediate missing"},
	{1, 0, 1, &F.ca_ee, &F.ca_ee, NULL, &F.other_ca, DANEMSG_ERR_NO_MATCH, "CA not trusted"},
	{1, 0, 1, &F.ca_ee_expired, &F.ca_ee_expired, NULL, &F.ca, DANEMSG_ERR_NO_MATCH,
	 "expired end entity"},
	{1, 0, 1, &F.ca_ee_wrongname, &F.ca_ee_wrongname, NULL, &F.ca, DANEMSG_ERR_NO_MATCH,
	 "SAN names another identity"},
	{1, 0, 1, &F.ca_ee_cn_only, &F.ca_ee_cn_only, NULL, &F.ca, DANEMSG_ERR_NO_MATCH,
	 "name in the CN only"},
	{1, 0, 1, &F.ca_ee, &F.ica_ee, &F.chain_ica, &F.ca, DANEMSG_ERR_NO_MATCH,
	 "valid, but not the published end entity"},
	{0, 0, 1, &F.ca, &F.ca_ee, NULL, &F.ca, DANEMSG_OK, "PKIX-TA, the store's anchor"},
	{0, 1, 2, &F.ca, &F.ica_ee, &F.chain_ica, &F.ca, DANEMSG_OK, "PKIX-TA above an ICA"},
	{0, 0, 0, &F.ica, &F.ica_ee, &F.chain_ica, &F.ca, DANEMSG_OK, "PKIX-TA, the intermediate"},
	{0, 0, 1, &F.other_ca, &F.ca_ee, NULL, &F.ca, DANEMSG_ERR_NO_MATCH,
	 "PKIX-TA names a CA off the path"},
	{0, 0, 0, &F.other_ca, &F.other_ee, &F.chain_other, &F.ca, DANEMSG_ERR_NO_MATCH,
	 "PKIX-TA: the record alone is no trust anchor (DANE-TA's would be)"},
	{0, 0, 1, &F.ca, &F.ca_ee_expired, NULL, &F.ca, DANEMSG_ERR_NO_MATCH,
	 "PKIX-TA, expired end entity"},
	{0, 0, 1, &F.ca, &F.ca_ee_wrongname, NULL, &F.ca, DANEMSG_ERR_NO_MATCH,
	 "PKIX-TA, SAN names another identity"},
	{0, 0, 1, &F.ca_ee, &F.ca_ee, NULL, &F.ca, DANEMSG_ERR_NO_MATCH,
	 "PKIX-TA naming the end entity itself"},
};

static void test_pkix_table(void **state)
{
	for (size_t i = 0; i < N(pkix_cases); i++) {
		const struct pkix_case *c = &pkix_cases[i];
		X509_STORE *store = store_of(*c->store_ca);
		size_t matched = 12345;
		danemsg_tlsa rec;

		print_message("case %zu: %s\n", i, c->what);
		parse_for(&rec, c->usage, c->selector, c->matching, *c->record_from);
		assert_int_equal(danemsg_tlsa_match_cert_pkix(&rec, 1, DAVE, *c->ee,
							      c->chain ? *c->chain : NULL, store,
							      &matched), c->expected);
		assert_int_equal(matched, c->expected == DANEMSG_OK ? 0 : 12345);
		danemsg_tlsa_clear(&rec);
		X509_STORE_free(store);
	}
}

/* RFC 5280 basicConstraints: an end entity cannot issue, even under a trusted CA. */
static void test_pkix_ee_cannot_issue(void **state)
{
	X509 *under_ee = issued(F.k_p256, "dave", "DNS:" DAVE, F.ca_ee, F.k_ee, 0);
	STACK_OF(X509) *chain = chain_of(F.ca_ee);
	X509_STORE *store = store_of(F.ca);
	danemsg_tlsa rec;

	parse_for(&rec, 0, 0, 1, F.ca);
	assert_int_equal(danemsg_tlsa_match_cert_pkix(&rec, 1, DAVE, under_ee, chain, store, NULL),
			 DANEMSG_ERR_NO_MATCH);
	danemsg_tlsa_clear(&rec);
	X509_STORE_free(store);
	sk_X509_free(chain);
	X509_free(under_ee);
}

static void test_rollover_second_record_matches(void **state)
{
	danemsg_tlsa recs[2];

	parse_for(&recs[0], 3, 1, 1, F.ee_ed25519); /* the old key */
	parse_for(&recs[1], 3, 1, 1, F.ee_p256);    /* the new key */
	expect_cert_match(recs, N(recs), "alice.example.org", F.ee_p256, NULL, 1);
	expect_cert_match(recs, N(recs), "bob.example.org", F.ee_ed25519, NULL, 0);
	expect_pkey_match(recs, N(recs), F.k_p256, 1);
	expect_cert_result(recs, N(recs), "carol.example.org", F.ee_rsa, NULL,
			   DANEMSG_ERR_NO_MATCH);
	clear_all(recs, N(recs));

	/* CA rollover: DANE-TA for the old CA and for the new one. */
	parse_for(&recs[0], 2, 1, 1, F.other_ca);
	parse_for(&recs[1], 2, 0, 1, F.ca);
	expect_cert_match(recs, N(recs), DAVE, F.ca_ee, F.chain_ca, 1);
	expect_cert_match(recs, N(recs), DAVE, F.other_ee, F.chain_other, 0);
	clear_all(recs, N(recs));
}

/* RFC 7671 section 9: for one usage and selector, only the strongest digest counts. */
static void test_digest_agility(void **state)
{
	danemsg_tlsa recs[3];

	/* 3 1 2 for key A and 3 1 1 for key B: B's weaker digest is ignored. */
	parse_for(&recs[0], 3, 1, 2, F.ee_p256);
	parse_for(&recs[1], 3, 1, 1, F.ee_ed25519);
	expect_cert_match(recs, 2, "alice.example.org", F.ee_p256, NULL, 0);
	expect_cert_result(recs, 2, "bob.example.org", F.ee_ed25519, NULL, DANEMSG_ERR_NO_MATCH);
	expect_pkey_match(recs, 2, F.k_p256, 0);
	expect_pkey_result(recs, 2, F.k_ed25519, DANEMSG_ERR_NO_MATCH);
	/* Alone, that 3 1 1 record matches B. */
	expect_cert_match(&recs[1], 1, "bob.example.org", F.ee_ed25519, NULL, 0);
	clear_all(recs, 2);

	/* A 3 1 1 and a 3 1 2 for A, in that order: the 3 1 2 is the one that matches. */
	parse_for(&recs[0], 3, 1, 1, F.ee_p256);
	parse_for(&recs[1], 3, 1, 2, F.ee_p256);
	parse_for(&recs[2], 3, 1, 1, F.ee_ed25519);
	expect_cert_match(recs, 3, "alice.example.org", F.ee_p256, NULL, 1);
	expect_cert_result(recs, 3, "bob.example.org", F.ee_ed25519, NULL, DANEMSG_ERR_NO_MATCH);
	clear_all(recs, 3);

	/* Full(0) is not a digest: 3 1 0 for B still counts beside 3 1 2 for A. */
	parse_for(&recs[0], 3, 1, 0, F.ee_ed25519);
	parse_for(&recs[1], 3, 1, 2, F.ee_p256);
	expect_cert_match(recs, 2, "bob.example.org", F.ee_ed25519, NULL, 0);
	expect_pkey_match(recs, 2, F.k_ed25519, 0);
	expect_cert_match(recs, 2, "alice.example.org", F.ee_p256, NULL, 1);
	clear_all(recs, 2);

	/* Per selector: a 3 1 2 does not hide a 3 0 1. */
	parse_for(&recs[0], 3, 0, 1, F.ee_ed25519);
	parse_for(&recs[1], 3, 1, 2, F.ee_p256);
	expect_cert_match(recs, 2, "bob.example.org", F.ee_ed25519, NULL, 0);
	clear_all(recs, 2);

	/* Per usage: a 3 1 2 does not hide a 2 1 1. */
	parse_for(&recs[0], 2, 1, 1, F.ca);
	parse_for(&recs[1], 3, 1, 2, F.ee_p256);
	expect_cert_match(recs, 2, DAVE, F.ca_ee, F.chain_ca, 0);
	clear_all(recs, 2);

	/* Per usage, DANE-TA: 2 0 2 for the CA hides a 2 0 1 for the other CA. */
	parse_for(&recs[0], 2, 0, 1, F.other_ca);
	parse_for(&recs[1], 2, 0, 2, F.ca);
	expect_cert_result(recs, 2, DAVE, F.other_ee, F.chain_other, DANEMSG_ERR_NO_MATCH);
	expect_cert_match(recs, 2, DAVE, F.ca_ee, F.chain_ca, 1);
	clear_all(recs, 2);

	/* An unusable SHA2-512 record (wrong length) does not hide a good SHA2-256 one. */
	parse_filler(&recs[0], 3, 1, 2, 63);
	parse_for(&recs[1], 3, 1, 1, F.ee_ed25519);
	expect_cert_match(recs, 2, "bob.example.org", F.ee_ed25519, NULL, 1);
	expect_pkey_match(recs, 2, F.k_ed25519, 1);
	clear_all(recs, 2);
}

static void test_dane_ta_name_checks(void **state)
{
	danemsg_tlsa rec;

	parse_for(&rec, 2, 0, 1, F.ca);
	/* An EE of the same CA for another identity does not authenticate dave. */
	expect_cert_result(&rec, 1, DAVE, F.ca_ee_wrongname, F.chain_ca, DANEMSG_ERR_NO_MATCH);
	expect_cert_match(&rec, 1, "eve.example.org", F.ca_ee_wrongname, F.chain_ca, 0);
	expect_cert_result(&rec, 1, "eve.example.org", F.ca_ee, F.chain_ca, DANEMSG_ERR_NO_MATCH);
	/* The name must be a DNS subjectAltName: the subject CN does not count. */
	expect_cert_result(&rec, 1, DAVE, F.ca_ee_cn_only, F.chain_ca, DANEMSG_ERR_NO_MATCH);
	/* A suffix or a parent is not the name. */
	expect_cert_result(&rec, 1, "example.org", F.ca_ee, F.chain_ca, DANEMSG_ERR_NO_MATCH);
	expect_cert_result(&rec, 1, "x." DAVE, F.ca_ee, F.chain_ca, DANEMSG_ERR_NO_MATCH);
	/* No partial-label wildcards; a whole-label wildcard is what OpenSSL allows. */
	expect_cert_result(&rec, 1, "dave.mail.example.org", F.ca_ee_partial_wildcard,
			   F.chain_ca, DANEMSG_ERR_NO_MATCH);
	expect_cert_match(&rec, 1, "dave.mail.example.org", F.ca_ee_wildcard, F.chain_ca, 0);
	expect_cert_result(&rec, 1, "a.dave.mail.example.org", F.ca_ee_wildcard, F.chain_ca,
			   DANEMSG_ERR_NO_MATCH);
	danemsg_tlsa_clear(&rec);
}

static void test_dane_ta_expired_ee_does_not_match(void **state)
{
	danemsg_tlsa rec;

	parse_for(&rec, 2, 0, 1, F.ca);
	expect_cert_result(&rec, 1, DAVE, F.ca_ee_expired, F.chain_ca, DANEMSG_ERR_NO_MATCH);
	danemsg_tlsa_clear(&rec);
	parse_for(&rec, 2, 1, 0, F.ca);
	expect_cert_result(&rec, 1, DAVE, F.ca_ee_expired, F.chain_ca, DANEMSG_ERR_NO_MATCH);
	expect_cert_result(&rec, 1, DAVE, F.ca_ee_expired, NULL, DANEMSG_ERR_NO_MATCH);
	danemsg_tlsa_clear(&rec);
}

static void test_dane_ta_chain_problems(void **state)
{
	danemsg_tlsa rec;
	STACK_OF(X509) *empty = sk_X509_new_null();

	assert_non_null(empty);
	/* 2 0 1 / 2 1 1: the TA must come in the chain, digests cannot anchor. */
	parse_for(&rec, 2, 0, 1, F.ca);
	expect_cert_result(&rec, 1, DAVE, F.ca_ee, NULL, DANEMSG_ERR_NO_MATCH);
	expect_cert_result(&rec, 1, DAVE, F.ca_ee, empty, DANEMSG_ERR_NO_MATCH);
	/* The TA is in the chain but did not issue ee. */
	expect_cert_result(&rec, 1, DAVE, F.other_ee, F.chain_ca, DANEMSG_ERR_NO_MATCH);
	danemsg_tlsa_clear(&rec);
	/* 2 1 0: the top of the chain is not signed by the TA key. */
	parse_for(&rec, 2, 1, 0, F.ca);
	expect_cert_result(&rec, 1, DAVE, F.other_ee, F.chain_other, DANEMSG_ERR_NO_MATCH);
	expect_cert_result(&rec, 1, DAVE, F.ica_ee, empty, DANEMSG_ERR_NO_MATCH);
	expect_cert_match(&rec, 1, DAVE, F.ca_ee, empty, 0);
	/* The top is signed by the TA key, ee is not signed by the top. */
	expect_cert_result(&rec, 1, DAVE, F.other_ee, F.chain_ica, DANEMSG_ERR_NO_MATCH);
	danemsg_tlsa_clear(&rec);
	/* DANE-TA for the end-entity itself is not a trust anchor for it. */
	parse_for(&rec, 2, 0, 1, F.ee_p256);
	expect_cert_result(&rec, 1, "alice.example.org", F.ee_p256, NULL, DANEMSG_ERR_NO_MATCH);
	danemsg_tlsa_clear(&rec);
	sk_X509_free(empty);
}

static void test_dane_ee_ignores_names_and_dates(void **state)
{
	danemsg_tlsa rec;

	parse_for(&rec, 3, 1, 1, F.ca_ee_expired);
	expect_cert_match(&rec, 1, DAVE, F.ca_ee_expired, NULL, 0);
	expect_cert_match(&rec, 1, "someone.else.example", F.ca_ee_wrongname, NULL, 0);
	danemsg_tlsa_clear(&rec);
	parse_for(&rec, 3, 0, 1, F.ca_ee_expired);
	expect_cert_match(&rec, 1, "someone.else.example", F.ca_ee_expired, NULL, 0);
	/* Same key, other certificate: a Cert(0) record does not match it. */
	expect_cert_result(&rec, 1, DAVE, F.ca_ee, NULL, DANEMSG_ERR_NO_MATCH);
	danemsg_tlsa_clear(&rec);
}

/* Bare keys: which records can authenticate them. */
struct pkey_case {
	uint8_t usage, selector, matching;
	X509 **record_from;
	EVP_PKEY **good; /* NULL: the record matches no bare key */
	EVP_PKEY **bad;
};

static const struct pkey_case pkey_cases[] = {
	{3, 1, 0, &F.ee_p256, &F.k_p256, &F.k_ed25519},
	{3, 1, 1, &F.ee_ed25519, &F.k_ed25519, &F.k_rsa},
	{3, 1, 2, &F.ee_rsa, &F.k_rsa, &F.k_p256},
	{3, 0, 0, &F.ee_ed25519, &F.k_ed25519, &F.k_p256},
	{3, 0, 0, &F.ca_ee, &F.k_ee, &F.k_ca},
	{3, 0, 1, &F.ee_p256, NULL, &F.k_p256},
	{3, 0, 2, &F.ee_p256, NULL, &F.k_p256},
	{2, 0, 0, &F.ca, NULL, &F.k_ca},
	{2, 0, 1, &F.ca, NULL, &F.k_ca},
	{2, 1, 0, &F.ca, NULL, &F.k_ca},
	{2, 1, 1, &F.ca, NULL, &F.k_ca},
};

static void test_match_pkey_table(void **state)
{
	for (size_t i = 0; i < N(pkey_cases); i++) {
		const struct pkey_case *c = &pkey_cases[i];
		danemsg_tlsa rec;

		print_message("case %zu: %u %u %u\n", i, c->usage, c->selector, c->matching);
		parse_for(&rec, c->usage, c->selector, c->matching, *c->record_from);
		assert_true(rec.usable);
		if (c->good)
			expect_pkey_match(&rec, 1, *c->good, 0);
		expect_pkey_result(&rec, 1, *c->bad, DANEMSG_ERR_NO_MATCH);
		danemsg_tlsa_clear(&rec);
	}
}

static void test_match_pkey_set(void **state)
{
	danemsg_tlsa recs[3];

	parse_for(&recs[0], 2, 1, 0, F.ee_p256); /* DANE-TA with the key: never for a bare key */
	parse_for(&recs[1], 3, 0, 1, F.ee_p256); /* digest of a certificate: no key to compare */
	parse_for(&recs[2], 3, 1, 1, F.ee_p256);
	expect_pkey_match(recs, N(recs), F.k_p256, 2);
	expect_pkey_result(recs, 2, F.k_p256, DANEMSG_ERR_NO_MATCH);
	clear_all(recs, N(recs));
}

static void test_null_arguments(void **state)
{
	const uint8_t rdata[] = {3, 1, 1, 0};
	danemsg_tlsa rec;
	char long_name[300];

	danemsg_tlsa_init(&rec);
	assert_int_equal(danemsg_tlsa_parse(rdata, sizeof(rdata), NULL), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_tlsa_parse(NULL, 5, &rec), DANEMSG_ERR_INVALID_ARG);
	danemsg_tlsa_clear(NULL);

	parse_for(&rec, 3, 1, 1, F.ee_p256);
	assert_int_equal(danemsg_tlsa_match_cert(NULL, 1, "alice.example.org", F.ee_p256, NULL,
						 NULL), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_tlsa_match_cert(&rec, 1, NULL, F.ee_p256, NULL, NULL),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_tlsa_match_cert(&rec, 1, "alice.example.org", NULL, NULL, NULL),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_tlsa_match_cert(&rec, 1, "", F.ee_p256, NULL, NULL),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_tlsa_match_cert(&rec, 1, ".", F.ee_p256, NULL, NULL),
			 DANEMSG_ERR_INVALID_ARG);
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_int_equal(danemsg_tlsa_match_cert(&rec, 1, long_name, F.ee_p256, NULL, NULL),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_tlsa_match_pkey(NULL, 1, F.k_p256, NULL),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_tlsa_match_pkey(&rec, 1, NULL, NULL), DANEMSG_ERR_INVALID_ARG);
	danemsg_tlsa_clear(&rec);
}

static void test_names(void **state)
{
	assert_string_equal(danemsg_tlsa_usage_name(0), "PKIX-TA");
	assert_string_equal(danemsg_tlsa_usage_name(1), "PKIX-EE");
	assert_string_equal(danemsg_tlsa_usage_name(2), "DANE-TA");
	assert_string_equal(danemsg_tlsa_usage_name(3), "DANE-EE");
	assert_string_equal(danemsg_tlsa_usage_name(4), "PKIX-CD");
	assert_string_equal(danemsg_tlsa_usage_name(5), "unknown");
	assert_string_equal(danemsg_tlsa_usage_name(255), "PrivCert");
	assert_string_equal(danemsg_tlsa_selector_name(0), "Cert");
	assert_string_equal(danemsg_tlsa_selector_name(1), "SPKI");
	assert_string_equal(danemsg_tlsa_selector_name(2), "unknown");
	assert_string_equal(danemsg_tlsa_selector_name(255), "PrivSel");
	assert_string_equal(danemsg_tlsa_matching_name(0), "Full");
	assert_string_equal(danemsg_tlsa_matching_name(1), "SHA2-256");
	assert_string_equal(danemsg_tlsa_matching_name(2), "SHA2-512");
	assert_string_equal(danemsg_tlsa_matching_name(3), "unknown");
	assert_string_equal(danemsg_tlsa_matching_name(255), "PrivMatch");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match_table),
		cmocka_unit_test(test_parse_fields_and_objects),
		cmocka_unit_test(test_keys_import_as_decoded),
		cmocka_unit_test(test_parse_copies_data),
		cmocka_unit_test(test_parse_short_rdata_is_malformed),
		cmocka_unit_test(test_unusable_records_say_why),
		cmocka_unit_test(test_oversized_rdata_is_unusable),
		cmocka_unit_test(test_malformed_beside_good_never_spoils_it),
		cmocka_unit_test(test_all_unusable_is_no_usable_record),
		cmocka_unit_test(test_pkix_needs_a_store),
		cmocka_unit_test(test_pkix_table),
		cmocka_unit_test(test_pkix_ee_cannot_issue),
		cmocka_unit_test(test_rollover_second_record_matches),
		cmocka_unit_test(test_digest_agility),
		cmocka_unit_test(test_dane_ta_name_checks),
		cmocka_unit_test(test_dane_ta_expired_ee_does_not_match),
		cmocka_unit_test(test_dane_ta_chain_problems),
		cmocka_unit_test(test_dane_ee_ignores_names_and_dates),
		cmocka_unit_test(test_match_pkey_table),
		cmocka_unit_test(test_match_pkey_set),
		cmocka_unit_test(test_null_arguments),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, setup_fixtures, teardown_fixtures);
}

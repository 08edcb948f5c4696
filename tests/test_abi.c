/* The structs a caller allocates, across versions of the headers (danemsg/error.h): the
 * library reads and writes no more than their struct_size, lets fields the caller's
 * headers lack keep their defaults, refuses fields it does not know that are set, and
 * refuses a struct that no _init function started. A program built with newer headers is
 * played here by a struct that wraps the public one and appends a field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <danemsg.h>

#include "abi.h"
#include "testutil.h"

/* ---- the helpers, on a struct of two versions ---- */

struct v2 {
	size_t struct_size;
	int a;              /* version 1 */
	int b;              /* version 2; default 7 */
};
struct v3 {
	struct v2 v2;
	int c;              /* version 3, which the library (of version 2) does not know */
};
#define V1_SIZE ABI_SIZE_THROUGH(struct v2, a)

static void test_struct_in(void **state)
{
	static const struct {
		size_t size;    /* the caller's struct_size */
		int c;          /* its version 3 field, when it has one */
		danemsg_err want;
		int b;          /* what the library then sees */
	} cases[] = {
		{V1_SIZE, 0, DANEMSG_OK, 7},             /* older headers: b at its default */
		{sizeof(struct v2), 0, DANEMSG_OK, 2},  /* the same headers */
		{sizeof(struct v3), 0, DANEMSG_OK, 2},  /* newer, the new field unset */
		{sizeof(struct v3), 1, DANEMSG_ERR_UNSUPPORTED, 7},   /* newer, set: refused */
		{0, 0, DANEMSG_ERR_INVALID_ARG, 7},      /* never initialised */
		{V1_SIZE - 1, 0, DANEMSG_ERR_INVALID_ARG, 7},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct v3 theirs;
		struct v2 ours = {sizeof(struct v2), 0, 7};
		char err[256] = "";
		memset(&theirs, 0, sizeof(theirs));
		theirs.v2.struct_size = cases[i].size;
		theirs.v2.a = 1;
		theirs.v2.b = 2;
		theirs.c = cases[i].c;
		assert_int_equal(abi_struct_in(&ours, sizeof(ours), &theirs, V1_SIZE, "v", err,
					       sizeof(err)), cases[i].want);
		assert_int_equal(ours.b, cases[i].b);
		if (cases[i].want) {
			assert_non_null(strstr(err, "v: "));
		} else {
			assert_int_equal(ours.a, 1);
			assert_int_equal(ours.struct_size, sizeof(ours));
		}
	}
}

static void test_struct_out(void **state)
{
	struct v2 ours = {sizeof(struct v2), 1, 2};
	struct v3 theirs;
	(void)state;
	/* newer headers: their new field is left alone, their struct_size kept */
	memset(&theirs, 0x55, sizeof(theirs));
	theirs.v2.struct_size = sizeof(theirs);
	assert_int_equal(abi_struct_out(&theirs, &ours, sizeof(ours), V1_SIZE), DANEMSG_OK);
	assert_int_equal(theirs.v2.struct_size, sizeof(theirs));
	assert_int_equal(theirs.v2.a, 1);
	assert_int_equal(theirs.v2.b, 2);
	assert_int_equal(theirs.c, 0x55555555);
	/* older headers: nothing written past their struct_size */
	memset(&theirs, 0x55, sizeof(theirs));
	theirs.v2.struct_size = V1_SIZE;
	assert_int_equal(abi_struct_out(&theirs, &ours, sizeof(ours), V1_SIZE), DANEMSG_OK);
	assert_int_equal(theirs.v2.a, 1);
	assert_int_equal(theirs.v2.b, 0x55555555);
	/* never initialised: nothing written */
	theirs.v2.struct_size = 0;
	assert_int_equal(abi_struct_out(&theirs, &ours, sizeof(ours), V1_SIZE),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(theirs.v2.a, 1);
}

/* ---- the public structs ---- */

static void test_resolver_config(void **state)
{
	struct {
		danemsg_resolver_config v1;
		uint64_t added;
	} newer;
	danemsg_resolver_config old;
	danemsg_resolver *r = NULL;
	char err[256];
	(void)state;

	memset(&old, 0, sizeof(old));   /* no danemsg_resolver_config_init() */
	assert_int_equal(danemsg_resolver_new(&old, &r, err, sizeof(err)),
			 DANEMSG_ERR_INVALID_ARG);
	assert_non_null(strstr(err, "danemsg_resolver_config"));
	assert_null(r);

	memset(&newer, 0, sizeof(newer));
	danemsg_resolver_config_init(&newer.v1);
	newer.v1.struct_size = sizeof(newer);
	newer.v1.root_anchor_file = "";
	newer.v1.server = "127.0.0.1@9";
	newer.added = 1;
	assert_int_equal(danemsg_resolver_new(&newer.v1, &r, err, sizeof(err)),
			 DANEMSG_ERR_UNSUPPORTED);
	assert_null(r);
	newer.added = 0;
	assert_int_equal(danemsg_resolver_new(&newer.v1, &r, err, sizeof(err)), DANEMSG_OK);
	danemsg_resolver_free(r);
}

static void test_cache_stats_written_within_struct_size(void **state)
{
	struct {
		danemsg_cache_stats v1;
		uint64_t added;
	} newer;
	danemsg_resolver_config cfg;
	danemsg_resolver *r = NULL;
	(void)state;

	danemsg_resolver_config_init(&cfg);
	cfg.root_anchor_file = "";
	cfg.server = "127.0.0.1@9";
	assert_int_equal(danemsg_resolver_new(&cfg, &r, NULL, 0), DANEMSG_OK);
	memset(&newer, 0x55, sizeof(newer));
	danemsg_cache_stats_init(&newer.v1);
	newer.v1.struct_size = sizeof(newer);
	danemsg_resolver_cache_stats(r, &newer.v1);
	assert_int_equal(newer.v1.struct_size, sizeof(newer));
	assert_int_equal(newer.v1.hits, 0);
	assert_int_equal(newer.added, 0x5555555555555555u);
	newer.v1.struct_size = 0;   /* never initialised: left alone */
	newer.v1.hits = 99;
	danemsg_resolver_cache_stats(r, &newer.v1);
	assert_int_equal(newer.v1.hits, 99);
	danemsg_resolver_free(r);
}

/* Arrays of records are stepped through by the caller's struct_size. */
static void test_tlsa_arrays_by_struct_size(void **state)
{
	struct newer_tlsa {
		danemsg_tlsa v1;
		uint64_t added;
	} recs[2];
	EVP_PKEY *key = tu_key("P-256"), *other = tu_key("P-256");
	X509 *cert = tu_cert(key, "a.example.net", 30);
	X509 *cert2 = tu_cert(other, "a.example.net", 30);
	uint8_t rdata[80];
	size_t len, matched = 99;
	(void)state;

	for (size_t i = 0; i < 2; i++) {
		memset(&recs[i], 0, sizeof(recs[i]));
		danemsg_tlsa_init(&recs[i].v1);
		recs[i].v1.struct_size = sizeof(recs[i]);
		assert_int_equal(danemsg_tlsa_rdata(i ? cert : cert2, 3, 1, 1, rdata,
						    sizeof(rdata), &len), DANEMSG_OK);
		assert_int_equal(danemsg_tlsa_parse(rdata, len, &recs[i].v1), DANEMSG_OK);
		assert_int_equal(recs[i].v1.struct_size, sizeof(recs[i]));
		assert_true(recs[i].v1.usable);
	}
	/* the second record, sizeof(struct newer_tlsa) on: found as index 1 */
	assert_int_equal(danemsg_tlsa_match_pkey(&recs[0].v1, 2, key, &matched), DANEMSG_OK);
	assert_int_equal(matched, 1);
	assert_int_equal(danemsg_tlsa_match_cert(&recs[0].v1, 2, "a.example.net", cert, NULL,
						 &matched), DANEMSG_OK);
	assert_int_equal(matched, 1);
	/* a field this library does not know, set: refused */
	recs[1].added = 1;
	assert_int_equal(danemsg_tlsa_match_pkey(&recs[0].v1, 2, key, &matched),
			 DANEMSG_ERR_INVALID_ARG);
	recs[1].added = 0;
	/* records of different sizes are no array */
	recs[1].v1.struct_size = sizeof(danemsg_tlsa);
	assert_int_equal(danemsg_tlsa_match_pkey(&recs[0].v1, 2, key, &matched),
			 DANEMSG_ERR_INVALID_ARG);
	recs[1].v1.struct_size = sizeof(recs[1]);
	/* clear keeps struct_size and stays within it */
	for (size_t i = 0; i < 2; i++) {
		recs[i].added = 5;
		danemsg_tlsa_clear(&recs[i].v1);
		assert_int_equal(recs[i].v1.struct_size, sizeof(recs[i]));
		assert_null(recs[i].v1.data);
		assert_int_equal(recs[i].added, 5);
	}
	/* a record no _init function started is not parsed into */
	memset(&recs[0], 0, sizeof(recs[0]));
	assert_int_equal(danemsg_tlsa_parse(rdata, len, &recs[0].v1), DANEMSG_ERR_INVALID_ARG);
	X509_free(cert);
	X509_free(cert2);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
}

static void test_token_policy_and_claims(void **state)
{
	struct {
		danemsg_token_policy v1;
		uint64_t added;
	} newer;
	danemsg_token_claims claims;
	char err[256];
	(void)state;

	danemsg_token_claims_init(&claims);
	snprintf(claims.sub, sizeof(claims.sub), "alice.example.net");
	snprintf(claims.aud, sizeof(claims.aud), "broker.example.net");
	claims.iat = 1000;
	claims.exp = 1060;
	memset(&newer, 0, sizeof(newer));
	danemsg_token_policy_init(&newer.v1);
	newer.v1.struct_size = sizeof(newer);
	newer.v1.audience = "broker.example.net";
	assert_int_equal(danemsg_token_check(&newer.v1, NULL, &claims, 1010, err, sizeof(err)),
			 DANEMSG_OK);
	newer.added = 1;
	assert_int_equal(danemsg_token_check(&newer.v1, NULL, &claims, 1010, err, sizeof(err)),
			 DANEMSG_ERR_UNSUPPORTED);
	assert_non_null(strstr(err, "danemsg_token_policy"));
	newer.added = 0;
	claims.struct_size = 0;   /* claims no _init started */
	assert_int_equal(danemsg_token_check(&newer.v1, NULL, &claims, 1010, err, sizeof(err)),
			 DANEMSG_ERR_INVALID_ARG);
	assert_non_null(strstr(err, "danemsg_token_claims"));
	assert_int_equal(danemsg_token_parse("a.b.c", 5, &claims), DANEMSG_ERR_INVALID_ARG);
}

static void test_publish_options(void **state)
{
	struct {
		danemsg_publish_options v1;
		uint64_t added;
	} newer;
	uint8_t data[32] = {1};
	danemsg_tlsa rec;
	char err[256];
	(void)state;

	danemsg_tlsa_init(&rec);
	rec.usage = 3;
	rec.selector = 1;
	rec.matching_type = 1;
	rec.data = data;
	rec.data_len = sizeof(data);
	memset(&newer, 0, sizeof(newer));
	danemsg_publish_options_init(&newer.v1);
	newer.v1.struct_size = sizeof(newer);
	newer.added = 1;
	assert_int_equal(danemsg_publish_tlsa(&newer.v1, "a.example.net", &rec, 1, err,
					      sizeof(err)), DANEMSG_ERR_UNSUPPORTED);
	assert_non_null(strstr(err, "danemsg_publish_options"));
	newer.v1.struct_size = 0;
	assert_int_equal(danemsg_publish_tlsa(&newer.v1, "a.example.net", &rec, 1, err,
					      sizeof(err)), DANEMSG_ERR_INVALID_ARG);
	assert_non_null(strstr(err, "danemsg_publish_options"));
	/* past the options (no server: refused before any network), the record */
	danemsg_publish_options_init(&newer.v1);
	rec.struct_size = 0;
	assert_int_equal(danemsg_publish_tlsa(&newer.v1, "a.example.net", &rec, 1, err,
					      sizeof(err)), DANEMSG_ERR_INVALID_ARG);
	assert_non_null(strstr(err, "TLSA record"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_struct_in),
		cmocka_unit_test(test_struct_out),
		cmocka_unit_test(test_resolver_config),
		cmocka_unit_test(test_cache_stats_written_within_struct_size),
		cmocka_unit_test(test_tlsa_arrays_by_struct_size),
		cmocka_unit_test(test_token_policy_and_claims),
		cmocka_unit_test(test_publish_options),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

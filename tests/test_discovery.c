/* Identity discovery, hermetic: signed zones validated offline (libunbound auth-zone). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <danemsg.h>

#include "keycache.h"
#include "testutil.h"

#define ZONE "example.org."
#define ALICE "alice._device.example.org."

struct fixture {
	EVP_PKEY *key_a, *key_b;
	X509 *cert_a, *cert_b;
	struct tu_zone zone;
	danemsg_resolver *r;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->key_a = tu_key("P-256");
	f->key_b = tu_key("ED25519");
	f->cert_a = tu_cert(f->key_a, "alice._device.example.org", 30);
	f->cert_b = tu_cert(f->key_b, "alice._device.example.org", 30);
	tu_zone_begin(&f->zone, ZONE);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	danemsg_resolver_free(f->r);
	tu_zone_end(&f->zone);
	X509_free(f->cert_a);
	X509_free(f->cert_b);
	EVP_PKEY_free(f->key_a);
	EVP_PKEY_free(f->key_b);
	free(f);
	return 0;
}

/* Signs the zone and opens a resolver on it: anchors 0 none, 1 the zone's, 2 a wrong one. */
static void open_offline(struct fixture *f, int tamper, int anchors, int allow_insecure)
{
	danemsg_resolver_config cfg;
	const char *files[2] = {NULL, NULL};
	struct tu_zone other;
	char err[256];

	tu_zone_finish(&f->zone, tamper);
	danemsg_resolver_config_init(&cfg);
	cfg.root_anchor_file = "";
	cfg.offline_zone_file = f->zone.zone_file;
	cfg.offline_zone = ZONE;
	cfg.allow_insecure = allow_insecure;
	if (anchors == 2) {   /* a DS for another key of the same zone */
		tu_zone_begin(&other, ZONE);
		tu_zone_finish(&other, 0);
		files[0] = other.anchor_file;
	} else if (anchors == 1) {
		files[0] = f->zone.anchor_file;
	}
	cfg.trust_anchor_files = files;
	assert_int_equal(danemsg_resolver_new(&cfg, &f->r, err, sizeof(err)), DANEMSG_OK);
	if (anchors == 2)
		tu_zone_end(&other);
}

static danemsg_identity *lookup(struct fixture *f, const char *name, danemsg_err expect)
{
	danemsg_identity *id = NULL;
	assert_int_equal(danemsg_resolver_lookup(f->r, name, &id), expect);
	assert_non_null(id);
	assert_int_equal(danemsg_identity_status(id), expect);
	return id;
}

static void test_secure_full_certificate(void **state)
{
	struct fixture *f = *state;
	size_t matched = 99;
	tu_zone_add_tlsa(&f->zone, ALICE, f->cert_a, 3, 0, 0);
	open_offline(f, 0, 1, 0);
	danemsg_identity *id = lookup(f, "Alice._device.example.org", DANEMSG_OK);
	assert_string_equal(danemsg_identity_name(id), ALICE);
	assert_int_equal(danemsg_identity_dnssec(id), DANEMSG_DNSSEC_SECURE);
	assert_int_equal(danemsg_identity_record_count(id), 1);
	const danemsg_tlsa *rec = danemsg_identity_record(id, 0);
	assert_true(rec->usable);
	assert_true(rec->has_cert);
	X509 *cert = NULL;
	assert_int_equal(danemsg_tlsa_cert(rec, &cert), DANEMSG_OK);
	assert_int_equal(X509_cmp(cert, f->cert_a), 0);
	X509_free(cert);
	assert_int_equal(danemsg_identity_authenticate_cert(id, f->cert_a, NULL, &matched),
			 DANEMSG_OK);
	assert_int_equal(matched, 0);
	assert_int_equal(danemsg_identity_authenticate_pkey(id, f->key_a, NULL), DANEMSG_OK);
	assert_int_equal(danemsg_identity_authenticate_cert(id, f->cert_b, NULL, NULL),
			 DANEMSG_ERR_NO_MATCH);
	assert_true(danemsg_identity_ttl(id) <= 60);
	danemsg_identity_unref(id);
}

static void test_secure_spki_digest(void **state)
{
	struct fixture *f = *state;
	tu_zone_add_tlsa(&f->zone, ALICE, f->cert_a, 3, 1, 1);
	open_offline(f, 0, 1, 0);
	danemsg_identity *id = lookup(f, ALICE, DANEMSG_OK);
	EVP_PKEY *key = NULL;
	assert_int_equal(danemsg_identity_record(id, 0)->spki_len, 0);
	assert_int_equal(danemsg_identity_record_pkey(id, 0, &key), DANEMSG_ERR_NOT_FOUND);
	assert_null(key);
	assert_int_equal(danemsg_identity_authenticate_cert(id, f->cert_a, NULL, NULL), DANEMSG_OK);
	assert_int_equal(danemsg_identity_authenticate_pkey(id, f->key_a, NULL), DANEMSG_OK);
	assert_int_equal(danemsg_identity_authenticate_pkey(id, f->key_b, NULL),
			 DANEMSG_ERR_NO_MATCH);
	danemsg_identity_unref(id);
}

static void test_secure_full_key(void **state)
{
	struct fixture *f = *state;
	tu_zone_add_tlsa(&f->zone, ALICE, f->cert_a, 3, 1, 0);
	open_offline(f, 0, 1, 0);
	danemsg_identity *id = lookup(f, ALICE, DANEMSG_OK);
	const danemsg_tlsa *rec = danemsg_identity_record(id, 0);
	EVP_PKEY *key = NULL, *again = NULL;
	X509 *cert = NULL;
	assert_false(rec->has_cert);
	assert_int_equal(danemsg_tlsa_cert(rec, &cert), DANEMSG_ERR_NOT_FOUND);
	assert_int_equal(danemsg_identity_record_pkey(id, 0, &key), DANEMSG_OK);
	assert_int_equal(EVP_PKEY_eq(key, f->key_a), 1);
	/* the resolver's live key: the same object while it stays cached */
	assert_int_equal(danemsg_identity_record_pkey(id, 0, &again), DANEMSG_OK);
	assert_ptr_equal(key, again);
	EVP_PKEY_free(key);
	EVP_PKEY_free(again);
	assert_int_equal(danemsg_identity_record_pkey(id, 1, &key), DANEMSG_ERR_NOT_FOUND);
	danemsg_identity_unref(id);
}

static void test_rollover_two_records_both_used(void **state)
{
	struct fixture *f = *state;
	size_t matched = 99;
	tu_zone_add_tlsa(&f->zone, ALICE, f->cert_a, 3, 0, 0);
	tu_zone_add_tlsa(&f->zone, ALICE, f->cert_b, 3, 0, 0);
	open_offline(f, 0, 1, 0);
	danemsg_identity *id = lookup(f, ALICE, DANEMSG_OK);
	assert_int_equal(danemsg_identity_record_count(id), 2);
	assert_int_equal(danemsg_identity_authenticate_cert(id, f->cert_a, NULL, &matched),
			 DANEMSG_OK);
	size_t first = matched;
	assert_int_equal(danemsg_identity_authenticate_cert(id, f->cert_b, NULL, &matched),
			 DANEMSG_OK);
	assert_int_not_equal(first, matched);
	danemsg_identity_unref(id);
}

static void test_malformed_record_beside_good(void **state)
{
	struct fixture *f = *state;
	tu_zone_add(&f->zone, ALICE " 60 IN TLSA 3 1 1 00ff");            /* short digest */
	tu_zone_add(&f->zone, ALICE " 60 IN TLSA 3 0 0 308201");          /* broken cert */
	tu_zone_add(&f->zone, ALICE " 60 IN TLSA 9 1 1 00ff");            /* unknown usage */
	tu_zone_add_tlsa(&f->zone, ALICE, f->cert_a, 3, 1, 1);
	open_offline(f, 0, 1, 0);
	danemsg_identity *id = lookup(f, ALICE, DANEMSG_OK);
	size_t usable = 0;
	assert_int_equal(danemsg_identity_record_count(id), 4);
	for (size_t i = 0; i < 4; i++) {
		const danemsg_tlsa *rec = danemsg_identity_record(id, i);
		usable += rec->usable != 0;
		if (!rec->usable)
			assert_non_null(rec->unusable_reason);
	}
	assert_int_equal(usable, 1);
	assert_int_equal(danemsg_identity_authenticate_cert(id, f->cert_a, NULL, NULL), DANEMSG_OK);
	danemsg_identity_unref(id);
}

static void test_only_unusable_records(void **state)
{
	struct fixture *f = *state;
	tu_zone_add(&f->zone, ALICE " 60 IN TLSA 1 1 1 00ff");
	open_offline(f, 0, 1, 0);
	danemsg_identity *id = lookup(f, ALICE, DANEMSG_ERR_NO_USABLE_RECORD);
	assert_int_equal(danemsg_identity_dnssec(id), DANEMSG_DNSSEC_SECURE);
	danemsg_identity_unref(id);
}

static void test_bogus_tampered_record(void **state)
{
	struct fixture *f = *state;
	tu_zone_add_tlsa(&f->zone, ALICE, f->cert_a, 3, 1, 1);
	open_offline(f, 1, 1, 0);
	danemsg_identity *id = lookup(f, ALICE, DANEMSG_ERR_DNS_BOGUS);
	assert_int_equal(danemsg_identity_dnssec(id), DANEMSG_DNSSEC_BOGUS);
	assert_non_null(danemsg_identity_why(id));
	/* A bogus identity authenticates nobody, whatever its records say. */
	assert_int_equal(danemsg_identity_authenticate_cert(id, f->cert_a, NULL, NULL),
			 DANEMSG_ERR_DNS_BOGUS);
	danemsg_identity_unref(id);
}

static void test_bogus_wrong_trust_anchor(void **state)
{
	struct fixture *f = *state;
	tu_zone_add_tlsa(&f->zone, ALICE, f->cert_a, 3, 1, 1);
	open_offline(f, 0, 2, 0);
	danemsg_identity *id = lookup(f, ALICE, DANEMSG_ERR_DNS_BOGUS);
	assert_non_null(strstr(danemsg_identity_why(id), "trust anchor"));
	danemsg_identity_unref(id);
}

static void test_insecure_without_trust_anchor(void **state)
{
	struct fixture *f = *state;
	tu_zone_add_tlsa(&f->zone, ALICE, f->cert_a, 3, 1, 1);
	open_offline(f, 0, 0, 0);
	danemsg_identity *id = lookup(f, ALICE, DANEMSG_ERR_DNS_INSECURE);
	assert_int_equal(danemsg_identity_dnssec(id), DANEMSG_DNSSEC_INSECURE);
	assert_int_equal(danemsg_identity_authenticate_cert(id, f->cert_a, NULL, NULL),
			 DANEMSG_ERR_DNS_INSECURE);
	danemsg_identity_unref(id);
}

static void test_insecure_allowed_only_by_opt_out(void **state)
{
	struct fixture *f = *state;
	tu_zone_add_tlsa(&f->zone, ALICE, f->cert_a, 3, 1, 1);
	open_offline(f, 0, 0, 1);
	danemsg_identity *id = lookup(f, ALICE, DANEMSG_OK);
	assert_true(danemsg_identity_insecure_allowed(id));
	assert_int_equal(danemsg_identity_dnssec(id), DANEMSG_DNSSEC_INSECURE);
	assert_int_equal(danemsg_identity_authenticate_cert(id, f->cert_a, NULL, NULL), DANEMSG_OK);
	danemsg_identity_unref(id);
}

static void test_not_found_is_authenticated(void **state)
{
	struct fixture *f = *state;
	tu_zone_add_tlsa(&f->zone, ALICE, f->cert_a, 3, 1, 1);
	tu_zone_add(&f->zone, "bob._device." ZONE " 60 IN A 127.0.0.1");
	open_offline(f, 0, 1, 0);
	danemsg_identity *id = lookup(f, "carol._device." ZONE, DANEMSG_ERR_DNS_NOT_FOUND);
	assert_int_equal(danemsg_identity_dnssec(id), DANEMSG_DNSSEC_SECURE);
	danemsg_identity_unref(id);
	id = lookup(f, "bob._device." ZONE, DANEMSG_ERR_DNS_NOT_FOUND);   /* NODATA */
	assert_int_equal(danemsg_identity_dnssec(id), DANEMSG_DNSSEC_SECURE);
	danemsg_identity_unref(id);
}

static void test_cache_hit_and_negative_cache(void **state)
{
	struct fixture *f = *state;
	danemsg_cache_stats st;
	tu_zone_add_tlsa(&f->zone, ALICE, f->cert_a, 3, 1, 1);
	open_offline(f, 0, 1, 0);
	for (int i = 0; i < 3; i++) {
		danemsg_identity_unref(lookup(f, ALICE, DANEMSG_OK));
		danemsg_identity_unref(lookup(f, "nobody." ZONE, DANEMSG_ERR_DNS_NOT_FOUND));
	}
	danemsg_cache_stats_init(&st);
	danemsg_resolver_cache_stats(f->r, &st);
	assert_int_equal(st.queries, 2);
	assert_int_equal(st.hits, 4);
	assert_int_equal(st.entries, 2);
}

static void test_cache_bound_evicts_least_recent(void **state)
{
	struct fixture *f = *state;
	danemsg_resolver_config cfg;
	danemsg_cache_stats st;
	const char *files[] = {f->zone.anchor_file, NULL};

	tu_zone_finish(&f->zone, 0);
	danemsg_resolver_config_init(&cfg);
	cfg.root_anchor_file = "";
	cfg.offline_zone_file = f->zone.zone_file;
	cfg.offline_zone = ZONE;
	cfg.trust_anchor_files = files;
	cfg.cache_max_entries = 2;
	assert_int_equal(danemsg_resolver_new(&cfg, &f->r, NULL, 0), DANEMSG_OK);
	danemsg_identity_unref(lookup(f, "a." ZONE, DANEMSG_ERR_DNS_NOT_FOUND));
	danemsg_identity_unref(lookup(f, "b." ZONE, DANEMSG_ERR_DNS_NOT_FOUND));
	danemsg_identity_unref(lookup(f, "a." ZONE, DANEMSG_ERR_DNS_NOT_FOUND));  /* a is recent */
	danemsg_identity_unref(lookup(f, "c." ZONE, DANEMSG_ERR_DNS_NOT_FOUND));  /* evicts b */
	danemsg_identity_unref(lookup(f, "a." ZONE, DANEMSG_ERR_DNS_NOT_FOUND));  /* still a hit */
	danemsg_cache_stats_init(&st);
	danemsg_resolver_cache_stats(f->r, &st);
	assert_int_equal(st.entries, 2);
	assert_int_equal(st.evictions, 1);
	assert_int_equal(st.hits, 2);
	assert_int_equal(st.queries, 3);
}

struct async_result {
	int calls;
	danemsg_err status;
};

static void on_lookup(void *arg, danemsg_err status, danemsg_identity *id)
{
	struct async_result *res = arg;
	res->calls++;
	res->status = status;
	danemsg_identity_unref(id);
}

static void test_async_lookups_share_one_query(void **state)
{
	struct fixture *f = *state;
	struct async_result a = {0, 0}, b = {0, 0};
	danemsg_cache_stats st;
	tu_zone_add_tlsa(&f->zone, ALICE, f->cert_a, 3, 1, 1);
	open_offline(f, 0, 1, 0);
	assert_true(danemsg_resolver_fd(f->r) >= 0);
	assert_int_equal(danemsg_resolver_lookup_async(f->r, ALICE, on_lookup, &a), DANEMSG_OK);
	assert_int_equal(danemsg_resolver_lookup_async(f->r, ALICE, on_lookup, &b), DANEMSG_OK);
	for (int i = 0; i < 500 && (a.calls == 0 || b.calls == 0); i++)
		assert_int_equal(danemsg_resolver_wait(f->r, 10), DANEMSG_OK);
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.calls, 1);
	assert_int_equal(a.status, DANEMSG_OK);
	assert_int_equal(b.status, DANEMSG_OK);
	danemsg_cache_stats_init(&st);
	danemsg_resolver_cache_stats(f->r, &st);
	assert_int_equal(st.queries, 1);
	/* A hit answers at once, from inside the call. */
	assert_int_equal(danemsg_resolver_lookup_async(f->r, ALICE, on_lookup, &a), DANEMSG_OK);
	assert_int_equal(a.calls, 2);
}

static void *lookup_thread(void *arg)
{
	struct fixture *f = arg;
	for (int i = 0; i < 50; i++) {
		danemsg_identity *id = NULL;
		if (danemsg_resolver_lookup(f->r, i % 2 ? ALICE : "x." ZONE, &id) !=
		    (i % 2 ? DANEMSG_OK : DANEMSG_ERR_DNS_NOT_FOUND))
			return (void *)1;
		danemsg_identity_unref(id);
	}
	return NULL;
}

static void test_threads_share_a_resolver(void **state)
{
	struct fixture *f = *state;
	pthread_t t[8];
	void *ret;
	tu_zone_add_tlsa(&f->zone, ALICE, f->cert_a, 3, 1, 1);
	open_offline(f, 0, 1, 0);
	for (int i = 0; i < 8; i++)
		assert_int_equal(pthread_create(&t[i], NULL, lookup_thread, f), 0);
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], &ret);
		assert_null(ret);
	}
}

/* Error paths: one per argument. */
static void test_error_paths(void **state)
{
	struct fixture *f = *state;
	danemsg_resolver_config cfg;
	danemsg_resolver *r = NULL;
	danemsg_identity *id = NULL;
	char err[256];
	const char *missing[] = {"/nonexistent/anchor.ds", NULL};

	danemsg_resolver_config_init(&cfg);
	cfg.root_anchor_file = "";
	assert_int_equal(danemsg_resolver_new(NULL, &r, err, sizeof(err)), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_resolver_new(&cfg, NULL, err, sizeof(err)),
			 DANEMSG_ERR_INVALID_ARG);
	cfg.trust_anchor_files = missing;
	assert_int_equal(danemsg_resolver_new(&cfg, &r, err, sizeof(err)), DANEMSG_ERR_DNS_CONFIG);
	assert_null(r);
	assert_non_null(strstr(err, "/nonexistent/anchor.ds"));
	cfg.trust_anchor_files = NULL;
	cfg.server = "not an address";
	assert_int_equal(danemsg_resolver_new(&cfg, &r, err, sizeof(err)), DANEMSG_ERR_DNS_CONFIG);
	assert_non_null(strstr(err, "not an address"));

	tu_zone_add_tlsa(&f->zone, ALICE, f->cert_a, 3, 1, 1);
	open_offline(f, 0, 1, 0);
	assert_int_equal(danemsg_resolver_lookup(NULL, ALICE, &id), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_resolver_lookup(f->r, NULL, &id), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_resolver_lookup(f->r, ALICE, NULL), DANEMSG_ERR_INVALID_ARG);
	static const char *bad_names[] = {"", ".", "a..b", "a b", "a/b", "-\n",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example."};
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		assert_int_equal(danemsg_resolver_lookup(f->r, bad_names[i], &id),
				 DANEMSG_ERR_INVALID_ARG);
		assert_null(id);
	}
	assert_int_equal(danemsg_resolver_lookup_async(f->r, ALICE, NULL, NULL),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_identity_status(NULL), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_identity_authenticate_cert(NULL, f->cert_a, NULL, NULL),
			 DANEMSG_ERR_INVALID_ARG);
	assert_null(danemsg_identity_record(NULL, 0));
	danemsg_identity_unref(NULL);
	danemsg_resolver_free(NULL);
}

/* A 3 1 0 record of key, parsed. */
static void key_record(danemsg_tlsa *rec, EVP_PKEY *key)
{
	unsigned char *der = NULL;
	int len = i2d_PUBKEY(key, &der);
	uint8_t rdata[1024] = {3, 1, 0};
	assert_true(len > 0 && (size_t)len <= sizeof(rdata) - 3);
	memcpy(rdata + 3, der, (size_t)len);
	OPENSSL_free(der);
	danemsg_tlsa_init(rec);
	assert_int_equal(danemsg_tlsa_parse(rdata, 3 + (size_t)len, rec), DANEMSG_OK);
	assert_true(rec->usable);
}

/* Identities keep keys as DER; the live keys are a bounded cache, least recently used
 * first out, and a key handed out outlives its eviction. */
static void test_live_keys_are_bounded(void **state)
{
	EVP_PKEY *keys[3] = {tu_key("P-256"), tu_key("ED25519"), tu_key("P-256")};
	EVP_PKEY *got[3] = {NULL}, *again = NULL;
	danemsg_tlsa recs[3];
	struct keycache *kc = NULL;

	(void)state;
	for (size_t i = 0; i < 3; i++)
		key_record(&recs[i], keys[i]);
	assert_int_equal(keycache_new(2, &kc), DANEMSG_OK);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(keycache_get(kc, &recs[i], &got[i]), DANEMSG_OK);
		assert_int_equal(EVP_PKEY_eq(got[i], keys[i]), 1);
		assert_int_equal(keycache_size(kc), i < 2 ? i + 1 : 2);
	}
	/* keys[2] is kept: the same object */
	assert_int_equal(keycache_get(kc, &recs[2], &again), DANEMSG_OK);
	assert_ptr_equal(again, got[2]);
	EVP_PKEY_free(again);
	/* keys[0] went first: parsed again, and the one handed out still works */
	assert_int_equal(keycache_get(kc, &recs[0], &again), DANEMSG_OK);
	assert_ptr_not_equal(again, got[0]);
	assert_int_equal(EVP_PKEY_eq(again, got[0]), 1);
	EVP_PKEY_free(again);
	assert_int_equal(keycache_size(kc), 2);
	/* no cache: parsed each time */
	assert_int_equal(keycache_get(NULL, &recs[1], &again), DANEMSG_OK);
	assert_ptr_not_equal(again, got[1]);
	EVP_PKEY_free(again);
	/* a record without a whole key has none to give */
	recs[1].spki_len = 0;
	assert_int_equal(keycache_get(kc, &recs[1], &again), DANEMSG_ERR_NOT_FOUND);
	assert_null(again);
	keycache_unref(kc);
	for (size_t i = 0; i < 3; i++) {
		EVP_PKEY_free(got[i]);
		EVP_PKEY_free(keys[i]);
		danemsg_tlsa_clear(&recs[i]);
	}
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_secure_full_certificate),
		T(test_secure_spki_digest),
		T(test_secure_full_key),
		T(test_rollover_two_records_both_used),
		T(test_malformed_record_beside_good),
		T(test_only_unusable_records),
		T(test_bogus_tampered_record),
		T(test_bogus_wrong_trust_anchor),
		T(test_insecure_without_trust_anchor),
		T(test_insecure_allowed_only_by_opt_out),
		T(test_not_found_is_authenticated),
		T(test_cache_hit_and_negative_cache),
		T(test_cache_bound_evicts_least_recent),
		T(test_async_lookups_share_one_query),
		T(test_threads_share_a_resolver),
		T(test_error_paths),
		cmocka_unit_test(test_live_keys_are_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

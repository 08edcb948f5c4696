/* Identity discovery against the lab's knot: TTLs, revocation, failures, delegations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <danemsg.h>

#include "testutil.h"

struct fixture {
	char name[128];
	EVP_PKEY *key;
	X509 *cert;
	danemsg_resolver *r;
};

static unsigned counter;

/* Sends one UPDATE line ("add NAME 60 IN TLSA ...") with the lab's TSIG key. */
static void lab_update(const char *zone, const char *line)
{
	char secret_spec[256], *alg, *keyname, *secret, *save = NULL;
	const char *tsig = getenv("DANEMSG_TSIG"), *server = getenv("DANEMSG_RESOLVER");
	char host[64];
	FILE *p;

	assert_non_null(tsig);
	assert_non_null(server);
	snprintf(secret_spec, sizeof(secret_spec), "%s", tsig);
	alg = strtok_r(secret_spec, ":", &save);
	keyname = strtok_r(NULL, ":", &save);
	secret = strtok_r(NULL, "", &save);
	snprintf(host, sizeof(host), "%s", server);
	char *port = strchr(host, '@');
	assert_non_null(port);
	*port++ = '\0';
	p = popen("knsupdate >/dev/null", "w");
	assert_non_null(p);
	fprintf(p, "server %s %s\nkey %s:%s %s\nzone %s\nupdate %s\nsend\nquit\n", host, port, alg,
		keyname, secret, zone, line);
	assert_int_equal(pclose(p), 0);
}

static void add_tlsa(struct fixture *f, const char *zone, const char *name)
{
	uint8_t rdata[4096];
	size_t len;
	char hex[8200], line[9000];
	assert_int_equal(danemsg_tlsa_rdata(f->cert, 3, 1, 1, rdata, sizeof(rdata), &len),
			 DANEMSG_OK);
	danemsg_hex_encode(rdata + 3, len - 3, hex, sizeof(hex));
	snprintf(line, sizeof(line), "add %s 60 IN TLSA 3 1 1 %s", name, hex);
	lab_update(zone, line);
}

static danemsg_resolver *open_lab(uint32_t max_ttl, const char *server, uint32_t timeout_ms)
{
	danemsg_resolver_config cfg;
	danemsg_resolver *r = NULL;
	const char *anchors[] = {getenv("DANEMSG_TRUST_ANCHOR"), NULL};
	char err[256];
	danemsg_resolver_config_init(&cfg);
	cfg.server = server ? server : getenv("DANEMSG_RESOLVER");
	cfg.trust_anchor_files = anchors;
	cfg.cache_max_ttl = max_ttl;
	cfg.cache_negative_ttl = max_ttl;
	cfg.timeout_ms = timeout_ms;
	assert_int_equal(danemsg_resolver_new(&cfg, &r, err, sizeof(err)), DANEMSG_OK);
	return r;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	snprintf(f->name, sizeof(f->name), "d%u-%ld._device.%s", counter++, (long)getpid(),
		 getenv("DANEMSG_ZONE"));
	f->key = tu_key("P-256");
	f->cert = tu_cert(f->key, f->name, 30);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	danemsg_resolver_free(f->r);
	X509_free(f->cert);
	EVP_PKEY_free(f->key);
	free(f);
	return 0;
}

static danemsg_err lookup_status(danemsg_resolver *r, const char *name)
{
	danemsg_identity *id = NULL;
	danemsg_err err = danemsg_resolver_lookup(r, name, &id);
	danemsg_identity_unref(id);
	return err;
}

static void test_secure_through_server(void **state)
{
	struct fixture *f = *state;
	danemsg_identity *id = NULL;
	add_tlsa(f, getenv("DANEMSG_ZONE"), f->name);
	f->r = open_lab(300, NULL, 5000);
	assert_int_equal(danemsg_resolver_lookup(f->r, f->name, &id), DANEMSG_OK);
	assert_int_equal(danemsg_identity_dnssec(id), DANEMSG_DNSSEC_SECURE);
	assert_int_equal(danemsg_identity_authenticate_cert(id, f->cert, NULL, NULL), DANEMSG_OK);
	danemsg_identity_unref(id);
}

static void test_ttl_expiry_triggers_new_lookup(void **state)
{
	struct fixture *f = *state;
	danemsg_cache_stats st;
	add_tlsa(f, getenv("DANEMSG_ZONE"), f->name);
	f->r = open_lab(1, NULL, 5000);
	assert_int_equal(lookup_status(f->r, f->name), DANEMSG_OK);
	assert_int_equal(lookup_status(f->r, f->name), DANEMSG_OK);
	danemsg_cache_stats_init(&st);
	danemsg_resolver_cache_stats(f->r, &st);
	assert_int_equal(st.queries, 1);
	usleep(1200 * 1000);
	assert_int_equal(lookup_status(f->r, f->name), DANEMSG_OK);
	danemsg_resolver_cache_stats(f->r, &st);
	assert_int_equal(st.queries, 2);
}

static void test_removed_record_stops_within_ceiling(void **state)
{
	struct fixture *f = *state;
	char line[300];
	add_tlsa(f, getenv("DANEMSG_ZONE"), f->name);
	f->r = open_lab(2, NULL, 5000);
	assert_int_equal(lookup_status(f->r, f->name), DANEMSG_OK);
	snprintf(line, sizeof(line), "delete %s TLSA", f->name);
	lab_update(getenv("DANEMSG_ZONE"), line);
	/* Within the ceiling the cached answer may still be used ... */
	assert_int_equal(lookup_status(f->r, f->name), DANEMSG_OK);
	/* ... and past it (plus libunbound's one-second clock granularity), never. */
	usleep(3500 * 1000);
	assert_int_equal(lookup_status(f->r, f->name), DANEMSG_ERR_DNS_NOT_FOUND);
}

static void test_server_down_fails_quickly(void **state)
{
	struct fixture *f = *state;
	struct timespec t0, t1;
	f->r = open_lab(300, "127.0.0.1@9", 1000);   /* discard port: nothing listens */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(lookup_status(f->r, f->name), DANEMSG_ERR_DNS_TEMPORARY);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 3);
	/* The failure is remembered briefly: a burst of messages makes no query storm. */
	danemsg_cache_stats st;
	assert_int_equal(lookup_status(f->r, f->name), DANEMSG_ERR_DNS_TEMPORARY);
	danemsg_cache_stats_init(&st);
	danemsg_resolver_cache_stats(f->r, &st);
	assert_int_equal(st.queries, 1);
}

static void test_unsigned_delegation_is_insecure(void **state)
{
	struct fixture *f = *state;
	char zone[160], name[200];
	snprintf(zone, sizeof(zone), "unsigned.%s", getenv("DANEMSG_ZONE"));
	snprintf(name, sizeof(name), "u%ld.%s", (long)getpid(), zone);
	add_tlsa(f, zone, name);
	f->r = open_lab(300, NULL, 5000);
	assert_int_equal(lookup_status(f->r, name), DANEMSG_ERR_DNS_INSECURE);
}

static void test_wrong_anchor_is_bogus(void **state)
{
	struct fixture *f = *state;
	danemsg_resolver_config cfg;
	danemsg_identity *id = NULL;
	char *dir = tu_tempdir(), path[300];
	const char *anchors[] = {path, NULL};
	FILE *out;

	add_tlsa(f, getenv("DANEMSG_ZONE"), f->name);
	snprintf(path, sizeof(path), "%s/wrong.ds", dir);
	out = fopen(path, "w");
	assert_non_null(out);
	fprintf(out, "%s IN DS 12345 13 2 %s\n", getenv("DANEMSG_ZONE"),
		"0000000000000000000000000000000000000000000000000000000000000000");
	fclose(out);
	danemsg_resolver_config_init(&cfg);
	cfg.server = getenv("DANEMSG_RESOLVER");
	cfg.trust_anchor_files = anchors;
	assert_int_equal(danemsg_resolver_new(&cfg, &f->r, NULL, 0), DANEMSG_OK);
	assert_int_equal(danemsg_resolver_lookup(f->r, f->name, &id), DANEMSG_ERR_DNS_BOGUS);
	assert_non_null(danemsg_identity_why(id));
	danemsg_identity_unref(id);
	tu_rmtree(dir);
	free(dir);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_secure_through_server),
		T(test_ttl_expiry_triggers_new_lookup),
		T(test_removed_record_stops_within_ceiling),
		T(test_server_down_fails_quickly),
		T(test_unsigned_delegation_is_insecure),
		T(test_wrong_anchor_is_bogus),
	};
	if (!getenv("DANEMSG_RESOLVER") || !getenv("DANEMSG_ZONE")) {
		fprintf(stderr, "needs the lab's environment (run under tests/with-lab)\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}

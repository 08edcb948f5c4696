/*
 * Part 5: peak memory (VmHWM, max resident set) of processes that use the library.
 * Each measurement is a process of its own (the fixtures are made by another one first).
 *
 *   bench_memory mkzone DIR N      a signed zone of N senders (P-256 certificates, 3 0 0
 *                                  records at s<i>._device.bench.example) in DIR
 *   bench_memory senders DIR N     a resolver (offline, DIR's zone) with the N senders
 *                                  looked up and cached: M mem.senders.*
 *   bench_memory mkpair DIR        two P-256 identities (keys in DIR) and their zone
 *   bench_memory smallest DIR      the smallest use: load one's identity, make a resolver,
 *                                  seal one 1 KiB message and open it: M mem.smallest_kb
 *   bench_memory floor DIR         the baseline: the same binary doing only the raw
 *                                  OpenSSL work of that (load the key, ECDSA sign and
 *                                  verify): M mem.floor_kb
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <danemsg.h>

#include "bench.h"

#define ZONE "bench.example."
#define SENDER_FMT "s%zu._device.bench.example"
#define ALICE "alice._device.bench.example"
#define BOB "bob._device.bench.example"

static void paths(const char *dir, char *zone, char *anchor, size_t len)
{
	snprintf(zone, len, "%s/zone.signed", dir);
	snprintf(anchor, len, "%s/anchor.ds", dir);
}

/* Moves the zone and anchor files that testutil wrote into dir. */
static void keep_zone(struct tu_zone *z, const char *dir)
{
	char zone[600], anchor[600];
	paths(dir, zone, anchor, sizeof(zone));
	BENCH_CHECK(rename(z->zone_file, zone) == 0 && rename(z->anchor_file, anchor) == 0);
}

static int mkzone(const char *dir, size_t n)
{
	struct tu_zone z;
	tu_zone_begin(&z, ZONE);
	for (size_t i = 0; i < n; i++) {
		char name[128], owner[130];
		EVP_PKEY *key = tu_key("P-256");
		X509 *cert;
		snprintf(name, sizeof(name), SENDER_FMT, i);
		snprintf(owner, sizeof(owner), "%s.", name);
		cert = tu_cert(key, name, 30);
		tu_zone_add_tlsa(&z, owner, cert, 3, 0, 0);
		X509_free(cert);
		EVP_PKEY_free(key);
	}
	tu_zone_finish(&z, 0);
	keep_zone(&z, dir);
	tu_zone_end(&z);
	return 0;
}

static danemsg_resolver *resolver_for(const char *dir)
{
	char zone[600], anchor[600];
	paths(dir, zone, anchor, sizeof(zone));
	return bench_offline_resolver(zone, anchor, ZONE);
}

struct window {
	size_t done, failed;
};

static void on_answer(void *arg, danemsg_err status, danemsg_identity *id)
{
	struct window *w = arg;
	w->done++;
	if (status != DANEMSG_OK)
		w->failed++;
	danemsg_identity_unref(id);
}

static int senders(const char *dir, size_t n)
{
	danemsg_resolver *r = resolver_for(dir);
	danemsg_cache_stats st;
	danemsg_identity *id = NULL;
	struct window w = {0, 0};
	size_t next = 1;
	char name[128];
	uint64_t t0;

	bench_result((double)bench_vm_rss_kb(), "mem.senders.resolver_kb");
	/* The first lookup loads the zone into libunbound. */
	snprintf(name, sizeof(name), SENDER_FMT, (size_t)0);
	BENCH_CHECK(danemsg_resolver_lookup(r, name, &id) == DANEMSG_OK);
	danemsg_identity_unref(id);
	bench_result((double)bench_vm_rss_kb(), "mem.senders.zone_loaded_kb");
	/* The others, a window of lookups in flight at a time: 48, the resolver's share for
	 * names never seen good (3/4 of max_inflight). */
	t0 = bench_now_ns();
	while (w.done + 1 < n) {
		while (next < n && next - 1 - w.done < 48) {
			snprintf(name, sizeof(name), SENDER_FMT, next++);
			BENCH_CHECK(danemsg_resolver_lookup_async(r, name, on_answer, &w) ==
				    DANEMSG_OK);
		}
		BENCH_CHECK(danemsg_resolver_wait(r, 100) == DANEMSG_OK);
	}
	BENCH_CHECK(w.failed == 0);
	bench_result((double)(bench_now_ns() - t0) / 1e9, "mem.senders.fill_seconds");
	danemsg_cache_stats_init(&st);
	danemsg_resolver_cache_stats(r, &st);
	BENCH_CHECK(st.entries == n && st.evictions == 0);
	bench_result((double)st.entries, "mem.senders.entries");
	bench_result((double)bench_vm_rss_kb(), "mem.senders.cached_kb");
	bench_result((double)bench_vm_hwm_kb(), "mem.senders.hwm_kb");
	danemsg_resolver_free(r);
	return 0;
}

static int mkpair(const char *dir)
{
	struct bench_ids ids;
	danemsg_credential *a, *b;
	bench_ids_begin(&ids, ZONE);
	a = bench_ids_add(&ids, ALICE, DANEMSG_KEY_P256);
	b = bench_ids_add(&ids, BOB, DANEMSG_KEY_P256);
	bench_ids_finish(&ids);
	keep_zone(&ids.zone, dir);
	/* The credentials move too: a fresh process loads them from dir. */
	danemsg_credential_free(a);
	danemsg_credential_free(b);
	{
		const char *names[] = {ALICE, BOB};
		for (int i = 0; i < 2; i++)
			for (danemsg_credential_file f = DANEMSG_FILE_KEY; f <= DANEMSG_FILE_CERT;
			     f++) {
				char from[600], to[600];
				BENCH_CHECK(danemsg_credential_path(ids.dir, names[i],
								    DANEMSG_SLOT_CURRENT, f, from,
								    sizeof(from)) == DANEMSG_OK);
				BENCH_CHECK(danemsg_credential_path(dir, names[i],
								    DANEMSG_SLOT_CURRENT, f, to,
								    sizeof(to)) == DANEMSG_OK);
				BENCH_CHECK(rename(from, to) == 0);
			}
	}
	bench_ids_end(&ids);
	return 0;
}

static int smallest(const char *dir)
{
	danemsg_credential *alice = NULL, *bob = NULL;
	danemsg_resolver *r = resolver_for(dir);
	danemsg_policy *policy = NULL;
	danemsg_message *m = NULL;
	const char *to[] = {BOB};
	const danemsg_credential *keys[1];
	uint8_t msg[1024];
	char *sealed = NULL, err[256] = "";
	size_t len;

	BENCH_CHECK(danemsg_credential_load(dir, ALICE, &alice, NULL, 0) == DANEMSG_OK);
	BENCH_CHECK(danemsg_credential_load(dir, BOB, &bob, NULL, 0) == DANEMSG_OK);
	BENCH_CHECK(danemsg_policy_new(&policy) == DANEMSG_OK);
	BENCH_CHECK(RAND_bytes(msg, sizeof(msg)) == 1);
	if (danemsg_seal(r, alice, to, 1, msg, sizeof(msg), NULL, &sealed, &len, err,
			 sizeof(err)) != DANEMSG_OK) {
		fprintf(stderr, "seal: %s\n", err);
		BENCH_CHECK(0);
	}
	keys[0] = bob;
	if (danemsg_open(r, keys, 1, policy, (const uint8_t *)sealed, len, &m, err,
			 sizeof(err)) != DANEMSG_OK) {
		fprintf(stderr, "open: %s\n", err);
		BENCH_CHECK(0);
	}
	bench_result((double)bench_vm_hwm_kb(), "mem.smallest_kb");
	danemsg_message_free(m);
	free(sealed);
	danemsg_policy_free(policy);
	danemsg_credential_free(alice);
	danemsg_credential_free(bob);
	danemsg_resolver_free(r);
	return 0;
}

static int floor_use(const char *dir)
{
	char path[600];
	FILE *f;
	EVP_PKEY *key;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t msg[1024], sig[128];
	size_t sig_len = sizeof(sig);

	BENCH_CHECK(danemsg_credential_path(dir, ALICE, DANEMSG_SLOT_CURRENT, DANEMSG_FILE_KEY,
					    path, sizeof(path)) == DANEMSG_OK);
	BENCH_CHECK(f = fopen(path, "r"));
	BENCH_CHECK(key = PEM_read_PrivateKey(f, NULL, NULL, NULL));
	fclose(f);
	BENCH_CHECK(RAND_bytes(msg, sizeof(msg)) == 1);
	BENCH_CHECK(md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
		    EVP_DigestSign(md, sig, &sig_len, msg, sizeof(msg)) == 1);
	BENCH_CHECK(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
		    EVP_DigestVerify(md, sig, sig_len, msg, sizeof(msg)) == 1);
	bench_result((double)bench_vm_hwm_kb(), "mem.floor_kb");
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(key);
	return 0;
}

int main(int argc, char **argv)
{
	argc = bench_parse_args(argc, argv);
	if (argc == 4 && !strcmp(argv[1], "mkzone"))
		return mkzone(argv[2], (size_t)strtoul(argv[3], NULL, 10));
	if (argc == 4 && !strcmp(argv[1], "senders"))
		return senders(argv[2], (size_t)strtoul(argv[3], NULL, 10));
	if (argc == 3 && !strcmp(argv[1], "mkpair"))
		return mkpair(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "smallest"))
		return smallest(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "floor"))
		return floor_use(argv[2]);
	fprintf(stderr, "usage: bench_memory mkzone|senders DIR N | mkpair|smallest|floor DIR\n");
	return 2;
}

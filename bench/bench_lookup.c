/*
 * Part 2: identity lookups.
 *
 *   bench_lookup hit
 *       danemsg_resolver_lookup on a warm name (offline signed zone), against a synchronous
 *       ub_resolve cache hit on a libunbound context set up the same way, and against the
 *       floor of any locked cache (mutex lock/unlock + FNV-1a hash + strcmp); also two
 *       threads at once. Output: M lookup.hit.ours_ns, .ub_resolve_ns, .floor_ns,
 *       M lookup.hit2.ours_ns / .floor_ns (nanoseconds per lookup, both threads together).
 *
 *   bench_lookup cold SERVER ANCHOR ZONE NAME...
 *       against a real server (the lab's knot): first lookups of published names.
 *       fresh: a new resolver per name (fetches and validates the zone's DNSKEY, then the
 *       TLSA RRset), against the same two queries (DNSKEY, TLSA, DO bit) sent with ldns.
 *       warm:  one resolver that already holds the DNSKEY, new names, against one ldns TLSA
 *       query. Output per name: M lookup.cold_fresh.ours_ns / .ldns_ns,
 *       M lookup.cold_warm.ours_ns / .ldns_ns.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <ldns/ldns.h>
#include <openssl/crypto.h>
#include <unbound.h>

#include <danemsg.h>

#include "bench.h"
#include "util.h"

#define ZONE "bench.example."
#define NAME "alice._device.bench.example"

/* ---- cache hits ---- */

static void ours_hit(void *arg, size_t i)
{
	danemsg_identity *id = NULL;
	BENCH_CHECK(danemsg_resolver_lookup(arg, NAME, &id) == DANEMSG_OK);
	danemsg_identity_unref(id);
}

static void ub_hit(void *arg, size_t i)
{
	struct ub_result *res = NULL;
	BENCH_CHECK(ub_resolve(arg, NAME ".", 52, 1, &res) == 0 && res->havedata && res->secure);
	ub_resolve_free(res);
}

/* The floor of a thread-safe name cache: lock, hash the name, compare it, unlock. */
struct floor_cache {
	pthread_mutex_t lock;
	uint32_t hash;
	char name[256];
	long hits;
};

static void floor_hit(void *arg, size_t i)
{
	struct floor_cache *f = arg;
	const char *name = NAME ".";
	uint32_t h;
	pthread_mutex_lock(&f->lock);
	h = util_fnv1a(name);   /* the cache's hash */
	if (h == f->hash && !strcmp(name, f->name))
		f->hits++;
	pthread_mutex_unlock(&f->lock);
}

/* A libunbound context like the resolver's: the same offline auth-zone and anchor. */
static struct ub_ctx *ub_like_resolver(const char *zone_file, const char *anchor_file)
{
	struct ub_ctx *ub = ub_ctx_create();
	char conf[] = "/tmp/danemsg-bench-ub-XXXXXX";
	int fd = mkstemp(conf);
	FILE *f;
	BENCH_CHECK(ub && fd >= 0 && (f = fdopen(fd, "w")));
	fprintf(f, "auth-zone:\n\tname: \"%s\"\n\tzonefile: \"%s\"\n\tfor-upstream: yes\n"
		   "\tfor-downstream: no\n\tfallback-enabled: no\n", ZONE, zone_file);
	fclose(f);
	BENCH_CHECK(ub_ctx_async(ub, 1) == 0 && ub_ctx_config(ub, conf) == 0);
	unlink(conf);
	BENCH_CHECK(ub_ctx_add_ta_file(ub, anchor_file) == 0);
	return ub;
}

struct thread_job {
	bench_op op;
	void *arg;
	size_t n;
	pthread_barrier_t *start;
};

static void *thread_main(void *p)
{
	struct thread_job *j = p;
	pthread_barrier_wait(j->start);
	for (size_t i = 0; i < j->n; i++)
		j->op(j->arg, i);
	return NULL;
}

/* Nanoseconds per operation with two threads doing n operations each. */
static double time_two_threads(bench_op op, void *arg, size_t n)
{
	pthread_t t[2];
	pthread_barrier_t start;
	struct thread_job job = {op, arg, n, &start};
	uint64_t t0;
	pthread_barrier_init(&start, NULL, 3);
	for (int i = 0; i < 2; i++)
		BENCH_CHECK(pthread_create(&t[i], NULL, thread_main, &job) == 0);
	t0 = bench_now_ns();   /* no thread starts before this one reaches the barrier */
	pthread_barrier_wait(&start);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&start);
	return (double)(bench_now_ns() - t0) / (double)(2 * n);
}

static int run_hits(void)
{
	struct bench_ids ids;
	danemsg_credential *alice;
	danemsg_resolver *r;
	struct ub_ctx *ub;
	struct floor_cache fc;
	size_t n_ours, n_ub, n_floor;

	bench_ids_begin(&ids, ZONE);
	alice = bench_ids_add(&ids, NAME, DANEMSG_KEY_P256);
	bench_ids_finish(&ids);
	r = bench_offline_resolver(ids.zone.zone_file, ids.zone.anchor_file, ZONE);
	ub = ub_like_resolver(ids.zone.zone_file, ids.zone.anchor_file);
	memset(&fc, 0, sizeof(fc));
	pthread_mutex_init(&fc.lock, NULL);
	snprintf(fc.name, sizeof(fc.name), "%s.", NAME);
	fc.hash = util_fnv1a(fc.name);

	/* Warm both caches (the first lookups validate the zone's answers). */
	ours_hit(r, 0);
	ub_hit(ub, 0);
	n_ours = bench_calibrate(ours_hit, r, bench_seconds, 100);
	n_ub = bench_calibrate(ub_hit, ub, bench_seconds, 10);
	n_floor = bench_calibrate(floor_hit, &fc, bench_seconds, 100);
	for (int run = 0; run < bench_runs; run++) {
		bench_result(bench_cpu_ns(ours_hit, r, n_ours), "lookup.hit.ours_ns");
		bench_result(bench_cpu_ns(ub_hit, ub, n_ub), "lookup.hit.ub_resolve_ns");
		bench_result(bench_cpu_ns(floor_hit, &fc, n_floor), "lookup.hit.floor_ns");
		bench_result(time_two_threads(ours_hit, r, n_ours / 2 + 1), "lookup.hit2.ours_ns");
		bench_result(time_two_threads(floor_hit, &fc, n_floor / 2 + 1),
			     "lookup.hit2.floor_ns");
	}
	{
		danemsg_cache_stats st;
		danemsg_cache_stats_init(&st);
		danemsg_resolver_cache_stats(r, &st);
		bench_result((double)st.queries, "lookup.hit.dns_queries");
	}
	pthread_mutex_destroy(&fc.lock);
	ub_ctx_delete(ub);
	danemsg_resolver_free(r);
	danemsg_credential_free(alice);
	bench_ids_end(&ids);
	return 0;
}

/* ---- cold lookups against a server ---- */

static danemsg_resolver *server_resolver(const char *server, const char *anchor)
{
	danemsg_resolver_config cfg;
	danemsg_resolver *r = NULL;
	const char *anchors[2] = {anchor, NULL};
	char err[512] = "";
	danemsg_resolver_config_init(&cfg);
	cfg.server = server;
	cfg.root_anchor_file = "";
	cfg.trust_anchor_files = anchors;
	if (danemsg_resolver_new(&cfg, &r, err, sizeof(err)) != DANEMSG_OK) {
		fprintf(stderr, "resolver for %s: %s\n", server, err);
		BENCH_CHECK(0);
	}
	return r;
}

static uint64_t timed_lookup(danemsg_resolver *r, const char *name)
{
	danemsg_identity *id = NULL;
	uint64_t t0 = bench_now_ns(), t;
	danemsg_err err = danemsg_resolver_lookup(r, name, &id);
	t = bench_now_ns() - t0;
	if (err != DANEMSG_OK) {
		fprintf(stderr, "lookup %s: %s (%s)\n", name, danemsg_strerror(err),
			danemsg_identity_why(id) ? danemsg_identity_why(id) : "");
		BENCH_CHECK(0);
	}
	danemsg_identity_unref(id);
	return t;
}

/* An ldns resolver for ADDR@PORT that sets the DO bit, made once. */
static ldns_resolver *ldns_for(const char *server)
{
	char addr[64];
	const char *at = strchr(server, '@');
	ldns_resolver *res = ldns_resolver_new();
	ldns_rdf *ns;
	BENCH_CHECK(res && at && (size_t)(at - server) < sizeof(addr));
	memcpy(addr, server, (size_t)(at - server));
	addr[at - server] = '\0';
	BENCH_CHECK(ns = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_A, addr));
	BENCH_CHECK(ldns_resolver_push_nameserver(res, ns) == LDNS_STATUS_OK);
	ldns_rdf_deep_free(ns);
	ldns_resolver_set_port(res, (uint16_t)atoi(at + 1));
	ldns_resolver_set_dnssec(res, true);
	ldns_resolver_set_edns_udp_size(res, 1232);
	ldns_resolver_set_retry(res, 1);
	return res;
}

static void ldns_round_trip(ldns_resolver *res, const char *name, ldns_rr_type type)
{
	ldns_rdf *dname = ldns_dname_new_frm_str(name);
	ldns_pkt *pkt = NULL;
	BENCH_CHECK(dname);
	BENCH_CHECK(ldns_resolver_send(&pkt, res, dname, type, LDNS_RR_CLASS_IN, LDNS_RD) ==
		    LDNS_STATUS_OK && pkt && ldns_pkt_get_rcode(pkt) == LDNS_RCODE_NOERROR &&
		    ldns_pkt_ancount(pkt) > 0);
	ldns_pkt_free(pkt);
	ldns_rdf_deep_free(dname);
}

static int run_cold(const char *server, const char *anchor, const char *zone, char **names,
		    int n)
{
	ldns_resolver *res = ldns_for(server);
	danemsg_resolver *warm;

	BENCH_CHECK(n >= 2);
	/* A fresh resolver per name: DNSKEY and TLSA fetched and validated. */
	for (int i = 0; i < n; i++) {
		danemsg_resolver *r = server_resolver(server, anchor);
		uint64_t t0;
		bench_result((double)timed_lookup(r, names[i]), "lookup.cold_fresh.ours_ns");
		danemsg_resolver_free(r);
		t0 = bench_now_ns();
		ldns_round_trip(res, zone, LDNS_RR_TYPE_DNSKEY);
		ldns_round_trip(res, names[i], LDNS_RR_TYPE_TLSA);
		bench_result((double)(bench_now_ns() - t0), "lookup.cold_fresh.ldns_ns");
	}
	/* One resolver that already validated the zone's keys: a new name each time. */
	warm = server_resolver(server, anchor);
	timed_lookup(warm, names[0]);
	for (int i = 1; i < n; i++) {
		uint64_t t0;
		bench_result((double)timed_lookup(warm, names[i]), "lookup.cold_warm.ours_ns");
		t0 = bench_now_ns();
		ldns_round_trip(res, names[i], LDNS_RR_TYPE_TLSA);
		bench_result((double)(bench_now_ns() - t0), "lookup.cold_warm.ldns_ns");
	}
	danemsg_resolver_free(warm);
	ldns_resolver_deep_free(res);
	return 0;
}

static void versions(void)
{
	bench_info("openssl", "%s", OpenSSL_version(OPENSSL_VERSION));
	bench_info("unbound", "%s", ub_version());
	bench_info("ldns", "%s", ldns_version());
	bench_info("jansson", "%s", jansson_version_str());
}

int main(int argc, char **argv)
{
	argc = bench_parse_args(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "hit")) {
		versions();
		return run_hits();
	}
	if (argc >= 7 && !strcmp(argv[1], "cold"))
		return run_cold(argv[2], argv[3], argv[4], argv + 5, argc - 5);
	fprintf(stderr, "usage: bench_lookup [--smoke] [--runs N] [--seconds S] hit\n"
			"       bench_lookup [--smoke] cold SERVER ANCHOR ZONE NAME NAME...\n");
	return 2;
}

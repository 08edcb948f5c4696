/* Helpers shared by the benchmarks. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

int bench_smoke = 0;
int bench_runs = 5;
double bench_seconds = 0.25;

void bench_die(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: benchmark fixture failed: %s\n", file, line, what);
	abort();
}

uint64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void bench_result(double value, const char *key_fmt, ...)
{
	char key[256];
	va_list ap;
	va_start(ap, key_fmt);
	vsnprintf(key, sizeof(key), key_fmt, ap);
	va_end(ap);
	printf("M %s %.6g\n", key, value);
	fflush(stdout);
}

void bench_info(const char *key, const char *fmt, ...)
{
	va_list ap;
	printf("I %s ", key);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static long status_kb(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	size_t n = strlen(field);
	BENCH_CHECK(f);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, n) && line[n] == ':')
			kb = strtol(line + n + 1, NULL, 10);
	fclose(f);
	BENCH_CHECK(kb >= 0);
	return kb;
}

long bench_vm_hwm_kb(void)
{
	return status_kb("VmHWM");
}

long bench_vm_rss_kb(void)
{
	return status_kb("VmRSS");
}

double bench_time_ns(bench_op op, void *arg, size_t n)
{
	uint64_t t0 = bench_now_ns();
	for (size_t i = 0; i < n; i++)
		op(arg, i);
	return (double)(bench_now_ns() - t0) / (double)(n ? n : 1);
}

double bench_cpu_ns(bench_op op, void *arg, size_t n)
{
	struct timespec a, b;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
	for (size_t i = 0; i < n; i++)
		op(arg, i);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
	return ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) /
	       (double)(n ? n : 1);
}

static double cpu_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

void bench_pair_cpu_ns(bench_op a, void *a_arg, size_t a_n, bench_op b, void *b_arg,
		       size_t b_n, int slices, double *a_ns, double *b_ns)
{
	double ta = 0, tb = 0, t0;
	for (int s = 0; s < slices; s++) {
		size_t a_end = a_n * (size_t)(s + 1) / (size_t)slices;
		size_t b_end = b_n * (size_t)(s + 1) / (size_t)slices;
		t0 = cpu_now_ns();
		for (size_t i = a_n * (size_t)s / (size_t)slices; i < a_end; i++)
			a(a_arg, i);
		ta += cpu_now_ns() - t0;
		t0 = cpu_now_ns();
		for (size_t i = b_n * (size_t)s / (size_t)slices; i < b_end; i++)
			b(b_arg, i);
		tb += cpu_now_ns() - t0;
	}
	*a_ns = ta / (double)(a_n ? a_n : 1);
	*b_ns = tb / (double)(b_n ? b_n : 1);
}

size_t bench_calibrate(bench_op op, void *arg, double seconds, size_t min_n)
{
	double per_op;
	size_t n;
	if (bench_smoke)
		return min_n;
	per_op = bench_time_ns(op, arg, 3);
	n = (size_t)(seconds * 1e9 / (per_op > 1 ? per_op : 1));
	return n < min_n ? min_n : n;
}

int bench_parse_args(int argc, char **argv)
{
	int kept = 1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--smoke")) {
			bench_smoke = 1;
		} else if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
			bench_runs = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			bench_seconds = atof(argv[++i]);
		} else {
			argv[kept++] = argv[i];
		}
	}
	if (bench_smoke && bench_runs > 2)
		bench_runs = 2;
	BENCH_CHECK(bench_runs >= 1 && bench_seconds > 0);
	return kept;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

double bench_median(double *v, size_t n)
{
	BENCH_CHECK(n > 0);
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- identities ---- */

void bench_ids_begin(struct bench_ids *b, const char *origin)
{
	memset(b, 0, sizeof(*b));
	b->dir = tu_tempdir();
	snprintf(b->origin, sizeof(b->origin), "%s", origin);
	tu_zone_begin(&b->zone, origin);
}

danemsg_credential *bench_ids_add(struct bench_ids *b, const char *name, danemsg_keytype type)
{
	danemsg_credential *cred = NULL;
	STACK_OF(X509) *certs = NULL;
	char err[256], owner[300];
	BENCH_CHECK(danemsg_credential_new(b->dir, name, type, 30, 0, err, sizeof(err)) ==
		    DANEMSG_OK);
	BENCH_CHECK(danemsg_credential_load(b->dir, name, &cred, NULL, 0) == DANEMSG_OK);
	BENCH_CHECK(danemsg_credential_published(b->dir, name, &certs, err, sizeof(err)) ==
		    DANEMSG_OK);
	snprintf(owner, sizeof(owner), "%s.", name);
	for (int i = 0; i < sk_X509_num(certs); i++)
		tu_zone_add_tlsa(&b->zone, owner, sk_X509_value(certs, i), 3, 0, 0);
	sk_X509_pop_free(certs, X509_free);
	return cred;
}

void bench_ids_finish(struct bench_ids *b)
{
	tu_zone_finish(&b->zone, 0);
}

void bench_ids_end(struct bench_ids *b)
{
	tu_zone_end(&b->zone);
	tu_rmtree(b->dir);
	free(b->dir);
	memset(b, 0, sizeof(*b));
}

danemsg_resolver *bench_offline_resolver(const char *zone_file, const char *anchor_file,
					 const char *origin)
{
	danemsg_resolver_config cfg;
	danemsg_resolver *r = NULL;
	const char *anchors[2] = {anchor_file, NULL};
	char err[512] = "";
	danemsg_resolver_config_init(&cfg);
	cfg.root_anchor_file = "";
	cfg.offline_zone_file = zone_file;
	cfg.offline_zone = origin;
	cfg.trust_anchor_files = anchors;
	if (danemsg_resolver_new(&cfg, &r, err, sizeof(err)) != DANEMSG_OK) {
		fprintf(stderr, "offline resolver: %s\n", err);
		BENCH_CHECK(0);
	}
	return r;
}

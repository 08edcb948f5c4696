/* Helpers shared by the benchmarks: clocks, repeated runs, results, identities in a zone.
 *
 * Every benchmark prints its measurements as lines "M KEY VALUE" (one per run for timed
 * figures: bench/report.py takes the median of repeated keys and pairs the runs of a
 * figure and its baseline to compute the ratio). Failures abort: a broken fixture is not
 * a result. */
#ifndef DANEMSG_BENCH_H
#define DANEMSG_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include <danemsg.h>

#include "testutil.h"

/* Aborts with a message unless cond holds. */
#define BENCH_CHECK(cond) do { if (!(cond)) bench_die(__FILE__, __LINE__, #cond); } while (0)
void bench_die(const char *file, int line, const char *what) __attribute__((noreturn));

/* Monotonic time in nanoseconds. */
uint64_t bench_now_ns(void);

/* "M key value" on stdout; key built with printf. */
void bench_result(double value, const char *key_fmt, ...) __attribute__((format(printf, 2, 3)));

/* "I key text" on stdout: information for the report (versions, sizes). */
void bench_info(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Peak and current resident set of this process, from /proc/self/status, in KiB. */
long bench_vm_hwm_kb(void);
long bench_vm_rss_kb(void);

/* One operation of a timed loop; i counts from 0. */
typedef void (*bench_op)(void *arg, size_t i);

/* Nanoseconds per operation of n calls of op: wall-clock time. */
double bench_time_ns(bench_op op, void *arg, size_t n);
/* The same in CPU time of the calling thread: for single-threaded, CPU-bound loops on a
 * shared machine (time spent descheduled for other tenants is not counted). */
double bench_cpu_ns(bench_op op, void *arg, size_t n);

/* Times a (a_n calls) and b (b_n calls) in `slices` alternating slices, so that drift on a
 * shared machine hits both alike: CPU nanoseconds per operation of each. The index each op
 * receives runs from 0 across the slices. */
void bench_pair_cpu_ns(bench_op a, void *a_arg, size_t a_n, bench_op b, void *b_arg,
		       size_t b_n, int slices, double *a_ns, double *b_ns);

/* Iterations that take about seconds (calibrated on a few calls), at least min_n;
 * in smoke mode (bench_smoke set) always min_n. */
size_t bench_calibrate(bench_op op, void *arg, double seconds, size_t min_n);

/* Settings from the command line: --smoke, --runs N, --seconds S. */
extern int bench_smoke;
extern int bench_runs;
extern double bench_seconds;
/* Reads those options from argv (others are left to the caller: returns their count,
 * moved to the front of argv after argv[0]). */
int bench_parse_args(int argc, char **argv);

/* Sorts and returns the median of v[0..n). */
double bench_median(double *v, size_t n);

/* ---- identities in a signed offline zone (tests/testutil) ---- */

struct bench_ids {
	char *dir;                /* credential files */
	struct tu_zone zone;
	char origin[256];         /* with trailing dot */
};

/* Starts a zone and a credential directory. */
void bench_ids_begin(struct bench_ids *b, const char *origin);
/* Creates identity NAME (no trailing dot) of type and publishes its certificates
 * (3 0 0, as `danemsg id tlsa` does by default) in the zone; returns it loaded. */
danemsg_credential *bench_ids_add(struct bench_ids *b, const char *name, danemsg_keytype type);
/* Signs and writes the zone. */
void bench_ids_finish(struct bench_ids *b);
void bench_ids_end(struct bench_ids *b);

/* A resolver that validates the zone offline (no server). */
danemsg_resolver *bench_offline_resolver(const char *zone_file, const char *anchor_file,
					 const char *origin);

#endif

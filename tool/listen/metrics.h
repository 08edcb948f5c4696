/* danemsg listen's counters: kept by the threads that do the work, rendered in the
 * Prometheus text format (0.0.4) for a loopback HTTP endpoint (--metrics) and for the
 * status file that `danemsg listen --status` reads. */
#ifndef DANEMSG_TOOL_METRICS_H
#define DANEMSG_TOOL_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define METRICS_REASONS 48        /* distinct refusal reasons counted; beyond: "other" */
#define METRICS_REASON_LEN 40
#define METRICS_LATENCY_BUCKETS 11
#define METRICS_TEXT_MAX 32768    /* the rendered text: far more than its ~60 lines */

struct metrics {
	atomic_ulong received, delivered, retried, quarantined, quarantined_bytes;
	atomic_ulong reconnects;
	atomic_ulong refused[METRICS_REASONS + 1];   /* the last slot: "other" */
	char reasons[METRICS_REASONS][METRICS_REASON_LEN];
	atomic_int n_reasons;
	atomic_ulong latency[METRICS_LATENCY_BUCKETS + 1];   /* the last: above them all */
	atomic_ullong latency_sum_us;
};

/* What is read at the time of rendering (the caller's gauges). */
struct metrics_gauges {
	uint64_t spool_depth, retrying;
	uint64_t dns_queries, dns_cache_hits, dns_cache_misses, dns_cache_entries;
	int connected;
	int64_t start_time, pid, now;
};

/* Counts a message refused for reason (a short token such as "too-large"). */
void metrics_refused(struct metrics *m, const char *reason);
/* Counts a delivery that took latency_ns from arrival; the count of deliveries. */
unsigned long metrics_delivered(struct metrics *m, int64_t latency_ns);

/* The text exposition; its length, or 0 if len is too short. */
size_t metrics_render(struct metrics *m, const struct metrics_gauges *g, char *buf, size_t len);

/* "127.0.0.1:9464" or "[::1]:9464" into *sa; non_loopback: set when the address is not a
 * loopback one. 0, or -1 when it does not parse (port 1 to 65535). */
int metrics_parse_addr(const char *text, struct sockaddr_storage *sa, int *non_loopback);

/* The HTTP endpoint (libmicrohttpd, its own thread): GET /metrics only. */
struct metrics_server;
typedef void (*metrics_gauges_fn)(void *ctx, struct metrics_gauges *g);
int metrics_server_start(const struct sockaddr_storage *sa, struct metrics *m,
			 metrics_gauges_fn gauges, void *ctx, struct metrics_server **out);
void metrics_server_stop(struct metrics_server *s);

#endif

/* danemsg listen's counters in the Prometheus text format, and the HTTP endpoint that
 * serves them (see metrics.h). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "metrics.h"

/* The delivery latency histogram's upper bounds, in seconds: from a local --exec to a
 * message that waited for DNS through its retries. */
static const double latency_bounds[METRICS_LATENCY_BUCKETS] = {
	0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 60, 300, 3600,
};

/* Registering a new reason is rare (one per kind of refusal): a lock is fine there. */
static pthread_mutex_t reasons_lock = PTHREAD_MUTEX_INITIALIZER;

void metrics_refused(struct metrics *m, const char *reason)
{
	int n = atomic_load(&m->n_reasons), i;

	for (i = 0; i < n; i++)
		if (!strncmp(m->reasons[i], reason, METRICS_REASON_LEN - 1))
			break;
	if (i == n) {
		pthread_mutex_lock(&reasons_lock);
		n = atomic_load(&m->n_reasons);
		for (i = 0; i < n; i++)
			if (!strncmp(m->reasons[i], reason, METRICS_REASON_LEN - 1))
				break;
		if (i == n && n < METRICS_REASONS) {
			snprintf(m->reasons[n], METRICS_REASON_LEN, "%s", reason);
			atomic_store(&m->n_reasons, n + 1);   /* published after the name */
		}
		pthread_mutex_unlock(&reasons_lock);
	}
	atomic_fetch_add(&m->refused[i < METRICS_REASONS ? i : METRICS_REASONS], 1);
}

unsigned long metrics_delivered(struct metrics *m, int64_t latency_ns)
{
	double s = latency_ns > 0 ? (double)latency_ns / 1e9 : 0;
	int b = 0;

	while (b < METRICS_LATENCY_BUCKETS && s > latency_bounds[b])
		b++;
	atomic_fetch_add(&m->latency[b], 1);
	atomic_fetch_add(&m->latency_sum_us, (unsigned long long)(s * 1e6));
	return atomic_fetch_add(&m->delivered, 1) + 1;
}

struct out {
	char *buf;
	size_t len, used;
	int short_;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->short_)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->used, o->len - o->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->len - o->used)
		o->short_ = 1;
	else
		o->used += (size_t)n;
}

static void header(struct out *o, const char *name, const char *type, const char *help)
{
	put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counter(struct out *o, const char *name, const char *help, unsigned long long v)
{
	header(o, name, "counter", help);
	put(o, "%s %llu\n", name, v);
}

static void gauge(struct out *o, const char *name, const char *help, long long v)
{
	header(o, name, "gauge", help);
	put(o, "%s %lld\n", name, v);
}

/* A label value as the format wants it: backslash, quote and newline escaped; other
 * controls (never in our reasons) made visible. */
static void label_value(const char *v, char *out, size_t len)
{
	size_t j = 0;
	for (; *v && j + 3 < len; v++) {
		unsigned char c = (unsigned char)*v;
		if (c == '\\' || c == '"') {
			out[j++] = '\\';
			out[j++] = (char)c;
		} else if (c == '\n') {
			out[j++] = '\\';
			out[j++] = 'n';
		} else {
			out[j++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
		}
	}
	out[j] = '\0';
}

static void render_refused(struct out *o, struct metrics *m)
{
	int n = atomic_load(&m->n_reasons);
	char v[2 * METRICS_REASON_LEN + 1];

	header(o, "danemsg_listen_refused_total", "counter",
	       "Messages refused (quarantined or dropped), by reason.");
	for (int i = 0; i < n; i++) {
		label_value(m->reasons[i], v, sizeof(v));
		put(o, "danemsg_listen_refused_total{reason=\"%s\"} %lu\n", v,
		    atomic_load(&m->refused[i]));
	}
	if (atomic_load(&m->refused[METRICS_REASONS]))
		put(o, "danemsg_listen_refused_total{reason=\"other\"} %lu\n",
		    atomic_load(&m->refused[METRICS_REASONS]));
}

static void render_latency(struct out *o, struct metrics *m)
{
	const char *name = "danemsg_listen_delivery_latency_seconds";
	unsigned long long total = 0;

	header(o, name, "histogram", "From arrival (stored in the spool) to delivery.");
	for (int b = 0; b <= METRICS_LATENCY_BUCKETS; b++) {
		total += atomic_load(&m->latency[b]);
		if (b < METRICS_LATENCY_BUCKETS)
			put(o, "%s_bucket{le=\"%g\"} %llu\n", name, latency_bounds[b], total);
		else
			put(o, "%s_bucket{le=\"+Inf\"} %llu\n", name, total);
	}
	put(o, "%s_sum %.6f\n%s_count %llu\n", name,
	    (double)atomic_load(&m->latency_sum_us) / 1e6, name, total);
}

size_t metrics_render(struct metrics *m, const struct metrics_gauges *g, char *buf, size_t len)
{
	struct out o = {buf, len, 0, 0};

	if (!len)
		return 0;
	counter(&o, "danemsg_listen_received_total", "Messages received from the broker.",
		atomic_load(&m->received));
	counter(&o, "danemsg_listen_delivered_total", "Messages delivered.",
		atomic_load(&m->delivered));
	render_refused(&o, m);
	counter(&o, "danemsg_listen_retried_total",
		"Retries scheduled for a temporary failure (DNS, --exec).",
		atomic_load(&m->retried));
	counter(&o, "danemsg_listen_quarantined_total", "Messages put in quarantine.",
		atomic_load(&m->quarantined));
	counter(&o, "danemsg_listen_quarantined_bytes_total",
		"Payload bytes put in quarantine.", atomic_load(&m->quarantined_bytes));
	gauge(&o, "danemsg_listen_spool_depth", "Messages in the spool waiting to be delivered.",
	      (long long)g->spool_depth);
	gauge(&o, "danemsg_listen_spool_retrying", "Of these, messages waiting for a retry.",
	      (long long)g->retrying);
	render_latency(&o, m);
	counter(&o, "danemsg_listen_dns_lookups_total", "TLSA lookups asked of the resolver.",
		g->dns_cache_hits + g->dns_cache_misses);
	counter(&o, "danemsg_listen_dns_cache_hits_total", "Lookups answered from the cache.",
		g->dns_cache_hits);
	counter(&o, "danemsg_listen_dns_queries_total", "DNS queries sent by the resolver.",
		g->dns_queries);
	gauge(&o, "danemsg_listen_dns_cache_entries", "Identities in the cache.",
	      (long long)g->dns_cache_entries);
	counter(&o, "danemsg_listen_broker_reconnects_total",
		"Connections to the broker after the first.", atomic_load(&m->reconnects));
	gauge(&o, "danemsg_listen_broker_connected", "1 while connected to the broker.",
	      g->connected);
	gauge(&o, "danemsg_listen_start_time_seconds", "When the listener started (Unix time).",
	      g->start_time);
	gauge(&o, "danemsg_listen_pid", "The listener's process id.", g->pid);
	gauge(&o, "danemsg_listen_time_seconds", "When these numbers were taken (Unix time).",
	      g->now);
	return o.short_ ? 0 : o.used;
}

int metrics_parse_addr(const char *text, struct sockaddr_storage *sa, int *non_loopback)
{
	char host[64], *end;
	const char *colon = strrchr(text, ':');
	size_t hlen;
	unsigned long port;

	memset(sa, 0, sizeof(*sa));
	if (!colon || colon == text || !colon[1] || colon[1] == '-' || colon[1] == '+')
		return -1;
	hlen = (size_t)(colon - text);
	port = strtoul(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535)
		return -1;
	if (text[0] == '[') {   /* [v6]:port */
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)sa;
		if (hlen < 3 || text[hlen - 1] != ']' || hlen - 2 >= sizeof(host))
			return -1;
		memcpy(host, text + 1, hlen - 2);
		host[hlen - 2] = '\0';
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return -1;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*non_loopback = !IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)sa;
		if (hlen >= sizeof(host))
			return -1;
		memcpy(host, text, hlen);
		host[hlen] = '\0';
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return -1;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*non_loopback = (ntohl(s4->sin_addr.s_addr) >> 24) != 127;
	}
	return 0;
}

/* ---- the HTTP endpoint ---- */

#define MAX_CONNECTIONS 16
#define CONNECTION_TIMEOUT_S 10

struct metrics_server {
	struct MHD_Daemon *d;
	struct metrics *m;
	metrics_gauges_fn gauges;
	void *ctx;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *body,
			     size_t len, const char *type)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, "Allow", "GET, HEAD");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	static const char *plain = "text/plain; charset=utf-8";
	struct metrics_server *s = cls;
	struct metrics_gauges g;
	char *text;
	size_t n;
	enum MHD_Result ret;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)con_cls;
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "GET /metrics only\n", 18, plain);
	if (strcmp(url, "/metrics"))
		return reply(c, MHD_HTTP_NOT_FOUND, "GET /metrics only\n", 18, plain);
	if (!(text = malloc(METRICS_TEXT_MAX)))
		return MHD_NO;
	memset(&g, 0, sizeof(g));
	s->gauges(s->ctx, &g);
	n = metrics_render(s->m, &g, text, METRICS_TEXT_MAX);
	ret = n ? reply(c, MHD_HTTP_OK, text, n, "text/plain; version=0.0.4; charset=utf-8")
		: reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "", 0, plain);
	free(text);
	return ret;
}

int metrics_server_start(const struct sockaddr_storage *sa, struct metrics *m,
			 metrics_gauges_fn gauges, void *ctx, struct metrics_server **out)
{
	struct metrics_server *s = calloc(1, sizeof(*s));
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD;

	if (!s)
		return -1;
	s->m = m;
	s->gauges = gauges;
	s->ctx = ctx;
	if (sa->ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* One thread polls every connection: a scraper or two, never a crowd. */
	s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
				MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)sa,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768,
				MHD_OPTION_END);
	if (!s->d) {
		free(s);
		return -1;
	}
	*out = s;
	return 0;
}

void metrics_server_stop(struct metrics_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->d);
	free(s);
}

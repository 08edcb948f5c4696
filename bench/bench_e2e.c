/*
 * Part 3: end to end through the lab's mosquitto. Messages sealed with the library, as
 * `danemsg send` does, are published (QoS 1) to the recipient's topic and delivered by a
 * real `danemsg listen` process (1 or 2 workers), whose standard output this
 * program reads; the baseline is plain MQTT: the same 1 KiB messages, unsealed, published
 * (QoS 1) and received by mosquitto_sub. Both consumers are separate processes writing
 * one line per message to a pipe.
 *
 *   saturation  M messages published as fast as the consumer takes them, a backlog of
 *               BACKLOG kept at the broker (sealed beforehand): messages delivered per
 *               second (first publish to last delivery), latencies
 *   low load    one message at a time (sealed when sent), K of them: latency p50 / p99
 *
 *   bench_e2e [--smoke] [--runs N] TOOL DIR FROM TO
 *       environment: DANEMSG_BROKER, DANEMSG_RESOLVER, DANEMSG_TRUST_ANCHOR (the lab's)
 * Output: M e2e.sat.{plain,w1,w2}_ns (per message), M e2e.lat.{low,sat}.{plain,w1,w2}.
 * {p50,p99}_ns, M mem.listen_kb (VmHWM of listen), M e2e.available 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>

#include <danemsg.h>

#include "bench.h"

#define MSG_LEN 1024
#define WARMUP_SEQ 90000000u
#define PLAIN_TOPIC "danemsg-bench/plain"
#define STALL_NS (20ull * 1000000000ull)   /* nothing delivered for this long: fail */
#define BACKLOG 200   /* saturation: messages kept outstanding (the broker queues 1000) */

struct consumer {
	pid_t pid;
	FILE *out;                   /* its standard output */
	pthread_t reader;
	uint64_t *recv_ns;           /* by sequence number */
	size_t cap;
	atomic_size_t received;      /* messages of this phase seen */
	atomic_uint last_seq;
};

struct e2e {
	const char *tool, *dir, *from_name, *to_name, *work;
	char host[256];
	int port;
	struct mosquitto *pub;
	danemsg_resolver *r;
	danemsg_credential *from;
	uint64_t *send_ns;
	size_t cap;
};

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* ---- the consumer process and the thread that reads its lines ---- */

static void *read_lines(void *arg)
{
	struct consumer *c = arg;
	char *line = NULL;
	size_t len = 0;
	while (getline(&line, &len, c->out) > 0) {
		uint64_t now = bench_now_ns();
		const char *p = strstr(line, "seq=");
		unsigned seq;
		if (!p || sscanf(p + 4, "%u", &seq) != 1)
			continue;
		if (seq >= WARMUP_SEQ) {
			atomic_store(&c->last_seq, seq);
			continue;
		}
		if (seq < c->cap && !c->recv_ns[seq]) {
			c->recv_ns[seq] = now;
			atomic_fetch_add(&c->received, 1);
		}
	}
	free(line);
	return NULL;
}

static void consumer_start(struct consumer *c, char *const argv[], const char *log, size_t cap)
{
	int fds[2];
	memset(c, 0, sizeof(*c));
	BENCH_CHECK(pipe(fds) == 0);
	c->pid = fork();
	BENCH_CHECK(c->pid >= 0);
	if (c->pid == 0) {
		FILE *err;
		/* Never outlive this program, even when it aborts. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() == 1)
			_exit(127);
		err = fopen(log, "w");
		dup2(fds[1], 1);
		if (err)
			dup2(fileno(err), 2);
		close(fds[0]);
		close(fds[1]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	BENCH_CHECK(c->out = fdopen(fds[0], "r"));
	c->cap = cap;
	BENCH_CHECK(c->recv_ns = calloc(cap, sizeof(*c->recv_ns)));
	BENCH_CHECK(pthread_create(&c->reader, NULL, read_lines, c) == 0);
}

static long consumer_hwm_kb(struct consumer *c)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)c->pid);
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmHWM:", 6))
			kb = strtol(line + 6, NULL, 10);
	fclose(f);
	return kb;
}

static void consumer_stop(struct consumer *c)
{
	int status;
	kill(c->pid, SIGTERM);
	BENCH_CHECK(waitpid(c->pid, &status, 0) == c->pid);
	pthread_join(c->reader, NULL);
	fclose(c->out);
	free(c->recv_ns);
}

static void consumer_reset(struct consumer *c)
{
	memset(c->recv_ns, 0, c->cap * sizeof(*c->recv_ns));
	atomic_store(&c->received, 0);
}

/* ---- messages ---- */

static void text_message(uint8_t *msg, unsigned seq)
{
	int n = snprintf((char *)msg, MSG_LEN, "seq=%u ", seq);
	memset(msg + n, 'x', MSG_LEN - (size_t)n);
}

static char *seal(struct e2e *e, unsigned seq, size_t *len)
{
	uint8_t msg[MSG_LEN];
	const char *to[] = {e->to_name};
	char *out = NULL, err[256] = "";
	text_message(msg, seq);
	if (danemsg_seal(e->r, e->from, to, 1, msg, sizeof(msg), NULL, &out, len, err,
			 sizeof(err)) != DANEMSG_OK) {
		fprintf(stderr, "bench_e2e: seal: %s\n", err);
		BENCH_CHECK(0);
	}
	return out;
}

static void publish(struct e2e *e, const char *topic, const void *payload, size_t len)
{
	int rc;
	while ((rc = mosquitto_publish(e->pub, NULL, topic, (int)len, payload, 1, false)) ==
	       MOSQ_ERR_NOMEM)
		sleep_ns(100000);
	BENCH_CHECK(rc == MOSQ_ERR_SUCCESS);
}

/* Sends warm-up messages until one arrives: the subscription is up, caches warm. */
static void warm_up(struct e2e *e, struct consumer *c, int sealed, const char *topic)
{
	uint64_t t0 = bench_now_ns();
	for (unsigned seq = WARMUP_SEQ;; seq++) {
		uint8_t msg[MSG_LEN];
		char *s = NULL;
		size_t len = sizeof(msg);
		uint64_t sent = bench_now_ns();
		if (sealed) {
			s = seal(e, seq, &len);
			publish(e, topic, s, len);
			free(s);
		} else {
			text_message(msg, seq);
			publish(e, topic, msg, sizeof(msg));
		}
		while (bench_now_ns() - sent < 500000000ull && atomic_load(&c->last_seq) != seq)
			sleep_ns(200000);
		if (atomic_load(&c->last_seq) == seq && seq >= WARMUP_SEQ + 2)
			return;
		if (bench_now_ns() - t0 > 30000000000ull) {
			fprintf(stderr, "bench_e2e: nothing delivered within 30 s (see %s)\n",
				e->work);
			BENCH_CHECK(0);
		}
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Latencies of messages 0..n-1, sorted into lat; p50 and p99 out. */
static void percentiles(struct e2e *e, struct consumer *c, size_t n, const char *key)
{
	uint64_t *lat = calloc(n, sizeof(*lat));
	BENCH_CHECK(lat);
	for (size_t i = 0; i < n; i++) {
		BENCH_CHECK(c->recv_ns[i] >= e->send_ns[i]);
		lat[i] = c->recv_ns[i] - e->send_ns[i];
	}
	qsort(lat, n, sizeof(*lat), cmp_u64);
	bench_result((double)lat[(n - 1) / 2], "%s.p50_ns", key);
	bench_result((double)lat[(n * 99 + 99) / 100 - 1], "%s.p99_ns", key);
	free(lat);
}

/* Waits until n messages of the phase have arrived; fails when none arrives for a while. */
static void wait_all(struct e2e *e, struct consumer *c, size_t n)
{
	uint64_t t0 = bench_now_ns();
	size_t seen = atomic_load(&c->received);
	while (atomic_load(&c->received) < n) {
		if (atomic_load(&c->received) != seen) {
			seen = atomic_load(&c->received);
			t0 = bench_now_ns();
		}
		if (bench_now_ns() - t0 > STALL_NS) {
			fprintf(stderr, "bench_e2e: %zu of %zu messages delivered in time "
				"(see %s)\n", atomic_load(&c->received), n, e->work);
			BENCH_CHECK(0);
		}
		sleep_ns(50000);
	}
}

/* Saturation: n messages published back to back. */
static void saturation(struct e2e *e, struct consumer *c, int sealed, const char *topic,
		       size_t n, const char *name)
{
	char **msgs = calloc(n, sizeof(*msgs));
	size_t *lens = calloc(n, sizeof(*lens));
	uint64_t first, last = 0;
	char key[64];
	BENCH_CHECK(msgs && lens);
	for (size_t i = 0; i < n; i++) {
		if (sealed) {
			msgs[i] = seal(e, (unsigned)i, &lens[i]);
		} else {
			BENCH_CHECK(msgs[i] = malloc(MSG_LEN));
			text_message((uint8_t *)msgs[i], (unsigned)i);
			lens[i] = MSG_LEN;
		}
	}
	consumer_reset(c);
	first = bench_now_ns();
	for (size_t i = 0; i < n; i++) {
		/* A backlog, never more than the broker keeps queued for one client. */
		if (i - atomic_load(&c->received) >= BACKLOG)
			wait_all(e, c, i - BACKLOG / 2);
		e->send_ns[i] = bench_now_ns();
		publish(e, topic, msgs[i], lens[i]);
	}
	wait_all(e, c, n);
	for (size_t i = 0; i < n; i++)
		if (c->recv_ns[i] > last)
			last = c->recv_ns[i];
	bench_result((double)(last - first) / (double)n, "e2e.sat.%s_ns", name);
	snprintf(key, sizeof(key), "e2e.lat.sat.%s", name);
	percentiles(e, c, n, key);
	for (size_t i = 0; i < n; i++)
		free(msgs[i]);
	free(msgs);
	free(lens);
}

/* Low load: one message at a time, sealed when sent. */
static void low_load(struct e2e *e, struct consumer *c, int sealed, const char *topic, size_t n,
		     const char *name)
{
	char key[64];
	consumer_reset(c);
	for (size_t i = 0; i < n; i++) {
		uint8_t msg[MSG_LEN];
		e->send_ns[i] = bench_now_ns();
		if (sealed) {
			size_t len;
			char *s = seal(e, (unsigned)i, &len);
			publish(e, topic, s, len);
			free(s);
		} else {
			text_message(msg, (unsigned)i);
			publish(e, topic, msg, sizeof(msg));
		}
		wait_all(e, c, i + 1);
		sleep_ns(2000000);
	}
	snprintf(key, sizeof(key), "e2e.lat.low.%s", name);
	percentiles(e, c, n, key);
}

static void start_listen(struct e2e *e, struct consumer *c, int workers, int run)
{
	char w[16], state[512], ready[600], log[600];
	struct stat st;
	uint64_t t0 = bench_now_ns();
	snprintf(w, sizeof(w), "%d", workers);
	snprintf(state, sizeof(state), "%s/state-w%d-r%d", e->work, workers, run);
	snprintf(ready, sizeof(ready), "%s.ready", state);
	snprintf(log, sizeof(log), "%s.log", state);
	char *argv[] = {(char *)e->tool, "listen", "--as", (char *)e->to_name, "--dir",
			(char *)e->dir, "--workers", w, "--format", "text", "--state", state,
			"--ready-file", ready, "--client-id", "danemsg-bench", NULL};
	consumer_start(c, argv, log, e->cap);
	while (stat(ready, &st) != 0) {
		if (bench_now_ns() - t0 > 30000000000ull || waitpid(c->pid, NULL, WNOHANG) != 0) {
			fprintf(stderr, "bench_e2e: listen did not become ready (see %s)\n", log);
			BENCH_CHECK(0);
		}
		sleep_ns(1000000);
	}
	warm_up(e, c, 1, e->to_name);
}

static void start_plain(struct e2e *e, struct consumer *c, int run)
{
	char port[16], log[600];
	snprintf(port, sizeof(port), "%d", e->port);
	snprintf(log, sizeof(log), "%s/plain-r%d.log", e->work, run);
	char *argv[] = {"mosquitto_sub", "-h", e->host, "-p", port, "-q", "1", "-t", PLAIN_TOPIC,
			"-i", "danemsg-bench-plain", NULL};
	consumer_start(c, argv, log, e->cap);
	warm_up(e, c, 0, PLAIN_TOPIC);
}

int main(int argc, char **argv)
{
	struct e2e e;
	danemsg_resolver_config cfg;
	const char *anchors[2] = {getenv("DANEMSG_TRUST_ANCHOR"), NULL};
	const char *broker = getenv("DANEMSG_BROKER");
	char err[512] = "", work[] = "/tmp/danemsg-bench-e2e-XXXXXX";
	size_t n_sat, n_low;
	long hwm = 0;

	argc = bench_parse_args(argc, argv);
	if (argc != 5 || !broker || !anchors[0] || !getenv("DANEMSG_RESOLVER") ||
	    sscanf(broker, "mqtt://%255[^:]:%d", e.host, &e.port) != 2) {
		fprintf(stderr, "usage: bench_e2e [--smoke] [--runs N] TOOL DIR FROM TO\n"
				"(with the lab's DANEMSG_BROKER, DANEMSG_RESOLVER, "
				"DANEMSG_TRUST_ANCHOR)\n");
		return 2;
	}
	n_sat = bench_smoke ? 20 : 2000;
	n_low = bench_smoke ? 5 : 100;
	e.tool = argv[1];
	e.dir = argv[2];
	e.from_name = argv[3];
	e.to_name = argv[4];
	BENCH_CHECK(mkdtemp(work));
	e.work = work;
	e.cap = n_sat > n_low ? n_sat : n_low;
	BENCH_CHECK(e.send_ns = calloc(e.cap, sizeof(*e.send_ns)));
	danemsg_resolver_config_init(&cfg);
	cfg.server = getenv("DANEMSG_RESOLVER");
	cfg.root_anchor_file = "";
	cfg.trust_anchor_files = anchors;
	if (danemsg_resolver_new(&cfg, &e.r, err, sizeof(err)) != DANEMSG_OK) {
		fprintf(stderr, "bench_e2e: %s\n", err);
		return 1;
	}
	BENCH_CHECK(danemsg_credential_load(e.dir, e.from_name, &e.from, NULL, 0) == DANEMSG_OK);
	mosquitto_lib_init();
	BENCH_CHECK(e.pub = mosquitto_new("danemsg-bench-pub", true, NULL));
	BENCH_CHECK(mosquitto_connect(e.pub, e.host, e.port, 60) == MOSQ_ERR_SUCCESS);
	BENCH_CHECK(mosquitto_loop_start(e.pub) == MOSQ_ERR_SUCCESS);

	bench_info("e2e_messages", "%zu", n_sat);
	bench_info("e2e_backlog", "%d", BACKLOG);
	for (int run = 0; run < bench_runs; run++) {
		struct consumer c;
		start_plain(&e, &c, run);
		saturation(&e, &c, 0, PLAIN_TOPIC, n_sat, "plain");
		low_load(&e, &c, 0, PLAIN_TOPIC, n_low, "plain");
		consumer_stop(&c);
		for (int workers = 1; workers <= 2; workers++) {
			char name[8];
			long kb;
			snprintf(name, sizeof(name), "w%d", workers);
			start_listen(&e, &c, workers, run);
			saturation(&e, &c, 1, e.to_name, n_sat, name);
			low_load(&e, &c, 1, e.to_name, n_low, name);
			kb = consumer_hwm_kb(&c);
			if (kb > hwm)
				hwm = kb;
			consumer_stop(&c);
		}
	}
	bench_result((double)hwm, "mem.listen_kb");
	bench_result(1, "e2e.available");

	mosquitto_disconnect(e.pub);
	mosquitto_loop_stop(e.pub, false);
	mosquitto_destroy(e.pub);
	mosquitto_lib_cleanup();
	danemsg_credential_free(e.from);
	danemsg_resolver_free(e.r);
	free(e.send_ns);
	tu_rmtree(work);
	return 0;
}

/*
 * PKIX-CD lookups against the lab: the CA fetch never holds up the thread that delivers
 * answers. A TCP server of the test's own accepts the fetches' connections and never
 * answers (a hanging HTTPS server); an unrelated lookup meanwhile is answered, at most 4
 * fetches are in flight, and freeing the resolver ends the hanging ones.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <danemsg.h>

#include "testutil.h"

#define SAFETY_S 15        /* bounds every wait: none of them is a timing assertion */
#define HELD_MAX 16
#define NAMES 6            /* PKIX-CD identities looked up at once: more than the workers */
#define WORKERS 4          /* the fetcher's bound (src/dns/pkixcd.c) */

/* A server that accepts connections and never says a word. */
struct hang {
	int fd, held[HELD_MAX], stop;
	unsigned accepted;   /* atomic */
	char connect_to[32];
	pthread_t thread;
};

static void *hang_run(void *arg)
{
	struct hang *h = arg;
	struct pollfd pfd = {.fd = h->fd, .events = POLLIN};
	int n = 0;

	while (!__atomic_load_n(&h->stop, __ATOMIC_ACQUIRE)) {
		if (poll(&pfd, 1, 20) <= 0)
			continue;
		int c = accept(h->fd, NULL, NULL);
		if (c < 0)
			continue;
		if (n < HELD_MAX)
			h->held[n++] = c;
		else
			close(c);
		__atomic_add_fetch(&h->accepted, 1, __ATOMIC_RELEASE);
	}
	for (int i = 0; i < n; i++)
		close(h->held[i]);
	return NULL;
}

static void hang_start(struct hang *h)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);

	memset(h, 0, sizeof(*h));
	h->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(h->fd >= 0);
	assert_int_equal(bind(h->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(h->fd, 32), 0);
	assert_int_equal(getsockname(h->fd, (struct sockaddr *)&a, &len), 0);
	snprintf(h->connect_to, sizeof(h->connect_to), "127.0.0.1:%u", ntohs(a.sin_port));
	assert_int_equal(pthread_create(&h->thread, NULL, hang_run, h), 0);
}

/* Closes the held connections: the fetches fail at once. */
static void hang_stop(struct hang *h)
{
	__atomic_store_n(&h->stop, 1, __ATOMIC_RELEASE);
	pthread_join(h->thread, NULL);
	close(h->fd);
}

static unsigned accepted(struct hang *h)
{
	return __atomic_load_n(&h->accepted, __ATOMIC_ACQUIRE);
}

struct answer {
	int done;
	danemsg_err status;
	uint32_t ttl;
	char reason[128];
};

static void on_answer(void *arg, danemsg_err status, danemsg_identity *id)
{
	struct answer *a = arg;
	const danemsg_tlsa *rec = id ? danemsg_identity_record(id, 0) : NULL;

	a->status = status;
	a->ttl = id ? danemsg_identity_ttl(id) : 0;
	snprintf(a->reason, sizeof(a->reason), "%s",
		 rec && rec->unusable_reason ? rec->unusable_reason : "");
	a->done = 1;
	danemsg_identity_unref(id);
}

/* Delivers answers until done() or SAFETY_S; returns whether done() came true. */
static int drive(danemsg_resolver *r, int (*done)(void *), void *arg)
{
	time_t t0 = time(NULL);

	while (!done(arg) && time(NULL) - t0 < SAFETY_S)
		danemsg_resolver_wait(r, 50);
	return done(arg);
}

static int answered(void *arg)
{
	return ((struct answer *)arg)->done;
}

static int connected(void *arg)
{
	return accepted(arg) >= 1;
}

static int all_workers_connected(void *arg)
{
	return accepted(arg) >= WORKERS;
}

static int run(const char *cmd)
{
	int rc = system(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

struct lab {
	char *dir;
	char dane_ee[128], devices[NAMES][128];
};

/* The lab's PKIX-CD certificate at another name: fetched for, then refused (its SAN). */
static void publish_device(const char *name)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
		 "hex=$(openssl x509 -in \"$DANEMSG_PKIX_CD_DIR/$DANEMSG_PKIX_CD_NAME.crt.pem\" "
		 "-outform DER | od -An -v -tx1 | tr -d ' \\n') && "
		 "alg=${DANEMSG_TSIG%%%%:*} rest=${DANEMSG_TSIG#*:} && "
		 "printf 'server 127.0.0.1 %%s\\nkey %%s:%%s %%s\\nzone %%s\\n"
		 "update add %s 60 IN TLSA 4 0 0 %%s\\nsend\\nquit\\n' \"$DANEMSG_DNS_PORT\" "
		 "\"$alg\" \"${rest%%%%:*}\" \"${rest#*:}\" \"$DANEMSG_ZONE\" \"$hex\" | knsupdate",
		 name);
	assert_int_equal(run(cmd), 0);
}

/* Once for the group: the names every test looks up. */
static int lab_setup(void **state)
{
	struct lab *l = calloc(1, sizeof(*l));
	const char *zone = getenv("DANEMSG_ZONE");
	char cmd[1024];

	assert_non_null(l);
	l->dir = tu_tempdir();
	snprintf(l->dane_ee, sizeof(l->dane_ee), "ee%ld._device.%s", (long)getpid(), zone);
	snprintf(cmd, sizeof(cmd), "DANEMSG_DIR=%s/ids \"$DANEMSG_TOOL\" id new %s >/dev/null && "
		 "DANEMSG_DIR=%s/ids \"$DANEMSG_TOOL\" id publish %s --ttl 60 --no-confirm "
		 ">/dev/null", l->dir, l->dane_ee, l->dir, l->dane_ee);
	assert_int_equal(run(cmd), 0);
	for (int i = 0; i < NAMES; i++) {
		snprintf(l->devices[i], sizeof(l->devices[i]), "d%d-%ld._device.%s", i,
			 (long)getpid(), zone);
		publish_device(l->devices[i]);
	}
	*state = l;
	return 0;
}

static int lab_teardown(void **state)
{
	struct lab *l = *state;
	if (!l)
		return 0;
	tu_rmtree(l->dir);
	free(l->dir);
	free(l);
	return 0;
}

static danemsg_resolver *resolver_to(const char *connect_to)
{
	const char *anchors[] = {getenv("DANEMSG_TRUST_ANCHOR"), NULL};
	danemsg_resolver_config cfg;
	danemsg_resolver *r = NULL;
	char err[256];

	danemsg_resolver_config_init(&cfg);
	cfg.server = getenv("DANEMSG_RESOLVER");
	cfg.trust_anchor_files = anchors;
	cfg.pkix_cd = 1;
	cfg.pkix_cd_connect = connect_to;
	cfg.pkix_ca_file = getenv("DANEMSG_WEB_CA");
	cfg.timeout_ms = 30000;   /* longer than any wait below: the hang is ours to end */
	assert_int_equal(danemsg_resolver_new(&cfg, &r, err, sizeof(err)), DANEMSG_OK);
	return r;
}

/* The lab's own server: the PKIX-CD identity is usable, through the fetcher's workers. */
static void test_lab_identity(void **state)
{
	danemsg_resolver *r = resolver_to(getenv("DANEMSG_PKIX_CD_CONNECT"));
	danemsg_identity *id = NULL;

	(void)state;
	assert_int_equal(danemsg_resolver_lookup(r, getenv("DANEMSG_PKIX_CD_NAME"), &id),
			 DANEMSG_OK);
	assert_non_null(danemsg_identity_pkix_cd_cas(id));
	danemsg_identity_unref(id);
	danemsg_resolver_free(r);
}

static void test_hanging_server_stalls_nothing(void **state)
{
	struct lab *l = *state;
	struct answer device = {0}, other = {0};
	struct hang h;
	danemsg_resolver *r;

	hang_start(&h);
	r = resolver_to(h.connect_to);
	assert_int_equal(danemsg_resolver_lookup_async(r, l->devices[0], on_answer, &device),
			 DANEMSG_OK);
	assert_true(drive(r, connected, &h));
	/* the fetch hangs: its lookup is not over, and the delivering thread is free */
	assert_false(device.done);
	assert_int_equal(danemsg_resolver_lookup_async(r, l->dane_ee, on_answer, &other),
			 DANEMSG_OK);
	assert_true(drive(r, answered, &other));
	assert_int_equal(other.status, DANEMSG_OK);
	assert_false(device.done);

	hang_stop(&h);
	assert_true(drive(r, answered, &device));
	print_message("PKIX-CD lookup after the server closed: %s, %s, TTL %u\n",
		      danemsg_strerror(device.status), device.reason, device.ttl);
	assert_int_equal(device.status, DANEMSG_ERR_NO_USABLE_RECORD);
	assert_non_null(strstr(device.reason, "could not be fetched"));
	assert_true(device.ttl <= 5);   /* cached as a failure, not for the record's TTL */
	danemsg_resolver_free(r);
}

static void test_fetches_in_flight_bounded(void **state)
{
	struct lab *l = *state;
	struct answer a[NAMES] = {{0}};
	struct hang h;
	danemsg_resolver *r;

	hang_start(&h);
	r = resolver_to(h.connect_to);
	for (int i = 0; i < NAMES; i++)
		assert_int_equal(danemsg_resolver_lookup_async(r, l->devices[i], on_answer, &a[i]),
				 DANEMSG_OK);
	assert_true(drive(r, all_workers_connected, &h));
	for (int i = 0; i < 10; i++)   /* give any fetch beyond the bound time to connect */
		danemsg_resolver_wait(r, 50);
	print_message("%u connections for %d lookups\n", accepted(&h), NAMES);
	assert_int_equal(accepted(&h), WORKERS);
	for (int i = 0; i < NAMES; i++)
		assert_false(a[i].done);
	/* freeing the resolver ends the hanging transfers; the waiting ones are dropped */
	danemsg_resolver_free(r);
	hang_stop(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lab_identity),
		cmocka_unit_test(test_hanging_server_stalls_nothing),
		cmocka_unit_test(test_fetches_in_flight_bounded),
	};
	if (!getenv("DANEMSG_RESOLVER") || !getenv("DANEMSG_PKIX_CD_NAME")) {
		fprintf(stderr, "needs the lab's environment (run under tests/with-lab)\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, lab_setup, lab_teardown);
}

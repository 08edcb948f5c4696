/* listen's metrics (tool/listen/metrics.c) and status file (tool/listen/status.c): the --metrics
 * address, the text format with its escaping, and what --status reads back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "metrics.h"
#include "status.h"

static void test_parse_addr(void **state)
{
	static const struct { const char *in; int ok, non_loopback, family; } cases[] = {
		{"127.0.0.1:9464", 1, 0, AF_INET},
		{"127.1.2.3:1", 1, 0, AF_INET},
		{"[::1]:9464", 1, 0, AF_INET6},
		{"0.0.0.0:9464", 1, 1, AF_INET},
		{"192.0.2.1:65535", 1, 1, AF_INET},
		{"[2001:db8::1]:80", 1, 1, AF_INET6},
		{"[::ffff:127.0.0.1]:80", 1, 1, AF_INET6},   /* strict: not the loopback itself */
		{"127.0.0.1", 0, 0, 0},
		{"127.0.0.1:", 0, 0, 0},
		{"127.0.0.1:0", 0, 0, 0},
		{"127.0.0.1:65536", 0, 0, 0},
		{"127.0.0.1:-1", 0, 0, 0},
		{"127.0.0.1:+80", 0, 0, 0},
		{"127.0.0.1:80x", 0, 0, 0},
		{":9464", 0, 0, 0},
		{"localhost:9464", 0, 0, 0},                  /* no name lookups */
		{"::1:9464", 0, 0, 0},
		{"[::1:9464", 0, 0, 0},
		{"[]:9464", 0, 0, 0},
		{"", 0, 0, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockaddr_storage sa;
		int non_loopback = -1, rc = metrics_parse_addr(cases[i].in, &sa, &non_loopback);
		printf("case %s\n", cases[i].in);
		assert_int_equal(rc, cases[i].ok ? 0 : -1);
		if (!cases[i].ok)
			continue;
		assert_int_equal(non_loopback, cases[i].non_loopback);
		assert_int_equal(sa.ss_family, cases[i].family);
	}
	(void)state;
}

/* A reason with the characters the format escapes reads back as one valid line. */
static void test_render_escapes_and_reads_back(void **state)
{
	static struct metrics m;
	struct metrics_gauges g = {.spool_depth = 2, .pid = 42, .now = 1700000000,
				   .start_time = 1699999000};
	struct status_info info;
	char text[METRICS_TEXT_MAX];
	size_t n, bad = 0;

	metrics_refused(&m, "sender-not-allowed");
	metrics_refused(&m, "sender-not-allowed");
	metrics_refused(&m, "a \"quoted\\\" reason\nwith a line");
	metrics_delivered(&m, 3000000);        /* 3 ms */
	metrics_delivered(&m, 120000000000);   /* 2 min */
	n = metrics_render(&m, &g, text, sizeof(text));
	assert_true(n > 0);
	text[n] = '\0';
#define LATENCY "\ndanemsg_listen_delivery_latency_seconds_bucket"
	assert_non_null(strstr(text, "\ndanemsg_listen_refused_total"
				     "{reason=\"sender-not-allowed\"} 2\n"));
	assert_non_null(strstr(text,
			       "{reason=\"a \\\"quoted\\\\\\\" reason\\nwith a line\"} 1\n"));
	assert_non_null(strstr(text, LATENCY "{le=\"0.005\"} 1\n"));
	assert_non_null(strstr(text, LATENCY "{le=\"60\"} 1\n"));
	assert_non_null(strstr(text, LATENCY "{le=\"300\"} 2\n"));
	assert_non_null(strstr(text, "\ndanemsg_listen_delivery_latency_seconds_count 2\n"));
	assert_non_null(strstr(text, "\n# TYPE danemsg_listen_spool_depth gauge\n"
				     "danemsg_listen_spool_depth 2\n"));
	assert_int_equal(status_parse(text, n, &info, &bad), 0);
	assert_int_equal(info.pid, 42);
	assert_int_equal(info.time, 1700000000);
	assert_int_equal(info.start_time, 1699999000);
	assert_int_equal(metrics_render(&m, &g, text, 100), 0);   /* short: nothing, no cut */
	(void)state;
}

static void test_more_reasons_than_slots(void **state)
{
	static struct metrics m;
	char reason[32], text[METRICS_TEXT_MAX];
	struct metrics_gauges g = {0};
	size_t n;

	for (int i = 0; i < METRICS_REASONS + 5; i++) {
		snprintf(reason, sizeof(reason), "r%d", i);
		metrics_refused(&m, reason);
	}
	n = metrics_render(&m, &g, text, sizeof(text));
	assert_true(n > 0);
	text[n] = '\0';
	assert_non_null(strstr(text, "{reason=\"r0\"} 1\n"));
	assert_null(strstr(text, "{reason=\"r48\"}"));
	assert_non_null(strstr(text, "{reason=\"other\"} 5\n"));
	(void)state;
}

static void test_status_refused(void **state)
{
	static const struct { const char *text; size_t line; } cases[] = {
		{"danemsg_listen_pid 1\nbad line\n", 2},
		{"x 1\n1x 2\n", 2},
		{"x{a=\"b} 1\n", 1},
		{"x{a=\"\\q\"} 1\n", 1},
		{"x{a=b} 1\n", 1},
		{"x  1\n", 1},
		{"x 1 2\n", 1},
		{"x 0x10\n", 1},
		{"x \x1b[2J\n", 1},
		{"# \x07 bell\n", 1},
		{"x 1\n\xc3\xa9 1\n", 2},
		{"x", 1},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct status_info info;
		size_t bad = 0;
		printf("case %zu\n", i);
		assert_int_equal(status_parse(cases[i].text, strlen(cases[i].text), &info, &bad),
				 -1);
		assert_int_equal(bad, cases[i].line);
	}
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_addr),
		cmocka_unit_test(test_render_escapes_and_reads_back),
		cmocka_unit_test(test_more_reasons_than_slots),
		cmocka_unit_test(test_status_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Part 4, our side: seal + open of 1 KiB messages between identities published in the
 * lab (a resolver asking its knot, cache warm, DNSSEC validated), one core, the same
 * work the reference pipeline does per message (bench/reference_pipeline.py).
 *
 *   bench_pipeline SERVER ANCHOR DIR SUITE FROM TO
 *       SUITE rsa: the reference's own format (compat, RS256/RSA-OAEP-256/A256CBC-HS512);
 *       SUITE p256: ours (native). Prints "M pipeline.SUITE.msg_ns NS" per run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include <danemsg.h>

#include "bench.h"

struct pipeline {
	danemsg_resolver *r;
	danemsg_credential *from, *to;
	danemsg_policy *policy;
	int compat;
	char to_name[300];
	uint8_t msg[1024];
	unsigned serial;
};

static void seal_and_open(void *arg, size_t i)
{
	struct pipeline *p = arg;
	danemsg_seal_options opts;
	const char *to[] = {p->to_name};
	const danemsg_credential *keys[] = {p->to};
	danemsg_message *m = NULL;
	char *sealed = NULL, err[256] = "";
	size_t len;

	danemsg_seal_options_init(&opts);
	opts.compat = p->compat;
	p->serial++;   /* compat messages are told apart by their signature */
	memcpy(p->msg, &p->serial, sizeof(p->serial));
	if (danemsg_seal(p->r, p->from, to, 1, p->msg, sizeof(p->msg), &opts, &sealed, &len, err,
			 sizeof(err)) != DANEMSG_OK ||
	    danemsg_open(p->r, keys, 1, p->policy, (const uint8_t *)sealed, len, &m, err,
			 sizeof(err)) != DANEMSG_OK) {
		fprintf(stderr, "bench_pipeline: %s\n", err);
		BENCH_CHECK(0);
	}
	danemsg_message_free(m);
	free(sealed);
}

int main(int argc, char **argv)
{
	struct pipeline p;
	danemsg_resolver_config cfg;
	const char *anchors[2];
	char err[512] = "";
	size_t n;

	argc = bench_parse_args(argc, argv);
	if (argc != 7) {
		fprintf(stderr, "usage: bench_pipeline [--smoke] [--runs N] SERVER ANCHOR DIR "
				"rsa|p256 FROM TO\n");
		return 2;
	}
	memset(&p, 0, sizeof(p));
	p.compat = !strcmp(argv[4], "rsa");
	snprintf(p.to_name, sizeof(p.to_name), "%s", argv[6]);
	danemsg_resolver_config_init(&cfg);
	anchors[0] = argv[2];
	anchors[1] = NULL;
	cfg.server = argv[1];
	cfg.root_anchor_file = "";
	cfg.trust_anchor_files = anchors;
	if (danemsg_resolver_new(&cfg, &p.r, err, sizeof(err)) != DANEMSG_OK) {
		fprintf(stderr, "bench_pipeline: %s\n", err);
		return 1;
	}
	BENCH_CHECK(danemsg_credential_load(argv[3], argv[5], &p.from, NULL, 0) == DANEMSG_OK);
	BENCH_CHECK(danemsg_credential_load(argv[3], argv[6], &p.to, NULL, 0) == DANEMSG_OK);
	BENCH_CHECK(danemsg_policy_new(&p.policy) == DANEMSG_OK);
	BENCH_CHECK(danemsg_policy_set_accept_compat(p.policy, p.compat) == DANEMSG_OK);
	BENCH_CHECK(RAND_bytes(p.msg, sizeof(p.msg)) == 1);

	n = bench_calibrate(seal_and_open, &p, bench_seconds, 3);   /* also warms the cache */
	for (int run = 0; run < bench_runs; run++)
		bench_result(bench_time_ns(seal_and_open, &p, n), "pipeline.%s.msg_ns", argv[4]);
	danemsg_policy_free(p.policy);
	danemsg_credential_free(p.from);
	danemsg_credential_free(p.to);
	danemsg_resolver_free(p.r);
	return 0;
}

/*
 * Makes identities for the benchmarks that use the lab, and prints the TLSA records they
 * publish (zone-file lines, as `danemsg id tlsa` prints them: 3 0 0, the whole
 * certificate), for bench/run to send with knsupdate.
 *
 *   bench_ids DIR ZONE TYPE NAME...     identities NAME.ZONE (TYPE p256, ed25519, rsa2048)
 *                                       in DIR; one line per published certificate
 */
#include <stdio.h>
#include <string.h>

#include <danemsg.h>

#include "bench.h"

int main(int argc, char **argv)
{
	danemsg_keytype type;
	if (argc < 5 || danemsg_keytype_parse(argv[3], &type) != DANEMSG_OK) {
		fprintf(stderr, "usage: bench_ids DIR ZONE p256|ed25519|rsa2048 NAME...\n");
		return 2;
	}
	for (int i = 4; i < argc; i++) {
		char name[300], err[256] = "", line[8192];
		STACK_OF(X509) *certs = NULL;
		size_t zone_len = strlen(argv[2]);
		snprintf(name, sizeof(name), "%s.%.*s", argv[i],
			 (int)(zone_len && argv[2][zone_len - 1] == '.' ? zone_len - 1 : zone_len),
			 argv[2]);
		if (danemsg_credential_new(argv[1], name, type, 30, 0, err, sizeof(err)) ||
		    danemsg_credential_published(argv[1], name, &certs, err, sizeof(err))) {
			fprintf(stderr, "bench_ids: %s: %s\n", name, err);
			return 1;
		}
		for (int c = 0; c < sk_X509_num(certs); c++) {
			uint8_t rdata[4096];
			size_t len = 0;
			BENCH_CHECK(danemsg_tlsa_rdata(sk_X509_value(certs, c), 3, 0, 0, rdata,
						       sizeof(rdata), &len) == DANEMSG_OK);
			BENCH_CHECK(danemsg_tlsa_format_line(name, 60, rdata, len, line,
							     sizeof(line), NULL) == DANEMSG_OK);
			printf("%s\n", line);
		}
		sk_X509_pop_free(certs, X509_free);
	}
	return 0;
}

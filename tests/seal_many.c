/*
 * Test helper: seals COUNT messages "PREFIX-1" ... "PREFIX-COUNT" from FROM to TO in one
 * process (one key load, one DNS lookup) and prints them one per line, for tests that
 * publish many sealed messages with an ordinary MQTT client (mosquitto_pub -l).
 *   seal_many DIR FROM TO PREFIX COUNT
 * The lab's environment names the resolver (DANEMSG_RESOLVER) and the trust anchor
 * (DANEMSG_TRUST_ANCHOR).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <danemsg.h>

int main(int argc, char **argv)
{
	const char *anchors[2] = {getenv("DANEMSG_TRUST_ANCHOR"), NULL};
	const char *to[1];
	danemsg_resolver_config cfg;
	danemsg_seal_options opts;
	danemsg_credential *cred = NULL;
	danemsg_resolver *r = NULL;
	char errbuf[512] = "", text[128];
	long count;
	int rc = 1;

	if (argc != 6 || (count = strtol(argv[5], NULL, 10)) < 1) {
		fprintf(stderr, "usage: seal_many DIR FROM TO PREFIX COUNT\n");
		return 2;
	}
	to[0] = argv[3];
	danemsg_resolver_config_init(&cfg);
	cfg.server = getenv("DANEMSG_RESOLVER");
	cfg.trust_anchor_files = anchors[0] ? anchors : NULL;
	danemsg_seal_options_init(&opts);
	if (danemsg_credential_load(argv[1], argv[2], &cred, errbuf, sizeof(errbuf)) ||
	    danemsg_resolver_new(&cfg, &r, errbuf, sizeof(errbuf))) {
		fprintf(stderr, "seal_many: set-up failed %s\n", errbuf);
		goto out;
	}
	for (long i = 1; i <= count; i++) {
		char *sealed = NULL;
		size_t len = 0;
		int n = snprintf(text, sizeof(text), "%s-%ld", argv[4], i);
		if (danemsg_seal(r, cred, to, 1, (const uint8_t *)text, (size_t)n, &opts, &sealed,
				 &len, errbuf, sizeof(errbuf))) {
			fprintf(stderr, "seal_many: %s\n", errbuf);
			goto out;
		}
		if (memchr(sealed, '\n', len) || printf("%s\n", sealed) < 0) {
			free(sealed);
			goto out;
		}
		free(sealed);
	}
	rc = fflush(stdout) ? 1 : 0;
out:
	danemsg_resolver_free(r);
	danemsg_credential_free(cred);
	return rc;
}

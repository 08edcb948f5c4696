/*
 * libFuzzer target for what publishing reads from outside: TSIG key files (BIND,
 * knot and knsupdate forms), TSIG specs (command line, environment) and server
 * addresses. The input is tried as each.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <danemsg/publish.h>

#include "tsig_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int ok)
{
	if (!ok)
		abort();
}

static void check_key(danemsg_err err, danemsg_tsig_key *key, const char *errbuf)
{
	require((err == DANEMSG_OK) == (key != NULL));
	if (key) {
		const char *name = danemsg_tsig_key_name(key);
		require(name && name[0] && name[strlen(name) - 1] == '.');
		require(danemsg_tsig_key_algorithm(key) != NULL);
	} else {
		require(memchr(errbuf, '\0', 256) != NULL);
	}
	danemsg_tsig_key_free(key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char errbuf[256] = "", *text = malloc(size + 1);
	danemsg_tsig_key *key = NULL;
	danemsg_dns_server server;
	danemsg_err err;

	require(text != NULL);
	/* As a key file: not NUL-terminated, exactly size octets. */
	memcpy(text, data, size);
	err = tsig_key_from_text(text, size, &key, errbuf, sizeof(errbuf));
	check_key(err, key, errbuf);

	/* As a string (up to the first NUL). */
	text[size] = '\0';
	key = NULL;
	err = danemsg_tsig_key_parse(text, &key, errbuf, sizeof(errbuf));
	check_key(err, key, errbuf);

	if (danemsg_dns_server_parse(text, &server) == DANEMSG_OK) {
		char buf[64];
		require(danemsg_dns_server_format(&server, buf, sizeof(buf)) == DANEMSG_OK);
		require(server.port != 0);
	}
	free(text);
	return 0;
}

/*
 * libFuzzer target for TLSA records in presentation form ("3 1 1 HEX"), as
 * 'id publish --remove --record' reads them from the command line or a pasted zone
 * line: whatever parses has the length announced, and parses the same again from the
 * canonical text made of it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <danemsg.h>
#include <danemsg/publish.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	require(text != NULL);
	memcpy(text, data, size);
	text[size] = '\0';
	size_t need = 0, len = 0, cap = 3 + size / 2;
	danemsg_err err = danemsg_tlsa_rdata_from_text(text, NULL, 0, &need);
	require(err != DANEMSG_OK);
	uint8_t *rdata = malloc(cap);
	require(rdata != NULL);
	danemsg_err full = danemsg_tlsa_rdata_from_text(text, rdata, cap, &len);
	require((err == DANEMSG_ERR_BUFFER_TOO_SMALL) == (full == DANEMSG_OK));
	if (full == DANEMSG_OK) {
		require(len == need && len >= 4 && len <= cap);
		char *again = malloc(16 + 2 * len);
		uint8_t *round = malloc(len);
		require(again && round);
		int n = snprintf(again, 16, "%u %u %u ", rdata[0], rdata[1], rdata[2]);
		danemsg_hex_encode(rdata + 3, len - 3, again + n, 2 * len);
		size_t len2 = 0;
		require(danemsg_tlsa_rdata_from_text(again, round, len, &len2) == DANEMSG_OK);
		require(len2 == len && memcmp(round, rdata, len) == 0);
		free(again);
		free(round);
	}
	free(rdata);
	free(text);
	return 0;
}

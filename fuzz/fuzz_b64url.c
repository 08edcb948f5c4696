/*
 * libFuzzer target for the strict base64url decoder (outside data: every JOSE field).
 * Whatever decodes must encode back to exactly the input (one text per byte string);
 * the caller-buffer and allocating decoders must agree; any bytes round-trip.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jose.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	size_t max = jose_b64url_decoded_max(size), len = 0, alloc_len = 0, enc_len = 0;
	uint8_t *buf = malloc(max + 1), *alloc = NULL;
	char *enc = NULL;
	danemsg_err err, err2;

	require(buf != NULL);
	err = jose_b64url_decode(text, size, buf, max, &len);
	err2 = jose_b64url_decode_alloc(text, size, &alloc, &alloc_len);
	require(err == err2);
	require(err == DANEMSG_OK || err == DANEMSG_ERR_MALFORMED);
	if (err == DANEMSG_OK) {
		require(len == alloc_len && len <= max);
		require(len == 0 || memcmp(buf, alloc, len) == 0);
		require(jose_b64url_encode_alloc(buf, len, &enc, &enc_len) == DANEMSG_OK);
		require(enc_len == size && memcmp(enc, text, size) == 0);
		free(enc);
		/* One byte short of the decoded length is refused, not truncated. */
		if (len > 0)
			require(jose_b64url_decode(text, size, buf, len - 1, &len)
				== DANEMSG_ERR_BUFFER_TOO_SMALL);
	} else {
		require(alloc == NULL && alloc_len == 0);
	}
	free(alloc);
	free(buf);

	/* The input as bytes: encode, decode, compare. */
	require(jose_b64url_encode_alloc(data, size, &enc, &enc_len) == DANEMSG_OK);
	require(enc_len == jose_b64url_encoded_len(size));
	require(jose_b64url_decode_alloc(enc, enc_len, &alloc, &alloc_len) == DANEMSG_OK);
	require(alloc_len == size && (size == 0 || memcmp(alloc, data, size) == 0));
	free(alloc);
	free(enc);
	return 0;
}

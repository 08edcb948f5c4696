/*
 * libFuzzer target for the strict base64 decoders (outside data: every JOSE field is
 * base64url, x5c certificates and TSIG secrets standard base64). For each alphabet,
 * whatever decodes must encode back to exactly the input (one text per byte string);
 * the caller-buffer and allocating decoders must agree; any bytes round-trip. Standard
 * base64 that we accept, OpenSSL decodes to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "base64.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int ok)
{
	if (!ok)
		abort();
}

static void standard_alphabet(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	uint8_t *raw = NULL, *ossl;
	size_t raw_len = 0, enc_len = 0;
	char *enc = NULL;
	danemsg_err err = util_base64_decode_alloc(text, size, &raw, &raw_len);

	require(err == DANEMSG_OK || err == DANEMSG_ERR_MALFORMED);
	require(util_base64_valid(text, size) == (err == DANEMSG_OK && size > 0));
	if (err == DANEMSG_OK) {
		require(util_base64_encode_alloc(raw, raw_len, &enc, &enc_len) == DANEMSG_OK);
		require(enc_len == size && memcmp(enc, text, size) == 0);
		free(enc);
		/* OpenSSL's (lenient) decoder reads the same bytes, plus one 0 per '='. */
		ossl = malloc(size + 1);
		require(ossl != NULL);
		if (size > 0 && size < 1 << 20) {
			int n = EVP_DecodeBlock(ossl, data, (int)size);
			require(n >= 0 && (size_t)n >= raw_len && memcmp(ossl, raw, raw_len) == 0);
		}
		free(ossl);
	} else {
		require(raw == NULL && raw_len == 0);
	}
	free(raw);

	/* The input as bytes: encode, decode, compare. */
	require(util_base64_encode_alloc(data, size, &enc, &enc_len) == DANEMSG_OK);
	require(enc_len == (size + 2) / 3 * 4);
	require(util_base64_decode_alloc(enc, enc_len, &raw, &raw_len) == DANEMSG_OK);
	require(raw_len == size && (size == 0 || memcmp(raw, data, size) == 0));
	free(raw);
	free(enc);
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

	standard_alphabet(data, size);
	return 0;
}

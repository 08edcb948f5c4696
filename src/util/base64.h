/* Private: base64 with both alphabets (RFC 4648), strict both ways, written once:
 * base64url without padding for JOSE (RFC 7515 section 2), and standard padded base64
 * for x5c certificates (RFC 7517 section 4.7) and TSIG secrets. */
#ifndef DANEMSG_BASE64_H
#define DANEMSG_BASE64_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <danemsg/error.h>

/* ---- base64url without padding ---- */

/* Encoded length of n bytes (no padding, no NUL). */
size_t jose_b64url_encoded_len(size_t n);
/* Upper bound of the decoded length of n characters. */
size_t jose_b64url_decoded_max(size_t n);

/* Encodes into out (out_size must hold the text plus a NUL); *out_len = text length.
 * Short buffer: DANEMSG_ERR_BUFFER_TOO_SMALL, nothing written past out_size. */
danemsg_err jose_b64url_encode(const uint8_t *in, size_t in_len, char *out, size_t out_size,
			       size_t *out_len);
/* Encodes into a new NUL-terminated string; out_len may be NULL. */
danemsg_err jose_b64url_encode_alloc(const uint8_t *in, size_t in_len, char **out,
				     size_t *out_len);
/* Encodes into a new JSON string; NULL when out of memory. */
json_t *jose_b64url_json(const uint8_t *in, size_t in_len);

/* Strict decoding: only [A-Za-z0-9_-], no '=', no whitespace, length not 4n+1, zero
 * trailing bits. Otherwise DANEMSG_ERR_MALFORMED. in need not be NUL-terminated. */
danemsg_err jose_b64url_decode(const char *in, size_t in_len, uint8_t *out, size_t out_size,
			       size_t *out_len);
/* Decodes into a new buffer (at least 1 byte allocated even for empty input). */
danemsg_err jose_b64url_decode_alloc(const char *in, size_t in_len, uint8_t **out,
				     size_t *out_len);

/* ---- standard base64, padded ---- */

/* Encodes into a new NUL-terminated string, padded with '='; out_len may be NULL. */
danemsg_err util_base64_encode_alloc(const uint8_t *in, size_t in_len, char **out,
				     size_t *out_len);
/* Strict decoding into a new buffer (NUL-terminated, not counted in *out_len): only
 * [A-Za-z0-9+/], a length of 4n with at most two '=' at the end, zero trailing bits,
 * so that one byte string has exactly one text. Otherwise DANEMSG_ERR_MALFORMED. */
danemsg_err util_base64_decode_alloc(const char *in, size_t in_len, uint8_t **out,
				     size_t *out_len);
/* 1 when in_len > 0 and in is text that util_base64_decode_alloc takes. */
int util_base64_valid(const char *in, size_t in_len);

#endif

/*
 * base64url without padding (RFC 7515 section 2), strict. Table-driven, one pass each way:
 * every JOSE field of every message goes through here, and OpenSSL's codec would need the
 * alphabet translated and the padding restored in a copy first.
 */
#include <stdlib.h>
#include <string.h>

#include "jose.h"

size_t jose_b64url_encoded_len(size_t n)
{
	return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

size_t jose_b64url_decoded_max(size_t n)
{
	return n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
}

static const char b64url_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

danemsg_err jose_b64url_encode(const uint8_t *in, size_t in_len, char *out, size_t out_size,
			       size_t *out_len)
{
	size_t need, pos = 0, i = 0;

	if ((!in && in_len) || !out || !out_len)
		return DANEMSG_ERR_INVALID_ARG;
	if (in_len > (SIZE_MAX - 1) / 4 * 3)
		return DANEMSG_ERR_TOO_LARGE;
	need = jose_b64url_encoded_len(in_len);
	if (out_size < need + 1)
		return DANEMSG_ERR_BUFFER_TOO_SMALL;
	for (; in_len - i >= 3; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[pos++] = b64url_alphabet[v >> 18];
		out[pos++] = b64url_alphabet[(v >> 12) & 0x3f];
		out[pos++] = b64url_alphabet[(v >> 6) & 0x3f];
		out[pos++] = b64url_alphabet[v & 0x3f];
	}
	if (in_len - i) {
		uint32_t v = (uint32_t)in[i] << 16 |
			     (in_len - i == 2 ? (uint32_t)in[i + 1] << 8 : 0);

		out[pos++] = b64url_alphabet[v >> 18];
		out[pos++] = b64url_alphabet[(v >> 12) & 0x3f];
		if (in_len - i == 2)
			out[pos++] = b64url_alphabet[(v >> 6) & 0x3f];
	}
	out[pos] = '\0';
	*out_len = pos;
	return DANEMSG_OK;
}

danemsg_err jose_b64url_encode_alloc(const uint8_t *in, size_t in_len, char **out,
				     size_t *out_len)
{
	size_t len, n;
	danemsg_err err;

	if (!out)
		return DANEMSG_ERR_INVALID_ARG;
	*out = NULL;
	if ((!in && in_len))
		return DANEMSG_ERR_INVALID_ARG;
	if (in_len > (SIZE_MAX - 1) / 4 * 3)
		return DANEMSG_ERR_TOO_LARGE;
	len = jose_b64url_encoded_len(in_len) + 1;
	if (!(*out = malloc(len)))
		return DANEMSG_ERR_NOMEM;
	err = jose_b64url_encode(in, in_len, *out, len, &n);
	if (err != DANEMSG_OK) {
		free(*out);
		*out = NULL;
		return err;
	}
	if (out_len)
		*out_len = n;
	return DANEMSG_OK;
}

/* The value of each base64url character, -1 for anything else (a table: this runs for
 * every character of every message). */
static const int8_t b64url_values[256] = {
	['A'] = 0, ['B'] = 1, ['C'] = 2, ['D'] = 3, ['E'] = 4, ['F'] = 5, ['G'] = 6, ['H'] = 7,
	['I'] = 8, ['J'] = 9, ['K'] = 10, ['L'] = 11, ['M'] = 12, ['N'] = 13, ['O'] = 14,
	['P'] = 15, ['Q'] = 16, ['R'] = 17, ['S'] = 18, ['T'] = 19, ['U'] = 20, ['V'] = 21,
	['W'] = 22, ['X'] = 23, ['Y'] = 24, ['Z'] = 25, ['a'] = 26, ['b'] = 27, ['c'] = 28,
	['d'] = 29, ['e'] = 30, ['f'] = 31, ['g'] = 32, ['h'] = 33, ['i'] = 34, ['j'] = 35,
	['k'] = 36, ['l'] = 37, ['m'] = 38, ['n'] = 39, ['o'] = 40, ['p'] = 41, ['q'] = 42,
	['r'] = 43, ['s'] = 44, ['t'] = 45, ['u'] = 46, ['v'] = 47, ['w'] = 48, ['x'] = 49,
	['y'] = 50, ['z'] = 51, ['0'] = 52, ['1'] = 53, ['2'] = 54, ['3'] = 55, ['4'] = 56,
	['5'] = 57, ['6'] = 58, ['7'] = 59, ['8'] = 60, ['9'] = 61, ['-'] = 62, ['_'] = 63,
};

/* 0 stands for both "A" and "not base64url": "A" is told apart. */
static int b64url_value(unsigned char c)
{
	int v = b64url_values[c];
	return v || c == 'A' ? v : -1;
}

/* Checks the alphabet, the length and that the unused trailing bits are zero. */
static danemsg_err b64url_validate(const char *in, size_t in_len)
{
	int last = 0;

	if (in_len % 4 == 1)
		return DANEMSG_ERR_MALFORMED;
	for (size_t i = 0; i < in_len; i++) {
		last = b64url_value((unsigned char)in[i]);
		if (last < 0)
			return DANEMSG_ERR_MALFORMED;
	}
	if ((in_len % 4 == 2 && (last & 0x0f)) || (in_len % 4 == 3 && (last & 0x03)))
		return DANEMSG_ERR_MALFORMED;
	return DANEMSG_OK;
}

/* Decodes in_len valid-or-not characters into out (room for decoded_max(in_len) bytes),
 * checking the alphabet, the length and that the unused trailing bits are zero as it goes. */
static danemsg_err b64url_decode_into(const char *in, size_t in_len, uint8_t *out,
				      size_t *out_len)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t pos = 0, i = 0, rest = in_len % 4;
	uint32_t v = 0;
	int bad = 0;

	if (rest == 1)
		return DANEMSG_ERR_MALFORMED;
	for (; in_len - i >= 4; i += 4) {
		int a = b64url_value(p[i]), b = b64url_value(p[i + 1]),
		    c = b64url_value(p[i + 2]), d = b64url_value(p[i + 3]);

		bad |= a | b | c | d;   /* any -1 sets the sign bit */
		v = (uint32_t)(a & 0x3f) << 18 | (uint32_t)(b & 0x3f) << 12
		    | (uint32_t)(c & 0x3f) << 6 | (uint32_t)(d & 0x3f);
		out[pos++] = (uint8_t)(v >> 16);
		out[pos++] = (uint8_t)(v >> 8);
		out[pos++] = (uint8_t)v;
	}
	if (rest) {
		int a = b64url_value(p[i]), b = b64url_value(p[i + 1]),
		    c = rest == 3 ? b64url_value(p[i + 2]) : 0;

		bad |= a | b | c;
		/* The bits past the last whole byte must be zero (one text per byte string). */
		if ((rest == 2 && (b & 0x0f)) || (rest == 3 && (c & 0x03)))
			bad = -1;
		v = (uint32_t)(a & 0x3f) << 18 | (uint32_t)(b & 0x3f) << 12
		    | (uint32_t)(c & 0x3f) << 6;
		out[pos++] = (uint8_t)(v >> 16);
		if (rest == 3)
			out[pos++] = (uint8_t)(v >> 8);
	}
	if (bad < 0)
		return DANEMSG_ERR_MALFORMED;
	*out_len = pos;
	return DANEMSG_OK;
}

danemsg_err jose_b64url_decode(const char *in, size_t in_len, uint8_t *out, size_t out_size,
			       size_t *out_len)
{
	if ((!in && in_len) || (!out && out_size) || !out_len)
		return DANEMSG_ERR_INVALID_ARG;
	/* Malformed input is reported as such whatever the buffer's size. */
	if (out_size < jose_b64url_decoded_max(in_len)) {
		danemsg_err err = b64url_validate(in, in_len);

		return err != DANEMSG_OK ? err : DANEMSG_ERR_BUFFER_TOO_SMALL;
	}
	return b64url_decode_into(in, in_len, out, out_len);
}

danemsg_err jose_b64url_decode_alloc(const char *in, size_t in_len, uint8_t **out,
				     size_t *out_len)
{
	size_t max;
	danemsg_err err;

	if (!out || !out_len)
		return DANEMSG_ERR_INVALID_ARG;
	*out = NULL;
	*out_len = 0;
	if (!in && in_len)
		return DANEMSG_ERR_INVALID_ARG;
	if (in_len % 4 == 1)
		return DANEMSG_ERR_MALFORMED;
	max = jose_b64url_decoded_max(in_len);
	if (!(*out = malloc(max + 1)))
		return DANEMSG_ERR_NOMEM;
	err = b64url_decode_into(in, in_len, *out, out_len);
	if (err != DANEMSG_OK) {
		free(*out);
		*out = NULL;
		*out_len = 0;
		return err;
	}
	(*out)[*out_len] = 0;
	return DANEMSG_OK;
}

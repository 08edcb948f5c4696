/*
 * base64 (RFC 4648), strict, with both alphabets: base64url without padding (RFC 7515
 * section 2) and standard padded base64. Table-driven, one pass each way: every JOSE
 * field of every message goes through here, and OpenSSL's codec would need the alphabet
 * translated and the padding restored in a copy first (and is lenient in decoding).
 */
#include <stdlib.h>
#include <string.h>

#include "base64.h"

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
static const char base64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Writes in as base64 with alphabet (padded with '=' when pad) and a NUL; out has room. */
static size_t encode_into(const char *alphabet, int pad, const uint8_t *in, size_t in_len,
			  char *out)
{
	size_t pos = 0, i = 0;

	for (; in_len - i >= 3; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[pos++] = alphabet[v >> 18];
		out[pos++] = alphabet[(v >> 12) & 0x3f];
		out[pos++] = alphabet[(v >> 6) & 0x3f];
		out[pos++] = alphabet[v & 0x3f];
	}
	if (in_len - i) {
		uint32_t v = (uint32_t)in[i] << 16 |
			     (in_len - i == 2 ? (uint32_t)in[i + 1] << 8 : 0);

		out[pos++] = alphabet[v >> 18];
		out[pos++] = alphabet[(v >> 12) & 0x3f];
		if (in_len - i == 2)
			out[pos++] = alphabet[(v >> 6) & 0x3f];
		else if (pad)
			out[pos++] = '=';
		if (pad)
			out[pos++] = '=';
	}
	out[pos] = '\0';
	return pos;
}

danemsg_err jose_b64url_encode(const uint8_t *in, size_t in_len, char *out, size_t out_size,
			       size_t *out_len)
{
	if ((!in && in_len) || !out || !out_len)
		return DANEMSG_ERR_INVALID_ARG;
	if (in_len > (SIZE_MAX - 1) / 4 * 3)
		return DANEMSG_ERR_TOO_LARGE;
	if (out_size < jose_b64url_encoded_len(in_len) + 1)
		return DANEMSG_ERR_BUFFER_TOO_SMALL;
	*out_len = encode_into(b64url_alphabet, 0, in, in_len, out);
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

json_t *jose_b64url_json(const uint8_t *in, size_t in_len)
{
	char *text = NULL;
	size_t len = 0;
	json_t *s;

	if (jose_b64url_encode_alloc(in, in_len, &text, &len) != DANEMSG_OK)
		return NULL;
	s = json_stringn_nocheck(text, len);      /* ASCII by construction */
	free(text);
	return s;
}

danemsg_err util_base64_encode_alloc(const uint8_t *in, size_t in_len, char **out,
				     size_t *out_len)
{
	size_t n;

	if (!out)
		return DANEMSG_ERR_INVALID_ARG;
	*out = NULL;
	if (!in && in_len)
		return DANEMSG_ERR_INVALID_ARG;
	if (in_len > (SIZE_MAX - 1) / 4 * 3 - 3)
		return DANEMSG_ERR_TOO_LARGE;
	if (!(*out = malloc((in_len + 2) / 3 * 4 + 1)))
		return DANEMSG_ERR_NOMEM;
	n = encode_into(base64_alphabet, 1, in, in_len, *out);
	if (out_len)
		*out_len = n;
	return DANEMSG_OK;
}

/* The value of each character of either alphabet, -1 for anything else (tables: this runs
 * for every character of every message). The alphabets differ in 62 and 63 only. */
#define B64_VALUES_0_TO_61 \
	['A'] = 0, ['B'] = 1, ['C'] = 2, ['D'] = 3, ['E'] = 4, ['F'] = 5, ['G'] = 6, \
	['H'] = 7, ['I'] = 8, ['J'] = 9, ['K'] = 10, ['L'] = 11, ['M'] = 12, ['N'] = 13, \
	['O'] = 14, ['P'] = 15, ['Q'] = 16, ['R'] = 17, ['S'] = 18, ['T'] = 19, ['U'] = 20, \
	['V'] = 21, ['W'] = 22, ['X'] = 23, ['Y'] = 24, ['Z'] = 25, ['a'] = 26, ['b'] = 27, \
	['c'] = 28, ['d'] = 29, ['e'] = 30, ['f'] = 31, ['g'] = 32, ['h'] = 33, ['i'] = 34, \
	['j'] = 35, ['k'] = 36, ['l'] = 37, ['m'] = 38, ['n'] = 39, ['o'] = 40, ['p'] = 41, \
	['q'] = 42, ['r'] = 43, ['s'] = 44, ['t'] = 45, ['u'] = 46, ['v'] = 47, ['w'] = 48, \
	['x'] = 49, ['y'] = 50, ['z'] = 51, ['0'] = 52, ['1'] = 53, ['2'] = 54, ['3'] = 55, \
	['4'] = 56, ['5'] = 57, ['6'] = 58, ['7'] = 59, ['8'] = 60, ['9'] = 61
static const int8_t b64url_values[256] = {B64_VALUES_0_TO_61, ['-'] = 62, ['_'] = 63};
static const int8_t base64_values[256] = {B64_VALUES_0_TO_61, ['+'] = 62, ['/'] = 63};

/* 0 stands for both "A" and "not in the alphabet": "A" is told apart. */
static inline int b64_value(const int8_t *values, unsigned char c)
{
	int v = values[c];
	return v || c == 'A' ? v : -1;
}

/* Checks the alphabet, the length and that the unused trailing bits are zero. */
static danemsg_err validate(const int8_t *values, const char *in, size_t in_len)
{
	int last = 0;

	if (in_len % 4 == 1)
		return DANEMSG_ERR_MALFORMED;
	for (size_t i = 0; i < in_len; i++) {
		last = b64_value(values, (unsigned char)in[i]);
		if (last < 0)
			return DANEMSG_ERR_MALFORMED;
	}
	if ((in_len % 4 == 2 && (last & 0x0f)) || (in_len % 4 == 3 && (last & 0x03)))
		return DANEMSG_ERR_MALFORMED;
	return DANEMSG_OK;
}

/* Decodes in_len valid-or-not characters into out (room for decoded_max(in_len) bytes),
 * checking the alphabet, the length and that the unused trailing bits are zero as it goes. */
static danemsg_err decode_into(const int8_t *values, const char *in, size_t in_len,
			       uint8_t *out, size_t *out_len)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t pos = 0, i = 0, rest = in_len % 4;
	uint32_t v = 0;
	int bad = 0;

	if (rest == 1)
		return DANEMSG_ERR_MALFORMED;
	for (; in_len - i >= 4; i += 4) {
		int a = b64_value(values, p[i]), b = b64_value(values, p[i + 1]),
		    c = b64_value(values, p[i + 2]), d = b64_value(values, p[i + 3]);

		bad |= a | b | c | d;   /* any -1 sets the sign bit */
		v = (uint32_t)(a & 0x3f) << 18 | (uint32_t)(b & 0x3f) << 12
		    | (uint32_t)(c & 0x3f) << 6 | (uint32_t)(d & 0x3f);
		out[pos++] = (uint8_t)(v >> 16);
		out[pos++] = (uint8_t)(v >> 8);
		out[pos++] = (uint8_t)v;
	}
	if (rest) {
		int a = b64_value(values, p[i]), b = b64_value(values, p[i + 1]),
		    c = rest == 3 ? b64_value(values, p[i + 2]) : 0;

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
		danemsg_err err = validate(b64url_values, in, in_len);

		return err != DANEMSG_OK ? err : DANEMSG_ERR_BUFFER_TOO_SMALL;
	}
	return decode_into(b64url_values, in, in_len, out, out_len);
}

/* Decodes data_len characters (no padding) into a new NUL-terminated buffer; *out and
 * *out_len are NULL and 0 on failure. */
static danemsg_err decode_alloc(const int8_t *values, const char *in, size_t data_len,
				uint8_t **out, size_t *out_len)
{
	danemsg_err err;

	if (data_len % 4 == 1)
		return DANEMSG_ERR_MALFORMED;
	if (!(*out = malloc(jose_b64url_decoded_max(data_len) + 1)))
		return DANEMSG_ERR_NOMEM;
	err = decode_into(values, in, data_len, *out, out_len);
	if (err != DANEMSG_OK) {
		free(*out);
		*out = NULL;
		*out_len = 0;
		return err;
	}
	(*out)[*out_len] = 0;
	return DANEMSG_OK;
}

danemsg_err jose_b64url_decode_alloc(const char *in, size_t in_len, uint8_t **out,
				     size_t *out_len)
{
	if (!out || !out_len)
		return DANEMSG_ERR_INVALID_ARG;
	*out = NULL;
	*out_len = 0;
	if (!in && in_len)
		return DANEMSG_ERR_INVALID_ARG;
	return decode_alloc(b64url_values, in, in_len, out, out_len);
}

/* The length of in without its padding; _MALFORMED unless in is 4n characters long. */
static danemsg_err base64_unpad(const char *in, size_t in_len, size_t *data_len)
{
	size_t pad = 0;

	if (in_len % 4)
		return DANEMSG_ERR_MALFORMED;
	while (pad < 2 && pad < in_len && in[in_len - 1 - pad] == '=')
		pad++;
	*data_len = in_len - pad;       /* a third '=' is left in, and refused as data */
	return DANEMSG_OK;
}

danemsg_err util_base64_decode_alloc(const char *in, size_t in_len, uint8_t **out,
				     size_t *out_len)
{
	size_t data_len;
	danemsg_err err;

	if (!out || !out_len)
		return DANEMSG_ERR_INVALID_ARG;
	*out = NULL;
	*out_len = 0;
	if (!in && in_len)
		return DANEMSG_ERR_INVALID_ARG;
	if ((err = base64_unpad(in, in_len, &data_len)) != DANEMSG_OK)
		return err;
	return decode_alloc(base64_values, in, data_len, out, out_len);
}

int util_base64_valid(const char *in, size_t in_len)
{
	size_t data_len;

	return in && in_len && base64_unpad(in, in_len, &data_len) == DANEMSG_OK &&
	       validate(base64_values, in, data_len) == DANEMSG_OK;
}

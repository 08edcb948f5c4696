/*
 * base64url without padding (RFC 7515 section 2), strict. Table-driven, one pass each way:
 * every JOSE field of every message goes through here, and OpenSSL's codec would need the
 * alphabet translated and the padding restored in a copy first.
 */
#include <pthread.h>
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

/* Every 12-bit value as its two characters: two lookups per three bytes instead of four. */
static char b64url_pairs[4096][2];
static pthread_once_t pairs_once = PTHREAD_ONCE_INIT;

static void make_pairs(void)
{
	for (int v = 0; v < 4096; v++) {
		b64url_pairs[v][0] = b64url_alphabet[v >> 6];
		b64url_pairs[v][1] = b64url_alphabet[v & 0x3f];
	}
}

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
	pthread_once(&pairs_once, make_pairs);
	for (; in_len - i >= 3; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		memcpy(out + pos, b64url_pairs[v >> 12], 2);
		memcpy(out + pos + 2, b64url_pairs[v & 0xfff], 2);
		pos += 4;
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

/* Each base64url character's value plus one, 0 for anything else: a table, so that the
 * lookup has no branch (this runs for every character of every message). */
static const uint8_t b64url_values[256] = {
	['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6, ['G'] = 7, ['H'] = 8,
	['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15,
	['P'] = 16, ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22,
	['W'] = 23, ['X'] = 24, ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29,
	['d'] = 30, ['e'] = 31, ['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36,
	['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42, ['q'] = 43,
	['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48, ['w'] = 49, ['x'] = 50,
	['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56, ['4'] = 57,
	['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['-'] = 63, ['_'] = 64,
};

/* The value of c, or -1 when it is not base64url. */
static int b64url_value(unsigned char c)
{
	return (int)b64url_values[c] - 1;
}

/* Each character's value already in place for its position in a group of four (bit 31 set
 * for a character outside the alphabet): a group is four lookups ORed together. */
static uint32_t b64url_shifted[4][256];
static pthread_once_t shifted_once = PTHREAD_ONCE_INIT;

static void make_shifted(void)
{
	for (int c = 0; c < 256; c++) {
		int v = b64url_value((unsigned char)c);

		for (int k = 0; k < 4; k++)
			b64url_shifted[k][c] = v < 0 ? 0x80000000u : (uint32_t)v << (18 - 6 * k);
	}
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
	pthread_once(&shifted_once, make_shifted);
	for (; in_len - i >= 4; i += 4) {
		/* Bit 31 marks a character outside the alphabet. */
		v = b64url_shifted[0][p[i]] | b64url_shifted[1][p[i + 1]] |
		    b64url_shifted[2][p[i + 2]] | b64url_shifted[3][p[i + 3]];
		bad |= (int)(v >> 31);
		out[pos++] = (uint8_t)(v >> 16);
		out[pos++] = (uint8_t)(v >> 8);
		out[pos++] = (uint8_t)v;
	}
	bad = -bad;   /* -1 when any was bad, as below */
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

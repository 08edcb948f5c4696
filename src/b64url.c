/* base64url without padding (RFC 7515 section 2), strict, on OpenSSL's base64 codec. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "jose.h"

/* Chunks keep the translation buffers on the stack; multiples of 3 (in) and 4 (out). */
#define ENC_CHUNK 768
#define DEC_CHUNK 1024

size_t jose_b64url_encoded_len(size_t n)
{
	return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

size_t jose_b64url_decoded_max(size_t n)
{
	return n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
}

static void to_url_alphabet(char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '+')
			s[i] = '-';
		else if (s[i] == '/')
			s[i] = '_';
	}
}

danemsg_err jose_b64url_encode(const uint8_t *in, size_t in_len, char *out, size_t out_size,
			       size_t *out_len)
{
	unsigned char chunk[ENC_CHUNK / 3 * 4 + 1];
	size_t need, pos = 0;

	if ((!in && in_len) || !out || !out_len)
		return DANEMSG_ERR_INVALID_ARG;
	if (in_len > (SIZE_MAX - 1) / 4 * 3)
		return DANEMSG_ERR_TOO_LARGE;
	need = jose_b64url_encoded_len(in_len);
	if (out_size < need + 1)
		return DANEMSG_ERR_BUFFER_TOO_SMALL;
	for (size_t off = 0; off < in_len; off += ENC_CHUNK) {
		size_t n = in_len - off < ENC_CHUNK ? in_len - off : ENC_CHUNK;
		int len = EVP_EncodeBlock(chunk, in + off, (int)n);

		/* Only the last chunk can be padded; drop the '='. */
		while (len > 0 && chunk[len - 1] == '=')
			len--;
		memcpy(out + pos, chunk, (size_t)len);
		to_url_alphabet(out + pos, (size_t)len);
		pos += (size_t)len;
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

/* The 6-bit value of a base64url character, or -1. */
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

danemsg_err jose_b64url_decode(const char *in, size_t in_len, uint8_t *out, size_t out_size,
			       size_t *out_len)
{
	unsigned char chunk[DEC_CHUNK];
	size_t need, pos = 0;
	danemsg_err err;

	if ((!in && in_len) || (!out && out_size) || !out_len)
		return DANEMSG_ERR_INVALID_ARG;
	if ((err = b64url_validate(in, in_len)) != DANEMSG_OK)
		return err;
	need = jose_b64url_decoded_max(in_len);
	if (out_size < need)
		return DANEMSG_ERR_BUFFER_TOO_SMALL;
	for (size_t off = 0; off < in_len; off += DEC_CHUNK) {
		size_t n = in_len - off < DEC_CHUNK ? in_len - off : DEC_CHUNK;
		size_t pad = (4 - n % 4) % 4, whole = n - n % 4;
		unsigned char quantum[4];
		int len;

		memcpy(chunk, in + off, n);
		for (size_t i = 0; i < n; i++) {
			if (chunk[i] == '-')
				chunk[i] = '+';
			else if (chunk[i] == '_')
				chunk[i] = '/';
		}
		/* Only the last chunk can end in a partial quantum (DEC_CHUNK % 4 == 0). */
		len = whole ? EVP_DecodeBlock(out + pos, chunk, (int)whole) : 0;
		if (len < 0)
			return DANEMSG_ERR_MALFORMED;
		pos += (size_t)len;
		if (pad) {
			uint8_t tail[3];

			memcpy(quantum, chunk + whole, n % 4);
			memset(quantum + n % 4, '=', pad);
			if (EVP_DecodeBlock(tail, quantum, 4) != 3)
				return DANEMSG_ERR_MALFORMED;
			memcpy(out + pos, tail, 3 - pad);
			pos += 3 - pad;
		}
	}
	*out_len = pos;
	return DANEMSG_OK;
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
	if ((err = b64url_validate(in, in_len)) != DANEMSG_OK)
		return err;
	max = jose_b64url_decoded_max(in_len);
	if (!(*out = malloc(max + 1)))
		return DANEMSG_ERR_NOMEM;
	err = jose_b64url_decode(in, in_len, *out, max + 1, out_len);
	if (err != DANEMSG_OK) {
		free(*out);
		*out = NULL;
		*out_len = 0;
		return err;
	}
	(*out)[*out_len] = 0;
	return DANEMSG_OK;
}

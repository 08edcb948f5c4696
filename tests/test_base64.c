/* Standard base64 (src/util/base64.c): OpenSSL's encoder agrees on every length, and the
 * decoder is strict where OpenSSL is lenient. Table-driven. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "base64.h"

/* Every length up to 3 blocks, every byte value: the text is OpenSSL's, and decodes back. */
static void test_encode_matches_openssl(void **state)
{
	uint8_t in[64], *back = NULL;
	unsigned char ossl[128];
	size_t len = 0, back_len = 0;
	char *text = NULL;

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 37 + 251);
	for (size_t n = 0; n <= sizeof(in); n++) {
		int ossl_len = EVP_EncodeBlock(ossl, in, (int)n);
		assert_int_equal(util_base64_encode_alloc(in, n, &text, &len), DANEMSG_OK);
		assert_int_equal(len, (size_t)ossl_len);
		assert_string_equal(text, (char *)ossl);
		assert_int_equal(util_base64_valid(text, len), n > 0);
		assert_int_equal(util_base64_decode_alloc(text, len, &back, &back_len), DANEMSG_OK);
		assert_int_equal(back_len, n);
		assert_memory_equal(back, in, n);
		free(text);
		free(back);
	}
}

/* Texts that OpenSSL's decoder (or a lenient one) takes and ours refuses, and some it
 * takes too. */
static void test_decode_strict(void **state)
{
	static const struct {
		const char *text;
		const char *bytes;      /* NULL: refused */
	} t[] = {
		{"Zm9vYmFy", "foobar"},
		{"Zm9vYg==", "foob"},
		{"Zm9vYmE=", "fooba"},
		{"+/+/", "\xfb\xff\xbf"},
		{"", ""},
		{"Zm9vYg", NULL},        /* padding missing */
		{"Zm9vYg=", NULL},       /* length not 4n */
		{"Zm9vYh==", NULL},      /* trailing bits not zero: not the one text of "foob" */
		{"Zm9vYmF=", NULL},
		{"Zm9v===", NULL},
		{"Zg===", NULL},
		{"Z===", NULL},          /* three '=' */
		{"====", NULL},
		{"Zg==Zg==", NULL},      /* '=' inside */
		{"Zm9v\nYmFy", NULL},    /* white space */
		{" Zm9vYmFy", NULL},
		{"Zm9vYmFy ", NULL},
		{"-_-_", NULL},          /* the URL alphabet */
		{"Zm9v*mFy", NULL},
		{"Zm9v\x80mFy", NULL},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint8_t *out = (uint8_t *)1;
		size_t len = 99, text_len = strlen(t[i].text);
		danemsg_err err = util_base64_decode_alloc(t[i].text, text_len, &out, &len);
		if (t[i].bytes) {
			assert_int_equal(err, DANEMSG_OK);
			assert_int_equal(len, strlen(t[i].bytes));
			assert_memory_equal(out, t[i].bytes, len);
			assert_int_equal(util_base64_valid(t[i].text, text_len), text_len > 0);
		} else {
			assert_int_equal(err, DANEMSG_ERR_MALFORMED);
			assert_null(out);
			assert_int_equal(len, 0);
			assert_false(util_base64_valid(t[i].text, text_len));
		}
		free(out);
	}
}

static void test_arguments(void **state)
{
	uint8_t *out;
	char *text;
	size_t len;
	assert_int_equal(util_base64_decode_alloc(NULL, 4, &out, &len), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(util_base64_decode_alloc("QQ==", 4, NULL, &len), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(util_base64_encode_alloc(NULL, 1, &text, &len), DANEMSG_ERR_INVALID_ARG);
	assert_false(util_base64_valid(NULL, 4));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_matches_openssl),
		cmocka_unit_test(test_decode_strict),
		cmocka_unit_test(test_arguments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

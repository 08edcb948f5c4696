/* Text output (cli_escape_text in tool/message_io.c): one message is one line that no
 * payload can make pass for another, on any terminal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "message_io.h"

static void test_escapes(void **state)
{
	static const struct { const char *in; size_t len; const char *out; } cases[] = {
		{"hello, world", 0, "hello, world"},
		{"", 0, ""},
		{"h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80", 0,
		 "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80"},
		{"hi\nbank._device.example.net says: pay", 0,
		 "hi\\nbank._device.example.net says: pay"},
		{"a\rb\tc\\d", 0, "a\\rb\\tc\\\\d"},
		{"\x1b[2J\x07\x7f", 0, "\\x1b[2J\\x07\\x7f"},
		{"nul\0byte", 8, "nul\\x00byte"},
		{"\xc2\x85next line \xc2\x9b" "31m", 0, "\\u0085next line \\u009b31m"},   /* C1 */
		{"\xe2\x80\xa8sep\xe2\x80\xa9", 0, "\\u2028sep\\u2029"},
		{"\xe2\x80\xae" "evil\xe2\x81\xa6" "x\xd8\x9c", 0, "\\u202eevil\\u2066x\\u061c"},
		{"\xff\xfe", 0, "\\xff\\xfe"},                       /* not UTF-8 */
		{"\xc0\xaf", 0, "\\xc0\\xaf"},                       /* overlong '/' */
		{"\xed\xa0\x80", 0, "\\xed\\xa0\\x80"},              /* a surrogate */
		{"\xf4\x90\x80\x80", 0, "\\xf4\\x90\\x80\\x80"},     /* over U+10FFFF */
		{"cut \xe2\x9c", 0, "cut \\xe2\\x9c"},               /* truncated sequence */
		{"\x9b", 0, "\\x9b"},                                /* a raw 8-bit CSI */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = cases[i].len ? cases[i].len : strlen(cases[i].in), out_len;
		char *out = cli_escape_text((const uint8_t *)cases[i].in, len, &out_len);
		printf("case %zu\n", i);
		assert_non_null(out);
		assert_string_equal(out, cases[i].out);
		assert_int_equal(out_len, strlen(cases[i].out));
		free(out);
	}
	(void)state;
}

/* The worst case fits the buffer: every byte escaped to 4 characters. */
static void test_worst_case_size(void **state)
{
	uint8_t in[256];
	size_t out_len;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(0x80 + i % 64);   /* continuation bytes alone: \xHH each */
	char *out = cli_escape_text(in, sizeof(in), &out_len);
	assert_non_null(out);
	assert_int_equal(out_len, 4 * sizeof(in));
	free(out);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_worst_case_size),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

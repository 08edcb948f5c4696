/* PKIX-CD: the authority host of an identity name and the bounds on a fetched CA file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/x509.h>

#include "pkixcd.h"

static const struct {
	const char *name;
	danemsg_err expected;
	const char *host;
} authority_cases[] = {
	{"bob._device.example.net", DANEMSG_OK, "device.example.net"},
	{"bob._device.example.net.", DANEMSG_OK, "device.example.net"},
	{"_device.example.net", DANEMSG_OK, "device.example.net"},
	/* From the right: the first '_' label met is the right-most one. */
	{"a._x.b._device.example.net", DANEMSG_OK, "device.example.net"},
	{"a_b._device.example.net", DANEMSG_OK, "device.example.net"},
	{"bob.device.example.net", DANEMSG_ERR_INVALID_ARG, NULL},
	{"bob.x_device.example.net", DANEMSG_ERR_INVALID_ARG, NULL},
	{"bob._.example.net", DANEMSG_ERR_INVALID_ARG, NULL},
	{"example._", DANEMSG_ERR_INVALID_ARG, NULL},
	{"", DANEMSG_ERR_INVALID_ARG, NULL},
};

static void test_authority(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(authority_cases) / sizeof(authority_cases[0]); i++) {
		char host[256] = "";

		print_message("%s\n", authority_cases[i].name);
		assert_int_equal(pkixcd_authority(authority_cases[i].name, host, sizeof(host)),
				 authority_cases[i].expected);
		if (authority_cases[i].host)
			assert_string_equal(host, authority_cases[i].host);
	}
	char small[8];
	assert_int_equal(pkixcd_authority("a._device.example.net", small, sizeof(small)),
			 DANEMSG_ERR_BUFFER_TOO_SMALL);
}

static void test_parse_ca_bounds(void **state)
{
	static const char garbage[] = "<html>not found</html>";
	size_t big_len = 64 * 1024 + 1;
	uint8_t *big = calloc(1, big_len);
	X509 *ca = (X509 *)1;

	(void)state;
	assert_non_null(big);
	assert_int_equal(pkixcd_parse_ca(big, big_len, &ca), DANEMSG_ERR_TOO_LARGE);
	assert_null(ca);
	assert_int_equal(pkixcd_parse_ca((const uint8_t *)garbage, sizeof(garbage) - 1, &ca),
			 DANEMSG_ERR_MALFORMED);
	assert_null(ca);
	assert_int_equal(pkixcd_parse_ca(big, 0, &ca), DANEMSG_ERR_MALFORMED);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_authority),
		cmocka_unit_test(test_parse_ca_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

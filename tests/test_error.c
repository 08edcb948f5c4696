/* Every error code has its own message and stable name; unknown codes are safe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include <danemsg.h>

static const danemsg_err all_codes[] = {
	DANEMSG_OK, DANEMSG_ERR_NOMEM, DANEMSG_ERR_INVALID_ARG, DANEMSG_ERR_IO,
	DANEMSG_ERR_BUFFER_TOO_SMALL, DANEMSG_ERR_MALFORMED, DANEMSG_ERR_UNSUPPORTED,
	DANEMSG_ERR_CRYPTO, DANEMSG_ERR_EXISTS, DANEMSG_ERR_NOT_FOUND, DANEMSG_ERR_DNS_CONFIG,
	DANEMSG_ERR_DNS_INSECURE, DANEMSG_ERR_DNS_BOGUS, DANEMSG_ERR_DNS_NOT_FOUND,
	DANEMSG_ERR_DNS_TEMPORARY, DANEMSG_ERR_NO_USABLE_RECORD, DANEMSG_ERR_NO_MATCH,
	DANEMSG_ERR_UPDATE_REFUSED, DANEMSG_ERR_KEY_MISMATCH, DANEMSG_ERR_KEY_PERMISSIONS,
	DANEMSG_ERR_NOT_FOR_ME, DANEMSG_ERR_UNKNOWN_SENDER, DANEMSG_ERR_BAD_SIGNATURE,
	DANEMSG_ERR_EXPIRED, DANEMSG_ERR_REPLAYED, DANEMSG_ERR_SENDER_NOT_ALLOWED,
	DANEMSG_ERR_TOO_LARGE, DANEMSG_ERR_ALGORITHM, DANEMSG_ERR_DECRYPT, DANEMSG_ERR_BROKER,
	DANEMSG_ERR_TIMEOUT,
};
#define N_CODES (sizeof(all_codes) / sizeof(all_codes[0]))

static void test_each_code_has_distinct_message_and_name(void **state)
{
	for (size_t i = 0; i < N_CODES; i++) {
		assert_string_not_equal(danemsg_strerror(all_codes[i]), "unknown error");
		assert_string_not_equal(danemsg_err_name(all_codes[i]), "unknown");
		for (size_t j = 0; j < i; j++) {
			assert_string_not_equal(danemsg_strerror(all_codes[i]),
						danemsg_strerror(all_codes[j]));
			assert_string_not_equal(danemsg_err_name(all_codes[i]),
						danemsg_err_name(all_codes[j]));
		}
	}
}

static void test_unknown_code_is_safe(void **state)
{
	assert_string_equal(danemsg_strerror((danemsg_err)12345), "unknown error");
	assert_string_equal(danemsg_err_name((danemsg_err)-1), "unknown");
	assert_int_equal(danemsg_err_is_temporary((danemsg_err)12345), 0);
}

static void test_temporary_versus_reject(void **state)
{
	assert_true(danemsg_err_is_temporary(DANEMSG_ERR_DNS_TEMPORARY));
	assert_true(danemsg_err_is_temporary(DANEMSG_ERR_BROKER));
	assert_false(danemsg_err_is_temporary(DANEMSG_ERR_DNS_BOGUS));
	assert_false(danemsg_err_is_temporary(DANEMSG_ERR_BAD_SIGNATURE));
	assert_false(danemsg_err_is_temporary(DANEMSG_ERR_REPLAYED));
}

static void test_hex_encode(void **state)
{
	const uint8_t in[] = {0x00, 0x9f, 0xa0, 0xff};
	char out[9];
	assert_int_equal(danemsg_hex_encode(in, 4, out, sizeof(out)), DANEMSG_OK);
	assert_string_equal(out, "009fa0ff");
	assert_int_equal(danemsg_hex_encode(in, 0, out, 1), DANEMSG_OK);
	assert_string_equal(out, "");
	memcpy(out, "untouched", 9);
	assert_int_equal(danemsg_hex_encode(in, 4, out, 8), DANEMSG_ERR_BUFFER_TOO_SMALL);
	assert_memory_equal(out, "untouched", 9);
	assert_int_equal(danemsg_hex_encode(NULL, 1, out, 9), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_hex_encode(in, 1, NULL, 9), DANEMSG_ERR_INVALID_ARG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_code_has_distinct_message_and_name),
		cmocka_unit_test(test_unknown_code_is_safe),
		cmocka_unit_test(test_temporary_versus_reject),
		cmocka_unit_test(test_hex_encode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

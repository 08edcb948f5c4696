/* DNS names in text: the one validator (src/util/dname.c), and the public functions that
 * take a name judge it alike (a credential's name, a locator, a policy's allow-list). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <danemsg.h>

#include "dname.h"

/* canonical NULL: not a name. */
static const struct {
	const char *name;
	const char *canonical;
} cases[] = {
	{"alice._device.example.net", "alice._device.example.net."},
	{"Alice._Device.Example.NET.", "alice._device.example.net."},
	{"_443._tcp.host", "_443._tcp.host."},
	{"a", "a."},
	{"a.", "a."},
	{"x-1.y_2", "x-1.y_2."},
	{"-a.b", "-a.b."},   /* DNS allows it; RFC 952's host names do not, and need not */
	{"", NULL},
	{".", NULL},
	{"..", NULL},
	{".a", NULL},
	{"a..b", NULL},
	{"a..", NULL},
	{"*.example.net", NULL},   /* a wildcard is a pattern, not a name (policies parse it) */
	{"a*b.example", NULL},
	{"a b.example", NULL},
	{"a/b", NULL},
	{"a\\.b", NULL},           /* no escapes */
	{"a%2eb", NULL},
	{"\xe9xample.net", NULL},  /* Latin-1 e-acute: a letter to isalnum() in such a locale */
	{"\xc3\xa9xample.net", NULL},
	{"a\tb", NULL},
	{"a.b\n", NULL},
};

static void expect(const char *name, const char *canonical)
{
	char canon[DNAME_BUF], bare[DNAME_BUF], locator[600], from_locator[DNAME_BUF], pattern[600];
	danemsg_err want = canonical ? DANEMSG_OK : DANEMSG_ERR_INVALID_ARG;
	danemsg_policy *policy = NULL;

	assert_int_equal(dname_canonical(name, canon, sizeof(canon)), want);
	assert_int_equal(dname_normalize(name, 0, bare, sizeof(bare)), want);
	assert_int_equal(danemsg_credential_name_normalize(name, bare, sizeof(bare)), want);
	snprintf(locator, sizeof(locator), "dns:%s?type=TLSA", name);
	assert_int_equal(danemsg_locator_parse(locator, strlen(locator), from_locator,
					       sizeof(from_locator)),
			 canonical ? DANEMSG_OK : DANEMSG_ERR_MALFORMED);
	assert_int_equal(danemsg_policy_new(&policy), DANEMSG_OK);
	assert_int_equal(danemsg_policy_check_sender(policy, name), want);
	snprintf(pattern, sizeof(pattern), "*.%s", name);   /* any name below it */
	assert_int_equal(danemsg_policy_allow_sender(policy, pattern), want);
	danemsg_policy_free(policy);
	if (!canonical)
		return;
	assert_string_equal(canon, canonical);
	assert_string_equal(from_locator, canonical);
	assert_memory_equal(bare, canonical, strlen(canonical) - 1);
	assert_int_equal(bare[strlen(canonical) - 1], '\0');
}

static void test_names(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		printf("case %zu\n", i);
		expect(cases[i].name, cases[i].canonical);
	}
}

/* Labels of 63 octets and names of 253 (254 with the dot) fit; one more does not. */
static void test_bounds(void **state)
{
	char name[300], canon[DNAME_BUF];
	(void)state;
	memset(name, 'a', 64);
	name[64] = '\0';
	expect(name, NULL);
	name[63] = '\0';
	assert_int_equal(dname_canonical(name, canon, sizeof(canon)), DANEMSG_OK);
	/* 4 labels of 63 and one of 1: 4 * 64 - 1 + 2 = 257; trim to exactly 253 */
	memset(name, 'b', sizeof(name));
	for (size_t i = 63; i < sizeof(name); i += 64)
		name[i] = '.';
	name[253] = '\0';
	assert_int_equal(dname_canonical(name, canon, sizeof(canon)), DANEMSG_OK);
	assert_int_equal(strlen(canon), 254);
	name[253] = '.';
	name[254] = '\0';
	assert_int_equal(dname_canonical(name, canon, sizeof(canon)), DANEMSG_OK);
	name[254] = 'c';
	name[255] = '\0';
	expect(name, NULL);
	name[253] = 'c';
	name[254] = '\0';
	expect(name, NULL);
}

/* The buffer: the result and its NUL exactly; a name is judged before the buffer. */
static void test_buffer(void **state)
{
	char buf[8];
	(void)state;
	assert_int_equal(dname_canonical("abc.de", buf, 8), DANEMSG_OK);
	assert_int_equal(dname_canonical("abc.de", buf, 7), DANEMSG_ERR_BUFFER_TOO_SMALL);
	assert_int_equal(dname_normalize("abc.de.", 0, buf, 7), DANEMSG_OK);
	assert_string_equal(buf, "abc.de");
	assert_int_equal(dname_normalize("abc.de", 0, buf, 6), DANEMSG_ERR_BUFFER_TOO_SMALL);
	assert_int_equal(dname_canonical("a..b", buf, 1), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(dname_canonical(NULL, buf, sizeof(buf)), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(dname_canonical("a", NULL, 0), DANEMSG_ERR_INVALID_ARG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_buffer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

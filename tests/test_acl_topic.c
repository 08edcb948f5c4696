/* The broker plugin's topic rules (plugin/acl_topic.c), built from the plugin's source:
 * templates with {to}, {to_path} and {from}. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <danemsg.h>

#include "acl_topic.h"

#define BOB "bob._device.example.net"
#define ALICE "alice._device.example.net"

/* Publishing: which topics fit, and whose name they yield. */
static void test_topic_fits(void **state)
{
	static const struct {
		const char *tmpl, *topic, *to;   /* to: the name it yields, NULL: does not fit */
	} cases[] = {
		{"{to}", BOB, BOB},
		{"{to}", "net/example/_device/bob", NULL},
		{"danemsg/{to_path}", "danemsg/net/example/_device/bob", BOB},
		{"danemsg/{to_path}", "danemsg/NET/Example/_device/bob", BOB},
		{"danemsg/{to_path}", "danemsg/" BOB, NULL},
		{"danemsg/{to_path}", "danemsg/net/example/_device/bob/", NULL},
		{"danemsg/{to_path}", "danemsg/net//bob", NULL},
		{"danemsg/{to_path}", "danemsg/net/+/bob", NULL},
		{"danemsg/{to_path}", "danemsg/net/#", NULL},
		{"danemsg/{to_path}", "danemsg/", NULL},
		{"danemsg/{to_path}", "other/net/example/_device/bob", NULL},
		{"{to_path}/{from}", "net/example/_device/bob/" ALICE, BOB},
		{"{to_path}/{from}", "net/example/_device/bob", "_device.example.net"},
		{"{to_path}/{from}", "net/example/_device/bob/x/" ALICE, "x." BOB},
		{"in/{to_path}/x", "in/net/example/_device/bob/x", BOB},
		{"in/{to_path}/x", "in/x", NULL},
	};
	char to[DANEMSG_CREDENTIAL_NAME_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int fits = acl_topic_fits(cases[i].tmpl, cases[i].topic, NULL, NULL, to,
					  sizeof(to));
		if (fits != (cases[i].to != NULL))
			fail_msg("%s with %s: %s", cases[i].tmpl, cases[i].topic,
				 fits ? "fits" : "does not fit");
		if (fits)
			assert_string_equal(to, cases[i].to);
	}
	assert_true(acl_topic_fits("{to_path}/{from}", "net/example/_device/bob/" ALICE, BOB,
				   ALICE, NULL, 0));
	assert_false(acl_topic_fits("{to_path}/{from}", "net/example/_device/bob/" ALICE, ALICE,
				    NULL, NULL, 0));
}

/* Subscribing: one's own topic only, as a path too. */
static void test_own_subscription(void **state)
{
	static const struct {
		const char *tmpl, *topic;
		int own;
	} cases[] = {
		{"danemsg/{to_path}", "danemsg/net/example/_device/bob", 1},
		{"danemsg/{to_path}", "$share/g/danemsg/net/example/_device/bob", 1},
		{"danemsg/{to_path}", "danemsg/net/example/_device/alice", 0},
		{"danemsg/{to_path}", "danemsg/net/example/_device/+", 0},
		{"danemsg/{to_path}", "danemsg/net/example/#", 0},
		{"danemsg/{to_path}", "danemsg/" BOB, 0},
		{"{to_path}/{from}", "net/example/_device/bob/+", 1},
		{"{to_path}/{from}", "net/example/_device/bob/" ALICE, 1},
		{"{to_path}/{from}", "net/example/_device/+/+", 0},
		{"{to}", BOB, 1},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (acl_own_subscription(cases[i].tmpl, BOB, cases[i].topic) != cases[i].own)
			fail_msg("%s with %s: expected %d", cases[i].tmpl, cases[i].topic,
				 cases[i].own);
}

static void test_template_ok(void **state)
{
	static const struct { const char *tmpl; int ok; } cases[] = {
		{"{to}", 1}, {"danemsg/{to_path}", 1}, {"{to_path}/{from}", 1}, {"{from}", 0},
		{"danemsg", 0}, {"{to_path}x", 0}, {"{to_path}.{from}", 0},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (acl_template_ok(cases[i].tmpl) != cases[i].ok)
			fail_msg("%s: expected %d", cases[i].tmpl, cases[i].ok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_topic_fits),
		cmocka_unit_test(test_own_subscription),
		cmocka_unit_test(test_template_ok),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

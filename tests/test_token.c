/* Login tokens (include/danemsg/token.h), hermetic: identities in a signed zone validated
 * offline. Each refusal is checked for its own error code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <danemsg.h>

#include "jose.h"
#include "testutil.h"

#define ZONE "example.org."
#define AUD "broker.example.org"

/* The identities: key type, and how DNS publishes them. */
enum publish { FULL, DIGEST_ONLY, ABSENT, AS_CA };
static const struct {
	const char *name;
	danemsg_keytype type;
	enum publish publish;
} people[] = {
	{"alice._device.example.org", DANEMSG_KEY_P256, FULL},
	{"bob._device.example.org", DANEMSG_KEY_ED25519, FULL},
	{"carol._device.example.org", DANEMSG_KEY_RSA2048, FULL},
	{"frank._device.example.org", DANEMSG_KEY_P256, DIGEST_ONLY},
	{"eve._device.example.org", DANEMSG_KEY_P256, ABSENT},
	{"grace._device.example.org", DANEMSG_KEY_P256, AS_CA},
};
#define N_PEOPLE (sizeof(people) / sizeof(people[0]))
enum { ALICE, BOB, CAROL, FRANK, EVE, GRACE };

struct fixture {
	char *dir;
	struct tu_zone zone;
	danemsg_resolver *r;
	danemsg_replay_cache *replay;
	danemsg_replay_ops replay_ops;
	danemsg_token_policy policy;
	danemsg_credential *cred[N_PEOPLE];
};

static void publish(struct fixture *f, size_t i)
{
	STACK_OF(X509) *certs = NULL;
	char owner[300];
	int digest = people[i].publish == DIGEST_ONLY;

	assert_int_equal(danemsg_credential_published(f->dir, people[i].name, &certs, NULL, 0),
			 DANEMSG_OK);
	snprintf(owner, sizeof(owner), "%s.", people[i].name);
	for (int c = 0; c < sk_X509_num(certs); c++)
		tu_zone_add_tlsa(&f->zone, owner, sk_X509_value(certs, c),
				 people[i].publish == AS_CA ? 2 : 3, digest, digest);
	sk_X509_pop_free(certs, X509_free);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	danemsg_resolver_config cfg;
	const char *anchors[2] = {NULL, NULL};

	f->dir = tu_tempdir();
	tu_zone_begin(&f->zone, ZONE);
	for (size_t i = 0; i < N_PEOPLE; i++) {
		assert_int_equal(danemsg_credential_new(f->dir, people[i].name, people[i].type, 30,
							0, NULL, 0), DANEMSG_OK);
		assert_int_equal(danemsg_credential_load(f->dir, people[i].name, &f->cred[i], NULL,
							 0), DANEMSG_OK);
		if (people[i].publish != ABSENT)
			publish(f, i);
	}
	tu_zone_finish(&f->zone, 0);
	danemsg_resolver_config_init(&cfg);
	anchors[0] = f->zone.anchor_file;
	cfg.root_anchor_file = "";
	cfg.offline_zone_file = f->zone.zone_file;
	cfg.offline_zone = ZONE;
	cfg.trust_anchor_files = anchors;
	assert_int_equal(danemsg_resolver_new(&cfg, &f->r, NULL, 0), DANEMSG_OK);
	assert_int_equal(danemsg_replay_cache_new(1000, &f->replay), DANEMSG_OK);
	danemsg_token_policy_init(&f->policy);
	f->policy.audience = AUD;
	f->replay_ops = danemsg_replay_cache_ops(f->replay);
	f->policy.replay = &f->replay_ops;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	for (size_t i = 0; i < N_PEOPLE; i++)
		danemsg_credential_free(f->cred[i]);
	danemsg_replay_cache_free(f->replay);
	danemsg_resolver_free(f->r);
	tu_zone_end(&f->zone);
	tu_rmtree(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static char *make(struct fixture *f, size_t who, const char *aud, uint32_t lifetime, int64_t iat)
{
	char *token = NULL;
	assert_int_equal(danemsg_token_make(f->cred[who], aud, lifetime, iat, &token), DANEMSG_OK);
	return token;
}

static danemsg_err verify(struct fixture *f, const char *user, const char *token, int64_t now,
			  danemsg_token_claims *claims)
{
	char err[300] = "";
	danemsg_err e = danemsg_token_verify(f->r, &f->policy, user, token, strlen(token), now,
					     claims, err, sizeof(err));
	if (e)
		assert_true(err[0] != '\0');   /* every refusal says why */
	return e;
}

/* Every key type logs in once with its own algorithm; the same token twice is a replay. */
static void test_each_key_type(void **state)
{
	static const char *const algs[] = {"ES256", "EdDSA", "PS256"};
	struct fixture *f = *state;

	for (size_t i = ALICE; i <= CAROL; i++) {
		danemsg_token_claims c;
		char *t = make(f, i, AUD, 0, 0);
		danemsg_token_claims_init(&c);
		assert_int_equal(danemsg_token_parse(t, strlen(t), &c), DANEMSG_OK);
		assert_int_equal(c.exp - c.iat, DANEMSG_TOKEN_MAX_LIFETIME);
		assert_int_equal(verify(f, people[i].name, t, 0, &c), DANEMSG_OK);
		assert_string_equal(c.sub, people[i].name);
		assert_string_equal(c.aud, AUD);
		assert_string_equal(c.alg, algs[i]);
		assert_int_equal(verify(f, people[i].name, t, 0, NULL), DANEMSG_ERR_REPLAYED);
		free(t);
	}
}

/* Refusals, each for its own reason; and the user name compared as a DNS name. */
static void test_claims(void **state)
{
	struct fixture *f = *state;
	int64_t now = (int64_t)time(NULL);
	const struct {
		const char *what, *user, *aud;
		size_t who;
		uint32_t lifetime;
		int64_t iat, now;
		danemsg_err expect;
	} cases[] = {
		{"valid", people[ALICE].name, AUD, ALICE, 0, now, now, DANEMSG_OK},
		{"any user name", NULL, AUD, ALICE, 0, now, now, DANEMSG_OK},
		{"name in upper case with a dot", "ALICE._device.Example.ORG.", AUD, ALICE, 0, now,
		 now, DANEMSG_OK},
		{"expired", people[ALICE].name, AUD, ALICE, 60, now - 61, now, DANEMSG_ERR_EXPIRED},
		{"exp is now", people[ALICE].name, AUD, ALICE, 60, now - 60, now,
		 DANEMSG_ERR_EXPIRED},
		{"iat 31 s ahead", people[ALICE].name, AUD, ALICE, 0, now + 31, now,
		 DANEMSG_ERR_EXPIRED},
		{"iat 30 s ahead (skew)", people[ALICE].name, AUD, ALICE, 0, now + 30, now,
		 DANEMSG_OK},
		{"wrong audience", people[ALICE].name, "other.example.org", ALICE, 0, now, now,
		 DANEMSG_ERR_NOT_FOR_ME},
		{"audience in another case", people[ALICE].name, "BROKER.example.org", ALICE, 0,
		 now, now, DANEMSG_OK},
		{"sub is not the user", people[BOB].name, AUD, ALICE, 0, now, now,
		 DANEMSG_ERR_NOT_FOR_ME},
		{"user is not a DNS name", "alice/../x", AUD, ALICE, 0, now, now,
		 DANEMSG_ERR_NOT_FOR_ME},
		{"published as a digest only", people[FRANK].name, AUD, FRANK, 0, now, now,
		 DANEMSG_ERR_UNKNOWN_SENDER},
		{"not in DNS", people[EVE].name, AUD, EVE, 0, now, now, DANEMSG_ERR_DNS_NOT_FOUND},
		{"a CA's key (DANE-TA 2 0 0)", people[GRACE].name, AUD, GRACE, 0, now, now,
		 DANEMSG_ERR_UNKNOWN_SENDER},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *t = make(f, cases[i].who, cases[i].aud, cases[i].lifetime, cases[i].iat);
		danemsg_err e = verify(f, cases[i].user, t, cases[i].now, NULL);
		if (e != cases[i].expect)
			fail_msg("%s: %s, expected %s", cases[i].what, danemsg_err_name(e),
				 danemsg_err_name(cases[i].expect));
		free(t);
	}
}

/* A verifier may allow shorter lives than the maximum. */
static void test_policy_max_lifetime(void **state)
{
	struct fixture *f = *state;
	char *t = make(f, ALICE, AUD, 120, 0);
	f->policy.max_lifetime = 60;
	assert_int_equal(verify(f, people[ALICE].name, t, 0, NULL), DANEMSG_ERR_EXPIRED);
	f->policy.max_lifetime = 301;
	assert_int_equal(verify(f, people[ALICE].name, t, 0, NULL), DANEMSG_ERR_INVALID_ARG);
	f->policy.max_lifetime = DANEMSG_TOKEN_MAX_LIFETIME;
	/* replay operations of a layout this library does not know: refused, not called */
	f->replay_ops.version = DANEMSG_REPLAY_OPS_VERSION + 1;
	assert_int_equal(verify(f, people[ALICE].name, t, 0, NULL), DANEMSG_ERR_UNSUPPORTED);
	f->replay_ops.version = DANEMSG_REPLAY_OPS_VERSION;
	assert_int_equal(verify(f, people[ALICE].name, t, 0, NULL), DANEMSG_OK);
	free(t);
}

/* A signed token, with header and claims of our choosing (each its own jti). */
static char *forge(danemsg_credential *cred, jose_alg alg, const char *typ, const char *sub)
{
	static int n;
	int64_t now = (int64_t)time(NULL);
	char jti[32], *claims, *out = NULL;
	json_t *h = json_pack("{s:s}", "typ", typ), *c;

	snprintf(jti, sizeof(jti), "forged-%d", ++n);
	c = json_pack("{s:s, s:s, s:I, s:I, s:s}", "sub", sub, "aud", AUD, "iat", (json_int_t)now,
		      "exp", (json_int_t)now + 60, "jti", jti);
	claims = json_dumps(c, JSON_COMPACT);
	assert_int_equal(jose_jws_sign_compact(danemsg_credential_sign_key(cred), alg, h,
					       (const uint8_t *)claims, strlen(claims), &out,
					       NULL), DANEMSG_OK);
	free(claims);
	json_decref(h);
	json_decref(c);
	return out;
}

/* Signatures: another identity's key, a changed signature, an algorithm that is not the
 * key's own (RSA keys log in with PS256 only: RS256, which open accepts for the reference's
 * messages, is not carol's algorithm here), another typ (a message signature). */
static void test_signatures(void **state)
{
	struct fixture *f = *state;
	const struct {
		size_t signer, as;
		jose_alg alg;
		const char *typ;
		danemsg_err expect;
	} cases[] = {
		{FRANK, ALICE, JOSE_ALG_UNKNOWN, DANEMSG_TOKEN_TYP, DANEMSG_ERR_BAD_SIGNATURE},
		{BOB, ALICE, JOSE_ALG_UNKNOWN, DANEMSG_TOKEN_TYP, DANEMSG_ERR_UNKNOWN_SENDER},
		{CAROL, ALICE, JOSE_ALG_UNKNOWN, DANEMSG_TOKEN_TYP, DANEMSG_ERR_UNKNOWN_SENDER},
		{CAROL, CAROL, JOSE_ALG_RS256, DANEMSG_TOKEN_TYP, DANEMSG_ERR_UNKNOWN_SENDER},
		{CAROL, CAROL, JOSE_ALG_PS256, DANEMSG_TOKEN_TYP, DANEMSG_OK},
		{ALICE, ALICE, JOSE_ALG_UNKNOWN, "danemsg+jws", DANEMSG_ERR_UNSUPPORTED},
	};
	char *t;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		danemsg_err e;
		t = forge(f->cred[cases[i].signer], cases[i].alg, cases[i].typ,
			  people[cases[i].as].name);
		e = verify(f, people[cases[i].as].name, t, 0, NULL);
		if (e != cases[i].expect)
			fail_msg("case %zu: %s, expected %s", i, danemsg_err_name(e),
				 danemsg_err_name(cases[i].expect));
		free(t);
	}
	t = make(f, ALICE, AUD, 0, 0);
	t[strlen(t) - 2] = t[strlen(t) - 2] == 'A' ? 'B' : 'A';
	assert_int_equal(verify(f, people[ALICE].name, t, 0, NULL), DANEMSG_ERR_BAD_SIGNATURE);
	free(t);
}

/* Text that is not a token. */
static void test_garbage(void **state)
{
	struct fixture *f = *state;
	char *big = malloc(DANEMSG_TOKEN_MAX_LEN + 2), *t = make(f, ALICE, AUD, 0, 0);
	char json[DANEMSG_TOKEN_MAX_LEN];
	danemsg_token_claims c;
	const char *const inputs[] = {
		"", "garbage", "a.b.c", "..", "eyJhbGciOiJub25lIn0.e30.",
		"eyJhbGciOiJFUzI1NiJ9.e30.AAAA",
	};

	danemsg_token_claims_init(&c);
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++)
		assert_true(danemsg_token_parse(inputs[i], strlen(inputs[i]), &c) != DANEMSG_OK);
	memset(big, 'a', DANEMSG_TOKEN_MAX_LEN + 1);
	big[DANEMSG_TOKEN_MAX_LEN + 1] = '\0';
	assert_int_equal(danemsg_token_parse(big, strlen(big), &c), DANEMSG_ERR_TOO_LARGE);
	assert_int_equal(verify(f, NULL, big, 0, NULL), DANEMSG_ERR_TOO_LARGE);
	/* the same token in the JSON serialization: a token is one string */
	snprintf(json, sizeof(json), "{\"payload\":\"%s\"}", strchr(t, '.') + 1);
	assert_int_equal(danemsg_token_parse(json, strlen(json), &c), DANEMSG_ERR_MALFORMED);
	free(big);
	free(t);
	/* and nothing to make a token from */
	assert_int_equal(danemsg_token_make(f->cred[ALICE], "", 0, 0, &t), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_token_make(f->cred[ALICE], "a b", 0, 0, &t),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_token_make(f->cred[ALICE], AUD, 301, 0, &t),
			 DANEMSG_ERR_INVALID_ARG);
	assert_null(t);
}

/* Verifying against an identity looked up already: no second lookup, and only sub's own. */
static void test_verify_identity(void **state)
{
	struct fixture *f = *state;
	danemsg_identity *alice = NULL, *eve = NULL;
	char err[300] = "", *t = make(f, ALICE, AUD, 0, 0), *b = make(f, BOB, AUD, 0, 0);

	assert_int_equal(danemsg_resolver_lookup(f->r, people[ALICE].name, &alice), DANEMSG_OK);
	assert_int_not_equal(danemsg_resolver_lookup(f->r, people[EVE].name, &eve), DANEMSG_OK);
	assert_int_equal(danemsg_token_verify_identity(alice, &f->policy, NULL, b, strlen(b), 0,
						       NULL, err, sizeof(err)),
			 DANEMSG_ERR_NOT_FOR_ME);   /* bob's token, alice's keys */
	assert_non_null(strstr(err, "not for the identity looked up"));
	assert_int_equal(danemsg_token_verify_identity(alice, &f->policy, people[ALICE].name, t,
						       strlen(t), 0, NULL, err, sizeof(err)),
			 DANEMSG_OK);
	assert_int_equal(danemsg_token_verify_identity(alice, &f->policy, NULL, t, strlen(t), 0,
						       NULL, err, sizeof(err)),
			 DANEMSG_ERR_REPLAYED);
	free(t);
	t = make(f, EVE, AUD, 0, 0);   /* a failed lookup's identity: its status, and why */
	assert_int_equal(danemsg_token_verify_identity(eve, &f->policy, NULL, t, strlen(t), 0,
						       NULL, err, sizeof(err)),
			 danemsg_identity_status(eve));
	assert_non_null(strstr(err, people[EVE].name));
	assert_int_equal(danemsg_token_verify_identity(NULL, &f->policy, NULL, t, strlen(t), 0,
						       NULL, err, sizeof(err)),
			 DANEMSG_ERR_INVALID_ARG);
	danemsg_identity_unref(alice);
	danemsg_identity_unref(eve);
	free(t);
	free(b);
}

/*
 * One identity cannot fill the replay cache and push everyone's fresh tokens under its
 * floor: 1,000 logins of alice (the cache's size) issued max_skew ahead, with a quota of
 * 100 a sender; then bob's fresh token still logs in. And a token is used no later than
 * iat + max_lifetime - max_skew, so that no entry outlives max_lifetime from first use.
 */
static void test_replay_quota(void **state)
{
	struct fixture *f = *state;
	int64_t now = (int64_t)time(NULL);
	size_t refused = 0;
	char *t;

	assert_int_equal(danemsg_replay_cache_set_sender_max(f->replay, 1001),
			 DANEMSG_ERR_INVALID_ARG);   /* over the cache's size */
	assert_int_equal(danemsg_replay_cache_set_sender_max(f->replay, 100), DANEMSG_OK);
	for (int i = 0; i < 1000; i++) {
		danemsg_err e;
		t = make(f, ALICE, AUD, 0, now + 30);
		e = verify(f, NULL, t, now, NULL);
		assert_true(e == DANEMSG_OK || e == DANEMSG_ERR_TOO_LARGE);
		refused += e == DANEMSG_ERR_TOO_LARGE;
		free(t);
	}
	assert_int_equal(refused, 900);
	t = make(f, BOB, AUD, 0, now);
	assert_int_equal(verify(f, NULL, t, now, NULL), DANEMSG_OK);
	free(t);
	/* alice's entries expire at iat + 270: then she logs in again */
	t = make(f, ALICE, AUD, 0, now + 271);
	assert_int_equal(verify(f, NULL, t, now + 301, NULL), DANEMSG_OK);
	free(t);
	t = make(f, CAROL, AUD, 0, now + 30);   /* exp now + 330, last use now + 300 */
	assert_int_equal(verify(f, NULL, t, now + 300, NULL), DANEMSG_ERR_EXPIRED);
	assert_int_equal(verify(f, NULL, t, now + 299, NULL), DANEMSG_OK);
	free(t);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_each_key_type),
		T(test_claims),
		T(test_policy_max_lifetime),
		T(test_signatures),
		T(test_garbage),
		T(test_verify_identity),
		T(test_replay_quota),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

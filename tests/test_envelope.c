/* The message envelope, hermetic: identities in a signed zone validated offline. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <danemsg.h>

#include "jose.h"
#include "testutil.h"

#define ZONE "example.org."
#define NAME(who) who "._device.example.org"

struct fixture {
	char *dir;
	struct tu_zone zone;
	danemsg_resolver *r;
	danemsg_policy *policy;
	danemsg_credential *alice, *bob, *carol, *dave, *frank, *eve;
};

static danemsg_credential *make_identity(struct fixture *f, const char *name,
					 danemsg_keytype type, int publish_digest_only)
{
	danemsg_credential *cred = NULL;
	STACK_OF(X509) *certs = NULL;
	char err[256];
	assert_int_equal(danemsg_credential_new(f->dir, name, type, 30, 0, err, sizeof(err)),
			 DANEMSG_OK);
	assert_int_equal(danemsg_credential_load(f->dir, name, &cred, NULL, 0), DANEMSG_OK);
	if (publish_digest_only < 0)
		return cred;   /* not in DNS at all */
	assert_int_equal(danemsg_credential_published(f->dir, name, &certs, err, sizeof(err)),
			 DANEMSG_OK);
	char owner[300];
	snprintf(owner, sizeof(owner), "%s.", name);
	for (int i = 0; i < sk_X509_num(certs); i++)
		tu_zone_add_tlsa(&f->zone, owner, sk_X509_value(certs, i), 3,
				 publish_digest_only ? 1 : 0, publish_digest_only ? 1 : 0);
	sk_X509_pop_free(certs, X509_free);
	return cred;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	danemsg_resolver_config cfg;
	const char *anchors[2];

	f->dir = tu_tempdir();
	tu_zone_begin(&f->zone, ZONE);
	f->alice = make_identity(f, NAME("alice"), DANEMSG_KEY_P256, 0);
	f->bob = make_identity(f, NAME("bob"), DANEMSG_KEY_ED25519, 0);
	f->carol = make_identity(f, NAME("carol"), DANEMSG_KEY_RSA2048, 0);
	f->dave = make_identity(f, NAME("dave"), DANEMSG_KEY_P256, 0);
	f->frank = make_identity(f, NAME("frank"), DANEMSG_KEY_P256, 1);
	f->eve = make_identity(f, NAME("eve"), DANEMSG_KEY_P256, -1);
	tu_zone_finish(&f->zone, 0);
	danemsg_resolver_config_init(&cfg);
	anchors[0] = f->zone.anchor_file;
	anchors[1] = NULL;
	cfg.root_anchor_file = "";
	cfg.offline_zone_file = f->zone.zone_file;
	cfg.offline_zone = ZONE;
	cfg.trust_anchor_files = anchors;
	assert_int_equal(danemsg_resolver_new(&cfg, &f->r, NULL, 0), DANEMSG_OK);
	assert_int_equal(danemsg_policy_new(&f->policy), DANEMSG_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	danemsg_credential_free(f->alice);
	danemsg_credential_free(f->bob);
	danemsg_credential_free(f->carol);
	danemsg_credential_free(f->dave);
	danemsg_credential_free(f->frank);
	danemsg_credential_free(f->eve);
	danemsg_policy_free(f->policy);
	danemsg_resolver_free(f->r);
	tu_zone_end(&f->zone);
	tu_rmtree(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static char *seal(struct fixture *f, danemsg_credential *from, const char *to, int compat,
		  danemsg_err expect)
{
	danemsg_seal_options o;
	const char *rcpt[] = {to};
	char *out = NULL, err[256] = "";
	size_t len = 0;
	danemsg_seal_options_init(&o);
	o.compat = compat;
	assert_int_equal(danemsg_seal(f->r, from, rcpt, 1, (const uint8_t *)"hello", 5, &o, &out,
				      &len, err, sizeof(err)), expect);
	if (expect == DANEMSG_OK)
		assert_int_equal(strlen(out), len);
	return out;
}

static danemsg_err open_as(struct fixture *f, danemsg_credential *me, const char *in,
			   danemsg_message **out)
{
	const danemsg_credential *keys[] = {me};
	char err[256] = "";
	danemsg_message *m = NULL;
	danemsg_err e = danemsg_open(f->r, keys, 1, f->policy, (const uint8_t *)in, strlen(in),
				     &m, err, sizeof(err));
	if (e)
		assert_true(err[0] != '\0');   /* every refusal says why */
	if (out)
		*out = m;
	else
		danemsg_message_free(m);
	return e;
}

static void round_trip(struct fixture *f, danemsg_credential *from, danemsg_credential *to,
		       int compat, const char *sig_alg, const char *enc_alg)
{
	danemsg_message *m = NULL;
	size_t len;
	char *sealed = seal(f, from, danemsg_credential_name(to), compat, DANEMSG_OK);
	assert_int_equal(open_as(f, to, sealed, &m), DANEMSG_OK);
	assert_memory_equal(danemsg_message_payload(m, &len), "hello", 5);
	assert_int_equal(len, 5);
	assert_non_null(strstr(danemsg_message_from(m), danemsg_credential_name(from)));
	assert_int_equal(danemsg_message_dnssec(m), DANEMSG_DNSSEC_SECURE);
	assert_int_equal(danemsg_message_format(m), compat ? DANEMSG_FORMAT_COMPAT
							   : DANEMSG_FORMAT_NATIVE);
	assert_string_equal(danemsg_message_sig_alg(m), sig_alg);
	assert_string_equal(danemsg_message_enc_alg(m), enc_alg);
	/* The SHA-256 of the certificate that verified: taken from x5t#S256 in a native
	 * message, computed in a compat one; the same digest either way. */
	{
		unsigned char *der = NULL, md[32];
		char hex[65];
		int der_len = i2d_X509(danemsg_credential_sign_cert(from), &der);
		assert_true(der_len > 0);
		assert_non_null(EVP_Q_digest(NULL, "SHA256", NULL, der, (size_t)der_len, md, NULL));
		for (size_t i = 0; i < sizeof(md); i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
		assert_string_equal(danemsg_message_sender_key_sha256(m), hex);
		OPENSSL_free(der);
	}
	if (!compat) {
		assert_true(danemsg_message_iat(m) > 0);
		assert_int_equal(danemsg_message_recipient_count(m), 1);
	}
	/* Opening it again is a replay. */
	assert_int_equal(open_as(f, to, sealed, NULL), DANEMSG_ERR_REPLAYED);
	danemsg_message_free(m);
	free(sealed);
}

static void test_round_trips_every_suite(void **state)
{
	struct fixture *f = *state;
	round_trip(f, f->alice, f->dave, 0, "ES256", "A256GCM");
	round_trip(f, f->alice, f->bob, 0, "ES256", "A256GCM");      /* to X25519 */
	round_trip(f, f->bob, f->alice, 0, "EdDSA", "A256GCM");
	round_trip(f, f->carol, f->alice, 0, "PS256", "A256GCM");
	round_trip(f, f->alice, f->carol, 0, "ES256", "A256GCM");    /* RSA-OAEP-256 */
	assert_int_equal(danemsg_policy_set_accept_compat(f->policy, 1), DANEMSG_OK);
	round_trip(f, f->carol, f->carol, 1, "RS256", "A256CBC-HS512");
}

/* Strict by default: the reference format is refused until the policy accepts it. */
static void test_compat_refused_by_default(void **state)
{
	struct fixture *f = *state;
	char *sealed = seal(f, f->carol, NAME("carol"), 1, DANEMSG_OK);
	assert_int_equal(open_as(f, f->carol, sealed, NULL), DANEMSG_ERR_UNSUPPORTED);
	assert_int_equal(danemsg_policy_set_accept_compat(f->policy, 1), DANEMSG_OK);
	assert_int_equal(open_as(f, f->carol, sealed, NULL), DANEMSG_OK);
	assert_int_equal(danemsg_policy_set_accept_compat(f->policy, 0), DANEMSG_OK);
	free(sealed);
	sealed = seal(f, f->carol, NAME("carol"), 1, DANEMSG_OK);
	assert_int_equal(open_as(f, f->carol, sealed, NULL), DANEMSG_ERR_UNSUPPORTED);
	free(sealed);
}

static void test_several_recipients(void **state)
{
	struct fixture *f = *state;
	const char *to[] = {NAME("bob"), NAME("carol"), NAME("dave")};
	char *out = NULL;
	size_t len;
	danemsg_message *m = NULL;
	assert_int_equal(danemsg_seal(f->r, f->alice, to, 3, (const uint8_t *)"x", 1, NULL, &out,
				      &len, NULL, 0), DANEMSG_OK);
	assert_int_equal(open_as(f, f->bob, out, &m), DANEMSG_OK);
	assert_int_equal(danemsg_message_recipient_count(m), 3);
	danemsg_message_free(m);
	/* Each recipient has its own replay cache in real life: fresh policies here. */
	danemsg_policy_free(f->policy);
	danemsg_policy_new(&f->policy);
	assert_int_equal(open_as(f, f->carol, out, NULL), DANEMSG_OK);
	danemsg_policy_free(f->policy);
	danemsg_policy_new(&f->policy);
	assert_int_equal(open_as(f, f->dave, out, NULL), DANEMSG_OK);
	assert_int_equal(open_as(f, f->alice, out, NULL), DANEMSG_ERR_NOT_FOR_ME);
	free(out);
}

static void test_unknown_recipient_and_sender(void **state)
{
	struct fixture *f = *state;
	assert_null(seal(f, f->alice, NAME("nobody"), 0, DANEMSG_ERR_DNS_NOT_FOUND));
	char *sealed = seal(f, f->eve, NAME("dave"), 0, DANEMSG_OK);   /* eve is not in DNS */
	assert_int_equal(open_as(f, f->dave, sealed, NULL), DANEMSG_ERR_UNKNOWN_SENDER);
	free(sealed);
}

static char *inner_jws(const char *sealed, danemsg_credential *me);

static void test_certificate_carried_when_dns_has_digest(void **state)
{
	struct fixture *f = *state;
	char *sealed = seal(f, f->frank, NAME("dave"), 0, DANEMSG_OK);
	json_t *o = json_loads(sealed, 0, NULL);
	assert_int_equal(open_as(f, f->dave, sealed, NULL), DANEMSG_OK);
	/* The message carried frank's certificate, which his 3 1 1 record matched. */
	char *jws = inner_jws(sealed, f->dave);
	assert_non_null(strstr(jws, "protected"));
	jose_jws parsed;
	assert_int_equal(jose_jws_parse(jws, strlen(jws), NULL, &parsed), DANEMSG_OK);
	assert_non_null(json_object_get(parsed.protected_header, "x5c"));
	jose_jws_clear(&parsed);
	free(jws);
	json_decref(o);
	/* Sealing to frank is impossible: a digest is not a key to encrypt to. */
	assert_null(seal(f, f->alice, NAME("frank"), 0, DANEMSG_ERR_NO_USABLE_RECORD));
	free(sealed);
}

/* Decrypts a message for me and returns its inner JWS text (test-side, with jose). */
static char *inner_jws(const char *sealed, danemsg_credential *me)
{
	jose_jwe jwe;
	uint8_t *pt = NULL;
	size_t len = 0;
	assert_int_equal(jose_jwe_parse(sealed, strlen(sealed), NULL, &jwe), DANEMSG_OK);
	assert_int_equal(jose_jwe_decrypt(&jwe, danemsg_credential_enc_key(me), NULL, NULL, &pt,
					  &len, NULL), DANEMSG_OK);
	jose_jwe_clear(&jwe);
	return (char *)pt;
}

/* Encrypts text to a recipient's encryption key as danemsg does (test-side). */
static char *encrypt_to(const char *text, danemsg_credential *to, jose_enc enc)
{
	jose_recipient r = {danemsg_credential_enc_key(to), JOSE_ALG_UNKNOWN, NULL};
	char *out = NULL;
	size_t len;
	assert_int_equal(jose_jwe_encrypt(&r, 1, enc, NULL, (const uint8_t *)text, strlen(text),
					  NULL, 0, &out, &len), DANEMSG_OK);
	return out;
}

static void test_reencrypted_to_third_party_is_refused(void **state)
{
	struct fixture *f = *state;
	char *sealed = seal(f, f->alice, NAME("bob"), 0, DANEMSG_OK);
	char *jws = inner_jws(sealed, f->bob);          /* bob reads alice's signed message */
	char *forwarded = encrypt_to(jws, f->dave, JOSE_ENC_A256GCM);  /* and passes it on */
	assert_int_equal(open_as(f, f->dave, forwarded, NULL), DANEMSG_ERR_NOT_FOR_ME);
	free(forwarded);
	free(jws);
	free(sealed);
}

/* A native signed message from alice with header h completed (test-side; takes h). */
static char *sign_as_alice(struct fixture *f, json_t *h)
{
	char *out = NULL, x5t[JOSE_THUMBPRINT_SIZE];
	size_t len;
	jose_x5t_s256(danemsg_credential_sign_cert(f->alice), x5t);
	json_object_set_new(h, "typ", json_string("danemsg+jws"));
	json_object_set_new(h, "x5u", json_string("dns://" NAME("alice") "?type=TLSA"));
	json_object_set_new(h, "x5t#S256", json_string(x5t));
	danemsg_err err = jose_jws_sign(danemsg_credential_sign_key(f->alice), JOSE_ALG_UNKNOWN, h,
					(const uint8_t *)"hello", 5, &out, &len);
	json_decref(h);
	return err ? NULL : out;
}

/* A native signed message from alice with chosen claims (test-side). */
static char *signed_by_alice(struct fixture *f, const char *aud, int64_t iat, int64_t exp,
			     const char *alg_override)
{
	json_t *h = json_pack("{s:[s], s:I, s:s}", "aud", aud, "iat", (json_int_t)iat, "jti",
			      "fixed-id-1");
	if (exp)
		json_object_set_new(h, "exp", json_integer(exp));
	if (alg_override)
		json_object_set_new(h, "alg", json_string(alg_override));
	return sign_as_alice(f, h);
}

/* Strings from a message reach files, logs, environment variables and terminals: jti and
 * aud have a strict syntax, refused as malformed otherwise. */
static void test_message_strings_have_a_syntax(void **state)
{
	struct fixture *f = *state;
	char long_id[130];
	static const struct { const char *jti, *aud; danemsg_err expect; } cases[] = {
		{"8815Y8gSkE1iuu0Ie2or8w", "[\"" NAME("dave") "\"]", DANEMSG_OK},
		{"0f8fad5b-d9cb-469f-a165-70867728950e", "\"" NAME("dave") "\"", DANEMSG_OK},
		{NULL, "[\"" NAME("dave") "\"]", DANEMSG_OK},                 /* 128 characters */
		{"", "[\"" NAME("dave") "\"]", DANEMSG_ERR_MALFORMED},
		{"a\nb", "[\"" NAME("dave") "\"]", DANEMSG_ERR_MALFORMED},     /* a new line */
		{"a b", "[\"" NAME("dave") "\"]", DANEMSG_ERR_MALFORMED},       /* a field split */
		{"../../etc/passwd", "[\"" NAME("dave") "\"]", DANEMSG_ERR_MALFORMED},
		{"id%0A", "[\"" NAME("dave") "\"]", DANEMSG_ERR_MALFORMED},
		{"caf\xc3\xa9", "[\"" NAME("dave") "\"]", DANEMSG_ERR_MALFORMED},
		{"\x1b[2J", "[\"" NAME("dave") "\"]", DANEMSG_ERR_MALFORMED},
		{"ok", "[\"" NAME("dave") "\", \"x\\nbank says: hi\"]", DANEMSG_ERR_MALFORMED},
		{"ok", "[\"" NAME("dave") "\", 7]", DANEMSG_ERR_MALFORMED},
		{"ok", "[\"" NAME("dave") "\", \"*.example.org\"]", DANEMSG_ERR_MALFORMED},
		{"ok", "[]", DANEMSG_ERR_MALFORMED},
		{"ok", "[\"" NAME("dave") "\",\"a.\",\"b.\",\"c.\",\"d.\",\"e.\",\"f.\",\"g.\","
		       "\"h.\",\"i.\",\"j.\",\"k.\",\"l.\",\"m.\",\"n.\",\"o.\",\"p.\"]",
		 DANEMSG_ERR_MALFORMED},                                       /* 17 names */
	};
	memset(long_id, 'A', 128);
	long_id[128] = '\0';
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *aud = json_loads(cases[i].aud, JSON_DECODE_ANY, NULL);
		json_t *h = json_pack("{s:o, s:I, s:s}", "aud", aud, "iat",
				      (json_int_t)time(NULL), "jti",
				      cases[i].jti ? cases[i].jti : long_id);
		char *jws = sign_as_alice(f, h);
		char *msg = encrypt_to(jws, f->dave, JOSE_ENC_A256GCM);
		danemsg_message *m = NULL;
		danemsg_replay_ops none = {DANEMSG_REPLAY_OPS_VERSION, NULL, NULL};
		danemsg_policy_set_replay(f->policy, none);
		printf("case %zu\n", i);
		assert_int_equal(open_as(f, f->dave, msg, &m), cases[i].expect);
		if (m)
			assert_string_equal(danemsg_message_id(m),
					    cases[i].jti ? cases[i].jti : long_id);
		danemsg_message_free(m);
		free(msg);
		free(jws);
	}
	long_id[128] = 'A';
	long_id[129] = '\0';
	json_t *h = json_pack("{s:[s], s:I, s:s}", "aud", NAME("dave"), "iat",
			      (json_int_t)time(NULL), "jti", long_id);
	char *jws = sign_as_alice(f, h), *msg = encrypt_to(jws, f->dave, JOSE_ENC_A256GCM);
	assert_int_equal(open_as(f, f->dave, msg, NULL), DANEMSG_ERR_MALFORMED);   /* 129 */
	free(msg);
	free(jws);
}

static void test_freshness(void **state)
{
	struct fixture *f = *state;
	int64_t now = (int64_t)time(NULL);
	struct { int64_t iat, exp; danemsg_err expect; } cases[] = {
		{now - 10, 0, DANEMSG_OK},
		{now - 1000, 0, DANEMSG_ERR_EXPIRED},         /* older than 300 s */
		{now + 1000, 0, DANEMSG_ERR_EXPIRED},         /* from the future */
		{now - 10, now - 5, DANEMSG_ERR_EXPIRED},     /* exp passed */
		{now - 10, now + 60, DANEMSG_OK},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *jws = signed_by_alice(f, NAME("dave"), cases[i].iat, cases[i].exp, NULL);
		char *msg = encrypt_to(jws, f->dave, JOSE_ENC_A256GCM);
		danemsg_replay_ops none = {DANEMSG_REPLAY_OPS_VERSION, NULL, NULL};
		danemsg_policy_set_replay(f->policy, none);   /* same jti on purpose */
		assert_int_equal(open_as(f, f->dave, msg, NULL), cases[i].expect);
		free(msg);
		free(jws);
	}
}

/* The cache keeps the dates of the sender's certificate in DNS, not the certificate: a
 * message is judged by them as of its time of arrival; and the sender's key digest is the
 * certificate's SHA-256. */
static void test_sender_certificate_dates_from_dns(void **state)
{
	struct fixture *f = *state;
	X509 *cert = danemsg_credential_sign_cert(f->alice);
	int64_t not_before = tu_asn1_seconds(X509_get0_notBefore(cert));
	int64_t not_after = tu_asn1_seconds(X509_get0_notAfter(cert));
	const char *msgs[] = {"the sender's certificate has expired",
			      "the sender's certificate is not yet valid"};
	struct { int64_t now; danemsg_err expect; const char *why; } cases[] = {
		{not_before + 10, DANEMSG_OK, NULL},
		{not_after - 10, DANEMSG_OK, NULL},
		{not_after + 10, DANEMSG_ERR_EXPIRED, msgs[0]},
		{not_before - 10, DANEMSG_ERR_EXPIRED, msgs[1]},
	};
	danemsg_replay_ops none = {DANEMSG_REPLAY_OPS_VERSION, NULL, NULL};
	unsigned char *der = NULL, md[32];
	int der_len = i2d_X509(cert, &der);
	char hex[65];

	assert_true(der_len > 0);
	SHA256(der, (size_t)der_len, md);
	OPENSSL_free(der);
	danemsg_hex_encode(md, sizeof(md), hex, sizeof(hex));
	danemsg_policy_set_replay(f->policy, none);   /* same jti on purpose */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *jws = signed_by_alice(f, NAME("dave"), cases[i].now - 5, 0, NULL);
		char *msg = encrypt_to(jws, f->dave, JOSE_ENC_A256GCM);
		const danemsg_credential *keys[] = {f->dave};
		danemsg_message *m = NULL;
		char err[256] = "";
		print_message("case %zu\n", i);
		assert_int_equal(danemsg_open_at(f->r, keys, 1, f->policy, cases[i].now,
						 (const uint8_t *)msg, strlen(msg), &m, err,
						 sizeof(err)), cases[i].expect);
		if (cases[i].why)
			assert_string_equal(err, cases[i].why);
		else
			assert_string_equal(danemsg_message_sender_key_sha256(m), hex);
		danemsg_message_free(m);
		free(msg);
		free(jws);
	}
}

static void test_tampered_fields_are_refused(void **state)
{
	struct fixture *f = *state;
	static const char *fields[] = {"protected", "encrypted_key", "iv", "ciphertext", "tag"};
	/* RSA: has encrypted_key */
	char *sealed = seal(f, f->alice, NAME("carol"), 0, DANEMSG_OK);
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		json_t *o = json_loads(sealed, 0, NULL);
		const char *v = json_string_value(json_object_get(o, fields[i]));
		assert_non_null(v);
		char *t = strdup(v);
		t[strlen(t) / 2] = t[strlen(t) / 2] == 'A' ? 'B' : 'A';
		json_object_set_new(o, fields[i], json_string(t));
		char *bad = json_dumps(o, JSON_COMPACT);
		danemsg_err e = open_as(f, f->carol, bad, NULL);
		assert_true(e == DANEMSG_ERR_DECRYPT || e == DANEMSG_ERR_MALFORMED ||
			    e == DANEMSG_ERR_NOT_FOR_ME);
		free(bad);
		free(t);
		json_decref(o);
	}
	assert_int_equal(open_as(f, f->carol, sealed, NULL), DANEMSG_OK);   /* untouched is fine */
	free(sealed);
}

static void test_tampered_signature_and_payload(void **state)
{
	struct fixture *f = *state;
	static const char *fields[] = {"signature", "payload", "protected"};
	for (size_t i = 0; i < 3; i++) {
		char *jws = signed_by_alice(f, NAME("dave"), (int64_t)time(NULL), 0, NULL);
		json_t *o = json_loads(jws, 0, NULL);
		char *t = strdup(json_string_value(json_object_get(o, fields[i])));
		t[5] = t[5] == 'A' ? 'B' : 'A';
		json_object_set_new(o, fields[i], json_string(t));
		char *bad = json_dumps(o, JSON_COMPACT), *msg = encrypt_to(bad, f->dave,
									    JOSE_ENC_A256GCM);
		danemsg_err e = open_as(f, f->dave, msg, NULL);
		assert_true(e == DANEMSG_ERR_BAD_SIGNATURE || e == DANEMSG_ERR_MALFORMED);
		free(msg);
		free(bad);
		free(t);
		json_decref(o);
		free(jws);
	}
}

static void test_algorithms_pinned(void **state)
{
	struct fixture *f = *state;
	/* none and HMAC never parse as signatures; a JWE inside the JWE is refused. */
	static const char *inner[] = {
		"{\"protected\":\"eyJhbGciOiJub25lIn0\",\"payload\":\"aGk\",\"signature\":\"\"}",
		"{\"protected\":\"eyJhbGciOiJIUzI1NiJ9\",\"payload\":\"aGk\","
		"\"signature\":\"AAAA\"}",
	};
	for (size_t i = 0; i < 2; i++) {
		char *msg = encrypt_to(inner[i], f->dave, JOSE_ENC_A256GCM);
		assert_int_equal(open_as(f, f->dave, msg, NULL), DANEMSG_ERR_ALGORITHM);
		free(msg);
	}
	char *sealed = seal(f, f->alice, NAME("dave"), 0, DANEMSG_OK);
	char *nested = encrypt_to(sealed, f->dave, JOSE_ENC_A256GCM);
	assert_int_equal(open_as(f, f->dave, nested, NULL), DANEMSG_ERR_MALFORMED);
	free(nested);
	free(sealed);
	/* Native messages must use A256GCM; compat ones RS256. */
	char *jws = signed_by_alice(f, NAME("dave"), (int64_t)time(NULL), 0, NULL);
	char *cbc = encrypt_to(jws, f->dave, JOSE_ENC_A256CBC_HS512);
	assert_int_equal(open_as(f, f->dave, cbc, NULL), DANEMSG_ERR_ALGORITHM);
	free(cbc);
	free(jws);
}

/* The reference format is RS256 only: PS256 (or anything else) without the native typ is
 * refused, accepted compat or not. */
static void test_compat_is_rs256_only(void **state)
{
	struct fixture *f = *state;
	static const char *const algs[] = {"PS256", "RS256"};
	static const jose_alg alg_ids[] = {JOSE_ALG_PS256, JOSE_ALG_RS256};
	static const danemsg_err expect[] = {DANEMSG_ERR_ALGORITHM, DANEMSG_OK};
	assert_int_equal(danemsg_policy_set_accept_compat(f->policy, 1), DANEMSG_OK);
	for (size_t i = 0; i < 2; i++) {
		json_t *h = json_pack("{s:s, s:s}", "alg", algs[i], "x5u",
				      "dns://" NAME("carol") "?type=TLSA");
		char *jws = NULL, *msg;
		size_t len;
		assert_int_equal(jose_jws_sign(danemsg_credential_sign_key(f->carol),
					       alg_ids[i], h, (const uint8_t *)algs[i], 5,
					       &jws, &len), DANEMSG_OK);
		msg = encrypt_to(jws, f->alice, JOSE_ENC_A256CBC_HS512);
		assert_int_equal(open_as(f, f->alice, msg, NULL), expect[i]);
		free(msg);
		free(jws);
		json_decref(h);
	}
}

static void test_compat_needs_rsa(void **state)
{
	struct fixture *f = *state;
	assert_null(seal(f, f->alice, NAME("carol"), 1, DANEMSG_ERR_ALGORITHM));
	assert_null(seal(f, f->carol, NAME("alice"), 1, DANEMSG_ERR_NO_USABLE_RECORD));
}

static void test_sender_not_allowed_before_any_dns(void **state)
{
	struct fixture *f = *state;
	danemsg_cache_stats before, after;
	char *sealed = seal(f, f->alice, NAME("dave"), 0, DANEMSG_OK);
	assert_int_equal(danemsg_policy_allow_sender(f->policy, "*.other.example"), DANEMSG_OK);
	danemsg_cache_stats_init(&before);
	danemsg_resolver_cache_stats(f->r, &before);
	assert_int_equal(open_as(f, f->dave, sealed, NULL), DANEMSG_ERR_SENDER_NOT_ALLOWED);
	danemsg_cache_stats_init(&after);
	danemsg_resolver_cache_stats(f->r, &after);
	assert_int_equal(after.hits + after.misses, before.hits + before.misses);
	assert_int_equal(danemsg_policy_allow_sender(f->policy, "*._device.example.org"),
			 DANEMSG_OK);
	assert_int_equal(open_as(f, f->dave, sealed, NULL), DANEMSG_OK);
	free(sealed);
}

static void test_size_and_truncation(void **state)
{
	struct fixture *f = *state;
	char *sealed = seal(f, f->alice, NAME("dave"), 0, DANEMSG_OK);
	size_t len = strlen(sealed);
	assert_int_equal(danemsg_policy_set_max_size(f->policy, len - 1), DANEMSG_OK);
	assert_int_equal(open_as(f, f->dave, sealed, NULL), DANEMSG_ERR_TOO_LARGE);
	assert_int_equal(danemsg_policy_set_max_size(f->policy, 1 << 20), DANEMSG_OK);
	for (size_t cut = 0; cut < len; cut += 37) {
		char *t = strndup(sealed, cut);
		assert_int_not_equal(open_as(f, f->dave, t, NULL), DANEMSG_OK);
		free(t);
	}
	free(sealed);
}

static void test_replay_cache_bound_refuses_forgotten(void **state)
{
	danemsg_replay_cache *c = NULL;
	int64_t now = 1000000;
	assert_int_equal(danemsg_replay_cache_new(2, &c), DANEMSG_OK);
	danemsg_replay_ops ops = danemsg_replay_cache_ops(c);
	assert_int_equal(ops.check_and_add(ops.ctx, "a.", "1", now + 10, now), DANEMSG_OK);
	assert_int_equal(ops.check_and_add(ops.ctx, "a.", "2", now + 20, now), DANEMSG_OK);
	assert_int_equal(ops.check_and_add(ops.ctx, "a.", "1", now + 10, now),
			 DANEMSG_ERR_REPLAYED);
	assert_int_equal(ops.check_and_add(ops.ctx, "a.", "3", now + 30, now), DANEMSG_OK);
	/* "1" was dropped to make room: it must not come back. */
	assert_int_equal(ops.check_and_add(ops.ctx, "a.", "1", now + 10, now),
			 DANEMSG_ERR_REPLAYED);
	assert_int_equal(danemsg_replay_cache_count(c), 2);
	danemsg_replay_cache_free(c);

	/* A large cache grows as it fills, and still finds every id. */
	assert_int_equal(danemsg_replay_cache_new(20000, &c), DANEMSG_OK);
	ops = danemsg_replay_cache_ops(c);
	char id[32];
	for (int i = 0; i < 20000; i++) {
		snprintf(id, sizeof(id), "id%d", i);
		assert_int_equal(ops.check_and_add(ops.ctx, "b.", id, now + 100, now), DANEMSG_OK);
	}
	for (int i = 0; i < 20000; i += 7) {
		snprintf(id, sizeof(id), "id%d", i);
		assert_int_equal(ops.check_and_add(ops.ctx, "b.", id, now + 100, now),
				 DANEMSG_ERR_REPLAYED);
	}
	assert_int_equal(danemsg_replay_cache_count(c), 20000);
	danemsg_replay_cache_free(c);
	(void)state;
}

static void test_replay_cache_survives_save_and_load(void **state)
{
	struct fixture *f = *state;
	danemsg_replay_cache *c = NULL, *d = NULL;
	char path[512];
	int64_t now = (int64_t)time(NULL);
	snprintf(path, sizeof(path), "%s/replay", f->dir);
	danemsg_replay_cache_new(10, &c);
	danemsg_replay_ops ops = danemsg_replay_cache_ops(c);
	assert_int_equal(ops.check_and_add(ops.ctx, "a.", "id1", now + 100, now), DANEMSG_OK);
	assert_int_equal(danemsg_replay_cache_save(c, path, NULL, 0), DANEMSG_OK);
	danemsg_replay_cache_new(10, &d);
	assert_int_equal(danemsg_replay_cache_load(d, path, NULL, NULL, 0), DANEMSG_OK);
	ops = danemsg_replay_cache_ops(d);
	assert_int_equal(ops.check_and_add(ops.ctx, "a.", "id1", now + 100, now),
			 DANEMSG_ERR_REPLAYED);
	danemsg_replay_cache_free(c);
	danemsg_replay_cache_free(d);
}

static void write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
}

/* Any id round-trips (records are length-prefixed); the file is 0600 and written through
 * no planted link. */
static void test_replay_file_keeps_any_id(void **state)
{
	struct fixture *f = *state;
	static const char *ids[] = {"plain", "new\nline", "two  spaces", "100%", "\r\x1b[2J",
				    "\nfloor 99999999999"};
	danemsg_replay_cache *c = NULL, *d = NULL;
	char path[512], tmp[600], target[600];
	int64_t now = (int64_t)time(NULL);
	struct stat st;
	size_t line = 99;
	char err[1024];

	snprintf(path, sizeof(path), "%s/replay", f->dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	snprintf(target, sizeof(target), "%s/victim", f->dir);
	write_file(target, "keep", 4);
	assert_int_equal(symlink(target, tmp), 0);   /* planted: must not be followed */
	danemsg_replay_cache_new(10, &c);
	danemsg_replay_ops ops = danemsg_replay_cache_ops(c);
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		assert_int_equal(ops.check_and_add(ops.ctx, "a.", ids[i], now + 100, now),
				 DANEMSG_OK);
	assert_int_equal(danemsg_replay_cache_save(c, path, NULL, 0), DANEMSG_OK);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(target, &st), 0);
	assert_int_equal(st.st_size, 4);
	danemsg_replay_cache_new(10, &d);
	assert_int_equal(danemsg_replay_cache_load(d, path, &line, NULL, 0), DANEMSG_OK);
	assert_int_equal(line, 0);
	assert_int_equal(danemsg_replay_cache_count(d), sizeof(ids) / sizeof(ids[0]));
	ops = danemsg_replay_cache_ops(d);
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		assert_int_equal(ops.check_and_add(ops.ctx, "a.", ids[i], now + 100, now),
				 DANEMSG_ERR_REPLAYED);
	danemsg_replay_cache_free(c);
	danemsg_replay_cache_free(d);
	unlink(path);   /* a link in its place is refused, not read */
	assert_int_equal(symlink(target, path), 0);
	danemsg_replay_cache_new(10, &d);
	assert_int_equal(danemsg_replay_cache_load(d, path, NULL, err, sizeof(err)),
			 DANEMSG_ERR_IO);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "symbolic link"));
	danemsg_replay_cache_free(d);
}

/* The file I/O says which file and why: the step that failed and the system's reason. */
static void test_replay_file_errors_name_the_file(void **state)
{
	struct fixture *f = *state;
	danemsg_replay_cache *c = NULL;
	char path[512], err[1024];

	danemsg_replay_cache_new(10, &c);
	snprintf(path, sizeof(path), "%s/no-such-folder/replay", f->dir);
	assert_int_equal(danemsg_replay_cache_save(c, path, err, sizeof(err)), DANEMSG_ERR_IO);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "cannot create"));
	assert_non_null(strstr(err, strerror(ENOENT)));
	assert_int_equal(danemsg_replay_cache_load(c, f->dir, NULL, err, sizeof(err)),
			 DANEMSG_ERR_IO);
	assert_non_null(strstr(err, f->dir));
	assert_non_null(strstr(err, "not a regular file"));
	snprintf(err, sizeof(err), "stale");   /* no file: a first start, and no message */
	assert_int_equal(danemsg_replay_cache_load(c, path, NULL, err, sizeof(err)), DANEMSG_OK);
	assert_string_equal(err, "");
	danemsg_replay_cache_free(c);
}

/* Replay operations of a layout the library does not know are refused, never read. */
static void test_replay_ops_version_checked(void **state)
{
	danemsg_policy *p = NULL;
	danemsg_replay_cache *c = NULL;
	danemsg_replay_ops ops;
	(void)state;
	assert_int_equal(danemsg_policy_new(&p), DANEMSG_OK);
	danemsg_replay_cache_new(10, &c);
	ops = danemsg_replay_cache_ops(c);
	assert_int_equal(ops.version, DANEMSG_REPLAY_OPS_VERSION);
	assert_int_equal(danemsg_policy_set_replay(p, ops), DANEMSG_OK);
	for (int version = -1; version <= DANEMSG_REPLAY_OPS_VERSION + 1; version++) {
		ops.version = version;
		assert_int_equal(danemsg_policy_set_replay(p, ops),
				 version == DANEMSG_REPLAY_OPS_VERSION ? DANEMSG_OK
								       : DANEMSG_ERR_UNSUPPORTED);
	}
	danemsg_policy_free(p);
	danemsg_replay_cache_free(c);
}

/* A file that does not load is an error naming its line, never half a cache. */
static void test_replay_file_damage_is_an_error(void **state)
{
	struct fixture *f = *state;
	static const struct { const char *text; danemsg_err expect; size_t line; } cases[] = {
		{"", DANEMSG_OK, 0},
		{"danemsg-replay 2\nfloor 5\n4000000000 6 a. id1\n", DANEMSG_OK, 0},
		{"floor 5\n4000000000 a. id1\n", DANEMSG_OK, 0},                    /* version 1 */
		/* version 1 with a jti that held a new line: the damage the old format allowed */
		{"floor 5\n4000000000 a. id1\nrest\n4000000000 a. id2\n", DANEMSG_ERR_MALFORMED, 3},
		{"floor 5\n4000000000 a. i\rd\n", DANEMSG_ERR_MALFORMED, 2},
		{"danemsg-replay 2\n4000000000 6 a. id1", DANEMSG_ERR_MALFORMED, 2},   /* torn */
		{"danemsg-replay 2\n4000000000 9 a. id1\n", DANEMSG_ERR_MALFORMED, 2},
		{"danemsg-replay 2\n4000000000 5 a. id1\n", DANEMSG_ERR_MALFORMED, 2},
		{"danemsg-replay 2\n4000000000 6 a.xid1\n", DANEMSG_ERR_MALFORMED, 2},
		{"danemsg-replay 2\n-4 6 a. id1\n", DANEMSG_ERR_MALFORMED, 2},
		{"danemsg-replay 2\n4000000000 6 a. id1\nfloor x\n", DANEMSG_ERR_MALFORMED, 3},
		{"danemsg-replay 2\n99999999999999999999 6 a. id1\n", DANEMSG_ERR_MALFORMED, 2},
		{"danemsg-replay 2\n4000000000 99999999999999999999 a. id1\n",
		 DANEMSG_ERR_MALFORMED, 2},
		{"danemsg-replay 3\n", DANEMSG_ERR_MALFORMED, 1},
	};
	char path[512];
	snprintf(path, sizeof(path), "%s/replay", f->dir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		danemsg_replay_cache *c = NULL;
		size_t line = 99;
		char err[1024], where[600];
		printf("case %zu\n", i);
		write_file(path, cases[i].text, strlen(cases[i].text));
		danemsg_replay_cache_new(10, &c);
		assert_int_equal(danemsg_replay_cache_load(c, path, &line, err, sizeof(err)),
				 cases[i].expect);
		assert_int_equal(line, cases[i].line);
		snprintf(where, sizeof(where), "%s: line %zu: ", path, cases[i].line);
		if (cases[i].expect)
			assert_non_null(strstr(err, where));
		danemsg_replay_cache_free(c);
	}
}

static void test_locators(void **state)
{
	static const struct { const char *in; const char *out; } good[] = {
		{"dns://alice._device.example.net?type=TLSA", "alice._device.example.net."},
		{"dns:alice._device.example.net?type=TLSA", "alice._device.example.net."},
		{"dns://192.0.2.1/Alice.Example.NET?type=TLSA", "alice.example.net."},
		{"dns:bob.example.", "bob.example."},
	};
	static const char *bad[] = {"", "dns:", "https://x.example/", "dns://a.example?type=A",
		"dns:a%2e.example", "dns://x/", "dns:a..b", "DNS", "dns:a b"};
	char name[300];
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(danemsg_locator_parse(good[i].in, strlen(good[i].in), name,
						       sizeof(name)), DANEMSG_OK);
		assert_string_equal(name, good[i].out);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(danemsg_locator_parse(bad[i], strlen(bad[i]), name, sizeof(name)),
				 DANEMSG_ERR_MALFORMED);
	assert_int_equal(danemsg_locator_format("a.example.", name, sizeof(name)), DANEMSG_OK);
	assert_string_equal(name, "dns://a.example?type=TLSA");
	assert_int_equal(danemsg_locator_format("a.example", name, 5),
			 DANEMSG_ERR_BUFFER_TOO_SMALL);
	(void)state;
}

/* Seal options across versions of the headers (danemsg/error.h): a program built with
 * newer ones may leave the fields this library does not know unset, never set them; one
 * that never initialised its options is refused. */
static void test_seal_options_struct_size(void **state)
{
	struct fixture *f = *state;
	struct {
		danemsg_seal_options v1;
		uint64_t added;
	} newer;
	const char *to[] = {NAME("dave")};
	char *out = NULL, err[256];
	size_t len;

	memset(&newer, 0, sizeof(newer));
	danemsg_seal_options_init(&newer.v1);
	newer.v1.struct_size = sizeof(newer);
	assert_int_equal(danemsg_seal(f->r, f->alice, to, 1, (const uint8_t *)"x", 1, &newer.v1,
				      &out, &len, err, sizeof(err)), DANEMSG_OK);
	free(out);
	newer.added = 1;
	assert_int_equal(danemsg_seal(f->r, f->alice, to, 1, (const uint8_t *)"x", 1, &newer.v1,
				      &out, &len, err, sizeof(err)), DANEMSG_ERR_UNSUPPORTED);
	assert_non_null(strstr(err, "danemsg_seal_options"));
	newer.v1.struct_size = 0;
	assert_int_equal(danemsg_seal(f->r, f->alice, to, 1, (const uint8_t *)"x", 1, &newer.v1,
				      &out, &len, err, sizeof(err)), DANEMSG_ERR_INVALID_ARG);
	assert_null(out);
}

static void test_error_paths(void **state)
{
	struct fixture *f = *state;
	const char *to[] = {NAME("dave")};
	const danemsg_credential *keys[] = {f->dave};
	danemsg_message *m = NULL;
	char *out = NULL;
	size_t len;
	assert_int_equal(danemsg_seal(NULL, f->alice, to, 1, (const uint8_t *)"x", 1, NULL, &out,
				      &len, NULL, 0), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_seal(f->r, NULL, to, 1, (const uint8_t *)"x", 1, NULL, &out,
				      &len, NULL, 0), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_seal(f->r, f->alice, NULL, 1, (const uint8_t *)"x", 1, NULL, &out,
				      &len, NULL, 0), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_seal(f->r, f->alice, to, 0, (const uint8_t *)"x", 1, NULL, &out,
				      &len, NULL, 0), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_seal(f->r, f->alice, to, 1, NULL, 1, NULL, &out, &len, NULL, 0),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_seal(f->r, f->alice, to, 1, (const uint8_t *)"x", 1, NULL, NULL,
				      &len, NULL, 0), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_open(NULL, keys, 1, f->policy, (const uint8_t *)"{}", 2, &m,
				      NULL, 0), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_open(f->r, NULL, 1, f->policy, (const uint8_t *)"{}", 2, &m,
				      NULL, 0), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_open(f->r, keys, 0, f->policy, (const uint8_t *)"{}", 2, &m,
				      NULL, 0), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_open(f->r, keys, 1, NULL, (const uint8_t *)"{}", 2, &m, NULL, 0),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_open(f->r, keys, 1, f->policy, NULL, 2, &m, NULL, 0),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_open(f->r, keys, 1, f->policy, (const uint8_t *)"{}", 2, NULL,
				      NULL, 0), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_policy_allow_sender(f->policy, "a*.example"),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_policy_set_max_size(f->policy, 0), DANEMSG_ERR_INVALID_ARG);
	assert_null(danemsg_message_from(NULL));
	danemsg_message_free(NULL);
	danemsg_policy_free(NULL);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_round_trips_every_suite),
		T(test_compat_needs_rsa),
		T(test_compat_refused_by_default),
		T(test_compat_is_rs256_only),
		T(test_several_recipients),
		T(test_unknown_recipient_and_sender),
		T(test_certificate_carried_when_dns_has_digest),
		T(test_reencrypted_to_third_party_is_refused),
		T(test_freshness),
		T(test_sender_certificate_dates_from_dns),
		T(test_message_strings_have_a_syntax),
		T(test_tampered_fields_are_refused),
		T(test_tampered_signature_and_payload),
		T(test_algorithms_pinned),
		T(test_sender_not_allowed_before_any_dns),
		T(test_size_and_truncation),
		cmocka_unit_test(test_replay_cache_bound_refuses_forgotten),
		T(test_replay_cache_survives_save_and_load),
		T(test_replay_file_keeps_any_id),
		T(test_replay_file_damage_is_an_error),
		T(test_replay_file_errors_name_the_file),
		cmocka_unit_test(test_replay_ops_version_checked),
		cmocka_unit_test(test_locators),
		T(test_seal_options_struct_size),
		T(test_error_paths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

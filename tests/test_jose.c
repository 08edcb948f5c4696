/*
 * The JOSE layer: base64url, JWS, JWE, JWK. Round trips for every algorithm and key type,
 * the three serializations, published test vectors (RFC 7515 A.3, RFC 7520 4.1, RFC 8037
 * A.3/A.4, RFC 7638 3.1), every field tampered, refused algorithms and headers, bounds,
 * and an error-path test per argument. Keys are made here with OpenSSL.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "jose.h"
#include "testutil.h"

/* ---- published vectors ---- */

/* RFC 7515 appendix A.3 (ES256). */
#define A3_X "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
#define A3_Y "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
#define A3_JWS                                                                                 \
	"eyJhbGciOiJFUzI1NiJ9"                                                                 \
	".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19y" \
	"b290Ijp0cnVlfQ"                                                                       \
	".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"

/* RFC 8037 appendix A (Ed25519 key, A.3 thumbprint, A.4 signature). */
#define A4_D "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
#define A4_X "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
#define A4_THUMBPRINT "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
#define A4_PAYLOAD "Example of Ed25519 signing"
#define A4_SIG                                                                                 \
	"hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
#define A4_JWS "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc." A4_SIG

/* RFC 7520 3.3 (RSA key), 4.1 (RS256), 4.2 (PS384), 4.4 (HS256). */
#define R20_N                                                                                  \
	"n4EPtAOCc9AlkeQHPzHStgAbgs7bTZLwUBZdR8_KuKPEHLd4rHVTeT-O-XV2jRojdNhxJWTDvNd7nqQ0VEiZQHz_" \
	"AJmSCpMaJMRBSFKrKb2wqVwGU_NsYOYL-QtiWN2lbzcEe6XC0dApr5ydQLrHqkHHig3RBordaZ6Aj-oBHqFEHYp" \
	"Pe7Tpe-OfVfHd1E6cS6M1FZcD1NNLYD5lFHpPI9bTwJlsde3uhGqC0ZCuEHg8lhzwOHrtIQbS0FVbb9k3-tVTU4" \
	"fg_3L_vniUFAKwuCLqKnS2BYwdq_mzSnbLY7h_qixoR7jig3__kRhuaxwUkRz5iaiQkqgc5gHdrNP5zw"
#define R20_PAYLOAD                                                                            \
	"SXTigJlzIGEgZGFuZ2Vyb3VzIGJ1c2luZXNzLCBGcm9kbywgZ29pbmcgb3V0IHlvdXIgZG9vci4gWW91IHN0ZXAg" \
	"b250byB0aGUgcm9hZCwgYW5kIGlmIHlvdSBkb24ndCBrZWVwIHlvdXIgZmVldCwgdGhlcmXigJlzIG5vIGtub3dp" \
	"bmcgd2hlcmUgeW91IG1pZ2h0IGJlIHN3ZXB0IG9mZiB0by4"
#define R20_41_PROTECTED                                                                       \
	"eyJhbGciOiJSUzI1NiIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9"
#define R20_41_SIG                                                                             \
	"MRjdkly7_-oTPTS3AXP41iQIGKa80A0ZmTuV5MEaHoxnW2e5CZ5NlKtainoFmKZopdHM1O2U4mwzJdQx996ivp83" \
	"xuglII7PNDi84wnB-BDkoBwA78185hX-Es4JIwmDLJK3lfWRa-XtL0RnltuYv746iYTh_qHRD68BNt1uSNCrUCTJ" \
	"Dt5aAE6x8wW1Kt9eRo4QPocSadnHXFxnt8Is9UzpERV0ePPQdLuW3IS_de3xyIrDaLGdjluPxUAhb6L2aXic1U12" \
	"podGU0KLUQSE_oI-ZnmKJ3F4uOZDnd6QZWJushZ41Axf_fcIe8u9ipH84ogoree7vjbU5y18kDquDg"
#define R20_42_JWS                                                                             \
	"eyJhbGciOiJQUzM4NCIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9." R20_PAYLOAD    \
	".cu22eBqkYDKgIlTpzDXGvaFfz6WGoz7fUDcfT0kkOy42miAh2qyBzk1xEsnk2IpN6-tPid6VrklHkqsGqDqH" \
	"CdP6O8TTB5dDDItllVo6_1OLPpcbUrhiUSMxbbXUvdvWXzg-UD8biiReQFlfz28zGWVsdiNAUf8ZnyPEgVF" \
	"n442ZdNqiVJRmBqrYRXe8P_ijQ7p8Vdz0TTrxUeT3lm8d9shnr2lfJT8ImUjvAA2Xez2Mlp8cBE5awDzT0qI" \
	"0n6uiP1aCN_2_jLAeQTlqRHtfa64QQSUmFAAjVKPbByi7xho0uTOcbH510a6GYmJUAfmWjwZ6oD4ifKo8DYM" \
	"-X72Eaw"
#define R20_44_JWS                                                                             \
	"eyJhbGciOiJIUzI1NiIsImtpZCI6IjAxOGMwYWU1LTRkOWItNDcxYi1iZmQ2LWVlZjMxNGJjNzAzNyJ9."       \
	R20_PAYLOAD ".s0h6KThzkfBBBkLspW1h84VsJZFTsPPqMDA7g1Md7p0"

/* RFC 7638 3.1 (RSA key and its thumbprint). */
#define R38_N                                                                                  \
	"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_B" \
	"JECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_F" \
	"DW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4" \
	"vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
#define R38_THUMBPRINT "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"

/* The IETF JOSE cookbook's X25519 example (alg ECDH-ES, enc A128GCM: both not ours). */
#define COOKBOOK_X25519_ECDH_ES                                                                \
	"eyJhbGciOiJFQ0RILUVTIiwia2lkIjoiQm9iIiwiZXBrIjp7Imt0eSI6Ik9LUCIsImNydiI6IlgyNTUxOSIsIngi" \
	"OiJ4dlhIaDNRMlM0Vm90WGdCZGRHV0RfS2huellaX2V1QjJlYWVrTHZ2QURVIn0sImVuYyI6IkExMjhHQ00ifQ.." \
	"0tCoBvRfolezYjpJ.cX3qZ4cfxiyr_Leem1b69MeLo-BHsMJy6RetGse91pgXjR7X87k1e7dJliYfzgseM" \
	"V9dcVo3i1cAPeU2jkDCxrjxIBW0iUlF3JfkVH7DU3B8GxzkblOJKwJE58Sd0rJEN9rSwfLf66sbTiY" \
	"_vGYf7cZhbWhj6ww"                                                                     \
	"BnICFfaRh_2NubCdma7zX_vsdaGJXHn-6-jjR9UaQUbJD-tPn5UAW8Sa9lPAcncYZywscUM-FET3tePOH2h_xv_L" \
	"FGuN2KYJ3BED_Eyo--oSX17DD7ksSt0wfzy_TWczaG1E_TWn4nvP6T6d5nMp9OdfLWQNopQHoQGWlPbaRLHCk2mN" \
	"l1K5GsJ6Q4tjSdFWpqRDpQUz2eYAk.Yd4jUyp_PC5cACOwaAGwUQ"

/* ---- fixtures ---- */

static struct {
	EVP_PKEY *p256, *p256b, *ed25519, *ed25519b, *x25519, *x25519b, *rsa, *rsab, *rsa1024,
		 *p384;
} K;

static int setup(void **state)
{
	(void)state;
	K.p256 = tu_key("P-256");
	K.p256b = tu_key("P-256");
	K.ed25519 = tu_key("ED25519");
	K.ed25519b = tu_key("ED25519");
	K.x25519 = tu_key("X25519");
	K.x25519b = tu_key("X25519");
	K.rsa = tu_key("RSA2048");
	K.rsab = tu_key("RSA2048");
	K.rsa1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	K.p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	return K.rsa1024 && K.p384 ? 0 : -1;
}

static int teardown(void **state)
{
	EVP_PKEY **all = (EVP_PKEY **)&K;

	(void)state;
	for (size_t i = 0; i < sizeof(K) / sizeof(EVP_PKEY *); i++)
		EVP_PKEY_free(all[i]);
	return 0;
}

/* ---- helpers ---- */

static char *b64(const void *p, size_t n)
{
	char *out = NULL;

	assert_int_equal(jose_b64url_encode_alloc(p, n, &out, NULL), DANEMSG_OK);
	return out;
}

static char *b64s(const char *s)
{
	return b64(s, strlen(s));
}

static json_t *load(const char *text)
{
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, NULL);

	assert_non_null(j);
	return j;
}

static char *dump_free(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);

	assert_non_null(s);
	json_decref(j);
	return s;
}

static char *cat3(const char *a, const char *sep, const char *b)
{
	size_t n = strlen(a) + strlen(sep) + strlen(b) + 1;
	char *s = malloc(n);

	assert_non_null(s);
	snprintf(s, n, "%s%s%s", a, sep, b);
	return s;
}

/* Changes the first character of a base64url string in place (stays valid base64url). */
static void flip_string(json_t *obj, const char *member)
{
	const char *v = json_string_value(json_object_get(obj, member));
	char *copy;

	assert_non_null(v);
	assert_true(strlen(v) >= 2);
	copy = strdup(v);
	copy[0] = copy[0] == 'A' ? 'B' : 'A';
	json_object_set_new(obj, member, json_string(copy));
	free(copy);
}

static char *flip_member(const char *text, const char *member)
{
	json_t *j = load(text);

	flip_string(j, member);
	return dump_free(j);
}

static char *set_member(const char *text, const char *member, const char *value)
{
	json_t *j = load(text);

	json_object_set_new(j, member, json_string(value));
	return dump_free(j);
}

/* text with its protected header replaced by header (JSON text), base64url-encoded. */
static char *set_protected(const char *text, const char *header)
{
	char *h = b64s(header), *out = set_member(text, "protected", h);

	free(h);
	return out;
}

/* The decoded protected header of a JSON serialization, as a new object. */
static json_t *protected_of(const char *text)
{
	json_t *j = load(text), *h;
	const char *p = json_string_value(json_object_get(j, "protected"));
	uint8_t *raw = NULL;
	size_t n = 0;

	assert_non_null(p);
	assert_int_equal(jose_b64url_decode_alloc(p, strlen(p), &raw, &n), DANEMSG_OK);
	h = json_loadb((const char *)raw, n, JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(h);
	free(raw);
	json_decref(j);
	return h;
}

static int has_members(const char *text, const char *const *names)
{
	json_t *j = load(text);
	size_t n = 0;
	int ok = 1;

	for (; names[n]; n++)
		ok &= json_object_get(j, names[n]) != NULL;
	ok &= json_object_size(j) == n;
	json_decref(j);
	return ok;
}

/* A compact JWS with any header, payload "hi" and a zero signature of sig_len bytes. */
static char *fake_jws(const char *header, size_t sig_len)
{
	uint8_t sig[512] = { 0 };
	char *h = b64s(header), *s = b64(sig, sig_len), *hp = cat3(h, ".", "aGk"),
	     *out = cat3(hp, ".", s);

	free(h);
	free(s);
	free(hp);
	return out;
}

static char *sign(EVP_PKEY *key, jose_alg alg, const char *header, const char *payload)
{
	json_t *h = header ? load(header) : NULL;
	char *out = NULL;
	size_t len = 0;

	assert_int_equal(jose_jws_sign(key, alg, h, (const uint8_t *)payload, strlen(payload),
				       &out, &len),
			 DANEMSG_OK);
	assert_int_equal(strlen(out), len);
	json_decref(h);
	return out;
}

static danemsg_err jws_check(const char *text, EVP_PKEY *key, const char *const *understood)
{
	jose_jws jws;
	danemsg_err err = jose_jws_parse(text, strlen(text), understood, &jws);

	if (err == DANEMSG_OK)
		err = jose_jws_verify(&jws, key);
	jose_jws_clear(&jws);
	return err;
}

static char *encrypt_to(EVP_PKEY *key, jose_enc enc, const char *header, const char *pt)
{
	jose_recipient r = { key, JOSE_ALG_UNKNOWN, NULL };
	json_t *h = header ? load(header) : NULL;
	char *out = NULL;
	size_t len = 0;

	assert_int_equal(jose_jwe_encrypt(&r, 1, enc, h, (const uint8_t *)pt, strlen(pt), NULL, 0,
					  &out, &len),
			 DANEMSG_OK);
	assert_int_equal(strlen(out), len);
	json_decref(h);
	return out;
}

/* Parses and decrypts; on success the plaintext must be expect (when given). */
static danemsg_err jwe_check_full(const char *text, EVP_PKEY *key, jose_recipient_pred pred,
				  void *arg, const char *expect, size_t *index)
{
	jose_jwe jwe;
	uint8_t *pt = NULL;
	size_t pt_len = 0;
	danemsg_err err = jose_jwe_parse(text, strlen(text), NULL, &jwe);

	if (err == DANEMSG_OK)
		err = jose_jwe_decrypt(&jwe, key, pred, arg, &pt, &pt_len, index);
	if (err == DANEMSG_OK && expect) {
		assert_int_equal(pt_len, strlen(expect));
		assert_memory_equal(pt, expect, pt_len);
	}
	if (err != DANEMSG_OK)
		assert_null(pt);
	free(pt);
	jose_jwe_clear(&jwe);
	return err;
}

static danemsg_err jwe_check(const char *text, EVP_PKEY *key, const char *expect)
{
	return jwe_check_full(text, key, NULL, NULL, expect, NULL);
}

static char *jws_compact(const char *flat)
{
	json_t *j = load(flat);
	char *a = cat3(json_string_value(json_object_get(j, "protected")), ".",
		       json_string_value(json_object_get(j, "payload")));
	char *out = cat3(a, ".", json_string_value(json_object_get(j, "signature")));

	free(a);
	json_decref(j);
	return out;
}

static char *jws_general(const char *flat, int copies)
{
	json_t *j = load(flat), *g = json_object(), *sigs = json_array();

	for (int i = 0; i < copies; i++)
		json_array_append_new(sigs, json_pack("{s:O,s:O}", "protected",
						      json_object_get(j, "protected"), "signature",
						      json_object_get(j, "signature")));
	json_object_set(g, "payload", json_object_get(j, "payload"));
	json_object_set_new(g, "signatures", sigs);
	json_decref(j);
	return dump_free(g);
}

static char *jwe_compact(const char *flat)
{
	static const char *const parts[] = { "protected", "encrypted_key", "iv", "ciphertext",
					     "tag" };
	json_t *j = load(flat);
	char *out = strdup("");

	for (size_t i = 0; i < 5; i++) {
		char *next = cat3(out, i ? "." : "",
				  json_string_value(json_object_get(j, parts[i])));

		free(out);
		out = next;
	}
	json_decref(j);
	return out;
}

static char *jwe_general(const char *flat)
{
	json_t *j = load(flat), *entry = json_object();

	json_object_set(entry, "encrypted_key", json_object_get(j, "encrypted_key"));
	json_object_del(j, "encrypted_key");
	json_object_set_new(j, "recipients", json_pack("[o]", entry));
	return dump_free(j);
}

/* ---- base64url ---- */

static void test_b64url_encode_table(void **state)
{
	static const struct {
		const char *in, *out;
	} t[] = {
		{ "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" }, { "foob", "Zm9vYg" },
		{ "fooba", "Zm9vYmE" }, { "foobar", "Zm9vYmFy" }, { "\xfb\xff", "-_8" },
		{ "\xff\xfe\xfd", "__79" }, { "\x3e\x3f", "Pj8" },
	};
	char buf[64];
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *alloc = NULL;

		assert_int_equal(jose_b64url_encode((const uint8_t *)t[i].in, strlen(t[i].in), buf,
						    sizeof(buf), &len),
				 DANEMSG_OK);
		assert_string_equal(buf, t[i].out);
		assert_int_equal(len, strlen(t[i].out));
		assert_int_equal(jose_b64url_encoded_len(strlen(t[i].in)), len);
		assert_int_equal(jose_b64url_encode_alloc((const uint8_t *)t[i].in,
							  strlen(t[i].in), &alloc, &len),
				 DANEMSG_OK);
		assert_string_equal(alloc, t[i].out);
		free(alloc);
	}
	/* Exactly the text plus the NUL fits; one less does not, and nothing is written. */
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(jose_b64url_encode((const uint8_t *)"foobar", 6, buf, 8, &len),
			 DANEMSG_ERR_BUFFER_TOO_SMALL);
	assert_int_equal(buf[0], 'x');
	assert_int_equal(jose_b64url_encode((const uint8_t *)"foobar", 6, buf, 9, &len),
			 DANEMSG_OK);
	assert_string_equal(buf, "Zm9vYmFy");
}

static void test_b64url_decode_table(void **state)
{
	static const struct {
		const char *in;
		size_t in_len;       /* 0: strlen */
		danemsg_err err;
		const char *out;
		size_t out_len;
	} t[] = {
		{ "", 0, DANEMSG_OK, "", 0 },
		{ "Zg", 0, DANEMSG_OK, "f", 1 },
		{ "Zm8", 0, DANEMSG_OK, "fo", 2 },
		{ "Zm9v", 0, DANEMSG_OK, "foo", 3 },
		{ "Zm9vYmFy", 0, DANEMSG_OK, "foobar", 6 },
		{ "-_8", 0, DANEMSG_OK, "\xfb\xff", 2 },
		{ "__79", 0, DANEMSG_OK, "\xff\xfe\xfd", 3 },
		{ "Zg==", 0, DANEMSG_ERR_MALFORMED, NULL, 0 },     /* padding */
		{ "Zm8=", 0, DANEMSG_ERR_MALFORMED, NULL, 0 },
		{ "Zm9v=", 0, DANEMSG_ERR_MALFORMED, NULL, 0 },
		{ "+/8", 0, DANEMSG_ERR_MALFORMED, NULL, 0 },      /* standard alphabet */
		{ "Zm+v", 0, DANEMSG_ERR_MALFORMED, NULL, 0 },
		{ "Zm/v", 0, DANEMSG_ERR_MALFORMED, NULL, 0 },
		{ "Zm 9v", 0, DANEMSG_ERR_MALFORMED, NULL, 0 },    /* whitespace */
		{ " Zm9v", 0, DANEMSG_ERR_MALFORMED, NULL, 0 },
		{ "Zm9v\n", 0, DANEMSG_ERR_MALFORMED, NULL, 0 },
		{ "Zm9v\r\n", 0, DANEMSG_ERR_MALFORMED, NULL, 0 },
		{ "Zm\t9v", 0, DANEMSG_ERR_MALFORMED, NULL, 0 },
		{ "Z", 0, DANEMSG_ERR_MALFORMED, NULL, 0 },        /* length 4n+1 */
		{ "Zm9vY", 0, DANEMSG_ERR_MALFORMED, NULL, 0 },
		{ "Zh", 0, DANEMSG_ERR_MALFORMED, NULL, 0 },       /* trailing bits not zero */
		{ "Zm9", 0, DANEMSG_ERR_MALFORMED, NULL, 0 },
		{ "Zm-", 0, DANEMSG_ERR_MALFORMED, NULL, 0 },
		{ "Zm\0v", 4, DANEMSG_ERR_MALFORMED, NULL, 0 },    /* NUL inside */
		{ "Zm9v.", 0, DANEMSG_ERR_MALFORMED, NULL, 0 },
		{ "Zm9v\xc3\xa9", 0, DANEMSG_ERR_MALFORMED, NULL, 0 },
	};
	uint8_t buf[64];
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t n = t[i].in_len ? t[i].in_len : strlen(t[i].in);
		uint8_t *alloc = NULL;
		size_t alloc_len = 99;

		assert_int_equal(jose_b64url_decode(t[i].in, n, buf, sizeof(buf), &len), t[i].err);
		assert_int_equal(jose_b64url_decode_alloc(t[i].in, n, &alloc, &alloc_len),
				 t[i].err);
		if (t[i].err == DANEMSG_OK) {
			assert_int_equal(len, t[i].out_len);
			assert_memory_equal(buf, t[i].out, len);
			assert_int_equal(alloc_len, t[i].out_len);
			assert_memory_equal(alloc, t[i].out, len);
			assert_int_equal(alloc[alloc_len], 0);
		} else {
			assert_null(alloc);
			assert_int_equal(alloc_len, 0);
		}
		free(alloc);
	}
	assert_int_equal(jose_b64url_decode("Zm9vYmFy", 8, buf, 5, &len),
			 DANEMSG_ERR_BUFFER_TOO_SMALL);
	assert_int_equal(jose_b64url_decode("Zm9vYmFy", 8, buf, 6, &len), DANEMSG_OK);
	assert_int_equal(jose_b64url_decoded_max(8), 6);
	assert_int_equal(jose_b64url_decoded_max(7), 5);
	assert_int_equal(jose_b64url_decoded_max(6), 4);
}

/* Sizes around the internal chunking, against a decode of the encode. */
static void test_b64url_round_trip(void **state)
{
	static const size_t sizes[] = { 0, 1, 2, 3, 767, 768, 769, 1023, 1024, 1025, 3000, 65537 };
	uint8_t *in = malloc(65537), *back = NULL;

	(void)state;
	assert_non_null(in);
	assert_int_equal(RAND_bytes(in, 65537), 1);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char *text = b64(in, sizes[i]);
		size_t n = 0;

		assert_int_equal(strlen(text), jose_b64url_encoded_len(sizes[i]));
		assert_null(strpbrk(text, "+/="));
		assert_int_equal(jose_b64url_decode_alloc(text, strlen(text), &back, &n),
				 DANEMSG_OK);
		assert_int_equal(n, sizes[i]);
		if (n)
			assert_memory_equal(back, in, n);
		free(back);
		free(text);
	}
	free(in);
}

static void test_b64url_null_args(void **state)
{
	char out[8];
	uint8_t buf[8], *alloc;
	char *text;
	size_t len;

	(void)state;
	assert_int_equal(jose_b64url_encode(NULL, 1, out, sizeof(out), &len),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(jose_b64url_encode((const uint8_t *)"a", 1, NULL, 8, &len),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(jose_b64url_encode((const uint8_t *)"a", 1, out, sizeof(out), NULL),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(jose_b64url_encode(NULL, 0, out, sizeof(out), &len), DANEMSG_OK);
	assert_int_equal(jose_b64url_encode_alloc(NULL, 1, &text, &len), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(jose_b64url_encode_alloc((const uint8_t *)"a", 1, NULL, &len),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(jose_b64url_decode(NULL, 1, buf, sizeof(buf), &len),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(jose_b64url_decode("Zg", 2, NULL, 8, &len), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(jose_b64url_decode("Zg", 2, buf, sizeof(buf), NULL),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(jose_b64url_decode_alloc(NULL, 1, &alloc, &len), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(jose_b64url_decode_alloc("Zg", 2, NULL, &len), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(jose_b64url_decode_alloc("Zg", 2, &alloc, NULL), DANEMSG_ERR_INVALID_ARG);
}

/* ---- algorithms ---- */

static void test_alg_names(void **state)
{
	static const char *const refused[] = {
		"none", "None", "HS256", "HS512", "ES384", "ES512", "RS512", "PS512", "ES256K",
		"RSA-OAEP", "RSA1_5", "dir", "ECDH-ES", "ECDH-ES+A128KW", "A256KW", "A256GCMKW",
		"PBES2-HS256+A128KW", "es256", "", "EdDSA ", "Ed448",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		assert_int_equal(jose_alg_from_name(refused[i]), JOSE_ALG_UNKNOWN);
	assert_int_equal(jose_alg_from_name(NULL), JOSE_ALG_UNKNOWN);
	assert_int_equal(jose_alg_from_name("Ed25519"), JOSE_ALG_EDDSA);
	assert_int_equal(jose_alg_from_name("EdDSA"), JOSE_ALG_EDDSA);
	assert_string_equal(jose_alg_name(JOSE_ALG_EDDSA), "EdDSA");
	assert_string_equal(jose_alg_name(JOSE_ALG_ECDH_ES_A256KW), "ECDH-ES+A256KW");
	assert_string_equal(jose_alg_name(JOSE_ALG_UNKNOWN), "?");
	assert_int_equal(jose_enc_from_name("A256GCM"), JOSE_ENC_A256GCM);
	assert_int_equal(jose_enc_from_name("A256CBC-HS512"), JOSE_ENC_A256CBC_HS512);
	assert_int_equal(jose_enc_from_name("A128GCM"), JOSE_ENC_UNKNOWN);
	assert_int_equal(jose_enc_from_name("A128CBC-HS256"), JOSE_ENC_UNKNOWN);
	assert_int_equal(jose_enc_from_name(NULL), JOSE_ENC_UNKNOWN);

	assert_int_equal(jose_sig_alg_for_key(K.p256), JOSE_ALG_ES256);
	assert_int_equal(jose_sig_alg_for_key(K.ed25519), JOSE_ALG_EDDSA);
	assert_int_equal(jose_sig_alg_for_key(K.rsa), JOSE_ALG_PS256);
	assert_int_equal(jose_sig_alg_for_key(K.x25519), JOSE_ALG_UNKNOWN);
	assert_int_equal(jose_sig_alg_for_key(K.rsa1024), JOSE_ALG_UNKNOWN);
	assert_int_equal(jose_sig_alg_for_key(K.p384), JOSE_ALG_UNKNOWN);
	assert_int_equal(jose_kw_alg_for_key(K.p256), JOSE_ALG_ECDH_ES_A256KW);
	assert_int_equal(jose_kw_alg_for_key(K.x25519), JOSE_ALG_ECDH_ES_A256KW);
	assert_int_equal(jose_kw_alg_for_key(K.rsa), JOSE_ALG_RSA_OAEP_256);
	assert_int_equal(jose_kw_alg_for_key(K.ed25519), JOSE_ALG_UNKNOWN);
	assert_int_equal(jose_alg_check_key(JOSE_ALG_ES256, K.ed25519), DANEMSG_ERR_ALGORITHM);
	assert_int_equal(jose_alg_check_key(JOSE_ALG_RS256, K.p256), DANEMSG_ERR_ALGORITHM);
	assert_int_equal(jose_alg_check_key(JOSE_ALG_PS256, K.rsa1024), DANEMSG_ERR_ALGORITHM);
	assert_int_equal(jose_alg_check_key(JOSE_ALG_ECDH_ES_A256KW, K.p384),
			 DANEMSG_ERR_ALGORITHM);
	assert_int_equal(jose_alg_check_key(JOSE_ALG_EDDSA, K.ed25519), DANEMSG_OK);
	assert_int_equal(jose_alg_check_key(JOSE_ALG_EDDSA, NULL), DANEMSG_ERR_INVALID_ARG);
}

/* ---- JWS ---- */

static void test_jws_round_trip(void **state)
{
	static const char *const flat[] = { "payload", "protected", "signature", NULL };
	const struct {
		EVP_PKEY *key, *other;
		jose_alg alg;
		const char *name;
	} t[] = {
		{ K.p256, K.p256b, JOSE_ALG_ES256, "ES256" },
		{ K.ed25519, K.ed25519b, JOSE_ALG_EDDSA, "EdDSA" },
		{ K.rsa, K.rsab, JOSE_ALG_RS256, "RS256" },
		{ K.rsa, K.rsab, JOSE_ALG_PS256, "PS256" },
		{ K.p256, K.p256b, JOSE_ALG_UNKNOWN, "ES256" },
		{ K.ed25519, K.ed25519b, JOSE_ALG_UNKNOWN, "EdDSA" },
		{ K.rsa, K.rsab, JOSE_ALG_UNKNOWN, "PS256" },
	};
	const char *payloads[] = { "", "x", "hello, w\xc3\xb6rld\n{\"a\":1}" };

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		for (size_t p = 0; p < 3; p++) {
			char *text = sign(t[i].key, t[i].alg,
					  "{\"x5u\":\"dns:alice._device.example.net?type=TLSA\"}",
					  payloads[p]);
			jose_jws jws;

			assert_true(has_members(text, flat));
			assert_int_equal(jose_jws_parse(text, strlen(text), NULL, &jws),
					 DANEMSG_OK);
			assert_string_equal(json_string_value(json_object_get(jws.protected_header,
									      "alg")),
					    t[i].name);
			assert_string_equal(json_string_value(json_object_get(jws.protected_header,
									      "x5u")),
					    "dns:alice._device.example.net?type=TLSA");
			assert_null(jws.header);
			assert_int_equal(jws.payload_len, strlen(payloads[p]));
			assert_memory_equal(jws.payload, payloads[p], jws.payload_len);
			assert_int_equal(jws.payload[jws.payload_len], 0);
			assert_int_equal(jws.signing_input_len, strlen(jws.signing_input));
			if (jws.alg == JOSE_ALG_ES256 || jws.alg == JOSE_ALG_EDDSA)
				assert_int_equal(jws.signature_len, 64);
			else
				assert_int_equal(jws.signature_len, 256);
			assert_int_equal(jose_jws_verify(&jws, t[i].key), DANEMSG_OK);
			assert_int_equal(jose_jws_verify(&jws, t[i].other),
					 DANEMSG_ERR_BAD_SIGNATURE);
			jose_jws_clear(&jws);
			jose_jws_clear(&jws);  /* twice is fine */
			free(text);
		}
	}
}

/*
 * Verification reuses a thread's context for the last key and alg: a different key, a
 * different alg on the same key, a failure in between and another thread must each get the
 * right answer (a context kept for the wrong key or alg would verify or refuse wrongly).
 */
static void *verify_in_thread(void *arg)
{
	const char *const *texts = arg;

	if (jws_check(texts[0], K.p256, NULL) != DANEMSG_OK ||
	    jws_check(texts[0], K.p256b, NULL) != DANEMSG_ERR_BAD_SIGNATURE ||
	    jws_check(texts[1], K.rsa, NULL) != DANEMSG_OK)
		return (void *)1;
	return NULL;
}

static void test_jws_verify_context_kept(void **state)
{
	char *es = sign(K.p256, JOSE_ALG_ES256, NULL, "m");
	char *es_b = sign(K.p256b, JOSE_ALG_ES256, NULL, "m");
	char *rs = sign(K.rsa, JOSE_ALG_RS256, NULL, "m");
	char *ps = sign(K.rsa, JOSE_ALG_PS256, NULL, "m");
	char *ed = sign(K.ed25519, JOSE_ALG_EDDSA, NULL, "m");
	const char *texts[] = {es, ps};
	const struct {
		const char *text;
		EVP_PKEY *key;
		danemsg_err want;
	} t[] = {
		{es, K.p256, DANEMSG_OK},
		{es, K.p256, DANEMSG_OK},
		{es_b, K.p256, DANEMSG_ERR_BAD_SIGNATURE},
		{es, K.p256b, DANEMSG_ERR_BAD_SIGNATURE},
		{es_b, K.p256b, DANEMSG_OK},
		{es, K.p256, DANEMSG_OK},
		{rs, K.rsa, DANEMSG_OK},
		{ps, K.rsa, DANEMSG_OK},   /* same key, other alg */
		{rs, K.rsa, DANEMSG_OK},
		{rs, K.rsab, DANEMSG_ERR_BAD_SIGNATURE},
		{ed, K.ed25519, DANEMSG_OK},
		{ed, K.ed25519b, DANEMSG_ERR_BAD_SIGNATURE},
		{ed, K.ed25519, DANEMSG_OK},
		{ed, K.ed25519, DANEMSG_OK},
	};
	pthread_t th;
	void *res = (void *)1;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_int_equal(jws_check(t[i].text, t[i].key, NULL), t[i].want);
	assert_int_equal(pthread_create(&th, NULL, verify_in_thread, (void *)texts), 0);
	assert_int_equal(pthread_join(th, &res), 0);
	assert_null(res);
	free(es);
	free(es_b);
	free(rs);
	free(ps);
	free(ed);
}

/* A signing context made once signs many times, each signature its own and valid. */
static void test_jws_signer(void **state)
{
	const struct {
		EVP_PKEY *key;
		jose_alg alg;
	} t[] = {
		{K.p256, JOSE_ALG_ES256},
		{K.ed25519, JOSE_ALG_EDDSA},
		{K.rsa, JOSE_ALG_RS256},
		{K.rsa, JOSE_ALG_PS256},
	};
	jose_signer *s = NULL;
	char *out = NULL;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *prev = NULL;
		assert_int_equal(jose_signer_new(t[i].key, t[i].alg, 1, &s), DANEMSG_OK);
		assert_int_equal(jose_signer_alg(s), t[i].alg);
		for (int n = 0; n < 3; n++) {
			jose_jws jws;
			const char *msg = n == 1 ? "other" : "m";
			assert_int_equal(jose_jws_sign_with(s, NULL, (const uint8_t *)msg,
							    strlen(msg), &out, &len), DANEMSG_OK);
			assert_int_equal(strlen(out), len);
			assert_int_equal(jose_jws_parse(out, len, NULL, &jws), DANEMSG_OK);
			assert_int_equal(jws.alg, t[i].alg);
			assert_memory_equal(jws.payload, msg, strlen(msg));
			assert_int_equal(jose_jws_verify(&jws, t[i].key), DANEMSG_OK);
			jose_jws_clear(&jws);
			if (prev && t[i].alg != JOSE_ALG_EDDSA && t[i].alg != JOSE_ALG_RS256)
				assert_string_not_equal(prev, out);   /* randomized signatures */
			free(prev);
			prev = out;
			out = NULL;
		}
		free(prev);
		jose_signer_free(s);
	}
	/* A verification context does not sign; an alg must fit its key. */
	assert_int_equal(jose_signer_new(K.p256, JOSE_ALG_ES256, 0, &s), DANEMSG_OK);
	assert_int_equal(jose_jws_sign_with(s, NULL, (const uint8_t *)"m", 1, &out, &len),
			 DANEMSG_ERR_INVALID_ARG);
	assert_null(out);
	jose_signer_free(s);
	assert_int_equal(jose_signer_new(K.p256, JOSE_ALG_EDDSA, 1, &s), DANEMSG_ERR_ALGORITHM);
	assert_null(s);
	assert_int_equal(jose_signer_new(K.p384, JOSE_ALG_ES256, 1, &s), DANEMSG_ERR_ALGORITHM);
	assert_int_equal(jose_signer_new(K.rsa1024, JOSE_ALG_RS256, 1, &s), DANEMSG_ERR_ALGORITHM);
	assert_int_equal(jose_jws_sign_with(NULL, NULL, (const uint8_t *)"m", 1, &out, &len),
			 DANEMSG_ERR_INVALID_ARG);
	jose_signer_free(NULL);
}

/* jose_dump writes plain headers itself: the text must be jansson's, byte for byte, and
 * anything else is left to jansson. */
static void test_dump_is_jansson(void **state)
{
	static const char *const cases[] = {
		"{}",
		"{\"alg\":\"ES256\",\"typ\":\"danemsg+jws\",\"iat\":1700000000,\"neg\":-5}",
		"{\"aud\":[\"a.example\",\"b.example\"],\"x\":[],\"o\":{}}",
		"{\"epk\":{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"abc\",\"y\":\"d-_\"},\"n\":0}",
		"{\"big\":9223372036854775807,\"small\":-9223372036854775807}",
		"{\"q\":\"a\\\"b\"}",
		"{\"bs\":\"a\\\\b\",\"nl\":\"a\\nb\",\"tab\":\"\\t\"}",
		"{\"u\":\"w\\u00f6rld\",\"del\":\"\\u007f\",\"ctl\":\"\\u0001\"}",
		"{\"esc\\\"key\":\"v\",\"k\\u00e9y\":1}",
		"{\"real\":1.5,\"t\":true,\"f\":false,\"z\":null}",
		"{\"deep\":{\"a\":{\"b\":{\"c\":\"d\"}}}}",
		"{\"arr\":[[[\"x\"]]],\"mixed\":[1,\"a\",{\"k\":2}]}",
		"{\"slash\":\"a/b\",\"x5u\":\"dns:alice._device.example.net?type=TLSA\"}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_error_t e;
		json_t *j = json_loads(cases[i], 0, &e);
		char *ours, *theirs;
		size_t len = 0;

		assert_non_null(j);
		ours = jose_dump(j, &len);
		theirs = json_dumps(j, JSON_COMPACT);
		assert_non_null(ours);
		assert_string_equal(ours, theirs);
		assert_int_equal(len, strlen(theirs));
		free(ours);
		free(theirs);
		json_decref(j);
	}
}

/* The caller's header is copied, not changed; an "alg" in it must agree. */
static void test_jws_sign_header(void **state)
{
	json_t *h = load("{\"typ\":\"JOSE+JSON\",\"kid\":\"k1\"}");
	json_t *with_alg = load("{\"alg\":\"Ed25519\"}"), *wrong = load("{\"alg\":\"ES256\"}");
	json_t *got;
	char *out = NULL;
	size_t len;

	(void)state;
	assert_int_equal(jose_jws_sign(K.p256, JOSE_ALG_ES256, h, (const uint8_t *)"a", 1, &out,
				       &len),
			 DANEMSG_OK);
	assert_null(json_object_get(h, "alg"));
	got = protected_of(out);
	assert_string_equal(json_string_value(json_object_get(got, "alg")), "ES256");
	assert_string_equal(json_string_value(json_object_get(got, "kid")), "k1");
	json_decref(got);
	free(out);
	/* The synonym is accepted and "EdDSA" goes out. */
	assert_int_equal(jose_jws_sign(K.ed25519, JOSE_ALG_EDDSA, with_alg, (const uint8_t *)"a", 1,
				       &out, &len),
			 DANEMSG_OK);
	got = protected_of(out);
	assert_string_equal(json_string_value(json_object_get(got, "alg")), "EdDSA");
	json_decref(got);
	free(out);
	assert_int_equal(jose_jws_sign(K.ed25519, JOSE_ALG_EDDSA, wrong, (const uint8_t *)"a", 1,
				       &out, &len),
			 DANEMSG_ERR_INVALID_ARG);
	assert_null(out);
	json_decref(h);
	json_decref(with_alg);
	json_decref(wrong);
}

static void test_jws_forms(void **state)
{
	char *flat = sign(K.p256, JOSE_ALG_ES256, "{\"kid\":\"a\"}", "payload");
	char *compact = jws_compact(flat), *general = jws_general(flat, 1);
	char *two = jws_general(flat, 2), *ws = cat3("  \n", "", flat);
	json_t *j;
	char *text;

	(void)state;
	assert_int_equal(jws_check(flat, K.p256, NULL), DANEMSG_OK);
	assert_int_equal(jws_check(compact, K.p256, NULL), DANEMSG_OK);
	assert_int_equal(jws_check(general, K.p256, NULL), DANEMSG_OK);
	assert_int_equal(jws_check(ws, K.p256, NULL), DANEMSG_OK);
	assert_int_equal(jws_check(two, K.p256, NULL), DANEMSG_ERR_MALFORMED);
	/* General with flattened members beside "signatures". */
	text = set_member(general, "signature", "AAAA");
	assert_int_equal(jws_check(text, K.p256, NULL), DANEMSG_ERR_MALFORMED);
	free(text);
	text = set_member(general, "protected", "AAAA");
	assert_int_equal(jws_check(text, K.p256, NULL), DANEMSG_ERR_MALFORMED);
	free(text);
	/* An unprotected header that adds members is fine; one repeating a protected one not. */
	j = load(flat);
	json_object_set_new(j, "header", json_pack("{s:s}", "x5u", "dns:a?type=TLSA"));
	text = dump_free(j);
	assert_int_equal(jws_check(text, K.p256, NULL), DANEMSG_OK);
	free(text);
	j = load(flat);
	json_object_set_new(j, "header", json_pack("{s:s}", "kid", "b"));
	text = dump_free(j);
	assert_int_equal(jws_check(text, K.p256, NULL), DANEMSG_ERR_MALFORMED);
	free(text);
	j = load(flat);
	json_object_set_new(j, "header", json_pack("{s:s}", "alg", "ES256"));
	text = dump_free(j);
	assert_int_equal(jws_check(text, K.p256, NULL), DANEMSG_ERR_MALFORMED);
	free(text);
	j = load(flat);
	json_object_set_new(j, "header", json_string("x"));
	text = dump_free(j);
	assert_int_equal(jws_check(text, K.p256, NULL), DANEMSG_ERR_MALFORMED);
	free(text);
	/* Compact forms with the wrong number of parts. */
	text = cat3(compact, ".", "AAAA");
	assert_int_equal(jws_check(text, K.p256, NULL), DANEMSG_ERR_MALFORMED);
	free(text);
	assert_int_equal(jws_check("abc.def", K.p256, NULL), DANEMSG_ERR_MALFORMED);
	assert_int_equal(jws_check("..", K.p256, NULL), DANEMSG_ERR_MALFORMED);
	assert_int_equal(jws_check("", K.p256, NULL), DANEMSG_ERR_MALFORMED);
	assert_int_equal(jws_check("[]", K.p256, NULL), DANEMSG_ERR_MALFORMED);
	assert_int_equal(jws_check("{}", K.p256, NULL), DANEMSG_ERR_MALFORMED);
	assert_int_equal(jws_check("{\"payload\":1}", K.p256, NULL), DANEMSG_ERR_MALFORMED);
	free(flat);
	free(compact);
	free(general);
	free(two);
	free(ws);
}

static EVP_PKEY *jwk_key(const char *json)
{
	json_t *j = load(json);
	EVP_PKEY *key = NULL;

	assert_int_equal(jose_jwk_to_pkey(j, &key), DANEMSG_OK);
	json_decref(j);
	return key;
}

static void test_jws_vectors(void **state)
{
	EVP_PKEY *a3 = jwk_key("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y
			       "\"}");
	EVP_PKEY *r20 = jwk_key("{\"kty\":\"RSA\",\"n\":\"" R20_N "\",\"e\":\"AQAB\"}");
	EVP_PKEY *a4 = jwk_key("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" A4_X "\"}");
	static const char r20_41_flat[] = "{\"payload\":\"" R20_PAYLOAD "\",\"protected\":\""
					  R20_41_PROTECTED "\",\"signature\":\"" R20_41_SIG "\"}";
	static const char r20_41_general[] = "{\"payload\":\"" R20_PAYLOAD "\",\"signatures\":[{"
					     "\"protected\":\"" R20_41_PROTECTED "\","
					     "\"signature\":\"" R20_41_SIG "\"}]}";
	uint8_t d[32];
	size_t d_len;
	EVP_PKEY *a4_private;
	char *text, *mine;
	jose_jws jws;

	(void)state;
	/* RFC 7515 A.3: ES256 with its JWK. */
	assert_int_equal(jws_check(A3_JWS, a3, NULL), DANEMSG_OK);
	assert_int_equal(jws_check(A3_JWS, K.p256, NULL), DANEMSG_ERR_BAD_SIGNATURE);
	/* RFC 8037 A.4: Ed25519 verifies, and signing again gives the same bytes. */
	assert_int_equal(jws_check(A4_JWS, a4, NULL), DANEMSG_OK);
	assert_int_equal(jose_jws_parse(A4_JWS, strlen(A4_JWS), NULL, &jws), DANEMSG_OK);
	assert_int_equal(jws.payload_len, strlen(A4_PAYLOAD));
	assert_memory_equal(jws.payload, A4_PAYLOAD, jws.payload_len);
	jose_jws_clear(&jws);
	assert_int_equal(jose_b64url_decode(A4_D, strlen(A4_D), d, sizeof(d), &d_len), DANEMSG_OK);
	a4_private = EVP_PKEY_new_raw_private_key_ex(NULL, "ED25519", NULL, d, d_len);
	assert_non_null(a4_private);
	mine = sign(a4_private, JOSE_ALG_EDDSA, NULL, A4_PAYLOAD);
	text = jws_compact(mine);
	assert_string_equal(text, A4_JWS);
	free(text);
	free(mine);
	/* RFC 7520 4.1: RS256 in all three forms. */
	text = cat3(R20_41_PROTECTED "." R20_PAYLOAD, ".", R20_41_SIG);
	assert_int_equal(jws_check(text, r20, NULL), DANEMSG_OK);
	free(text);
	assert_int_equal(jws_check(r20_41_flat, r20, NULL), DANEMSG_OK);
	assert_int_equal(jws_check(r20_41_general, r20, NULL), DANEMSG_OK);
	assert_int_equal(jws_check(r20_41_flat, K.rsa, NULL), DANEMSG_ERR_BAD_SIGNATURE);
	/* RFC 7520 4.2 (PS384) and 4.4 (HS256): algorithms we refuse. */
	assert_int_equal(jws_check(R20_42_JWS, r20, NULL), DANEMSG_ERR_ALGORITHM);
	assert_int_equal(jws_check(R20_44_JWS, r20, NULL), DANEMSG_ERR_ALGORITHM);
	EVP_PKEY_free(a3);
	EVP_PKEY_free(r20);
	EVP_PKEY_free(a4);
	EVP_PKEY_free(a4_private);
}

static void test_jws_tamper(void **state)
{
	EVP_PKEY *keys[] = { K.p256, K.ed25519, K.rsa };
	jose_alg algs[] = { JOSE_ALG_ES256, JOSE_ALG_EDDSA, JOSE_ALG_RS256 };

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		char *flat = sign(keys[i], algs[i], "{\"kid\":\"k\"}", "the message");
		json_t *h = protected_of(flat);
		char *text;

		text = flip_member(flat, "payload");
		assert_int_equal(jws_check(text, keys[i], NULL), DANEMSG_ERR_BAD_SIGNATURE);
		free(text);
		text = flip_member(flat, "signature");
		assert_int_equal(jws_check(text, keys[i], NULL), DANEMSG_ERR_BAD_SIGNATURE);
		free(text);
		/* Another header (one member more, or another value) under the same signature. */
		json_object_set_new(h, "kid", json_string("other"));
		text = dump_free(h);
		{
			char *t2 = set_protected(flat, text);

			assert_int_equal(jws_check(t2, keys[i], NULL), DANEMSG_ERR_BAD_SIGNATURE);
			free(t2);
		}
		free(text);
		/* A signature of another length. */
		text = set_member(flat, "signature", "AAAA");
		assert_int_not_equal(jws_check(text, keys[i], NULL), DANEMSG_OK);
		free(text);
		text = set_member(flat, "signature", "");
		assert_int_equal(jws_check(text, keys[i], NULL), DANEMSG_ERR_MALFORMED);
		free(text);
		free(flat);
	}
}

static void test_jws_refused_algs(void **state)
{
	static const char *const headers[] = {
		"{\"alg\":\"none\"}", "{\"alg\":\"HS256\"}", "{\"alg\":\"HS512\"}",
		"{\"alg\":\"ES384\"}", "{\"alg\":\"RS512\"}", "{\"alg\":\"foo\"}",
		"{\"alg\":\"RSA-OAEP-256\"}", "{\"alg\":\"ECDH-ES+A256KW\"}", "{\"alg\":\"\"}",
	};
	char *text;

	(void)state;
	for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
		text = fake_jws(headers[i], 64);
		assert_int_equal(jws_check(text, K.p256, NULL), DANEMSG_ERR_ALGORITHM);
		free(text);
		text = fake_jws(headers[i], 0);
		assert_int_not_equal(jws_check(text, K.p256, NULL), DANEMSG_OK);
		free(text);
	}
	/* No alg, or not a string. */
	text = fake_jws("{\"kid\":\"x\"}", 64);
	assert_int_equal(jws_check(text, K.p256, NULL), DANEMSG_ERR_MALFORMED);
	free(text);
	text = fake_jws("{\"alg\":1}", 64);
	assert_int_equal(jws_check(text, K.p256, NULL), DANEMSG_ERR_MALFORMED);
	free(text);
	/* ES256 signatures are exactly 64 bytes (r||s), not DER. */
	text = fake_jws("{\"alg\":\"ES256\"}", 72);
	assert_int_equal(jws_check(text, K.p256, NULL), DANEMSG_ERR_MALFORMED);
	free(text);
	text = fake_jws("{\"alg\":\"EdDSA\"}", 63);
	assert_int_equal(jws_check(text, K.ed25519, NULL), DANEMSG_ERR_MALFORMED);
	free(text);
	/* "Ed25519" is read as EdDSA (a zero signature, so it does not verify). */
	text = fake_jws("{\"alg\":\"Ed25519\"}", 64);
	assert_int_equal(jws_check(text, K.ed25519, NULL), DANEMSG_ERR_BAD_SIGNATURE);
	free(text);
}

/* The alg names the key type: any other key is refused before any signature math. */
static void test_jws_key_mismatch(void **state)
{
	char *es = sign(K.p256, JOSE_ALG_ES256, NULL, "m");
	char *ed = sign(K.ed25519, JOSE_ALG_EDDSA, NULL, "m");
	char *rs = sign(K.rsa, JOSE_ALG_RS256, NULL, "m");
	char *ps = sign(K.rsa, JOSE_ALG_PS256, NULL, "m");
	char *out = NULL;
	size_t len;

	(void)state;
	assert_int_equal(jws_check(es, K.ed25519, NULL), DANEMSG_ERR_ALGORITHM);
	assert_int_equal(jws_check(es, K.rsa, NULL), DANEMSG_ERR_ALGORITHM);
	assert_int_equal(jws_check(es, K.p384, NULL), DANEMSG_ERR_ALGORITHM);
	assert_int_equal(jws_check(es, K.x25519, NULL), DANEMSG_ERR_ALGORITHM);
	assert_int_equal(jws_check(ed, K.p256, NULL), DANEMSG_ERR_ALGORITHM);
	assert_int_equal(jws_check(ed, K.x25519, NULL), DANEMSG_ERR_ALGORITHM);
	assert_int_equal(jws_check(rs, K.p256, NULL), DANEMSG_ERR_ALGORITHM);
	assert_int_equal(jws_check(rs, K.rsa1024, NULL), DANEMSG_ERR_ALGORITHM);
	assert_int_equal(jws_check(ps, K.ed25519, NULL), DANEMSG_ERR_ALGORITHM);
	/* RS256 and PS256 are distinct: each signature verifies only as itself. */
	{
		json_t *h = protected_of(rs);
		char *text;

		json_object_set_new(h, "alg", json_string("PS256"));
		text = dump_free(h);
		{
			char *t2 = set_protected(rs, text);

			assert_int_equal(jws_check(t2, K.rsa, NULL), DANEMSG_ERR_BAD_SIGNATURE);
			free(t2);
		}
		free(text);
	}
	/* Signing with a key the alg does not fit. */
	assert_int_equal(jose_jws_sign(K.ed25519, JOSE_ALG_ES256, NULL, (const uint8_t *)"m", 1,
				       &out, &len),
			 DANEMSG_ERR_ALGORITHM);
	assert_int_equal(jose_jws_sign(K.p256, JOSE_ALG_RS256, NULL, (const uint8_t *)"m", 1, &out,
				       &len),
			 DANEMSG_ERR_ALGORITHM);
	assert_int_equal(jose_jws_sign(K.x25519, JOSE_ALG_UNKNOWN, NULL, (const uint8_t *)"m", 1,
				       &out, &len),
			 DANEMSG_ERR_ALGORITHM);
	assert_int_equal(jose_jws_sign(K.rsa1024, JOSE_ALG_RS256, NULL, (const uint8_t *)"m", 1,
				       &out, &len),
			 DANEMSG_ERR_ALGORITHM);
	assert_int_equal(jose_jws_sign(K.p384, JOSE_ALG_UNKNOWN, NULL, (const uint8_t *)"m", 1,
				       &out, &len),
			 DANEMSG_ERR_ALGORITHM);
	assert_int_equal(jose_jws_sign(K.p256, JOSE_ALG_RSA_OAEP_256, NULL, (const uint8_t *)"m",
				       1, &out, &len),
			 DANEMSG_ERR_ALGORITHM);
	assert_null(out);
	free(es);
	free(ed);
	free(rs);
	free(ps);
}

static void test_jws_header_checks(void **state)
{
	static const char *const understood[] = { "exp", "nbf", NULL };
	static const struct {
		const char *header;
		const char *const *understood;
		danemsg_err err;
	} t[] = {
		{ "{\"alg\":\"ES256\",\"crit\":[\"exp\"],\"exp\":1}", NULL, DANEMSG_ERR_ALGORITHM },
		{ "{\"alg\":\"ES256\",\"crit\":[\"exp\"],\"exp\":1}", understood,
		  DANEMSG_ERR_BAD_SIGNATURE },
		{ "{\"alg\":\"ES256\",\"crit\":[\"exp\",\"zzz\"],\"exp\":1,\"zzz\":1}", understood,
		  DANEMSG_ERR_ALGORITHM },
		{ "{\"alg\":\"ES256\",\"crit\":[\"exp\"]}", understood, DANEMSG_ERR_MALFORMED },
		{ "{\"alg\":\"ES256\",\"crit\":[]}", understood, DANEMSG_ERR_MALFORMED },
		{ "{\"alg\":\"ES256\",\"crit\":\"exp\",\"exp\":1}", understood,
		  DANEMSG_ERR_MALFORMED },
		{ "{\"alg\":\"ES256\",\"crit\":[\"alg\"]}", understood, DANEMSG_ERR_MALFORMED },
		{ "{\"alg\":\"ES256\",\"crit\":[1]}", understood, DANEMSG_ERR_MALFORMED },
		{ "{\"alg\":\"ES256\",\"crit\":[\"exp\",\"exp\"],\"exp\":1}", understood,
		  DANEMSG_ERR_MALFORMED },
		{ "{\"alg\":\"ES256\",\"b64\":false,\"crit\":[\"b64\"]}", NULL,
		  DANEMSG_ERR_ALGORITHM },
		{ "{\"alg\":\"ES256\",\"b64\":true}", NULL, DANEMSG_ERR_ALGORITHM },
		{ "{\"alg\":\"ES256\",\"zip\":\"DEF\"}", NULL, DANEMSG_ERR_ALGORITHM },
		{ "{\"alg\":\"ES256\",\"alg\":\"none\"}", NULL, DANEMSG_ERR_MALFORMED },
		{ "{\"alg\":\"none\",\"alg\":\"ES256\"}", NULL, DANEMSG_ERR_MALFORMED },
		{ "[\"ES256\"]", NULL, DANEMSG_ERR_MALFORMED },
		{ "\"ES256\"", NULL, DANEMSG_ERR_MALFORMED },
		{ "{\"alg\":\"ES256\"", NULL, DANEMSG_ERR_MALFORMED },
		{ "", NULL, DANEMSG_ERR_MALFORMED },
		{ "{\"alg\":\"ES256\"} {}", NULL, DANEMSG_ERR_MALFORMED },
		{ "{\"alg\":\"ES256\",\"k\":\"\\u0000\"}", NULL, DANEMSG_ERR_MALFORMED },
		{ "{\"alg\":\"ES256\",\"kid\":\"k\"}", NULL, DANEMSG_ERR_BAD_SIGNATURE },
	};
	char *text, *big;
	json_t *j;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		text = fake_jws(t[i].header, 64);
		assert_int_equal(jws_check(text, K.p256, t[i].understood), t[i].err);
		free(text);
	}
	/* The protected header is not base64url, or is over the bound. */
	assert_int_equal(jws_check("eyJhbGciOiJFUzI1NiJ9=.aGk.AAAA", K.p256, NULL),
			 DANEMSG_ERR_MALFORMED);
	big = malloc(JOSE_MAX_HEADER + 64);
	assert_non_null(big);
	snprintf(big, 32, "{\"alg\":\"ES256\",\"k\":\"");
	memset(big + strlen(big), 'a', JOSE_MAX_HEADER);
	memcpy(big + 20 + JOSE_MAX_HEADER, "\"}", sizeof("\"}"));
	text = fake_jws(big, 64);
	assert_int_equal(jws_check(text, K.p256, NULL), DANEMSG_ERR_TOO_LARGE);
	free(text);
	free(big);
	/* crit only in the protected header. */
	text = sign(K.p256, JOSE_ALG_ES256, NULL, "m");
	j = load(text);
	json_object_set_new(j, "header", json_pack("{s:[s],s:i}", "crit", "exp", "exp", 1));
	free(text);
	text = dump_free(j);
	assert_int_equal(jws_check(text, K.p256, understood), DANEMSG_ERR_MALFORMED);
	free(text);
	/* Duplicate keys in the outer JSON. */
	assert_int_equal(jws_check("{\"payload\":\"aGk\",\"payload\":\"aGk\",\"protected\":"
				   "\"eyJhbGciOiJFUzI1NiJ9\",\"signature\":\"AAAA\"}",
				   K.p256, NULL),
			 DANEMSG_ERR_MALFORMED);
}

/* Every prefix of a valid JWS is refused, in every form; oversized inputs too. */
static void test_jws_truncated_and_oversized(void **state)
{
	char *flat = sign(K.p256, JOSE_ALG_ES256, "{\"kid\":\"x\"}", "abcdef");
	char *forms[] = { flat, jws_compact(flat), jws_general(flat, 1) };
	char *big;
	jose_jws jws;
	char *out = NULL;
	size_t len;

	(void)state;
	for (size_t f = 0; f < 3; f++) {
		size_t n = strlen(forms[f]);

		for (size_t cut = 0; cut < n; cut++) {
			char *prefix = strndup(forms[f], cut);

			assert_int_not_equal(jws_check(prefix, K.p256, NULL), DANEMSG_OK);
			free(prefix);
		}
		assert_int_equal(jws_check(forms[f], K.p256, NULL), DANEMSG_OK);
	}
	big = malloc(JOSE_MAX_INPUT + 2);
	assert_non_null(big);
	memset(big, 'A', JOSE_MAX_INPUT + 1);
	big[JOSE_MAX_INPUT + 1] = 0;
	assert_int_equal(jose_jws_parse(big, JOSE_MAX_INPUT + 1, NULL, &jws),
			 DANEMSG_ERR_TOO_LARGE);
	assert_null(jws.payload);
	assert_int_equal(jose_jws_sign(K.p256, JOSE_ALG_ES256, NULL, (const uint8_t *)big,
				       JOSE_MAX_INPUT + 1, &out, &len),
			 DANEMSG_ERR_TOO_LARGE);
	free(big);
	for (size_t f = 0; f < 3; f++)
		free(forms[f]);
}

static void test_jws_null_args(void **state)
{
	char *text = sign(K.p256, JOSE_ALG_ES256, NULL, "m");
	json_t *not_object = json_string("x");
	jose_jws jws;
	char *out = (char *)1;
	size_t len;

	(void)state;
	assert_int_equal(jose_jws_sign(NULL, JOSE_ALG_ES256, NULL, (const uint8_t *)"m", 1, &out,
				       &len),
			 DANEMSG_ERR_INVALID_ARG);
	assert_null(out);
	assert_int_equal(jose_jws_sign(K.p256, JOSE_ALG_ES256, NULL, NULL, 1, &out, &len),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(jose_jws_sign(K.p256, JOSE_ALG_ES256, NULL, (const uint8_t *)"m", 1, NULL,
				       &len),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(jose_jws_sign(K.p256, JOSE_ALG_ES256, not_object, (const uint8_t *)"m", 1,
				       &out, &len),
			 DANEMSG_ERR_INVALID_ARG);
	/* out_len is optional; an empty payload may be NULL. */
	assert_int_equal(jose_jws_sign(K.p256, JOSE_ALG_ES256, NULL, NULL, 0, &out, NULL),
			 DANEMSG_OK);
	free(out);
	assert_int_equal(jose_jws_parse(NULL, 1, NULL, &jws), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(jose_jws_parse(text, strlen(text), NULL, NULL), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(jose_jws_parse(text, strlen(text), NULL, &jws), DANEMSG_OK);
	assert_int_equal(jose_jws_verify(NULL, K.p256), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(jose_jws_verify(&jws, NULL), DANEMSG_ERR_INVALID_ARG);
	jose_jws_clear(&jws);
	assert_int_equal(jose_jws_verify(&jws, K.p256), DANEMSG_ERR_INVALID_ARG);
	jose_jws_clear(NULL);
	json_decref(not_object);
	free(text);
}

/* ---- JWE ---- */

static void test_jwe_round_trip(void **state)
{
	static const char *const flat[] = { "protected", "encrypted_key", "iv", "ciphertext", "tag",
					    NULL };
	EVP_PKEY *keys[] = { K.rsa, K.p256, K.x25519 };
	EVP_PKEY *others[] = { K.rsab, K.p256b, K.x25519b };
	const char *algs[] = { "RSA-OAEP-256", "ECDH-ES+A256KW", "ECDH-ES+A256KW" };
	jose_enc encs[] = { JOSE_ENC_A256GCM, JOSE_ENC_A256CBC_HS512 };
	const char *plaintexts[] = { "", "x", "0123456789abcdef",
				     "a longer message, \xe2\x9c\x93" };

	(void)state;
	for (size_t k = 0; k < 3; k++) {
		for (size_t e = 0; e < 2; e++) {
			for (size_t p = 0; p < 4; p++) {
				char *text = encrypt_to(keys[k], encs[e],
							"{\"typ\":\"JWE\","
							"\"x5u\":\"dns:bob?type=TLSA\"}",
							plaintexts[p]);
				json_t *h = protected_of(text);
				size_t index = 9;

				assert_true(has_members(text, flat));
				assert_string_equal(json_string_value(json_object_get(h, "alg")),
						    algs[k]);
				assert_string_equal(json_string_value(json_object_get(h, "enc")),
						    jose_enc_name(encs[e]));
				assert_string_equal(json_string_value(json_object_get(h, "x5u")),
						    "dns:bob?type=TLSA");
				assert_int_equal(json_object_get(h, "epk") != NULL, k != 0);
				json_decref(h);
				assert_int_equal(jwe_check_full(text, keys[k], NULL, NULL,
								plaintexts[p], &index),
						 DANEMSG_OK);
				assert_int_equal(index, 0);
				assert_int_equal(jwe_check(text, others[k], NULL),
						 DANEMSG_ERR_DECRYPT);
				free(text);
			}
		}
	}
}

static void test_jwe_large_and_aad(void **state)
{
	size_t n = 200000;
	uint8_t *big = malloc(n), *pt = NULL;
	jose_recipient r = { K.p256, JOSE_ALG_UNKNOWN, NULL };
	char *out = NULL, *text;
	size_t len, pt_len = 0;
	jose_jwe jwe;

	(void)state;
	assert_non_null(big);
	assert_int_equal(RAND_bytes(big, (int)n), 1);
	for (int e = JOSE_ENC_A256GCM; e <= JOSE_ENC_A256CBC_HS512; e++) {
		assert_int_equal(jose_jwe_encrypt(&r, 1, (jose_enc)e, NULL, big, n,
						  (const uint8_t *)"extra", 5, &out, &len),
				 DANEMSG_OK);
		assert_int_equal(jose_jwe_parse(out, len, NULL, &jwe), DANEMSG_OK);
		assert_int_equal(jwe.aad_len, 5);
		assert_memory_equal(jwe.aad, "extra", 5);
		assert_int_equal(jose_jwe_decrypt(&jwe, K.p256, NULL, NULL, &pt, &pt_len, NULL),
				 DANEMSG_OK);
		assert_int_equal(pt_len, n);
		assert_memory_equal(pt, big, n);
		free(pt);
		jose_jwe_clear(&jwe);
		/* The aad is authenticated. */
		text = flip_member(out, "aad");
		assert_int_equal(jwe_check(text, K.p256, NULL), DANEMSG_ERR_DECRYPT);
		free(text);
		text = set_member(out, "aad", "");
		assert_int_equal(jwe_check(text, K.p256, NULL), DANEMSG_ERR_DECRYPT);
		free(text);
		free(out);
	}
	free(big);
}

static int first_only(const json_t *merged, size_t index, void *arg)
{
	(void)merged;
	(void)arg;
	return index == 0;
}

static void test_jwe_general(void **state)
{
	json_t *ha = json_pack("{s:s}", "kid", "a"), *hb = json_pack("{s:s}", "kid", "b");
	json_t *hc = json_pack("{s:s}", "x5t#S256", "c"), *hd = json_pack("{s:s}", "kid", "d");
	jose_recipient r[] = {
		{ K.rsa, JOSE_ALG_UNKNOWN, ha },
		{ K.p256, JOSE_ALG_UNKNOWN, hb },
		{ K.x25519, JOSE_ALG_ECDH_ES_A256KW, hc },
		{ K.p256b, JOSE_ALG_UNKNOWN, hd },
	};
	struct jose_id_match mb = { "kid", "b" }, ma = { "kid", "a" }, mc = { "x5t#S256", "c" };
	struct jose_id_match md = { "kid", "d" }, none = { "kid", "zz" };
	json_t *j, *prot, *list;
	char *out = NULL, *text;
	size_t len, index = 9;

	(void)state;
	assert_int_equal(jose_jwe_encrypt(r, 4, JOSE_ENC_A256GCM, NULL, (const uint8_t *)"multi", 5,
					  NULL, 0, &out, &len),
			 DANEMSG_OK);
	j = load(out);
	assert_null(json_object_get(j, "encrypted_key"));
	list = json_object_get(j, "recipients");
	assert_int_equal(json_array_size(list), 4);
	for (size_t i = 0; i < 4; i++) {
		json_t *h = json_object_get(json_array_get(list, i), "header");

		assert_non_null(json_object_get(json_array_get(list, i), "encrypted_key"));
		assert_string_equal(json_string_value(json_object_get(h, "alg")),
				    i == 0 ? "RSA-OAEP-256" : "ECDH-ES+A256KW");
		assert_int_equal(json_object_get(h, "epk") != NULL, i != 0);
	}
	json_decref(j);
	prot = protected_of(out);
	assert_string_equal(json_string_value(json_object_get(prot, "enc")), "A256GCM");
	assert_null(json_object_get(prot, "alg"));
	json_decref(prot);

	/* Every key finds its entry by trying; by identifier too. */
	assert_int_equal(jwe_check_full(out, K.rsa, NULL, NULL, "multi", &index), DANEMSG_OK);
	assert_int_equal(index, 0);
	assert_int_equal(jwe_check_full(out, K.p256, NULL, NULL, "multi", &index), DANEMSG_OK);
	assert_int_equal(index, 1);
	assert_int_equal(jwe_check_full(out, K.x25519, NULL, NULL, "multi", &index), DANEMSG_OK);
	assert_int_equal(index, 2);
	assert_int_equal(jwe_check_full(out, K.p256b, NULL, NULL, "multi", &index), DANEMSG_OK);
	assert_int_equal(index, 3);
	assert_int_equal(jwe_check_full(out, K.p256, jose_recipient_has_id, &mb, "multi", &index),
			 DANEMSG_OK);
	assert_int_equal(index, 1);
	assert_int_equal(jwe_check_full(out, K.x25519, jose_recipient_has_id, &mc, "multi", &index),
			 DANEMSG_OK);
	assert_int_equal(jwe_check_full(out, K.p256b, jose_recipient_has_id, &md, "multi", &index),
			 DANEMSG_OK);
	assert_int_equal(index, 3);
	/* The wrong identifier for this key, or none matching: nothing to decrypt. */
	assert_int_equal(jwe_check_full(out, K.p256, jose_recipient_has_id, &md, NULL, NULL),
			 DANEMSG_ERR_DECRYPT);
	assert_int_equal(jwe_check_full(out, K.p256, jose_recipient_has_id, &ma, NULL, NULL),
			 DANEMSG_ERR_DECRYPT);
	assert_int_equal(jwe_check_full(out, K.p256, jose_recipient_has_id, &none, NULL, NULL),
			 DANEMSG_ERR_DECRYPT);
	assert_int_equal(jwe_check_full(out, K.rsa, first_only, NULL, "multi", NULL), DANEMSG_OK);
	/* Keys that are not recipients. */
	assert_int_equal(jwe_check(out, K.rsab, NULL), DANEMSG_ERR_DECRYPT);
	assert_int_equal(jwe_check(out, K.x25519b, NULL), DANEMSG_ERR_DECRYPT);
	assert_int_equal(jwe_check(out, K.ed25519, NULL), DANEMSG_ERR_ALGORITHM);
	assert_int_equal(jwe_check(out, K.p384, NULL), DANEMSG_ERR_ALGORITHM);

	/* A recipient's tampered key fails only that recipient. */
	j = load(out);
	flip_string(json_array_get(json_object_get(j, "recipients"), 1), "encrypted_key");
	text = dump_free(j);
	assert_int_equal(jwe_check(text, K.p256, NULL), DANEMSG_ERR_DECRYPT);
	assert_int_equal(jwe_check(text, K.rsa, "multi"), DANEMSG_OK);
	assert_int_equal(jwe_check(text, K.p256b, "multi"), DANEMSG_OK);
	free(text);
	/* A per-recipient member that repeats a protected one, and enc per recipient. */
	j = load(out);
	json_object_set_new(json_object_get(json_array_get(json_object_get(j, "recipients"), 0),
					    "header"),
			    "enc", json_string("A256GCM"));
	text = dump_free(j);
	assert_int_equal(jwe_check(text, K.rsa, NULL), DANEMSG_ERR_MALFORMED);
	free(text);
	/* Mixed with the flattened form. */
	text = set_member(out, "encrypted_key", "AAAA");
	assert_int_equal(jwe_check(text, K.rsa, NULL), DANEMSG_ERR_MALFORMED);
	free(text);
	/* Empty recipients, or too many. */
	j = load(out);
	json_object_set_new(j, "recipients", json_array());
	text = dump_free(j);
	assert_int_equal(jwe_check(text, K.rsa, NULL), DANEMSG_ERR_MALFORMED);
	free(text);
	j = load(out);
	list = json_object_get(j, "recipients");
	while (json_array_size(list) <= JOSE_MAX_RECIPIENTS)
		json_array_append(list, json_array_get(list, 0));
	text = dump_free(j);
	assert_int_equal(jwe_check(text, K.rsa, NULL), DANEMSG_ERR_TOO_LARGE);
	free(text);
	free(out);

	/* Encrypting: a recipient header that repeats the protected header is refused. */
	{
		json_t *p = json_pack("{s:s}", "kid", "shared");
		jose_recipient two[] = { { K.rsa, JOSE_ALG_UNKNOWN, ha },
					 { K.p256, JOSE_ALG_UNKNOWN, hb } };
		json_t *bad = json_pack("{s:s}", "kid", "x");

		assert_int_equal(jose_jwe_encrypt(two, 2, JOSE_ENC_A256GCM, p,
						  (const uint8_t *)"m", 1, NULL, 0, &out, &len),
				 DANEMSG_ERR_INVALID_ARG);
		assert_null(out);
		/* An alg in the shared protected header does not fit several recipients. */
		json_decref(p);
		p = json_pack("{s:s}", "alg", "RSA-OAEP-256");
		assert_int_equal(jose_jwe_encrypt(two, 2, JOSE_ENC_A256GCM, p,
						  (const uint8_t *)"m", 1, NULL, 0, &out, &len),
				 DANEMSG_ERR_INVALID_ARG);
		json_decref(p);
		json_decref(bad);
	}
	json_decref(ha);
	json_decref(hb);
	json_decref(hc);
	json_decref(hd);
}

static void test_jwe_forms(void **state)
{
	char *flat = encrypt_to(K.rsa, JOSE_ENC_A256CBC_HS512, NULL, "forms");
	char *compact = jwe_compact(flat), *general = jwe_general(flat);
	char *text;

	(void)state;
	assert_int_equal(jwe_check(flat, K.rsa, "forms"), DANEMSG_OK);
	assert_int_equal(jwe_check(compact, K.rsa, "forms"), DANEMSG_OK);
	assert_int_equal(jwe_check(general, K.rsa, "forms"), DANEMSG_OK);
	text = cat3(compact, ".", "AAAA");
	assert_int_equal(jwe_check(text, K.rsa, NULL), DANEMSG_ERR_MALFORMED);
	free(text);
	assert_int_equal(jwe_check("a.b.c", K.rsa, NULL), DANEMSG_ERR_MALFORMED);
	assert_int_equal(jwe_check("....", K.rsa, NULL), DANEMSG_ERR_MALFORMED);
	assert_int_equal(jwe_check("{}", K.rsa, NULL), DANEMSG_ERR_MALFORMED);
	assert_int_equal(jwe_check("[]", K.rsa, NULL), DANEMSG_ERR_MALFORMED);
	free(flat);
	free(compact);
	free(general);

	/* ECDH-ES with epk in the per-recipient header (as jwcrypto writes it). */
	flat = encrypt_to(K.x25519, JOSE_ENC_A256GCM, NULL, "epk outside");
	{
		json_t *j = load(flat), *h = protected_of(flat);
		json_t *epk = json_incref(json_object_get(h, "epk"));
		char *hdr;

		json_object_del(h, "epk");
		hdr = dump_free(h);
		h = NULL;
		free(flat);
		{
			char *h64 = b64s(hdr);

			json_object_set_new(j, "protected", json_string(h64));
			free(h64);
		}
		json_object_set_new(j, "header", json_pack("{s:o}", "epk", epk));
		text = dump_free(j);
		/* The protected header changed, so the tag fails: but parsing finds the epk. */
		assert_int_equal(jwe_check(text, K.x25519, NULL), DANEMSG_ERR_DECRYPT);
		free(text);
		free(hdr);
	}
}

/* Every part of a JWE, changed, is refused with DANEMSG_ERR_DECRYPT (no other signal). */
static void test_jwe_tamper(void **state)
{
	static const char *const parts[] = { "encrypted_key", "iv", "ciphertext", "tag" };
	EVP_PKEY *keys[] = { K.rsa, K.p256, K.x25519 };

	(void)state;
	for (size_t k = 0; k < 3; k++) {
		for (int e = JOSE_ENC_A256GCM; e <= JOSE_ENC_A256CBC_HS512; e++) {
			char *flat = encrypt_to(keys[k], (jose_enc)e, "{\"kid\":\"k\"}",
						"tamper with me, if you can");
			json_t *h = protected_of(flat);
			char *text, *hdr;

			for (size_t p = 0; p < 4; p++) {
				text = flip_member(flat, parts[p]);
				assert_int_equal(jwe_check(text, keys[k], NULL),
						 DANEMSG_ERR_DECRYPT);
				free(text);
			}
			json_object_set_new(h, "kid", json_string("other"));
			hdr = dump_free(h);
			text = set_protected(flat, hdr);
			assert_int_equal(jwe_check(text, keys[k], NULL), DANEMSG_ERR_DECRYPT);
			free(text);
			free(hdr);
			/* An aad member added: the AAD changes. */
			text = set_member(flat, "aad", "AAAA");
			assert_int_equal(jwe_check(text, keys[k], NULL), DANEMSG_ERR_DECRYPT);
			free(text);
			/* Shorter ciphertext. */
			text = set_member(flat, "ciphertext", e == JOSE_ENC_A256GCM ? "AAAA" :
						   "AAAAAAAAAAAAAAAAAAAAAA");
			assert_int_equal(jwe_check(text, keys[k], NULL), DANEMSG_ERR_DECRYPT);
			free(text);
			/* Wrong lengths: IV, tag, encrypted key. */
			text = set_member(flat, "iv", "AAAAAAAAAAAAAAA");
			assert_int_equal(jwe_check(text, keys[k], NULL), DANEMSG_ERR_MALFORMED);
			free(text);
			text = set_member(flat, "iv", "AAAAAAAAAAAAAAAAAAAAAAAA");
			assert_int_equal(jwe_check(text, keys[k], NULL), DANEMSG_ERR_MALFORMED);
			free(text);
			text = set_member(flat, "tag", "AAAAAAAAAAAAAAAAAAAA");
			assert_int_equal(jwe_check(text, keys[k], NULL), DANEMSG_ERR_MALFORMED);
			free(text);
			text = set_member(flat, "tag", "");
			assert_int_equal(jwe_check(text, keys[k], NULL), DANEMSG_ERR_MALFORMED);
			free(text);
			text = set_member(flat, "encrypted_key", "AAAAAAAAAAAAAAAAAAAAAA");
			assert_int_equal(jwe_check(text, keys[k], NULL), DANEMSG_ERR_DECRYPT);
			free(text);
			text = set_member(flat, "encrypted_key", "");
			assert_int_equal(jwe_check(text, keys[k], NULL), DANEMSG_ERR_MALFORMED);
			free(text);
			if (e == JOSE_ENC_A256CBC_HS512) {
				/* Not a whole number of blocks. */
				text = set_member(flat, "ciphertext", "AAAAAAAAAAAAAAAAAAA");
				assert_int_equal(jwe_check(text, keys[k], NULL),
						 DANEMSG_ERR_MALFORMED);
				free(text);
				text = set_member(flat, "ciphertext", "");
				assert_int_equal(jwe_check(text, keys[k], NULL),
						 DANEMSG_ERR_MALFORMED);
				free(text);
			}
			free(flat);
		}
	}
}

/* A JWE made by hand (OpenSSL directly) whose encrypted key holds a CEK of cek_len bytes. */
static char *handmade_rsa_jwe(size_t cek_len)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, K.rsa, NULL);
	uint8_t cek[64] = { 1 }, ek[512], iv[12] = { 2 }, tag[16] = { 3 }, ct[4] = { 4 };
	size_t ek_len = sizeof(ek);
	char *h = b64s("{\"alg\":\"RSA-OAEP-256\",\"enc\":\"A256GCM\"}"), *e, *i, *c, *t, *out;
	json_t *j;

	assert_non_null(ctx);
	assert_true(EVP_PKEY_encrypt_init(ctx) > 0);
	assert_true(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) > 0);
	assert_true(EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) > 0);
	assert_true(EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) > 0);
	assert_true(EVP_PKEY_encrypt(ctx, ek, &ek_len, cek, cek_len) > 0);
	EVP_PKEY_CTX_free(ctx);
	e = b64(ek, ek_len);
	i = b64(iv, sizeof(iv));
	c = b64(ct, sizeof(ct));
	t = b64(tag, sizeof(tag));
	j = json_pack("{s:s,s:s,s:s,s:s,s:s}", "protected", h, "encrypted_key", e, "iv", i,
		      "ciphertext", c, "tag", t);
	out = dump_free(j);
	free(h);
	free(e);
	free(i);
	free(c);
	free(t);
	return out;
}

/* RSA-OAEP: a bad key and a good key with a wrong tag look the same (RFC 7516 11.5). */
static void test_jwe_rsa_no_oracle(void **state)
{
	char *wrong_len = handmade_rsa_jwe(16), *right_len = handmade_rsa_jwe(32);
	char *flat = encrypt_to(K.rsa, JOSE_ENC_A256GCM, NULL, "x");
	char *garbage = set_member(flat, "encrypted_key", "AAAA");

	(void)state;
	assert_int_equal(jwe_check(wrong_len, K.rsa, NULL), DANEMSG_ERR_DECRYPT);
	assert_int_equal(jwe_check(right_len, K.rsa, NULL), DANEMSG_ERR_DECRYPT);
	assert_int_equal(jwe_check(garbage, K.rsa, NULL), DANEMSG_ERR_DECRYPT);
	free(wrong_len);
	free(right_len);
	free(flat);
	free(garbage);
}

/* The header with its epk changed by edit(), re-encoded. */
static char *with_epk(const char *flat, const char *member, json_t *value)
{
	json_t *h = protected_of(flat);
	char *hdr, *out;

	if (value)
		json_object_set_new(json_object_get(h, "epk"), member, value);
	else
		json_object_del(json_object_get(h, "epk"), member);
	hdr = dump_free(h);
	out = set_protected(flat, hdr);
	free(hdr);
	return out;
}

static void test_jwe_epk_checks(void **state)
{
	char *p = encrypt_to(K.p256, JOSE_ENC_A256GCM, NULL, "m");
	char *x = encrypt_to(K.x25519, JOSE_ENC_A256GCM, NULL, "m");
	uint8_t zeros[32] = { 0 }, low[32] = { 1 };
	json_t *h;
	char *text, *coord;

	(void)state;
	/* A P-256 point off the curve: y changed. */
	h = protected_of(p);
	coord = strdup(json_string_value(json_object_get(json_object_get(h, "epk"), "y")));
	coord[0] = coord[0] == 'A' ? 'B' : 'A';
	text = with_epk(p, "y", json_string(coord));
	assert_int_equal(jwe_check(text, K.p256, NULL), DANEMSG_ERR_MALFORMED);
	free(text);
	free(coord);
	json_decref(h);
	/* Coordinates of the wrong length, missing, or a private member. */
	text = with_epk(p, "x", json_string("AAAA"));
	assert_int_equal(jwe_check(text, K.p256, NULL), DANEMSG_ERR_MALFORMED);
	free(text);
	text = with_epk(p, "y", NULL);
	assert_int_equal(jwe_check(text, K.p256, NULL), DANEMSG_ERR_MALFORMED);
	free(text);
	text = with_epk(p, "d", json_string("AAAA"));
	assert_int_equal(jwe_check(text, K.p256, NULL), DANEMSG_ERR_MALFORMED);
	free(text);
	/* The wrong curve or key type for our key: not an entry for this key. */
	text = with_epk(p, "crv", json_string("P-384"));
	assert_int_equal(jwe_check(text, K.p256, NULL), DANEMSG_ERR_ALGORITHM);
	free(text);
	text = with_epk(p, "kty", json_string("OKP"));
	assert_int_equal(jwe_check(text, K.p256, NULL), DANEMSG_ERR_ALGORITHM);
	free(text);
	text = with_epk(x, "crv", json_string("Ed25519"));
	assert_int_equal(jwe_check(text, K.x25519, NULL), DANEMSG_ERR_ALGORITHM);
	free(text);
	text = with_epk(x, "crv", json_string("P-256"));
	assert_int_equal(jwe_check(text, K.x25519, NULL), DANEMSG_ERR_ALGORITHM);
	free(text);
	/* X25519: 31 or 33 bytes, the zero point and a low-order point. */
	coord = b64(zeros, 31);
	text = with_epk(x, "x", json_string(coord));
	assert_int_equal(jwe_check(text, K.x25519, NULL), DANEMSG_ERR_MALFORMED);
	free(text);
	free(coord);
	coord = b64(zeros, 32);
	text = with_epk(x, "x", json_string(coord));
	assert_int_equal(jwe_check(text, K.x25519, NULL), DANEMSG_ERR_DECRYPT);
	free(text);
	free(coord);
	coord = b64(low, 32);
	text = with_epk(x, "x", json_string(coord));
	assert_int_equal(jwe_check(text, K.x25519, NULL), DANEMSG_ERR_DECRYPT);
	free(text);
	free(coord);
	/* epk missing or not an object. */
	h = protected_of(x);
	json_object_del(h, "epk");
	coord = dump_free(h);
	text = set_protected(x, coord);
	assert_int_equal(jwe_check(text, K.x25519, NULL), DANEMSG_ERR_MALFORMED);
	free(text);
	free(coord);
	h = protected_of(x);
	json_object_set_new(h, "epk", json_string("x"));
	coord = dump_free(h);
	text = set_protected(x, coord);
	assert_int_equal(jwe_check(text, K.x25519, NULL), DANEMSG_ERR_MALFORMED);
	free(text);
	free(coord);
	/* apu/apv that are not base64url. */
	h = protected_of(x);
	json_object_set_new(h, "apu", json_string("A=="));
	coord = dump_free(h);
	text = set_protected(x, coord);
	assert_int_equal(jwe_check(text, K.x25519, NULL), DANEMSG_ERR_MALFORMED);
	free(text);
	free(coord);
	free(p);
	free(x);
}

/* apu/apv given by the caller enter the KDF: changing them breaks the key. */
static void test_jwe_apu_apv(void **state)
{
	char *text = encrypt_to(K.p256, JOSE_ENC_A256GCM,
				"{\"apu\":\"QWxpY2U\",\"apv\":\"Qm9i\"}", "party info");
	json_t *h = protected_of(text);
	char *hdr, *t2;

	(void)state;
	assert_int_equal(jwe_check(text, K.p256, "party info"), DANEMSG_OK);
	json_object_set_new(h, "apv", json_string("Qm9j"));
	hdr = dump_free(h);
	t2 = set_protected(text, hdr);
	assert_int_equal(jwe_check(t2, K.p256, NULL), DANEMSG_ERR_DECRYPT);
	free(t2);
	free(hdr);
	free(text);
}

static char *fake_jwe(const char *header)
{
	char *h = b64s(header), *out;
	json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s}", "protected", h, "encrypted_key",
			      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "iv",
			      "AAAAAAAAAAAAAAAA", "ciphertext", "AAAA", "tag",
			      "AAAAAAAAAAAAAAAAAAAAAA");

	out = dump_free(j);
	free(h);
	return out;
}

static void test_jwe_refused(void **state)
{
	static const char *const understood[] = { "exp", NULL };
	static const struct {
		const char *header;
		danemsg_err err;
	} t[] = {
		{ "{\"alg\":\"dir\",\"enc\":\"A256GCM\"}", DANEMSG_ERR_ALGORITHM },
		{ "{\"alg\":\"RSA-OAEP\",\"enc\":\"A256GCM\"}", DANEMSG_ERR_ALGORITHM },
		{ "{\"alg\":\"RSA1_5\",\"enc\":\"A256GCM\"}", DANEMSG_ERR_ALGORITHM },
		{ "{\"alg\":\"ECDH-ES\",\"enc\":\"A256GCM\"}", DANEMSG_ERR_ALGORITHM },
		{ "{\"alg\":\"A256KW\",\"enc\":\"A256GCM\"}", DANEMSG_ERR_ALGORITHM },
		{ "{\"alg\":\"none\",\"enc\":\"A256GCM\"}", DANEMSG_ERR_ALGORITHM },
		{ "{\"alg\":\"ES256\",\"enc\":\"A256GCM\"}", DANEMSG_ERR_ALGORITHM },
		{ "{\"alg\":\"RSA-OAEP-256\",\"enc\":\"A128GCM\"}", DANEMSG_ERR_ALGORITHM },
		{ "{\"alg\":\"RSA-OAEP-256\",\"enc\":\"A128CBC-HS256\"}", DANEMSG_ERR_ALGORITHM },
		{ "{\"alg\":\"RSA-OAEP-256\",\"enc\":\"XYZ\"}", DANEMSG_ERR_ALGORITHM },
		{ "{\"alg\":\"RSA-OAEP-256\",\"enc\":\"A256GCM\",\"zip\":\"DEF\"}",
		  DANEMSG_ERR_ALGORITHM },
		{ "{\"alg\":\"RSA-OAEP-256\",\"enc\":\"A256GCM\",\"crit\":[\"zzz\"],\"zzz\":1}",
		  DANEMSG_ERR_ALGORITHM },
		{ "{\"alg\":\"RSA-OAEP-256\",\"enc\":\"A256GCM\",\"crit\":[\"exp\"]}",
		  DANEMSG_ERR_MALFORMED },
		{ "{\"alg\":\"RSA-OAEP-256\"}", DANEMSG_ERR_MALFORMED },
		{ "{\"enc\":\"A256GCM\"}", DANEMSG_ERR_MALFORMED },
		{ "{\"alg\":\"RSA-OAEP-256\",\"enc\":1}", DANEMSG_ERR_MALFORMED },
		{ "{\"alg\":\"RSA-OAEP-256\",\"enc\":\"A256GCM\",\"enc\":\"A256GCM\"}",
		  DANEMSG_ERR_MALFORMED },
		{ "{\"alg\":\"ECDH-ES+A256KW\",\"enc\":\"A256GCM\"}", DANEMSG_ERR_MALFORMED },
	};
	char *text;
	jose_jwe jwe;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		text = fake_jwe(t[i].header);
		assert_int_equal(jose_jwe_parse(text, strlen(text), understood, &jwe), t[i].err);
		assert_null(jwe.recipients);
		free(text);
	}
	/* crit understood: parses (then the fake content fails the tag). */
	text = fake_jwe("{\"alg\":\"RSA-OAEP-256\",\"enc\":\"A256GCM\","
			"\"crit\":[\"exp\"],\"exp\":1}");
	assert_int_equal(jose_jwe_parse(text, strlen(text), understood, &jwe), DANEMSG_OK);
	jose_jwe_clear(&jwe);
	assert_int_equal(jose_jwe_parse(text, strlen(text), NULL, &jwe), DANEMSG_ERR_ALGORITHM);
	free(text);
	/* The IETF cookbook's X25519 ECDH-ES (direct) + A128GCM example. */
	assert_int_equal(jwe_check(COOKBOOK_X25519_ECDH_ES, K.x25519, NULL), DANEMSG_ERR_ALGORITHM);
	/* A member in both the protected and the shared unprotected header; crit unprotected;
	 * zip unprotected. */
	text = encrypt_to(K.rsa, JOSE_ENC_A256GCM, "{\"kid\":\"k\"}", "m");
	{
		json_t *j = load(text);
		char *t2;

		json_object_set_new(j, "unprotected", json_pack("{s:s}", "kid", "k"));
		t2 = dump_free(j);
		assert_int_equal(jwe_check(t2, K.rsa, NULL), DANEMSG_ERR_MALFORMED);
		free(t2);
		j = load(text);
		json_object_set_new(j, "unprotected", json_pack("{s:[s],s:i}", "crit", "exp",
								"exp", 1));
		t2 = dump_free(j);
		assert_int_equal(jose_jwe_parse(t2, strlen(t2), understood, &jwe),
				 DANEMSG_ERR_MALFORMED);
		free(t2);
		j = load(text);
		json_object_set_new(j, "header", json_pack("{s:s}", "zip", "DEF"));
		t2 = dump_free(j);
		assert_int_equal(jwe_check(t2, K.rsa, NULL), DANEMSG_ERR_ALGORITHM);
		free(t2);
		j = load(text);
		json_object_set_new(j, "header", json_pack("{s:s}", "alg", "RSA-OAEP-256"));
		t2 = dump_free(j);
		assert_int_equal(jwe_check(t2, K.rsa, NULL), DANEMSG_ERR_MALFORMED);
		free(t2);
		/* An unprotected member beside the protected ones is fine (not authenticated). */
		j = load(text);
		json_object_set_new(j, "unprotected", json_pack("{s:s}", "x5u", "dns:x"));
		t2 = dump_free(j);
		assert_int_equal(jwe_check(t2, K.rsa, "m"), DANEMSG_OK);
		free(t2);
	}
	free(text);
	/* Duplicate keys in the outer JSON. */
	assert_int_equal(jwe_check("{\"iv\":\"AAAA\",\"iv\":\"AAAA\"}", K.rsa, NULL),
			 DANEMSG_ERR_MALFORMED);
}

static void test_jwe_key_mismatch(void **state)
{
	char *rsa = encrypt_to(K.rsa, JOSE_ENC_A256GCM, NULL, "m");
	char *p256 = encrypt_to(K.p256, JOSE_ENC_A256GCM, NULL, "m");
	char *x = encrypt_to(K.x25519, JOSE_ENC_A256CBC_HS512, NULL, "m");
	jose_recipient r = { K.ed25519, JOSE_ALG_UNKNOWN, NULL };
	char *out = NULL;
	size_t len;

	(void)state;
	assert_int_equal(jwe_check(rsa, K.p256, NULL), DANEMSG_ERR_ALGORITHM);
	assert_int_equal(jwe_check(rsa, K.x25519, NULL), DANEMSG_ERR_ALGORITHM);
	assert_int_equal(jwe_check(rsa, K.rsa1024, NULL), DANEMSG_ERR_ALGORITHM);
	assert_int_equal(jwe_check(p256, K.rsa, NULL), DANEMSG_ERR_ALGORITHM);
	assert_int_equal(jwe_check(p256, K.x25519, NULL), DANEMSG_ERR_ALGORITHM);
	assert_int_equal(jwe_check(p256, K.p384, NULL), DANEMSG_ERR_ALGORITHM);
	assert_int_equal(jwe_check(x, K.p256, NULL), DANEMSG_ERR_ALGORITHM);
	assert_int_equal(jwe_check(x, K.ed25519, NULL), DANEMSG_ERR_ALGORITHM);
	/* Encrypting to keys that cannot receive. */
	assert_int_equal(jose_jwe_encrypt(&r, 1, JOSE_ENC_A256GCM, NULL, (const uint8_t *)"m", 1,
					  NULL, 0, &out, &len),
			 DANEMSG_ERR_ALGORITHM);
	r.key = K.rsa1024;
	assert_int_equal(jose_jwe_encrypt(&r, 1, JOSE_ENC_A256GCM, NULL, (const uint8_t *)"m", 1,
					  NULL, 0, &out, &len),
			 DANEMSG_ERR_ALGORITHM);
	r.key = K.p384;
	assert_int_equal(jose_jwe_encrypt(&r, 1, JOSE_ENC_A256GCM, NULL, (const uint8_t *)"m", 1,
					  NULL, 0, &out, &len),
			 DANEMSG_ERR_ALGORITHM);
	r.key = K.p256;
	r.alg = JOSE_ALG_RSA_OAEP_256;
	assert_int_equal(jose_jwe_encrypt(&r, 1, JOSE_ENC_A256GCM, NULL, (const uint8_t *)"m", 1,
					  NULL, 0, &out, &len),
			 DANEMSG_ERR_ALGORITHM);
	r.alg = JOSE_ALG_ES256;
	assert_int_equal(jose_jwe_encrypt(&r, 1, JOSE_ENC_A256GCM, NULL, (const uint8_t *)"m", 1,
					  NULL, 0, &out, &len),
			 DANEMSG_ERR_ALGORITHM);
	r.alg = JOSE_ALG_UNKNOWN;
	assert_int_equal(jose_jwe_encrypt(&r, 1, JOSE_ENC_UNKNOWN, NULL, (const uint8_t *)"m", 1,
					  NULL, 0, &out, &len),
			 DANEMSG_ERR_ALGORITHM);
	assert_null(out);
	free(rsa);
	free(p256);
	free(x);
}

static void test_jwe_truncated_and_oversized(void **state)
{
	char *flat = encrypt_to(K.p256, JOSE_ENC_A256GCM, "{\"kid\":\"x\"}", "abc");
	char *forms[] = { flat, jwe_compact(flat), jwe_general(flat) };
	jose_recipient many[JOSE_MAX_RECIPIENTS + 1];
	char *big, *out = NULL;
	size_t len;
	jose_jwe jwe;

	(void)state;
	for (size_t f = 0; f < 3; f++) {
		size_t n = strlen(forms[f]);

		for (size_t cut = 0; cut < n; cut++) {
			char *prefix = strndup(forms[f], cut);

			assert_int_not_equal(jwe_check(prefix, K.p256, NULL), DANEMSG_OK);
			free(prefix);
		}
		assert_int_equal(jwe_check(forms[f], K.p256, "abc"), DANEMSG_OK);
	}
	big = malloc(JOSE_MAX_INPUT + 2);
	assert_non_null(big);
	memset(big, 'A', JOSE_MAX_INPUT + 1);
	big[JOSE_MAX_INPUT + 1] = 0;
	assert_int_equal(jose_jwe_parse(big, JOSE_MAX_INPUT + 1, NULL, &jwe),
			 DANEMSG_ERR_TOO_LARGE);
	assert_int_equal(jose_jwe_encrypt(&(jose_recipient){ K.p256, 0, NULL }, 1, JOSE_ENC_A256GCM,
					  NULL, (const uint8_t *)big, JOSE_MAX_INPUT + 1, NULL, 0,
					  &out, &len),
			 DANEMSG_ERR_TOO_LARGE);
	free(big);
	for (size_t i = 0; i <= JOSE_MAX_RECIPIENTS; i++)
		many[i] = (jose_recipient){ K.p256, 0, NULL };
	assert_int_equal(jose_jwe_encrypt(many, JOSE_MAX_RECIPIENTS + 1, JOSE_ENC_A256GCM, NULL,
					  (const uint8_t *)"m", 1, NULL, 0, &out, &len),
			 DANEMSG_ERR_INVALID_ARG);
	for (size_t f = 0; f < 3; f++)
		free(forms[f]);
}

static void test_jwe_null_args(void **state)
{
	jose_recipient r = { K.p256, 0, NULL }, no_key = { NULL, 0, NULL };
	json_t *not_object = json_integer(1);
	char *text = encrypt_to(K.p256, JOSE_ENC_A256GCM, NULL, "m"), *out = (char *)1;
	uint8_t *pt = NULL;
	size_t len, pt_len;
	jose_jwe jwe;

	(void)state;
	assert_int_equal(jose_jwe_encrypt(NULL, 1, JOSE_ENC_A256GCM, NULL, (const uint8_t *)"m", 1,
					  NULL, 0, &out, &len),
			 DANEMSG_ERR_INVALID_ARG);
	assert_null(out);
	assert_int_equal(jose_jwe_encrypt(&r, 0, JOSE_ENC_A256GCM, NULL, (const uint8_t *)"m", 1,
					  NULL, 0, &out, &len),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(jose_jwe_encrypt(&no_key, 1, JOSE_ENC_A256GCM, NULL, (const uint8_t *)"m",
					  1, NULL, 0, &out, &len),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(jose_jwe_encrypt(&r, 1, JOSE_ENC_A256GCM, not_object, (const uint8_t *)"m",
					  1, NULL, 0, &out, &len),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(jose_jwe_encrypt(&r, 1, JOSE_ENC_A256GCM, NULL, NULL, 1, NULL, 0, &out,
					  &len),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(jose_jwe_encrypt(&r, 1, JOSE_ENC_A256GCM, NULL, (const uint8_t *)"m", 1,
					  NULL, 1, &out, &len),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(jose_jwe_encrypt(&r, 1, JOSE_ENC_A256GCM, NULL, (const uint8_t *)"m", 1,
					  NULL, 0, NULL, &len),
			 DANEMSG_ERR_INVALID_ARG);
	r.header = not_object;
	assert_int_equal(jose_jwe_encrypt(&r, 1, JOSE_ENC_A256GCM, NULL, (const uint8_t *)"m", 1,
					  NULL, 0, &out, &len),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(jose_jwe_parse(NULL, 1, NULL, &jwe), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(jose_jwe_parse(text, strlen(text), NULL, NULL), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(jose_jwe_parse(text, strlen(text), NULL, &jwe), DANEMSG_OK);
	assert_int_equal(jose_jwe_decrypt(NULL, K.p256, NULL, NULL, &pt, &pt_len, NULL),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(jose_jwe_decrypt(&jwe, NULL, NULL, NULL, &pt, &pt_len, NULL),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(jose_jwe_decrypt(&jwe, K.p256, NULL, NULL, NULL, &pt_len, NULL),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(jose_jwe_decrypt(&jwe, K.p256, NULL, NULL, &pt, NULL, NULL),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(jose_jwe_decrypt(&jwe, K.p256, NULL, NULL, &pt, &pt_len, NULL),
			 DANEMSG_OK);
	free(pt);
	/* The id predicate with a broken argument matches nothing. */
	assert_int_equal(jose_jwe_decrypt(&jwe, K.p256, jose_recipient_has_id, NULL, &pt, &pt_len,
					  NULL),
			 DANEMSG_ERR_DECRYPT);
	jose_jwe_clear(&jwe);
	assert_int_equal(jose_jwe_decrypt(&jwe, K.p256, NULL, NULL, &pt, &pt_len, NULL),
			 DANEMSG_ERR_INVALID_ARG);
	jose_jwe_clear(NULL);
	json_decref(not_object);
	free(text);
}

/* The reference system's message: RS256 JWS (x5u) inside RSA-OAEP-256 + A256CBC-HS512. */
static void test_reference_wire_format(void **state)
{
	static const char *const jwe_members[] = { "ciphertext", "encrypted_key", "iv", "protected",
						   "tag", NULL };
	char *inner = sign(K.rsa, JOSE_ALG_RS256,
			   "{\"x5u\":\"dns://alice._device.example.net?type=TLSA\"}",
			   "hello world");
	char *outer = encrypt_to(K.rsab, JOSE_ENC_A256CBC_HS512,
				 "{\"typ\":\"JWE\","
				 "\"x5u\":\"dns://bob._device.example.net?type=TLSA\"}",
				 inner);
	json_t *h = protected_of(outer);
	jose_jwe jwe;
	jose_jws jws;
	uint8_t *pt = NULL;
	size_t pt_len = 0;

	(void)state;
	assert_true(has_members(outer, jwe_members));
	assert_string_equal(json_string_value(json_object_get(h, "alg")), "RSA-OAEP-256");
	assert_string_equal(json_string_value(json_object_get(h, "enc")), "A256CBC-HS512");
	assert_string_equal(json_string_value(json_object_get(h, "typ")), "JWE");
	json_decref(h);
	assert_int_equal(jose_jwe_parse(outer, strlen(outer), NULL, &jwe), DANEMSG_OK);
	assert_int_equal(jose_jwe_decrypt(&jwe, K.rsab, NULL, NULL, &pt, &pt_len, NULL),
			 DANEMSG_OK);
	assert_int_equal(jose_jws_parse((const char *)pt, pt_len, NULL, &jws), DANEMSG_OK);
	assert_int_equal(jose_jws_verify(&jws, K.rsa), DANEMSG_OK);
	assert_string_equal((const char *)jws.payload, "hello world");
	assert_string_equal(json_string_value(json_object_get(jws.protected_header, "x5u")),
			    "dns://alice._device.example.net?type=TLSA");
	jose_jws_clear(&jws);
	jose_jwe_clear(&jwe);
	free(pt);
	free(inner);
	free(outer);
}

/* ---- JWK and thumbprints ---- */

static void test_jwk(void **state)
{
	EVP_PKEY *keys[] = { K.p256, K.ed25519, K.x25519, K.rsa };
	const char *kty[] = { "EC", "OKP", "OKP", "RSA" };
	static const struct {
		const char *jwk;
		danemsg_err err;
	} bad[] = {
		{ "{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\"}",
		  DANEMSG_ERR_ALGORITHM },
		{ "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X "\"}", DANEMSG_ERR_MALFORMED },
		{ "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X "\",\"y\":\"" A3_X "\"}",
		  DANEMSG_ERR_MALFORMED },
		{ "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAAA\",\"y\":\"" A3_Y "\"}",
		  DANEMSG_ERR_MALFORMED },
		{ "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\",\"d\":"
		  "\"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI\"}", DANEMSG_ERR_MALFORMED },
		{ "{\"kty\":\"EC\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\"}", DANEMSG_ERR_MALFORMED },
		{ "{\"kty\":\"OKP\",\"crv\":\"X448\",\"x\":\"" A4_X "\"}", DANEMSG_ERR_ALGORITHM },
		{ "{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"AAAA\"}", DANEMSG_ERR_MALFORMED },
		{ "{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":1}", DANEMSG_ERR_MALFORMED },
		{ "{\"kty\":\"RSA\",\"n\":\"AAAA\",\"e\":\"AQAB\"}", DANEMSG_ERR_MALFORMED },
		{ "{\"kty\":\"RSA\",\"n\":\"" R38_N "\",\"e\":\"AQAA\"}", DANEMSG_ERR_MALFORMED },
		{ "{\"kty\":\"RSA\",\"n\":\"" R38_N "\"}", DANEMSG_ERR_MALFORMED },
		{ "{\"kty\":\"oct\",\"k\":\"AAAA\"}", DANEMSG_ERR_ALGORITHM },
		{ "{\"crv\":\"P-256\"}", DANEMSG_ERR_MALFORMED },
		{ "[]", DANEMSG_ERR_MALFORMED },
	};
	char t1[JOSE_THUMBPRINT_SIZE], t2[JOSE_THUMBPRINT_SIZE];

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		json_t *jwk = NULL;
		EVP_PKEY *back = NULL;

		assert_int_equal(jose_jwk_from_pkey(keys[i], &jwk), DANEMSG_OK);
		assert_string_equal(json_string_value(json_object_get(jwk, "kty")), kty[i]);
		assert_null(json_object_get(jwk, "d"));
		assert_int_equal(jose_jwk_to_pkey(jwk, &back), DANEMSG_OK);
		assert_int_equal(EVP_PKEY_eq(keys[i], back), 1);
		assert_int_equal(jose_jwk_thumbprint(keys[i], t1), DANEMSG_OK);
		assert_int_equal(jose_jwk_thumbprint(back, t2), DANEMSG_OK);
		assert_string_equal(t1, t2);
		assert_int_equal(strlen(t1), 43);
		EVP_PKEY_free(back);
		json_decref(jwk);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *jwk = load(bad[i].jwk);
		EVP_PKEY *key = (EVP_PKEY *)1;

		assert_int_equal(jose_jwk_to_pkey(jwk, &key), bad[i].err);
		assert_null(key);
		json_decref(jwk);
	}
	assert_int_equal(jose_jwk_from_pkey(K.p384, &(json_t *){ NULL }), DANEMSG_ERR_ALGORITHM);
	/* An RSA modulus of 1024 bits. */
	{
		uint8_t n[128];
		char *n64;
		json_t *jwk;
		EVP_PKEY *key = NULL;

		memset(n, 0xc5, sizeof(n));
		n64 = b64(n, sizeof(n));
		jwk = json_pack("{s:s,s:s,s:s}", "kty", "RSA", "n", n64, "e", "AQAB");
		assert_int_equal(jose_jwk_to_pkey(jwk, &key), DANEMSG_ERR_ALGORITHM);
		assert_null(key);
		json_decref(jwk);
		free(n64);
	}
}

static void test_thumbprint_vectors(void **state)
{
	EVP_PKEY *r38 = jwk_key("{\"kty\":\"RSA\",\"n\":\"" R38_N "\",\"e\":\"AQAB\","
				"\"alg\":\"RS256\",\"kid\":\"2011-04-29\"}");
	EVP_PKEY *a4 = jwk_key("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" A4_X "\"}");
	X509 *cert = tu_cert(K.p256, "alice.example.net", 10);
	unsigned char *der = NULL, md[32];
	int der_len = i2d_X509(cert, &der);
	char tp[JOSE_THUMBPRINT_SIZE], *want;

	(void)state;
	assert_int_equal(jose_jwk_thumbprint(r38, tp), DANEMSG_OK);
	assert_string_equal(tp, R38_THUMBPRINT);
	assert_int_equal(jose_jwk_thumbprint(a4, tp), DANEMSG_OK);
	assert_string_equal(tp, A4_THUMBPRINT);
	/* x5t#S256: the SHA-256 of the certificate's DER. */
	assert_true(der_len > 0);
	assert_int_equal(EVP_Digest(der, (size_t)der_len, md, NULL, EVP_sha256(), NULL), 1);
	want = b64(md, sizeof(md));
	assert_int_equal(jose_x5t_s256(cert, tp), DANEMSG_OK);
	assert_string_equal(tp, want);
	assert_int_equal(jose_x5t_s256(NULL, tp), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(jose_x5t_s256(cert, NULL), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(jose_jwk_thumbprint(NULL, tp), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(jose_jwk_thumbprint(a4, NULL), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(jose_jwk_from_pkey(NULL, &(json_t *){ NULL }), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(jose_jwk_from_pkey(a4, NULL), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(jose_jwk_to_pkey(NULL, &(EVP_PKEY *){ NULL }), DANEMSG_ERR_INVALID_ARG);
	free(want);
	OPENSSL_free(der);
	X509_free(cert);
	EVP_PKEY_free(r38);
	EVP_PKEY_free(a4);
}

static void test_header_parse(void **state)
{
	json_t *h = NULL;

	(void)state;
	assert_int_equal(jose_header_parse("{\"alg\":\"ES256\"}", 15, NULL, &h), DANEMSG_OK);
	assert_string_equal(jose_header_get_string("alg", NULL, h, NULL), "ES256");
	assert_null(jose_header_get_string("kid", h, NULL, NULL));
	assert_null(jose_header_get_string(NULL, h, NULL, NULL));
	json_decref(h);
	assert_int_equal(jose_header_parse("{\"a\":1,\"a\":2}", 13, NULL, &h),
			 DANEMSG_ERR_MALFORMED);
	assert_null(h);
	assert_int_equal(jose_header_parse(NULL, 1, NULL, &h), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(jose_header_parse("{}", 2, NULL, NULL), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(jose_header_parse("{}", JOSE_MAX_HEADER + 1, NULL, &h),
			 DANEMSG_ERR_TOO_LARGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64url_encode_table),
		cmocka_unit_test(test_b64url_decode_table),
		cmocka_unit_test(test_b64url_round_trip),
		cmocka_unit_test(test_b64url_null_args),
		cmocka_unit_test(test_alg_names),
		cmocka_unit_test(test_header_parse),
		cmocka_unit_test(test_jws_round_trip),
		cmocka_unit_test(test_jws_sign_header),
		cmocka_unit_test(test_jws_verify_context_kept),
		cmocka_unit_test(test_jws_signer),
		cmocka_unit_test(test_dump_is_jansson),
		cmocka_unit_test(test_jws_forms),
		cmocka_unit_test(test_jws_vectors),
		cmocka_unit_test(test_jws_tamper),
		cmocka_unit_test(test_jws_refused_algs),
		cmocka_unit_test(test_jws_key_mismatch),
		cmocka_unit_test(test_jws_header_checks),
		cmocka_unit_test(test_jws_truncated_and_oversized),
		cmocka_unit_test(test_jws_null_args),
		cmocka_unit_test(test_jwe_round_trip),
		cmocka_unit_test(test_jwe_large_and_aad),
		cmocka_unit_test(test_jwe_general),
		cmocka_unit_test(test_jwe_forms),
		cmocka_unit_test(test_jwe_tamper),
		cmocka_unit_test(test_jwe_rsa_no_oracle),
		cmocka_unit_test(test_jwe_epk_checks),
		cmocka_unit_test(test_jwe_apu_apv),
		cmocka_unit_test(test_jwe_refused),
		cmocka_unit_test(test_jwe_key_mismatch),
		cmocka_unit_test(test_jwe_truncated_and_oversized),
		cmocka_unit_test(test_jwe_null_args),
		cmocka_unit_test(test_reference_wire_format),
		cmocka_unit_test(test_jwk),
		cmocka_unit_test(test_thumbprint_vectors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

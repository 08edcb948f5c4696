/*
 * Part 1: seal/s and open/s on one core, 1 KiB messages, identities warm in the cache
 * (an offline signed zone: every lookup is a cache hit), for each suite:
 *   p256     ES256 + ECDH-ES+A256KW (P-256) + A256GCM        (native)
 *   ed25519  EdDSA + ECDH-ES+A256KW (X25519) + A256GCM       (native)
 *   rsa      RS256 + RSA-OAEP-256 + A256CBC-HS512            (compat: the reference's format)
 * The bound: the floor, the cheapest correct sequence of raw OpenSSL operations for the
 * suite (every security check once, at its cheapest place: the ephemeral P-256 point on
 * import, the recipient's key when it entered the cache; see docs/benchmarks.md), with
 * every context that can be made once made beforehand, on the same keys and the same
 * sizes (signing input, JWS, AAD), timed in the same run,
 * alternating with ours in slices, in CPU time of this (single) thread. Also: bytes of a sealed
 * 11-byte message, and open/s with a full replay cache.
 *
 * Output: M env.SUITE.seal.ours_ns / .bound_ns (one per run), M env.SUITE.open.*,
 *         M size.SUITE BYTES, M env.p256.open_replay_full.ours_ns / .open_ns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <danemsg.h>

#include "bench.h"
#include "jose.h"

#define ZONE "bench.example."
#define MSG_LEN 1024
#define SLICES 10   /* ours and the bound alternate ten times per run */

/* ---- the bound: raw OpenSSL operations with pre-made contexts ---- */

struct bound {
	int kind;                     /* JOSE_KEY_P256, JOSE_KEY_ED25519 (X25519 enc), _RSA */
	EVP_MD *sha256;
	EVP_MD_CTX *md;
	/* signatures */
	EVP_PKEY_CTX *sign, *verify;  /* ECDSA / RSA over a digest */
	EVP_MD_CTX *ed_sign, *ed_verify;
	EVP_PKEY *sign_key;
	uint8_t sig[512];
	size_t sig_len;
	/* key agreement */
	EVP_PKEY_CTX *keygen, *derive_open;
	EVP_PKEY *enc_priv, *enc_pub;  /* the recipient's key pair */
	uint8_t epk[65];              /* the last seal's ephemeral public key, encoded */
	size_t epk_len;
	EVP_KDF_CTX *kdf;
	EVP_CIPHER *kw_cipher, *content_cipher;
	EVP_CIPHER_CTX *kw, *content;
	uint8_t wrapped[40];
	/* RSA-OAEP */
	EVP_PKEY_CTX *oaep_enc, *oaep_dec;
	uint8_t ek[512];
	size_t ek_len;
	/* CBC-HS512 */
	EVP_MAC *hmac;
	EVP_MAC_CTX *mac;
	/* the data, sized as ours */
	uint8_t *sig_input, *pt, *ct, *aad;
	size_t sig_input_len, pt_len, ct_len, aad_len;
	uint8_t cek[64], iv[16], tag[16];
};

static void digest(struct bound *b, uint8_t md[32])
{
	unsigned int n = 0;
	BENCH_CHECK(EVP_DigestInit_ex2(b->md, b->sha256, NULL) == 1 &&
		    EVP_DigestUpdate(b->md, b->sig_input, b->sig_input_len) == 1 &&
		    EVP_DigestFinal_ex(b->md, md, &n) == 1);
}

static void bound_sign(struct bound *b)
{
	uint8_t md[32], sig[512];
	size_t len = sizeof(sig);
	if (b->kind == JOSE_KEY_ED25519) {
		BENCH_CHECK(EVP_DigestSign(b->ed_sign, sig, &len, b->sig_input,
					   b->sig_input_len) == 1);
		return;
	}
	digest(b, md);
	BENCH_CHECK(EVP_PKEY_sign(b->sign, sig, &len, md, sizeof(md)) == 1);
}

static void bound_verify(struct bound *b)
{
	uint8_t md[32];
	if (b->kind == JOSE_KEY_ED25519) {
		BENCH_CHECK(EVP_DigestVerify(b->ed_verify, b->sig, b->sig_len, b->sig_input,
					     b->sig_input_len) == 1);
		return;
	}
	digest(b, md);
	BENCH_CHECK(EVP_PKEY_verify(b->verify, b->sig, b->sig_len, md, sizeof(md)) == 1);
}

/* ECDH (context ready: private key and peer set), then the Concat KDF. */
static void bound_kek(struct bound *b, EVP_PKEY_CTX *derive, uint8_t kek[32])
{
	uint8_t z[32], info[64] = {0};
	size_t z_len = sizeof(z);
	OSSL_PARAM params[3];
	BENCH_CHECK(EVP_PKEY_derive(derive, z, &z_len) == 1);
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, z, z_len);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, 30);
	params[2] = OSSL_PARAM_construct_end();
	BENCH_CHECK(EVP_KDF_derive(b->kdf, kek, 32, params) == 1);
}

/*
 * The sender's key agreement: a fresh ephemeral key (keygen context made once), its public
 * key encoded for the header (what the recipient needs), and ECDH with the recipient's key,
 * which was checked once, when it entered the cache: no check here (validate = 0).
 */
static void bound_agree_seal(struct bound *b, uint8_t kek[32])
{
	EVP_PKEY *eph = NULL;
	EVP_PKEY_CTX *derive;
	BENCH_CHECK(EVP_PKEY_keygen(b->keygen, &eph) == 1);
	b->epk_len = sizeof(b->epk);
	if (b->kind == JOSE_KEY_P256)
		BENCH_CHECK(EVP_PKEY_get_octet_string_param(eph, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
							    b->epk, sizeof(b->epk),
							    &b->epk_len) == 1);
	else
		BENCH_CHECK(EVP_PKEY_get_raw_public_key(eph, b->epk, &b->epk_len) == 1);
	BENCH_CHECK(derive = EVP_PKEY_CTX_new_from_pkey(NULL, eph, NULL));
	BENCH_CHECK(EVP_PKEY_derive_init(derive) == 1 &&
		    EVP_PKEY_derive_set_peer_ex(derive, b->enc_pub, 0) == 1);
	bound_kek(b, derive, kek);
	EVP_PKEY_CTX_free(derive);
	EVP_PKEY_free(eph);
}

/*
 * The recipient's: the ephemeral key imported from the message, which is where a P-256
 * point is checked to be on the curve (the import decodes it; X25519 needs no check), then
 * ECDH on a context of our own key made once, its peer set per message with validate = 0
 * (the full public-key check would repeat the on-curve check and add a scalar
 * multiplication that a prime-order curve does not need).
 */
static void bound_agree_open(struct bound *b, uint8_t kek[32])
{
	EVP_PKEY *epk = NULL;
	if (b->kind == JOSE_KEY_P256) {
		BENCH_CHECK(epk = EVP_PKEY_new());
		BENCH_CHECK(EVP_PKEY_copy_parameters(epk, b->enc_priv) == 1 &&
			    EVP_PKEY_set1_encoded_public_key(epk, b->epk, b->epk_len) == 1);
	} else {
		BENCH_CHECK(epk = EVP_PKEY_new_raw_public_key_ex(NULL, "X25519", NULL, b->epk,
								 b->epk_len));
	}
	BENCH_CHECK(EVP_PKEY_derive_set_peer_ex(b->derive_open, epk, 0) == 1);
	bound_kek(b, b->derive_open, kek);
	EVP_PKEY_free(epk);
}

static void bound_kw(struct bound *b, int wrap, const uint8_t kek[32])
{
	uint8_t out[48];
	int n = 0, fin = 0;
	BENCH_CHECK(EVP_CipherInit_ex2(b->kw, NULL, kek, NULL, wrap, NULL) == 1);
	BENCH_CHECK(EVP_CipherUpdate(b->kw, out, &n, wrap ? b->cek : b->wrapped,
				     wrap ? 32 : 40) == 1);
	BENCH_CHECK(EVP_CipherFinal_ex(b->kw, out + n, &fin) == 1);
	if (wrap)
		memcpy(b->wrapped, out, 40);
}

static void bound_gcm(struct bound *b, int enc)
{
	int n = 0, fin = 0;
	BENCH_CHECK(EVP_CipherInit_ex2(b->content, NULL, b->cek, b->iv, enc, NULL) == 1);
	BENCH_CHECK(EVP_CipherUpdate(b->content, NULL, &n, b->aad, (int)b->aad_len) == 1);
	if (enc) {
		BENCH_CHECK(EVP_CipherUpdate(b->content, b->ct, &n, b->pt, (int)b->pt_len) == 1);
		BENCH_CHECK(EVP_CipherFinal_ex(b->content, b->ct + n, &fin) == 1);
		BENCH_CHECK(EVP_CIPHER_CTX_ctrl(b->content, EVP_CTRL_GCM_GET_TAG, 16, b->tag) == 1);
	} else {
		uint8_t *out = b->pt;
		BENCH_CHECK(EVP_CipherUpdate(b->content, out, &n, b->ct, (int)b->pt_len) == 1);
		BENCH_CHECK(EVP_CIPHER_CTX_ctrl(b->content, EVP_CTRL_GCM_SET_TAG, 16, b->tag) == 1);
		BENCH_CHECK(EVP_CipherFinal_ex(b->content, out + n, &fin) == 1);
	}
}

static void bound_hs512(struct bound *b)
{
	uint8_t al[8] = {0}, md[64];
	size_t len = 0;
	BENCH_CHECK(EVP_MAC_init(b->mac, b->cek, 32, NULL) == 1 &&
		    EVP_MAC_update(b->mac, b->aad, b->aad_len) == 1 &&
		    EVP_MAC_update(b->mac, b->iv, 16) == 1 &&
		    EVP_MAC_update(b->mac, b->ct, b->ct_len) == 1 &&
		    EVP_MAC_update(b->mac, al, sizeof(al)) == 1 &&
		    EVP_MAC_final(b->mac, md, &len, sizeof(md)) == 1);
}

static void bound_cbc(struct bound *b, int enc)
{
	int n = 0, fin = 0;
	BENCH_CHECK(EVP_CipherInit_ex2(b->content, NULL, b->cek + 32, b->iv, enc, NULL) == 1);
	if (enc) {
		BENCH_CHECK(EVP_CipherUpdate(b->content, b->ct, &n, b->pt, (int)b->pt_len) == 1);
		BENCH_CHECK(EVP_CipherFinal_ex(b->content, b->ct + n, &fin) == 1);
		b->ct_len = (size_t)(n + fin);
	} else {
		BENCH_CHECK(EVP_CipherUpdate(b->content, b->pt, &n, b->ct, (int)b->ct_len) == 1);
		BENCH_CHECK(EVP_CipherFinal_ex(b->content, b->pt + n, &fin) == 1);
	}
}

static void bound_seal(void *arg, size_t i)
{
	struct bound *b = arg;
	uint8_t kek[32];
	int rsa = b->kind == JOSE_KEY_RSA;
	BENCH_CHECK(RAND_priv_bytes(b->cek, rsa ? 64 : 32) == 1 &&
		    RAND_bytes(b->iv, rsa ? 16 : 12) == 1);
	bound_sign(b);
	if (rsa) {
		size_t len = sizeof(b->ek);
		BENCH_CHECK(EVP_PKEY_encrypt(b->oaep_enc, b->ek, &len, b->cek, 64) == 1);
		bound_cbc(b, 1);
		bound_hs512(b);
		return;
	}
	bound_agree_seal(b, kek);
	bound_kw(b, 1, kek);
	bound_gcm(b, 1);
}

static void bound_open(void *arg, size_t i)
{
	struct bound *b = arg;
	uint8_t kek[32];
	if (b->kind == JOSE_KEY_RSA) {
		uint8_t cek[512];
		size_t len = sizeof(cek);
		BENCH_CHECK(EVP_PKEY_decrypt(b->oaep_dec, cek, &len, b->ek, b->ek_len) == 1);
		bound_hs512(b);
		bound_cbc(b, 0);
	} else {
		bound_agree_open(b, kek);
		bound_kw(b, 0, kek);
		bound_gcm(b, 0);
	}
	bound_verify(b);
}

static EVP_PKEY_CTX *pkey_ctx(EVP_PKEY *key)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	BENCH_CHECK(c);
	return c;
}


/* sizes: the signing input, JWS (plaintext) and AAD lengths of one of our messages. */
static void bound_init(struct bound *b, EVP_PKEY *sign_key, EVP_PKEY *enc_priv,
		       EVP_PKEY *enc_pub, size_t sig_input_len, size_t pt_len, size_t aad_len)
{
	OSSL_PARAM p[2];
	memset(b, 0, sizeof(*b));
	b->kind = jose_key_kind_of(sign_key);
	b->sign_key = sign_key;
	b->enc_priv = enc_priv;
	b->enc_pub = enc_pub;
	BENCH_CHECK(b->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL));
	BENCH_CHECK(b->md = EVP_MD_CTX_new());
	b->sig_input_len = sig_input_len;
	b->pt_len = pt_len;
	b->aad_len = aad_len;
	BENCH_CHECK((b->sig_input = malloc(sig_input_len)) && (b->pt = malloc(pt_len + 32)) &&
		    (b->ct = malloc(pt_len + 32)) && (b->aad = malloc(aad_len)));
	BENCH_CHECK(RAND_bytes(b->sig_input, (int)sig_input_len) == 1 &&
		    RAND_bytes(b->pt, (int)pt_len) == 1 && RAND_bytes(b->aad, (int)aad_len) == 1);

	/* Signature contexts, and one signature to verify. */
	b->sig_len = sizeof(b->sig);
	if (b->kind == JOSE_KEY_ED25519) {
		BENCH_CHECK((b->ed_sign = EVP_MD_CTX_new()) && (b->ed_verify = EVP_MD_CTX_new()));
		BENCH_CHECK(EVP_DigestSignInit_ex(b->ed_sign, NULL, NULL, NULL, NULL, sign_key,
						  NULL) == 1);
		BENCH_CHECK(EVP_DigestVerifyInit_ex(b->ed_verify, NULL, NULL, NULL, NULL, sign_key,
						    NULL) == 1);
		BENCH_CHECK(EVP_DigestSign(b->ed_sign, b->sig, &b->sig_len, b->sig_input,
					   sig_input_len) == 1);
	} else {
		uint8_t md[32];
		b->sign = pkey_ctx(sign_key);
		b->verify = pkey_ctx(sign_key);
		BENCH_CHECK(EVP_PKEY_sign_init(b->sign) == 1 && EVP_PKEY_verify_init(b->verify) == 1);
		if (b->kind == JOSE_KEY_RSA)
			BENCH_CHECK(EVP_PKEY_CTX_set_rsa_padding(b->sign, RSA_PKCS1_PADDING) == 1 &&
				    EVP_PKEY_CTX_set_rsa_padding(b->verify, RSA_PKCS1_PADDING) == 1);
		BENCH_CHECK(EVP_PKEY_CTX_set_signature_md(b->sign, b->sha256) == 1 &&
			    EVP_PKEY_CTX_set_signature_md(b->verify, b->sha256) == 1);
		digest(b, md);
		BENCH_CHECK(EVP_PKEY_sign(b->sign, b->sig, &b->sig_len, md, sizeof(md)) == 1);
	}

	if (b->kind == JOSE_KEY_RSA) {
		b->oaep_enc = pkey_ctx(enc_pub);
		b->oaep_dec = pkey_ctx(enc_priv);
		BENCH_CHECK(EVP_PKEY_encrypt_init(b->oaep_enc) == 1 &&
			    EVP_PKEY_decrypt_init(b->oaep_dec) == 1);
		EVP_PKEY_CTX *cs[] = {b->oaep_enc, b->oaep_dec};
		for (int i = 0; i < 2; i++)
			BENCH_CHECK(EVP_PKEY_CTX_set_rsa_padding(cs[i], RSA_PKCS1_OAEP_PADDING) == 1 &&
				    EVP_PKEY_CTX_set_rsa_oaep_md(cs[i], b->sha256) == 1 &&
				    EVP_PKEY_CTX_set_rsa_mgf1_md(cs[i], b->sha256) == 1);
		b->ek_len = sizeof(b->ek);
		BENCH_CHECK(EVP_PKEY_encrypt(b->oaep_enc, b->ek, &b->ek_len, b->cek, 64) == 1);
		BENCH_CHECK(b->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL));
		BENCH_CHECK(b->mac = EVP_MAC_CTX_new(b->hmac));
		p[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA512", 0);
		p[1] = OSSL_PARAM_construct_end();
		BENCH_CHECK(EVP_MAC_CTX_set_params(b->mac, p) == 1);
		BENCH_CHECK(b->content_cipher = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL));
	} else {
		EVP_KDF *kdf;
		uint8_t kek[32];
		/* Ephemeral keys on the recipient's curve, made by a context made once. */
		b->keygen = pkey_ctx(enc_pub);
		BENCH_CHECK(EVP_PKEY_keygen_init(b->keygen) == 1);
		b->derive_open = pkey_ctx(enc_priv);
		BENCH_CHECK(EVP_PKEY_derive_init(b->derive_open) == 1);
		BENCH_CHECK(kdf = EVP_KDF_fetch(NULL, "SSKDF", NULL));
		BENCH_CHECK(b->kdf = EVP_KDF_CTX_new(kdf));
		EVP_KDF_free(kdf);
		p[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
		p[1] = OSSL_PARAM_construct_end();
		BENCH_CHECK(EVP_KDF_CTX_set_params(b->kdf, p) == 1);
		BENCH_CHECK(b->kw_cipher = EVP_CIPHER_fetch(NULL, "AES-256-WRAP", NULL));
		BENCH_CHECK(b->kw = EVP_CIPHER_CTX_new());
		EVP_CIPHER_CTX_set_flags(b->kw, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
		BENCH_CHECK(EVP_CipherInit_ex2(b->kw, b->kw_cipher, NULL, NULL, 1, NULL) == 1);
		BENCH_CHECK(b->content_cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL));
		BENCH_CHECK(RAND_bytes(b->cek, 32) == 1);
		bound_agree_seal(b, kek);
		bound_kw(b, 1, kek);
	}
	BENCH_CHECK(b->content = EVP_CIPHER_CTX_new());
	BENCH_CHECK(EVP_CipherInit_ex2(b->content, b->content_cipher, NULL, NULL, 1, NULL) == 1);
	/* One encryption so that open has a ciphertext and tag to check. */
	BENCH_CHECK(RAND_bytes(b->iv, 16) == 1);
	if (b->kind == JOSE_KEY_RSA)
		bound_cbc(b, 1);
	else
		bound_gcm(b, 1);
	/* Each context works repeatedly (e.g. one-shot EdDSA on one EVP_MD_CTX). */
	bound_seal(b, 0);
	bound_seal(b, 1);
	bound_open(b, 0);
	bound_open(b, 1);
}

static void bound_free(struct bound *b)
{
	EVP_MD_free(b->sha256);
	EVP_MD_CTX_free(b->md);
	EVP_PKEY_CTX_free(b->sign);
	EVP_PKEY_CTX_free(b->verify);
	EVP_MD_CTX_free(b->ed_sign);
	EVP_MD_CTX_free(b->ed_verify);
	EVP_PKEY_CTX_free(b->keygen);
	EVP_PKEY_CTX_free(b->derive_open);
	EVP_KDF_CTX_free(b->kdf);
	EVP_CIPHER_free(b->kw_cipher);
	EVP_CIPHER_free(b->content_cipher);
	EVP_CIPHER_CTX_free(b->kw);
	EVP_CIPHER_CTX_free(b->content);
	EVP_PKEY_CTX_free(b->oaep_enc);
	EVP_PKEY_CTX_free(b->oaep_dec);
	EVP_MAC_CTX_free(b->mac);
	EVP_MAC_free(b->hmac);
	free(b->sig_input);
	free(b->pt);
	free(b->ct);
	free(b->aad);
}

/* ---- ours ---- */

struct suite {
	const char *key;
	danemsg_keytype from_type, to_type;
	int compat;
	danemsg_credential *from, *to;
	char to_name[128];
};

struct ours {
	danemsg_resolver *r;
	struct suite *s;
	uint8_t msg[MSG_LEN];
	danemsg_policy *policy;
	char **sealed;           /* messages for open, one per iteration */
	size_t *sealed_len, n_sealed;
	unsigned serial;
};

static char *seal_one(struct ours *o, const uint8_t *msg, size_t len, size_t *out_len)
{
	danemsg_seal_options opts;
	const char *to[] = {o->s->to_name};
	char *out = NULL, err[256] = "";
	danemsg_seal_options_init(&opts);
	opts.compat = o->s->compat;
	if (danemsg_seal(o->r, o->s->from, to, 1, msg, len, &opts, &out, out_len, err,
			 sizeof(err)) != DANEMSG_OK) {
		fprintf(stderr, "seal (%s): %s\n", o->s->key, err);
		BENCH_CHECK(0);
	}
	return out;
}

static void ours_seal(void *arg, size_t i)
{
	struct ours *o = arg;
	size_t len;
	free(seal_one(o, o->msg, sizeof(o->msg), &len));
}

static void ours_open(void *arg, size_t i)
{
	struct ours *o = arg;
	const danemsg_credential *keys[] = {o->s->to};
	danemsg_message *m = NULL;
	char err[256] = "";
	BENCH_CHECK(i < o->n_sealed);
	if (danemsg_open(o->r, keys, 1, o->policy, (const uint8_t *)o->sealed[i],
			 o->sealed_len[i], &m, err, sizeof(err)) != DANEMSG_OK) {
		fprintf(stderr, "open (%s): %s\n", o->s->key, err);
		BENCH_CHECK(0);
	}
	danemsg_message_free(m);
}

/* n distinct messages (compat signatures are deterministic: the replay id is their
 * digest, so each message differs). */
static void make_sealed(struct ours *o, size_t n)
{
	o->sealed = calloc(n, sizeof(*o->sealed));
	o->sealed_len = calloc(n, sizeof(*o->sealed_len));
	BENCH_CHECK(o->sealed && o->sealed_len);
	for (size_t i = 0; i < n; i++) {
		uint8_t msg[MSG_LEN];
		memcpy(msg, o->msg, sizeof(msg));
		o->serial++;
		memcpy(msg, &o->serial, sizeof(o->serial));
		o->sealed[i] = seal_one(o, msg, sizeof(msg), &o->sealed_len[i]);
	}
	o->n_sealed = n;
}

static void free_sealed(struct ours *o)
{
	for (size_t i = 0; i < o->n_sealed; i++)
		free(o->sealed[i]);
	free(o->sealed);
	free(o->sealed_len);
	o->sealed = NULL;
	o->sealed_len = NULL;
	o->n_sealed = 0;
}

static void new_policy(struct ours *o)
{
	danemsg_policy_free(o->policy);
	o->policy = NULL;
	BENCH_CHECK(danemsg_policy_new(&o->policy) == DANEMSG_OK);
	/* the rsa suite measures the reference format, which a policy refuses by default */
	BENCH_CHECK(danemsg_policy_set_accept_compat(o->policy, o->s->compat) == DANEMSG_OK);
}

/* The lengths the bound works on, from one real message. */
static void message_sizes(struct ours *o, size_t *sig_input, size_t *pt, size_t *aad)
{
	size_t len;
	char *sealed = seal_one(o, o->msg, sizeof(o->msg), &len);
	jose_jwe jwe;
	jose_jws jws;
	uint8_t *plain = NULL;
	size_t plain_len = 0;
	BENCH_CHECK(jose_jwe_parse(sealed, len, NULL, &jwe) == DANEMSG_OK);
	BENCH_CHECK(jose_jwe_decrypt(&jwe, danemsg_credential_enc_key(o->s->to), NULL, NULL,
				     &plain, &plain_len, NULL) == DANEMSG_OK);
	*aad = strlen(jwe.protected_b64);
	BENCH_CHECK(jose_jws_parse((const char *)plain, plain_len, NULL, &jws) == DANEMSG_OK);
	*sig_input = jws.signing_input_len;
	*pt = plain_len;
	jose_jws_clear(&jws);
	jose_jwe_clear(&jwe);
	free(plain);
	free(sealed);
}

static void run_suite(danemsg_resolver *r, struct suite *s)
{
	struct ours o;
	struct bound b;
	size_t sig_input, pt, aad, n_seal, n_open, n_bseal, n_bopen, len;
	char *small;
	EVP_PKEY *enc_pub;

	memset(&o, 0, sizeof(o));
	o.r = r;
	o.s = s;
	BENCH_CHECK(RAND_bytes(o.msg, sizeof(o.msg)) == 1);

	/* The size of an 11-byte message, as the reference counts it. */
	small = seal_one(&o, (const uint8_t *)"hello world", 11, &len);
	bench_result((double)len, "size.%s", s->key);
	free(small);

	message_sizes(&o, &sig_input, &pt, &aad);
	/* The recipient's public key as a sender has it: from its certificate. */
	enc_pub = X509_get0_pubkey(danemsg_credential_enc_cert(s->to));
	bound_init(&b, danemsg_credential_sign_key(s->from), danemsg_credential_enc_key(s->to),
		   enc_pub, sig_input, pt, aad);
	{
		char key[64];
		snprintf(key, sizeof(key), "%s_jws", s->key);
		bench_info(key, "%zu", pt);
		snprintf(key, sizeof(key), "%s_sig_input", s->key);
		bench_info(key, "%zu", sig_input);
	}

	/* Warm up and size the loops. */
	n_seal = bench_calibrate(ours_seal, &o, bench_seconds, 3);
	n_bseal = bench_calibrate(bound_seal, &b, bench_seconds, 3);
	make_sealed(&o, 3);
	new_policy(&o);
	n_open = bench_calibrate(ours_open, &o, bench_seconds, 3);
	free_sealed(&o);
	n_bopen = bench_calibrate(bound_open, &b, bench_seconds, 3);

	for (int run = 0; run < bench_runs; run++) {
		double ours_ns, bound_ns;
		bench_pair_cpu_ns(ours_seal, &o, n_seal, bound_seal, &b, n_bseal, SLICES,
				  &ours_ns, &bound_ns);
		bench_result(ours_ns, "env.%s.seal.ours_ns", s->key);
		bench_result(bound_ns, "env.%s.seal.bound_ns", s->key);
		make_sealed(&o, n_open);
		new_policy(&o);
		/* bound_seal made the ciphertext that bound_open checks: none runs in between. */
		bench_pair_cpu_ns(ours_open, &o, n_open, bound_open, &b, n_bopen, SLICES,
				  &ours_ns, &bound_ns);
		bench_result(ours_ns, "env.%s.open.ours_ns", s->key);
		bench_result(bound_ns, "env.%s.open.bound_ns", s->key);
		free_sealed(&o);
	}
	danemsg_policy_free(o.policy);
	bound_free(&b);
}

/*
 * open/s when the replay cache is full (the steady state of a receiver that gets more
 * messages within the freshness window than the cache holds), against open/s with an
 * empty one, same run. The cache is filled as earlier traffic would have: entries that
 * expire before any new message does, but not during the benchmark.
 */
static void run_replay_full(danemsg_resolver *r, struct suite *s)
{
	struct ours o;
	danemsg_replay_cache *full = NULL;
	danemsg_replay_ops ops;
	size_t capacity = bench_smoke ? 1000 : 100000, n;
	int64_t now = (int64_t)time(NULL);

	memset(&o, 0, sizeof(o));
	o.r = r;
	o.s = s;
	BENCH_CHECK(RAND_bytes(o.msg, sizeof(o.msg)) == 1);
	BENCH_CHECK(danemsg_replay_cache_new(capacity, &full) == DANEMSG_OK);
	ops = danemsg_replay_cache_ops(full);
	for (size_t i = 0; i < capacity; i++) {
		char id[32];
		snprintf(id, sizeof(id), "filler-%zu", i);
		/* Earlier messages expire earlier than new ones (now + 360), none during the
		 * benchmark. */
		int64_t expires = now + 60 + (int64_t)(i * 290 / capacity);
		BENCH_CHECK(ops.check_and_add(ops.ctx, "filler.example.", id, expires, now) ==
			    DANEMSG_OK);
	}
	bench_result((double)capacity, "env.replay_full.capacity");
	make_sealed(&o, 3);
	new_policy(&o);
	BENCH_CHECK(danemsg_policy_set_replay(o.policy, ops) == DANEMSG_OK);
	n = bench_calibrate(ours_open, &o, bench_seconds, 3);
	free_sealed(&o);
	for (int run = 0; run < bench_runs; run++) {
		make_sealed(&o, n);
		new_policy(&o);
		BENCH_CHECK(danemsg_policy_set_replay(o.policy, ops) == DANEMSG_OK);
		bench_result(bench_cpu_ns(ours_open, &o, n), "env.replay_full.ours_ns");
		free_sealed(&o);
		make_sealed(&o, n);
		new_policy(&o);
		bench_result(bench_cpu_ns(ours_open, &o, n), "env.replay_full.empty_ns");
		free_sealed(&o);
	}
	danemsg_policy_free(o.policy);
	danemsg_replay_cache_free(full);
}

int main(int argc, char **argv)
{
	struct suite suites[] = {
		{"p256", DANEMSG_KEY_P256, DANEMSG_KEY_P256, 0, NULL, NULL, ""},
		{"ed25519", DANEMSG_KEY_ED25519, DANEMSG_KEY_ED25519, 0, NULL, NULL, ""},
		{"rsa", DANEMSG_KEY_RSA2048, DANEMSG_KEY_RSA2048, 1, NULL, NULL, ""},
	};
	size_t n_suites = sizeof(suites) / sizeof(suites[0]);
	struct bench_ids ids;
	danemsg_resolver *r;
	const char *only = NULL;

	argc = bench_parse_args(argc, argv);
	if (argc > 1)
		only = argv[1];   /* one suite, or "replay" */
	bench_ids_begin(&ids, ZONE);
	for (size_t i = 0; i < n_suites; i++) {
		char from[128];
		snprintf(from, sizeof(from), "%s-from._device.bench.example", suites[i].key);
		snprintf(suites[i].to_name, sizeof(suites[i].to_name),
			 "%s-to._device.bench.example", suites[i].key);
		suites[i].from = bench_ids_add(&ids, from, suites[i].from_type);
		suites[i].to = bench_ids_add(&ids, suites[i].to_name, suites[i].to_type);
	}
	bench_ids_finish(&ids);
	r = bench_offline_resolver(ids.zone.zone_file, ids.zone.anchor_file, ZONE);

	for (size_t i = 0; i < n_suites; i++)
		if (!only || !strcmp(only, suites[i].key))
			run_suite(r, &suites[i]);
	if (!only || !strcmp(only, "replay"))
		run_replay_full(r, &suites[0]);

	{
		danemsg_cache_stats st;
		danemsg_cache_stats_init(&st);
		danemsg_resolver_cache_stats(r, &st);
		bench_result((double)st.queries, "env.dns_queries");
		bench_result((double)st.hits, "env.cache_hits");
	}
	danemsg_resolver_free(r);
	for (size_t i = 0; i < n_suites; i++) {
		danemsg_credential_free(suites[i].from);
		danemsg_credential_free(suites[i].to);
	}
	bench_ids_end(&ids);
	return 0;
}

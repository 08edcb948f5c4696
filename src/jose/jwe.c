/*
 * JWE (RFC 7516): RSA-OAEP-256 and ECDH-ES+A256KW (P-256, X25519) key management,
 * A256GCM and A256CBC-HS512 content encryption; flattened or general JSON output,
 * flattened, general and compact forms parsed.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "jose.h"

#define CEK_MAX 64
#define KEK_LEN 32
#define KW_OVERHEAD 8          /* AES key wrap's integrity block */
#define ECDH_MAX 32            /* shared secret of P-256 and X25519 */
#define PARTY_INFO_MAX 1024    /* apu/apv, decoded */
#define ENCRYPTED_KEY_MAX 2048 /* RSA-16384 */
#define GCM_IV_LEN 12
#define GCM_TAG_LEN 16
#define CBC_IV_LEN 16
#define CBC_TAG_LEN 32
#define CBC_BLOCK 16

static size_t cek_len(jose_enc enc)
{
	return enc == JOSE_ENC_A256GCM ? 32 : 64;
}

static size_t iv_len(jose_enc enc)
{
	return enc == JOSE_ENC_A256GCM ? GCM_IV_LEN : CBC_IV_LEN;
}

static size_t tag_len(jose_enc enc)
{
	return enc == JOSE_ENC_A256GCM ? GCM_TAG_LEN : CBC_TAG_LEN;
}

/* ---- content encryption ---- */

/* HMAC-SHA-512 over AAD || IV || ciphertext || AL, truncated (RFC 7518 5.2.2.1). */
static danemsg_err cbc_hs512_tag(const uint8_t *mac_key, const uint8_t *aad, size_t aad_len,
				 const uint8_t *iv, const uint8_t *ct, size_t ct_len,
				 uint8_t tag[CBC_TAG_LEN])
{
	const struct jose_algs *a = jose_algs();
	EVP_MAC_CTX *ctx = a ? EVP_MAC_CTX_new(a->hmac) : NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA512", 0),
		OSSL_PARAM_END
	};
	uint8_t al[8], full[64];
	uint64_t bits = (uint64_t)aad_len * 8;
	size_t len = 0;
	danemsg_err err = DANEMSG_ERR_CRYPTO;

	for (int i = 7; i >= 0; i--, bits >>= 8)
		al[i] = (uint8_t)bits;
	if (ctx && EVP_MAC_init(ctx, mac_key, CEK_MAX / 2, params)
	    && EVP_MAC_update(ctx, aad, aad_len) && EVP_MAC_update(ctx, iv, CBC_IV_LEN)
	    && EVP_MAC_update(ctx, ct, ct_len) && EVP_MAC_update(ctx, al, sizeof(al))
	    && EVP_MAC_final(ctx, full, &len, sizeof(full)) && len == sizeof(full)) {
		memcpy(tag, full, CBC_TAG_LEN);
		err = DANEMSG_OK;
	}
	OPENSSL_cleanse(full, sizeof(full));
	EVP_MAC_CTX_free(ctx);
	return err;
}

static danemsg_err content_encrypt(jose_enc enc, const uint8_t *cek, const uint8_t *iv,
				   const uint8_t *aad, size_t aad_len, const uint8_t *pt,
				   size_t pt_len, uint8_t **ct, size_t *ct_len, uint8_t *tag)
{
	const struct jose_algs *a = jose_algs();
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	uint8_t *out = malloc(pt_len + CBC_BLOCK);
	int n = 0, fin = 0, ok;
	danemsg_err err = DANEMSG_ERR_CRYPTO;

	*ct = NULL;
	if (!ctx || !out) {
		err = DANEMSG_ERR_NOMEM;
		goto done;
	}
	if (!a)
		goto done;
	if (enc == JOSE_ENC_A256GCM)
		ok = EVP_EncryptInit_ex(ctx, a->aes256gcm, NULL, cek, iv)
		     && EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aad_len)
		     && EVP_EncryptUpdate(ctx, out, &n, pt, (int)pt_len)
		     && EVP_EncryptFinal_ex(ctx, out + n, &fin)
		     && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, GCM_TAG_LEN, tag);
	else
		ok = EVP_EncryptInit_ex(ctx, a->aes256cbc, NULL, cek + CEK_MAX / 2, iv)
		     && EVP_EncryptUpdate(ctx, out, &n, pt, (int)pt_len)
		     && EVP_EncryptFinal_ex(ctx, out + n, &fin)
		     && cbc_hs512_tag(cek, aad, aad_len, iv, out, (size_t)(n + fin), tag)
			== DANEMSG_OK;
	if (ok) {
		*ct = out;
		*ct_len = (size_t)(n + fin);
		out = NULL;
		err = DANEMSG_OK;
	}
done:
	free(out);
	EVP_CIPHER_CTX_free(ctx);
	return err;
}

/* Any failure is DANEMSG_ERR_DECRYPT; for CBC-HS512 the tag is checked before decrypting. */
static danemsg_err content_decrypt(const jose_jwe *jwe, const uint8_t *cek, const uint8_t *aad,
				   size_t aad_len, uint8_t **pt, size_t *pt_len)
{
	const struct jose_algs *a = jose_algs();
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t *out = NULL, want[CBC_TAG_LEN];
	int n = 0, fin = 0, ok;
	danemsg_err err = DANEMSG_ERR_DECRYPT;

	*pt = NULL;
	if (!a)
		return DANEMSG_ERR_CRYPTO;
	if (jwe->enc == JOSE_ENC_A256CBC_HS512) {
		if (cbc_hs512_tag(cek, aad, aad_len, jwe->iv, jwe->ciphertext, jwe->ciphertext_len,
				  want) != DANEMSG_OK)
			return DANEMSG_ERR_CRYPTO;
		if (CRYPTO_memcmp(want, jwe->tag, CBC_TAG_LEN) != 0)
			return DANEMSG_ERR_DECRYPT;
	}
	if (!(ctx = EVP_CIPHER_CTX_new()) || !(out = malloc(jwe->ciphertext_len + CBC_BLOCK + 1))) {
		err = DANEMSG_ERR_NOMEM;
		goto done;
	}
	if (jwe->enc == JOSE_ENC_A256GCM)
		ok = EVP_DecryptInit_ex(ctx, a->aes256gcm, NULL, cek, jwe->iv)
		     && EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aad_len)
		     && EVP_DecryptUpdate(ctx, out, &n, jwe->ciphertext, (int)jwe->ciphertext_len)
		     && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, GCM_TAG_LEN, jwe->tag)
		     && EVP_DecryptFinal_ex(ctx, out + n, &fin) > 0;
	else
		ok = EVP_DecryptInit_ex(ctx, a->aes256cbc, NULL, cek + CEK_MAX / 2, jwe->iv)
		     && EVP_DecryptUpdate(ctx, out, &n, jwe->ciphertext, (int)jwe->ciphertext_len)
		     && EVP_DecryptFinal_ex(ctx, out + n, &fin) > 0;
	if (ok) {
		*pt_len = (size_t)(n + fin);
		out[*pt_len] = 0;
		*pt = out;
		out = NULL;
		err = DANEMSG_OK;
	} else {
		ERR_clear_error();
		OPENSSL_cleanse(out, jwe->ciphertext_len + CBC_BLOCK);
	}
done:
	free(out);
	EVP_CIPHER_CTX_free(ctx);
	return err;
}

/* ---- key management ---- */

static EVP_PKEY_CTX *rsa_oaep_ctx(EVP_PKEY *key, int encrypt)
{
	const struct jose_algs *a = jose_algs();
	EVP_PKEY_CTX *ctx = a ? EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL) : NULL;

	if (ctx && (encrypt ? EVP_PKEY_encrypt_init(ctx) : EVP_PKEY_decrypt_init(ctx)) > 0
	    && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) > 0
	    && EVP_PKEY_CTX_set_rsa_oaep_md(ctx, a->sha256) > 0
	    && EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, a->sha256) > 0)
		return ctx;
	EVP_PKEY_CTX_free(ctx);
	return NULL;
}

static danemsg_err rsa_wrap(EVP_PKEY *key, const uint8_t *cek, size_t len, uint8_t **out,
			    size_t *out_len)
{
	EVP_PKEY_CTX *ctx = rsa_oaep_ctx(key, 1);
	size_t n = 0;
	danemsg_err err = DANEMSG_ERR_CRYPTO;

	*out = NULL;
	if (ctx && EVP_PKEY_encrypt(ctx, NULL, &n, cek, len) > 0) {
		if (!(*out = malloc(n)))
			err = DANEMSG_ERR_NOMEM;
		else if (EVP_PKEY_encrypt(ctx, *out, &n, cek, len) > 0)
			err = DANEMSG_OK;
	}
	if (err != DANEMSG_OK) {
		free(*out);
		*out = NULL;
	}
	*out_len = n;
	EVP_PKEY_CTX_free(ctx);
	return err;
}

/*
 * RSA-OAEP unwrap that never fails on its own: a bad encrypted key yields a random CEK
 * so that the failure shows only at the tag, like any other (RFC 7516 section 11.5).
 */
static danemsg_err rsa_unwrap(EVP_PKEY *key, const uint8_t *in, size_t in_len, uint8_t *cek,
			      size_t want)
{
	EVP_PKEY_CTX *ctx;
	uint8_t buf[ENCRYPTED_KEY_MAX];
	size_t n = sizeof(buf);
	int ok;

	if (RAND_priv_bytes(cek, (int)want) != 1)
		return DANEMSG_ERR_CRYPTO;
	if (!(ctx = rsa_oaep_ctx(key, 0)))
		return DANEMSG_ERR_CRYPTO;
	ok = in_len == (size_t)EVP_PKEY_get_size(key) && in_len <= sizeof(buf)
	     && EVP_PKEY_decrypt(ctx, buf, &n, in, in_len) > 0 && n == want;
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	if (ok)
		memcpy(cek, buf, want);
	OPENSSL_cleanse(buf, sizeof(buf));
	return DANEMSG_OK;
}

/* AES-256 key wrap (RFC 3394) in either direction. */
static danemsg_err aes_kw(int wrap, const uint8_t kek[KEK_LEN], const uint8_t *in,
			  size_t in_len, uint8_t *out, size_t *out_len)
{
	const struct jose_algs *a = jose_algs();
	EVP_CIPHER_CTX *ctx;
	int n = 0, fin = 0, ok;

	if (!a)
		return DANEMSG_ERR_CRYPTO;
	if (!(ctx = EVP_CIPHER_CTX_new()))
		return DANEMSG_ERR_NOMEM;
	EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	ok = EVP_CipherInit_ex(ctx, a->aes256wrap, NULL, kek, NULL, wrap)
	     && EVP_CipherUpdate(ctx, out, &n, in, (int)in_len) > 0
	     && EVP_CipherFinal_ex(ctx, out + n, &fin) > 0;
	EVP_CIPHER_CTX_free(ctx);
	if (!ok) {
		ERR_clear_error();
		return wrap ? DANEMSG_ERR_CRYPTO : DANEMSG_ERR_DECRYPT;
	}
	*out_len = (size_t)(n + fin);
	return DANEMSG_OK;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/*
 * The key-encryption key: ECDH between priv and peer (already validated: recipient keys
 * come from certificates, epk from jose_jwk_to_pkey), then the Concat KDF (RFC 7518
 * 4.6.2) with AlgorithmID "ECDH-ES+A256KW", apu, apv and 256 bits.
 */
static danemsg_err ecdh_kek(EVP_PKEY *priv, EVP_PKEY *peer, const uint8_t *apu,
			    size_t apu_len, const uint8_t *apv, size_t apv_len,
			    uint8_t kek[KEK_LEN])
{
	static const char alg_id[] = "ECDH-ES+A256KW";
	const struct jose_algs *a = jose_algs();
	EVP_PKEY_CTX *ctx = a ? EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL) : NULL;
	EVP_KDF_CTX *kctx = NULL;
	uint8_t z[ECDH_MAX], info[4 + sizeof(alg_id) - 1 + 4 + PARTY_INFO_MAX + 4
				  + PARTY_INFO_MAX + 4];
	size_t z_len = sizeof(z), pos = 0;
	OSSL_PARAM params[4];
	danemsg_err err = DANEMSG_ERR_CRYPTO;

	if (apu_len > PARTY_INFO_MAX || apv_len > PARTY_INFO_MAX)
		goto done;
	/* validate = 0: the peer's point was checked once, when it was decoded. */
	if (!ctx || EVP_PKEY_derive_init(ctx) <= 0 || EVP_PKEY_derive_set_peer_ex(ctx, peer, 0) <= 0
	    || EVP_PKEY_derive(ctx, z, &z_len) <= 0)
		goto done;
	put_be32(info + pos, sizeof(alg_id) - 1);
	memcpy(info + pos + 4, alg_id, sizeof(alg_id) - 1);
	pos += 4 + sizeof(alg_id) - 1;
	put_be32(info + pos, (uint32_t)apu_len);
	if (apu_len)
		memcpy(info + pos + 4, apu, apu_len);
	pos += 4 + apu_len;
	put_be32(info + pos, (uint32_t)apv_len);
	if (apv_len)
		memcpy(info + pos + 4, apv, apv_len);
	pos += 4 + apv_len;
	put_be32(info + pos, KEK_LEN * 8);
	pos += 4;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, z, z_len);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, pos);
	params[3] = OSSL_PARAM_construct_end();
	if ((kctx = EVP_KDF_CTX_new(a->sskdf))
	    && EVP_KDF_derive(kctx, kek, KEK_LEN, params) > 0)
		err = DANEMSG_OK;
done:
	if (err != DANEMSG_OK)
		ERR_clear_error();
	OPENSSL_cleanse(z, sizeof(z));
	EVP_KDF_CTX_free(kctx);
	EVP_PKEY_CTX_free(ctx);
	return err;
}

/* apu/apv of a header set, decoded (absent: empty). */
static danemsg_err party_info(const json_t *h1, const json_t *h2, const json_t *h3,
			      const char *name, uint8_t **out, size_t *out_len)
{
	const json_t *v = jose_header_get(name, h1, h2, h3);
	danemsg_err err;

	*out = NULL;
	*out_len = 0;
	if (!v)
		return DANEMSG_OK;
	if (!json_is_string(v))
		return DANEMSG_ERR_MALFORMED;
	if (jose_b64url_decoded_max(json_string_length(v)) > PARTY_INFO_MAX)
		return DANEMSG_ERR_TOO_LARGE;
	err = jose_b64url_decode_alloc(json_string_value(v), json_string_length(v), out,
				       out_len);
	return err;
}

static danemsg_err ecdh_kek_for(EVP_PKEY *priv, EVP_PKEY *peer, const json_t *h1,
				const json_t *h2, const json_t *h3, uint8_t kek[KEK_LEN])
{
	uint8_t *apu = NULL, *apv = NULL;
	size_t apu_len, apv_len;
	danemsg_err err;

	if ((err = party_info(h1, h2, h3, "apu", &apu, &apu_len)) == DANEMSG_OK
	    && (err = party_info(h1, h2, h3, "apv", &apv, &apv_len)) == DANEMSG_OK)
		err = ecdh_kek(priv, peer, apu, apu_len, apv, apv_len, kek);
	free(apu);
	free(apv);
	return err;
}

/* ---- encryption ---- */

static int set_b64(json_t *obj, const char *name, const uint8_t *p, size_t n)
{
	return json_object_set_new(obj, name, jose_b64url_json(p, n)) == 0;
}

/*
 * Ephemeral keys: a key generation context per curve, made once and kept for the process
 * (making one cost a tenth of a seal). One seal at a time uses each; a concurrent one makes
 * its own, as before.
 */
static struct keygen_slot {
	pthread_mutex_t lock;
	EVP_PKEY_CTX *ctx;
} keygen_slots[2] = {{PTHREAD_MUTEX_INITIALIZER, NULL}, {PTHREAD_MUTEX_INITIALIZER, NULL}};

static EVP_PKEY_CTX *keygen_ctx(jose_key_kind kind)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, kind == JOSE_KEY_P256 ? "EC" :
						       "X25519", NULL);

	if (ctx && EVP_PKEY_keygen_init(ctx) > 0 &&
	    (kind != JOSE_KEY_P256 || EVP_PKEY_CTX_set_group_name(ctx, "P-256") > 0))
		return ctx;
	EVP_PKEY_CTX_free(ctx);
	return NULL;
}

/* A new key pair on the curve of kind (P-256 or X25519). */
static EVP_PKEY *ephemeral_key(jose_key_kind kind)
{
	struct keygen_slot *slot = &keygen_slots[kind == JOSE_KEY_P256 ? 0 : 1];
	EVP_PKEY_CTX *own = NULL;
	EVP_PKEY *eph = NULL;

	if (pthread_mutex_trylock(&slot->lock) == 0) {
		if (!slot->ctx)
			slot->ctx = keygen_ctx(kind);
		if (slot->ctx && EVP_PKEY_keygen(slot->ctx, &eph) <= 0)
			eph = NULL;
		pthread_mutex_unlock(&slot->lock);
		return eph;
	}
	if ((own = keygen_ctx(kind)) && EVP_PKEY_keygen(own, &eph) <= 0)
		eph = NULL;
	EVP_PKEY_CTX_free(own);
	return eph;
}

/* One recipient's wrapped CEK; for ECDH-ES, *epk receives the ephemeral public JWK.
 * apu/apv are read from the headers the recipient will see (h1, h2). */
static danemsg_err wrap_for(const jose_recipient *r, jose_alg alg, const uint8_t *cek,
			    size_t len, const json_t *h1, const json_t *h2, json_t **epk,
			    uint8_t **ek, size_t *ek_len)
{
	EVP_PKEY *eph = NULL;
	uint8_t kek[KEK_LEN];
	danemsg_err err;

	*epk = NULL;
	*ek = NULL;
	if (alg == JOSE_ALG_RSA_OAEP_256)
		return rsa_wrap(r->key, cek, len, ek, ek_len);

	/* An ephemeral key on the recipient's curve (alg fits the key: P-256 or X25519). */
	if (!(eph = ephemeral_key(jose_key_kind_of(r->key)))) {
		err = DANEMSG_ERR_CRYPTO;
		goto done;
	}
	if ((err = ecdh_kek_for(eph, r->key, h1, h2, NULL, kek)) != DANEMSG_OK)
		goto done;
	if (!(*ek = malloc(len + KW_OVERHEAD))) {
		err = DANEMSG_ERR_NOMEM;
		goto done;
	}
	if ((err = aes_kw(1, kek, cek, len, *ek, ek_len)) != DANEMSG_OK)
		goto done;
	err = jose_jwk_from_pkey(eph, epk);
done:
	if (err != DANEMSG_OK) {
		free(*ek);
		*ek = NULL;
	}
	OPENSSL_cleanse(kek, sizeof(kek));
	EVP_PKEY_free(eph);
	return err;
}

/* The caller's header without alg/enc (which must agree with ours when given). */
static danemsg_err caller_header(const json_t *caller, jose_alg alg, jose_enc enc,
				 json_t **out)
{
	const json_t *a, *e;

	*out = NULL;
	if (!caller)
		return (*out = json_object()) ? DANEMSG_OK : DANEMSG_ERR_NOMEM;
	if (!json_is_object(caller))
		return DANEMSG_ERR_INVALID_ARG;
	a = json_object_get(caller, "alg");
	e = json_object_get(caller, "enc");
	if ((a && (alg == JOSE_ALG_UNKNOWN || jose_alg_from_name(json_string_value(a)) != alg))
	    || (e && jose_enc_from_name(json_string_value(e)) != enc))
		return DANEMSG_ERR_INVALID_ARG;
	if (!(*out = json_deep_copy(caller)))
		return DANEMSG_ERR_NOMEM;
	json_object_del(*out, "alg");
	json_object_del(*out, "enc");
	return DANEMSG_OK;
}

/* A new header {"alg":...,"enc":...} (either optional) followed by extra's members. */
static danemsg_err header_start(jose_alg alg, jose_enc enc, const json_t *extra, json_t **out)
{
	json_t *h = json_object();
	danemsg_err err;

	*out = NULL;
	if (!h || (alg && json_object_set_new(h, "alg", json_string(jose_alg_name(alg))))
	    || (enc && json_object_set_new(h, "enc", json_string(jose_enc_name(enc))))) {
		json_decref(h);
		return DANEMSG_ERR_NOMEM;
	}
	err = jose_header_with_members(h, extra, out);
	json_decref(h);
	return err;
}

static danemsg_err add_member(json_t *h, const char *name, json_t *value)
{
	if (json_object_get(h, name)) {
		json_decref(value);
		return DANEMSG_ERR_INVALID_ARG;
	}
	return json_object_set_new(h, name, value) == 0 ? DANEMSG_OK : DANEMSG_ERR_NOMEM;
}

/* {"header":header,"encrypted_key":...}; takes header's reference in every case. */
static danemsg_err recipient_entry(json_t *header, const uint8_t *ek, size_t ek_len,
				   json_t **out)
{
	json_t *entry = json_object();

	*out = NULL;
	if (!entry) {
		json_decref(header);
		return DANEMSG_ERR_NOMEM;
	}
	if (json_object_set_new(entry, "header", header) != 0
	    || !set_b64(entry, "encrypted_key", ek, ek_len)) {
		json_decref(entry);
		return DANEMSG_ERR_NOMEM;
	}
	*out = entry;
	return DANEMSG_OK;
}

danemsg_err jose_jwe_encrypt(const jose_recipient *recipients, size_t n, jose_enc enc,
			     const json_t *protected_header, const uint8_t *plaintext,
			     size_t plaintext_len, const uint8_t *aad, size_t aad_len,
			     char **out, size_t *out_len)
{
	uint8_t cek[CEK_MAX], iv[CBC_IV_LEN], tag[CBC_TAG_LEN], *ct = NULL, *ek = NULL;
	size_t ct_len = 0, ek_len = 0, header_len = 0, aad_text_len;
	jose_alg alg1 = JOSE_ALG_UNKNOWN;
	json_t *caller = NULL, *prot = NULL, *result = NULL, *list = NULL, *epk = NULL;
	char *header_text = NULL, *prot64 = NULL, *aad64 = NULL, *aad_text = NULL;
	size_t prot64_len = 0, aad64_len = 0;
	danemsg_err err;

	if (out)
		*out = NULL;
	if (out_len)
		*out_len = 0;
	if (!recipients || n == 0 || !out || (!plaintext && plaintext_len) || (!aad && aad_len))
		return DANEMSG_ERR_INVALID_ARG;
	if (n > JOSE_MAX_RECIPIENTS)
		return DANEMSG_ERR_INVALID_ARG;
	if (plaintext_len > JOSE_MAX_INPUT || aad_len > JOSE_MAX_INPUT)
		return DANEMSG_ERR_TOO_LARGE;
	if (enc != JOSE_ENC_A256GCM && enc != JOSE_ENC_A256CBC_HS512)
		return DANEMSG_ERR_ALGORITHM;
	for (size_t i = 0; i < n; i++) {
		/* An alg of the key's own choosing fits it; one given is checked against it. */
		jose_alg alg = recipients[i].alg ? recipients[i].alg
						 : jose_kw_alg_for_key(recipients[i].key);

		if (!recipients[i].key)
			return DANEMSG_ERR_INVALID_ARG;
		if (recipients[i].header && !json_is_object(recipients[i].header))
			return DANEMSG_ERR_INVALID_ARG;
		if (!jose_alg_is_key_management(alg)
		    || (recipients[i].alg && jose_alg_check_key(alg, recipients[i].key)))
			return DANEMSG_ERR_ALGORITHM;
		if (i == 0)
			alg1 = alg;
	}
	if (RAND_priv_bytes(cek, (int)cek_len(enc)) != 1
	    || RAND_bytes(iv, (int)iv_len(enc)) != 1)
		return DANEMSG_ERR_CRYPTO;

	err = caller_header(protected_header, n == 1 ? alg1 : JOSE_ALG_UNKNOWN, enc, &caller);
	if (err != DANEMSG_OK)
		goto done;
	err = DANEMSG_ERR_NOMEM;
	if (!(result = json_object()))
		goto done;

	if (n == 1) {
		/* Everything in the protected header, as the reference system does. */
		json_t *tmp = NULL;

		if ((err = header_start(alg1, enc, caller, &tmp)) != DANEMSG_OK)
			goto done;
		err = jose_header_with_members(tmp, recipients[0].header, &prot);
		json_decref(tmp);
		if (err != DANEMSG_OK)
			goto done;
		if ((err = wrap_for(&recipients[0], alg1, cek, cek_len(enc), prot, NULL, &epk,
				    &ek, &ek_len)) != DANEMSG_OK)
			goto done;
		if (epk && (err = add_member(prot, "epk", epk)) != DANEMSG_OK) {
			epk = NULL;
			goto done;
		}
		epk = NULL;
	} else {
		if ((err = header_start(JOSE_ALG_UNKNOWN, enc, caller, &prot)) != DANEMSG_OK)
			goto done;
		err = DANEMSG_ERR_NOMEM;
		if (!(list = json_array()))
			goto done;
		for (size_t i = 0; i < n; i++) {
			const jose_recipient *r = &recipients[i];
			jose_alg alg = r->alg ? r->alg : jose_kw_alg_for_key(r->key);
			json_t *h = NULL, *entry;

			err = header_start(alg, JOSE_ENC_UNKNOWN, r->header, &h);
			if (err != DANEMSG_OK)
				goto done;
			if ((err = jose_headers_disjoint(h, prot)) != DANEMSG_OK) {
				json_decref(h);
				err = DANEMSG_ERR_INVALID_ARG;
				goto done;
			}
			err = wrap_for(r, alg, cek, cek_len(enc), prot, h, &epk, &ek, &ek_len);
			if (err == DANEMSG_OK && epk)
				err = add_member(h, "epk", epk);
			epk = NULL;
			if (err == DANEMSG_OK)
				err = recipient_entry(h, ek, ek_len, &entry);
			else
				json_decref(h);
			free(ek);
			ek = NULL;
			if (err != DANEMSG_OK)
				goto done;
			if (json_array_append_new(list, entry) != 0) {
				err = DANEMSG_ERR_NOMEM;
				goto done;
			}
		}
	}

	/* The protected header and the AAD made from it. */
	err = DANEMSG_ERR_NOMEM;
	if (!(header_text = jose_dump(prot, &header_len)))
		goto done;
	err = DANEMSG_ERR_TOO_LARGE;
	if (header_len > JOSE_MAX_HEADER)
		goto done;
	if ((err = jose_b64url_encode_alloc((const uint8_t *)header_text, header_len, &prot64,
					    &prot64_len)) != DANEMSG_OK)
		goto done;
	if (aad && (err = jose_b64url_encode_alloc(aad, aad_len, &aad64, &aad64_len))
		   != DANEMSG_OK)
		goto done;
	aad_text_len = prot64_len + (aad64 ? 1 + aad64_len : 0);
	err = DANEMSG_ERR_NOMEM;
	if (!(aad_text = malloc(aad_text_len + 1)))
		goto done;
	memcpy(aad_text, prot64, prot64_len);
	if (aad64) {
		aad_text[prot64_len] = '.';
		memcpy(aad_text + prot64_len + 1, aad64, aad64_len);
	}
	if ((err = content_encrypt(enc, cek, iv, (const uint8_t *)aad_text, aad_text_len,
				   plaintext, plaintext_len, &ct, &ct_len, tag)) != DANEMSG_OK)
		goto done;

	if (n == 1) {   /* flattened: written directly, the common case */
		const struct jose_text_member members[] = {
			{"protected", NULL, 0, prot64, prot64_len},
			{"encrypted_key", ek, ek_len, NULL, 0},
			{"aad", NULL, 0, aad64, aad64_len},
			{"iv", iv, iv_len(enc), NULL, 0},
			{"ciphertext", ct, ct_len, NULL, 0},
			{"tag", tag, tag_len(enc), NULL, 0},
		};
		err = jose_flat_text(members, 6, out, out_len);
		goto done;
	}
	err = DANEMSG_ERR_NOMEM;
	if (json_object_set_new(result, "protected", json_stringn_nocheck(prot64, prot64_len)))
		goto done;
	if (n > 1) {
		if (json_object_set_new(result, "recipients", list))
			goto done;
		list = NULL;
	}
	if (aad64 && json_object_set_new(result, "aad", json_stringn_nocheck(aad64, aad64_len)))
		goto done;
	if (!set_b64(result, "iv", iv, iv_len(enc)) || !set_b64(result, "ciphertext", ct, ct_len)
	    || !set_b64(result, "tag", tag, tag_len(enc)))
		goto done;
	if (!(*out = jose_dump(result, out_len)))
		goto done;
	err = DANEMSG_OK;
done:
	OPENSSL_cleanse(cek, sizeof(cek));
	json_decref(epk);
	json_decref(list);
	json_decref(result);
	json_decref(prot);
	json_decref(caller);
	free(ek);
	free(ct);
	free(header_text);
	free(prot64);
	free(aad64);
	free(aad_text);
	return err;
}

/* ---- parsing ---- */

void jose_jwe_clear(jose_jwe *jwe)
{
	if (!jwe)
		return;
	json_decref(jwe->protected_header);
	json_decref(jwe->unprotected);
	free(jwe->protected_b64);
	for (size_t i = 0; jwe->recipients && i < jwe->n_recipients; i++) {
		json_decref(jwe->recipients[i].header);
		free(jwe->recipients[i].encrypted_key);
	}
	free(jwe->recipients);
	free(jwe->iv);
	free(jwe->ciphertext);
	free(jwe->tag);
	free(jwe->aad);
	free(jwe->aad_b64);
	memset(jwe, 0, sizeof(*jwe));
}

static char *strndup_checked(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

/* b64url text of length n into a new buffer; decoded size must not exceed max. */
static danemsg_err decode_part(const char *s, size_t n, size_t max, uint8_t **out,
			       size_t *out_len)
{
	if (jose_b64url_decoded_max(n) > max)
		return DANEMSG_ERR_TOO_LARGE;
	return jose_b64url_decode_alloc(s, n, out, out_len);
}

static danemsg_err set_protected(jose_jwe *jwe, const char *s, size_t n,
				 const char *const *understood)
{
	danemsg_err err;

	if (!(jwe->protected_b64 = strndup_checked(s, n)))
		return DANEMSG_ERR_NOMEM;
	if (n == 0)
		return DANEMSG_OK;
	if ((err = jose_header_decode(s, n, understood, &jwe->protected_header)) != DANEMSG_OK)
		return err;
	/* zip is refused by the header checks; crit too unless understood. */
	return DANEMSG_OK;
}

static danemsg_err set_content(jose_jwe *jwe, const char *iv, size_t iv_n, const char *ct,
			       size_t ct_n, const char *tag, size_t tag_n)
{
	danemsg_err err;

	if ((err = decode_part(iv, iv_n, CBC_IV_LEN, &jwe->iv, &jwe->iv_len)) != DANEMSG_OK
	    || (err = decode_part(ct, ct_n, JOSE_MAX_INPUT, &jwe->ciphertext,
				  &jwe->ciphertext_len)) != DANEMSG_OK
	    || (err = decode_part(tag, tag_n, CBC_TAG_LEN, &jwe->tag, &jwe->tag_len))
	       != DANEMSG_OK)
		return err == DANEMSG_ERR_TOO_LARGE && ct_n <= JOSE_MAX_INPUT
		       ? DANEMSG_ERR_MALFORMED : err;
	return DANEMSG_OK;
}

/* Checks that need every header: disjointness, enc, each recipient's alg and epk. */
static danemsg_err check_headers(jose_jwe *jwe)
{
	const json_t *enc;
	danemsg_err err;

	if ((err = jose_headers_disjoint(jwe->protected_header, jwe->unprotected)) != DANEMSG_OK)
		return err;
	enc = jose_header_get("enc", jwe->protected_header, jwe->unprotected, NULL);
	if (!json_is_string(enc))
		return DANEMSG_ERR_MALFORMED;
	if ((jwe->enc = jose_enc_from_name(json_string_value(enc))) == JOSE_ENC_UNKNOWN)
		return DANEMSG_ERR_ALGORITHM;
	for (size_t i = 0; i < jwe->n_recipients; i++) {
		jose_jwe_recipient *r = &jwe->recipients[i];
		const json_t *alg, *epk;

		if (r->header) {
			if ((err = jose_header_check(r->header, 0, NULL)) != DANEMSG_OK
			    || (err = jose_headers_disjoint(r->header, jwe->protected_header))
			       != DANEMSG_OK
			    || (err = jose_headers_disjoint(r->header, jwe->unprotected))
			       != DANEMSG_OK)
				return err;
		}
		alg = jose_header_get("alg", jwe->protected_header, jwe->unprotected, r->header);
		if (!json_is_string(alg))
			return DANEMSG_ERR_MALFORMED;
		r->alg = jose_alg_from_name(json_string_value(alg));
		if (!jose_alg_is_key_management(r->alg))
			return DANEMSG_ERR_ALGORITHM;
		if (!r->encrypted_key || r->encrypted_key_len == 0)
			return DANEMSG_ERR_MALFORMED;
		epk = jose_header_get("epk", jwe->protected_header, jwe->unprotected, r->header);
		if (r->alg == JOSE_ALG_ECDH_ES_A256KW && !json_is_object(epk))
			return DANEMSG_ERR_MALFORMED;
	}
	if (jwe->iv_len != iv_len(jwe->enc) || jwe->tag_len != tag_len(jwe->enc))
		return DANEMSG_ERR_MALFORMED;
	if (jwe->enc == JOSE_ENC_A256CBC_HS512
	    && (jwe->ciphertext_len == 0 || jwe->ciphertext_len % CBC_BLOCK))
		return DANEMSG_ERR_MALFORMED;
	return DANEMSG_OK;
}

static danemsg_err parse_compact(const char *in, size_t in_len, const char *const *understood,
				 jose_jwe *jwe)
{
	const char *part[5], *end = in + in_len, *p = in;
	size_t len[5];
	danemsg_err err;

	for (int i = 0; i < 5; i++) {
		const char *dot = i < 4 ? memchr(p, '.', (size_t)(end - p)) : NULL;

		if (i < 4 && !dot)
			return DANEMSG_ERR_MALFORMED;
		part[i] = p;
		len[i] = (size_t)((dot ? dot : end) - p);
		p = dot ? dot + 1 : end;
	}
	if (memchr(part[4], '.', len[4]) || len[0] == 0)
		return DANEMSG_ERR_MALFORMED;
	if ((err = set_protected(jwe, part[0], len[0], understood)) != DANEMSG_OK)
		return err;
	if (!(jwe->recipients = calloc(1, sizeof(*jwe->recipients))))
		return DANEMSG_ERR_NOMEM;
	jwe->n_recipients = 1;
	if (len[1] && (err = decode_part(part[1], len[1], ENCRYPTED_KEY_MAX,
					 &jwe->recipients[0].encrypted_key,
					 &jwe->recipients[0].encrypted_key_len)) != DANEMSG_OK)
		return err;
	if ((err = set_content(jwe, part[2], len[2], part[3], len[3], part[4], len[4]))
	    != DANEMSG_OK)
		return err;
	return check_headers(jwe);
}

/* One recipient entry (a "recipients" element, or the flattened top level). */
static danemsg_err set_recipient(jose_jwe_recipient *r, const json_t *obj)
{
	const json_t *header = json_object_get(obj, "header");
	danemsg_err err;

	if (header && !json_is_object(header))
		return DANEMSG_ERR_MALFORMED;
	if (header)
		r->header = json_incref((json_t *)header);
	err = jose_json_b64(obj, "encrypted_key", 0, ENCRYPTED_KEY_MAX, &r->encrypted_key,
			    &r->encrypted_key_len);
	return err;
}

static const char *str_member(const json_t *obj, const char *name, size_t *len, int *bad)
{
	const json_t *v = json_object_get(obj, name);

	if (!json_is_string(v)) {
		*bad = 1;
		return NULL;
	}
	*len = json_string_length(v);
	return json_string_value(v);
}

static danemsg_err parse_json(const char *in, size_t in_len, const char *const *understood,
			      jose_jwe *jwe)
{
	json_t *root = jose_json_load(in, in_len);
	const json_t *prot, *unprot, *list, *aad;
	const char *iv, *ct, *tag;
	size_t iv_n = 0, ct_n = 0, tag_n = 0, n;
	int bad = 0;
	danemsg_err err = DANEMSG_ERR_MALFORMED;

	if (!json_is_object(root))
		goto done;
	prot = json_object_get(root, "protected");
	unprot = json_object_get(root, "unprotected");
	list = json_object_get(root, "recipients");
	aad = json_object_get(root, "aad");
	if ((prot && !json_is_string(prot)) || (unprot && !json_is_object(unprot))
	    || (aad && !json_is_string(aad)))
		goto done;
	if ((err = set_protected(jwe, prot ? json_string_value(prot) : "",
				 prot ? json_string_length(prot) : 0, understood)) != DANEMSG_OK)
		goto done;
	err = DANEMSG_ERR_MALFORMED;
	if (unprot) {
		jwe->unprotected = json_incref((json_t *)unprot);
		if ((err = jose_header_check(unprot, 0, NULL)) != DANEMSG_OK)
			goto done;
		err = DANEMSG_ERR_MALFORMED;
	}
	if (list) {
		/* General serialization: nothing of the flattened form beside it. */
		n = json_is_array(list) ? json_array_size(list) : 0;
		if (n == 0 || json_object_get(root, "header")
		    || json_object_get(root, "encrypted_key"))
			goto done;
		if (n > JOSE_MAX_RECIPIENTS) {
			err = DANEMSG_ERR_TOO_LARGE;
			goto done;
		}
	} else {
		n = 1;
	}
	err = DANEMSG_ERR_NOMEM;
	if (!(jwe->recipients = calloc(n, sizeof(*jwe->recipients))))
		goto done;
	jwe->n_recipients = n;
	for (size_t i = 0; i < n; i++) {
		const json_t *entry = list ? json_array_get(list, i) : root;

		err = DANEMSG_ERR_MALFORMED;
		if (!json_is_object(entry))
			goto done;
		if ((err = set_recipient(&jwe->recipients[i], entry)) != DANEMSG_OK)
			goto done;
	}
	if (aad) {
		err = DANEMSG_ERR_NOMEM;
		if (!(jwe->aad_b64 = strndup_checked(json_string_value(aad),
						     json_string_length(aad))))
			goto done;
		if ((err = decode_part(json_string_value(aad), json_string_length(aad),
				       JOSE_MAX_INPUT, &jwe->aad, &jwe->aad_len)) != DANEMSG_OK)
			goto done;
	}
	iv = str_member(root, "iv", &iv_n, &bad);
	ct = str_member(root, "ciphertext", &ct_n, &bad);
	tag = str_member(root, "tag", &tag_n, &bad);
	err = DANEMSG_ERR_MALFORMED;
	if (bad)
		goto done;
	if ((err = set_content(jwe, iv, iv_n, ct, ct_n, tag, tag_n)) != DANEMSG_OK)
		goto done;
	err = check_headers(jwe);
done:
	json_decref(root);
	return err;
}

danemsg_err jose_jwe_parse(const char *in, size_t in_len, const char *const *understood,
			   jose_jwe *jwe)
{
	danemsg_err err;

	if (!jwe)
		return DANEMSG_ERR_INVALID_ARG;
	memset(jwe, 0, sizeof(*jwe));
	if (!in)
		return DANEMSG_ERR_INVALID_ARG;
	if (in_len > JOSE_MAX_INPUT)
		return DANEMSG_ERR_TOO_LARGE;
	if (jose_is_json_serialization(in, in_len))
		err = parse_json(in, in_len, understood, jwe);
	else
		err = parse_compact(in, in_len, understood, jwe);
	if (err != DANEMSG_OK)
		jose_jwe_clear(jwe);
	return err;
}

/* ---- decryption ---- */

int jose_recipient_has_id(const json_t *merged, size_t index, void *arg)
{
	const struct jose_id_match *m = arg;
	const char *have;

	(void)index;
	if (!m || !m->name || !m->value)
		return 0;
	have = json_string_value(json_object_get(merged, m->name));
	return have && strcmp(have, m->value) == 0;
}

/* The key kind an epk claims, from kty/crv alone (the point is checked on import). */
static jose_key_kind epk_kind(const json_t *epk)
{
	const char *kty = json_string_value(json_object_get(epk, "kty"));
	const char *crv = json_string_value(json_object_get(epk, "crv"));

	if (!kty || !crv)
		return JOSE_KEY_OTHER;
	if (strcmp(kty, "EC") == 0 && strcmp(crv, "P-256") == 0)
		return JOSE_KEY_P256;
	if (strcmp(kty, "OKP") == 0 && strcmp(crv, "X25519") == 0)
		return JOSE_KEY_X25519;
	return JOSE_KEY_OTHER;
}

static json_t *merged_header(const jose_jwe *jwe, const jose_jwe_recipient *r)
{
	json_t *m = json_object();

	if (m && ((jwe->protected_header && json_object_update(m, jwe->protected_header))
		  || (jwe->unprotected && json_object_update(m, jwe->unprotected))
		  || (r->header && json_object_update(m, r->header)))) {
		json_decref(m);
		return NULL;
	}
	return m;
}

/* The CEK of entry r for key, of kind (already checked to fit r->alg). */
static danemsg_err unwrap_cek(const jose_jwe *jwe, const jose_jwe_recipient *r, EVP_PKEY *key,
			      jose_key_kind kind, uint8_t cek[CEK_MAX])
{
	size_t want = cek_len(jwe->enc), got = 0;
	EVP_PKEY *epk = NULL;
	uint8_t kek[KEK_LEN];
	danemsg_err err;

	if (r->alg == JOSE_ALG_RSA_OAEP_256)
		return rsa_unwrap(key, r->encrypted_key, r->encrypted_key_len, cek, want);

	if (r->encrypted_key_len != want + KW_OVERHEAD)
		return DANEMSG_ERR_DECRYPT;
	/* The one validation of the outside point: decoded (on the curve) on import. */
	err = jose_jwk_to_pkey_like(jose_header_get("epk", jwe->protected_header,
						    jwe->unprotected, r->header), key, &epk);
	if (err != DANEMSG_OK)
		return err == DANEMSG_ERR_NOMEM ? err : DANEMSG_ERR_MALFORMED;
	if (jose_key_kind_of(epk) != kind) {
		EVP_PKEY_free(epk);
		return DANEMSG_ERR_ALGORITHM;
	}
	err = ecdh_kek_for(key, epk, jwe->protected_header, jwe->unprotected, r->header, kek);
	EVP_PKEY_free(epk);
	if (err == DANEMSG_ERR_CRYPTO)
		err = DANEMSG_ERR_DECRYPT;  /* e.g. a low-order X25519 point */
	if (err == DANEMSG_OK)
		err = aes_kw(0, kek, r->encrypted_key, r->encrypted_key_len, cek, &got);
	if (err == DANEMSG_OK && got != want)
		err = DANEMSG_ERR_DECRYPT;
	OPENSSL_cleanse(kek, sizeof(kek));
	return err;
}

static danemsg_err jwe_aad_text(const jose_jwe *jwe, char **out, size_t *len)
{
	size_t p = strlen(jwe->protected_b64), a = jwe->aad_b64 ? strlen(jwe->aad_b64) : 0;

	*len = p + (jwe->aad_b64 ? 1 + a : 0);
	if (!(*out = malloc(*len + 1)))
		return DANEMSG_ERR_NOMEM;
	memcpy(*out, jwe->protected_b64, p);
	if (jwe->aad_b64) {
		(*out)[p] = '.';
		memcpy(*out + p + 1, jwe->aad_b64, a);
	}
	(*out)[*len] = '\0';
	return DANEMSG_OK;
}

/* Which error wins when several entries fail: the most specific one. */
static int err_rank(danemsg_err e)
{
	switch (e) {
	case DANEMSG_ERR_ALGORITHM:
		return 1;
	case DANEMSG_ERR_DECRYPT:
		return 2;
	case DANEMSG_ERR_MALFORMED:
	case DANEMSG_ERR_TOO_LARGE:
		return 3;
	default:
		return 4;
	}
}

danemsg_err jose_jwe_decrypt(const jose_jwe *jwe, EVP_PKEY *key, jose_recipient_pred pred,
			     void *arg, uint8_t **plaintext, size_t *plaintext_len,
			     size_t *index)
{
	jose_key_kind kind;
	uint8_t cek[CEK_MAX];
	char *aad = NULL;
	size_t aad_len = 0;
	danemsg_err err, result = DANEMSG_ERR_ALGORITHM;

	if (plaintext)
		*plaintext = NULL;
	if (plaintext_len)
		*plaintext_len = 0;
	if (!jwe || !key || !plaintext || !plaintext_len || !jwe->protected_b64 || !jwe->recipients)
		return DANEMSG_ERR_INVALID_ARG;
	kind = jose_key_kind_of(key);
	if ((err = jwe_aad_text(jwe, &aad, &aad_len)) != DANEMSG_OK)
		return err;
	for (size_t i = 0; i < jwe->n_recipients; i++) {
		const jose_jwe_recipient *r = &jwe->recipients[i];

		if (!jose_alg_fits_kind(r->alg, kind))
			continue;
		if (r->alg == JOSE_ALG_ECDH_ES_A256KW
		    && epk_kind(jose_header_get("epk", jwe->protected_header, jwe->unprotected,
						r->header)) != kind)
			continue;
		if (pred) {
			json_t *m = merged_header(jwe, r);
			int take = m && pred(m, i, arg);

			json_decref(m);
			if (!take) {
				if (err_rank(result) < err_rank(DANEMSG_ERR_DECRYPT))
					result = DANEMSG_ERR_DECRYPT;
				continue;
			}
		}
		err = unwrap_cek(jwe, r, key, kind, cek);
		if (err == DANEMSG_OK)
			err = content_decrypt(jwe, cek, (const uint8_t *)aad, aad_len, plaintext,
					      plaintext_len);
		OPENSSL_cleanse(cek, sizeof(cek));
		if (err == DANEMSG_OK) {
			if (index)
				*index = i;
			result = DANEMSG_OK;
			break;
		}
		if (err_rank(err) > err_rank(result))
			result = err;
	}
	free(aad);
	return result;
}

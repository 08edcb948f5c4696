/* JWS (RFC 7515): ES256, EdDSA, RS256, PS256; flattened output, three forms parsed. */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "jose.h"

#define ES256_COORD 32
#define ES256_SIG_LEN (2 * ES256_COORD)
#define EDDSA_SIG_LEN 64

/* A digest-sign/verify context set up for alg (PSS: salt = digest length, MGF1 SHA-256). */
static danemsg_err sig_ctx(EVP_PKEY *key, jose_alg alg, int sign, EVP_MD_CTX **out)
{
	const struct jose_algs *a = jose_algs();
	EVP_MD_CTX *md;
	EVP_PKEY_CTX *pctx = NULL;
	const EVP_MD *type = alg == JOSE_ALG_EDDSA || !a ? NULL : a->sha256;
	int ok;

	*out = NULL;
	if (!a)
		return DANEMSG_ERR_CRYPTO;
	if (!(md = EVP_MD_CTX_new()))
		return DANEMSG_ERR_NOMEM;
	ok = sign ? EVP_DigestSignInit(md, &pctx, type, NULL, key)
		  : EVP_DigestVerifyInit(md, &pctx, type, NULL, key);
	if (ok > 0 && alg == JOSE_ALG_PS256)
		ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0
		     && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) > 0;
	if (ok <= 0) {
		EVP_MD_CTX_free(md);
		return DANEMSG_ERR_CRYPTO;
	}
	*out = md;
	return DANEMSG_OK;
}

/* ECDSA DER -> JOSE r||s (RFC 7518 3.4). */
static danemsg_err ecdsa_der_to_raw(const uint8_t *der, size_t der_len, uint8_t raw[ES256_SIG_LEN])
{
	const unsigned char *p = der;
	ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	const BIGNUM *r, *s;
	danemsg_err err = DANEMSG_ERR_CRYPTO;

	if (!sig)
		return DANEMSG_ERR_CRYPTO;
	ECDSA_SIG_get0(sig, &r, &s);
	if (BN_bn2binpad(r, raw, ES256_COORD) == ES256_COORD
	    && BN_bn2binpad(s, raw + ES256_COORD, ES256_COORD) == ES256_COORD)
		err = DANEMSG_OK;
	ECDSA_SIG_free(sig);
	return err;
}

/* JOSE r||s -> ECDSA DER, for EVP_DigestVerify. */
static danemsg_err ecdsa_raw_to_der(const uint8_t raw[ES256_SIG_LEN], uint8_t **der, size_t *len)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(raw, ES256_COORD, NULL);
	BIGNUM *s = BN_bin2bn(raw + ES256_COORD, ES256_COORD, NULL);
	unsigned char *out = NULL;
	int n;

	*der = NULL;
	if (!sig || !r || !s || !ECDSA_SIG_set0(sig, r, s)) {
		ECDSA_SIG_free(sig);
		BN_free(r);
		BN_free(s);
		return DANEMSG_ERR_NOMEM;
	}
	n = i2d_ECDSA_SIG(sig, &out);
	ECDSA_SIG_free(sig);
	if (n <= 0)
		return DANEMSG_ERR_CRYPTO;
	*der = out;
	*len = (size_t)n;
	return DANEMSG_OK;
}

static danemsg_err sig_sign(EVP_PKEY *key, jose_alg alg, const uint8_t *in, size_t in_len,
			    uint8_t **sig, size_t *sig_len)
{
	EVP_MD_CTX *md = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	danemsg_err err;

	*sig = NULL;
	if ((err = sig_ctx(key, alg, 1, &md)) != DANEMSG_OK)
		return err;
	err = DANEMSG_ERR_CRYPTO;
	if (EVP_DigestSign(md, NULL, &len, in, in_len) <= 0)
		goto done;
	err = DANEMSG_ERR_NOMEM;
	if (!(buf = malloc(len > ES256_SIG_LEN ? len : ES256_SIG_LEN)))
		goto done;
	err = DANEMSG_ERR_CRYPTO;
	if (EVP_DigestSign(md, buf, &len, in, in_len) <= 0)
		goto done;
	if (alg == JOSE_ALG_ES256) {
		uint8_t raw[ES256_SIG_LEN];

		if ((err = ecdsa_der_to_raw(buf, len, raw)) != DANEMSG_OK)
			goto done;
		memcpy(buf, raw, sizeof(raw));
		len = sizeof(raw);
	}
	*sig = buf;
	*sig_len = len;
	buf = NULL;
	err = DANEMSG_OK;
done:
	free(buf);
	EVP_MD_CTX_free(md);
	return err;
}

/* The protected header to sign: "alg" first, then the caller's members. */
static danemsg_err sign_header(const json_t *caller, jose_alg alg, json_t **out)
{
	const json_t *have = caller ? json_object_get(caller, "alg") : NULL;
	json_t *h;
	danemsg_err err;

	*out = NULL;
	if (caller && !json_is_object(caller))
		return DANEMSG_ERR_INVALID_ARG;
	if (have && jose_alg_from_name(json_string_value(have)) != alg)
		return DANEMSG_ERR_INVALID_ARG;
	if (!(h = json_object()))
		return DANEMSG_ERR_NOMEM;
	if (json_object_set_new(h, "alg", json_string(jose_alg_name(alg))) != 0) {
		json_decref(h);
		return DANEMSG_ERR_NOMEM;
	}
	if (have) {
		/* Keep the caller's spelling out of it: one name per alg on output. */
		json_t *rest = json_deep_copy(caller);

		if (!rest || json_object_del(rest, "alg") != 0) {
			json_decref(rest);
			json_decref(h);
			return DANEMSG_ERR_NOMEM;
		}
		err = jose_header_with_members(h, rest, out);
		json_decref(rest);
	} else {
		err = jose_header_with_members(h, caller, out);
	}
	json_decref(h);
	return err;
}

/* "H.P.S": the signing input, already in place, and the signature. Takes input. */
static danemsg_err compact_text(char *input, size_t input_len, const uint8_t *sig,
				size_t sig_len, char **out, size_t *out_len)
{
	size_t s64_len = jose_b64url_encoded_len(sig_len);
	char *text = realloc(input, input_len + 1 + s64_len + 1);
	danemsg_err err;

	if (!text) {
		free(input);
		return DANEMSG_ERR_NOMEM;
	}
	text[input_len] = '.';
	if ((err = jose_b64url_encode(sig, sig_len, text + input_len + 1, s64_len + 1, &s64_len))) {
		free(text);
		return err;
	}
	*out = text;
	if (out_len)
		*out_len = input_len + 1 + s64_len;
	return DANEMSG_OK;
}

static danemsg_err jws_sign(EVP_PKEY *key, jose_alg alg, const json_t *protected_header,
			    const uint8_t *payload, size_t payload_len, int compact, char **out,
			    size_t *out_len)
{
	json_t *header = NULL;
	char *header_text = NULL, *input = NULL;
	uint8_t *sig = NULL;
	size_t header_len = 0, h64_len, p64_len, sig_len = 0;
	danemsg_err err;

	if (out)
		*out = NULL;
	if (out_len)
		*out_len = 0;
	if (!key || !out || (!payload && payload_len))
		return DANEMSG_ERR_INVALID_ARG;
	if (payload_len > JOSE_MAX_INPUT)
		return DANEMSG_ERR_TOO_LARGE;
	if (alg == JOSE_ALG_UNKNOWN && (alg = jose_sig_alg_for_key(key)) == JOSE_ALG_UNKNOWN)
		return DANEMSG_ERR_ALGORITHM;
	if (!jose_alg_is_signature(alg) || jose_alg_check_key(alg, key) != DANEMSG_OK)
		return DANEMSG_ERR_ALGORITHM;
	if ((err = sign_header(protected_header, alg, &header)) != DANEMSG_OK)
		return err;
	err = DANEMSG_ERR_NOMEM;
	if (!(header_text = jose_dump(header, &header_len)))
		goto done;
	err = DANEMSG_ERR_TOO_LARGE;
	if (header_len > JOSE_MAX_HEADER)
		goto done;

	/* Signing input "H.P", built in place: it is also where the output copies from. */
	h64_len = jose_b64url_encoded_len(header_len);
	p64_len = jose_b64url_encoded_len(payload_len);
	err = DANEMSG_ERR_NOMEM;
	if (!(input = malloc(h64_len + 1 + p64_len + 1)))
		goto done;
	if ((err = jose_b64url_encode((const uint8_t *)header_text, header_len, input,
				      h64_len + 1, &h64_len)) != DANEMSG_OK)
		goto done;
	input[h64_len] = '.';
	if ((err = jose_b64url_encode(payload, payload_len, input + h64_len + 1, p64_len + 1,
				      &p64_len)) != DANEMSG_OK)
		goto done;
	if ((err = sig_sign(key, alg, (const uint8_t *)input, h64_len + 1 + p64_len, &sig,
			    &sig_len)) != DANEMSG_OK)
		goto done;

	if (compact) {
		err = compact_text(input, h64_len + 1 + p64_len, sig, sig_len, out, out_len);
		input = NULL;   /* compact_text took it */
		goto done;
	}
	{
		const struct jose_text_member members[] = {
			{"payload", NULL, 0, input + h64_len + 1, p64_len},
			{"protected", NULL, 0, input, h64_len},
			{"signature", sig, sig_len, NULL, 0},
		};
		err = jose_flat_text(members, 3, out, out_len);
	}
done:
	free(sig);
	free(input);
	free(header_text);
	json_decref(header);
	return err;
}

danemsg_err jose_jws_sign(EVP_PKEY *key, jose_alg alg, const json_t *protected_header,
			  const uint8_t *payload, size_t payload_len, char **out, size_t *out_len)
{
	return jws_sign(key, alg, protected_header, payload, payload_len, 0, out, out_len);
}

danemsg_err jose_jws_sign_compact(EVP_PKEY *key, jose_alg alg, const json_t *protected_header,
				  const uint8_t *payload, size_t payload_len, char **out,
				  size_t *out_len)
{
	return jws_sign(key, alg, protected_header, payload, payload_len, 1, out, out_len);
}

/* ---- parsing ---- */

void jose_jws_clear(jose_jws *jws)
{
	if (!jws)
		return;
	json_decref(jws->protected_header);
	json_decref(jws->header);
	free(jws->payload);
	free(jws->signing_input);
	free(jws->signature);
	memset(jws, 0, sizeof(*jws));
}

/* Fills jws from the three parts (base64url text, not NUL-terminated). */
static danemsg_err jws_from_parts(const char *h64, size_t h64_len, const char *p64,
				  size_t p64_len, const char *s64, size_t s64_len,
				  const json_t *unprotected, const char *const *understood,
				  jose_jws *jws)
{
	const char *alg_name;
	danemsg_err err;

	if ((err = jose_header_decode(h64, h64_len, understood, &jws->protected_header))
	    != DANEMSG_OK)
		return err;
	if (unprotected) {
		if ((err = jose_header_check(unprotected, 0, understood)) != DANEMSG_OK
		    || (err = jose_headers_disjoint(unprotected, jws->protected_header))
		       != DANEMSG_OK)
			return err;
		jws->header = json_incref((json_t *)unprotected);
	}
	/* The algorithm must be integrity-protected: no downgrade by an unprotected header. */
	if (!(alg_name = json_string_value(json_object_get(jws->protected_header, "alg"))))
		return DANEMSG_ERR_MALFORMED;
	jws->alg = jose_alg_from_name(alg_name);
	if (!jose_alg_is_signature(jws->alg))
		return DANEMSG_ERR_ALGORITHM;

	if ((err = jose_b64url_decode_alloc(p64, p64_len, &jws->payload, &jws->payload_len))
	    != DANEMSG_OK)
		return err;
	if ((err = jose_b64url_decode_alloc(s64, s64_len, &jws->signature, &jws->signature_len))
	    != DANEMSG_OK)
		return err;
	if ((jws->alg == JOSE_ALG_ES256 && jws->signature_len != ES256_SIG_LEN)
	    || (jws->alg == JOSE_ALG_EDDSA && jws->signature_len != EDDSA_SIG_LEN)
	    || jws->signature_len == 0)
		return DANEMSG_ERR_MALFORMED;

	jws->signing_input_len = h64_len + 1 + p64_len;
	if (!(jws->signing_input = malloc(jws->signing_input_len + 1)))
		return DANEMSG_ERR_NOMEM;
	memcpy(jws->signing_input, h64, h64_len);
	jws->signing_input[h64_len] = '.';
	memcpy(jws->signing_input + h64_len + 1, p64, p64_len);
	jws->signing_input[jws->signing_input_len] = '\0';
	return DANEMSG_OK;
}

static danemsg_err parse_compact(const char *in, size_t in_len, const char *const *understood,
				 jose_jws *jws)
{
	const char *dot1 = memchr(in, '.', in_len), *dot2, *end = in + in_len;

	if (!dot1 || !(dot2 = memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1)))
	    || memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1)))
		return DANEMSG_ERR_MALFORMED;
	return jws_from_parts(in, (size_t)(dot1 - in), dot1 + 1, (size_t)(dot2 - dot1 - 1),
			      dot2 + 1, (size_t)(end - dot2 - 1), NULL, understood, jws);
}

static danemsg_err parse_json(const char *in, size_t in_len, const char *const *understood,
			      jose_jws *jws)
{
	json_t *root = jose_json_load(in, in_len);
	const json_t *sigs, *entry, *payload, *prot, *sig, *header;
	danemsg_err err = DANEMSG_ERR_MALFORMED;

	if (!json_is_object(root))
		goto done;
	entry = root;
	if ((sigs = json_object_get(root, "signatures"))) {
		/* General serialization: exactly one signature, nothing flattened beside it. */
		if (!json_is_array(sigs) || json_array_size(sigs) != 1
		    || json_object_get(root, "protected") || json_object_get(root, "header")
		    || json_object_get(root, "signature"))
			goto done;
		entry = json_array_get(sigs, 0);
		if (!json_is_object(entry))
			goto done;
	}
	payload = json_object_get(root, "payload");
	prot = json_object_get(entry, "protected");
	sig = json_object_get(entry, "signature");
	header = json_object_get(entry, "header");
	if (!json_is_string(payload) || !json_is_string(prot) || !json_is_string(sig)
	    || (header && !json_is_object(header)))
		goto done;
	err = jws_from_parts(json_string_value(prot), json_string_length(prot),
			     json_string_value(payload), json_string_length(payload),
			     json_string_value(sig), json_string_length(sig), header, understood,
			     jws);
done:
	json_decref(root);
	return err;
}

danemsg_err jose_jws_parse(const char *in, size_t in_len, const char *const *understood,
			   jose_jws *jws)
{
	danemsg_err err;

	if (!jws)
		return DANEMSG_ERR_INVALID_ARG;
	memset(jws, 0, sizeof(*jws));
	if (!in)
		return DANEMSG_ERR_INVALID_ARG;
	if (in_len > JOSE_MAX_INPUT)
		return DANEMSG_ERR_TOO_LARGE;
	if (jose_is_json_serialization(in, in_len))
		err = parse_json(in, in_len, understood, jws);
	else
		err = parse_compact(in, in_len, understood, jws);
	if (err != DANEMSG_OK)
		jose_jws_clear(jws);
	return err;
}

danemsg_err jose_jws_verify(const jose_jws *jws, EVP_PKEY *key)
{
	EVP_MD_CTX *md = NULL;
	const uint8_t *sig;
	uint8_t *der = NULL;
	size_t sig_len;
	danemsg_err err;
	int ok;

	if (!jws || !key || !jws->signing_input || !jws->signature)
		return DANEMSG_ERR_INVALID_ARG;
	if (!jose_alg_is_signature(jws->alg) || jose_alg_check_key(jws->alg, key) != DANEMSG_OK)
		return DANEMSG_ERR_ALGORITHM;
	sig = jws->signature;
	sig_len = jws->signature_len;
	if (jws->alg == JOSE_ALG_ES256) {
		if (sig_len != ES256_SIG_LEN)
			return DANEMSG_ERR_BAD_SIGNATURE;
		if ((err = ecdsa_raw_to_der(sig, &der, &sig_len)) != DANEMSG_OK)
			return err;
		sig = der;
	} else if ((jws->alg == JOSE_ALG_EDDSA && sig_len != EDDSA_SIG_LEN)
		   || ((jws->alg == JOSE_ALG_RS256 || jws->alg == JOSE_ALG_PS256)
		       && sig_len != (size_t)EVP_PKEY_get_size(key))) {
		return DANEMSG_ERR_BAD_SIGNATURE;
	}
	if ((err = sig_ctx(key, jws->alg, 0, &md)) != DANEMSG_OK) {
		OPENSSL_free(der);
		return err;
	}
	ok = EVP_DigestVerify(md, sig, sig_len, (const uint8_t *)jws->signing_input,
			      jws->signing_input_len);
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	if (ok != 1) {
		ERR_clear_error();
		return DANEMSG_ERR_BAD_SIGNATURE;
	}
	return DANEMSG_OK;
}

/* JWK (RFC 7517/7518/8037) for public keys, RFC 7638 thumbprints, x5t#S256. */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include "jose.h"

#define COORD_LEN 32           /* P-256 coordinates, X25519/Ed25519 public keys */
#define RSA_JWK_MAX_BITS 8192  /* bounds the work an outside JWK can cause */

static danemsg_err set_b64(json_t *obj, const char *name, const uint8_t *p, size_t n)
{
	return json_object_set_new(obj, name, jose_b64url_json(p, n)) ? DANEMSG_ERR_NOMEM :
	       DANEMSG_OK;
}

/* A BIGNUM parameter of key as big-endian bytes, padded to pad (0: minimal). */
static danemsg_err set_bn(json_t *obj, const char *name, const EVP_PKEY *key,
			  const char *param, int pad)
{
	BIGNUM *bn = NULL;
	uint8_t *buf = NULL;
	int len;
	danemsg_err err = DANEMSG_ERR_CRYPTO;

	if (!EVP_PKEY_get_bn_param(key, param, &bn))
		return DANEMSG_ERR_CRYPTO;
	len = pad ? pad : BN_num_bytes(bn);
	if (len > 0 && BN_num_bytes(bn) <= len && (buf = malloc((size_t)len))
	    && BN_bn2binpad(bn, buf, len) == len)
		err = set_b64(obj, name, buf, (size_t)len);
	free(buf);
	BN_free(bn);
	return err;
}

/* x and y of a P-256 key: from the uncompressed encoding (one conversion to affine
 * coordinates), else coordinate by coordinate (a key kept in compressed form). */
static danemsg_err set_ec_point(json_t *obj, const EVP_PKEY *key)
{
	uint8_t point[1 + 2 * COORD_LEN];
	size_t len = 0;
	danemsg_err err;

	if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point,
					    sizeof(point), &len)
	    && len == sizeof(point) && point[0] == 0x04) {
		err = set_b64(obj, "x", point + 1, COORD_LEN);
		if (err != DANEMSG_OK)
			return err;
		return set_b64(obj, "y", point + 1 + COORD_LEN, COORD_LEN);
	}
	ERR_clear_error();
	err = set_bn(obj, "x", key, OSSL_PKEY_PARAM_EC_PUB_X, COORD_LEN);
	return err != DANEMSG_OK ? err : set_bn(obj, "y", key, OSSL_PKEY_PARAM_EC_PUB_Y, COORD_LEN);
}

danemsg_err jose_jwk_from_pkey(const EVP_PKEY *key, json_t **jwk)
{
	uint8_t raw[COORD_LEN];
	size_t raw_len = sizeof(raw);
	json_t *j;
	danemsg_err err;

	if (!jwk)
		return DANEMSG_ERR_INVALID_ARG;
	*jwk = NULL;
	if (!key)
		return DANEMSG_ERR_INVALID_ARG;
	if (!(j = json_object()))
		return DANEMSG_ERR_NOMEM;
	switch (jose_key_kind_of(key)) {
	case JOSE_KEY_P256:
		err = json_object_set_new(j, "kty", json_string("EC"))
		      || json_object_set_new(j, "crv", json_string("P-256"))
		      ? DANEMSG_ERR_NOMEM : DANEMSG_OK;
		if (err == DANEMSG_OK)
			err = set_ec_point(j, key);
		break;
	case JOSE_KEY_ED25519:
	case JOSE_KEY_X25519:
		err = json_object_set_new(j, "kty", json_string("OKP"))
		      || json_object_set_new(j, "crv", json_string(
			      jose_key_kind_of(key) == JOSE_KEY_X25519 ? "X25519" : "Ed25519"))
		      ? DANEMSG_ERR_NOMEM : DANEMSG_OK;
		if (err == DANEMSG_OK && (!EVP_PKEY_get_raw_public_key(key, raw, &raw_len)
					  || raw_len != COORD_LEN))
			err = DANEMSG_ERR_CRYPTO;
		if (err == DANEMSG_OK)
			err = set_b64(j, "x", raw, raw_len);
		break;
	case JOSE_KEY_RSA:
		err = json_object_set_new(j, "kty", json_string("RSA")) ? DANEMSG_ERR_NOMEM
									 : DANEMSG_OK;
		if (err == DANEMSG_OK)
			err = set_bn(j, "n", key, OSSL_PKEY_PARAM_RSA_N, 0);
		if (err == DANEMSG_OK)
			err = set_bn(j, "e", key, OSSL_PKEY_PARAM_RSA_E, 0);
		break;
	default:
		err = DANEMSG_ERR_ALGORITHM;
	}
	if (err != DANEMSG_OK) {
		json_decref(j);
		return err;
	}
	*jwk = j;
	return DANEMSG_OK;
}

/* A member decoded to exactly len bytes (len 0: any length up to max). */
static danemsg_err get_fixed(const json_t *jwk, const char *name, size_t len, size_t max,
			     uint8_t **out, size_t *out_len)
{
	danemsg_err err = jose_json_b64(jwk, name, 1, len ? len : max, out, out_len);

	if (err == DANEMSG_ERR_TOO_LARGE)
		err = DANEMSG_ERR_MALFORMED;
	if (err == DANEMSG_OK && ((len && *out_len != len) || *out_len == 0))
		err = DANEMSG_ERR_MALFORMED;
	if (err != DANEMSG_OK) {
		free(*out);
		*out = NULL;
	}
	return err;
}

static danemsg_err pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld, EVP_PKEY **key)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = params ? EVP_PKEY_CTX_new_from_name(NULL, type, NULL) : NULL;
	danemsg_err err = DANEMSG_ERR_MALFORMED;

	/* The import decodes the point and refuses one off the curve. */
	if (ctx && EVP_PKEY_fromdata_init(ctx) > 0
	    && EVP_PKEY_fromdata(ctx, key, EVP_PKEY_PUBLIC_KEY, params) > 0)
		err = DANEMSG_OK;
	else if (!params || !ctx)
		err = DANEMSG_ERR_NOMEM;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return err;
}

/*
 * With like (a P-256 key, e.g. our own), the group is copied from it and the point set
 * into it: a third of the cost of an import by group name. Both ways decode the point,
 * which refuses one off the curve.
 */
static danemsg_err ec_from_jwk(const json_t *jwk, const EVP_PKEY *like, EVP_PKEY **key)
{
	uint8_t *x = NULL, *y = NULL, point[1 + 2 * COORD_LEN];
	size_t x_len, y_len;
	OSSL_PARAM_BLD *bld = NULL;
	danemsg_err err;

	if (!json_string_value(json_object_get(jwk, "crv")))
		return DANEMSG_ERR_MALFORMED;
	if (strcmp(json_string_value(json_object_get(jwk, "crv")), "P-256") != 0)
		return DANEMSG_ERR_ALGORITHM;
	if ((err = get_fixed(jwk, "x", COORD_LEN, 0, &x, &x_len)) != DANEMSG_OK
	    || (err = get_fixed(jwk, "y", COORD_LEN, 0, &y, &y_len)) != DANEMSG_OK)
		goto done;
	point[0] = 0x04;
	memcpy(point + 1, x, COORD_LEN);
	memcpy(point + 1 + COORD_LEN, y, COORD_LEN);
	if (like && jose_key_kind_of(like) == JOSE_KEY_P256) {
		err = DANEMSG_ERR_NOMEM;
		if (!(*key = EVP_PKEY_new()))
			goto done;
		err = DANEMSG_ERR_MALFORMED;
		if (EVP_PKEY_copy_parameters(*key, like) > 0
		    && EVP_PKEY_set1_encoded_public_key(*key, point, sizeof(point)) > 0)
			err = DANEMSG_OK;
		goto done;
	}
	err = DANEMSG_ERR_NOMEM;
	if ((bld = OSSL_PARAM_BLD_new())
	    && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0)
	    && OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point,
						sizeof(point)))
		err = pkey_fromdata("EC", bld, key);
done:
	if (err != DANEMSG_OK) {
		EVP_PKEY_free(*key);
		*key = NULL;
		ERR_clear_error();
	}
	OSSL_PARAM_BLD_free(bld);
	free(x);
	free(y);
	return err;
}

static danemsg_err okp_from_jwk(const json_t *jwk, EVP_PKEY **key)
{
	const char *crv = json_string_value(json_object_get(jwk, "crv"));
	uint8_t *x = NULL;
	size_t x_len;
	danemsg_err err;

	if (!crv)
		return DANEMSG_ERR_MALFORMED;
	if (strcmp(crv, "X25519") != 0 && strcmp(crv, "Ed25519") != 0)
		return DANEMSG_ERR_ALGORITHM;
	if ((err = get_fixed(jwk, "x", COORD_LEN, 0, &x, &x_len)) != DANEMSG_OK)
		return err;
	*key = EVP_PKEY_new_raw_public_key_ex(NULL, strcmp(crv, "X25519") == 0 ? "X25519"
									      : "ED25519",
					      NULL, x, x_len);
	free(x);
	return *key ? DANEMSG_OK : DANEMSG_ERR_MALFORMED;
}

static danemsg_err rsa_from_jwk(const json_t *jwk, EVP_PKEY **key)
{
	uint8_t *n = NULL, *e = NULL;
	size_t n_len, e_len;
	BIGNUM *bn_n = NULL, *bn_e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	danemsg_err err;

	if ((err = get_fixed(jwk, "n", 0, RSA_JWK_MAX_BITS / 8, &n, &n_len)) != DANEMSG_OK
	    || (err = get_fixed(jwk, "e", 0, 8, &e, &e_len)) != DANEMSG_OK)
		goto done;
	/* Minimal big-endian (RFC 7518 6.3.1), an odd exponent above 1. */
	err = DANEMSG_ERR_MALFORMED;
	if (n[0] == 0 || e[0] == 0 || !(e[e_len - 1] & 1) || (e_len == 1 && e[0] == 1))
		goto done;
	err = DANEMSG_ERR_ALGORITHM;
	if (n_len * 8 < 2048)
		goto done;
	err = DANEMSG_ERR_NOMEM;
	if ((bn_n = BN_bin2bn(n, (int)n_len, NULL)) && (bn_e = BN_bin2bn(e, (int)e_len, NULL))
	    && (bld = OSSL_PARAM_BLD_new())
	    && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n)
	    && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e))
		err = pkey_fromdata("RSA", bld, key);
	if (err == DANEMSG_OK && jose_key_kind_of(*key) != JOSE_KEY_RSA) {
		EVP_PKEY_free(*key);
		*key = NULL;
		err = DANEMSG_ERR_ALGORITHM;
	}
done:
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn_n);
	BN_free(bn_e);
	free(n);
	free(e);
	return err;
}

danemsg_err jose_jwk_to_pkey(const json_t *jwk, EVP_PKEY **key)
{
	return jose_jwk_to_pkey_like(jwk, NULL, key);
}

static danemsg_err jwk_to_pkey(const json_t *jwk, const EVP_PKEY *like, EVP_PKEY **key)
{
	const char *kty;

	if (!key)
		return DANEMSG_ERR_INVALID_ARG;
	*key = NULL;
	if (!jwk)
		return DANEMSG_ERR_INVALID_ARG;
	if (!json_is_object(jwk))
		return DANEMSG_ERR_MALFORMED;
	/* Public keys only: a private member here is a leak or a mistake. */
	if (json_object_get(jwk, "d"))
		return DANEMSG_ERR_MALFORMED;
	if (!(kty = json_string_value(json_object_get(jwk, "kty"))))
		return DANEMSG_ERR_MALFORMED;
	if (strcmp(kty, "EC") == 0)
		return ec_from_jwk(jwk, like, key);
	if (strcmp(kty, "OKP") == 0)
		return okp_from_jwk(jwk, key);
	if (strcmp(kty, "RSA") == 0)
		return rsa_from_jwk(jwk, key);
	return DANEMSG_ERR_ALGORITHM;
}

danemsg_err jose_jwk_to_pkey_like(const json_t *jwk, const EVP_PKEY *like, EVP_PKEY **key)
{
	danemsg_err err = jwk_to_pkey(jwk, like, key);

	/* A refused key is outside data, not an error of ours: leave no trace in the queue. */
	if (err != DANEMSG_OK)
		ERR_clear_error();
	return err;
}

static danemsg_err sha256_b64(const uint8_t *p, size_t n, char out[JOSE_THUMBPRINT_SIZE])
{
	uint8_t md[32];
	size_t len;

	if (!EVP_Q_digest(NULL, "SHA256", NULL, p, n, md, NULL))
		return DANEMSG_ERR_CRYPTO;
	return jose_b64url_encode(md, sizeof(md), out, JOSE_THUMBPRINT_SIZE, &len);
}

danemsg_err jose_jwk_thumbprint(const EVP_PKEY *key, char out[JOSE_THUMBPRINT_SIZE])
{
	json_t *jwk = NULL;
	char *text;
	danemsg_err err;

	if (!key || !out)
		return DANEMSG_ERR_INVALID_ARG;
	if ((err = jose_jwk_from_pkey(key, &jwk)) != DANEMSG_OK)
		return err;
	/* RFC 7638: required members only, sorted, no whitespace. */
	text = json_dumps(jwk, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(jwk);
	if (!text)
		return DANEMSG_ERR_NOMEM;
	err = sha256_b64((const uint8_t *)text, strlen(text), out);
	free(text);
	return err;
}

danemsg_err jose_x5t_s256(const X509 *cert, char out[JOSE_THUMBPRINT_SIZE])
{
	uint8_t md[32];
	unsigned int md_len = 0;
	size_t len;

	if (!cert || !out)
		return DANEMSG_ERR_INVALID_ARG;
	/* The digest fetched once: EVP_sha256() would be looked up again on every call. */
	if (!jose_algs() || !X509_digest(cert, jose_algs()->sha256, md, &md_len) ||
	    md_len != sizeof(md))
		return DANEMSG_ERR_CRYPTO;
	return jose_b64url_encode(md, sizeof(md), out, JOSE_THUMBPRINT_SIZE, &len);
}

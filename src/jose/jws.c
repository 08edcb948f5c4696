/* JWS (RFC 7515): ES256, EdDSA, RS256, PS256; flattened output, three forms parsed. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "jose.h"

#define ES256_COORD 32
#define ES256_SIG_LEN (2 * ES256_COORD)
#define EDDSA_SIG_LEN 64

struct jose_signer {
	EVP_PKEY *key;          /* own reference */
	jose_alg alg;
	int sign;
	EVP_PKEY_CTX *pctx;     /* ES256, RS256, PS256: over the SHA-256 digest */
	EVP_MD_CTX *md;         /* EdDSA: over the input, one shot */
};

void jose_signer_free(jose_signer *s)
{
	if (!s)
		return;
	EVP_PKEY_CTX_free(s->pctx);
	EVP_MD_CTX_free(s->md);
	EVP_PKEY_free(s->key);
	free(s);
}

jose_alg jose_signer_alg(const jose_signer *s)
{
	return s ? s->alg : JOSE_ALG_UNKNOWN;
}

/* The digest context of EdDSA, the key context of the others (PSS: salt = digest length,
 * MGF1 = the digest). */
static int signer_init(jose_signer *s, const struct jose_algs *a)
{
	if (s->alg == JOSE_ALG_EDDSA)
		return (s->md = EVP_MD_CTX_new()) &&
		       (s->sign ? EVP_DigestSignInit_ex(s->md, NULL, NULL, NULL, NULL, s->key, NULL)
				: EVP_DigestVerifyInit_ex(s->md, NULL, NULL, NULL, NULL, s->key,
							  NULL)) > 0;
	if (!(s->pctx = EVP_PKEY_CTX_new_from_pkey(NULL, s->key, NULL)) ||
	    (s->sign ? EVP_PKEY_sign_init(s->pctx) : EVP_PKEY_verify_init(s->pctx)) <= 0)
		return 0;
	if (s->alg == JOSE_ALG_RS256 &&
	    EVP_PKEY_CTX_set_rsa_padding(s->pctx, RSA_PKCS1_PADDING) <= 0)
		return 0;
	if (s->alg == JOSE_ALG_PS256 &&
	    (EVP_PKEY_CTX_set_rsa_padding(s->pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(s->pctx, RSA_PSS_SALTLEN_DIGEST) <= 0))
		return 0;
	return EVP_PKEY_CTX_set_signature_md(s->pctx, a->sha256) > 0;
}

danemsg_err jose_signer_new(EVP_PKEY *key, jose_alg alg, int sign, jose_signer **out)
{
	const struct jose_algs *a = jose_algs();
	jose_signer *s;

	*out = NULL;
	if (!key)
		return DANEMSG_ERR_INVALID_ARG;
	if (!jose_alg_is_signature(alg) || jose_alg_check_key(alg, key) != DANEMSG_OK)
		return DANEMSG_ERR_ALGORITHM;
	if (!a)
		return DANEMSG_ERR_CRYPTO;
	if (!(s = calloc(1, sizeof(*s))) || !EVP_PKEY_up_ref(key)) {
		free(s);
		return DANEMSG_ERR_NOMEM;
	}
	s->key = key;
	s->alg = alg;
	s->sign = sign;
	if (!signer_init(s, a)) {
		jose_signer_free(s);
		ERR_clear_error();
		return DANEMSG_ERR_CRYPTO;
	}
	*out = s;
	return DANEMSG_OK;
}

/* The SHA-256 of in, with the digest fetched once. */
static int sha256(const uint8_t *in, size_t in_len, uint8_t md[32])
{
	const struct jose_algs *a = jose_algs();
	return a && EVP_Digest(in, in_len, md, NULL, a->sha256, NULL);
}

/*
 * ECDSA signatures as DER (OpenSSL) and as r||s (JOSE, RFC 7518 3.4), converted by hand:
 * both are fixed, short forms (P-256: SEQUENCE of two INTEGERs of at most 33 bytes), and
 * going through ECDSA_SIG and two BIGNUMs cost more than the rest of the JWS code.
 */
#define ES256_DER_MAX (2 + 2 * (2 + ES256_COORD + 1))

/* One INTEGER at *p (before end) into a 32-byte big-endian coordinate. */
static int der_int_to_coord(const uint8_t **p, const uint8_t *end, uint8_t out[ES256_COORD])
{
	const uint8_t *q = *p;
	size_t len;

	if (end - q < 2 || q[0] != 0x02 || q[1] == 0 || q[1] > ES256_COORD + 1 ||
	    (size_t)(end - q - 2) < q[1])
		return 0;
	len = q[1];
	q += 2;
	*p = q + len;
	/* A leading zero only before a byte with its high bit set (DER's minimal form). */
	if (len > 1 && q[0] == 0 && !(q[1] & 0x80))
		return 0;
	if (q[0] & 0x80)
		return 0;   /* negative */
	if (len == ES256_COORD + 1) {
		if (q[0])
			return 0;   /* over 256 bits */
		q++;
		len--;
	}
	memset(out, 0, ES256_COORD - len);
	memcpy(out + ES256_COORD - len, q, len);
	return 1;
}

/* ECDSA DER -> JOSE r||s. */
static danemsg_err ecdsa_der_to_raw(const uint8_t *der, size_t der_len, uint8_t raw[ES256_SIG_LEN])
{
	const uint8_t *p = der + 2, *end = der + der_len;

	if (der_len < 2 || der_len > ES256_DER_MAX || der[0] != 0x30 || der[1] != der_len - 2 ||
	    !der_int_to_coord(&p, end, raw) || !der_int_to_coord(&p, end, raw + ES256_COORD) ||
	    p != end)
		return DANEMSG_ERR_CRYPTO;
	return DANEMSG_OK;
}

/* One 32-byte coordinate as a DER INTEGER at out; returns the bytes written. */
static size_t coord_to_der_int(const uint8_t in[ES256_COORD], uint8_t *out)
{
	size_t skip = 0, len;

	while (skip < ES256_COORD - 1 && in[skip] == 0)
		skip++;
	len = ES256_COORD - skip;
	out[0] = 0x02;
	if (in[skip] & 0x80) {   /* a zero keeps it positive */
		out[1] = (uint8_t)(len + 1);
		out[2] = 0;
		memcpy(out + 3, in + skip, len);
		return len + 3;
	}
	out[1] = (uint8_t)len;
	memcpy(out + 2, in + skip, len);
	return len + 2;
}

/* JOSE r||s -> ECDSA DER (der: ES256_DER_MAX bytes), for the verifier. */
static size_t ecdsa_raw_to_der(const uint8_t raw[ES256_SIG_LEN], uint8_t der[ES256_DER_MAX])
{
	size_t n = 2;

	n += coord_to_der_int(raw, der + n);
	n += coord_to_der_int(raw + ES256_COORD, der + n);
	der[0] = 0x30;
	der[1] = (uint8_t)(n - 2);
	return n;
}

/* Signs in into sig (room for EVP_PKEY_get_size bytes, at least ES256_SIG_LEN); ES256 as
 * r||s. */
static danemsg_err sig_sign(jose_signer *s, const uint8_t *in, size_t in_len, uint8_t *sig,
			    size_t *sig_len)
{
	uint8_t md[32];
	size_t len = (size_t)EVP_PKEY_get_size(s->key);

	if (s->alg == JOSE_ALG_EDDSA ? EVP_DigestSign(s->md, sig, &len, in, in_len) <= 0
				     : !sha256(in, in_len, md) ||
				       EVP_PKEY_sign(s->pctx, sig, &len, md, sizeof(md)) <= 0) {
		ERR_clear_error();
		return DANEMSG_ERR_CRYPTO;
	}
	if (s->alg == JOSE_ALG_ES256) {
		uint8_t raw[ES256_SIG_LEN];
		danemsg_err err = ecdsa_der_to_raw(sig, len, raw);

		if (err != DANEMSG_OK)
			return err;
		memcpy(sig, raw, sizeof(raw));
		len = sizeof(raw);
	}
	*sig_len = len;
	return DANEMSG_OK;
}

/* Verifies sig over in: 1 when it holds. */
static int sig_verify(jose_signer *s, const uint8_t *sig, size_t sig_len, const uint8_t *in,
		      size_t in_len)
{
	uint8_t md[32];

	if (s->alg == JOSE_ALG_EDDSA)
		return EVP_DigestVerify(s->md, sig, sig_len, in, in_len) == 1;
	return sha256(in, in_len, md) &&
	       EVP_PKEY_verify(s->pctx, sig, sig_len, md, sizeof(md)) == 1;
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

static danemsg_err jws_sign(jose_signer *s, const json_t *protected_header,
			    const uint8_t *payload, size_t payload_len, int compact, char **out,
			    size_t *out_len)
{
	json_t *header = NULL;
	char *header_text = NULL, *input = NULL;
	uint8_t *sig = NULL;
	size_t header_len = 0, h64_len, p64_len, sig_len = 0, sig_room;
	danemsg_err err;

	if (out)
		*out = NULL;
	if (out_len)
		*out_len = 0;
	if (!s || !out || (!payload && payload_len))
		return DANEMSG_ERR_INVALID_ARG;
	if (payload_len > JOSE_MAX_INPUT)
		return DANEMSG_ERR_TOO_LARGE;
	if ((err = sign_header(protected_header, s->alg, &header)) != DANEMSG_OK)
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
	sig_room = (size_t)EVP_PKEY_get_size(s->key);
	err = DANEMSG_ERR_NOMEM;
	if (!(input = malloc(h64_len + 1 + p64_len + 1)) ||
	    !(sig = malloc(sig_room > ES256_SIG_LEN ? sig_room : ES256_SIG_LEN)))
		goto done;
	if ((err = jose_b64url_encode((const uint8_t *)header_text, header_len, input,
				      h64_len + 1, &h64_len)) != DANEMSG_OK)
		goto done;
	input[h64_len] = '.';
	if ((err = jose_b64url_encode(payload, payload_len, input + h64_len + 1, p64_len + 1,
				      &p64_len)) != DANEMSG_OK)
		goto done;
	if ((err = sig_sign(s, (const uint8_t *)input, h64_len + 1 + p64_len, sig, &sig_len))
	    != DANEMSG_OK)
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

/* jws_sign with a signing context made for this one signature. */
static danemsg_err jws_sign_once(EVP_PKEY *key, jose_alg alg, const json_t *protected_header,
				 const uint8_t *payload, size_t payload_len, int compact,
				 char **out, size_t *out_len)
{
	jose_signer *s = NULL;
	danemsg_err err;

	if (out)
		*out = NULL;
	if (out_len)
		*out_len = 0;
	if (!key || !out)
		return DANEMSG_ERR_INVALID_ARG;
	if (alg == JOSE_ALG_UNKNOWN && (alg = jose_sig_alg_for_key(key)) == JOSE_ALG_UNKNOWN)
		return DANEMSG_ERR_ALGORITHM;
	if ((err = jose_signer_new(key, alg, 1, &s)) != DANEMSG_OK)
		return err;
	err = jws_sign(s, protected_header, payload, payload_len, compact, out, out_len);
	jose_signer_free(s);
	return err;
}

danemsg_err jose_jws_sign(EVP_PKEY *key, jose_alg alg, const json_t *protected_header,
			  const uint8_t *payload, size_t payload_len, char **out, size_t *out_len)
{
	return jws_sign_once(key, alg, protected_header, payload, payload_len, 0, out, out_len);
}

danemsg_err jose_jws_sign_compact(EVP_PKEY *key, jose_alg alg, const json_t *protected_header,
				  const uint8_t *payload, size_t payload_len, char **out,
				  size_t *out_len)
{
	return jws_sign_once(key, alg, protected_header, payload, payload_len, 1, out, out_len);
}

danemsg_err jose_jws_sign_with(jose_signer *s, const json_t *protected_header,
			       const uint8_t *payload, size_t payload_len, char **out,
			       size_t *out_len)
{
	if (s && !s->sign)
		return DANEMSG_ERR_INVALID_ARG;
	return jws_sign(s, protected_header, payload, payload_len, 0, out, out_len);
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

/*
 * Each thread's verification context: that of the last key it verified with, which holds a
 * reference to the key, so that no other key can have its address while it is kept.
 */
static pthread_key_t verifier_slot;
static int verifier_slot_ok;
static pthread_once_t verifier_once = PTHREAD_ONCE_INIT;

static void verifier_release(void *s)
{
	jose_signer_free(s);
}

static void verifier_slot_make(void)
{
	verifier_slot_ok = pthread_key_create(&verifier_slot, verifier_release) == 0;
}

/* A verification context for key and alg: the thread's kept one when it fits, else a new
 * one, kept in its place (*temp set when it could not be kept: the caller frees it). */
static danemsg_err verifier_for(EVP_PKEY *key, jose_alg alg, jose_signer **out, int *temp)
{
	jose_signer *kept = NULL;
	danemsg_err err;

	*temp = 0;
	pthread_once(&verifier_once, verifier_slot_make);
	if (verifier_slot_ok)
		kept = pthread_getspecific(verifier_slot);
	if (kept && kept->key == key && kept->alg == alg) {
		*out = kept;
		return DANEMSG_OK;
	}
	if ((err = jose_signer_new(key, alg, 0, out)) != DANEMSG_OK)
		return err;
	if (verifier_slot_ok && pthread_setspecific(verifier_slot, *out) == 0)
		jose_signer_free(kept);
	else
		*temp = 1;
	return DANEMSG_OK;
}

danemsg_err jose_jws_verify(const jose_jws *jws, EVP_PKEY *key)
{
	jose_signer *v = NULL;
	const uint8_t *sig;
	uint8_t der[ES256_DER_MAX];
	size_t sig_len;
	danemsg_err err;
	int ok, temp = 0;

	if (!jws || !key || !jws->signing_input || !jws->signature)
		return DANEMSG_ERR_INVALID_ARG;
	if (!jose_alg_is_signature(jws->alg) || jose_alg_check_key(jws->alg, key) != DANEMSG_OK)
		return DANEMSG_ERR_ALGORITHM;
	sig = jws->signature;
	sig_len = jws->signature_len;
	if (jws->alg == JOSE_ALG_ES256) {
		if (sig_len != ES256_SIG_LEN)
			return DANEMSG_ERR_BAD_SIGNATURE;
		sig_len = ecdsa_raw_to_der(sig, der);
		sig = der;
	} else if ((jws->alg == JOSE_ALG_EDDSA && sig_len != EDDSA_SIG_LEN)
		   || ((jws->alg == JOSE_ALG_RS256 || jws->alg == JOSE_ALG_PS256)
		       && sig_len != (size_t)EVP_PKEY_get_size(key))) {
		return DANEMSG_ERR_BAD_SIGNATURE;
	}
	if ((err = verifier_for(key, jws->alg, &v, &temp)) != DANEMSG_OK)
		return err;
	ok = sig_verify(v, sig, sig_len, (const uint8_t *)jws->signing_input,
			jws->signing_input_len);
	if (temp)
		jose_signer_free(v);
	if (!ok) {
		ERR_clear_error();
		return DANEMSG_ERR_BAD_SIGNATURE;
	}
	return DANEMSG_OK;
}

/* JOSE: algorithm names, key checks, header checks shared by JWS and JWE. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "jose.h"

/* Nesting the fast paths read and write (a header's "epk" object, "aud" array); deeper is
 * jansson's. */
#define FAST_DEPTH 2

static struct jose_algs algs;   /* written once, by fetch_algs, then read-only */
static int algs_ok;
static CRYPTO_ONCE algs_once = CRYPTO_ONCE_STATIC_INIT;

static void fetch_algs(void)
{
	algs.sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	algs.aes256gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	algs.aes256cbc = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL);
	algs.aes256wrap = EVP_CIPHER_fetch(NULL, "AES-256-WRAP", NULL);
	algs.sskdf = EVP_KDF_fetch(NULL, "SSKDF", NULL);
	algs.hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	algs_ok = algs.sha256 && algs.aes256gcm && algs.aes256cbc && algs.aes256wrap
		  && algs.sskdf && algs.hmac;
}

const struct jose_algs *jose_algs(void)
{
	if (!CRYPTO_THREAD_run_once(&algs_once, fetch_algs) || !algs_ok)
		return NULL;
	return &algs;
}

/* RSA moduli accepted: big enough to be safe, small enough to bound the work. */
#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 16384

static const struct {
	jose_alg alg;
	const char *name;
} alg_names[] = {
	{ JOSE_ALG_ES256, "ES256" },
	{ JOSE_ALG_EDDSA, "EdDSA" },
	{ JOSE_ALG_RS256, "RS256" },
	{ JOSE_ALG_PS256, "PS256" },
	{ JOSE_ALG_RSA_OAEP_256, "RSA-OAEP-256" },
	{ JOSE_ALG_ECDH_ES_A256KW, "ECDH-ES+A256KW" },
	{ JOSE_ALG_EDDSA, "Ed25519" },   /* RFC 9864 name, input only (listed after EdDSA) */
};

const char *jose_alg_name(jose_alg alg)
{
	for (size_t i = 0; i < sizeof(alg_names) / sizeof(alg_names[0]); i++)
		if (alg_names[i].alg == alg)
			return alg_names[i].name;
	return "?";
}

jose_alg jose_alg_from_name(const char *name)
{
	if (!name)
		return JOSE_ALG_UNKNOWN;
	for (size_t i = 0; i < sizeof(alg_names) / sizeof(alg_names[0]); i++)
		if (strcmp(alg_names[i].name, name) == 0)
			return alg_names[i].alg;
	return JOSE_ALG_UNKNOWN;
}

const char *jose_enc_name(jose_enc enc)
{
	switch (enc) {
	case JOSE_ENC_A256GCM:
		return "A256GCM";
	case JOSE_ENC_A256CBC_HS512:
		return "A256CBC-HS512";
	default:
		return "?";
	}
}

jose_enc jose_enc_from_name(const char *name)
{
	if (name && strcmp(name, "A256GCM") == 0)
		return JOSE_ENC_A256GCM;
	if (name && strcmp(name, "A256CBC-HS512") == 0)
		return JOSE_ENC_A256CBC_HS512;
	return JOSE_ENC_UNKNOWN;
}

int jose_alg_is_signature(jose_alg alg)
{
	return alg == JOSE_ALG_ES256 || alg == JOSE_ALG_EDDSA || alg == JOSE_ALG_RS256
	       || alg == JOSE_ALG_PS256;
}

int jose_alg_is_key_management(jose_alg alg)
{
	return alg == JOSE_ALG_RSA_OAEP_256 || alg == JOSE_ALG_ECDH_ES_A256KW;
}

/* Key kinds, from the cheap legacy id (no name lookups on the hot path). */
jose_key_kind jose_key_kind_of(const EVP_PKEY *key)
{
	char group[32];
	size_t len = 0;
	int bits;

	if (!key)
		return JOSE_KEY_OTHER;
	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_ED25519:
		return JOSE_KEY_ED25519;
	case EVP_PKEY_X25519:
		return JOSE_KEY_X25519;
	case EVP_PKEY_RSA:
		bits = EVP_PKEY_get_bits(key);
		return bits >= RSA_MIN_BITS && bits <= RSA_MAX_BITS ? JOSE_KEY_RSA : JOSE_KEY_OTHER;
	case EVP_PKEY_EC:
		if (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group,
						    sizeof(group), &len))
			return JOSE_KEY_OTHER;
		return strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0
		       ? JOSE_KEY_P256 : JOSE_KEY_OTHER;
	default:
		return JOSE_KEY_OTHER;
	}
}

jose_alg jose_sig_alg_for_key(const EVP_PKEY *key)
{
	switch (jose_key_kind_of(key)) {
	case JOSE_KEY_P256:
		return JOSE_ALG_ES256;
	case JOSE_KEY_ED25519:
		return JOSE_ALG_EDDSA;
	case JOSE_KEY_RSA:
		return JOSE_ALG_PS256;
	default:
		return JOSE_ALG_UNKNOWN;
	}
}

jose_alg jose_kw_alg_for_key(const EVP_PKEY *key)
{
	switch (jose_key_kind_of(key)) {
	case JOSE_KEY_P256:
	case JOSE_KEY_X25519:
		return JOSE_ALG_ECDH_ES_A256KW;
	case JOSE_KEY_RSA:
		return JOSE_ALG_RSA_OAEP_256;
	default:
		return JOSE_ALG_UNKNOWN;
	}
}

int jose_alg_fits_kind(jose_alg alg, jose_key_kind kind)
{
	switch (alg) {
	case JOSE_ALG_ES256:
		return kind == JOSE_KEY_P256;
	case JOSE_ALG_EDDSA:
		return kind == JOSE_KEY_ED25519;
	case JOSE_ALG_RS256:
	case JOSE_ALG_PS256:
	case JOSE_ALG_RSA_OAEP_256:
		return kind == JOSE_KEY_RSA;
	case JOSE_ALG_ECDH_ES_A256KW:
		return kind == JOSE_KEY_P256 || kind == JOSE_KEY_X25519;
	default:
		return 0;
	}
}

danemsg_err jose_alg_check_key(jose_alg alg, const EVP_PKEY *key)
{
	if (!key)
		return DANEMSG_ERR_INVALID_ARG;
	return jose_alg_fits_kind(alg, jose_key_kind_of(key)) ? DANEMSG_OK
							      : DANEMSG_ERR_ALGORITHM;
}

/* ---- headers ---- */

/* Header names defined by RFC 7515/7516/7518: a "crit" list must not name them. */
static const char *const registered_names[] = {
	"alg", "enc", "zip", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ",
	"cty", "crit", "epk", "apu", "apv", "iv", "tag", "p2s", "p2c", NULL
};

static int in_list(const char *name, const char *const *list)
{
	for (; list && *list; list++)
		if (strcmp(*list, name) == 0)
			return 1;
	return 0;
}

static danemsg_err check_crit(const json_t *header, const char *const *understood)
{
	const json_t *crit = json_object_get(header, "crit");
	size_t i, j, n;

	if (!crit)
		return DANEMSG_OK;
	n = json_is_array(crit) ? json_array_size(crit) : 0;
	if (n == 0)
		return DANEMSG_ERR_MALFORMED;
	for (i = 0; i < n; i++) {
		const char *name = json_string_value(json_array_get(crit, i));

		if (!name || in_list(name, registered_names))
			return DANEMSG_ERR_MALFORMED;
		for (j = 0; j < i; j++)
			if (strcmp(name, json_string_value(json_array_get(crit, j))) == 0)
				return DANEMSG_ERR_MALFORMED;
		if (!in_list(name, understood))
			return DANEMSG_ERR_ALGORITHM;
		if (!json_object_get(header, name))
			return DANEMSG_ERR_MALFORMED;
	}
	return DANEMSG_OK;
}

danemsg_err jose_header_check(const json_t *header, int is_protected,
			      const char *const *understood)
{
	if (!json_is_object(header))
		return DANEMSG_ERR_MALFORMED;
	if (json_object_get(header, "b64") || json_object_get(header, "zip"))
		return DANEMSG_ERR_ALGORITHM;
	if (!is_protected) {
		/* crit must be integrity-protected (RFC 7515 4.1.11, RFC 7516 4.1.13), and
		 * an unprotected header must stay within the same bound. */
		if (json_object_get(header, "crit"))
			return DANEMSG_ERR_MALFORMED;
		if (json_dumpb(header, NULL, 0, JSON_COMPACT) > JOSE_MAX_HEADER)
			return DANEMSG_ERR_TOO_LARGE;
		return DANEMSG_OK;
	}
	return check_crit(header, understood);
}

danemsg_err jose_header_parse(const char *json, size_t len, const char *const *understood,
			      json_t **out)
{
	json_t *h;
	danemsg_err err;

	if (!out)
		return DANEMSG_ERR_INVALID_ARG;
	*out = NULL;
	if (!json)
		return DANEMSG_ERR_INVALID_ARG;
	if (len > JOSE_MAX_HEADER)
		return DANEMSG_ERR_TOO_LARGE;
	h = jose_json_load(json, len);
	if (!h)
		return DANEMSG_ERR_MALFORMED;
	if ((err = jose_header_check(h, 1, understood)) != DANEMSG_OK) {
		json_decref(h);
		return err;
	}
	*out = h;
	return DANEMSG_OK;
}

danemsg_err jose_header_decode(const char *b64, size_t b64_len, const char *const *understood,
			       json_t **out)
{
	uint8_t *text = NULL;
	size_t len = 0;
	danemsg_err err;

	*out = NULL;
	if (b64_len == 0)
		return DANEMSG_ERR_MALFORMED;
	if (b64_len > jose_b64url_encoded_len(JOSE_MAX_HEADER))
		return DANEMSG_ERR_TOO_LARGE;
	if ((err = jose_b64url_decode_alloc(b64, b64_len, &text, &len)) != DANEMSG_OK)
		return err;
	err = jose_header_parse((const char *)text, len, understood, out);
	free(text);
	return err;
}

danemsg_err jose_headers_disjoint(const json_t *a, const json_t *b)
{
	const char *key;
	json_t *value;

	if (!a || !b)
		return DANEMSG_OK;
	json_object_foreach((json_t *)a, key, value) {
		if (json_object_get(b, key))
			return DANEMSG_ERR_MALFORMED;
	}
	return DANEMSG_OK;
}

const char *jose_header_get_string(const char *name, const json_t *h1, const json_t *h2,
				   const json_t *h3)
{
	const json_t *v = NULL;

	if (!name)
		return NULL;
	if (h1)
		v = json_object_get(h1, name);
	if (!v && h2)
		v = json_object_get(h2, name);
	if (!v && h3)
		v = json_object_get(h3, name);
	return json_string_value(v);
}

const json_t *jose_header_get(const char *name, const json_t *h1, const json_t *h2,
			      const json_t *h3)
{
	const json_t *v = NULL;

	if (h1)
		v = json_object_get(h1, name);
	if (!v && h2)
		v = json_object_get(h2, name);
	if (!v && h3)
		v = json_object_get(h3, name);
	return v;
}

danemsg_err jose_json_b64(const json_t *obj, const char *name, int required, size_t max,
			  uint8_t **out, size_t *out_len)
{
	const json_t *v = json_object_get(obj, name);

	*out = NULL;
	*out_len = 0;
	if (!v)
		return required ? DANEMSG_ERR_MALFORMED : DANEMSG_OK;
	if (!json_is_string(v))
		return DANEMSG_ERR_MALFORMED;
	if (jose_b64url_decoded_max(json_string_length(v)) > max)
		return DANEMSG_ERR_TOO_LARGE;
	return jose_b64url_decode_alloc(json_string_value(v), json_string_length(v), out,
					out_len);
}

danemsg_err jose_header_with_members(const json_t *base, const json_t *extra, json_t **out)
{
	json_t *h;

	*out = NULL;
	if ((base && !json_is_object(base)) || (extra && !json_is_object(extra)))
		return DANEMSG_ERR_INVALID_ARG;
	/* Shallow: the values are shared, not copied (a header is written out, never changed
	 * below its top level), which kept two deep copies per header off every seal. */
	h = base ? json_copy((json_t *)base) : json_object();
	if (!h)
		return DANEMSG_ERR_NOMEM;
	if (extra && jose_headers_disjoint(extra, h) != DANEMSG_OK) {
		json_decref(h);
		return DANEMSG_ERR_INVALID_ARG;
	}
	if (extra && json_object_update(h, (json_t *)extra) != 0) {
		json_decref(h);
		return DANEMSG_ERR_NOMEM;
	}
	*out = h;
	return DANEMSG_OK;
}

/* Text growing in a buffer of known room (dump_size counted it). */
struct dump_buf {
	char *p;
	size_t pos;
};

static void dump_put(struct dump_buf *b, const char *s, size_t n)
{
	memcpy(b->p + b->pos, s, n);
	b->pos += n;
}

/* A string jansson writes as it is: plain ASCII, nothing to escape. */
static int dump_plain(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == '"' || s[i] == '\\' || (unsigned char)s[i] < 0x20 ||
		    (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

/*
 * The room the compact text of v takes, or 0 when it holds anything but plain strings,
 * integers, and objects and arrays of these FAST_DEPTH levels deep (jansson writes those).
 */
static size_t dump_size(const json_t *v, int depth)
{
	const char *key;
	const json_t *m;
	size_t total = 2, i, n;

	if (json_is_string(v))
		return dump_plain(json_string_value(v), json_string_length(v)) ?
		       json_string_length(v) + 2 : 0;
	if (json_is_integer(v))
		return 21;
	if (depth > FAST_DEPTH)
		return 0;
	if (json_is_array(v)) {
		json_array_foreach(v, i, m) {
			if (!(n = dump_size(m, depth + 1)))
				return 0;
			total += n + 1;
		}
		return total;
	}
	if (!json_is_object(v))
		return 0;
	json_object_foreach((json_t *)v, key, m) {
		if (!dump_plain(key, strlen(key)) || !(n = dump_size(m, depth + 1)))
			return 0;
		total += strlen(key) + 3 + n + 1;
	}
	return total;
}

static void dump_value(struct dump_buf *b, const json_t *v)
{
	const char *key;
	const json_t *m;
	size_t i;
	int first = 1;

	if (json_is_string(v)) {
		dump_put(b, "\"", 1);
		dump_put(b, json_string_value(v), json_string_length(v));
		dump_put(b, "\"", 1);
	} else if (json_is_integer(v)) {
		/* dump_size counted 21 bytes: any 64-bit integer, its sign and a NUL. */
		b->pos += (size_t)snprintf(b->p + b->pos, 21, "%" JSON_INTEGER_FORMAT,
					   json_integer_value(v));
	} else if (json_is_array(v)) {
		dump_put(b, "[", 1);
		json_array_foreach(v, i, m) {
			if (i)
				dump_put(b, ",", 1);
			dump_value(b, m);
		}
		dump_put(b, "]", 1);
	} else {
		dump_put(b, "{", 1);
		json_object_foreach((json_t *)v, key, m) {
			if (!first)
				dump_put(b, ",", 1);
			first = 0;
			dump_put(b, "\"", 1);
			dump_put(b, key, strlen(key));
			dump_put(b, "\":", 2);
			dump_value(b, m);
		}
		dump_put(b, "}", 1);
	}
}

char *jose_dump(const json_t *json, size_t *len)
{
	size_t room = json_is_object(json) ? dump_size(json, 0) : 0;
	struct dump_buf b = {NULL, 0};
	char *text;

	/* The common case, a header of plain strings and integers, written here: the same
	 * text as jansson's, at a tenth of its cost (it was a tenth of a seal). */
	if (room && (b.p = malloc(room + 1))) {
		dump_value(&b, json);
		b.p[b.pos] = '\0';
		if (len)
			*len = b.pos;
		return b.p;
	}
	text = json_dumps(json, JSON_COMPACT);
	if (text && len)
		*len = strlen(text);
	return text;
}

int jose_is_json_serialization(const char *in, size_t len)
{
	size_t i = 0;
	while (i < len && (in[i] == ' ' || in[i] == '\t' || in[i] == '\r' || in[i] == '\n'))
		i++;
	return i < len && in[i] == '{';
}

danemsg_err jose_flat_text(const struct jose_text_member *m, size_t n, char **out,
			   size_t *out_len)
{
	size_t total = 2, pos = 0, w;
	char *text;

	for (size_t i = 0; i < n; i++)
		if (m[i].b64 || m[i].raw)
			total += strlen(m[i].name) + 6 +
				 (m[i].b64 ? m[i].b64_len : jose_b64url_encoded_len(m[i].raw_len));
	if (!(text = malloc(total + 1)))
		return DANEMSG_ERR_NOMEM;
	text[pos++] = '{';
	for (size_t i = 0; i < n; i++) {
		if (!m[i].b64 && !m[i].raw)
			continue;
		if (pos > 1)
			text[pos++] = ',';
		text[pos++] = '"';
		memcpy(text + pos, m[i].name, strlen(m[i].name));
		pos += strlen(m[i].name);
		memcpy(text + pos, "\":\"", 3);
		pos += 3;
		if (m[i].b64) {
			memcpy(text + pos, m[i].b64, m[i].b64_len);
			w = m[i].b64_len;
		} else if (jose_b64url_encode(m[i].raw, m[i].raw_len, text + pos, total + 1 - pos,
					      &w) != DANEMSG_OK) {
			free(text);
			return DANEMSG_ERR_BUFFER_TOO_SMALL;
		}
		pos += w;
		text[pos++] = '"';
	}
	text[pos++] = '}';
	text[pos] = '\0';
	*out = text;
	if (out_len)
		*out_len = pos;
	return DANEMSG_OK;
}

/* Skips JSON white space. */
static const char *json_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* A JSON string of plain ASCII without escapes, p after its opening quote: the end of
 * its text (at the closing quote), or NULL when it is anything else. */
static const char *plain_string(const char *p, const char *end)
{
	/* Eight characters at a time while none of them ends the plain run (a quote, a
	 * backslash, a control character or a byte >= 0x80): the long base64url members. */
	const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
	while (end - p >= 8) {
		uint64_t w, q, b;
		memcpy(&w, p, 8);
		if (w & high)
			break;
		/* With no byte >= 0x80, (x - n * ones) & high is nonzero exactly when a byte of
		 * x is below n: a byte equal to '"' or '\\' is a zero byte of q or b. */
		q = w ^ (ones * '"');
		b = w ^ (ones * '\\');
		if (((q - ones) | (b - ones) | (w - ones * 0x20)) & high)
			break;
		p += 8;
	}
	while (p < end && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20 &&
	       (unsigned char)*p < 0x80)
		p++;
	return p < end && *p == '"' ? p : NULL;
}

static const char *fast_value(const char *p, const char *end, int depth, json_t **out);

/*
 * An integer as jansson reads one: -?(0|[1-9][0-9]*), not followed by a fraction or an
 * exponent (a real) nor by another digit; at most 18 digits, so that it cannot overflow.
 */
static const char *fast_integer(const char *p, const char *end, json_t **out)
{
	const char *start = p;
	int neg = p < end && *p == '-';
	json_int_t v = 0;

	p += neg;
	if (p == end || *p < '0' || *p > '9' || (*p == '0' && p + 1 < end && p[1] >= '0'
						 && p[1] <= '9'))
		return NULL;
	while (p < end && *p >= '0' && *p <= '9' && p - start - neg < 18)
		v = v * 10 + (*p++ - '0');
	if (p < end && ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E'))
		return NULL;
	*out = json_integer(neg ? -v : v);
	return *out ? p : NULL;
}

/* After an element: 1 at ',', 0 at close (*p then past it), -1 at anything else. */
static int fast_next(const char **p, const char *end, char close)
{
	const char *q = json_ws(*p, end);

	if (q == end || (*q != ',' && *q != close))
		return -1;
	*p = q + 1;
	return *q == ',';
}

static const char *fast_array(const char *p, const char *end, int depth, json_t **out)
{
	json_t *a = json_array(), *v = NULL;
	int more;

	if (!a)
		return NULL;
	p = json_ws(p, end);
	if (p < end && *p == ']') {
		*out = a;
		return p + 1;
	}
	for (;;) {
		if (!(p = fast_value(json_ws(p, end), end, depth, &v)) ||
		    json_array_append_new(a, v))
			break;
		if ((more = fast_next(&p, end, ']')) < 0)
			break;
		if (more)
			continue;
		*out = a;
		return p;
	}
	json_decref(a);
	return NULL;
}

static const char *fast_object(const char *p, const char *end, int depth, json_t **out)
{
	const char *name, *name_end;
	json_t *o = json_object(), *v = NULL;
	char key[64];
	int more;

	if (!o)
		return NULL;
	p = json_ws(p, end);
	if (p < end && *p == '}') {
		*out = o;
		return p + 1;
	}
	for (;;) {
		p = json_ws(p, end);
		if (p == end || *p++ != '"' || !(name_end = plain_string(name = p, end)) ||
		    (size_t)(name_end - name) >= sizeof(key))
			break;
		p = json_ws(name_end + 1, end);
		if (p == end || *p++ != ':')
			break;
		memcpy(key, name, (size_t)(name_end - name));
		key[name_end - name] = '\0';
		if (json_object_get(o, key))   /* a duplicate: jansson refuses it */
			break;
		if (!(p = fast_value(json_ws(p, end), end, depth, &v))
		    || json_object_set_new_nocheck(o, key, v))
			break;
		if ((more = fast_next(&p, end, '}')) < 0)
			break;
		if (more)
			continue;
		*out = o;
		return p;
	}
	json_decref(o);
	return NULL;
}

/* One value at p (white space skipped): the end of it, or NULL (*out then unset). */
static const char *fast_value(const char *p, const char *end, int depth, json_t **out)
{
	const char *value_end;

	*out = NULL;
	if (p == end)
		return NULL;
	if (*p == '"') {
		if (!(value_end = plain_string(p + 1, end)))
			return NULL;
		*out = json_stringn_nocheck(p + 1, (size_t)(value_end - p - 1));
		return *out ? value_end + 1 : NULL;
	}
	if (*p == '{')
		return depth < FAST_DEPTH ? fast_object(p + 1, end, depth + 1, out) : NULL;
	if (*p == '[')
		return depth < FAST_DEPTH ? fast_array(p + 1, end, depth + 1, out) : NULL;
	return fast_integer(p, end, out);
}

/*
 * The common case of a JOSE header or serialization: an object of plain ASCII strings
 * without escapes, integers, and objects or arrays of these one level down. Parsed here
 * without jansson's lexer (a quarter of an open's time went there); NULL for anything
 * else, which jansson then parses (or refuses) exactly as before.
 */
static json_t *flat_object(const char *p, size_t len)
{
	const char *end = p + len;
	json_t *o = NULL;

	p = json_ws(p, end);
	if (p == end || *p != '{' || !(p = fast_object(p + 1, end, 0, &o)))
		return NULL;
	if (json_ws(p, end) == end)
		return o;
	json_decref(o);
	return NULL;
}

json_t *jose_json_load(const char *in, size_t len)
{
	json_error_t jerr;
	json_t *o = flat_object(in, len);
	return o ? o : json_loadb(in, len, JSON_REJECT_DUPLICATES, &jerr);
}

danemsg_err jose_random_id(char *out, size_t len)
{
	uint8_t raw[16];
	size_t n;
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return DANEMSG_ERR_CRYPTO;
	return jose_b64url_encode(raw, sizeof(raw), out, len, &n);
}

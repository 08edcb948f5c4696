/* The message envelope: a JWS signed by the sender inside a JWE to the recipients.
 * Native format and the reference system's (compat) format; see docs/envelope.md. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <danemsg.h>

#include "abi.h"
#include "base64.h"
#include "chain_internal.h"
#include "credential_internal.h"
#include "dname.h"
#include "identity_internal.h"
#include "error_internal.h"
#include "jose.h"
#include "policy_internal.h"

#define NAME_BUF 258
#define TYP_JWS "danemsg+jws"
#define MAX_X5C 8
#define MAX_RECIPIENTS JOSE_MAX_RECIPIENTS
#define MAX_ID_LEN 128
/* The first version of the caller's seal options ends here (abi.h). */
#define SEAL_OPTIONS_SIZE_V1 ABI_SIZE_THROUGH(danemsg_seal_options, with_dnssec_chain)

struct danemsg_message {
	char *from;
	char **to;
	size_t n_to;
	uint8_t *payload;
	size_t payload_len;
	danemsg_format format;
	danemsg_dnssec dnssec;
	int insecure_allowed;
	int64_t iat, exp;
	char *id;
	const char *sig_alg, *enc_alg;
	char key_sha256[65];
};

void danemsg_seal_options_init(danemsg_seal_options *opts)
{
	if (!opts)
		return;
	memset(opts, 0, sizeof(*opts));
	opts->struct_size = sizeof(*opts);
}

/* The name of the identity without its trailing dot, as messages write it. */
static void bare_name(const char *canon, char *out, size_t len)
{
	snprintf(out, len, "%s", canon);
	size_t n = strlen(out);
	if (n && out[n - 1] == '.')
		out[n - 1] = '\0';
}

/* ---- keys an identity publishes ---- */

/* Can this key receive encrypted messages, per its type and certificate's keyUsage? */
static int can_encrypt_to(EVP_PKEY *key, const danemsg_tlsa *rec, int compat)
{
	jose_alg alg = jose_kw_alg_for_key(key);
	if (alg == JOSE_ALG_UNKNOWN || (compat && alg != JOSE_ALG_RSA_OAEP_256))
		return 0;
	if (rec->key_usage != DANEMSG_TLSA_KEY_USAGE_ANY) {
		uint32_t need = alg == JOSE_ALG_RSA_OAEP_256 ? KU_KEY_ENCIPHERMENT : KU_KEY_AGREEMENT;
		return (rec->key_usage & need) != 0;
	}
	return 1;
}

/* The record to encrypt to: a usable record with a whole key that can receive; when
 * several can (a rollover), the newest certificate. *key: its key, the caller's. */
static const danemsg_tlsa *pick_encryption_record(const danemsg_identity *id, int compat,
						  EVP_PKEY **key)
{
	const danemsg_tlsa *best = NULL;
	*key = NULL;
	for (size_t i = 0; i < danemsg_identity_record_count(id); i++) {
		const danemsg_tlsa *rec = danemsg_identity_record(id, i);
		EVP_PKEY *k = NULL;
		if (!rec->usable || identity_record_pkey(id, rec, &k) ||
		    !can_encrypt_to(k, rec, compat) || !identity_record_key_trusted(id, rec) ||
		    (best && !(rec->has_cert && (!best->has_cert ||
						 rec->not_before > best->not_before)))) {
			EVP_PKEY_free(k);
			continue;
		}
		EVP_PKEY_free(*key);
		*key = k;
		best = rec;
	}
	return best;
}

/* Does DNS give the sender's whole certificate or key? If not, the message carries it. */
static int dns_holds_my_key(danemsg_resolver *r, const danemsg_credential *sender)
{
	danemsg_identity *id = NULL;
	int held = 0;
	if (danemsg_resolver_lookup(r, danemsg_credential_name(sender), &id) == DANEMSG_OK) {
		EVP_PKEY *mine = danemsg_credential_sign_key(sender);
		for (size_t i = 0; i < danemsg_identity_record_count(id) && !held; i++) {
			const danemsg_tlsa *rec = danemsg_identity_record(id, i);
			EVP_PKEY *key = NULL;
			held = rec->usable && rec->usage == DANEMSG_TLSA_DANE_EE &&
			       !identity_record_pkey(id, rec, &key) && EVP_PKEY_eq(key, mine) == 1;
			EVP_PKEY_free(key);
		}
	}
	danemsg_identity_unref(id);
	return held;
}

/* ---- base64 (standard alphabet, for x5c) ---- */

static json_t *x5c_entry(X509 *cert)
{
	unsigned char *der = NULL;
	int len = i2d_X509(cert, &der);
	char *b64 = NULL;
	size_t b64_len = 0;
	json_t *s = NULL;
	if (len <= 0)
		return NULL;
	if (util_base64_encode_alloc(der, (size_t)len, &b64, &b64_len) == DANEMSG_OK)
		s = json_stringn_nocheck(b64, b64_len);
	free(b64);
	OPENSSL_free(der);
	return s;
}

/* Strict (util_base64_decode_alloc): one certificate has exactly one text. */
static X509 *x5c_decode(const char *b64)
{
	size_t len = strlen(b64), der_len;
	uint8_t *der;
	const unsigned char *p;
	X509 *cert;

	if (len == 0 || len > 16384 || util_base64_decode_alloc(b64, len, &der, &der_len))
		return NULL;
	p = der;
	cert = d2i_X509(NULL, &p, (long)der_len);
	if (cert && p != der + der_len) {
		X509_free(cert);
		cert = NULL;
	}
	free(der);
	return cert;
}

/* ---- seal ---- */

static danemsg_err signed_header(danemsg_resolver *r, const danemsg_credential *sender,
				 char names[][NAME_BUF], size_t n, const danemsg_seal_options *o,
				 json_t **out)
{
	char locator[300], jti[32];
	json_t *h = json_object(), *aud = json_array();
	int64_t now = (int64_t)time(NULL);
	danemsg_err err;

	*out = NULL;
	if (!h || !aud) {
		json_decref(h);
		json_decref(aud);
		return DANEMSG_ERR_NOMEM;
	}
	if ((err = danemsg_locator_format(danemsg_credential_name(sender), locator,
					  sizeof(locator))) ||
	    (!o->compat && (err = jose_random_id(jti, sizeof(jti))))) {
		json_decref(h);
		json_decref(aud);
		return err;
	}
	json_object_set_new(h, "x5u", json_string(locator));
	if (o->compat) {   /* exactly the reference's header: alg and x5u */
		json_decref(aud);
		*out = h;
		return DANEMSG_OK;
	}
	for (size_t i = 0; i < n; i++) {
		char bare[NAME_BUF];
		bare_name(names[i], bare, sizeof(bare));
		json_array_append_new(aud, json_string(bare));
	}
	json_object_set_new(h, "typ", json_string(TYP_JWS));
	json_object_set_new(h, "x5t#S256", json_string(credential_sign_x5t(sender)));
	json_object_set_new(h, "aud", aud);
	json_object_set_new(h, "iat", json_integer(now));
	if (o->expires_in)
		json_object_set_new(h, "exp", json_integer(now + o->expires_in));
	json_object_set_new(h, "jti", json_string(jti));
	if (o->carry_chain || !dns_holds_my_key(r, sender)) {
		json_t *x5c = json_array();
		STACK_OF(X509) *chain = danemsg_credential_chain(sender);
		json_array_append_new(x5c, x5c_entry(danemsg_credential_sign_cert(sender)));
		for (int i = 0; chain && i < sk_X509_num(chain); i++)
			json_array_append_new(x5c, x5c_entry(sk_X509_value(chain, i)));
		json_object_set_new(h, "x5c", x5c);
	}
	*out = h;
	return DANEMSG_OK;
}

/* The signed header, and the sender's DNSSEC chain in it when asked. */
static danemsg_err signed_header_with_chain(danemsg_resolver *r,
					    const danemsg_credential *sender,
					    char names[][NAME_BUF], size_t n,
					    const danemsg_seal_options *o, json_t **out,
					    char *errbuf, size_t errlen)
{
	danemsg_err err = signed_header(r, sender, names, n, o, out);
	if (!err && o->with_dnssec_chain && o->compat)
		err = errbuf_set(errbuf, errlen, DANEMSG_ERR_INVALID_ARG, "the reference format carries "
			   "no DNSSEC chain");
	if (!err && o->with_dnssec_chain)
		err = chain_header_add(r, danemsg_credential_name(sender), *out, errbuf, errlen);
	return err;
}

/* Looks up each recipient and chooses the key to encrypt to. */
static danemsg_err recipient_keys(danemsg_resolver *r, char names[][NAME_BUF], size_t n,
				  int compat, danemsg_identity **ids, jose_recipient *rcpt,
				  json_t **headers, char *errbuf, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		char locator[300];
		const danemsg_tlsa *rec;
		danemsg_err err = danemsg_resolver_lookup(r, names[i], &ids[i]);
		if (err)
			return errbuf_set(errbuf, errlen, err, "recipient %s: %s%s%s", names[i],
				    danemsg_strerror(err), danemsg_identity_why(ids[i]) ? ": " : "",
				    danemsg_identity_why(ids[i]) ? danemsg_identity_why(ids[i]) : "");
		rec = pick_encryption_record(ids[i], compat, &rcpt[i].key);
		if (!rec)
			return errbuf_set(errbuf, errlen, DANEMSG_ERR_NO_USABLE_RECORD,
				    "recipient %s publishes no %skey that messages can be encrypted to",
				    names[i], compat ? "RSA " : "");
		headers[i] = json_object();
		if (!headers[i] || danemsg_locator_format(names[i], locator, sizeof(locator)))
			return DANEMSG_ERR_NOMEM;
		json_object_set_new(headers[i], "x5u", json_string(locator));
		if (rec->has_cert && !compat)
			json_object_set_new(headers[i], "x5t#S256", json_string(rec->x5t_s256));
		rcpt[i].alg = JOSE_ALG_UNKNOWN;
		rcpt[i].header = headers[i];
	}
	return DANEMSG_OK;
}

danemsg_err danemsg_seal(danemsg_resolver *r, const danemsg_credential *sender,
			 const char *const *recipients, size_t n, const uint8_t *msg,
			 size_t msg_len, const danemsg_seal_options *theirs, char **out,
			 size_t *out_len, char *errbuf, size_t errlen)
{
	danemsg_seal_options options, *opts = &options;
	char (*names)[NAME_BUF] = NULL;
	danemsg_identity *ids[MAX_RECIPIENTS] = {0};
	jose_recipient rcpt[MAX_RECIPIENTS] = {0};
	json_t *headers[MAX_RECIPIENTS] = {0}, *sig_header = NULL, *enc_header = NULL;
	char *jws = NULL;
	size_t jws_len = 0;
	jose_alg sig_alg;
	danemsg_err err;

	if (out)
		*out = NULL;
	if (!r || !sender || !recipients || !n || (!msg && msg_len) || !out)
		return errbuf_set(errbuf, errlen, DANEMSG_ERR_INVALID_ARG, "invalid argument");
	danemsg_seal_options_init(opts);
	if (theirs && (err = abi_struct_in(opts, sizeof(*opts), theirs, SEAL_OPTIONS_SIZE_V1,
					   "danemsg_seal_options", errbuf, errlen)))
		return err;
	if (n > MAX_RECIPIENTS || (opts->compat && n != 1))
		return errbuf_set(errbuf, errlen, DANEMSG_ERR_INVALID_ARG,
			    opts->compat ? "the reference format has exactly one recipient"
					 : "at most 16 recipients");
	if (msg_len > JOSE_MAX_INPUT / 2)
		return errbuf_set(errbuf, errlen, DANEMSG_ERR_TOO_LARGE, "message over %u bytes",
			    JOSE_MAX_INPUT / 2);
	/* Native: the key's own alg, which fits it by construction (UNKNOWN when none does). */
	sig_alg = opts->compat ? JOSE_ALG_RS256 :
				 jose_sig_alg_for_key(danemsg_credential_sign_key(sender));
	if (sig_alg == JOSE_ALG_UNKNOWN ||
	    (opts->compat && jose_alg_check_key(sig_alg, danemsg_credential_sign_key(sender))))
		return errbuf_set(errbuf, errlen, DANEMSG_ERR_ALGORITHM, "%s",
			    opts->compat ? "the reference format needs an RSA identity (RS256)"
					 : "the sender's key cannot sign messages");
	names = calloc(n, sizeof(*names));
	if (!names)
		return DANEMSG_ERR_NOMEM;
	for (size_t i = 0; i < n; i++)
		if (!recipients[i] || dname_canonical(recipients[i], names[i], NAME_BUF)) {
			free(names);
			return errbuf_set(errbuf, errlen, DANEMSG_ERR_INVALID_ARG,
				    "recipient '%s' is not a DNS name",
				    recipients[i] ? recipients[i] : "(null)");
		}

	err = recipient_keys(r, names, n, opts->compat, ids, rcpt, headers, errbuf, errlen);
	if (!err)
		err = signed_header_with_chain(r, sender, names, n, opts, &sig_header, errbuf,
					       errlen);
	if (!err)
		err = credential_jws_sign(sender, sig_alg, sig_header, msg, msg_len, &jws,
					  &jws_len);
	if (!err) {
		enc_header = json_object();
		if (!enc_header)
			err = DANEMSG_ERR_NOMEM;
		else if (opts->compat)
			json_object_set_new(enc_header, "typ", json_string("JWE"));
	}
	if (!err)
		err = jose_jwe_encrypt(rcpt, n, opts->compat ? JOSE_ENC_A256CBC_HS512 :
							      JOSE_ENC_A256GCM,
				       enc_header, (const uint8_t *)jws, jws_len, NULL, 0, out,
				       out_len);
	if (err && errbuf && errlen && !errbuf[0])
		errbuf_set(errbuf, errlen, err, "%s", danemsg_strerror(err));
	if (jws) {
		OPENSSL_cleanse(jws, jws_len);
		free(jws);
	}
	json_decref(sig_header);
	json_decref(enc_header);
	for (size_t i = 0; i < n; i++) {
		json_decref(headers[i]);
		EVP_PKEY_free(rcpt[i].key);
		danemsg_identity_unref(ids[i]);
	}
	free(names);
	return err;
}

/* ---- open ---- */

struct open_state {
	danemsg_resolver *r;
	const danemsg_policy *policy;
	char *errbuf;
	size_t errlen;
	jose_jwe jwe;
	jose_jws jws;
	uint8_t *inner;              /* the decrypted JWS text */
	size_t inner_len;
	char me[NAME_BUF];           /* canonical name of the identity that decrypted */
	char sender[NAME_BUF];
	danemsg_format format;
	danemsg_identity *sender_id;
	EVP_PKEY *verified_by;       /* the key that verified (a reference of ours) */
	X509 *ee;                    /* certificate carried in the message, if any */
	STACK_OF(X509) *chain;
	X509 *key_cert;              /* the carried certificate whose key verified, or NULL */
	const danemsg_tlsa *key_rec; /* the record in DNS whose key verified, or NULL */
	int64_t iat, exp, now;
	danemsg_message *msg;
};

/* Does a locator name this identity (canonical names compared)? */
static int locator_names(const char *locator, const char *canon)
{
	char name[NAME_BUF];
	return locator && !danemsg_locator_parse(locator, strlen(locator), name, sizeof(name)) &&
	       !strcmp(name, canon);
}

struct me_filter {
	const char *me;
	const char *x5t;   /* thumbprint of my encryption certificate */
};

/* A recipient entry is mine unless it names someone else. */
static int entry_is_mine(const json_t *merged, size_t index, void *arg)
{
	const struct me_filter *f = arg;
	const char *x5u = json_string_value(json_object_get(merged, "x5u"));
	const char *x5t = json_string_value(json_object_get(merged, "x5t#S256"));
	if (x5u && !locator_names(x5u, f->me))
		return 0;
	if (x5t && f->x5t && strcmp(x5t, f->x5t))
		return 0;
	return 1;
}

static danemsg_err decrypt_for_me(struct open_state *s, const danemsg_credential *const *keys,
				  size_t n_keys)
{
	danemsg_err err = DANEMSG_ERR_DECRYPT, e;
	int addressed = 0;

	for (size_t k = 0; k < n_keys; k++) {
		char me[NAME_BUF];
		struct me_filter f = {me, NULL};
		if (!keys[k] || dname_canonical(danemsg_credential_name(keys[k]), me,
							sizeof(me)))
			return DANEMSG_ERR_INVALID_ARG;
		f.x5t = credential_enc_x5t(keys[k]);
		for (size_t i = 0; i < s->jwe.n_recipients; i++) {
			const char *x5u = jose_header_get_string("x5u", s->jwe.recipients[i].header,
								 s->jwe.unprotected,
								 s->jwe.protected_header);
			if (!x5u || locator_names(x5u, me))
				addressed = 1;
		}
		if (!addressed)
			continue;
		e = jose_jwe_decrypt(&s->jwe, danemsg_credential_enc_key(keys[k]), entry_is_mine,
				     &f, &s->inner, &s->inner_len, NULL);
		if (!e) {
			snprintf(s->me, sizeof(s->me), "%s", me);
			return DANEMSG_OK;
		}
		err = e;
	}
	if (!addressed)
		return errbuf_set(s->errbuf, s->errlen, DANEMSG_ERR_NOT_FOR_ME,
			    "the message is addressed to someone else");
	return errbuf_set(s->errbuf, s->errlen, err, "%s", err == DANEMSG_ERR_DECRYPT ?
		    "cannot decrypt: altered in transit, or not encrypted to our key" :
		    danemsg_strerror(err));
}

/* Pins the algorithms to the format's profile: the reference format is RS256 only, as its
 * sender writes it; PS256 belongs to the native format, which binds recipient and time. */
static danemsg_err check_profile(struct open_state *s)
{
	int compat = s->format == DANEMSG_FORMAT_COMPAT;
	if (compat ? s->jws.alg != JOSE_ALG_RS256 : s->jws.alg == JOSE_ALG_RS256)
		return errbuf_set(s->errbuf, s->errlen, DANEMSG_ERR_ALGORITHM,
			    "signature algorithm %s not allowed in a %s message",
			    jose_alg_name(s->jws.alg), compat ? "reference-format" : "native");
	if (!compat && s->jwe.enc != JOSE_ENC_A256GCM)
		return errbuf_set(s->errbuf, s->errlen, DANEMSG_ERR_ALGORITHM,
			    "content encryption %s not allowed in a native message",
			    jose_enc_name(s->jwe.enc));
	return DANEMSG_OK;
}

static danemsg_err parse_inner(struct open_state *s)
{
	const char *x5u, *typ;
	danemsg_err err = jose_jws_parse((const char *)s->inner, s->inner_len, NULL, &s->jws);
	if (err)
		return errbuf_set(s->errbuf, s->errlen, err, "the encrypted content is not a valid "
			    "signed message (nested encryption is refused): %s",
			    danemsg_strerror(err));
	x5u = json_string_value(json_object_get(s->jws.protected_header, "x5u"));
	if (!x5u || danemsg_locator_parse(x5u, strlen(x5u), s->sender, sizeof(s->sender)))
		return errbuf_set(s->errbuf, s->errlen, DANEMSG_ERR_MALFORMED,
			    "the signed header does not name its sender (x5u)");
	typ = json_string_value(json_object_get(s->jws.protected_header, "typ"));
	/* RFC 7515 section 4.1.9: "application/" may be omitted; compared without case. */
	if (typ && !strncasecmp(typ, "application/", 12))
		typ += 12;
	s->format = typ && !strcasecmp(typ, TYP_JWS) ? DANEMSG_FORMAT_NATIVE
						     : DANEMSG_FORMAT_COMPAT;
	if (s->format == DANEMSG_FORMAT_COMPAT) {
		static const char *const native_only[] = {"aud", "iat", "exp", "jti", "x5c",
							  CHAIN_HEADER};
		for (size_t i = 0; i < sizeof(native_only) / sizeof(native_only[0]); i++)
			if (json_object_get(s->jws.protected_header, native_only[i]))
				return errbuf_set(s->errbuf, s->errlen, DANEMSG_ERR_MALFORMED,
					    "a signed header with %s but without typ %s", native_only[i],
					    TYP_JWS);
		if (!s->policy->accept_compat)
			return errbuf_set(s->errbuf, s->errlen, DANEMSG_ERR_UNSUPPORTED,
				    "a reference-format message (no recipient binding, time or "
				    "id): refused unless accepted with --compat");
	}
	return check_profile(s);
}

/* A JSON integer member, or 0 when absent; MALFORMED when not a positive integer. */
static danemsg_err int_member(const json_t *h, const char *name, int required, int64_t *out)
{
	const json_t *v = json_object_get(h, name);
	*out = 0;
	if (!v)
		return required ? DANEMSG_ERR_MALFORMED : DANEMSG_OK;
	if (!json_is_integer(v) || json_integer_value(v) <= 0)
		return DANEMSG_ERR_MALFORMED;
	*out = (int64_t)json_integer_value(v);
	return DANEMSG_OK;
}

/* 1 when text is a DNS name and names me, 0 when another, -1 when not a name. */
static int aud_names_me_one(const char *text, const char *me)
{
	char name[NAME_BUF];
	if (!text || dname_canonical(text, name, sizeof(name)))
		return -1;
	return !strcmp(name, me);
}

/*
 * A message id is data that reaches files, logs, the environment of --exec commands and
 * terminals: 1 to 128 characters of the base64url alphabet (what our sealer makes, and
 * UUIDs, hex and ULIDs). Nothing in it can end a line, split a field or climb a path.
 */
static int message_id_valid(const char *id)
{
	size_t n = id ? strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				   "0123456789-_") : 0;
	return n >= 1 && n <= MAX_ID_LEN && !id[n];
}

/* aud: a DNS name or an array of at most MAX_RECIPIENTS of them (each reaches output as a
 * recipient). 1 when one of them is me, 0 when none is, -1 when one is not a name. */
static int aud_names_me(const json_t *aud, const char *me)
{
	const json_t *v;
	size_t i;
	int for_me = 0;

	if (json_is_string(aud))
		return aud_names_me_one(json_string_value(aud), me);
	if (!json_is_array(aud) || !json_array_size(aud) || json_array_size(aud) > MAX_RECIPIENTS)
		return -1;
	json_array_foreach(aud, i, v) {
		int r = aud_names_me_one(json_string_value(v), me);
		if (r < 0)
			return -1;
		for_me |= r;
	}
	return for_me;
}

/* Native messages: addressed to me, fresh. Before any DNS lookup. */
static danemsg_err check_claims(struct open_state *s)
{
	const json_t *h = s->jws.protected_header;
	const char *jti = json_string_value(json_object_get(h, "jti"));
	int for_me;

	if (s->format != DANEMSG_FORMAT_NATIVE)
		return DANEMSG_OK;
	if (int_member(h, "iat", 1, &s->iat) || int_member(h, "exp", 0, &s->exp) || !jti)
		return errbuf_set(s->errbuf, s->errlen, DANEMSG_ERR_MALFORMED,
			    "the signed header lacks a valid iat or jti");
	if (!message_id_valid(jti))
		return errbuf_set(s->errbuf, s->errlen, DANEMSG_ERR_MALFORMED,
			    "the message id (jti) is not 1 to %d characters of A-Z a-z 0-9 - _",
			    MAX_ID_LEN);
	for_me = aud_names_me(json_object_get(h, "aud"), s->me);
	if (for_me < 0)
		return errbuf_set(s->errbuf, s->errlen, DANEMSG_ERR_MALFORMED,
			    "aud is not a DNS name or a list of 1 to %u of them", MAX_RECIPIENTS);
	if (!for_me)
		return errbuf_set(s->errbuf, s->errlen, DANEMSG_ERR_NOT_FOR_ME,
			    "signed for another recipient (aud does not name %s): re-encrypted "
			    "by someone else?", s->me);
	if (s->iat < s->now - (int64_t)s->policy->max_age)
		return errbuf_set(s->errbuf, s->errlen, DANEMSG_ERR_EXPIRED,
			    "issued %lld s ago, more than the %u s allowed",
			    (long long)(s->now - s->iat), s->policy->max_age);
	if (s->iat > s->now + (int64_t)s->policy->max_skew)
		return errbuf_set(s->errbuf, s->errlen, DANEMSG_ERR_EXPIRED,
			    "issued %lld s in the future", (long long)(s->iat - s->now));
	if (s->exp && s->exp < s->now)
		return errbuf_set(s->errbuf, s->errlen, DANEMSG_ERR_EXPIRED, "expired %lld s ago",
			    (long long)(s->now - s->exp));
	return DANEMSG_OK;
}

static danemsg_err lookup_sender(struct open_state *s)
{
	danemsg_err err = chain_sender_identity(s->r, s->policy, s->jws.protected_header,
						s->sender, s->iat, s->now, &s->sender_id,
						s->errbuf, s->errlen);
	if (err || s->sender_id)
		return err;
	err = danemsg_resolver_lookup(s->r, s->sender, &s->sender_id);
	const char *why = danemsg_identity_why(s->sender_id);
	if (err == DANEMSG_ERR_DNS_NOT_FOUND || err == DANEMSG_ERR_NO_USABLE_RECORD)
		return errbuf_set(s->errbuf, s->errlen, DANEMSG_ERR_UNKNOWN_SENDER,
			    "sender %s publishes no usable key: %s", s->sender,
			    danemsg_strerror(err));
	if (err)
		return errbuf_set(s->errbuf, s->errlen, err, "sender %s: %s%s%s", s->sender,
			    danemsg_strerror(err), why ? ": " : "", why ? why : "");
	return DANEMSG_OK;
}

/* The certificate chain the message carries (x5c), authenticated by the sender's records. */
static danemsg_err carried_certificate(struct open_state *s, const json_t *x5c)
{
	size_t i;
	const json_t *v;
	danemsg_err err;

	if (!json_is_array(x5c) || !json_array_size(x5c) || json_array_size(x5c) > MAX_X5C)
		return errbuf_set(s->errbuf, s->errlen, DANEMSG_ERR_MALFORMED, "bad x5c");
	s->chain = sk_X509_new_null();
	if (!s->chain)
		return DANEMSG_ERR_NOMEM;
	json_array_foreach(x5c, i, v) {
		X509 *cert = json_is_string(v) ? x5c_decode(json_string_value(v)) : NULL;
		if (!cert)
			return errbuf_set(s->errbuf, s->errlen, DANEMSG_ERR_MALFORMED,
				    "x5c entry %zu is not a certificate", i);
		if (i == 0)
			s->ee = cert;
		else
			sk_X509_push(s->chain, cert);
	}
	err = danemsg_identity_authenticate_cert(s->sender_id, s->ee, s->chain, NULL);
	if (err)
		return errbuf_set(s->errbuf, s->errlen, DANEMSG_ERR_UNKNOWN_SENDER,
			    "the certificate the message carries is not one that %s publishes",
			    s->sender);
	s->key_cert = s->ee;
	return DANEMSG_OK;
}

static danemsg_err verify_signature(struct open_state *s)
{
	const json_t *x5c = json_object_get(s->jws.protected_header, "x5c");
	const char *x5t = json_string_value(json_object_get(s->jws.protected_header, "x5t#S256"));
	danemsg_err err;

	if (x5c) {
		char ee_x5t[JOSE_THUMBPRINT_SIZE];
		if ((err = carried_certificate(s, x5c)))
			return err;
		if (x5t && (jose_x5t_s256(s->ee, ee_x5t) || strcmp(ee_x5t, x5t)))
			return errbuf_set(s->errbuf, s->errlen, DANEMSG_ERR_MALFORMED,
				    "x5t#S256 does not match the certificate in x5c");
		if (jose_jws_verify(&s->jws, X509_get0_pubkey(s->ee)))
			return errbuf_set(s->errbuf, s->errlen, DANEMSG_ERR_BAD_SIGNATURE,
				    "the signature does not verify");
		if (!EVP_PKEY_up_ref(X509_get0_pubkey(s->ee)))
			return DANEMSG_ERR_NOMEM;
		s->verified_by = X509_get0_pubkey(s->ee);
		return DANEMSG_OK;
	}
	/* Keys in DNS: the record of the certificate x5t#S256 names, or any that fits. */
	err = identity_verify_jws(s->sender_id, &s->jws, x5t, 0, &s->verified_by, &s->key_rec);
	if (!err)
		return DANEMSG_OK;
	if (err == DANEMSG_ERR_UNKNOWN_SENDER)
		return errbuf_set(s->errbuf, s->errlen, DANEMSG_ERR_UNKNOWN_SENDER,
			    "%s publishes no %s key%s in DNS (and the message carries no "
			    "certificate)", s->sender, jose_alg_name(s->jws.alg),
			    x5t ? " with the certificate named by x5t#S256" : "");
	return errbuf_set(s->errbuf, s->errlen, DANEMSG_ERR_BAD_SIGNATURE,
		    "the signature does not verify with any key %s publishes", s->sender);
}

static danemsg_err check_certificate_dates(struct open_state *s)
{
	time_t now = (time_t)s->now;
	const danemsg_tlsa *rec = s->key_rec;
	if ((s->key_cert && X509_cmp_time(X509_get0_notAfter(s->key_cert), &now) < 0) ||
	    (rec && rec->has_cert && rec->not_after < s->now))
		return errbuf_set(s->errbuf, s->errlen, DANEMSG_ERR_EXPIRED,
			    "the sender's certificate has expired");
	if ((s->key_cert && X509_cmp_time(X509_get0_notBefore(s->key_cert), &now) > 0) ||
	    (rec && rec->has_cert && rec->not_before > s->now))
		return errbuf_set(s->errbuf, s->errlen, DANEMSG_ERR_EXPIRED,
			    "the sender's certificate is not yet valid");
	return DANEMSG_OK;
}

/* Native: the jti. Compat messages have none: a digest of the signature stands in. */
static danemsg_err check_replay(struct open_state *s, char *id, size_t idlen)
{
	int64_t until;
	danemsg_err err;

	if (s->format == DANEMSG_FORMAT_NATIVE) {
		snprintf(id, idlen, "%s", json_string_value(json_object_get(
						   s->jws.protected_header, "jti")));
		until = s->iat + s->policy->max_age + s->policy->max_skew;
	} else {
		const struct jose_algs *a = jose_algs();
		uint8_t md[32];
		if (!a || !EVP_Digest(s->jws.signature, s->jws.signature_len, md, NULL, a->sha256,
				      NULL))
			return errbuf_set(s->errbuf, s->errlen, DANEMSG_ERR_CRYPTO,
					  "cannot hash the signature");
		danemsg_hex_encode(md, 16, id, idlen);
		until = s->now + s->policy->max_age;
	}
	if (!s->policy->replay.check_and_add)
		return DANEMSG_OK;
	err = s->policy->replay.check_and_add(s->policy->replay.ctx, s->sender, id, until, s->now);
	if (err == DANEMSG_ERR_REPLAYED)
		return errbuf_set(s->errbuf, s->errlen, err,
				  "message %s from %s was already received", id, s->sender);
	return err ? errbuf_set(s->errbuf, s->errlen, err, "replay cache: %s",
				danemsg_strerror(err)) : DANEMSG_OK;
}

/*
 * The SHA-256 of the certificate that verified, when the signed header names it: the
 * signature verified only with a certificate whose x5t#S256 equals the header's
 * (verify_signature and identity_verify_jws skip any other), so the header's thumbprint is
 * that digest, already computed once; hashing the certificate again cost a tenth of an open.
 */
static int key_cert_digest(const struct open_state *s, uint8_t md[32])
{
	const char *x5t = json_string_value(json_object_get(s->jws.protected_header,
							     "x5t#S256"));
	size_t n = 0;
	return s->key_cert && x5t && !jose_b64url_decode(x5t, strlen(x5t), md, 32, &n) &&
	       n == 32;
}

static danemsg_err build_message(struct open_state *s, const char *id)
{
	danemsg_message *m = calloc(1, sizeof(*m));
	const json_t *aud = json_object_get(s->jws.protected_header, "aud"), *v;
	uint8_t md[32];
	unsigned char *der = NULL;
	int der_len;
	size_t i;

	if (!m)
		return DANEMSG_ERR_NOMEM;
	s->msg = m;
	m->from = strdup(s->sender);
	m->id = strdup(id);
	m->payload = malloc(s->jws.payload_len + 1);
	if (s->format == DANEMSG_FORMAT_COMPAT)
		aud = NULL;   /* compat messages name no recipient in what is signed */
	m->n_to = json_is_array(aud) ? json_array_size(aud) : 1;
	m->to = calloc(m->n_to, sizeof(*m->to));
	if (!m->from || !m->id || !m->payload || !m->to)
		return DANEMSG_ERR_NOMEM;
	memcpy(m->payload, s->jws.payload, s->jws.payload_len);
	m->payload[s->jws.payload_len] = '\0';
	m->payload_len = s->jws.payload_len;
	if (json_is_array(aud)) {
		json_array_foreach(aud, i, v) {
			char name[NAME_BUF];
			const char *text = json_string_value(v);
			if (text && !dname_canonical(text, name, sizeof(name)))
				text = name;
			if (!(m->to[i] = strdup(text ? text : "")))
				return DANEMSG_ERR_NOMEM;
		}
	} else if (!(m->to[0] = strdup(s->me))) {
		return DANEMSG_ERR_NOMEM;
	}
	m->format = s->format;
	m->dnssec = danemsg_identity_dnssec(s->sender_id);
	m->insecure_allowed = danemsg_identity_insecure_allowed(s->sender_id);
	m->iat = s->iat;
	m->exp = s->exp;
	m->sig_alg = jose_alg_name(s->jws.alg);
	m->enc_alg = jose_enc_name(s->jwe.enc);
	if (s->key_rec) {   /* of the record's certificate or key, taken when it was cached */
		danemsg_hex_encode(s->key_rec->sha256, sizeof(s->key_rec->sha256), m->key_sha256,
				   sizeof(m->key_sha256));
		return DANEMSG_OK;
	}
	if (key_cert_digest(s, md)) {
		danemsg_hex_encode(md, sizeof(md), m->key_sha256, sizeof(m->key_sha256));
		return DANEMSG_OK;
	}
	der_len = s->key_cert ? i2d_X509(s->key_cert, &der) : i2d_PUBKEY(s->verified_by, &der);
	if (der_len > 0 && jose_algs()
	    && EVP_Digest(der, (size_t)der_len, md, NULL, jose_algs()->sha256, NULL))
		danemsg_hex_encode(md, sizeof(md), m->key_sha256, sizeof(m->key_sha256));
	OPENSSL_free(der);
	return DANEMSG_OK;
}

static void open_state_clear(struct open_state *s)
{
	jose_jwe_clear(&s->jwe);
	jose_jws_clear(&s->jws);
	if (s->inner) {
		OPENSSL_cleanse(s->inner, s->inner_len);
		free(s->inner);
	}
	danemsg_identity_unref(s->sender_id);
	EVP_PKEY_free(s->verified_by);
	X509_free(s->ee);
	sk_X509_pop_free(s->chain, X509_free);
	danemsg_message_free(s->msg);
}

danemsg_err danemsg_open(danemsg_resolver *r, const danemsg_credential *const *keys,
			 size_t n_keys, const danemsg_policy *policy, const uint8_t *in,
			 size_t in_len, danemsg_message **out, char *errbuf, size_t errlen)
{
	return danemsg_open_at(r, keys, n_keys, policy, (int64_t)time(NULL), in, in_len, out,
			       errbuf, errlen);
}

danemsg_err danemsg_open_at(danemsg_resolver *r, const danemsg_credential *const *keys,
			    size_t n_keys, const danemsg_policy *policy, int64_t now,
			    const uint8_t *in, size_t in_len, danemsg_message **out,
			    char *errbuf, size_t errlen)
{
	struct open_state s;
	char id[160];
	danemsg_err err;

	if (errbuf && errlen)
		errbuf[0] = '\0';
	if (out)
		*out = NULL;
	if ((!r && !(policy && policy->chain_anchor)) || !keys || !n_keys || !policy || !in ||
	    !out)
		return errbuf_set(errbuf, errlen, DANEMSG_ERR_INVALID_ARG, "invalid argument");
	if (in_len > policy->max_size)
		return errbuf_set(errbuf, errlen, DANEMSG_ERR_TOO_LARGE,
			    "%zu bytes, over the limit of %zu", in_len, policy->max_size);
	memset(&s, 0, sizeof(s));
	s.r = r;
	s.policy = policy;
	s.errbuf = errbuf;
	s.errlen = errlen;
	s.now = now;

	err = jose_jwe_parse((const char *)in, in_len, NULL, &s.jwe);
	if (err)
		errbuf_set(errbuf, errlen, err, "not a sealed message: %s", danemsg_strerror(err));
	if (!err)
		err = decrypt_for_me(&s, keys, n_keys);
	if (!err)
		err = parse_inner(&s);
	if (!err && (err = danemsg_policy_check_sender(policy, s.sender)))
		errbuf_set(errbuf, errlen, err, "sender %s is not allowed", s.sender);
	if (!err)
		err = check_claims(&s);
	if (!err)
		err = lookup_sender(&s);
	if (!err)
		err = verify_signature(&s);
	if (!err)
		err = check_certificate_dates(&s);
	if (!err)
		err = check_replay(&s, id, sizeof(id));
	if (!err)
		err = build_message(&s, id);
	if (!err) {
		*out = s.msg;
		s.msg = NULL;
	}
	open_state_clear(&s);
	return err;
}

void danemsg_message_free(danemsg_message *m)
{
	if (!m)
		return;
	for (size_t i = 0; m->to && i < m->n_to; i++)
		free(m->to[i]);
	free(m->to);
	if (m->payload) {
		OPENSSL_cleanse(m->payload, m->payload_len);
		free(m->payload);
	}
	free(m->from);
	free(m->id);
	free(m);
}

const char *danemsg_message_from(const danemsg_message *m) { return m ? m->from : NULL; }
size_t danemsg_message_recipient_count(const danemsg_message *m) { return m ? m->n_to : 0; }
const char *danemsg_message_recipient(const danemsg_message *m, size_t i)
{
	return m && i < m->n_to ? m->to[i] : NULL;
}
const uint8_t *danemsg_message_payload(const danemsg_message *m, size_t *len)
{
	if (len)
		*len = m ? m->payload_len : 0;
	return m ? m->payload : NULL;
}
danemsg_format danemsg_message_format(const danemsg_message *m)
{
	return m ? m->format : DANEMSG_FORMAT_NATIVE;
}
danemsg_dnssec danemsg_message_dnssec(const danemsg_message *m)
{
	return m ? m->dnssec : DANEMSG_DNSSEC_UNKNOWN;
}
int danemsg_message_insecure_allowed(const danemsg_message *m) { return m ? m->insecure_allowed : 0; }
int64_t danemsg_message_iat(const danemsg_message *m) { return m ? m->iat : 0; }
int64_t danemsg_message_exp(const danemsg_message *m) { return m ? m->exp : 0; }
const char *danemsg_message_id(const danemsg_message *m) { return m ? m->id : NULL; }
const char *danemsg_message_sig_alg(const danemsg_message *m) { return m ? m->sig_alg : NULL; }
const char *danemsg_message_enc_alg(const danemsg_message *m) { return m ? m->enc_alg : NULL; }
const char *danemsg_message_sender_key_sha256(const danemsg_message *m)
{
	return m ? m->key_sha256 : NULL;
}

/* Login tokens: a compact JWS with JWT claims, signed by an identity, checked against its
 * TLSA records (docs/broker-auth.md). The JOSE work is jws.c's; this adds the claims. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <danemsg.h>
#include <danemsg/token.h>

#include "identity_internal.h"
#include "error_internal.h"
#include "abi.h"
#include "jose.h"
#include "policy_internal.h"

#define DEFAULT_SKEW 30u
/* The first versions of the structs a caller hands in end here (abi.h). */
#define POLICY_SIZE_V1 ABI_SIZE_THROUGH(danemsg_token_policy, replay)
#define CLAIMS_SIZE_V1 ABI_SIZE_THROUGH(danemsg_token_claims, alg)

/* Printable ASCII only: claims reach logs. */
static int printable(const char *s)
{
	for (; *s; s++)
		if (*s < ' ' || *s > '~')
			return 0;
	return 1;
}

static int audience_ok(const char *audience)
{
	size_t n = audience ? strlen(audience) : 0;
	if (n == 0 || n > DANEMSG_TOKEN_AUDIENCE_MAX)
		return 0;
	return strcspn(audience, " ") == n && printable(audience);
}

/* The claims as a JSON object. */
static danemsg_err claims_json(const char *sub, const char *aud, int64_t iat, int64_t exp,
			       json_t **out)
{
	char jti[32];
	danemsg_err err = jose_random_id(jti, sizeof(jti));

	*out = NULL;
	if (err)
		return err;
	*out = json_pack("{s:s, s:s, s:I, s:I, s:s}", "sub", sub, "aud", aud, "iat",
			 (json_int_t)iat, "exp", (json_int_t)exp, "jti", jti);
	return *out ? DANEMSG_OK : DANEMSG_ERR_NOMEM;
}

danemsg_err danemsg_token_make(const danemsg_credential *cred, const char *audience,
			       uint32_t lifetime, int64_t now, char **out)
{
	char x5t[JOSE_THUMBPRINT_SIZE], *payload = NULL;
	json_t *claims = NULL, *header = NULL;
	size_t payload_len = 0;
	danemsg_err err;

	if (out)
		*out = NULL;
	if (!cred || !out || !audience_ok(audience) || lifetime > DANEMSG_TOKEN_MAX_LIFETIME)
		return DANEMSG_ERR_INVALID_ARG;
	if (!lifetime)
		lifetime = DANEMSG_TOKEN_MAX_LIFETIME;
	if (!now)
		now = (int64_t)time(NULL);
	if ((err = jose_x5t_s256(danemsg_credential_sign_cert(cred), x5t)) ||
	    (err = claims_json(danemsg_credential_name(cred), audience, now, now + lifetime,
			       &claims)))
		return err;
	err = DANEMSG_ERR_NOMEM;
	header = json_pack("{s:s, s:s}", "typ", DANEMSG_TOKEN_TYP, "x5t#S256", x5t);
	if (header && (payload = jose_dump(claims, &payload_len)))
		err = jose_jws_sign_compact(danemsg_credential_sign_key(cred), JOSE_ALG_UNKNOWN,
					    header, (const uint8_t *)payload, payload_len, out,
					    NULL);
	free(payload);
	json_decref(header);
	json_decref(claims);
	return err;
}

/* ---- parsing ---- */

static int typ_is_login(const json_t *header)
{
	const char *typ = json_string_value(json_object_get(header, "typ"));
	/* RFC 7515 section 4.1.9: "application/" may be omitted; compared without case. */
	if (typ && !strncasecmp(typ, "application/", 12))
		typ += 12;
	return typ && !strcasecmp(typ, DANEMSG_TOKEN_TYP);
}

/* A JSON integer member that must be positive. */
static int positive(const json_t *claims, const char *name, int64_t *out)
{
	const json_t *v = json_object_get(claims, name);
	if (!json_is_integer(v) || json_integer_value(v) <= 0)
		return 0;
	*out = (int64_t)json_integer_value(v);
	return 1;
}

/* A string member copied into buf (1..size-1 characters, no NUL inside). */
static int string_member(const json_t *claims, const char *name, char *buf, size_t size)
{
	const json_t *v = json_object_get(claims, name);
	size_t n = json_string_length(v);
	if (!json_is_string(v) || n == 0 || n >= size || strlen(json_string_value(v)) != n)
		return 0;
	memcpy(buf, json_string_value(v), n + 1);
	return 1;
}

static danemsg_err read_claims(const jose_jws *jws, danemsg_token_claims *c)
{
	json_t *claims = jose_json_load((const char *)jws->payload, jws->payload_len);
	char sub[DANEMSG_CREDENTIAL_NAME_MAX + 2];
	danemsg_err err = DANEMSG_ERR_MALFORMED;

	if (json_is_object(claims) && string_member(claims, "sub", sub, sizeof(sub)) &&
	    !danemsg_credential_name_normalize(sub, c->sub, sizeof(c->sub)) &&
	    string_member(claims, "aud", c->aud, sizeof(c->aud)) && audience_ok(c->aud) &&
	    string_member(claims, "jti", c->jti, sizeof(c->jti)) && printable(c->jti) &&
	    positive(claims, "iat", &c->iat) && positive(claims, "exp", &c->exp) &&
	    c->iat < c->exp)
		err = DANEMSG_OK;
	json_decref(claims);
	return err;
}

/* Parses into jws (the caller clears it) and c. */
static danemsg_err parse(const char *token, size_t len, jose_jws *jws, danemsg_token_claims *c)
{
	danemsg_err err;

	memset(c, 0, sizeof(*c));
	memset(jws, 0, sizeof(*jws));
	if (!token)
		return DANEMSG_ERR_INVALID_ARG;
	if (len > DANEMSG_TOKEN_MAX_LEN)
		return DANEMSG_ERR_TOO_LARGE;
	if (jose_is_json_serialization(token, len))   /* a token is one string */
		return DANEMSG_ERR_MALFORMED;
	if ((err = jose_jws_parse(token, len, NULL, jws)))
		return err;
	if (!typ_is_login(jws->protected_header))
		return DANEMSG_ERR_UNSUPPORTED;
	if ((err = read_claims(jws, c)))
		return err;
	c->alg = jose_alg_name(jws->alg);
	return DANEMSG_OK;
}

void danemsg_token_claims_init(danemsg_token_claims *claims)
{
	if (!claims)
		return;
	memset(claims, 0, sizeof(*claims));
	claims->struct_size = sizeof(*claims);
}

danemsg_err danemsg_token_parse(const char *token, size_t len, danemsg_token_claims *out)
{
	jose_jws jws;
	danemsg_token_claims c;
	danemsg_err err;

	if (!out || abi_struct_size(out) < CLAIMS_SIZE_V1)
		return DANEMSG_ERR_INVALID_ARG;
	danemsg_token_claims_init(&c);
	err = parse(token, len, &jws, &c);
	jose_jws_clear(&jws);
	abi_struct_out(out, &c, sizeof(c), CLAIMS_SIZE_V1);
	return err;
}

/* ---- verification ---- */

void danemsg_token_policy_init(danemsg_token_policy *policy)
{
	if (!policy)
		return;
	memset(policy, 0, sizeof(*policy));
	policy->max_lifetime = DANEMSG_TOKEN_MAX_LIFETIME;
	policy->max_skew = DEFAULT_SKEW;
	policy->struct_size = sizeof(*policy);
}

/* The caller's policy, in this library's layout (at the defaults where the caller's
 * headers are older), then checked. */
static danemsg_err policy_in(const danemsg_token_policy *theirs, danemsg_token_policy *ours,
			     char *errbuf, size_t errbuf_len)
{
	danemsg_err err;

	danemsg_token_policy_init(ours);
	if (!theirs)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_INVALID_ARG, "no policy");
	if ((err = abi_struct_in(ours, sizeof(*ours), theirs, POLICY_SIZE_V1,
				 "danemsg_token_policy", errbuf, errbuf_len)))
		return err;
	if (!audience_ok(ours->audience) || ours->max_lifetime > DANEMSG_TOKEN_MAX_LIFETIME ||
	    ours->max_skew >= ours->max_lifetime)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_INVALID_ARG, "a policy without "
				  "an audience, with a max_lifetime over %u s or not over "
				  "max_skew", DANEMSG_TOKEN_MAX_LIFETIME);
	return ours->replay ? replay_ops_check(ours->replay, errbuf, errbuf_len) : DANEMSG_OK;
}

/*
 * The end of a token's use: exp, but no later than iat + max_lifetime - max_skew. A token
 * is accepted only from iat - max_skew on, so its replay-cache entry, which lasts until
 * then, lasts at most max_lifetime from its first use: an identity that issues tokens
 * "in the future" cannot fill the cache with entries that outlive everyone's fresh tokens.
 * The same token always gives the same time, so a forgotten one stays below the floor.
 */
static int64_t last_use(const danemsg_token_policy *p, const danemsg_token_claims *c)
{
	int64_t cut = c->iat + (int64_t)p->max_lifetime - (int64_t)p->max_skew;
	return c->exp < cut ? c->exp : cut;
}

/* danemsg_token_check on a policy and claims of this library's layout. */
static danemsg_err check_claims(const danemsg_token_policy *p, const char *username,
				const danemsg_token_claims *c, int64_t now, char *errbuf,
				size_t errlen)
{
	char user[DANEMSG_CREDENTIAL_NAME_MAX];

	if (!now)
		now = (int64_t)time(NULL);

	if (username && (danemsg_credential_name_normalize(username, user, sizeof(user)) ||
			 strcmp(user, c->sub)))
		return errbuf_set(errbuf, errlen, DANEMSG_ERR_NOT_FOR_ME,
			    "the token is for %s, not for the user name given", c->sub);
	if (strcasecmp(c->aud, p->audience))
		return errbuf_set(errbuf, errlen, DANEMSG_ERR_NOT_FOR_ME,
			    "the token is for audience %s, not %s", c->aud, p->audience);
	if (c->exp - c->iat > (int64_t)p->max_lifetime)
		return errbuf_set(errbuf, errlen, DANEMSG_ERR_EXPIRED,
			    "the token lives %lld s, more than the %u s allowed",
			    (long long)(c->exp - c->iat), p->max_lifetime);
	if (c->iat > now + (int64_t)p->max_skew)
		return errbuf_set(errbuf, errlen, DANEMSG_ERR_EXPIRED,
				  "the token is issued %lld s in the future",
				  (long long)(c->iat - now));
	if (last_use(p, c) <= now)
		return errbuf_set(errbuf, errlen, DANEMSG_ERR_EXPIRED,
				  "the token expired %lld s ago",
				  (long long)(now - last_use(p, c)));
	return DANEMSG_OK;
}

danemsg_err danemsg_token_check(const danemsg_token_policy *policy, const char *username,
				const danemsg_token_claims *claims, int64_t now, char *errbuf,
				size_t errlen)
{
	danemsg_token_policy p;
	danemsg_token_claims c;
	danemsg_err err;

	if ((err = policy_in(policy, &p, errbuf, errlen)))
		return err;
	danemsg_token_claims_init(&c);
	if (!claims)
		return errbuf_set(errbuf, errlen, DANEMSG_ERR_INVALID_ARG, "no claims");
	if ((err = abi_struct_in(&c, sizeof(c), claims, CLAIMS_SIZE_V1, "danemsg_token_claims",
				 errbuf, errlen)))
		return err;
	return check_claims(&p, username, &c, now, errbuf, errlen);
}

/* The signature, with a key id (an identity's DNSSEC-secure records) publishes for sub. */
static danemsg_err check_signature(const danemsg_identity *id, const jose_jws *jws,
				   const char *sub, char *errbuf, size_t errlen)
{
	const char *x5t = json_string_value(json_object_get(jws->protected_header, "x5t#S256"));
	const char *name = danemsg_identity_name(id), *why = danemsg_identity_why(id);
	size_t n = strlen(sub);
	danemsg_err err = danemsg_identity_status(id);
	EVP_PKEY *key;
	const danemsg_tlsa *rec;

	/* id's name has a trailing dot, sub has none: another name's keys never vouch */
	if (!name || strncmp(name, sub, n) || strcmp(name + n, "."))
		return errbuf_set(errbuf, errlen, DANEMSG_ERR_NOT_FOR_ME,
				  "the token is for %s, not for the identity looked up", sub);
	if (err)
		return errbuf_set(errbuf, errlen, err, "%s: %s%s%s", sub, danemsg_strerror(err),
				  why ? ": " : "", why ? why : "");
	err = identity_verify_jws(id, jws, x5t, 1, &key, &rec);
	EVP_PKEY_free(key);
	if (err == DANEMSG_ERR_UNKNOWN_SENDER)
		return errbuf_set(errbuf, errlen, err,
				  "%s publishes no %s key (in full) that the token names", sub,
				  jose_alg_name(jws->alg));
	if (err)
		return errbuf_set(errbuf, errlen, err,
				  "the signature does not verify with any key %s publishes", sub);
	return DANEMSG_OK;
}

static void replay_refusal(danemsg_err err, const danemsg_token_claims *c, char *errbuf,
			   size_t errbuf_len)
{
	if (err == DANEMSG_ERR_REPLAYED)
		errbuf_set(errbuf, errbuf_len, err, "token %s of %s was used before", c->jti,
			   c->sub);
	else if (err == DANEMSG_ERR_TOO_LARGE)   /* danemsg_replay_cache_set_sender_max */
		errbuf_set(errbuf, errbuf_len, err, "%s has its most logins in the replay cache "
			   "(wait for one to expire)", c->sub);
	else
		errbuf_set(errbuf, errbuf_len, err, "replay cache: %s", danemsg_strerror(err));
}

/* The signature (against id, or what r finds for the token's sub), then the jti. */
static danemsg_err verify(danemsg_resolver *r, const danemsg_identity *id,
			  const danemsg_token_policy *policy, const char *username,
			  const char *token, size_t len, int64_t now,
			  danemsg_token_claims *claims, char *errbuf, size_t errbuf_len)
{
	danemsg_identity *found = NULL;
	const danemsg_replay_ops *replay;
	danemsg_token_policy p;
	jose_jws jws;
	danemsg_token_claims c;
	danemsg_err err;

	if (errbuf && errbuf_len)
		*errbuf = '\0';
	if ((err = policy_in(policy, &p, errbuf, errbuf_len)))
		return err;
	if ((!r && !id) || !token)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_INVALID_ARG,
				  "no identity or no token");
	if (claims && abi_struct_size(claims) < CLAIMS_SIZE_V1)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_INVALID_ARG, "claims: start "
				  "them with danemsg_token_claims_init()");
	if (!now)
		now = (int64_t)time(NULL);
	replay = p.replay;
	danemsg_token_claims_init(&c);
	if ((err = parse(token, len, &jws, &c)))
		errbuf_set(errbuf, errbuf_len, err, "not a login token: %s", danemsg_strerror(err));
	else if ((err = check_claims(&p, username, &c, now, errbuf, errbuf_len)))
		;
	else if (!id && (err = danemsg_resolver_lookup(r, c.sub, &found)) && !found)
		errbuf_set(errbuf, errbuf_len, err, "%s: %s", c.sub, danemsg_strerror(err));
	else if (!(err = check_signature(id ? id : found, &jws, c.sub, errbuf, errbuf_len)) &&
		 replay && replay->check_and_add &&
		 (err = replay->check_and_add(replay->ctx, c.sub, c.jti, last_use(&p, &c), now)))
		replay_refusal(err, &c, errbuf, errbuf_len);
	danemsg_identity_unref(found);
	jose_jws_clear(&jws);
	if (claims)
		abi_struct_out(claims, &c, sizeof(c), CLAIMS_SIZE_V1);
	return err;
}

danemsg_err danemsg_token_verify(danemsg_resolver *r, const danemsg_token_policy *policy,
				 const char *username, const char *token, size_t len,
				 int64_t now, danemsg_token_claims *claims, char *errbuf,
				 size_t errbuf_len)
{
	if (!r)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_INVALID_ARG, "no resolver");
	return verify(r, NULL, policy, username, token, len, now, claims, errbuf, errbuf_len);
}

danemsg_err danemsg_token_verify_identity(const danemsg_identity *id,
					  const danemsg_token_policy *policy,
					  const char *username, const char *token, size_t len,
					  int64_t now, danemsg_token_claims *claims,
					  char *errbuf, size_t errbuf_len)
{
	if (!id)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_INVALID_ARG, "no identity");
	return verify(NULL, id, policy, username, token, len, now, claims, errbuf, errbuf_len);
}

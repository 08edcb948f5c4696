/* danemsg: login tokens. A short-lived compact JWS an identity signs with its key, that a
 * service (an MQTT broker) checks against the identity's DNSSEC-secure TLSA records:
 * no password database, no shared secret, no CA. See docs/broker-auth.md. */
#ifndef DANEMSG_TOKEN_H
#define DANEMSG_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include <danemsg/credential.h>
#include <danemsg/error.h>
#include <danemsg/identity.h>
#include <danemsg/policy.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The JWS "typ" of a login token: a message signature ("danemsg+jws") is never a login, and
 * a login token is never a message. */
#define DANEMSG_TOKEN_TYP "danemsg-login+jwt"
/* Longest lifetime (exp - iat) a token may have, seconds; a verifier may allow less. */
#define DANEMSG_TOKEN_MAX_LIFETIME 300u
/* Longest token text accepted (an RSA-3072 token is about 900 characters). */
#define DANEMSG_TOKEN_MAX_LEN 4096u
/* Longest audience (a DNS name or any label the service chooses), without the NUL. */
#define DANEMSG_TOKEN_AUDIENCE_MAX 253u

/*
 * Makes a token for cred's identity to present to the service audience: protected header
 * {alg, typ, x5t#S256}, claims {sub: the identity's name, aud, iat: now, exp: now +
 * lifetime, jti: 128 random bits}. lifetime 1..DANEMSG_TOKEN_MAX_LIFETIME (0: the
 * maximum); now 0: the clock. The algorithm is the key's own (ES256, EdDSA, PS256).
 * *out: a new NUL-terminated string, release with free().
 */
danemsg_err danemsg_token_make(const danemsg_credential *cred, const char *audience,
			       uint32_t lifetime, int64_t now, char **out);

/* What a token says, once parsed. */
typedef struct danemsg_token_claims {
	size_t struct_size;   /* set by danemsg_token_claims_init() (ABI: see danemsg/error.h) */
	char sub[DANEMSG_CREDENTIAL_NAME_MAX];     /* normalized: lower case, no trailing dot */
	char aud[DANEMSG_TOKEN_AUDIENCE_MAX + 1];
	int64_t iat, exp;
	char jti[129];
	const char *alg;                         /* static: "ES256", "EdDSA", "PS256" */
} danemsg_token_claims;

/* Zeroes claims and sets its struct_size: before danemsg_token_parse or _verify fill it. */
void danemsg_token_claims_init(danemsg_token_claims *claims);

/*
 * Parses a token without verifying it (for a caller that checks cheap things before any
 * DNS lookup, and for the fuzzer): compact serialization only, at most
 * DANEMSG_TOKEN_MAX_LEN, typ DANEMSG_TOKEN_TYP, an allowed signature algorithm, and the
 * five claims present and well-formed (sub a DNS name, jti 1..128 characters, iat and exp
 * positive integers with iat < exp). DANEMSG_ERR_MALFORMED, _TOO_LARGE, _ALGORITHM or
 * _UNSUPPORTED (another typ: not a login token).
 */
danemsg_err danemsg_token_parse(const char *token, size_t len, danemsg_token_claims *out);

/* What a verifier accepts. Start from danemsg_token_policy_init(). */
typedef struct danemsg_token_policy {
	size_t struct_size;   /* set by danemsg_token_policy_init() (ABI: see danemsg/error.h) */
	const char *audience;     /* required: this service's name; aud must equal it */
	uint32_t max_lifetime;    /* exp - iat at most this; default DANEMSG_TOKEN_MAX_LIFETIME */
	uint32_t max_skew;        /* iat at most this far in the future, seconds; default 30;
				   * less than max_lifetime */
	/* remembers jti until exp (must outlive the policy's use); NULL: no check */
	const danemsg_replay_ops *replay;
} danemsg_token_policy;

void danemsg_token_policy_init(danemsg_token_policy *policy);

/*
 * The checks of danemsg_token_verify that need no DNS, on parsed claims: sub equals
 * username (NULL: any), aud, the time window (now 0: the clock): iat at most max_skew
 * ahead, exp - iat at most max_lifetime, and now before exp and before iat +
 * max_lifetime - max_skew (so that the replay cache, which keeps a jti until then,
 * keeps none longer than max_lifetime from its first use). For a caller that
 * limits DNS work (a broker: allow-lists, bounded lookups) before verifying.
 */
DANEMSG_NODISCARD
danemsg_err danemsg_token_check(const danemsg_token_policy *policy, const char *username,
				const danemsg_token_claims *claims, int64_t now, char *errbuf,
				size_t errbuf_len);

/*
 * Verifies a token presented by username (NULL: any; the name is then in claims->sub)
 * at time now (0: the clock). Checks, cheapest first: parse (above); sub equals
 * username (DANEMSG_ERR_NOT_FOR_ME); aud (DANEMSG_ERR_NOT_FOR_ME); the time window
 * (DANEMSG_ERR_EXPIRED: exp passed, iat in the future beyond max_skew, or a lifetime
 * over max_lifetime); then the identity's TLSA records through r, which must be
 * DNSSEC-secure (the lookup's error); the signature with a key a DANE-EE record
 * publishes in full (3 0 0, 3 1 0), of that key's own algorithm
 * (DANEMSG_ERR_UNKNOWN_SENDER: no such key, _BAD_SIGNATURE); last the
 * jti (DANEMSG_ERR_REPLAYED). claims (may be NULL) is filled when the token parses.
 * errbuf (may be NULL) says why.
 */
DANEMSG_NODISCARD
danemsg_err danemsg_token_verify(danemsg_resolver *r, const danemsg_token_policy *policy,
				 const char *username, const char *token, size_t len,
				 int64_t now, danemsg_token_claims *claims, char *errbuf,
				 size_t errbuf_len);

/*
 * danemsg_token_verify against an identity the caller looked up already (the result of
 * danemsg_resolver_lookup_async, for a caller that must not block on DNS): the same
 * checks, with id's status and records in place of a lookup; id must be the token's sub
 * (DANEMSG_ERR_NOT_FOR_ME otherwise).
 */
DANEMSG_NODISCARD
danemsg_err danemsg_token_verify_identity(const danemsg_identity *id,
					  const danemsg_token_policy *policy,
					  const char *username, const char *token, size_t len,
					  int64_t now, danemsg_token_claims *claims,
					  char *errbuf, size_t errbuf_len);

#ifdef __cplusplus
}
#endif
#endif

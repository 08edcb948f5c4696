/* danemsg: sealing and opening messages (a JWS signed by the sender inside a JWE
 * encrypted to the recipients), with keys found in DNS. */
#ifndef DANEMSG_ENVELOPE_H
#define DANEMSG_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include <danemsg/credential.h>
#include <danemsg/error.h>
#include <danemsg/identity.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- locators: how a message names an identity ---- */

/*
 * Reads an identity name from an x5u locator as the reference system writes it:
 * "dns://NAME?type=TLSA", "dns:NAME?type=TLSA" (RFC 4501), "dns://SERVER/NAME?type=TLSA"
 * or "dns:NAME". The name is written canonical (lower case, trailing dot) into buf.
 * DANEMSG_ERR_MALFORMED for anything else (another scheme or query, '%', bad name).
 */
danemsg_err danemsg_locator_parse(const char *locator, size_t len, char *name, size_t name_len);

/* Writes "dns://NAME?type=TLSA" (NAME without its trailing dot) into buf. */
danemsg_err danemsg_locator_format(const char *name, char *buf, size_t buflen);

/* ---- policy: what open accepts ---- */

typedef struct danemsg_policy danemsg_policy;

/* A replay cache. check_and_add returns DANEMSG_OK when (sender, id) was not seen and
 * is now remembered until expires_at (Unix seconds), DANEMSG_ERR_REPLAYED when it was
 * (or when the cache can no longer tell), other errors on failure. Called only for
 * messages whose signature verified. A daemon supplies a persistent one. */
typedef struct danemsg_replay_ops {
	danemsg_err (*check_and_add)(void *ctx, const char *sender, const char *id,
				     int64_t expires_at, int64_t now);
	void *ctx;
} danemsg_replay_ops;

/* An in-memory replay cache of at most max_entries; when full, the entry that expires
 * first is dropped and messages expiring before it are refused as replays (so nothing
 * forgotten can be replayed). Thread-safe. */
typedef struct danemsg_replay_cache danemsg_replay_cache;
danemsg_err danemsg_replay_cache_new(size_t max_entries, danemsg_replay_cache **out);
void danemsg_replay_cache_free(danemsg_replay_cache *cache);
danemsg_replay_ops danemsg_replay_cache_ops(danemsg_replay_cache *cache);
size_t danemsg_replay_cache_count(danemsg_replay_cache *cache);
/* Most unexpired entries one sender may hold: 0 (the default) no limit, else at most
 * DANEMSG_REPLAY_SENDER_MAX and max_entries. A sender at its quota gets
 * DANEMSG_ERR_TOO_LARGE from check_and_add until one of its entries expires: one sender
 * (a login flood) fills no more than its share, and never raises another's floor alone. */
#define DANEMSG_REPLAY_SENDER_MAX 100000u
danemsg_err danemsg_replay_cache_set_sender_max(danemsg_replay_cache *cache, size_t sender_max);
/* Saves to a file, for restarts: atomically (a temporary file, fsync, rename), mode 0600,
 * never through a symbolic link. Each record is length-prefixed, whatever its bytes. */
danemsg_err danemsg_replay_cache_save(danemsg_replay_cache *cache, const char *path);
/* Loads what danemsg_replay_cache_save wrote (no file is no error). A file that does not
 * parse is DANEMSG_ERR_MALFORMED with its first bad line (1-based) in *bad_line (may be
 * NULL): a caller must not go on with part of the cache. A symbolic link is refused. */
danemsg_err danemsg_replay_cache_load(danemsg_replay_cache *cache, const char *path,
				      size_t *bad_line);

/* Defaults: 1 MiB size limit; iat at most 300 s old and 60 s in the future; reference-
 * format (compat) messages refused (DANEMSG_ERR_UNSUPPORTED) until
 * danemsg_policy_set_accept_compat(p, 1); no allow-list (any authenticated sender); a
 * private in-memory replay cache of 100,000 entries. */
danemsg_err danemsg_policy_new(danemsg_policy **out);
void danemsg_policy_free(danemsg_policy *policy);
/* Adds an allowed sender: an exact name, or "*.SUFFIX" for any name below SUFFIX.
 * Once one is added, every other sender is refused before any DNS lookup. */
danemsg_err danemsg_policy_allow_sender(danemsg_policy *policy, const char *pattern);
danemsg_err danemsg_policy_set_max_size(danemsg_policy *policy, size_t bytes);
danemsg_err danemsg_policy_set_freshness(danemsg_policy *policy, uint32_t max_age_s,
					 uint32_t max_skew_s);
/* Whether reference-format messages are opened (default: no). They bind no recipient (a
 * recipient can re-encrypt one to a third party), carry no time and no id: replays are
 * told by a digest of the signature, remembered for max_age after opening, so the same
 * text signed twice (RS256 is deterministic) is refused as a replay within that time. */
danemsg_err danemsg_policy_set_accept_compat(danemsg_policy *policy, int accept);
/* Replaces the replay cache; ops.check_and_add NULL disables replay detection. */
danemsg_err danemsg_policy_set_replay(danemsg_policy *policy, danemsg_replay_ops ops);
/* Is the sender allowed (before any DNS)? DANEMSG_OK or DANEMSG_ERR_SENDER_NOT_ALLOWED. */
danemsg_err danemsg_policy_check_sender(const danemsg_policy *policy, const char *name);

/* ---- seal ---- */

typedef struct danemsg_seal_options {
	int compat;            /* the reference format: RS256 in RSA-OAEP-256/A256CBC-HS512 */
	uint32_t expires_in;   /* seconds until exp; 0: no exp (native only) */
	int carry_chain;       /* always carry the certificate chain (x5c); otherwise only
				* when DNS cannot give the sender's whole certificate */
	int with_dnssec_chain; /* carry the DNSSEC chain of the sender's TLSA records
				* (danemsg/chain.h), collected through the resolver */
} danemsg_seal_options;

void danemsg_seal_options_init(danemsg_seal_options *opts);

/*
 * Seals msg from sender to n recipients, whose keys are looked up through r (and must
 * be DNSSEC-secure). *out: a new NUL-terminated JSON text, release with free().
 * Errors: the recipient's lookup status (DANEMSG_ERR_DNS_*), DANEMSG_ERR_NO_USABLE_RECORD
 * when a recipient publishes no key to encrypt to, DANEMSG_ERR_ALGORITHM when compat is
 * asked of a non-RSA identity. errbuf says which recipient and why.
 */
danemsg_err danemsg_seal(danemsg_resolver *r, const danemsg_credential *sender,
			 const char *const *recipients, size_t n_recipients,
			 const uint8_t *msg, size_t msg_len, const danemsg_seal_options *opts,
			 char **out, size_t *out_len, char *errbuf, size_t errbuf_len);

/* ---- open ---- */

typedef enum danemsg_format {
	DANEMSG_FORMAT_NATIVE = 0,
	DANEMSG_FORMAT_COMPAT,
} danemsg_format;

typedef struct danemsg_message danemsg_message;

/*
 * Opens a sealed message for the identity whose credentials are keys[0..n_keys)
 * (current first; during a rollover also the next and old ones). Checks, in order:
 * size; structure; that it is addressed to me; decryption; the signed header's format
 * and algorithms; the sender allowed (before DNS); recipient binding and freshness; the
 * sender's key in a DNSSEC-secure TLSA record; the signature; the sender certificate's
 * dates; replay. Every failure has its own code; danemsg_err_is_temporary()
 * tells "retry later" (DNS down) from "reject". errbuf says why.
 * r may be NULL when the policy has a chain anchor (danemsg_policy_set_chain_anchor):
 * the sender's records then come from the DNSSEC chain the message carries.
 */
danemsg_err danemsg_open(danemsg_resolver *r, const danemsg_credential *const *keys,
			 size_t n_keys, const danemsg_policy *policy, const uint8_t *in,
			 size_t in_len, danemsg_message **out, char *errbuf, size_t errbuf_len);

/* The same, judging time (iat window, exp, certificate dates) as of now (Unix seconds)
 * instead of the clock: a daemon passes the time a message arrived, so that one that
 * waited in its spool (for DNS to come back) is not refused as stale. */
danemsg_err danemsg_open_at(danemsg_resolver *r, const danemsg_credential *const *keys,
			    size_t n_keys, const danemsg_policy *policy, int64_t now,
			    const uint8_t *in, size_t in_len, danemsg_message **out,
			    char *errbuf, size_t errbuf_len);

void danemsg_message_free(danemsg_message *m);
const char *danemsg_message_from(const danemsg_message *m);          /* canonical name */
size_t danemsg_message_recipient_count(const danemsg_message *m);
const char *danemsg_message_recipient(const danemsg_message *m, size_t i);
const uint8_t *danemsg_message_payload(const danemsg_message *m, size_t *len);
danemsg_format danemsg_message_format(const danemsg_message *m);
danemsg_dnssec danemsg_message_dnssec(const danemsg_message *m);  /* of the sender's key */
int danemsg_message_insecure_allowed(const danemsg_message *m);
int64_t danemsg_message_iat(const danemsg_message *m);   /* 0 when absent (compat) */
int64_t danemsg_message_exp(const danemsg_message *m);   /* 0 when absent */
const char *danemsg_message_id(const danemsg_message *m);/* jti, or for compat a digest */
const char *danemsg_message_sig_alg(const danemsg_message *m);
const char *danemsg_message_enc_alg(const danemsg_message *m);
/* SHA-256 fingerprint (hex) of the sender certificate or key that verified. */
const char *danemsg_message_sender_key_sha256(const danemsg_message *m);

#ifdef __cplusplus
}
#endif
#endif

/* danemsg: sealing and opening messages (a JWS signed by the sender inside a JWE
 * encrypted to the recipients), with keys found in DNS. */
#ifndef DANEMSG_ENVELOPE_H
#define DANEMSG_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include <danemsg/credential.h>
#include <danemsg/error.h>
#include <danemsg/identity.h>
#include <danemsg/policy.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- seal ---- */

typedef struct danemsg_seal_options {
	size_t struct_size;   /* set by danemsg_seal_options_init() (ABI: see danemsg/error.h) */
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
DANEMSG_NODISCARD
danemsg_err danemsg_open(danemsg_resolver *r, const danemsg_credential *const *keys,
			 size_t n_keys, const danemsg_policy *policy, const uint8_t *in,
			 size_t in_len, danemsg_message **out, char *errbuf, size_t errbuf_len);

/* The same, judging time (iat window, exp, certificate dates) as of now (Unix seconds)
 * instead of the clock: a daemon passes the time a message arrived, so that one that
 * waited in its spool (for DNS to come back) is not refused as stale. */
DANEMSG_NODISCARD
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

/* Private: the reference system's PKIX-CD records (private usage 4), opt-in. */
#ifndef DANEMSG_PKIXCD_H
#define DANEMSG_PKIXCD_H

#include <stdint.h>

#include <danemsg.h>

/* The CA fetcher of one resolver: libcurl settings, a cache of fetched CAs and the worker
 * threads that fetch them. */
struct pkixcd;

/* A fetcher for cfg (pkix_cd on): HTTPS with the Web PKI store of pkix_ca_file/path. */
danemsg_err pkixcd_new(const danemsg_resolver_config *cfg, struct pkixcd **out,
		       char *errbuf, size_t errlen);
/* Ends the transfers under way, joins the workers and hands queued identities back. */
void pkixcd_free(struct pkixcd *p);

/* Whether id has PKIX-CD records that pkixcd_validate_records may make usable. */
int pkixcd_wanted(const danemsg_identity *id);

/*
 * Makes each "4 0 0" record of id usable whose certificate validates (RFC 5280, to the
 * CA fetched from https://AUTHORITY/.well-known/ca/AKI.pem, and naming the identity in a
 * DNS SAN); the others stay unusable, with the reason. Blocks for the fetches, until
 * deadline_ms (cache_now_ms() clock) at most. Call before the identity is shared.
 * Returns 1 when a CA could not be fetched (a temporary failure), else 0.
 */
int pkixcd_validate_records(struct pkixcd *p, danemsg_identity *id, uint64_t deadline_ms);

/* Receives an identity back from pkixcd_submit, with pkixcd_validate_records' result. */
typedef void (*pkixcd_done_cb)(void *arg, danemsg_identity *id, int temporary);

/*
 * Validates id's PKIX-CD records on one of the fetcher's worker threads (at most 4
 * fetches in flight, 64 identities waiting), within timeout_ms, then calls done from that
 * thread; id is the caller's until then. When too many wait, or on pkixcd_free, done is
 * called at once (from the calling thread) with the records left unusable. Never blocks
 * on a fetch.
 */
void pkixcd_submit(struct pkixcd *p, danemsg_identity *id, uint64_t timeout_ms,
		   pkixcd_done_cb done, void *arg);

/* The authority host of an identity name: from the right, up to and including the first
 * label that starts with '_', without the '_' ("a._device.example.net." gives
 * "device.example.net"). INVALID_ARG when no label starts with '_'. */
danemsg_err pkixcd_authority(const char *name, char *buf, size_t buflen);

/* The first PEM certificate of a fetched CA file (at most 64 KiB): MALFORMED, TOO_LARGE. */
danemsg_err pkixcd_parse_ca(const uint8_t *body, size_t len, X509 **out);

#endif

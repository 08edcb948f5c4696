/* danemsg: the receive policy (what danemsg_open accepts) and replay caches. */
#ifndef DANEMSG_POLICY_H
#define DANEMSG_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include <danemsg/error.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct danemsg_policy danemsg_policy;

/*
 * A replay cache, for a caller that keeps its own (a daemon's persistent one, a cluster's
 * shared one). check_and_add returns DANEMSG_OK when (sender, id) was not seen and is now
 * remembered until expires_at (Unix seconds), DANEMSG_ERR_REPLAYED when it was (or when
 * the cache can no longer tell), other errors on failure. Called only for messages whose
 * signature verified.
 * version comes first and is DANEMSG_REPLAY_OPS_VERSION, the layout this header declares:
 * the library refuses any other (DANEMSG_ERR_UNSUPPORTED) rather than read a layout it does
 * not know. A later layout gets the next version; the library keeps accepting the older
 * ones it knew. Write {.version = DANEMSG_REPLAY_OPS_VERSION, .check_and_add = f, .ctx = c}.
 */
#define DANEMSG_REPLAY_OPS_VERSION 1
typedef struct danemsg_replay_ops {
	int version;
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
 * never through a symbolic link. Each record is length-prefixed, whatever its bytes.
 * DANEMSG_ERR_IO when a step fails: errbuf (may be NULL) names the file and why. */
danemsg_err danemsg_replay_cache_save(danemsg_replay_cache *cache, const char *path,
				      char *errbuf, size_t errbuf_len);
/* Loads what danemsg_replay_cache_save wrote (no file is no error). A file that does not
 * parse is DANEMSG_ERR_MALFORMED with its first bad line (1-based) in *bad_line (may be
 * NULL): a caller must not go on with part of the cache. A symbolic link or anything but
 * a regular file is DANEMSG_ERR_IO, a file larger than the cache can have written
 * DANEMSG_ERR_TOO_LARGE. errbuf (may be NULL) names the file and why (and the line). */
danemsg_err danemsg_replay_cache_load(danemsg_replay_cache *cache, const char *path,
				      size_t *bad_line, char *errbuf, size_t errbuf_len);

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
/* Replaces the replay cache; ops.check_and_add NULL disables replay detection.
 * DANEMSG_ERR_UNSUPPORTED (the policy unchanged) when ops.version is not
 * DANEMSG_REPLAY_OPS_VERSION. */
danemsg_err danemsg_policy_set_replay(danemsg_policy *policy, danemsg_replay_ops ops);
/* Is the sender allowed (before any DNS)? DANEMSG_OK or DANEMSG_ERR_SENDER_NOT_ALLOWED. */
DANEMSG_NODISCARD
danemsg_err danemsg_policy_check_sender(const danemsg_policy *policy, const char *name);

#ifdef __cplusplus
}
#endif
#endif

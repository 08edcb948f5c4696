/* The listener's durable spool: every message received is a file until it is delivered or
 * rejected, and a bounded in-memory index of those files for the workers. */
#ifndef DANEMSG_TOOL_SPOOL_H
#define DANEMSG_TOOL_SPOOL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* An entry's name: the payload's SHA-256 (hex) and the MQTT packet id it came with
 * ("r" for a retained message), e.g. "3a7b...e1.17". A QoS 1 redelivery has the same
 * bytes and packet id, so it is the same entry. */
#define SPOOL_NAME_MAX 80
#define SPOOL_MID_RETAINED (-1)

void spool_name(const uint8_t sha256[32], int mid, char name[SPOOL_NAME_MAX]);
/* Reads a name back; 0, or -1 when it is not one. */
int spool_name_parse(const char *name, uint8_t sha256[32], int *mid);

struct spool;

/*
 * Opens (creating, mode 0700) the state folder dir with spool/ and quarantine/, takes its
 * lock (one listener per folder) and removes temporary files a crash left. At most
 * quarantine_max entries and quarantine_max_bytes bytes are kept in quarantine. 0 or an
 * exit code (reported).
 */
int spool_open(const char *dir, size_t quarantine_max, uint64_t quarantine_max_bytes,
	       struct spool **out);
/* The state folder listen uses by default: DIR/NAME.listen. 0, or -1 when too long. */
int spool_state_dir(const char *identity_dir, const char *name, char *out, size_t len);
/* The folders without the lock, for `danemsg quarantine` (creates nothing). *locked: a
 * listener holds the lock. 0 or an exit code (reported). */
int spool_open_unlocked(const char *dir, int *locked, struct spool **out);
/* The quarantine and spool folders' descriptors. */
int spool_quarantine_fd(const struct spool *s);
int spool_spool_fd(const struct spool *s);
void spool_close(struct spool *s);

/* Stores data as entry name: temporary file, fsync, rename, fsync of the folder. 0, or
 * -1 with errno. */
int spool_store(struct spool *s, const char *name, const void *data, size_t len);
/* Whether entry name waits in the spool, or is in quarantine. */
int spool_has(struct spool *s, const char *name);
int spool_in_quarantine(struct spool *s, const char *name);
/* Reads entry name: at most max bytes (a larger one is -1 with errno E2BIG), and when
 * it was stored (ns since the epoch). 0, or -1 with errno. */
int spool_read(struct spool *s, const char *name, size_t max, uint8_t **data, size_t *len,
	       int64_t *received_ns);
/* Removes entry name (delivered, or nothing more to do). */
void spool_remove(struct spool *s, const char *name);
/*
 * Puts entry name in quarantine/ with name.reason saying why (struct spool_reason): the
 * spool's file when from_spool, else data (NULL: the reason only). data, when given,
 * also gives the reason file the payload's first bytes (head). received_ns: when the
 * message arrived (0: now). SPOOL_Q_KEPT quarantined; SPOOL_Q_HEAD_ONLY the payload
 * would pass quarantine_max_bytes: only the reason and head are kept; SPOOL_Q_FULL
 * quarantine_max entries: nothing is kept; the spool's file is removed in both cases.
 * -1 error (errno).
 */
enum { SPOOL_Q_FULL = 0, SPOOL_Q_KEPT = 1, SPOOL_Q_HEAD_ONLY = 2 };
int spool_quarantine(struct spool *s, const char *name, int from_spool, const void *data,
		     size_t size, int64_t received_ns, const char *reason, const char *detail);

/* A quarantine entry's .reason file, read back (it may have been edited: untrusted). */
#define SPOOL_HEAD_BYTES 64
struct spool_reason {
	char reason[64];
	char detail[1024];
	char head[4 * SPOOL_HEAD_BYTES + 1];  /* the payload's first bytes, escaped */
	char received[32], quarantined[32];   /* UTC, ISO 8601 */
	unsigned long long size;
	int payload_kept;
};
/* Parses a .reason file's text; unknown lines are ignored, long values cut. 0, or -1
 * when there is no "reason:" line. */
int spool_reason_parse(const char *text, size_t len, struct spool_reason *out);
/* Copies len bytes to out (outlen bytes, always terminated) with every byte outside
 * printable ASCII, and backslash, as \xHH: safe for a terminal, a log or a file line. */
void spool_escape(const void *data, size_t len, char *out, size_t outlen);

/* ---- the index the workers take entries from ---- */

struct spool_item {
	char name[SPOOL_NAME_MAX];
	int64_t received_ns;
	int64_t not_before_ns;    /* retry no sooner (monotonic ns) */
	unsigned attempts;        /* failed attempts so far */
	uint8_t claim[32];        /* replay-cache entry this message added, see listen.c */
	char last_error[64];      /* why the last attempt failed (retries only) */
	int has_claim;
};

struct spool_queue;

/*
 * An index of at most cap new entries (never tried; more wait on disk and are found by a
 * later scan) and at most retry_cap entries waiting to be tried again. New entries are
 * served before retries, so that messages that keep failing never hold up fresh ones.
 */
int spool_queue_new(struct spool *s, size_t cap, size_t retry_cap, struct spool_queue **out);
void spool_queue_free(struct spool_queue *q);
/* A new entry (just stored). 0 added; 1 already indexed; -1 no room (found later). */
int spool_queue_add(struct spool_queue *q, const char *name, int64_t received_ns);
/* Waits for the oldest new entry, else the retry due first, and copies it to *item: 1, or
 * 0 once *stop. Rescans the spool now and then for entries put back by hand. */
int spool_queue_take(struct spool_queue *q, struct spool_item *item, atomic_int *stop);
/* The entry taken is finished (removed from the spool or quarantined). */
void spool_queue_done(struct spool_queue *q, const char *name);
/* The entry taken goes back, ready again after delay_ns, with its attempts and claim
 * (attempts 0: as a new entry). 0, or -1 when the retry queue is full (the entry stays
 * taken: quarantine it). */
int spool_queue_retry(struct spool_queue *q, const struct spool_item *item, int64_t delay_ns);
/* How many entries are indexed: new ones, and waiting for a retry. */
void spool_queue_counts(struct spool_queue *q, size_t *fresh, size_t *retrying);
/* Wakes every waiting taker (to see *stop). */
void spool_queue_wake(struct spool_queue *q);

/* Monotonic and real clocks in ns. */
int64_t spool_mono_ns(void);
int64_t spool_real_ns(void);

#endif

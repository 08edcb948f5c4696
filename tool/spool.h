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
 * quarantine_max messages are kept in quarantine. 0 or an exit code (reported).
 */
int spool_open(const char *dir, size_t quarantine_max, struct spool **out);
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
 * Puts entry name in quarantine/ with name.reason saying why ("reason: REASON", "detail:
 * DETAIL", size, time): the spool's file when from_spool, else data (NULL: the reason
 * only). When the quarantine is full, only removes the spool's file. 1 quarantined,
 * 0 full, -1 error (errno).
 */
int spool_quarantine(struct spool *s, const char *name, int from_spool, const void *data,
		     size_t size, const char *reason, const char *detail);

/* ---- the index the workers take entries from ---- */

struct spool_item {
	char name[SPOOL_NAME_MAX];
	int64_t received_ns;
	int64_t not_before_ns;    /* retry no sooner (monotonic ns) */
	unsigned attempts;        /* failed attempts so far */
	uint8_t claim[32];        /* replay-cache entry this message added, see listen.c */
	int has_claim;
};

struct spool_queue;

/* An index of at most cap entries; more wait on disk and are found by a later scan. */
int spool_queue_new(struct spool *s, size_t cap, struct spool_queue **out);
void spool_queue_free(struct spool_queue *q);
/* A new entry (just stored). 0 added; 1 already indexed; -1 no room (found later). */
int spool_queue_add(struct spool_queue *q, const char *name, int64_t received_ns);
/* Waits for the oldest entry that is ready and copies it to *item: 1, or 0 once *stop. */
int spool_queue_take(struct spool_queue *q, struct spool_item *item, atomic_int *stop);
/* The entry taken is finished (removed from the spool or quarantined). */
void spool_queue_done(struct spool_queue *q, const char *name);
/* The entry taken goes back, ready again after delay_ns, with its attempts and claim. */
void spool_queue_retry(struct spool_queue *q, const struct spool_item *item, int64_t delay_ns);
/* Wakes every waiting taker (to see *stop). */
void spool_queue_wake(struct spool_queue *q);

/* Monotonic and real clocks in ns. */
int64_t spool_mono_ns(void);
int64_t spool_real_ns(void);

#endif

/* Private: the identity cache (TTL, LRU bound, one query per name in flight). */
#ifndef DANEMSG_CACHE_H
#define DANEMSG_CACHE_H

#include <stdint.h>

#include <danemsg.h>

struct cache_waiter {
	danemsg_lookup_cb cb;
	void *arg;
	struct cache_waiter *next;
};

struct cache_entry {
	char *name;
	uint32_t hash;
	danemsg_identity *id;          /* last answer, NULL before the first */
	uint64_t expires_ms;           /* monotonic ms when id goes stale */
	int pending;                   /* a query is in flight */
	uint64_t generation;           /* which query the entry waits for */
	int async_id;                  /* libunbound's id of that query, 0 if unknown */
	void *query;                   /* the resolver's data for that query */
	uint64_t deadline_ms;          /* when that query times out */
	struct cache_zone *zone;       /* counts that query in flight, or NULL */
	struct cache_waiter *waiters;  /* lookups waiting for it */
	struct cache_entry *hash_next;
	struct cache_entry *lru_prev, *lru_next;    /* most recent first */
	struct cache_entry *pend_prev, *pend_next;  /* entries with a query in flight */
};

struct cache_zone;

/* What the resolver remembers of a zone (see cache_zone_of): its lookups in flight and
 * its recent temporary failures, so that one failing zone gets a bounded share. */
#define CACHE_ZONES 512
#define CACHE_ZONE_NAME 256
struct cache_zone {
	char name[CACHE_ZONE_NAME];
	uint32_t inflight;             /* lookups of names under it in flight */
	uint32_t failures;             /* consecutive temporary failures */
	uint64_t quiet_until_ms;       /* no new lookups under it before this */
};

struct cache {
	struct cache_entry **buckets;
	size_t n_buckets;
	size_t n_entries;
	size_t max_entries;
	struct cache_entry *lru_head, *lru_tail;
	struct cache_entry *pending;
	size_t n_pending;
	uint64_t evictions;
	struct cache_zone *zones;      /* CACHE_ZONES slots, by hash */
};

/* Monotonic clock in milliseconds. */
uint64_t cache_now_ms(void);

danemsg_err cache_init(struct cache *c, size_t max_entries);
void cache_destroy(struct cache *c);

/* The entry for a canonical name, or NULL. Does not touch the LRU order. */
struct cache_entry *cache_find(struct cache *c, const char *name);

/* A new, empty entry for name, most recently used; may evict idle entries
 * beyond the bound. NULL when out of memory. */
struct cache_entry *cache_insert(struct cache *c, const char *name);

/* Marks e most recently used. */
void cache_touch(struct cache *c, struct cache_entry *e);

/* Tracks whether e has a query in flight (pending entries are never evicted). */
void cache_set_pending(struct cache *c, struct cache_entry *e, int pending);

/* The zone a canonical name is judged by, a suffix of name: what follows the last label
 * that starts with '_' ("alice._device.example.net." -> "example.net."), else what follows
 * the first label; the root for a single label. */
const char *cache_zone_of(const char *name);

/* The slot of zone (a canonical name): the one it has, else a free or idle one taken
 * over; NULL when its slot is busy with another zone (then no share applies). */
struct cache_zone *cache_zone_get(struct cache *c, const char *zone);

#endif

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
	struct cache_waiter *waiters;  /* lookups waiting for it */
	struct cache_entry *hash_next;
	struct cache_entry *lru_prev, *lru_next;    /* most recent first */
	struct cache_entry *pend_prev, *pend_next;  /* entries with a query in flight */
};

struct cache {
	struct cache_entry **buckets;
	size_t n_buckets;
	size_t n_entries;
	size_t max_entries;
	struct cache_entry *lru_head, *lru_tail;
	struct cache_entry *pending;
	uint64_t evictions;
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

#endif

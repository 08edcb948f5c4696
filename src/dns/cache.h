/* Private: the identity cache (TTL, LRU bound, one query per name in flight). */
#ifndef DANEMSG_CACHE_H
#define DANEMSG_CACHE_H

#include <stdint.h>

#include <danemsg.h>

/* Most zone slots one lookup is counted in: its zone, then ancestors (see cache_zone_keys). */
#define CACHE_KEYS 3

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
	int known;                     /* has had a secure, usable answer */
	struct cache_zone *zones[CACHE_KEYS];  /* count that query in flight; NULL-padded */
	struct cache_waiter *waiters;  /* lookups waiting for it */
	struct cache_entry *hash_next;
	struct cache_entry *lru_prev, *lru_next;    /* most recent first */
	struct cache_entry *pend_prev, *pend_next;  /* entries with a query in flight */
};

struct cache_zone;

/* What the resolver remembers of a zone (see cache_zone_of): its lookups in flight and
 * its recent temporary failures, so that one failing zone gets a bounded share. Lookups of
 * names that have had a secure answer (known) and of the others are counted apart, so
 * that names an attacker picks cannot make a known sender's zone look failing; and the
 * others also under their zone's ancestors (BELOW), so that new subzones share one budget. */
#define CACHE_ZONES 512
#define CACHE_ZONE_NAME 256
enum cache_zone_kind {
	CACHE_ZONE_OWN,       /* names never seen good directly in the zone */
	CACHE_ZONE_BELOW,     /* names never seen good in zones below it */
	CACHE_ZONE_KNOWN,     /* names seen good directly in the zone */
};
struct cache_zone {
	char name[CACHE_ZONE_NAME];
	enum cache_zone_kind kind;
	uint32_t inflight;             /* lookups of names under it in flight */
	uint32_t failures;             /* consecutive temporary failures */
	uint64_t quiet_until_ms;       /* no new lookups under it before this */
};

struct cache {
	struct cache_entry **buckets;
	size_t n_buckets;
	size_t n_entries;
	size_t max_entries;
	struct cache_entry *lru_head[2], *lru_tail[2];   /* [known]: the unknown go first */
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

/* The slot of zone (a canonical name) for kind: the one it has, else a free or idle one
 * taken over; NULL when its slot is busy with another zone (then no share applies). */
struct cache_zone *cache_zone_get(struct cache *c, enum cache_zone_kind kind,
				  const char *zone);

/* The zone slots a lookup of name is counted in (up to CACHE_KEYS, NULL-padded; a
 * NULL slot is busy with another zone): for a known name its zone (KNOWN); for another its
 * zone (OWN) and, as BELOW, those of the zone's ancestors with 3 and 2 labels that are
 * not the zone itself ("x._device.h1.hang.example.net." -> h1.hang.example.net.,
 * hang.example.net., example.net.): an attacker's many subzones share their parent's. */
void cache_zone_keys(struct cache *c, const char *name, int known,
		     struct cache_zone *out[CACHE_KEYS]);

/* Marks e as known (it had a secure, usable answer): from then on it is evicted only
 * when no entry that is not known is left to evict. */
void cache_set_known(struct cache *c, struct cache_entry *e);

#endif

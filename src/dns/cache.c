/* The identity cache: a hash table with an LRU list and a list of queries in flight.
 * Not locked here: the resolver holds its mutex around every call. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache.h"
#include "util.h"

uint64_t cache_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

danemsg_err cache_init(struct cache *c, size_t max_entries)
{
	memset(c, 0, sizeof(*c));
	c->max_entries = max_entries ? max_entries : 1;
	c->n_buckets = 64;
	while (c->n_buckets < c->max_entries && c->n_buckets < (1u << 20))
		c->n_buckets <<= 1;
	c->buckets = calloc(c->n_buckets, sizeof(*c->buckets));
	c->zones = calloc(CACHE_ZONES, sizeof(*c->zones));
	if (!c->buckets || !c->zones) {
		free(c->buckets);
		free(c->zones);
		return DANEMSG_ERR_NOMEM;
	}
	return DANEMSG_OK;
}

const char *cache_zone_of(const char *name)
{
	const char *zone = strchr(name, '.');   /* after the first label */
	for (const char *p = zone; p && p[1]; p = strchr(p + 1, '.'))
		if (p[1] == '_')
			zone = strchr(p + 1, '.');
	return zone && zone[1] ? zone + 1 : ".";
}

struct cache_zone *cache_zone_get(struct cache *c, enum cache_zone_kind kind,
				  const char *zone)
{
	struct cache_zone *z = &c->zones[(util_fnv1a(zone) + kind * 2654435761u) % CACHE_ZONES];
	size_t len = strlen(zone);
	if (len >= CACHE_ZONE_NAME)
		return NULL;
	if (z->kind == kind && !strcmp(z->name, zone))
		return z;
	if (z->inflight || z->quiet_until_ms > cache_now_ms())
		return NULL;
	memset(z, 0, sizeof(*z));
	z->kind = kind;
	memcpy(z->name, zone, len + 1);
	return z;
}

/* The suffix of name with labels labels, or NULL when name has fewer. */
static const char *suffix_of_labels(const char *name, size_t labels)
{
	size_t n = 0;
	const char *p;
	for (p = name; *p; p++)
		n += *p == '.';
	if (!strcmp(name, ".") || n < labels)
		return NULL;
	for (p = name; n > labels; p++)
		n -= *p == '.';
	return p;
}

void cache_zone_keys(struct cache *c, const char *name, int known,
		     struct cache_zone *out[CACHE_KEYS])
{
	const char *zone = cache_zone_of(name);
	size_t n = 1;

	memset(out, 0, CACHE_KEYS * sizeof(*out));
	out[0] = cache_zone_get(c, known ? CACHE_ZONE_KNOWN : CACHE_ZONE_OWN, zone);
	for (size_t labels = 3; !known && labels >= 2; labels--) {
		const char *up = suffix_of_labels(zone, labels);
		if (up && up != zone)
			out[n++] = cache_zone_get(c, CACHE_ZONE_BELOW, up);
	}
	/* a slot taken over twice would be counted as one zone twice */
	for (size_t i = 1; i < n; i++)
		for (size_t j = 0; j < i; j++)
			if (out[i] == out[j])
				out[i] = NULL;
}

static void lru_unlink(struct cache *c, struct cache_entry *e)
{
	if (e->lru_prev)
		e->lru_prev->lru_next = e->lru_next;
	else
		c->lru_head[e->known] = e->lru_next;
	if (e->lru_next)
		e->lru_next->lru_prev = e->lru_prev;
	else
		c->lru_tail[e->known] = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
}

static void lru_push_front(struct cache *c, struct cache_entry *e)
{
	e->lru_next = c->lru_head[e->known];
	e->lru_prev = NULL;
	if (c->lru_head[e->known])
		c->lru_head[e->known]->lru_prev = e;
	c->lru_head[e->known] = e;
	if (!c->lru_tail[e->known])
		c->lru_tail[e->known] = e;
}

static void entry_free(struct cache_entry *e)
{
	danemsg_identity_unref(e->id);
	free(e->name);
	free(e);
}

static void cache_remove(struct cache *c, struct cache_entry *e)
{
	struct cache_entry **p = &c->buckets[e->hash & (c->n_buckets - 1)];
	while (*p != e)
		p = &(*p)->hash_next;
	*p = e->hash_next;
	lru_unlink(c, e);
	c->n_entries--;
	entry_free(e);
}

static void entries_free(struct cache_entry *e)
{
	while (e) {
		struct cache_entry *next = e->lru_next;
		struct cache_waiter *w = e->waiters;
		while (w) {
			struct cache_waiter *wn = w->next;
			free(w);
			w = wn;
		}
		entry_free(e);
		e = next;
	}
}

void cache_destroy(struct cache *c)
{
	for (int known = 0; known < 2; known++)
		entries_free(c->lru_head[known]);
	free(c->buckets);
	free(c->zones);
	memset(c, 0, sizeof(*c));
}

struct cache_entry *cache_find(struct cache *c, const char *name)
{
	uint32_t h = util_fnv1a(name);
	for (struct cache_entry *e = c->buckets[h & (c->n_buckets - 1)]; e; e = e->hash_next)
		if (e->hash == h && !strcmp(e->name, name))
			return e;
	return NULL;
}

/* Least recently used first, those never seen good before the known. */
static void evict_idle(struct cache *c)
{
	for (int known = 0; known < 2; known++) {
		struct cache_entry *e = c->lru_tail[known];
		while (c->n_entries > c->max_entries && e) {
			struct cache_entry *prev = e->lru_prev;
			if (!e->pending) {
				cache_remove(c, e);
				c->evictions++;
			}
			e = prev;
		}
	}
}

struct cache_entry *cache_insert(struct cache *c, const char *name)
{
	struct cache_entry *e = calloc(1, sizeof(*e));
	if (!e || !(e->name = strdup(name))) {
		free(e);
		return NULL;
	}
	e->hash = util_fnv1a(name);
	size_t b = e->hash & (c->n_buckets - 1);
	e->hash_next = c->buckets[b];
	c->buckets[b] = e;
	lru_push_front(c, e);
	c->n_entries++;
	/* The new entry is at the head and about to become pending: never the victim. */
	e->pending = 1;
	evict_idle(c);
	e->pending = 0;
	return e;
}

void cache_set_known(struct cache *c, struct cache_entry *e)
{
	if (e->known)
		return;
	lru_unlink(c, e);
	e->known = 1;
	lru_push_front(c, e);
}

void cache_touch(struct cache *c, struct cache_entry *e)
{
	if (c->lru_head[e->known] == e)
		return;
	lru_unlink(c, e);
	lru_push_front(c, e);
}

void cache_set_pending(struct cache *c, struct cache_entry *e, int pending)
{
	if (e->pending == pending)
		return;
	e->pending = pending;
	c->n_pending += pending ? 1 : (size_t)-1;
	if (pending) {
		e->pend_prev = NULL;
		e->pend_next = c->pending;
		if (c->pending)
			c->pending->pend_prev = e;
		c->pending = e;
	} else {
		if (e->pend_prev)
			e->pend_prev->pend_next = e->pend_next;
		else
			c->pending = e->pend_next;
		if (e->pend_next)
			e->pend_next->pend_prev = e->pend_prev;
		e->pend_prev = e->pend_next = NULL;
	}
}

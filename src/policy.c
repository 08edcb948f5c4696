/* Receive policy: allow-list, size and freshness limits, and the replay cache. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <danemsg.h>

#include "identity_internal.h"
#include "policy_internal.h"

/* ---- replay cache: a hash set of (sender, id) with expiry ---- */

struct replay_entry {
	char *key;                 /* "sender id" */
	int64_t expires_at;
	struct replay_entry *next;
};

struct danemsg_replay_cache {
	pthread_mutex_t lock;
	struct replay_entry **buckets;
	size_t n_buckets, count, max_entries;
	int64_t floor;             /* messages expiring at or before this are refused */
};

static uint32_t key_hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

danemsg_err danemsg_replay_cache_new(size_t max_entries, danemsg_replay_cache **out)
{
	danemsg_replay_cache *c;
	if (!out || !max_entries)
		return DANEMSG_ERR_INVALID_ARG;
	c = calloc(1, sizeof(*c));
	if (!c)
		return DANEMSG_ERR_NOMEM;
	c->max_entries = max_entries;
	c->n_buckets = 64;   /* grows with use (replay_grow), so an idle cache costs little */
	c->buckets = calloc(c->n_buckets, sizeof(*c->buckets));
	if (!c->buckets) {
		free(c);
		return DANEMSG_ERR_NOMEM;
	}
	pthread_mutex_init(&c->lock, NULL);
	*out = c;
	return DANEMSG_OK;
}

void danemsg_replay_cache_free(danemsg_replay_cache *c)
{
	if (!c)
		return;
	for (size_t b = 0; b < c->n_buckets; b++) {
		struct replay_entry *e = c->buckets[b];
		while (e) {
			struct replay_entry *next = e->next;
			free(e->key);
			free(e);
			e = next;
		}
	}
	pthread_mutex_destroy(&c->lock);
	free(c->buckets);
	free(c);
}

/* Removes expired entries and those expiring at or before threshold. Lock held. */
static void replay_drop(danemsg_replay_cache *c, int64_t now, int64_t threshold)
{
	for (size_t b = 0; b < c->n_buckets; b++) {
		struct replay_entry **p = &c->buckets[b];
		while (*p) {
			struct replay_entry *e = *p;
			if (e->expires_at < now || e->expires_at <= threshold) {
				*p = e->next;
				free(e->key);
				free(e);
				c->count--;
			} else {
				p = &e->next;
			}
		}
	}
}

/* Drops expired entries; when that is not enough, drops about the eighth of them that
 * expire first and raises the floor to their last expiry, so that nothing forgotten can
 * come back. One pass frees many slots: a full cache costs O(1) per message, amortized. */
static void replay_make_room(danemsg_replay_cache *c, int64_t now)
{
	int64_t lo = INT64_MAX, hi = INT64_MIN, threshold = INT64_MIN;
	size_t live = 0;
	for (size_t b = 0; b < c->n_buckets; b++)
		for (struct replay_entry *e = c->buckets[b]; e; e = e->next)
			if (e->expires_at >= now) {
				live++;
				lo = e->expires_at < lo ? e->expires_at : lo;
				hi = e->expires_at > hi ? e->expires_at : hi;
			}
	if (live >= c->max_entries - c->max_entries / 16) {
		threshold = lo + (hi - lo) / 8;
		if (threshold > c->floor)
			c->floor = threshold;
	}
	replay_drop(c, now, threshold);
}

/* Doubles the table when it holds two entries a bucket; out of memory keeps the old one. */
static void replay_grow(danemsg_replay_cache *c)
{
	size_t n = c->n_buckets * 2;
	struct replay_entry **b;
	if (c->count < 2 * c->n_buckets || c->n_buckets >= (1u << 22) ||
	    !(b = calloc(n, sizeof(*b))))
		return;
	for (size_t i = 0; i < c->n_buckets; i++) {
		struct replay_entry *e = c->buckets[i];
		while (e) {
			struct replay_entry *next = e->next;
			size_t j = key_hash(e->key) & (n - 1);
			e->next = b[j];
			b[j] = e;
			e = next;
		}
	}
	free(c->buckets);
	c->buckets = b;
	c->n_buckets = n;
}

static danemsg_err replay_insert(danemsg_replay_cache *c, const char *key, int64_t expires_at,
				 int64_t now, int only_if_new)
{
	uint32_t h = key_hash(key);
	struct replay_entry **head = &c->buckets[h & (c->n_buckets - 1)], *e;

	if (expires_at <= c->floor)
		return DANEMSG_ERR_REPLAYED;   /* may have been seen and forgotten */
	for (e = *head; e; e = e->next)
		if (!strcmp(e->key, key)) {
			if (e->expires_at >= now && only_if_new)
				return DANEMSG_ERR_REPLAYED;
			if (expires_at > e->expires_at)
				e->expires_at = expires_at;
			return DANEMSG_OK;
		}
	if (c->count >= c->max_entries)
		replay_make_room(c, now);
	e = calloc(1, sizeof(*e));
	if (!e || !(e->key = strdup(key))) {
		free(e);
		return DANEMSG_ERR_NOMEM;
	}
	e->expires_at = expires_at;
	e->next = *head;
	*head = e;
	c->count++;
	replay_grow(c);
	return DANEMSG_OK;
}

static danemsg_err replay_check_and_add(void *ctx, const char *sender, const char *id,
					int64_t expires_at, int64_t now)
{
	danemsg_replay_cache *c = ctx;
	char key[600];
	danemsg_err err;
	if (snprintf(key, sizeof(key), "%s %s", sender, id) >= (int)sizeof(key))
		return DANEMSG_ERR_MALFORMED;
	pthread_mutex_lock(&c->lock);
	err = replay_insert(c, key, expires_at, now, 1);
	pthread_mutex_unlock(&c->lock);
	return err;
}

danemsg_replay_ops danemsg_replay_cache_ops(danemsg_replay_cache *cache)
{
	danemsg_replay_ops ops = {cache ? replay_check_and_add : NULL, cache};
	return ops;
}

size_t danemsg_replay_cache_count(danemsg_replay_cache *c)
{
	size_t n;
	if (!c)
		return 0;
	pthread_mutex_lock(&c->lock);
	n = c->count;
	pthread_mutex_unlock(&c->lock);
	return n;
}

danemsg_err danemsg_replay_cache_save(danemsg_replay_cache *c, const char *path)
{
	char tmp[4096];
	FILE *f;
	int ok;

	if (!c || !path || snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return DANEMSG_ERR_INVALID_ARG;
	f = fopen(tmp, "w");
	if (!f)
		return DANEMSG_ERR_IO;
	pthread_mutex_lock(&c->lock);
	ok = fprintf(f, "floor %" PRId64 "\n", c->floor) > 0;
	for (size_t b = 0; ok && b < c->n_buckets; b++)
		for (struct replay_entry *e = c->buckets[b]; ok && e; e = e->next)
			ok = fprintf(f, "%" PRId64 " %s\n", e->expires_at, e->key) > 0;
	pthread_mutex_unlock(&c->lock);
	ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
	ok = (fclose(f) == 0) && ok;
	if (!ok || rename(tmp, path)) {
		unlink(tmp);
		return DANEMSG_ERR_IO;
	}
	return DANEMSG_OK;
}

danemsg_err danemsg_replay_cache_load(danemsg_replay_cache *c, const char *path)
{
	char line[700];
	FILE *f;
	danemsg_err err = DANEMSG_OK;
	int64_t now = (int64_t)time(NULL);

	if (!c || !path)
		return DANEMSG_ERR_INVALID_ARG;
	f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ? DANEMSG_OK : DANEMSG_ERR_IO;   /* first start */
	pthread_mutex_lock(&c->lock);
	while (!err && fgets(line, sizeof(line), f)) {
		int64_t when;
		int used = 0;
		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "floor %" SCNd64 "%n", &when, &used) == 1 && !line[used]) {
			if (when > c->floor)
				c->floor = when;
		} else if (sscanf(line, "%" SCNd64 " %n", &when, &used) == 1 && used > 0 &&
			   strchr(line + used, ' ')) {
			if (when >= now)
				err = replay_insert(c, line + used, when, now, 0);
		} else {
			err = DANEMSG_ERR_MALFORMED;
		}
	}
	pthread_mutex_unlock(&c->lock);
	fclose(f);
	return err;
}

/* ---- policy ---- */

danemsg_err danemsg_policy_new(danemsg_policy **out)
{
	danemsg_policy *p;
	danemsg_err err;
	if (!out)
		return DANEMSG_ERR_INVALID_ARG;
	p = calloc(1, sizeof(*p));
	if (!p)
		return DANEMSG_ERR_NOMEM;
	p->max_size = 1u << 20;
	p->max_age = 300;
	p->max_skew = 60;
	/* strict by default: the reference format binds no recipient, time or id */
	p->accept_compat = 0;
	err = danemsg_replay_cache_new(100000, &p->own_replay);
	if (err) {
		free(p);
		return err;
	}
	p->replay = danemsg_replay_cache_ops(p->own_replay);
	*out = p;
	return DANEMSG_OK;
}

void danemsg_policy_free(danemsg_policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_allowed; i++)
		free(p->allowed[i]);
	free(p->allowed);
	danemsg_replay_cache_free(p->own_replay);
	free(p);
}

danemsg_err danemsg_policy_allow_sender(danemsg_policy *p, const char *pattern)
{
	char canon[258], **grown;
	const char *name;
	int wildcard;

	if (!p || !pattern)
		return DANEMSG_ERR_INVALID_ARG;
	wildcard = !strncmp(pattern, "*.", 2);
	name = wildcard ? pattern + 2 : pattern;
	if (strchr(name, '*') || identity_canonical_name(name, canon + wildcard, sizeof(canon) - 1))
		return DANEMSG_ERR_INVALID_ARG;
	if (wildcard)
		canon[0] = '.';   /* stored as ".suffix." */
	grown = realloc(p->allowed, (p->n_allowed + 1) * sizeof(*grown));
	if (!grown)
		return DANEMSG_ERR_NOMEM;
	p->allowed = grown;
	if (!(p->allowed[p->n_allowed] = strdup(canon)))
		return DANEMSG_ERR_NOMEM;
	p->n_allowed++;
	return DANEMSG_OK;
}

danemsg_err danemsg_policy_check_sender(const danemsg_policy *p, const char *name)
{
	char canon[258];
	size_t len;
	if (!p || !name || identity_canonical_name(name, canon, sizeof(canon)))
		return DANEMSG_ERR_INVALID_ARG;
	if (!p->n_allowed)
		return DANEMSG_OK;
	len = strlen(canon);
	for (size_t i = 0; i < p->n_allowed; i++) {
		const char *a = p->allowed[i];
		size_t alen = strlen(a);
		if (a[0] != '.' ? !strcmp(a, canon)
				: len > alen && !strcmp(canon + len - alen, a))
			return DANEMSG_OK;
	}
	return DANEMSG_ERR_SENDER_NOT_ALLOWED;
}

danemsg_err danemsg_policy_set_max_size(danemsg_policy *p, size_t bytes)
{
	if (!p || !bytes)
		return DANEMSG_ERR_INVALID_ARG;
	p->max_size = bytes;
	return DANEMSG_OK;
}

danemsg_err danemsg_policy_set_freshness(danemsg_policy *p, uint32_t max_age_s,
					 uint32_t max_skew_s)
{
	if (!p || !max_age_s)
		return DANEMSG_ERR_INVALID_ARG;
	p->max_age = max_age_s;
	p->max_skew = max_skew_s;
	return DANEMSG_OK;
}

danemsg_err danemsg_policy_set_accept_compat(danemsg_policy *p, int accept)
{
	if (!p)
		return DANEMSG_ERR_INVALID_ARG;
	p->accept_compat = accept != 0;
	return DANEMSG_OK;
}

danemsg_err danemsg_policy_set_replay(danemsg_policy *p, danemsg_replay_ops ops)
{
	if (!p)
		return DANEMSG_ERR_INVALID_ARG;
	p->replay = ops;
	return DANEMSG_OK;
}

/* The cache of live public keys: a hash table by record digest with an LRU list. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "keycache.h"

struct key_entry {
	uint8_t digest[32];           /* SHA-256 of the record's data */
	EVP_PKEY *key;
	struct key_entry *hash_next;
	struct key_entry *lru_prev, *lru_next;    /* most recent first */
};

struct keycache {
	int refs;                     /* atomic */
	pthread_mutex_t lock;
	struct key_entry **buckets;
	size_t n_buckets;             /* a power of two */
	size_t n_keys, max_keys;
	struct key_entry *lru_head, *lru_tail;
};

danemsg_err keycache_new(size_t max_keys, struct keycache **out)
{
	struct keycache *kc = calloc(1, sizeof(*kc));

	*out = NULL;
	if (!kc)
		return DANEMSG_ERR_NOMEM;
	kc->max_keys = max_keys ? max_keys : 1;
	kc->n_buckets = 16;
	while (kc->n_buckets < kc->max_keys && kc->n_buckets < (1u << 20))
		kc->n_buckets <<= 1;
	kc->buckets = calloc(kc->n_buckets, sizeof(*kc->buckets));
	if (!kc->buckets || pthread_mutex_init(&kc->lock, NULL)) {
		free(kc->buckets);
		free(kc);
		return DANEMSG_ERR_NOMEM;
	}
	kc->refs = 1;
	*out = kc;
	return DANEMSG_OK;
}

struct keycache *keycache_ref(struct keycache *kc)
{
	if (kc)
		__atomic_add_fetch(&kc->refs, 1, __ATOMIC_RELAXED);
	return kc;
}

void keycache_unref(struct keycache *kc)
{
	if (!kc || __atomic_sub_fetch(&kc->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	for (struct key_entry *e = kc->lru_head, *next; e; e = next) {
		next = e->lru_next;
		EVP_PKEY_free(e->key);
		free(e);
	}
	pthread_mutex_destroy(&kc->lock);
	free(kc->buckets);
	free(kc);
}

/* The digest is SHA-256: its first octets are as good a hash as any. */
static struct key_entry **bucket_of(struct keycache *kc, const uint8_t digest[32])
{
	uint32_t h;

	memcpy(&h, digest, sizeof(h));
	return &kc->buckets[h & (kc->n_buckets - 1)];
}

static void lru_unlink(struct keycache *kc, struct key_entry *e)
{
	if (e->lru_prev)
		e->lru_prev->lru_next = e->lru_next;
	else
		kc->lru_head = e->lru_next;
	if (e->lru_next)
		e->lru_next->lru_prev = e->lru_prev;
	else
		kc->lru_tail = e->lru_prev;
}

static void lru_push_front(struct keycache *kc, struct key_entry *e)
{
	e->lru_prev = NULL;
	e->lru_next = kc->lru_head;
	if (kc->lru_head)
		kc->lru_head->lru_prev = e;
	kc->lru_head = e;
	if (!kc->lru_tail)
		kc->lru_tail = e;
}

/* The entry for digest, made most recently used; NULL if none. Locked. */
static struct key_entry *find_locked(struct keycache *kc, const uint8_t digest[32])
{
	for (struct key_entry *e = *bucket_of(kc, digest); e; e = e->hash_next) {
		if (memcmp(e->digest, digest, sizeof(e->digest)))
			continue;
		if (kc->lru_head != e) {
			lru_unlink(kc, e);
			lru_push_front(kc, e);
		}
		return e;
	}
	return NULL;
}

static void evict_locked(struct keycache *kc)
{
	struct key_entry *e = kc->lru_tail, **p;

	lru_unlink(kc, e);
	for (p = bucket_of(kc, e->digest); *p != e; p = &(*p)->hash_next)
		;
	*p = e->hash_next;
	kc->n_keys--;
	EVP_PKEY_free(e->key);   /* users that hold a reference keep the key alive */
	free(e);
}

/* Keeps key (the cache takes a reference of its own) unless another thread was first. */
static void insert_locked(struct keycache *kc, const uint8_t digest[32], EVP_PKEY *key)
{
	struct key_entry *e;

	if (find_locked(kc, digest) || !(e = calloc(1, sizeof(*e))))
		return;
	if (!EVP_PKEY_up_ref(key)) {
		free(e);
		return;
	}
	if (kc->n_keys >= kc->max_keys)
		evict_locked(kc);
	memcpy(e->digest, digest, sizeof(e->digest));
	e->key = key;
	e->hash_next = *bucket_of(kc, digest);
	*bucket_of(kc, digest) = e;
	lru_push_front(kc, e);
	kc->n_keys++;
}

danemsg_err keycache_get(struct keycache *kc, const danemsg_tlsa *rec, EVP_PKEY **out)
{
	struct key_entry *e;
	danemsg_err err;

	*out = NULL;
	if (!rec->spki_len)
		return DANEMSG_ERR_NOT_FOUND;
	if (!kc)
		return danemsg_tlsa_pkey(rec, out);
	pthread_mutex_lock(&kc->lock);
	e = find_locked(kc, rec->sha256);
	if (e && EVP_PKEY_up_ref(e->key))
		*out = e->key;
	pthread_mutex_unlock(&kc->lock);
	if (*out)
		return DANEMSG_OK;
	/* Parsed outside the lock: other threads' keys need not wait for it. */
	if ((err = danemsg_tlsa_pkey(rec, out)))
		return err;
	pthread_mutex_lock(&kc->lock);
	insert_locked(kc, rec->sha256, *out);
	pthread_mutex_unlock(&kc->lock);
	return DANEMSG_OK;
}

size_t keycache_size(struct keycache *kc)
{
	size_t n;

	if (!kc)
		return 0;
	pthread_mutex_lock(&kc->lock);
	n = kc->n_keys;
	pthread_mutex_unlock(&kc->lock);
	return n;
}

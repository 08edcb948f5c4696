/* Private: a small, bounded cache of live public keys, shared by a resolver's identities. */
#ifndef DANEMSG_KEYCACHE_H
#define DANEMSG_KEYCACHE_H

#include <stddef.h>

#include <danemsg.h>

/*
 * Cached identities keep a record's key as DER (danemsg_tlsa): an EVP_PKEY costs some 2 KB,
 * more than all the rest of a cached sender, and building one from DER costs some
 * microseconds. The senders that are active share this cache of keys, bounded and least
 * recently used first out, so that memory grows with the cache's bound, not with the
 * number of senders, and an active sender's key is built once.
 * Thread-safe; reference-counted, as identities may outlive their resolver.
 */
struct keycache;

/* A cache of at most max_keys keys (at least 1), with one reference. */
danemsg_err keycache_new(size_t max_keys, struct keycache **out);
struct keycache *keycache_ref(struct keycache *kc);
void keycache_unref(struct keycache *kc);

/*
 * The public key rec carries (x 0 0 or x 1 0), as a new reference that is the caller's
 * (EVP_PKEY_free): from the cache (keyed by rec->sha256, the digest of the record's data),
 * else parsed now (danemsg_tlsa_pkey) and kept. kc NULL: parsed now, not kept.
 * DANEMSG_ERR_NOT_FOUND when rec carries no key.
 */
danemsg_err keycache_get(struct keycache *kc, const danemsg_tlsa *rec, EVP_PKEY **out);

/* Keys held now (tests). */
size_t keycache_size(struct keycache *kc);

#endif

/* Receive policy: allow-list, size and freshness limits, and the replay cache. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <danemsg.h>

#include "dname.h"
#include "error_internal.h"
#include "policy_internal.h"
#include "util.h"

/* ---- replay cache: a hash set of (sender, id) with expiry ---- */

struct replay_entry {
	char *key;                 /* "sender id" */
	int64_t expires_at;
	struct replay_entry *next;
};

/* A sender's quota: the expiries of its entries, a slot each (an expired slot is free). */
struct sender_quota {
	struct sender_quota *next;
	int64_t *slots;
	char name[];
};

struct danemsg_replay_cache {
	pthread_mutex_t lock;
	struct replay_entry **buckets;
	size_t n_buckets, count, max_entries;
	int64_t floor;             /* messages expiring at or before this are refused */
	/* danemsg_replay_cache_set_sender_max: at most sender_max live entries a sender */
	struct sender_quota **senders;
	size_t n_sender_buckets, n_senders, sender_max;
};

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

static void senders_free(danemsg_replay_cache *c)
{
	for (size_t b = 0; c->senders && b < c->n_sender_buckets; b++)
		while (c->senders[b]) {
			struct sender_quota *q = c->senders[b];
			c->senders[b] = q->next;
			free(q->slots);
			free(q);
		}
	free(c->senders);
	c->senders = NULL;
	c->n_senders = 0;
}

void danemsg_replay_cache_free(danemsg_replay_cache *c)
{
	if (!c)
		return;
	senders_free(c);
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
			size_t j = util_fnv1a(e->key) & (n - 1);
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
	uint32_t h = util_fnv1a(key);
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

danemsg_err danemsg_replay_cache_set_sender_max(danemsg_replay_cache *c, size_t sender_max)
{
	size_t n = 64;
	if (!c || sender_max > c->max_entries || sender_max > DANEMSG_REPLAY_SENDER_MAX)
		return DANEMSG_ERR_INVALID_ARG;
	while (n < c->max_entries / 4 && n < (1u << 20))
		n *= 2;
	pthread_mutex_lock(&c->lock);
	senders_free(c);
	c->sender_max = sender_max;
	c->n_sender_buckets = n;
	c->senders = sender_max ? calloc(n, sizeof(*c->senders)) : NULL;
	pthread_mutex_unlock(&c->lock);
	return !sender_max || c->senders ? DANEMSG_OK : DANEMSG_ERR_NOMEM;
}

/* Forgets the senders whose slots have all expired. Lock held. */
static void senders_sweep(danemsg_replay_cache *c, int64_t now)
{
	for (size_t b = 0; b < c->n_sender_buckets; b++) {
		struct sender_quota **p = &c->senders[b];
		while (*p) {
			struct sender_quota *q = *p;
			size_t i = 0;
			while (i < c->sender_max && q->slots[i] < now)
				i++;
			if (i < c->sender_max) {
				p = &q->next;
				continue;
			}
			*p = q->next;
			free(q->slots);
			free(q);
			c->n_senders--;
		}
	}
}

/* A free slot of sender's quota (found or made), or NULL: the sender is at its quota
 * (DANEMSG_ERR_TOO_LARGE), or out of memory. Lock held. */
static int64_t *sender_slot(danemsg_replay_cache *c, const char *sender, int64_t now,
			    danemsg_err *err)
{
	struct sender_quota **head = &c->senders[util_fnv1a(sender) & (c->n_sender_buckets - 1)];
	struct sender_quota *q;
	size_t len;

	for (q = *head; q && strcmp(q->name, sender); q = q->next)
		;
	if (q) {
		for (size_t i = 0; i < c->sender_max; i++)
			if (q->slots[i] < now)
				return &q->slots[i];
		*err = DANEMSG_ERR_TOO_LARGE;
		return NULL;
	}
	if (c->n_senders >= c->max_entries)   /* a sender per live entry, at most */
		senders_sweep(c, now);
	*err = DANEMSG_ERR_NOMEM;
	len = strlen(sender);
	if (c->n_senders >= c->max_entries || !(q = calloc(1, sizeof(*q) + len + 1)))
		return NULL;
	if (!(q->slots = malloc(c->sender_max * sizeof(*q->slots)))) {
		free(q);
		return NULL;
	}
	for (size_t i = 0; i < c->sender_max; i++)
		q->slots[i] = INT64_MIN;
	memcpy(q->name, sender, len + 1);
	q->next = *head;
	*head = q;
	c->n_senders++;
	return &q->slots[0];
}

static danemsg_err replay_check_and_add(void *ctx, const char *sender, const char *id,
					int64_t expires_at, int64_t now)
{
	danemsg_replay_cache *c = ctx;
	char key[600];
	int64_t *slot = NULL;
	danemsg_err err = DANEMSG_OK;
	if (snprintf(key, sizeof(key), "%s %s", sender, id) >= (int)sizeof(key))
		return DANEMSG_ERR_MALFORMED;
	pthread_mutex_lock(&c->lock);
	if (!c->sender_max || (slot = sender_slot(c, sender, now, &err)))
		err = replay_insert(c, key, expires_at, now, 1);
	if (!err && slot)
		*slot = expires_at;
	pthread_mutex_unlock(&c->lock);
	return err;
}

danemsg_replay_ops danemsg_replay_cache_ops(danemsg_replay_cache *cache)
{
	danemsg_replay_ops ops = {DANEMSG_REPLAY_OPS_VERSION, cache ? replay_check_and_add : NULL,
				  cache};
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

/*
 * The file: a header line, "floor N", then one "EXPIRY LENGTH KEY" line per entry, the
 * key ("SENDER ID") length-prefixed so that no byte in it can end or split a record.
 * Files of the first version (no header, "EXPIRY KEY" lines) are still read, strictly.
 */
#define REPLAY_HEADER "danemsg-replay 2\n"
#define REPLAY_KEY_MAX 599         /* replay_check_and_add's key buffer */
#define REPLAY_LINE_MAX 700

/* fsync of the folder holding path, so that a rename in it is durable. */
static int sync_parent(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	int fd, rc;
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path),
			  path) >= (int)sizeof(dir))
		return -1;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int replay_cache_write(danemsg_replay_cache *c, FILE *f)
{
	int ok;
	pthread_mutex_lock(&c->lock);
	ok = fputs(REPLAY_HEADER, f) >= 0 && fprintf(f, "floor %" PRId64 "\n", c->floor) > 0;
	for (size_t b = 0; ok && b < c->n_buckets; b++)
		for (struct replay_entry *e = c->buckets[b]; ok && e; e = e->next)
			ok = fprintf(f, "%" PRId64 " %zu %s\n", e->expires_at, strlen(e->key),
				     e->key) > 0;
	pthread_mutex_unlock(&c->lock);
	return ok;
}

/* The failure of one step of writing path: errno's reason in errbuf, the file left alone. */
static danemsg_err save_failed(const char *path, const char *step, char *errbuf,
			       size_t errbuf_len)
{
	return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_IO, "%s: %s: %s", path, step,
			  strerror(errno));
}

danemsg_err danemsg_replay_cache_save(danemsg_replay_cache *c, const char *path, char *errbuf,
				      size_t errbuf_len)
{
	char tmp[4096];
	FILE *f;
	int fd, ok;

	if (!c || !path || snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_INVALID_ARG,
				  "no replay cache, or no path or one too long");
	/* a fresh file of ours: never through a link someone planted, never readable by others */
	if (unlink(tmp) && errno != ENOENT)
		return save_failed(tmp, "cannot remove the stale temporary file", errbuf,
				   errbuf_len);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		danemsg_err err = save_failed(tmp, "cannot create", errbuf, errbuf_len);
		if (fd >= 0)
			close(fd);
		return err;
	}
	ok = replay_cache_write(c, f);
	ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
	ok = (fclose(f) == 0) && ok;
	if (!ok || rename(tmp, path) || sync_parent(path)) {
		danemsg_err err = save_failed(path, !ok ? "cannot write" : "cannot replace",
					      errbuf, errbuf_len);
		unlink(tmp);
		return err;
	}
	return DANEMSG_OK;
}

/* A decimal number without sign or spaces, at most 18 digits, ending at *end. */
static int parse_decimal(const char *p, const char *limit, int64_t *v, const char **end)
{
	int64_t n = 0;
	const char *q = p;
	while (q < limit && *q >= '0' && *q <= '9' && q - p < 18)
		n = n * 10 + (*q++ - '0');
	if (q == p || (q < limit && *q >= '0' && *q <= '9'))
		return -1;
	*v = n;
	*end = q;
	return 0;
}

/* A key as replay_check_and_add makes it: "SENDER ID", no NUL, within the bound. */
static int key_valid(const char *key, size_t len)
{
	const char *space = memchr(key, ' ', len);
	return len <= REPLAY_KEY_MAX && !memchr(key, '\0', len) && space && space > key &&
	       space + 1 < key + len;
}

/* One record at p (before limit): 0 and *next past its '\n', or -1. Lock held. */
static int replay_parse_record(danemsg_replay_cache *c, const char *p, const char *limit,
			       int legacy, int64_t now, const char **next, danemsg_err *err)
{
	char key[REPLAY_KEY_MAX + 1];
	const char *q, *eol = memchr(p, '\n', (size_t)(limit - p));
	int64_t when, len;

	if (!eol || eol - p > REPLAY_LINE_MAX)
		return -1;
	*next = eol + 1;
	if (eol - p > 6 && !memcmp(p, "floor ", 6)) {
		if (parse_decimal(p + 6, eol, &when, &q) || q != eol)
			return -1;
		if (when > c->floor)
			c->floor = when;
		return 0;
	}
	if (parse_decimal(p, eol, &when, &q) || q == eol || *q++ != ' ')
		return -1;
	if (legacy) {
		len = eol - q;   /* the rest of the line; no controls in what the first version
				  * wrote for a well-formed message */
		for (const char *k = q; k < eol; k++)
			if ((unsigned char)*k < 0x20 || *k == 0x7f)
				return -1;
	} else if (parse_decimal(q, limit, &len, &q) || q >= limit || *q++ != ' ' ||
		   len > limit - q - 1 || q[len] != '\n') {
		return -1;
	}
	if (!key_valid(q, (size_t)len))
		return -1;
	*next = q + len + 1;
	memcpy(key, q, (size_t)len);
	key[len] = '\0';
	if (when >= now && when > c->floor)   /* at or below the floor: refused anyway */
		*err = replay_insert(c, key, when, now, 0);
	return 0;
}

danemsg_err replay_cache_parse(danemsg_replay_cache *c, const char *text, size_t len,
			       int64_t now, size_t *bad_line)
{
	const char *p = text, *limit = text + len;
	size_t line = 1;
	int legacy = len < strlen(REPLAY_HEADER) ||
		     memcmp(text, REPLAY_HEADER, strlen(REPLAY_HEADER));
	danemsg_err err = DANEMSG_OK;

	if (bad_line)
		*bad_line = 0;
	if (!legacy) {
		p += strlen(REPLAY_HEADER);
		line++;
	}
	pthread_mutex_lock(&c->lock);
	for (; !err && p < limit; line++)
		if (replay_parse_record(c, p, limit, legacy, now, &p, &err)) {
			err = DANEMSG_ERR_MALFORMED;
			break;
		}
	replay_drop(c, now, c->floor);   /* a floor read after the entries below it */
	pthread_mutex_unlock(&c->lock);
	if (err && bad_line)
		*bad_line = line;
	return err;
}

/* The file's bytes, at most max: 0, or an error that errbuf explains (ENOENT:
 * DANEMSG_ERR_NOT_FOUND). */
static danemsg_err read_state_file(const char *path, size_t max, char **out, size_t *len,
				   char *errbuf, size_t errbuf_len)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
	danemsg_err err = fd < 0 && errno == ENOENT ? DANEMSG_ERR_NOT_FOUND : DANEMSG_ERR_IO;
	struct stat st;
	char *buf = NULL;

	*out = NULL;
	if (!f) {
		/* O_NOFOLLOW on a symbolic link: ELOOP, "too many levels of symbolic links" */
		err = errbuf_set(errbuf, errbuf_len, err, "%s: cannot open: %s", path,
				 errno == ELOOP ? "a symbolic link (refused)" : strerror(errno));
		if (fd >= 0)
			close(fd);
		return err;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		err = errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_IO, "%s: not a regular file",
				 path);
	else if ((*len = (size_t)st.st_size) > max)
		err = errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_TOO_LARGE, "%s: %zu bytes, over "
				 "the %zu that a cache of this size can need", path, *len, max);
	else if (!(buf = malloc(*len + 1)))
		err = errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_NOMEM, "%s: %s", path,
				 danemsg_strerror(DANEMSG_ERR_NOMEM));
	else if (fread(buf, 1, *len, f) != *len)
		err = errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_IO, "%s: cannot read: %s", path,
				 ferror(f) ? strerror(errno) : "the file shrank");
	else
		err = DANEMSG_OK;
	fclose(f);
	if (err)
		free(buf);
	else
		*out = buf;
	return err;
}

danemsg_err danemsg_replay_cache_load(danemsg_replay_cache *c, const char *path,
				      size_t *bad_line, char *errbuf, size_t errbuf_len)
{
	char *text;
	size_t len, line = 0;
	danemsg_err err;

	if (bad_line)
		*bad_line = 0;
	if (!c || !path)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_INVALID_ARG,
				  "no replay cache or no path");
	err = read_state_file(path, 64 + c->max_entries * (REPLAY_LINE_MAX + 1), &text, &len,
			      errbuf, errbuf_len);
	if (err == DANEMSG_ERR_NOT_FOUND) {
		if (errbuf && errbuf_len)
			errbuf[0] = '\0';
		return DANEMSG_OK;   /* first start */
	}
	if (err)
		return err;
	err = replay_cache_parse(c, text, len, (int64_t)time(NULL), &line);
	free(text);
	if (bad_line)
		*bad_line = line;
	if (err == DANEMSG_ERR_MALFORMED)
		return errbuf_set(errbuf, errbuf_len, err,
				  "%s: line %zu: not a replay cache record", path, line);
	if (err)
		return errbuf_set(errbuf, errbuf_len, err, "%s: %s", path, danemsg_strerror(err));
	return DANEMSG_OK;
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
	if (dname_canonical(name, canon + wildcard, sizeof(canon) - 1))
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
	if (!p || !name || dname_canonical(name, canon, sizeof(canon)))
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

danemsg_err replay_ops_check(const danemsg_replay_ops *ops, char *errbuf, size_t errbuf_len)
{
	if (ops->version != DANEMSG_REPLAY_OPS_VERSION)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_UNSUPPORTED, "replay cache "
				  "operations of version %d: this library knows version %d",
				  ops->version, DANEMSG_REPLAY_OPS_VERSION);
	return DANEMSG_OK;
}

danemsg_err danemsg_policy_set_replay(danemsg_policy *p, danemsg_replay_ops ops)
{
	danemsg_err err;
	if (!p)
		return DANEMSG_ERR_INVALID_ARG;
	if ((err = replay_ops_check(&ops, NULL, 0)))
		return err;
	p->replay = ops;
	return DANEMSG_OK;
}

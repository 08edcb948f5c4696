/* The listener's spool: one durable file per message received, a quarantine, and the
 * bounded index the workers take entries from (docs/messaging.md). */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "spool.h"
#include "util.h"

#define MSG_SUFFIX ".msg"
#define REASON_SUFFIX ".reason"
#define TMP_PREFIX ".tmp."

#define RECOUNT_NS (5 * 1000000000LL)   /* `danemsg quarantine` may have made room */

struct spool {
	int dir_fd, spool_fd, quarantine_fd, lock_fd;
	size_t quarantine_max;
	uint64_t quarantine_max_bytes;
	pthread_mutex_t qlock;     /* the quarantine's usage */
	size_t quarantined;
	uint64_t quarantine_bytes;
	int64_t counted_ns;
};

int64_t spool_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t spool_real_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- names ---- */

void spool_name(const uint8_t sha256[32], int mid, char name[SPOOL_NAME_MAX])
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < 32; i++) {
		name[2 * i] = digits[sha256[i] >> 4];
		name[2 * i + 1] = digits[sha256[i] & 15];
	}
	if (mid == SPOOL_MID_RETAINED)
		snprintf(name + 64, SPOOL_NAME_MAX - 64, ".r");
	else
		snprintf(name + 64, SPOOL_NAME_MAX - 64, ".%d", mid);
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int spool_name_parse(const char *name, uint8_t sha256[32], int *mid)
{
	char *end;
	long v;
	for (size_t i = 0; i < 32; i++) {
		int hi = hex_value(name[2 * i]), lo = hi < 0 ? -1 : hex_value(name[2 * i + 1]);
		if (lo < 0)
			return -1;
		sha256[i] = (uint8_t)(hi << 4 | lo);
	}
	if (name[64] != '.')
		return -1;
	if (!strcmp(name + 65, "r")) {
		*mid = SPOOL_MID_RETAINED;
		return 0;
	}
	if (name[65] < '0' || name[65] > '9')
		return -1;
	v = strtol(name + 65, &end, 10);
	if (*end || v < 0 || v > 65535)
		return -1;
	*mid = (int)v;
	return 0;
}

/* ---- files ---- */

/* dir_fd/name = data, atomically and durably: a crash leaves the old state or the new. */
static int write_durable(int dir_fd, const char *name, const void *data, size_t len)
{
	char tmp[SPOOL_NAME_MAX + 32];
	int fd, saved;

	snprintf(tmp, sizeof(tmp), TMP_PREFIX "%s", name);
	fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	if (util_write_all(fd, data, len) || fsync(fd)) {
		saved = errno;
		close(fd);
		unlinkat(dir_fd, tmp, 0);
		errno = saved;
		return -1;
	}
	if (close(fd) || renameat(dir_fd, tmp, dir_fd, name) || fsync(dir_fd)) {
		saved = errno;
		unlinkat(dir_fd, tmp, 0);
		errno = saved;
		return -1;
	}
	return 0;
}

static int mkdir_p(const char *path)
{
	char buf[4096];
	size_t len = strlen(path);
	if (len >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(buf, 0700) && errno != EEXIST ? -1 : 0;
}

static int open_subdir(int dir_fd, const char *name)
{
	if (mkdirat(dir_fd, name, 0700) && errno != EEXIST)
		return -1;
	return openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
}

/* Counts the files in dir_fd ending in suffix and the bytes of all files; with
 * remove_tmp, removes the temporary files a crash left. */
static size_t sweep(int dir_fd, const char *suffix, int remove_tmp, uint64_t *bytes)
{
	int fd = dup(dir_fd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	size_t count = 0, slen = strlen(suffix);
	struct stat st;

	if (bytes)
		*bytes = 0;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (!strncmp(e->d_name, TMP_PREFIX, strlen(TMP_PREFIX))) {
			if (remove_tmp)
				unlinkat(dir_fd, e->d_name, 0);
			continue;
		}
		if (len > slen && !strcmp(e->d_name + len - slen, suffix))
			count++;
		if (bytes && !fstatat(dir_fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) &&
		    S_ISREG(st.st_mode))
			*bytes += (uint64_t)st.st_size;
	}
	closedir(d);
	return count;
}

/* Can someone other than us (or root) replace what is in this folder? Sticky folders
 * (/tmp) let others add entries but not replace ours. */
static int writable_by_others(const struct stat *st)
{
	return (st->st_uid != geteuid() && st->st_uid != 0) ||
	       ((st->st_mode & 022) && !(st->st_mode & S_ISVTX));
}

/*
 * As ssh does for its files: the state folder (opened as dir_fd) and its spool and
 * quarantine must be ours and writable by nobody else, and no folder above it writable
 * by others, or they could plant links or files that the listener would write through
 * or read back. 0, or -1 with why.
 */
static int state_folder_safe(const char *dir, const int *fds, size_t n, char *why,
			     size_t whylen)
{
	char path[PATH_MAX], *slash;
	struct stat st;

	static const char *const names[] = {"", "/spool", "/quarantine"};
	for (size_t i = 0; i < n; i++)
		if (fstat(fds[i], &st) || st.st_uid != geteuid() || (st.st_mode & 022)) {
			snprintf(why, whylen, "%s%s is %s: refused (chmod go-w, or choose another "
				 "--state)", dir, names[i % 3], st.st_uid != geteuid() ?
				 "not owned by this user" : "writable by others");
			return -1;
		}
	if (!realpath(dir, path)) {
		snprintf(why, whylen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	while ((slash = strrchr(path, '/')) && slash != path) {
		*slash = '\0';
		if (lstat(path, &st) || writable_by_others(&st)) {
			snprintf(why, whylen, "%s is in %s, which others can write: refused", dir,
				 path);
			return -1;
		}
	}
	return 0;
}

/* The folders opened in s must be safe (state_folder_safe): 0, or -1 with s closed. */
static int refuse_unsafe(struct spool *s, const char *dir)
{
	char why[PATH_MAX + 200];

	if (!state_folder_safe(dir, (int[]){s->dir_fd, s->spool_fd, s->quarantine_fd}, 3, why,
			       sizeof(why)))
		return 0;
	cli_error("state folder %s", why);
	spool_close(s);
	return -1;
}

static struct spool *spool_alloc(void)
{
	struct spool *s = calloc(1, sizeof(*s));
	if (!s) {
		cli_error("out of memory");
		return NULL;
	}
	s->dir_fd = s->spool_fd = s->quarantine_fd = s->lock_fd = -1;
	pthread_mutex_init(&s->qlock, NULL);
	return s;
}

int spool_open(const char *dir, size_t quarantine_max, uint64_t quarantine_max_bytes,
	       struct spool **out)
{
	struct spool *s = spool_alloc();

	*out = NULL;
	if (!s)
		return EXIT_FAILURE_;
	s->quarantine_max = quarantine_max;
	s->quarantine_max_bytes = quarantine_max_bytes;
	if (mkdir_p(dir) ||
	    (s->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    (s->spool_fd = open_subdir(s->dir_fd, "spool")) < 0 ||
	    (s->quarantine_fd = open_subdir(s->dir_fd, "quarantine")) < 0 ||
	    (s->lock_fd = openat(s->dir_fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
				 0600)) < 0) {
		cli_error("state folder %s: %s", dir, strerror(errno));
		spool_close(s);
		return EXIT_FAILURE_;
	}
	if (refuse_unsafe(s, dir))
		return EXIT_FAILURE_;
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB)) {
		cli_error("state folder %s is in use by another listener (%s)", dir,
			  strerror(errno));
		spool_close(s);
		return EXIT_FAILURE_;
	}
	sweep(s->spool_fd, MSG_SUFFIX, 1, NULL);
	s->quarantined = sweep(s->quarantine_fd, REASON_SUFFIX, 1, &s->quarantine_bytes);
	s->counted_ns = spool_mono_ns();
	*out = s;
	return EXIT_OK_;
}

int spool_state_dir(const char *identity_dir, const char *name, char *out, size_t len)
{
	return cli_identity_state_path(identity_dir, name, "listen", out, len);
}

int spool_open_unlocked(const char *dir, int *locked, struct spool **out)
{
	struct spool *s = spool_alloc();

	*out = NULL;
	if (!s)
		return EXIT_FAILURE_;
	if ((s->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    (s->spool_fd = openat(s->dir_fd, "spool",
				  O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)) < 0 ||
	    (s->quarantine_fd = openat(s->dir_fd, "quarantine",
				       O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		cli_error("state folder %s: %s", dir, strerror(errno));
		spool_close(s);
		return EXIT_FAILURE_;
	}
	if (refuse_unsafe(s, dir))
		return EXIT_FAILURE_;
	s->lock_fd = openat(s->dir_fd, "lock", O_RDWR | O_CLOEXEC);
	*locked = s->lock_fd >= 0 && flock(s->lock_fd, LOCK_SH | LOCK_NB) && errno == EWOULDBLOCK;
	*out = s;
	return EXIT_OK_;
}

int spool_quarantine_fd(const struct spool *s)
{
	return s->quarantine_fd;
}

int spool_spool_fd(const struct spool *s)
{
	return s->spool_fd;
}

void spool_close(struct spool *s)
{
	if (!s)
		return;
	int fds[] = {s->dir_fd, s->spool_fd, s->quarantine_fd, s->lock_fd};
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	pthread_mutex_destroy(&s->qlock);
	free(s);
}

static void file_name(char *buf, size_t len, const char *name, const char *suffix)
{
	snprintf(buf, len, "%s%s", name, suffix);
}

static int write_msg(int dir_fd, const char *name, const void *data, size_t len)
{
	char file[SPOOL_NAME_MAX + 16];
	file_name(file, sizeof(file), name, MSG_SUFFIX);
	return write_durable(dir_fd, file, data, len);
}

int spool_store(struct spool *s, const char *name, const void *data, size_t len)
{
	return write_msg(s->spool_fd, name, data, len);
}

static int exists_at(int dir_fd, const char *name, const char *suffix)
{
	char file[SPOOL_NAME_MAX + 16];
	struct stat st;
	file_name(file, sizeof(file), name, suffix);
	return fstatat(dir_fd, file, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

int spool_has(struct spool *s, const char *name)
{
	return exists_at(s->spool_fd, name, MSG_SUFFIX);
}

int spool_in_quarantine(struct spool *s, const char *name)
{
	return exists_at(s->quarantine_fd, name, REASON_SUFFIX);
}

int spool_read(struct spool *s, const char *name, size_t max, uint8_t **data, size_t *len,
	       int64_t *received_ns)
{
	char file[SPOOL_NAME_MAX + 16];
	struct stat st;
	uint8_t *buf;
	size_t got = 0;
	int fd, saved;

	*data = NULL;
	*len = 0;
	file_name(file, sizeof(file), name, MSG_SUFFIX);
	fd = openat(s->spool_fd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	errno = 0;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		saved = errno ? errno : EINVAL;
		close(fd);
		errno = saved;
		return -1;
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		errno = E2BIG;
		return -1;
	}
	buf = malloc((size_t)st.st_size + 1);
	while (buf && got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	saved = errno;
	close(fd);
	if (!buf || got != (size_t)st.st_size) {
		free(buf);
		errno = buf ? (saved ? saved : EIO) : ENOMEM;
		return -1;
	}
	buf[got] = '\0';
	*data = buf;
	*len = got;
	*received_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	return 0;
}

void spool_remove(struct spool *s, const char *name)
{
	char file[SPOOL_NAME_MAX + 16];
	file_name(file, sizeof(file), name, MSG_SUFFIX);
	unlinkat(s->spool_fd, file, 0);
}

static void utc_text(int64_t ns, char out[32])
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void spool_escape(const void *data, size_t len, char *out, size_t outlen)
{
	static const char digits[] = "0123456789abcdef";
	const uint8_t *p = data;
	size_t o = 0;

	if (!outlen)
		return;
	for (size_t i = 0; i < len; i++) {
		int plain = p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\';
		if (o + (plain ? 1 : 4) >= outlen)
			break;
		if (plain) {
			out[o++] = (char)p[i];
			continue;
		}
		out[o++] = '\\';
		out[o++] = 'x';
		out[o++] = digits[p[i] >> 4];
		out[o++] = digits[p[i] & 15];
	}
	out[o] = '\0';
}

/* The reason file's text, one "key: value" per line, every value escaped. */
static int reason_text(char *text, size_t len, const char *reason, const char *detail,
		       size_t size, int64_t received_ns, const void *data, int kept)
{
	char r[sizeof(((struct spool_reason *)0)->reason)];
	char d[sizeof(((struct spool_reason *)0)->detail)];
	char head[sizeof(((struct spool_reason *)0)->head)] = "", received[32], now[32];
	int n;

	spool_escape(reason, strlen(reason), r, sizeof(r));
	spool_escape(detail, strlen(detail), d, sizeof(d));
	if (data)
		spool_escape(data, size < SPOOL_HEAD_BYTES ? size : SPOOL_HEAD_BYTES, head,
			     sizeof(head));
	utc_text(received_ns, received);
	utc_text(spool_real_ns(), now);
	n = snprintf(text, len, "reason: %s\ndetail: %s\nsize: %zu\nreceived: %s\n"
		     "quarantined: %s\npayload: %s\nhead: %s\n", r, d, size, received, now,
		     kept ? "kept" : "dropped", head);
	return n < 0 || (size_t)n >= len ? (int)len - 1 : n;
}

static int move_to_quarantine(struct spool *s, const char *name)
{
	char file[SPOOL_NAME_MAX + 16];
	file_name(file, sizeof(file), name, MSG_SUFFIX);
	return renameat(s->spool_fd, file, s->quarantine_fd, file) || fsync(s->quarantine_fd)
		       ? -1 : 0;
}

/* Whether one more entry of bytes fits; recounts (the operator may have purged) when it
 * seems not to, at most every RECOUNT_NS. Lock held. */
static int quarantine_fits_locked(struct spool *s, uint64_t bytes, int entry)
{
	int fits = (!entry || s->quarantined < s->quarantine_max) &&
		   s->quarantine_bytes + bytes <= s->quarantine_max_bytes;
	if (!fits && spool_mono_ns() - s->counted_ns > RECOUNT_NS) {
		s->quarantined = sweep(s->quarantine_fd, REASON_SUFFIX, 0, &s->quarantine_bytes);
		s->counted_ns = spool_mono_ns();
		fits = (!entry || s->quarantined < s->quarantine_max) &&
		       s->quarantine_bytes + bytes <= s->quarantine_max_bytes;
	}
	return fits;
}

int spool_quarantine(struct spool *s, const char *name, int from_spool, const void *data,
		     size_t size, int64_t received_ns, const char *reason, const char *detail)
{
	char file[SPOOL_NAME_MAX + 16], text[2048];
	int n, rc = -1, keep, result;

	if (!received_ns)
		received_ns = spool_real_ns();
	n = reason_text(text, sizeof(text), reason, detail, size, received_ns, data, 1);
	pthread_mutex_lock(&s->qlock);
	if (!quarantine_fits_locked(s, (uint64_t)n, 1)) {
		if (from_spool)
			spool_remove(s, name);
		pthread_mutex_unlock(&s->qlock);
		return SPOOL_Q_FULL;
	}
	keep = (from_spool || data) && quarantine_fits_locked(s, (uint64_t)n + size, 1);
	if (!keep)
		n = reason_text(text, sizeof(text), reason, detail, size, received_ns, data, 0);
	/* the reason first: a crash leaves at worst a reason without its message, never a
	 * message that nobody can tell the story of */
	file_name(file, sizeof(file), name, REASON_SUFFIX);
	if (write_durable(s->quarantine_fd, file, text, (size_t)n))
		goto out;
	if (keep && (from_spool ? move_to_quarantine(s, name)
				: write_msg(s->quarantine_fd, name, data, size))) {
		int saved = errno;
		unlinkat(s->quarantine_fd, file, 0);
		errno = saved;
		goto out;
	}
	if (!keep && from_spool)
		spool_remove(s, name);
	s->quarantined++;
	s->quarantine_bytes += (uint64_t)n + (keep ? size : 0);
	rc = 0;
out:
	result = keep || !(from_spool || data) ? SPOOL_Q_KEPT : SPOOL_Q_HEAD_ONLY;
	pthread_mutex_unlock(&s->qlock);
	return rc ? -1 : result;
}

/* Copies the value after "key: " into out (outlen bytes, cut) when line is that key. */
static int reason_field(const char *line, size_t len, const char *key, char *out,
			size_t outlen)
{
	size_t klen = strlen(key), vlen;
	if (len < klen + 2 || memcmp(line, key, klen) || line[klen] != ':' || line[klen + 1] != ' ')
		return 0;
	vlen = len - klen - 2;
	if (vlen >= outlen)
		vlen = outlen - 1;
	for (size_t i = 0; i < vlen; i++)   /* written escaped: anything else was edited */
		out[i] = line[klen + 2 + i] >= 0x20 && line[klen + 2 + i] < 0x7f
				 ? line[klen + 2 + i] : '?';
	out[vlen] = '\0';
	return 1;
}

int spool_reason_parse(const char *text, size_t len, struct spool_reason *out)
{
	const char *p = text, *end = text + len;
	char size[24] = "", payload[16] = "";
	int has_reason = 0;

	memset(out, 0, sizeof(*out));
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = (size_t)((nl ? nl : end) - p);
		has_reason |= reason_field(p, l, "reason", out->reason, sizeof(out->reason));
		reason_field(p, l, "detail", out->detail, sizeof(out->detail));
		reason_field(p, l, "head", out->head, sizeof(out->head));
		reason_field(p, l, "received", out->received, sizeof(out->received));
		reason_field(p, l, "quarantined", out->quarantined, sizeof(out->quarantined));
		reason_field(p, l, "size", size, sizeof(size));
		reason_field(p, l, "payload", payload, sizeof(payload));
		p += l + 1;
	}
	out->size = strtoull(size, NULL, 10);
	out->payload_kept = strcmp(payload, "dropped") != 0;
	return has_reason ? 0 : -1;
}

/* ---- the index ---- */

struct slot {
	struct spool_item item;
	int used, busy;
	int32_t next;              /* bucket chain, or free list */
};

#define RESCAN_NS (5 * 1000000000LL)   /* look for entries put back by hand this often */

struct spool_queue {
	struct spool *s;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct slot *slots;        /* cap + retry_cap */
	int32_t *fresh, *retries;  /* heaps of slots ready to take: new by arrival, retries
				    * by when they are due */
	size_t n_fresh, n_retries;
	size_t cap, retry_cap, n_slots;
	size_t count, retrying;    /* count: new entries; retrying: waiting for a retry */
	int32_t *heads, free_head;
	size_t n_buckets;
	int overflow;              /* some entries on disk may not be indexed */
	int64_t scanned_ns;
};

int spool_queue_new(struct spool *s, size_t cap, size_t retry_cap, struct spool_queue **out)
{
	struct spool_queue *q = calloc(1, sizeof(*q));
	pthread_condattr_t attr;

	*out = NULL;
	if (!q)
		return -1;
	pthread_mutex_init(&q->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cond, &attr);
	pthread_condattr_destroy(&attr);
	q->s = s;
	q->cap = cap;
	q->retry_cap = retry_cap;
	q->n_slots = cap + retry_cap;
	q->n_buckets = 64;
	while (q->n_buckets < 2 * q->n_slots)
		q->n_buckets <<= 1;
	q->slots = calloc(q->n_slots, sizeof(*q->slots));
	q->heads = malloc(q->n_buckets * sizeof(*q->heads));
	q->fresh = malloc(q->n_slots * sizeof(*q->fresh));
	q->retries = malloc(q->n_slots * sizeof(*q->retries));
	if (!q->slots || !q->heads || !q->fresh || !q->retries) {
		spool_queue_free(q);
		return -1;
	}
	for (size_t i = 0; i < q->n_buckets; i++)
		q->heads[i] = -1;
	for (size_t i = 0; i < q->n_slots; i++)
		q->slots[i].next = i + 1 < q->n_slots ? (int32_t)(i + 1) : -1;
	q->free_head = 0;
	q->overflow = 1;   /* the spool may hold entries from before: scan first */
	*out = q;
	return 0;
}

void spool_queue_free(struct spool_queue *q)
{
	if (!q)
		return;
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->cond);
	free(q->slots);
	free(q->heads);
	free(q->fresh);
	free(q->retries);
	free(q);
}

/* A file a scan found: when it arrived. */
struct candidate {
	int64_t t;
	char name[SPOOL_NAME_MAX];
};

/* A binary heap of n elements of size bytes (at most sizeof(struct candidate)): less(ctx,
 * a, b) puts a nearer the top. */
typedef int (*heap_less)(const void *ctx, const void *a, const void *b);

static void heap_swap(void *a, void *b, size_t size)
{
	unsigned char tmp[sizeof(struct candidate)];
	memcpy(tmp, a, size);
	memcpy(a, b, size);
	memcpy(b, tmp, size);
}

static void heap_down(void *base, size_t n, size_t size, size_t i, heap_less less,
		      const void *ctx)
{
	unsigned char *h = base;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < n && less(ctx, h + l * size, h + m * size))
			m = l;
		if (r < n && less(ctx, h + r * size, h + m * size))
			m = r;
		if (m == i)
			return;
		heap_swap(h + i * size, h + m * size, size);
		i = m;
	}
}

static void heap_up(void *base, size_t size, size_t i, heap_less less, const void *ctx)
{
	unsigned char *h = base;
	while (i > 0 && less(ctx, h + i * size, h + (i - 1) / 2 * size)) {
		heap_swap(h + i * size, h + (i - 1) / 2 * size, size);
		i = (i - 1) / 2;
	}
}

/* The scan keeps the oldest files: the newest of them on top, to be replaced. */
static int newer(const void *ctx, const void *a, const void *b)
{
	(void)ctx;
	return ((const struct candidate *)a)->t > ((const struct candidate *)b)->t;
}

/* New entries: oldest first (then by name, for a stable order). */
static int arrived_first(const void *ctx, const void *a, const void *b)
{
	const struct spool_queue *q = ctx;
	const struct spool_item *x = &q->slots[*(const int32_t *)a].item;
	const struct spool_item *y = &q->slots[*(const int32_t *)b].item;
	if (x->received_ns != y->received_ns)
		return x->received_ns < y->received_ns;
	return strcmp(x->name, y->name) < 0;
}

/* Retries: the one due first. */
static int due_first(const void *ctx, const void *a, const void *b)
{
	const struct spool_queue *q = ctx;
	const struct spool_item *x = &q->slots[*(const int32_t *)a].item;
	const struct spool_item *y = &q->slots[*(const int32_t *)b].item;
	if (x->not_before_ns != y->not_before_ns)
		return x->not_before_ns < y->not_before_ns;
	return x->received_ns < y->received_ns;
}

/* Slot i is ready to be taken (again): into the heap of its kind. Lock held. */
static void push_ready_locked(struct spool_queue *q, int32_t i)
{
	if (q->slots[i].item.attempts) {
		q->retries[q->n_retries] = i;
		heap_up(q->retries, sizeof(int32_t), q->n_retries++, due_first, q);
	} else {
		q->fresh[q->n_fresh] = i;
		heap_up(q->fresh, sizeof(int32_t), q->n_fresh++, arrived_first, q);
	}
}

static int32_t pop_locked(struct spool_queue *q, int32_t *heap, size_t *n, heap_less less)
{
	int32_t top = heap[0];
	heap[0] = heap[--*n];
	heap_down(heap, *n, sizeof(int32_t), 0, less, q);
	return top;
}

static int32_t find_locked(struct spool_queue *q, const char *name)
{
	int32_t i = q->heads[util_fnv1a(name) & (q->n_buckets - 1)];
	while (i >= 0 && strcmp(q->slots[i].item.name, name))
		i = q->slots[i].next;
	return i;
}

static void insert_locked(struct spool_queue *q, const char *name, int64_t received_ns)
{
	int32_t i = q->free_head, *head = &q->heads[util_fnv1a(name) & (q->n_buckets - 1)];
	struct slot *sl = &q->slots[i];
	q->free_head = sl->next;
	memset(sl, 0, sizeof(*sl));
	snprintf(sl->item.name, sizeof(sl->item.name), "%s", name);
	sl->item.received_ns = received_ns;
	sl->used = 1;
	sl->next = *head;
	*head = i;
	q->count++;
	push_ready_locked(q, i);
}

static void remove_locked(struct spool_queue *q, int32_t i)
{
	int32_t *p = &q->heads[util_fnv1a(q->slots[i].item.name) & (q->n_buckets - 1)];
	while (*p != i)
		p = &q->slots[*p].next;
	*p = q->slots[i].next;
	q->slots[i].used = 0;
	q->slots[i].next = q->free_head;
	q->free_head = i;
	if (q->slots[i].item.attempts)
		q->retrying--;
	else
		q->count--;
}

int spool_queue_add(struct spool_queue *q, const char *name, int64_t received_ns)
{
	int rc = 0;
	pthread_mutex_lock(&q->lock);
	if (find_locked(q, name) >= 0) {
		rc = 1;
	} else if (q->overflow || q->count == q->cap) {
		q->overflow = 1;
		rc = -1;
	} else {
		insert_locked(q, name, received_ns);
	}
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
	return rc;
}

/* Indexes the oldest files on disk that are not indexed yet, as many as there is room;
 * returns how many. */
static size_t scan_locked(struct spool_queue *q)
{
	size_t room = q->cap - q->count, n = 0, slen = strlen(MSG_SUFFIX);
	struct candidate *heap = malloc(room * sizeof(*heap));
	int fd = dup(q->s->spool_fd), more = 0;
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;

	if (!heap || !d) {
		free(heap);
		if (d)
			closedir(d);
		else if (fd >= 0)
			close(fd);
		return 0;   /* overflow stays set: tried again later */
	}
	rewinddir(d);
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		char base[SPOOL_NAME_MAX];
		uint8_t sha[32];
		struct stat st;
		int mid;
		int64_t t;

		if (len <= slen || len - slen >= sizeof(base) ||
		    strcmp(e->d_name + len - slen, MSG_SUFFIX))
			continue;
		memcpy(base, e->d_name, len - slen);
		base[len - slen] = '\0';
		if (spool_name_parse(base, sha, &mid) || find_locked(q, base) >= 0 ||
		    fstatat(q->s->spool_fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
		    !S_ISREG(st.st_mode))
			continue;
		t = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
		if (n < room) {
			heap[n].t = t;
			snprintf(heap[n].name, sizeof(heap[n].name), "%s", base);
			heap_up(heap, sizeof(*heap), n++, newer, NULL);
		} else {
			more = 1;
			if (n && t < heap[0].t) {
				heap[0].t = t;
				snprintf(heap[0].name, sizeof(heap[0].name), "%s", base);
				heap_down(heap, n, sizeof(*heap), 0, newer, NULL);
			}
		}
	}
	closedir(d);
	for (size_t i = 0; i < n; i++)
		insert_locked(q, heap[i].name, heap[i].t);
	q->overflow = more;
	q->scanned_ns = spool_mono_ns();
	free(heap);
	return n;
}

int spool_queue_take(struct spool_queue *q, struct spool_item *item, atomic_int *stop)
{
	pthread_mutex_lock(&q->lock);
	for (;;) {
		int64_t now = spool_mono_ns(), wait = 1000000000;
		int32_t best = -1;
		struct timespec until;

		if (atomic_load(stop)) {
			pthread_mutex_unlock(&q->lock);
			return 0;
		}
		if (!q->overflow && now - q->scanned_ns > RESCAN_NS)
			q->overflow = 1;
		/* new entries on disk come before retries in memory */
		if (!q->n_fresh && q->overflow && q->count < q->cap && scan_locked(q) > 0)
			continue;
		if (q->n_fresh)
			best = pop_locked(q, q->fresh, &q->n_fresh, arrived_first);
		else if (q->n_retries && q->slots[q->retries[0]].item.not_before_ns <= now)
			best = pop_locked(q, q->retries, &q->n_retries, due_first);
		else if (q->n_retries)
			wait = q->slots[q->retries[0]].item.not_before_ns - now;
		if (best >= 0) {
			q->slots[best].busy = 1;
			*item = q->slots[best].item;
			pthread_mutex_unlock(&q->lock);
			return 1;
		}
		if (wait > 1000000000)
			wait = 1000000000;
		now += wait;
		until.tv_sec = now / 1000000000;
		until.tv_nsec = now % 1000000000;
		pthread_cond_timedwait(&q->cond, &q->lock, &until);
	}
}

void spool_queue_done(struct spool_queue *q, const char *name)
{
	int32_t i;
	pthread_mutex_lock(&q->lock);
	if ((i = find_locked(q, name)) >= 0)
		remove_locked(q, i);
	pthread_mutex_unlock(&q->lock);
}

int spool_queue_retry(struct spool_queue *q, const struct spool_item *item, int64_t delay_ns)
{
	int32_t i;
	int rc = 0;
	pthread_mutex_lock(&q->lock);
	if ((i = find_locked(q, item->name)) >= 0) {
		struct slot *sl = &q->slots[i];
		int was_retry = sl->item.attempts != 0, is_retry = item->attempts != 0;
		if (is_retry && !was_retry && q->retrying == q->retry_cap) {
			rc = -1;
		} else {
			if (is_retry && !was_retry) {
				q->count--;
				q->retrying++;
			} else if (!is_retry && was_retry) {
				q->retrying--;
				q->count++;
			}
			sl->item = *item;   /* attempts, claim, last error */
			sl->item.not_before_ns = spool_mono_ns() + delay_ns;
			sl->busy = 0;
			push_ready_locked(q, i);
		}
	}
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	return rc;
}

void spool_queue_counts(struct spool_queue *q, size_t *fresh, size_t *retrying)
{
	pthread_mutex_lock(&q->lock);
	*fresh = q->count;
	*retrying = q->retrying;
	pthread_mutex_unlock(&q->lock);
}

void spool_queue_wake(struct spool_queue *q)
{
	pthread_mutex_lock(&q->lock);
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

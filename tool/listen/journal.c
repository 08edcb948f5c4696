/* The delivery journal ("EXPIRY SENDER ID SHA256 MID KEEP_UNTIL" lines) and the set of
 * delivered payloads it gives. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "journal.h"

#define LINE_MAX_LEN 2048
#define COMPACT_EVERY 10000
#define PENDING_MAX (1u << 20)   /* about 5,000 records kept in memory while the disk is full */

struct delivered {
	uint8_t sha256[32];
	int32_t mid, next;
	int64_t keep_until;
};

struct journal {
	pthread_mutex_t lock;
	char *path;
	int fd;                    /* O_APPEND */
	off_t size;                /* bytes of whole records: where a failed append is cut back */
	int torn;                  /* the file ends in part of a record until cut back */
	char *pending;             /* records not written yet (disk full): written first next
				    * time, so that nothing is lost once there is room again */
	size_t pending_len;
	size_t appended, kept;     /* lines appended since the last compaction, lines kept */
	/* the delivered payloads: a ring in arrival order, with hash chains */
	struct delivered *ring;
	int32_t *heads;
	size_t cap, first, n, n_buckets;
};

static int flush_pending(struct journal *j);

/* ---- the set of delivered payloads ---- */

static size_t bucket_of(const struct journal *j, const uint8_t sha[32])
{
	uint32_t h;
	memcpy(&h, sha, sizeof(h));
	return h & (j->n_buckets - 1);
}

static void set_forget_oldest(struct journal *j)
{
	int32_t i = (int32_t)j->first, *p = &j->heads[bucket_of(j, j->ring[i].sha256)];
	while (*p != i)
		p = &j->ring[*p].next;
	*p = j->ring[i].next;
	j->first = (j->first + 1) % j->cap;
	j->n--;
}

static void set_add(struct journal *j, const uint8_t sha[32], int mid, int64_t keep_until)
{
	size_t i, b;
	if (j->n == j->cap)
		set_forget_oldest(j);
	i = (j->first + j->n) % j->cap;
	b = bucket_of(j, sha);
	memcpy(j->ring[i].sha256, sha, 32);
	j->ring[i].mid = mid;
	j->ring[i].keep_until = keep_until;
	j->ring[i].next = j->heads[b];
	j->heads[b] = (int32_t)i;
	j->n++;
}

int journal_delivered(struct journal *j, const uint8_t sha256[32], int *mid)
{
	int64_t now = (int64_t)time(NULL);
	int found = 0;
	pthread_mutex_lock(&j->lock);
	for (int32_t i = j->heads[bucket_of(j, sha256)]; i >= 0; i = j->ring[i].next)
		if (!memcmp(j->ring[i].sha256, sha256, 32) && j->ring[i].keep_until >= now) {
			*mid = j->ring[i].mid;
			found = 1;
			break;
		}
	pthread_mutex_unlock(&j->lock);
	return found;
}

/* ---- lines ---- */

/* The text with spaces, controls, non-ASCII and '%' as %XX: one word on the line. */
static void escape_id(const char *id, char *out, size_t outlen)
{
	static const char digits[] = "0123456789ABCDEF";
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)id; *p && n + 4 < outlen; p++) {
		if (*p > 0x20 && *p < 0x7f && *p != '%') {
			out[n++] = (char)*p;
		} else {
			out[n++] = '%';
			out[n++] = digits[*p >> 4];
			out[n++] = digits[*p & 15];
		}
	}
	out[n] = '\0';
}

static int unescape_id(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		unsigned v;
		if (*r != '%') {
			*w++ = *r;
			continue;
		}
		if (!isxdigit((unsigned char)r[1]) || !isxdigit((unsigned char)r[2]) ||
		    sscanf(r + 1, "%2X", &v) != 1 || !v)
			return -1;
		*w++ = (char)v;
		r += 2;
	}
	*w = '\0';
	return 0;
}

static int format_line(const struct journal_entry *e, char *line, size_t len)
{
	char id[400], sender[800];
	static const char digits[] = "0123456789abcdef";
	char hex[65];
	int n;
	for (size_t i = 0; i < 32; i++) {
		hex[2 * i] = digits[e->sha256[i] >> 4];
		hex[2 * i + 1] = digits[e->sha256[i] & 15];
	}
	hex[64] = '\0';
	escape_id(e->id, id, sizeof(id));
	escape_id(e->sender, sender, sizeof(sender));   /* a DNS name: nothing to escape */
	n = snprintf(line, len, "%" PRId64 " %s %s %s %d %" PRId64 "\n", e->expiry, sender,
		     id, hex, e->mid, e->keep_until);
	return n > 0 && (size_t)n < len ? n : -1;
}

/* Parses one line (modified in place). 0, or -1 when it is not one of ours. */
static int parse_line(char *line, struct journal_entry *e, char **sender, char **id)
{
	char *save = NULL, *f[6], *end;
	size_t n = 0;
	for (char *t = strtok_r(line, " \n", &save); t; t = strtok_r(NULL, " \n", &save)) {
		if (n == 6)
			return -1;
		f[n++] = t;
	}
	if (n != 6 || strlen(f[3]) != 64)
		return -1;
	errno = 0;
	e->expiry = strtoll(f[0], &end, 10);
	if (*end || errno)
		return -1;
	e->keep_until = strtoll(f[5], &end, 10);
	if (*end || errno)
		return -1;
	e->mid = (int)strtol(f[4], &end, 10);
	if (*end || e->mid < -1 || e->mid > 65535)
		return -1;
	for (size_t i = 0; i < 32; i++) {
		unsigned v;
		if (!isxdigit((unsigned char)f[3][2 * i]) || !isxdigit((unsigned char)f[3][2 * i + 1]) ||
		    sscanf(f[3] + 2 * i, "%2x", &v) != 1)
			return -1;
		e->sha256[i] = (uint8_t)v;
	}
	if (unescape_id(f[1]) || unescape_id(f[2]))
		return -1;
	*sender = f[1];
	*id = f[2];
	return 0;
}

/* One record read back: into the replay cache and the set of payloads while in force. */
static void take_record(struct journal *j, danemsg_replay_cache *replay,
			const struct journal_entry *e, const char *sender, const char *id,
			int64_t now)
{
	if (replay && e->expiry >= now) {
		danemsg_replay_ops ops = danemsg_replay_cache_ops(replay);
		ops.check_and_add(ops.ctx, sender, id, e->expiry, now);
	}
	if (j && e->keep_until >= now)
		set_add(j, e->sha256, e->mid, e->keep_until);
}

int journal_scan(struct journal *j, FILE *in, FILE *out, danemsg_replay_cache *replay,
		 int64_t now, struct journal_scan *scan)
{
	char line[LINE_MAX_LEN];

	memset(scan, 0, sizeof(*scan));
	for (long at = ftell(in); fgets(line, sizeof(line), in); at = ftell(in)) {
		struct journal_entry e;
		char copy[LINE_MAX_LEN], *sender, *id;
		size_t len = strlen(line);   /* short of the line's end if it holds a NUL */
		scan->lines++;
		if (len == 0 || line[len - 1] != '\n') {
			if (fgetc(in) == EOF && ftell(in) - at < (long)sizeof(line) - 1) {
				scan->torn = (size_t)(ftell(in) - at);   /* the last append, cut
									   * short: repaired */
				break;
			}
			scan->bad_line = scan->lines;
			return -1;
		}
		memcpy(copy, line, len + 1);
		if (parse_line(copy, &e, &sender, &id)) {
			scan->bad_line = scan->lines;
			return -1;
		}
		if (e.keep_until < now && e.expiry < now)
			continue;
		take_record(j, replay, &e, sender, id, now);
		if (out && fputs(line, out) < 0)
			return -1;
		scan->kept++;
		scan->kept_bytes += len;
	}
	return ferror(in) ? -1 : 0;
}

/* A new file of ours at path: never through a link someone planted there. */
static FILE *create_private(const char *path)
{
	int fd;
	FILE *f;
	if (unlink(path) && errno != ENOENT)
		return NULL;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return NULL;
	if (!(f = fdopen(fd, "w")))
		close(fd);
	return f;
}

static void sync_dir_of(const char *path)
{
	char *dir_copy = strdup(path);
	int dir_fd;
	if (!dir_copy)
		return;
	if ((dir_fd = open(dirname(dir_copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(dir_fd);
		close(dir_fd);
	}
	free(dir_copy);
}

/* Rewrites the journal with the records still in force; with replay, also loads them. A
 * torn last record is dropped (and said); any other damage stops it: -1 with errno
 * EBADMSG and the line in *bad_line, the file left as it is. */
static int compact_locked(struct journal *j, danemsg_replay_cache *replay, size_t *bad_line)
{
	char tmp[4200];
	int64_t now = (int64_t)time(NULL);
	int in_fd = open(j->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	FILE *in = in_fd >= 0 ? fdopen(in_fd, "r") : NULL, *out;
	struct journal_scan scan = {0};
	int ok, saved;

	*bad_line = 0;
	if (!in && (in_fd >= 0 || errno != ENOENT)) {
		saved = errno;
		if (in_fd >= 0)
			close(in_fd);
		errno = saved;
		return -1;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", j->path);
	if (!(out = create_private(tmp))) {
		saved = errno;
		if (in)
			fclose(in);
		errno = saved;
		return -1;
	}
	ok = !in || !journal_scan(replay ? j : NULL, in, out, replay, now, &scan);
	if (in)
		fclose(in);
	ok = ok && fflush(out) == 0 && fsync(fileno(out)) == 0;
	ok = fclose(out) == 0 && ok;
	if (!ok || rename(tmp, j->path)) {
		saved = scan.bad_line ? EBADMSG : errno;
		unlink(tmp);
		*bad_line = scan.bad_line;
		errno = saved;
		return -1;
	}
	sync_dir_of(j->path);
	if (scan.torn)
		fprintf(stderr, "danemsg: %s: the last record was torn (%zu bytes: a crash or a "
				"full disk while appending): repaired\n", j->path, scan.torn);
	if (j->fd >= 0)
		close(j->fd);
	j->fd = open(j->path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
	j->kept = scan.kept;
	j->size = (off_t)scan.kept_bytes;
	j->appended = 0;
	j->torn = 0;
	return j->fd < 0 ? -1 : 0;
}

int journal_open(const char *path, danemsg_replay_cache *replay, size_t max_payloads,
		 struct journal **out)
{
	struct journal *j = calloc(1, sizeof(*j));
	size_t bad_line = 0;

	*out = NULL;
	if (!j || !(j->path = strdup(path)) || !max_payloads)
		goto nomem;
	j->fd = -1;
	j->cap = max_payloads;
	j->n_buckets = 64;
	while (j->n_buckets < max_payloads)
		j->n_buckets <<= 1;
	j->ring = calloc(j->cap, sizeof(*j->ring));
	j->heads = malloc(j->n_buckets * sizeof(*j->heads));
	if (!j->ring || !j->heads)
		goto nomem;
	for (size_t i = 0; i < j->n_buckets; i++)
		j->heads[i] = -1;
	pthread_mutex_init(&j->lock, NULL);
	if (compact_locked(j, replay, &bad_line)) {
		if (bad_line)
			cli_error("delivery journal %s: line %zu is damaged: not started (going on "
				  "without it could deliver messages again). Repair or remove that "
				  "line", path, bad_line);
		else
			cli_error("delivery journal %s: %s", path, strerror(errno));
		journal_close(j);
		return EXIT_FAILURE_;
	}
	*out = j;
	return EXIT_OK_;
nomem:
	if (j) {
		free(j->path);
		free(j->ring);
		free(j->heads);
		free(j);
	}
	cli_error("out of memory");
	return EXIT_FAILURE_;
}

void journal_close(struct journal *j)
{
	if (!j)
		return;
	if (j->pending_len && flush_pending(j))
		fprintf(stderr, "danemsg: %s: %zu bytes of records could not be written (%s): a "
				"restart may deliver those messages again\n", j->path,
			j->pending_len, strerror(errno));
	free(j->pending);
	if (j->fd >= 0)
		close(j->fd);
	pthread_mutex_destroy(&j->lock);
	free(j->ring);
	free(j->heads);
	free(j->path);
	free(j);
}

static size_t count_records(const char *p, size_t len)
{
	size_t n = 0;
	for (const char *q = p; (q = memchr(q, '\n', len - (size_t)(q - p))); q++)
		n++;
	return n;
}

/* After a failed append the file ends in part of a record: cut it back to the last whole
 * one before anything else is written, or the next record would be glued to it. Lock held. */
static int repair_tail(struct journal *j)
{
	if (!j->torn)
		return 0;
	if (ftruncate(j->fd, j->size) || fdatasync(j->fd))
		return -1;
	j->torn = 0;
	return 0;
}

/* Appends line (n bytes) durably: 0, or -1 with errno and the file cut back. Lock held. */
static int append_locked(struct journal *j, const char *line, size_t n)
{
	ssize_t w;
	int saved;

	if (j->fd < 0) {
		errno = EBADF;
		return -1;
	}
	if (repair_tail(j))
		return -1;   /* still torn: nothing may follow it */
	do
		w = write(j->fd, line, n);   /* O_APPEND: one write, one record */
	while (w < 0 && errno == EINTR);
	if (w == (ssize_t)n && fdatasync(j->fd) == 0) {
		j->size += (off_t)n;
		return 0;
	}
	saved = w < 0 || w == (ssize_t)n ? errno : ENOSPC;   /* a short write: the disk is full */
	j->torn = 1;
	if (repair_tail(j))
		fprintf(stderr, "danemsg: %s: cannot cut a failed append back (%s): nothing more "
				"is written until it can be\n", j->path, strerror(errno));
	errno = saved;
	return -1;
}

/* Keeps line for the next append (bounded: beyond, the oldest are lost, and said). */
static void keep_pending(struct journal *j, const char *line, size_t n)
{
	char *grown;
	if (j->pending_len + n > PENDING_MAX) {
		fprintf(stderr, "danemsg: %s: over %u bytes of records wait for room: the oldest "
				"are dropped\n", j->path, PENDING_MAX);
		j->pending_len = 0;
	}
	if (!(grown = realloc(j->pending, j->pending_len + n)))
		return;
	memcpy(grown + j->pending_len, line, n);
	j->pending = grown;
	j->pending_len += n;
}

/* Writes the records that waited. Lock held (or the journal closing). */
static int flush_pending(struct journal *j)
{
	if (append_locked(j, j->pending, j->pending_len))
		return -1;
	j->appended += count_records(j->pending, j->pending_len);
	j->pending_len = 0;
	return 0;
}

int journal_record(struct journal *j, const struct journal_entry *e)
{
	char line[LINE_MAX_LEN];
	int n = format_line(e, line, sizeof(line)), rc = -1, saved = EINVAL;
	size_t bad_line;

	pthread_mutex_lock(&j->lock);
	set_add(j, e->sha256, e->mid, e->keep_until);
	if (n > 0) {
		keep_pending(j, line, (size_t)n);   /* after the records that wait, in order */
		rc = flush_pending(j);
		saved = rc ? errno : 0;
	}
	if (!rc && j->appended >= (j->kept > COMPACT_EVERY ? j->kept : COMPACT_EVERY) &&
	    compact_locked(j, NULL, &bad_line))
		fprintf(stderr, "danemsg: %s: compaction failed: %s\n", j->path, strerror(errno));
	pthread_mutex_unlock(&j->lock);
	errno = saved;
	return rc;
}

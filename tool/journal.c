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

struct delivered {
	uint8_t sha256[32];
	int32_t mid, next;
	int64_t keep_until;
};

struct journal {
	pthread_mutex_t lock;
	char *path;
	int fd;                    /* O_APPEND */
	size_t appended, kept;     /* lines appended since the last compaction, lines kept */
	/* the delivered payloads: a ring in arrival order, with hash chains */
	struct delivered *ring;
	int32_t *heads;
	size_t cap, first, n, n_buckets;
};

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

/* The id with spaces, controls, non-ASCII and '%' as %XX: one word on the line. */
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
	char id[400];
	static const char digits[] = "0123456789abcdef";
	char hex[65];
	int n;
	for (size_t i = 0; i < 32; i++) {
		hex[2 * i] = digits[e->sha256[i] >> 4];
		hex[2 * i + 1] = digits[e->sha256[i] & 15];
	}
	hex[64] = '\0';
	escape_id(e->id, id, sizeof(id));
	n = snprintf(line, len, "%" PRId64 " %s %s %s %d %" PRId64 "\n", e->expiry, e->sender,
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
		if (sscanf(f[3] + 2 * i, "%2x", &v) != 1)
			return -1;
		e->sha256[i] = (uint8_t)v;
	}
	if (unescape_id(f[2]))
		return -1;
	*sender = f[1];
	*id = f[2];
	return 0;
}

/* Rewrites the journal with the lines still in force; with replay, also loads them. */
static int compact_locked(struct journal *j, danemsg_replay_cache *replay)
{
	char tmp[4200], line[LINE_MAX_LEN], *dir_copy;
	int64_t now = (int64_t)time(NULL);
	FILE *in = fopen(j->path, "r"), *out;
	size_t kept = 0, bad = 0;
	int ok = 1, dir_fd;

	if (!in && errno != ENOENT)
		return -1;
	snprintf(tmp, sizeof(tmp), "%s.tmp", j->path);
	out = fopen(tmp, "w");
	if (!out) {
		if (in)
			fclose(in);
		return -1;
	}
	while (in && fgets(line, sizeof(line), in)) {
		struct journal_entry e;
		char copy[LINE_MAX_LEN], *sender, *id;
		size_t len = strlen(line);
		if (len == 0 || line[len - 1] != '\n') {
			bad++;   /* torn by a crash, or too long: skip the rest of it */
			while (len == sizeof(line) - 1 && line[len - 1] != '\n' &&
			       fgets(line, sizeof(line), in))
				len = strlen(line);
			continue;
		}
		memcpy(copy, line, len + 1);
		if (parse_line(copy, &e, &sender, &id)) {
			bad++;
			continue;
		}
		if (e.keep_until < now && e.expiry < now)
			continue;
		if (replay && e.expiry >= now) {
			danemsg_replay_ops ops = danemsg_replay_cache_ops(replay);
			ops.check_and_add(ops.ctx, sender, id, e.expiry, now);
		}
		if (replay && e.keep_until >= now)
			set_add(j, e.sha256, e.mid, e.keep_until);
		ok = ok && fputs(line, out) >= 0;
		kept++;
	}
	if (in)
		fclose(in);
	ok = ok && fflush(out) == 0 && fsync(fileno(out)) == 0;
	ok = fclose(out) == 0 && ok;
	if (!ok || rename(tmp, j->path)) {
		unlink(tmp);
		return -1;
	}
	if ((dir_copy = strdup(j->path))) {
		if ((dir_fd = open(dirname(dir_copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
			fsync(dir_fd);
			close(dir_fd);
		}
		free(dir_copy);
	}
	if (bad)
		fprintf(stderr, "danemsg: %s: %zu damaged lines dropped\n", j->path, bad);
	if (j->fd >= 0)
		close(j->fd);
	j->fd = open(j->path, O_WRONLY | O_APPEND | O_CLOEXEC);
	j->kept = kept;
	j->appended = 0;
	return j->fd < 0 ? -1 : 0;
}

int journal_open(const char *path, danemsg_replay_cache *replay, size_t max_payloads,
		 struct journal **out)
{
	struct journal *j = calloc(1, sizeof(*j));

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
	if (compact_locked(j, replay)) {
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
	if (j->fd >= 0)
		close(j->fd);
	pthread_mutex_destroy(&j->lock);
	free(j->ring);
	free(j->heads);
	free(j->path);
	free(j);
}

int journal_record(struct journal *j, const struct journal_entry *e)
{
	char line[LINE_MAX_LEN];
	int n = format_line(e, line, sizeof(line)), rc = -1, saved = 0;
	ssize_t w;

	pthread_mutex_lock(&j->lock);
	set_add(j, e->sha256, e->mid, e->keep_until);
	if (n < 0) {
		saved = EINVAL;
	} else if (j->fd < 0) {
		saved = EBADF;
	} else {
		do
			w = write(j->fd, line, (size_t)n);   /* O_APPEND: one write, one line */
		while (w < 0 && errno == EINTR);
		if (w == n && fdatasync(j->fd) == 0)
			rc = 0;
		else
			saved = w < 0 || w == n ? errno : EIO;
	}
	if (!rc && ++j->appended >= (j->kept > COMPACT_EVERY ? j->kept : COMPACT_EVERY) &&
	    compact_locked(j, NULL))
		fprintf(stderr, "danemsg: %s: compaction failed: %s\n", j->path, strerror(errno));
	pthread_mutex_unlock(&j->lock);
	errno = saved;
	return rc;
}

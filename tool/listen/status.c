/* The status file (see status.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "status.h"

/* In place, in room taken once (STATUS_RESERVE bytes, the text ended by a NUL): a rewrite
 * needs no new disk block, so on a full disk the status never takes the room that a
 * message needs. A reader that catches a rewrite half done sees the file change under it
 * and reads again (status_read). */
int status_write(const char *dir, const char *text, size_t len)
{
	char path[4400];
	struct stat st;
	size_t done = 0;
	int fd, saved, ok = 1;

	if (snprintf(path, sizeof(path), "%s/%s", dir, STATUS_FILE) >= (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	ok = !fchmod(fd, 0600) && !fstat(fd, &st);
	if (ok && st.st_size < STATUS_RESERVE)
		posix_fallocate(fd, 0, STATUS_RESERVE);   /* else it grows as it must */
	while (ok && done < len) {
		ssize_t n = pwrite(fd, text + done, len - done, (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		ok = n > 0;
		done += ok ? (size_t)n : 0;
	}
	ok = ok && (len >= STATUS_RESERVE || pwrite(fd, "", 1, (off_t)len) == 1);
	saved = errno;
	if (close(fd))
		ok = 0;
	errno = saved;
	return ok ? 0 : -1;
}

static int is_name_char(char c, int first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
	       (!first && c >= '0' && c <= '9');
}

/* NAME at *p; its end in *p. 0 or -1. */
static int take_name(const char **p, const char *end)
{
	const char *s = *p;
	if (s == end || !is_name_char(*s, 1))
		return -1;
	while (s < end && is_name_char(*s, 0))
		s++;
	*p = s;
	return 0;
}

/* {NAME="VALUE",...}: values with \\, \" and \n escapes. 0 or -1. */
static int take_labels(const char **p, const char *end)
{
	const char *s = *p + 1;
	while (s < end && *s != '}') {
		if (take_name(&s, end) || s + 1 >= end || s[0] != '=' || s[1] != '"')
			return -1;
		for (s += 2; s < end && *s != '"'; s++)
			if (*s == '\\' && (++s == end || (*s != '\\' && *s != '"' && *s != 'n')))
				return -1;
		if (s == end)
			return -1;
		s++;
		if (s < end && *s == ',')
			s++;
	}
	if (s == end)
		return -1;
	*p = s + 1;
	return 0;
}

/* A whole number, or the format's +Inf, -Inf, NaN and decimals: checked, not converted
 * unless it is a plain integer (*v). 0 or -1. */
static int take_value(const char *s, const char *end, int64_t *v, int *integer)
{
	char num[40], *stop;
	size_t n = (size_t)(end - s);

	if (!n || n >= sizeof(num))
		return -1;
	memcpy(num, s, n);
	num[n] = '\0';
	if (!strcmp(num, "+Inf") || !strcmp(num, "-Inf") || !strcmp(num, "NaN")) {
		*integer = 0;
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		if (!strchr("0123456789+-.eE", num[i]))
			return -1;
	errno = 0;
	*v = strtoll(num, &stop, 10);
	*integer = !*stop && !errno;
	if (!*integer)
		(void)strtod(num, &stop);
	return *stop ? -1 : 0;
}

static int parse_line(const char *s, const char *end, struct status_info *out)
{
	const char *name = s, *name_end;
	int64_t v = 0;
	int integer;

	for (const char *c = s; c < end; c++)
		if (*c < 0x20 || *c >= 0x7f)
			return -1;
	if (s < end && *s == '#')
		return 0;
	if (take_name(&s, end))
		return -1;
	name_end = s;
	if (s < end && *s == '{' && take_labels(&s, end))
		return -1;
	if (s == end || *s != ' ' || take_value(s + 1, end, &v, &integer))
		return -1;
	out->samples++;
#define IS(n) ((size_t)(name_end - name) == strlen(n) && !memcmp(name, n, strlen(n)))
	if (integer && IS("danemsg_listen_pid"))
		out->pid = v;
	else if (integer && IS("danemsg_listen_time_seconds"))
		out->time = v;
	else if (integer && IS("danemsg_listen_start_time_seconds"))
		out->start_time = v;
#undef IS
	return 0;
}

int status_parse(const char *text, size_t len, struct status_info *out, size_t *bad_line)
{
	const char *p = text, *end = text + len;
	size_t line = 0;

	out->pid = out->time = out->start_time = -1;
	out->samples = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		line++;
		if ((size_t)(eol - p) > STATUS_LINE_MAX || parse_line(p, eol, out)) {
			*bad_line = line;
			return -1;
		}
		p = nl ? nl + 1 : end;
	}
	return 0;
}

/* One read of path into buf (STATUS_MAX + 1 bytes): its length, or -1 (errno). */
static ssize_t read_once(const char *path, char *buf)
{
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > STATUS_MAX) {
		errno = fstat(fd, &st) ? errno : !S_ISREG(st.st_mode) ? EINVAL : EFBIG;
		close(fd);
		return -1;
	}
	n = read(fd, buf, STATUS_MAX + 1);   /* it may have grown since fstat */
	close(fd);
	if (n > STATUS_MAX) {
		errno = EFBIG;
		return -1;
	}
	return n;
}

int status_read(const char *dir, char **text, size_t *len)
{
	char path[4400], *buf, *again;
	ssize_t n = -1, m = -2;

	if (snprintf(path, sizeof(path), "%s/%s", dir, STATUS_FILE) >= (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	buf = malloc(STATUS_MAX + 1);
	again = malloc(STATUS_MAX + 1);
	/* the listener rewrites it in place: two reads that agree are one version of it */
	for (int tries = 0; buf && again && tries < 5 && n != m; tries++) {
		if ((n = read_once(path, buf)) < 0 || (m = read_once(path, again)) < 0)
			break;
		if (n == m && !memcmp(buf, again, (size_t)n))
			break;
		m = -2;
		nanosleep(&(struct timespec){0, 20000000}, NULL);
	}
	free(again);
	if (n >= 0 && m == -2)
		errno = EAGAIN;   /* it kept changing */
	if (!buf || n < 0 || m < 0) {
		int saved = buf ? errno : ENOMEM;
		free(buf);
		errno = saved;
		return -1;
	}
	buf[n] = '\0';
	*text = buf;
	*len = strlen(buf);   /* the text ends at its NUL, the reserved room after it */
	return 0;
}

/* The samples, not the HELP and TYPE lines: the parser let through printable ASCII only. */
static void print_samples(const char *text)
{
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		if (n && *p != '#')
			printf("%.*s\n", (int)n, p);
		p += n + (nl != NULL);
	}
}

static int pid_alive(int64_t pid)
{
	/* EPERM: it runs, as another user (the service's) */
	return pid > 0 && pid <= INT32_MAX && (!kill((pid_t)pid, 0) || errno == EPERM);
}

int status_show(const char *dir, int64_t stale_s)
{
	struct status_info info;
	char *text, started[32] = "?";
	size_t len, bad_line;
	int64_t age;
	int running;

	if (status_read(dir, &text, &len)) {
		if (errno == ENOENT) {
			cli_error("no listener has run with the state folder %s (no status file)",
				  dir);
			return EXIT_NOT_RUNNING;
		}
		cli_error("cannot read %s/%s: %s", dir, STATUS_FILE, strerror(errno));
		return EXIT_FAILURE_;
	}
	if (status_parse(text, len, &info, &bad_line)) {
		cli_error("%s/%s is damaged (line %zu)", dir, STATUS_FILE, bad_line);
		free(text);
		return EXIT_FAILURE_;
	}
	if (info.pid < 0 || info.time < 0) {
		cli_error("%s/%s is damaged (no pid or time)", dir, STATUS_FILE);
		free(text);
		return EXIT_FAILURE_;
	}
	age = (int64_t)time(NULL) - info.time;
	running = age <= stale_s && pid_alive(info.pid);
	if (info.start_time >= 0) {
		time_t t = (time_t)info.start_time;
		struct tm tm;
		if (gmtime_r(&t, &tm))
			strftime(started, sizeof(started), "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	printf("%s: pid %lld, started %s, numbers of %lld s ago\n",
	       running ? "running" : "not running", (long long)info.pid, started, (long long)age);
	print_samples(text);
	free(text);
	return running ? EXIT_OK_ : EXIT_NOT_RUNNING;
}

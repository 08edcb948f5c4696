/* The status file of a running listener: its metrics (metrics.h), rewritten in place
 * every few seconds in the state folder, read back by `danemsg listen --status`. */
#ifndef DANEMSG_TOOL_STATUS_H
#define DANEMSG_TOOL_STATUS_H

#include <stddef.h>
#include <stdint.h>

#define STATUS_FILE "status"
/* Room the status file takes once, so that rewrites need no more (status.c). */
#define STATUS_RESERVE 16384
#define STATUS_MAX 65536          /* a larger file is not ours */
#define STATUS_LINE_MAX 512

/* Writes text to DIR/status (0600, in place: see status.c). 0 or -1 (errno). */
int status_write(const char *dir, const char *text, size_t len);

struct status_info {
	int64_t pid, time, start_time;   /* -1: absent */
	size_t samples;
};

/*
 * Checks that text is what status_write wrote: lines of printable ASCII, each a comment
 * ("# ...") or a sample "NAME[{LABEL="VALUE",...}] NUMBER"; takes the pid and times
 * from it. The file may have been edited: untrusted. 0, or -1 with the line number in
 * *bad_line.
 */
int status_parse(const char *text, size_t len, struct status_info *out, size_t *bad_line);

/* Reads DIR/status (no symbolic link, at most STATUS_MAX bytes) into a NUL-terminated
 * buffer the caller frees. 0 or -1 (errno; EFBIG when too large). */
int status_read(const char *dir, char **text, size_t *len);

/* listen --status: prints what DIR/status says and whether its listener runs (pid alive,
 * numbers at most stale_s old). An exit code: 0 running, EXIT_NOT_RUNNING, 1 damaged. */
int status_show(const char *dir, int64_t stale_s);

#endif

/* The listener's delivery journal: one line per message delivered, written before its
 * spool file is removed, so that nothing is delivered twice across restarts. */
#ifndef DANEMSG_TOOL_JOURNAL_H
#define DANEMSG_TOOL_JOURNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <danemsg.h>

struct journal_entry {
	int64_t expiry;          /* the replay cache remembers (sender, id) until then */
	const char *sender;      /* canonical name */
	const char *id;          /* the message id (jti), any characters (escaped in the file) */
	uint8_t sha256[32];      /* of the payload as received */
	int mid;                 /* MQTT packet id it came with (SPOOL_MID_RETAINED: retained) */
	int64_t keep_until;      /* the payload's hash is remembered until then */
};

struct journal;

/*
 * Opens the journal at path: the lines still in force go into replay (their message ids)
 * and into the set of delivered payloads (at most max_payloads, oldest forgotten first);
 * the file is rewritten without the others (compaction, through a new 0600 file: never a
 * link) and opened for appending. A torn last record is repaired (and said); a damaged
 * one stops it. 0 or an exit code (reported).
 */
int journal_open(const char *path, danemsg_replay_cache *replay, size_t max_payloads,
		 struct journal **out);
void journal_close(struct journal *j);

/* Whether a payload with this hash was delivered: 1 and its packet id in *mid, else 0. */
int journal_delivered(struct journal *j, const uint8_t sha256[32], int *mid);

/* Appends e and syncs it to disk; the payload counts as delivered from now on, even when
 * writing fails. 0, or -1 with errno. A failed or short append (disk full) is cut back to
 * the last whole record at once; the record waits in memory (up to 1 MiB of them) and is
 * written first by the next append or journal_close, so that it is not lost once there
 * is room again. Thread-safe. */
int journal_record(struct journal *j, const struct journal_entry *e);

/* What journal_scan read. */
struct journal_scan {
	size_t lines;            /* lines read */
	size_t kept, kept_bytes; /* records still in force, and their bytes */
	size_t torn;             /* bytes of a torn last record (no new line), dropped */
	size_t bad_line;         /* the first damaged line (1-based), 0 when none */
};

/*
 * Reads journal text from in (the file, or a buffer with fmemopen): the records still in
 * force at now are copied to out (unless NULL), their ids go into replay (unless NULL) and
 * their payloads into j's set (unless NULL). A last record without its new line is torn
 * (an append cut short) and dropped; any other record that does not parse is damage:
 * -1 with scan->bad_line. 0, or -1.
 */
int journal_scan(struct journal *j, FILE *in, FILE *out, danemsg_replay_cache *replay,
		 int64_t now, struct journal_scan *scan);

#endif

/* danemsg listen under systemd (see notify.h): sd_notify from libsystemd. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "notify.h"

void notify_ready(void)
{
	sd_notify(0, "READY=1\nSTATUS=subscribed, waiting for messages");
}

void notify_stopping(void)
{
	sd_notify(0, "STOPPING=1");
}

static uint64_t monotonic_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

/* Only the main thread calls it: its own statics need no lock. */
void notify_tick(unsigned long delivered)
{
	static int watchdog = -1;
	static uint64_t interval_us, last_ping_us;
	static unsigned long reported = (unsigned long)-1;
	uint64_t now = monotonic_us();

	if (watchdog < 0)
		watchdog = sd_watchdog_enabled(0, &interval_us) > 0;
	/* half the interval, as sd_watchdog_enabled(3) advises: a late tick is no false alarm */
	if (watchdog && now - last_ping_us >= interval_us / 2) {
		sd_notify(0, "WATCHDOG=1");
		last_ping_us = now;
	}
	if (delivered != reported) {
		sd_notifyf(0, "STATUS=%lu delivered", delivered);
		reported = delivered;
	}
}

/* JOURNAL_STREAM names the device and inode of the stream systemd connected to journald:
 * it counts only while standard error still is that stream (not redirected by a child). */
static int stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char end;

	if (!env || sscanf(env, "%llu:%llu%c", &dev, &ino, &end) != 2 ||
	    fstat(STDERR_FILENO, &st))
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* The levels by how listen's lines begin; anything else is information. */
static const struct {
	const char *start;
	const char *level;
} levels[] = {
	{"cannot ", "<3>"},
	{"not delivered", "<3>"},
	{"the broker ", "<3>"},
	{"WARNING", "<4>"},
	{"rejected", "<4>"},
	{"retry", "<4>"},
	{"lost the connection", "<4>"},
	{"quarantine is full", "<4>"},
};

const char *notify_log_prefix(const char *line)
{
	static atomic_int journal = -1;   /* threads log: each computes the same answer */
	int j = atomic_load(&journal);

	if (j < 0)
		atomic_store(&journal, j = stderr_is_journal());
	if (!j)
		return "";
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (!strncmp(line, levels[i].start, strlen(levels[i].start)))
			return levels[i].level;
	return "<6>";
}

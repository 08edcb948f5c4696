/* danemsg listen under systemd: readiness, status, watchdog (sd_notify) and log lines for
 * journald. Every call is a no-op when systemd did not start us. */
#ifndef DANEMSG_TOOL_NOTIFY_H
#define DANEMSG_TOOL_NOTIFY_H

/* READY=1: subscribed, messages flow (Type=notify). */
void notify_ready(void);

/* STOPPING=1: shutting down. */
void notify_stopping(void);

/* From the main thread's wait loop: a WATCHDOG=1 ping when WatchdogSec= is on and half the
 * interval has passed, and STATUS= with the counter when it changed. */
void notify_tick(unsigned long delivered);

/* The prefix for one log line: "" when standard error is a terminal or a file (the caller
 * then writes its own timestamp), else journald's level ("<3>", "<4>", "<6>") chosen from
 * how the line begins; journald adds the time itself. */
const char *notify_log_prefix(const char *line);

#endif

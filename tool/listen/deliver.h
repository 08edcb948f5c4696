/* How listen hands an opened message over: a line of text, a JSON object, or a command. */
#ifndef DANEMSG_TOOL_DELIVER_H
#define DANEMSG_TOOL_DELIVER_H

#include <stddef.h>

#include <danemsg.h>

enum deliver_format {
	DELIVER_TEXT = 0,          /* "<sender> says: <message>", as the reference prints */
	DELIVER_JSON,              /* one cli_message_json object per line */
	DELIVER_EXEC,              /* /bin/sh -c CMD, the payload on stdin, facts in env */
};

struct deliver_opts {
	enum deliver_format format;
	const char *exec;          /* the command of DELIVER_EXEC */
	unsigned exec_timeout;     /* seconds before the command is killed (not delivered) */
	const char *me;            /* the recipient's name, for DANEMSG_TO */
};

/* Delivers m: 0; -1 with why (not delivered: to be retried); DELIVER_GONE when standard
 * output is closed for good (EPIPE). Thread-safe: standard output is written one message
 * at a time and flushed after each. */
#define DELIVER_GONE (-2)
int deliver_message(const struct deliver_opts *o, const danemsg_message *m, char *why,
		    size_t whylen);

#endif

/*
 * The value of a replay key in the NATS key-value bucket shared by the listeners of one
 * identity (tool/listen/receive_nats.c, docs/messaging.md "NATS JetStream"). The format,
 * one line of ASCII, at most CLAIM_TEXT_MAX bytes, no newline:
 *
 *     v1 STATE MEMBER SEQ AT
 *
 * STATE  C: claimed, the member is delivering it; D: delivered; R: released (the member
 *        gave it back after a temporary failure: anyone may claim it)
 * MEMBER 16 lowercase hex digits: the listener process (random at its start)
 * SEQ    the stream sequence of the copy being (or that was) delivered, 1 to 2^63-1,
 *        decimal without leading zeros
 * AT     when the state was written (Unix seconds, decimal, 0 to 2^40)
 *
 * Anything else is refused: the bucket is shared, so what is read back is untrusted.
 */
#ifndef DANEMSG_TOOL_CLAIM_H
#define DANEMSG_TOOL_CLAIM_H

#include <stddef.h>
#include <stdint.h>

#define CLAIM_TEXT_MAX 64
#define CLAIM_MEMBER_LEN 16

struct claim {
	char state;                        /* 'C', 'D' or 'R' */
	char member[CLAIM_MEMBER_LEN + 1];
	uint64_t seq;
	int64_t at;
};

/* Writes c as text into out (at least CLAIM_TEXT_MAX bytes, NUL-terminated): its length,
 * or -1 when c holds something the format cannot say. */
int claim_format(const struct claim *c, char *out, size_t len);

/* Reads a value: 0, or -1 when it is not exactly the format above. */
int claim_parse(const void *data, size_t len, struct claim *c);

#endif

/*
 * listen's receiving side on NATS JetStream (docs/messaging.md "NATS JetStream"): a durable
 * pull consumer shared by every listen process of the identity, each message to one of
 * them, acknowledged only once delivered; replay protection shared by the group through a
 * key-value bucket (claim.h). The stream is the spool: nothing is stored locally but the
 * journal (what this process delivered) and the quarantine (what it refused).
 */
#ifndef DANEMSG_TOOL_RECEIVE_NATS_H
#define DANEMSG_TOOL_RECEIVE_NATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <danemsg.h>

#include "mqtt.h"

#define NATS_REPLAY_BUCKET "danemsg_replay"
#define NATS_FETCH_BATCH 8            /* messages a worker takes at once */
#define NATS_DEFAULT_ACK_WAIT 30      /* seconds before the engine gives a message to
				       * another member, unless told "in progress" */

/* What listen lends the receiver; every callback may be called from any worker thread. */
struct nats_host {
	void *ctx;
	const char *me;                   /* our identity: replay keys are per recipient */
	size_t n_workers;
	unsigned long max_size, max_age, ack_wait;
	atomic_int *stopping;
	/* Opens data with worker w's policy, judged as of arrived (Unix seconds). */
	danemsg_err (*open)(void *ctx, size_t w, const uint8_t *data, size_t len,
			    int64_t arrived, danemsg_message **m, char *errbuf, size_t errlen);
	/* Attempts a temporary failure gets in all (0: it is final). */
	unsigned (*retry_limit)(void *ctx, danemsg_err err);
	/* How long to wait before attempt attempts + 1. */
	int64_t (*retry_delay_ns)(unsigned attempts);
	/* deliver_message's contract. */
	int (*deliver)(void *ctx, const danemsg_message *m, char *why, size_t whylen);
	/* m is delivered: journal, log, count (--count). */
	void (*delivered)(void *ctx, const danemsg_message *m, const uint8_t sha[32], int mid,
			  int64_t received_ns);
	/* This process delivered these bytes before (its journal): 1 with the mid, else 0. */
	int (*was_delivered)(void *ctx, const uint8_t sha[32], int *mid);
	/* Refused for good: quarantine (name: the spool-style name of the copy). */
	void (*refuse)(void *ctx, const char *name, const void *data, size_t len,
		       const char *reason, const char *detail);
	/* Standard output is gone: stop. */
	void (*gone)(void *ctx, const char *why);
	/* Subscribed: the ready file, systemd's READY. */
	void (*ready)(void *ctx);
	void (*log)(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
};

struct nats_receiver;

/*
 * Connects to the cluster, makes sure of the stream (stream) and the bucket, and binds
 * n_workers pull subscriptions to the durable consumer of subject. 0, or an exit code
 * (reported). The bucket's TTL must cover --max-age (see receive_nats.c).
 */
int nats_receiver_new(const struct cli_mqtt_opts *o, const struct cli_broker *brokers,
		      size_t n, const char *stream, const char *subject,
		      const struct nats_host *host, struct nats_receiver **out);

/* The replay check of the group, for every worker's policy: danemsg_open calls it. */
danemsg_replay_ops nats_receiver_replay_ops(struct nats_receiver *r);

/* Starts the workers and the keeper thread: 0, or -1 (reported). */
int nats_receiver_start(struct nats_receiver *r);

/* Waits for them after *host->stopping was set; a message in hand is finished first,
 * those fetched and not started are given back (nak). */
void nats_receiver_join(struct nats_receiver *r);

/* Whether the connection is up (for metrics). */
int nats_receiver_connected(struct nats_receiver *r);

void nats_receiver_free(struct nats_receiver *r);

#endif

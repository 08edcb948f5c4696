/* What send and listen share of the NATS JetStream engine (tool/transport_nats.c). */
#ifndef DANEMSG_TOOL_TRANSPORT_NATS_H
#define DANEMSG_TOOL_TRANSPORT_NATS_H

#include <stddef.h>

#include <nats/nats.h>

#include "mqtt.h"

#define NATS_DEFAULT_STREAM "DANEMSG"
#define NATS_STREAM_SUBJECTS "danemsg.>"
#define NATS_SUBJECT_MAX 1024
/* How long the stream keeps a message no listener took (as a broker keeps a session). */
#define NATS_STREAM_MAX_AGE_S (7 * 86400)

/* The stream: --nats-stream, else NATS_DEFAULT_STREAM. */
const char *nats_stream_name(const struct cli_mqtt_opts *o);

/*
 * The NATS subject of an MQTT-style topic, as NATS's own MQTT listener maps it: '/' is
 * '.', and when subscribing '+' is '*' and '#' is '>'. Refused (EXIT_USAGE, reported):
 * an empty level, a '.', '*', '>' or a space or control in a level, a result over len.
 */
int nats_subject_of(const char *topic, int subscribe, char *out, size_t len);

/*
 * A connection to the cluster (every URL of brokers; the client fails over between them
 * and reconnects on its own) and its JetStream context. forever: reconnect without end
 * (listen); otherwise for a few seconds (send). --username/--password or their
 * environment variables log in; TLS options are refused (nats:// is without TLS).
 * 0, or EXIT_USAGE / EXIT_BROKER (reported with why).
 */
int nats_connect(const struct cli_mqtt_opts *o, const struct cli_broker *brokers, size_t n,
		 int forever, natsConnection **nc, jsCtx **js);

/* Makes sure the stream exists: created with NATS_STREAM_SUBJECTS, file storage,
 * work-queue retention (a message leaves once acknowledged), min(n_brokers, 3) replicas
 * and max_msg_size when absent. 0, or EXIT_BROKER (reported). */
int nats_stream_ensure(jsCtx *js, const char *stream, size_t n_brokers, long max_msg_size);

/* A readable text for a failed call: libnats's last error, else the status's. */
const char *nats_why(natsStatus s);

#endif

/*
 * The messaging engines behind send and listen, chosen by the scheme of the broker URLs:
 * mqtt:// and mqtts:// (libmosquitto, tool/transport_mqtt.c) or nats:// (NATS JetStream,
 * tool/transport_nats.c). A third engine is one more file with a struct transport, its
 * scheme in tool/mqtt.c's URL parser and a line in transport_for().
 */
#ifndef DANEMSG_TOOL_TRANSPORT_H
#define DANEMSG_TOOL_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "mqtt.h"

#define TRANSPORT_TOPIC_MAX 1024

/* One sealed message to publish to n topics (one per recipient). */
struct transport_send {
	struct cli_mqtt_opts *opts;          /* broker options (MQTT may fall back to 3.1.1) */
	const struct cli_broker *brokers;    /* the nodes of one cluster, in order */
	size_t n_brokers;
	char (*topics)[TRANSPORT_TOPIC_MAX];
	size_t n;
	const char *payload;
	size_t len;
	unsigned long timeout_s;             /* --timeout-broker: per attempt */
	unsigned long retry_s;               /* --retry: keep trying that long */
	uint32_t expires_in;                 /* --expires (MQTT 5: the broker drops it then) */
};

struct transport {
	const char *name;                    /* "MQTT", "NATS" */
	const char *default_topic;           /* the --topic template when none is given */
	/* Publishes every copy, failing over between the brokers: EXIT_OK_ once the engine
	 * has acknowledged every copy; EXIT_BROKER when it has not (retry); others on local
	 * errors. Reports its errors. */
	int (*send)(struct transport_send *s);
};

extern const struct transport transport_mqtt;
extern const struct transport transport_nats;

/* The engine of brokers (cli_brokers_resolve made them all one engine). */
const struct transport *transport_for(const struct cli_broker *brokers, size_t n);

#endif

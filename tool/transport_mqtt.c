/* The MQTT engine (libmosquitto) of send: QoS 1, every copy acknowledged (PUBACK). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "cli.h"
#include "transport.h"

#define MAX_RECIPIENTS 16

/* publish_once's "connect again": the broker refused MQTT 5, 3.1.1 is next */
#define PUBLISH_AGAIN (-1)

struct publish_state {
	int connected, refused, lost, failed;
	int connack;                  /* the refusal's code */
	size_t n;
	int mids[MAX_RECIPIENTS];     /* of the PUBLISH in flight per topic, -1 none */
	int *acked;                   /* per topic, across attempts */
	char why[200];
};

static void on_connect(struct mosquitto *m, void *obj, int rc, int flags,
		       const mosquitto_property *props)
{
	struct publish_state *st = obj;
	if (rc) {
		st->refused = 1;
		st->connack = rc;
		snprintf(st->why, sizeof(st->why), "the broker refused the connection: %s",
			 rc <= 5 ? mosquitto_connack_string(rc) : mosquitto_reason_string(rc));
		return;
	}
	st->connected = 1;
}

static void on_publish(struct mosquitto *m, void *obj, int mid, int reason,
		       const mosquitto_property *props)
{
	struct publish_state *st = obj;
	for (size_t i = 0; i < st->n; i++) {
		if (st->mids[i] != mid)
			continue;
		st->mids[i] = -1;
		if (reason >= 128) {
			st->failed = 1;
			snprintf(st->why, sizeof(st->why), "the broker refused the message: %s",
				 mosquitto_reason_string(reason));
		} else {
			st->acked[i] = 1;
		}
	}
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc, const mosquitto_property *p)
{
	struct publish_state *st = obj;
	st->lost = 1;
	if (!st->why[0] && rc)
		snprintf(st->why, sizeof(st->why), "the broker closed the connection (%s)",
			 cli_mqtt_strerror(rc));
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t count_acked(const struct publish_state *st)
{
	size_t k = 0;
	for (size_t i = 0; i < st->n; i++)
		k += st->acked[i] != 0;
	return k;
}

/* Publishes the copies not acknowledged yet, over one connection. */
static int publish_once(struct transport_send *s, const struct cli_broker *b, int *acked)
{
	struct publish_state st = {0};
	double deadline = now_s() + (double)s->timeout_s;
	size_t n = s->n;
	mosquitto_property *props = NULL;
	struct mosquitto *m;
	int rc, published = 0, result = EXIT_BROKER;

	st.n = n;
	st.acked = acked;
	for (size_t i = 0; i < n; i++)
		st.mids[i] = -1;
	m = cli_mqtt_new(s->opts, b, NULL, 1, &st);
	if (!m)
		return EXIT_FAILURE_;
	mosquitto_connect_v5_callback_set(m, on_connect);
	mosquitto_publish_v5_callback_set(m, on_publish);
	mosquitto_disconnect_v5_callback_set(m, on_disconnect);
	if (cli_mqtt_version(s->opts) == MQTT_PROTOCOL_V5 && s->expires_in)
		mosquitto_property_add_int32(&props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL,
					     s->expires_in);
	if (cli_mqtt_login(m, s->opts, b))
		goto out;
	rc = mosquitto_connect_async(m, b->host, b->port, 60);
	if (rc) {
		cli_error("broker %s: cannot connect: %s", b->url, cli_mqtt_strerror(rc));
		goto out;
	}
	while (!st.refused && !st.failed && count_acked(&st) < n) {
		double left = deadline - now_s();
		if (left <= 0) {
			cli_error("broker %s: %s within %lu s", b->url, st.connected ?
				  "did not acknowledge the message" : "no connection",
				  s->timeout_s);
			goto out;
		}
		rc = mosquitto_loop(m, left > 0.2 ? 200 : (int)(left * 1000) + 1, 1);
		if ((rc || st.lost) && !st.refused) {   /* a refusal: below */
			cli_error("broker %s: %s", b->url, st.why[0] ? st.why :
				  st.connected ? "connection lost before the acknowledgement"
					       : cli_mqtt_strerror(rc));
			goto out;
		}
		for (size_t i = 0; st.connected && !published && i < n; i++) {
			if (acked[i])
				continue;
			rc = mosquitto_publish_v5(m, &st.mids[i], s->topics[i], (int)s->len,
						  s->payload, 1, false, props);
			if (rc) {
				cli_error("broker %s: cannot publish to %s: %s", b->url,
					  s->topics[i], cli_mqtt_strerror(rc));
				goto out;
			}
		}
		published = st.connected;
	}
	if (st.refused && cli_mqtt_fall_back(s->opts, NULL, st.connack)) {
		result = PUBLISH_AGAIN;
		goto out;
	}
	if (st.refused || st.failed) {
		cli_error("broker %s: %s", b->url, st.why);
		goto out;
	}
	result = EXIT_OK_;
	mosquitto_disconnect(m);
	for (int i = 0; i < 10 && mosquitto_loop(m, 50, 1) == MOSQ_ERR_SUCCESS; i++)
		;
out:
	mosquitto_property_free_all(&props);
	mosquitto_destroy(m);
	return result;
}

/* A broker that fails: the next one at once (nodes of one cluster share the messages);
 * after a round, with --retry, the same sealed bytes again (a listener refuses a second
 * copy that gets through as a replay; it never delivers it twice). */
static int mqtt_send(struct transport_send *s)
{
	const struct cli_broker *brokers = s->brokers;
	size_t n_brokers = s->n_brokers;
	double until = now_s() + (double)s->retry_s;
	unsigned delay = 1;
	int acked[MAX_RECIPIENTS] = {0};
	for (size_t tried = 0, i = 0;; i = (i + 1) % n_brokers) {
		int rc = publish_once(s, &brokers[i], acked);
		struct timespec pause = {delay, 0};
		if (rc == PUBLISH_AGAIN) {   /* at most once: the version is 3.1.1 from now on */
			i = (i + n_brokers - 1) % n_brokers;
			continue;
		}
		if (rc != EXIT_BROKER)
			return rc;
		if (++tried % n_brokers) {
			fprintf(stderr, "danemsg: trying %s\n", brokers[(i + 1) % n_brokers].url);
			continue;
		}
		if (now_s() + delay > until)
			return rc;
		fprintf(stderr, "danemsg: trying again in %u s (--retry)\n", delay);
		nanosleep(&pause, NULL);
		delay = delay * 2 > 8 ? 8 : delay * 2;
	}
}

const struct transport transport_mqtt = {
	.name = "MQTT",
	.default_topic = "{to}",
	.send = mqtt_send,
};

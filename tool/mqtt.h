/* The broker options and connection shared by send and listen. */
#ifndef DANEMSG_TOOL_MQTT_H
#define DANEMSG_TOOL_MQTT_H

#include <getopt.h>

#include <mosquitto.h>

#include <danemsg.h>

#define CLI_DEFAULT_BROKER "mqtt://localhost"
#define CLI_MAX_BROKERS 16        /* nodes of one cluster: more would be a mistake */

struct cli_mqtt_opts {
	const char *brokers[CLI_MAX_BROKERS];   /* --broker URL[,URL...], repeatable */
	size_t n_brokers;
	const char *cafile, *capath, *certfile, *keyfile;
	const char *username, *password;
	int version;              /* --mqtt: MQTT_PROTOCOL_V311 or MQTT_PROTOCOL_V5; 0 (auto):
				   * MQTT 5, or 3.1.1 once the broker refused 5 */
	int fell_back;            /* auto, and the broker refused MQTT 5 */
	int auth_dane;            /* --auth dane: log in with a fresh token (cli_mqtt_login) */
	const char *audience;     /* --audience: the broker's name in the token */
	const danemsg_credential *login;   /* whose token: set by the command */
	const char *nats_stream;  /* --nats-stream: the JetStream stream (nats:// brokers) */
};

/* Option codes (below CLI_OPT_CODES, above the DNS options). */
enum {
	CLI_OPT_BROKER = 1100,
	CLI_OPT_CAFILE,
	CLI_OPT_CAPATH,
	CLI_OPT_CERT,
	CLI_OPT_KEY,
	CLI_OPT_USERNAME,
	CLI_OPT_PASSWORD,
	CLI_OPT_MQTT_VERSION,
	CLI_OPT_AUTH,
	CLI_OPT_AUDIENCE,
	CLI_OPT_NATS_STREAM,
};

#define CLI_MQTT_LONG_OPTIONS \
	{"broker", required_argument, NULL, CLI_OPT_BROKER}, \
	{"cafile", required_argument, NULL, CLI_OPT_CAFILE}, \
	{"capath", required_argument, NULL, CLI_OPT_CAPATH}, \
	{"cert", required_argument, NULL, CLI_OPT_CERT}, \
	{"key", required_argument, NULL, CLI_OPT_KEY}, \
	{"username", required_argument, NULL, CLI_OPT_USERNAME}, \
	{"password", required_argument, NULL, CLI_OPT_PASSWORD}, \
	{"mqtt", required_argument, NULL, CLI_OPT_MQTT_VERSION}, \
	{"auth", required_argument, NULL, CLI_OPT_AUTH}, \
	{"audience", required_argument, NULL, CLI_OPT_AUDIENCE}, \
	{"nats-stream", required_argument, NULL, CLI_OPT_NATS_STREAM}

/* The lines of --help that describe those options. */
extern const char cli_mqtt_help[];

/* Takes option opt if it is one of ours: 1 taken, 0 not ours, -1 bad value (reported). */
int cli_mqtt_option(struct cli_mqtt_opts *o, int opt, const char *arg);

/* The protocol version to connect with now (MQTT_PROTOCOL_V5 or MQTT_PROTOCOL_V311). */
int cli_mqtt_version(const struct cli_mqtt_opts *o);

/*
 * After a CONNACK that refused us (rc as on_connect gets it): when --mqtt left the version
 * to us and the broker said "unsupported protocol version" to MQTT 5 (NATS, RabbitMQ),
 * switches to 3.1.1 for this client (m, may be NULL) and every later one, and returns 1:
 * connect again. 0 otherwise (the refusal stands).
 */
int cli_mqtt_fall_back(struct cli_mqtt_opts *o, struct mosquitto *m, int rc);

/* The messaging engine a broker URL names (tool/transport.h). */
enum cli_engine {
	CLI_ENGINE_MQTT = 0,      /* mqtt://, mqtts:// */
	CLI_ENGINE_NATS,          /* nats:// (JetStream) */
};

/* Where the broker is. */
struct cli_broker {
	char host[256];
	int port;
	int tls;
	enum cli_engine engine;
	char url[300];            /* for messages: SCHEME://HOST:PORT */
};

/*
 * The brokers to use, in order (nodes of one cluster, or one broker): every --broker, else
 * env DANEMSG_BROKER, else the reference system's MQTT_HOST and MQTT_PORT, else
 * mqtt://localhost. Each value is URL[,URL...], a URL mqtt://HOST[:PORT],
 * mqtts://HOST[:PORT] or nats://HOST[:PORT] (default ports 1883, 8883, 4222; HOST may be
 * [IPv6]); all of one engine (MQTT or NATS), all with TLS or all without; at most
 * CLI_MAX_BROKERS. Writes out[0..*n). 0 or EXIT_USAGE (reported).
 */
int cli_brokers_resolve(const struct cli_mqtt_opts *o, struct cli_broker *out, size_t *n);

/*
 * A client for the broker with the protocol version, TLS (mqtts: --cafile/--capath, else
 * the system's CA certificates; --cert/--key for a client certificate) and credentials
 * (--username/--password, env DANEMSG_MQTT_USERNAME/DANEMSG_MQTT_PASSWORD) applied.
 * client_id NULL: a random one. NULL on failure (reported).
 */
struct mosquitto *cli_mqtt_new(const struct cli_mqtt_opts *o, const struct cli_broker *b,
			       const char *client_id, int clean_session, void *obj);

/* With --auth dane: a fresh login token of o->login for the broker as the password, its
 * name as the user name; call before every (re)connection. 0, or -1 (reported).
 * (tool/token.c) */
int cli_mqtt_login(struct mosquitto *m, const struct cli_mqtt_opts *o, const struct cli_broker *b);

/* A readable message for a libmosquitto error (MOSQ_ERR_ERRNO: errno's). */
const char *cli_mqtt_strerror(int rc);

/* Replaces {to}, {to_path} (to as a path: danemsg_credential_name_to_path) and {from} in
 * template; to must be normalized. 0, or EXIT_USAGE when the result is not a topic
 * one can publish to (subscribe: subscribe to) (reported). */
int cli_topic_expand(const char *template, const char *to, const char *from, int subscribe,
		     char *out, size_t outlen);

#endif

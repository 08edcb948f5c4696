/* Broker URL, options and client set-up shared by send and listen. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "cli.h"
#include "mqtt.h"

const char cli_mqtt_help[] =
	"Broker options:\n"
	"  --broker URL[,URL...]   mqtt://HOST[:PORT], mqtts://HOST[:PORT] (TLS) or\n"
	"                          nats://HOST[:PORT] (NATS JetStream); repeatable: nodes of\n"
	"                          one cluster, used in turn when one fails (one engine:\n"
	"                          mqtt and nats URLs do not mix)\n"
	"                          (env DANEMSG_BROKER, or MQTT_HOST and MQTT_PORT;\n"
	"                          default " CLI_DEFAULT_BROKER ")\n"
	"  --cafile FILE, --capath DIR\n"
	"                          CA certificates for mqtts (default: the system's)\n"
	"  --cert FILE, --key FILE a TLS client certificate and its key\n"
	"  --username U, --password P\n"
	"                          broker credentials (env DANEMSG_MQTT_USERNAME,\n"
	"                          DANEMSG_MQTT_PASSWORD)\n"
	"  --mqtt auto|3.1.1|5     protocol version (default auto: 5, and 3.1.1 with a broker\n"
	"                          that refuses 5); 3.1.1 or 5 never falls back\n"
	"  --auth dane|password    dane: log in as the identity with a fresh token signed by\n"
	"                          its key on every connection (a broker with the danemsg\n"
	"                          plugin); default password (--username, --password)\n"
	"  --audience NAME         the broker's name in the token (env\n"
	"                          DANEMSG_BROKER_AUDIENCE; default the broker's host)\n"
	"  --nats-stream NAME      nats://: the JetStream stream, created when absent with the\n"
	"                          subjects danemsg.> (default DANEMSG); the topic's '/' are\n"
	"                          the subject's '.' (default topic danemsg/{to_path})\n";

int cli_mqtt_option(struct cli_mqtt_opts *o, int opt, const char *arg)
{
	switch (opt) {
	case CLI_OPT_BROKER:
		if (o->n_brokers == CLI_MAX_BROKERS) {
			cli_error("at most %d --broker options", CLI_MAX_BROKERS);
			return -1;
		}
		o->brokers[o->n_brokers++] = arg;
		return 1;
	case CLI_OPT_CAFILE: o->cafile = arg; return 1;
	case CLI_OPT_CAPATH: o->capath = arg; return 1;
	case CLI_OPT_CERT: o->certfile = arg; return 1;
	case CLI_OPT_KEY: o->keyfile = arg; return 1;
	case CLI_OPT_USERNAME: o->username = arg; return 1;
	case CLI_OPT_PASSWORD: o->password = arg; return 1;
	case CLI_OPT_MQTT_VERSION:
		if (!strcmp(arg, "auto")) {
			o->version = 0;
		} else if (!strcmp(arg, "3.1.1") || !strcmp(arg, "311") || !strcmp(arg, "3")) {
			o->version = MQTT_PROTOCOL_V311;
		} else if (!strcmp(arg, "5") || !strcmp(arg, "5.0")) {
			o->version = MQTT_PROTOCOL_V5;
		} else {
			cli_error("--mqtt takes auto, 3.1.1 or 5, not '%s'", arg);
			return -1;
		}
		return 1;
	case CLI_OPT_AUTH:
		if (strcmp(arg, "dane") && strcmp(arg, "password")) {
			cli_error("--auth takes dane or password, not '%s'", arg);
			return -1;
		}
		o->auth_dane = !strcmp(arg, "dane");
		return 1;
	case CLI_OPT_AUDIENCE: o->audience = arg; return 1;
	case CLI_OPT_NATS_STREAM:
		if (!*arg || strlen(arg) > 64 || arg[strspn(arg, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
						  "abcdefghijklmnopqrstuvwxyz0123456789-_")]) {
			cli_error("--nats-stream: 1 to 64 letters, digits, '-' or '_', not '%s'",
				  arg);
			return -1;
		}
		o->nats_stream = arg;
		return 1;
	default: return 0;
	}
}

int cli_mqtt_version(const struct cli_mqtt_opts *o)
{
	if (o->version)
		return o->version;
	return o->fell_back ? MQTT_PROTOCOL_V311 : MQTT_PROTOCOL_V5;
}

int cli_mqtt_fall_back(struct cli_mqtt_opts *o, struct mosquitto *m, int rc)
{
	/* a 3.1.1 broker answers CONNACK 1; libmosquitto reports it as the MQTT 5 code */
	if (o->version || o->fell_back ||
	    (rc != MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION && rc != CONNACK_REFUSED_PROTOCOL_VERSION))
		return 0;
	o->fell_back = 1;
	if (m)
		mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
	return 1;
}

static int parse_port(const char *s, const char *url, int *port)
{
	char *end;
	long v;
	if (*s < '0' || *s > '9')
		goto bad;
	v = strtol(s, &end, 10);
	if ((*end && strcmp(end, "/")) || v < 1 || v > 65535)
		goto bad;
	*port = (int)v;
	return 0;
bad:
	cli_error("broker '%s': the port must be a number from 1 to 65535", url);
	return -1;
}

static int broker_parse(const char *url, struct cli_broker *out)
{
	const char *p, *host_end, *rest;
	size_t host_len;

	memset(out, 0, sizeof(*out));
	if (!strncasecmp(url, "mqtt://", 7)) {
		p = url + 7;
	} else if (!strncasecmp(url, "mqtts://", 8)) {
		p = url + 8;
		out->tls = 1;
	} else if (!strncasecmp(url, "nats://", 7)) {
		p = url + 7;
		out->engine = CLI_ENGINE_NATS;
	} else {
		cli_error("broker '%s': expected mqtt://HOST[:PORT], mqtts://HOST[:PORT] or "
			  "nats://HOST[:PORT]", url);
		return EXIT_USAGE;
	}
	if (strchr(p, '@')) {
		cli_error("broker '%s': give credentials with --username and --password "
			  "(or the environment), not in the URL", url);
		return EXIT_USAGE;
	}
	if (*p == '[') {
		host_end = strchr(p, ']');
		if (!host_end) {
			cli_error("broker '%s': unterminated [IPv6 address]", url);
			return EXIT_USAGE;
		}
		p++;
		rest = host_end + 1;
	} else {
		host_end = p + strcspn(p, ":/");
		rest = host_end;
	}
	host_len = (size_t)(host_end - p);
	if (host_len == 0 || host_len >= sizeof(out->host)) {
		cli_error("broker '%s': no host", url);
		return EXIT_USAGE;
	}
	memcpy(out->host, p, host_len);
	out->host[host_len] = '\0';
	out->port = out->engine == CLI_ENGINE_NATS ? 4222 : out->tls ? 8883 : 1883;
	if (*rest == ':') {
		if (parse_port(rest + 1, url, &out->port))
			return EXIT_USAGE;
	} else if (*rest && strcmp(rest, "/")) {
		cli_error("broker '%s': expected nothing after the host but :PORT", url);
		return EXIT_USAGE;
	}
	snprintf(out->url, sizeof(out->url), "%s://%s%s%s:%d",
		 out->engine == CLI_ENGINE_NATS ? "nats" : out->tls ? "mqtts" : "mqtt",
		 strchr(out->host, ':') ? "[" : "", out->host, strchr(out->host, ':') ? "]" : "",
		 out->port);
	return EXIT_OK_;
}

/* Appends the URLs of list (separated by commas) to out[*n...]. */
static int broker_list_parse(const char *list, struct cli_broker *out, size_t *n)
{
	char url[400];
	for (const char *p = list;; p++) {
		size_t len = strcspn(p, ",");
		if (*n == CLI_MAX_BROKERS) {
			cli_error("at most %d brokers", CLI_MAX_BROKERS);
			return EXIT_USAGE;
		}
		if (len == 0 || len >= sizeof(url)) {
			cli_error("broker list '%s': %s URL", list,
				  len ? "a too long" : "an empty");
			return EXIT_USAGE;
		}
		memcpy(url, p, len);
		url[len] = '\0';
		if (broker_parse(url, &out[*n]))
			return EXIT_USAGE;
		if (out[*n].engine != out[0].engine) {
			cli_error("brokers %s and %s: one engine at a time, all mqtt[s]:// or all "
				  "nats://", out[0].url, out[*n].url);
			return EXIT_USAGE;
		}
		if (out[*n].tls != out[0].tls) {
			cli_error("brokers %s and %s: all with TLS (mqtts://) or all without",
				  out[0].url, out[*n].url);
			return EXIT_USAGE;
		}
		++*n;
		p += len;
		if (!*p)
			return EXIT_OK_;
	}
}

int cli_brokers_resolve(const struct cli_mqtt_opts *o, struct cli_broker *out, size_t *n)
{
	const char *url = getenv("DANEMSG_BROKER"), *host, *port;
	char built[400];
	int rc;

	*n = 0;
	for (size_t i = 0; i < o->n_brokers; i++)
		if ((rc = broker_list_parse(o->brokers[i], out, n)))
			return rc;
	if (o->n_brokers)
		return EXIT_OK_;
	if ((!url || !*url) && (host = getenv("MQTT_HOST")) && *host) {
		port = getenv("MQTT_PORT");
		snprintf(built, sizeof(built), "mqtt://%s%s%s%s%s", strchr(host, ':') ? "[" : "",
			 host, strchr(host, ':') ? "]" : "", port && *port ? ":" : "",
			 port && *port ? port : "");
		url = built;
	}
	if (!url || !*url)
		url = CLI_DEFAULT_BROKER;
	return broker_list_parse(url, out, n);
}

const char *cli_mqtt_strerror(int rc)
{
	if (rc == MOSQ_ERR_TLS)
		return "TLS failed (is the broker's certificate trusted? see --cafile, --capath)";
	return rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc);
}

struct mosquitto *cli_mqtt_new(const struct cli_mqtt_opts *o, const struct cli_broker *b,
			       const char *client_id, int clean_session, void *obj)
{
	static const char *const user_vars[] = {"DANEMSG_MQTT_USERNAME", NULL};
	static const char *const pass_vars[] = {"DANEMSG_MQTT_PASSWORD", NULL};
	const char *user = o->username ? o->username : cli_env(user_vars);
	const char *pass = o->password ? o->password : cli_env(pass_vars);
	struct mosquitto *m = mosquitto_new(client_id, clean_session, obj);
	int rc;

	if (!m) {
		cli_error("cannot create an MQTT client: %s", strerror(errno));
		return NULL;
	}
	rc = mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, cli_mqtt_version(o));
	if (o->auth_dane && (user || pass)) {
		cli_error("--auth dane logs in with a token: no --username or --password");
		mosquitto_destroy(m);
		return NULL;
	}
	if (!rc && (user || pass))
		rc = mosquitto_username_pw_set(m, user, pass);
	if (rc) {
		cli_error("MQTT client set-up: %s", mosquitto_strerror(rc));
		mosquitto_destroy(m);
		return NULL;
	}
	if (b->tls) {
		const char *capath = o->capath;
		if (!o->cafile && !capath)
			capath = "/etc/ssl/certs";
		rc = mosquitto_tls_set(m, o->cafile, capath, o->certfile, o->keyfile, NULL);
		if (rc) {
			cli_error("TLS set-up for %s: %s (check --cafile, --capath, --cert, --key)",
				  b->url, mosquitto_strerror(rc));
			mosquitto_destroy(m);
			return NULL;
		}
	} else if (o->cafile || o->capath || o->certfile || o->keyfile) {
		cli_error("--cafile, --capath, --cert and --key need an mqtts:// broker");
		mosquitto_destroy(m);
		return NULL;
	}
	return m;
}

int cli_topic_expand(const char *template, const char *to, const char *from, int subscribe,
		     char *out, size_t outlen)
{
	char to_path[DANEMSG_CREDENTIAL_NAME_MAX];
	size_t n = 0;
	if (danemsg_credential_name_to_path(to, to_path, sizeof(to_path)))
		return EXIT_USAGE;   /* to was normalized: cannot happen */
	for (const char *p = template; *p;) {
		const char *put = p;
		size_t len = 1;
		if (!strncmp(p, "{to_path}", 9)) {
			put = to_path;
			len = strlen(to_path);
			p += 9;
		} else if (!strncmp(p, "{to}", 4)) {
			put = to;
			len = strlen(to);
			p += 4;
		} else if (!strncmp(p, "{from}", 6)) {
			put = from;
			len = strlen(from);
			p += 6;
		} else {
			p++;
		}
		if (n + len >= outlen) {
			cli_error("topic '%s' is too long", template);
			return EXIT_USAGE;
		}
		memcpy(out + n, put, len);
		n += len;
	}
	out[n] = '\0';
	if (!n || (subscribe ? mosquitto_sub_topic_check(out)
			     : mosquitto_pub_topic_check(out)) != MOSQ_ERR_SUCCESS) {
		cli_error("topic '%s' is not a topic one can %s", out,
			  subscribe ? "subscribe to" : "publish to (no + or #)");
		return EXIT_USAGE;
	}
	return EXIT_OK_;
}

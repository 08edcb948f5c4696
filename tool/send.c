/* danemsg send: seal a message and publish it to each recipient's topic, QoS 1. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "cli.h"
#include "config.h"
#include "dns_opts.h"
#include "message_io.h"
#include "mqtt.h"
#include "transport.h"

#define MAX_MESSAGE (512u * 1024u)
#define MAX_RECIPIENTS 16
#define TOPIC_MAX TRANSPORT_TOPIC_MAX
/* The reference receiver drops larger payloads without a word. */
#define REFERENCE_RECEIVER_MAX 4096

static const char send_usage[] =
	"usage: danemsg send --from NAME --to NAME[,NAME...] [MESSAGE | -] [options]\n"
	"\n"
	"Seals MESSAGE (or standard input) with NAME's key to each recipient's key found in\n"
	"DNS, publishes it with QoS 1 to each recipient's topic, and exits 0 once the broker\n"
	"has acknowledged every copy (PUBACK). With several --broker, a broker that fails\n"
	"gives its place to the next.\n"
	"\n"
	"  --from NAME         the sender: an identity in the identity folder\n"
	"                      (env IDENTITY_NAME)\n"
	"  --to NAMES          recipients, separated by commas (at most 16)\n"
	"  --compat            the reference system's format, for its receivers (warns when\n"
	"                      the sealed message is over their limit of 4096 bytes)\n"
	"  --with-chain        carry the DNSSEC chain of the sender's TLSA records, for\n"
	"                      receivers with no DNS (listen --offline)\n"
	"  --expires S         the message expires S seconds after sealing (with MQTT 5\n"
	"                      the broker also drops it then)\n"
	"  --topic TEMPLATE    the topic; {to} and {from} are replaced by the names,\n"
	"                      {to_path} by the recipient's as a path (a.b.c: c/b/a, for\n"
	"                      brokers that refuse '.' in topics; default {to}: the\n"
	"                      recipient's name, as the reference does)\n"
	"  --timeout-broker S  give up when the broker has not acknowledged within S seconds\n"
	"                      (default 10)\n"
	"  --retry S           when the broker fails, publish the same sealed message again,\n"
	"                      for up to S seconds (default 0: no retry)\n"
	"  --dir DIR           identity folder (env DANEMSG_DIR, CRYPTO_PATH; ~/.danemsg)\n"
	"  --config FILE       settings file (default ~/.config/danemsg/config if present)\n"
	"  -h, --help\n"
	"\n%s\n%s"
	"\n"
	"Exit status: 0 the broker has every copy; 2 usage; 10-15 a recipient's DNS answer\n"
	"(13: temporary, retry later); 14 a recipient publishes no key to encrypt to;\n"
	"27 message over 512 KiB; 28 algorithm; 40 every broker unreachable, refused us, or did\n"
	"not acknowledge in time (nothing or not everything was sent: retry); 1 other errors.\n";

enum {
	OPT_FROM = 'f', OPT_TO = 't', OPT_COMPAT = 'c', OPT_EXPIRES = 'e', OPT_TOPIC = 'T',
	OPT_TIMEOUT_BROKER = 'B', OPT_RETRY = 'R', OPT_DIR = 'd', OPT_CONFIG = 'C', OPT_HELP = 'h',
	OPT_WITH_CHAIN = 'W',
};

static const struct option send_longopts[] = {
	{"from", required_argument, NULL, OPT_FROM},
	{"to", required_argument, NULL, OPT_TO},
	{"compat", no_argument, NULL, OPT_COMPAT},
	{"with-chain", no_argument, NULL, OPT_WITH_CHAIN},
	{"expires", required_argument, NULL, OPT_EXPIRES},
	{"topic", required_argument, NULL, OPT_TOPIC},
	{"timeout-broker", required_argument, NULL, OPT_TIMEOUT_BROKER},
	{"retry", required_argument, NULL, OPT_RETRY},
	{"dir", required_argument, NULL, OPT_DIR},
	{"config", required_argument, NULL, OPT_CONFIG},
	{"help", no_argument, NULL, OPT_HELP},
	CLI_DNS_LONG_OPTIONS,
	CLI_MQTT_LONG_OPTIONS,
	{NULL, 0, NULL, 0},
};

struct send_args {
	const char *from, *to, *topic, *dir_opt, *config;
	danemsg_seal_options seal;
	unsigned long timeout_broker, retry;
	struct cli_dns_opts dns;
	struct cli_mqtt_opts mqtt;
	struct cli_config *cfg;   /* holds the strings the file gave */
};

static int send_option(void *ctx, int code, const char *arg)
{
	struct send_args *a = ctx;
	unsigned long v;
	int taken;

	if ((taken = cli_dns_option(&a->dns, code, arg)) != 0 ||
	    (taken = cli_mqtt_option(&a->mqtt, code, arg)) != 0)
		return taken < 0 ? EXIT_USAGE : EXIT_OK_;
	switch (code) {
	case OPT_FROM: a->from = arg; break;
	case OPT_TO: a->to = arg; break;
	case OPT_COMPAT: a->seal.compat = 1; break;
	case OPT_WITH_CHAIN: a->seal.with_dnssec_chain = 1; break;
	case OPT_EXPIRES:
		if (cli_parse_uint(arg, "--expires", 1, 366u * 86400u, &v))
			return EXIT_USAGE;
		a->seal.expires_in = (uint32_t)v;
		break;
	case OPT_TOPIC: a->topic = arg; break;
	case OPT_TIMEOUT_BROKER:
		if (cli_parse_uint(arg, "--timeout-broker", 1, 3600, &a->timeout_broker))
			return EXIT_USAGE;
		break;
	case OPT_RETRY:
		if (cli_parse_uint(arg, "--retry", 0, 86400, &a->retry))
			return EXIT_USAGE;
		break;
	case OPT_DIR: a->dir_opt = arg; break;
	case OPT_CONFIG: a->config = arg; break;
	default: return EXIT_USAGE;
	}
	return EXIT_OK_;
}

/* Flags, then environment, then the config file. -1: --help was printed. */
static int parse_args(int argc, char **argv, struct send_args *a, const char **message)
{
	static const char *const identity_vars[] = {"IDENTITY_NAME", NULL};
	struct cli_seen seen = {{0}};
	int rc;

	rc = cli_config_getopt(argc, argv, send_longopts, &seen, send_option, a);
	if (rc == -1)
		printf(send_usage, cli_mqtt_help, cli_dns_help);
	if (rc)
		return rc;
	if (argc - optind > 1) {
		cli_error("send takes one MESSAGE argument (quote it), or '-' for standard input");
		return EXIT_USAGE;
	}
	*message = optind < argc ? argv[optind] : NULL;
	if (!a->from)
		a->from = cli_env(identity_vars);
	if ((rc = cli_config_load(a->config, &a->cfg)))
		return rc;
	return cli_config_apply(a->cfg, send_longopts, &seen, send_option, a);
}

/* ---- the command ---- */

static int make_topics(const struct send_args *a, const struct transport *t, const char *from,
		       const char **names, size_t n, char topics[][TOPIC_MAX])
{
	char to[DANEMSG_CREDENTIAL_NAME_MAX];
	for (size_t i = 0; i < n; i++) {
		if (danemsg_credential_name_normalize(names[i], to, sizeof(to))) {
			cli_error("--to: '%s' is not a DNS name", names[i]);
			return EXIT_USAGE;
		}
		if (cli_topic_expand(a->topic ? a->topic : t->default_topic, to, from, 0, topics[i],
				     TOPIC_MAX))
			return EXIT_USAGE;
	}
	return EXIT_OK_;
}

static int seal_and_send(struct send_args *a, char *to_list, const char *message)
{
	const char *names[MAX_RECIPIENTS + 1], *dir;
	char (*topics)[TOPIC_MAX] = NULL, errbuf[512] = "", *sealed = NULL;
	size_t n, msg_len = 0, sealed_len = 0;
	struct cli_broker brokers[CLI_MAX_BROKERS];
	size_t n_brokers;
	danemsg_credential *cred = NULL;
	danemsg_resolver *r = NULL;
	uint8_t *msg = NULL;
	danemsg_err err;
	int rc;

	n = cli_split_names(to_list, names, MAX_RECIPIENTS);
	if (n == 0 || n > MAX_RECIPIENTS) {
		cli_error("--to takes 1 to %d names separated by commas", MAX_RECIPIENTS);
		return EXIT_USAGE;
	}
	if ((rc = cli_brokers_resolve(&a->mqtt, brokers, &n_brokers)))
		return rc;
	if (!(dir = cli_identity_dir(a->dir_opt)))
		return EXIT_USAGE;
	if (!(topics = calloc(n, sizeof(*topics))))
		return EXIT_FAILURE_;
	err = cli_credential_load(dir, a->from, &cred);
	if (err) {
		rc = cli_exit_code(err);
	} else {
		rc = make_topics(a, transport_for(brokers, n_brokers),
				 danemsg_credential_name(cred), names, n, topics);
	}
	if (!rc && message && strcmp(message, "-")) {
		msg_len = strlen(message);
		if (msg_len > MAX_MESSAGE) {
			cli_error("the message is over the limit of %u bytes", MAX_MESSAGE);
			rc = cli_exit_code(DANEMSG_ERR_TOO_LARGE);
		} else if (!(msg = (uint8_t *)strdup(message))) {
			rc = EXIT_FAILURE_;
		}
	} else if (!rc) {
		rc = cli_read_input(NULL, MAX_MESSAGE, &msg, &msg_len);
	}
	if (!rc && cli_resolver_new(&a->dns, &r))
		rc = EXIT_DNS_CONFIG;
	if (!rc) {
		err = danemsg_seal(r, cred, names, n, msg, msg_len, &a->seal, &sealed,
				   &sealed_len, errbuf, sizeof(errbuf));
		if (err) {
			cli_error("seal: %s", errbuf[0] ? errbuf : danemsg_strerror(err));
			rc = cli_exit_code(err);
		} else if (a->seal.compat && sealed_len > REFERENCE_RECEIVER_MAX) {
			cli_error("WARNING: the sealed message is %zu bytes: a reference receiver "
				  "drops messages over %d bytes without a word", sealed_len,
				  REFERENCE_RECEIVER_MAX);
		}
	}
	if (!rc) {
		struct transport_send ts = {
			.opts = &a->mqtt, .brokers = brokers, .n_brokers = n_brokers,
			.topics = topics, .n = n, .payload = sealed, .len = sealed_len,
			.timeout_s = a->timeout_broker, .retry_s = a->retry,
			.expires_in = a->seal.expires_in,
		};
		mosquitto_lib_init();
		a->mqtt.login = cred;
		rc = transport_for(brokers, n_brokers)->send(&ts);
		mosquitto_lib_cleanup();
	}
	free(sealed);
	free(msg);
	free(topics);
	danemsg_resolver_free(r);
	danemsg_credential_free(cred);
	return rc;
}

int cmd_send(int argc, char **argv)
{
	struct send_args a;
	const char *message = NULL;
	char *to = NULL;
	int rc;

	memset(&a, 0, sizeof(a));
	danemsg_seal_options_init(&a.seal);
	a.timeout_broker = 10;
	rc = parse_args(argc, argv, &a, &message);
	if (rc < 0) {
		rc = EXIT_OK_;
	} else if (!rc && (!a.from || !a.to)) {
		cli_error("send needs --from and --to (see 'danemsg send --help')");
		rc = EXIT_USAGE;
	} else if (!rc && !(to = strdup(a.to))) {
		rc = EXIT_FAILURE_;
	} else if (!rc) {
		rc = seal_and_send(&a, to, message);
	}
	free(to);
	cli_config_free(a.cfg);
	return rc;
}

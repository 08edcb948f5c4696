/* danemsg listen: receives messages over MQTT, keeps each in a durable spool before the
 * broker's copy is acknowledged, opens it and delivers it exactly once
 * (docs/messaging.md). Threads: one for the broker connection, N workers, and the main
 * thread, which waits for signals. */
#define _GNU_SOURCE   /* pthread_tryjoin_np */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "cli.h"
#include "config.h"
#include "deliver.h"
#include "dns_opts.h"
#include "journal.h"
#include "message_io.h"
#include "metrics.h"
#include "mqtt.h"
#include "notify.h"
#include "receive_nats.h"
#include "spool.h"
#include "status.h"
#include "transport.h"
#include "transport_nats.h"

#define DEFAULT_MAX_SIZE (1ul << 20)
#define QUEUE_CAP 16384               /* new spool entries indexed in memory; more wait on disk */
#define RETRY_CAP 16384               /* entries waiting for a retry; beyond: quarantined */
#define DELIVERED_HASHES 200000       /* delivered payloads remembered (7 days, at most) */
#define KEEP_HASH_S (7 * 86400)
#define BACKOFF_MAX_S 60
#define RETRY_BACKOFF_MAX_S 300       /* a message's retries: 1 s doubling to 5 min, +-25% */
#define DEFAULT_RETRY_MAX 10
#define DEFAULT_RETRY_AGE 3600
#define BOGUS_RETRY_MAX 5             /* a bogus answer: retried over ~30 s, then final */
#define DEFAULT_QUARANTINE_BYTES (64ul << 20)
#define MAX_ALLOW 64
#define MAX_WORKERS 64
#define DEFAULT_SESSION_EXPIRY (7 * 86400)
/* A message may wait at the broker as long as the session lasts; the replay cache
 * survives restarts (the journal), so a long window stays safe. */
#define DEFAULT_MAX_AGE (7 * 86400)
#define STATUS_INTERVAL_S 2           /* the status file is rewritten this often */
#define STATUS_STALE_S 30             /* --status: older numbers mean the listener is gone */

static const char listen_usage[] =
	"usage: danemsg listen --as NAME [options] [broker options] [DNS options]\n"
	"\n"
	"Receives the messages sent to NAME (its topic, QoS 1, a persistent session), keeps\n"
	"each in a durable spool before the broker's copy is acknowledged, opens it (sender\n"
	"authenticated in DNS with DNSSEC, policy, replay) and delivers it exactly once. Runs\n"
	"until SIGTERM or SIGINT (or --count); one log line per message on standard error.\n"
	"SIGHUP reloads the allow-list and policy (--allow, --max-size, --max-age, --compat)\n"
	"from the config file without dropping the broker session.\n"
	"Under systemd (Type=notify): READY once subscribed, STATUS, watchdog pings, and\n"
	"journald levels instead of timestamps (docs/operations.md).\n"
	"With nats:// brokers every listen process of NAME (here or on other machines)\n"
	"shares one durable JetStream consumer: each message goes to one of them and is\n"
	"acknowledged once delivered; replays are refused by the whole group through the\n"
	"key-value bucket danemsg_replay (docs/messaging.md).\n"
	"\n"
	"  --as NAME            the recipient: an identity in the identity folder\n"
	"                       (env IDENTITY_NAME)\n"
	"  --format text|json   standard output: '<sender> says: <message>' (default; controls\n"
	"                       and bytes that are not UTF-8 escaped: one message, one line),\n"
	"                       or one JSON object per line (from, to, payload, dnssec, jti, ...)\n"
	"  --exec CMD           run /bin/sh -c CMD per message instead: the payload on stdin;\n"
	"                       DANEMSG_FROM, _TO, _JTI, _IAT, _EXP, _DNSSEC, _FORMAT, _ALG in\n"
	"                       the environment; a non-zero exit means not delivered: retried\n"
	"  --exec-timeout S     kill CMD after S seconds (not delivered; default 300)\n"
	"  --allow PATTERN      accept only these senders (exact name or *.SUFFIX); repeatable\n"
	"  --max-size BYTES     refuse larger messages without storing them (default 1048576)\n"
	"  --max-age S          refuse messages issued more than S seconds before they\n"
	"                       arrived (default 604800: as long as the session lasts)\n"
	"  --compat             also accept the reference system's format, which binds no\n"
	"                       recipient, time or id (identical texts: the second is a\n"
	"                       replay within --max-age); default: refused (unsupported)\n"
	"  --no-compat          refuse it (the default)\n"
	"  --workers N          open and deliver N messages at once (default 1: in order)\n"
	"  --state DIR          spool, quarantine and journal (default DIR/NAME.listen); ours\n"
	"                       alone: refused if others can write it\n"
	"  --quarantine-max N   keep at most N refused messages (default 10000)\n"
	"  --quarantine-max-bytes BYTES\n"
	"                       and at most BYTES of them (default 67108864, 64 MiB); beyond,\n"
	"                       only why and the first 64 bytes are kept\n"
	"  --retry-max N        retry a message that fails for a temporary reason (DNS,\n"
	"                       --exec) at most N times (default 10), then quarantine it;\n"
	"                       new messages always go first\n"
	"  --retry-age S        nor later than S seconds after it arrived (default 3600)\n"
	"  --topic TEMPLATE     the topic, {to} replaced by NAME, {to_path} by NAME as a\n"
	"                       path (a.b.c: c/b/a), {from} by + (any sender; default {to})\n"
	"  --client-id ID       the MQTT client id of the session (default danemsg-NAME)\n"
	"  --session-expiry S   with MQTT 5: how long the broker keeps the session while we\n"
	"                       are away (default 604800, 7 days)\n"
	"  --keepalive S        MQTT keepalive (default 30)\n"
	"  --count N, --once    exit 0 after N messages (1) have been delivered\n"
	"  --ready-file FILE    written (our PID) once subscribed\n"
	"  --metrics ADDR:PORT  serve counters in the Prometheus text format at\n"
	"                       http://ADDR:PORT/metrics (off by default; loopback only:\n"
	"                       127.0.0.1:9464 or [::1]:9464)\n"
	"  --metrics-public     allow a --metrics address that is not loopback (the endpoint\n"
	"                       has no authentication)\n"
	"  --nats-ack-wait S    nats://: a message in hand with no word from its listener for\n"
	"                       S seconds goes to another (default 30; set when the\n"
	"                       identity's consumer is created)\n"
	"  --status             print the counters of the listener running with this state\n"
	"                       folder (its state/status file, rewritten every 2 s) and exit:\n"
	"                       0 running, 3 not running\n"
	"  --dir DIR            identity folder (env DANEMSG_DIR, CRYPTO_PATH; ~/.danemsg)\n"
	"  --config FILE        settings file (default ~/.config/danemsg/config if present)\n"
	"  -h, --help\n"
	"\n%s\n%s\n%s"
	"\n"
	"Exit status: 0 stopped by SIGTERM/SIGINT or after --count; 2 usage; 3 (--status)\n"
	"not running; 40 the broker\n"
	"refused the subscription; 1 other errors (state folder, keys, standard output\n"
	"closed). An unreachable broker is retried with backoff, never fatal.\n";

enum {
	OPT_AS = 'a', OPT_FORMAT = 'F', OPT_EXEC = 'x', OPT_EXEC_TIMEOUT = 'X', OPT_ALLOW = 'A',
	OPT_MAX_SIZE = 'm', OPT_MAX_AGE = 'g', OPT_COMPAT = 'c', OPT_NO_COMPAT = 'N',
	OPT_WORKERS = 'w',
	OPT_STATE = 's', OPT_QUARANTINE_MAX = 'Q', OPT_TOPIC = 'T', OPT_CLIENT_ID = 'i',
	OPT_SESSION_EXPIRY = 'E', OPT_KEEPALIVE = 'k', OPT_COUNT = 'n', OPT_ONCE = '1',
	OPT_READY_FILE = 'r', OPT_DIR = 'd', OPT_CONFIG = 'C', OPT_HELP = 'h',
	OPT_QUARANTINE_BYTES = 'B', OPT_RETRY_MAX = 'R', OPT_RETRY_AGE = 'G', OPT_METRICS = 'M',
	OPT_METRICS_PUBLIC = 'P', OPT_STATUS = 'S', OPT_NATS_ACK_WAIT = 'K',
};

static const struct option listen_longopts[] = {
	{"as", required_argument, NULL, OPT_AS},
	{"format", required_argument, NULL, OPT_FORMAT},
	{"exec", required_argument, NULL, OPT_EXEC},
	{"exec-timeout", required_argument, NULL, OPT_EXEC_TIMEOUT},
	{"allow", required_argument, NULL, OPT_ALLOW},
	{"max-size", required_argument, NULL, OPT_MAX_SIZE},
	{"max-age", required_argument, NULL, OPT_MAX_AGE},
	{"compat", no_argument, NULL, OPT_COMPAT},
	{"no-compat", no_argument, NULL, OPT_NO_COMPAT},
	{"workers", required_argument, NULL, OPT_WORKERS},
	{"state", required_argument, NULL, OPT_STATE},
	{"quarantine-max", required_argument, NULL, OPT_QUARANTINE_MAX},
	{"quarantine-max-bytes", required_argument, NULL, OPT_QUARANTINE_BYTES},
	{"retry-max", required_argument, NULL, OPT_RETRY_MAX},
	{"retry-age", required_argument, NULL, OPT_RETRY_AGE},
	{"topic", required_argument, NULL, OPT_TOPIC},
	{"client-id", required_argument, NULL, OPT_CLIENT_ID},
	{"session-expiry", required_argument, NULL, OPT_SESSION_EXPIRY},
	{"keepalive", required_argument, NULL, OPT_KEEPALIVE},
	{"count", required_argument, NULL, OPT_COUNT},
	{"once", no_argument, NULL, OPT_ONCE},
	{"ready-file", required_argument, NULL, OPT_READY_FILE},
	{"dir", required_argument, NULL, OPT_DIR},
	{"config", required_argument, NULL, OPT_CONFIG},
	{"metrics", required_argument, NULL, OPT_METRICS},
	{"metrics-public", no_argument, NULL, OPT_METRICS_PUBLIC},
	{"status", no_argument, NULL, OPT_STATUS},
	{"nats-ack-wait", required_argument, NULL, OPT_NATS_ACK_WAIT},
	{"help", no_argument, NULL, OPT_HELP},
	CLI_DNS_LONG_OPTIONS,
	CLI_CHAIN_LONG_OPTIONS,
	CLI_MQTT_LONG_OPTIONS,
	{NULL, 0, NULL, 0},
};

struct listen_args {
	const char *as, *exec, *state, *dir_opt, *config, *client_id, *topic, *ready_file;
	const char *allow[MAX_ALLOW];
	size_t n_allow;
	int json, compat, metrics_public, status;
	const char *metrics;
	struct sockaddr_storage metrics_addr;
	int metrics_non_loopback;
	unsigned long workers, max_size, max_age, exec_timeout, session_expiry, keepalive;
	unsigned long count, quarantine_max, quarantine_bytes, retry_max, retry_age;
	unsigned long nats_ack_wait;
	struct cli_dns_opts dns;
	struct cli_mqtt_opts mqtt;
	struct cli_config *cfg;
};

static int listen_option(void *ctx, int code, const char *arg)
{
	struct listen_args *a = ctx;
	int taken;

	if ((taken = cli_dns_option(&a->dns, code, arg)) != 0 ||
	    (taken = cli_mqtt_option(&a->mqtt, code, arg)) != 0)
		return taken < 0 ? EXIT_USAGE : EXIT_OK_;
	switch (code) {
	case OPT_AS: a->as = arg; return EXIT_OK_;
	case OPT_FORMAT:
		if (strcmp(arg, "text") && strcmp(arg, "json")) {
			cli_error("--format takes text or json, not '%s'", arg);
			return EXIT_USAGE;
		}
		a->json = !strcmp(arg, "json");
		return EXIT_OK_;
	case OPT_EXEC: a->exec = arg; return EXIT_OK_;
	case OPT_EXEC_TIMEOUT:
		return cli_parse_uint(arg, "--exec-timeout", 1, 86400, &a->exec_timeout)
			       ? EXIT_USAGE : EXIT_OK_;
	case OPT_ALLOW:
		if (a->n_allow == MAX_ALLOW) {
			cli_error("at most %d --allow patterns", MAX_ALLOW);
			return EXIT_USAGE;
		}
		a->allow[a->n_allow++] = arg;
		return EXIT_OK_;
	case OPT_MAX_SIZE:
		return cli_parse_uint(arg, "--max-size", 64, 64ul << 20, &a->max_size)
			       ? EXIT_USAGE : EXIT_OK_;
	case OPT_MAX_AGE:
		return cli_parse_uint(arg, "--max-age", 1, 366ul * 86400, &a->max_age)
			       ? EXIT_USAGE : EXIT_OK_;
	case OPT_COMPAT: a->compat = 1; return EXIT_OK_;
	case OPT_NO_COMPAT: a->compat = 0; return EXIT_OK_;
	case OPT_WORKERS:
		return cli_parse_uint(arg, "--workers", 1, MAX_WORKERS, &a->workers)
			       ? EXIT_USAGE : EXIT_OK_;
	case OPT_STATE: a->state = arg; return EXIT_OK_;
	case OPT_QUARANTINE_MAX:
		return cli_parse_uint(arg, "--quarantine-max", 0, 10000000, &a->quarantine_max)
			       ? EXIT_USAGE : EXIT_OK_;
	case OPT_QUARANTINE_BYTES:
		return cli_parse_uint(arg, "--quarantine-max-bytes", 0, 1ul << 40,
				      &a->quarantine_bytes) ? EXIT_USAGE : EXIT_OK_;
	case OPT_RETRY_MAX:
		return cli_parse_uint(arg, "--retry-max", 0, 1000, &a->retry_max)
			       ? EXIT_USAGE : EXIT_OK_;
	case OPT_RETRY_AGE:
		return cli_parse_uint(arg, "--retry-age", 1, 366ul * 86400, &a->retry_age)
			       ? EXIT_USAGE : EXIT_OK_;
	case OPT_TOPIC: a->topic = arg; return EXIT_OK_;
	case OPT_CLIENT_ID:
		if (!*arg || strlen(arg) > 65535) {
			cli_error("--client-id: 1 to 65535 characters");
			return EXIT_USAGE;
		}
		a->client_id = arg;
		return EXIT_OK_;
	case OPT_SESSION_EXPIRY:
		return cli_parse_uint(arg, "--session-expiry", 1, 4294967295ul,
				      &a->session_expiry) ? EXIT_USAGE : EXIT_OK_;
	case OPT_KEEPALIVE:
		return cli_parse_uint(arg, "--keepalive", 5, 65535, &a->keepalive)
			       ? EXIT_USAGE : EXIT_OK_;
	case OPT_COUNT:
		return cli_parse_uint(arg, "--count", 1, 1000000000, &a->count)
			       ? EXIT_USAGE : EXIT_OK_;
	case OPT_ONCE: a->count = 1; return EXIT_OK_;
	case OPT_READY_FILE: a->ready_file = arg; return EXIT_OK_;
	case OPT_DIR: a->dir_opt = arg; return EXIT_OK_;
	case OPT_CONFIG: a->config = arg; return EXIT_OK_;
	case OPT_METRICS:
		if (metrics_parse_addr(arg, &a->metrics_addr, &a->metrics_non_loopback)) {
			cli_error("--metrics takes ADDR:PORT (127.0.0.1:9464, [::1]:9464), "
				  "not '%s'", arg);
			return EXIT_USAGE;
		}
		a->metrics = arg;
		return EXIT_OK_;
	case OPT_METRICS_PUBLIC: a->metrics_public = 1; return EXIT_OK_;
	case OPT_STATUS: a->status = 1; return EXIT_OK_;
	case OPT_NATS_ACK_WAIT:
		return cli_parse_uint(arg, "--nats-ack-wait", 3, 3600, &a->nats_ack_wait)
			       ? EXIT_USAGE : EXIT_OK_;
	default: return EXIT_USAGE;
	}
}

/* Flags, then environment, then the config file. -1: --help was printed. */
static int parse_args(int argc, char **argv, struct listen_args *a)
{
	static const char *const identity_vars[] = {"IDENTITY_NAME", NULL};
	struct cli_seen seen = {{0}};
	int rc;

	rc = cli_config_getopt(argc, argv, listen_longopts, &seen, listen_option, a);
	if (rc == -1)
		printf(listen_usage, cli_mqtt_help, cli_dns_help, cli_chain_help);
	if (rc)
		return rc;
	if (optind != argc) {
		cli_error("listen takes only options (see 'danemsg listen --help')");
		return EXIT_USAGE;
	}
	if (!a->as)
		a->as = cli_env(identity_vars);
	/* either flag settles the question: the file's compat or no-compat gives way to it */
	seen.flag[OPT_COMPAT] |= seen.flag[OPT_NO_COMPAT];
	seen.flag[OPT_NO_COMPAT] = seen.flag[OPT_COMPAT];
	if ((rc = cli_config_load(a->config, &a->cfg)) ||
	    (rc = cli_config_apply(a->cfg, listen_longopts, &seen, listen_option, a)))
		return rc;
	if (!a->as) {
		cli_error("listen needs --as NAME (see 'danemsg listen --help')");
		return EXIT_USAGE;
	}
	if (a->exec && a->json) {
		cli_error("--exec and --format json exclude each other");
		return EXIT_USAGE;
	}
	if (a->metrics && a->metrics_non_loopback && !a->metrics_public) {
		cli_error("--metrics %s is not a loopback address: the endpoint has no "
			  "authentication (--metrics-public allows it)", a->metrics);
		return EXIT_USAGE;
	}
	return EXIT_OK_;
}

static void listen_defaults(struct listen_args *a)
{
	memset(a, 0, sizeof(*a));
	a->workers = 1;
	a->max_size = DEFAULT_MAX_SIZE;
	a->max_age = DEFAULT_MAX_AGE;
	a->exec_timeout = 300;
	a->session_expiry = DEFAULT_SESSION_EXPIRY;
	a->keepalive = 30;
	a->quarantine_max = 10000;
	a->quarantine_bytes = DEFAULT_QUARANTINE_BYTES;
	a->retry_max = DEFAULT_RETRY_MAX;
	a->retry_age = DEFAULT_RETRY_AGE;
	a->nats_ack_wait = NATS_DEFAULT_ACK_WAIT;
}

/* ---- the listener ---- */

struct listener {
	struct listen_args *a;
	char name[DANEMSG_CREDENTIAL_NAME_MAX];   /* ours, no trailing dot */
	char topic[1024], client_id[600], state[4200];
	struct cli_broker brokers[CLI_MAX_BROKERS];
	size_t n_brokers;
	const struct cli_broker *broker;   /* the one in use: the next one after a failure */
	danemsg_credential *keys[CLI_MAX_KEYS];
	size_t n_keys;
	danemsg_resolver *r;             /* NULL with --offline */
	danemsg_trust_anchor *ta;        /* --offline: what carried chains are checked with */
	danemsg_replay_cache *replay;   /* ids of delivered messages (and of those in hand) */
	struct spool *spool;
	struct spool_queue *queue;
	struct journal *journal;
	struct deliver_opts deliver;
	struct mosquitto *mosq;
	mosquitto_property *connect_props;
	const struct transport *engine;  /* by the brokers' scheme */
	struct nats_receiver *nats;      /* nats://: the receiving side (receive_nats.c) */
	struct worker *workers;          /* their policies (nats://: used by its workers) */
	atomic_int stopping, connecting, fatal;
	atomic_ulong max_size;           /* --max-size, which SIGHUP may change */
	struct metrics metrics;
	struct metrics_server *http;     /* --metrics */
	int argc;                        /* the command line, read again on SIGHUP */
	char **argv;
	int64_t start_time;
	atomic_int connected;            /* written by the broker thread, read by metrics */
	/* the broker thread's own */
	int ready, backoff;
	int was_connected;        /* this connection got as far as CONNACK */
	int fell_back;            /* this broker refused MQTT 5: again with 3.1.1, not the next */
	int ever_connected;       /* a CONNACK since we started: the next one is a reconnect */
};

struct worker {
	struct listener *L;
	danemsg_policy *policy;
	_Atomic(danemsg_policy *) next_policy;   /* from SIGHUP: taken before the next message */
	pthread_t thread;
	int started;
};

static void listen_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One line on standard error: the UTC time (under systemd, journald's level instead: it
 * stamps lines itself), then the message (controls made visible). */
static void listen_log(const char *fmt, ...)
{
	char msg[2000], stamp[32] = "", line[2048];
	time_t now = time(NULL);
	const char *level;
	struct tm tm;
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	level = notify_log_prefix(msg);
	if (!*level && gmtime_r(&now, &tm))
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ ", &tm);
	n = snprintf(line, sizeof(line), "%s%s%s\n", level, stamp, msg);
	fwrite(line, 1, n < (int)sizeof(line) ? (size_t)n : sizeof(line) - 1, stderr);
}

/* "3a7b1c2d9e0f.17": enough of an entry's name for the logs. */
static const char *short_name(const char *name, char *buf, size_t len)
{
	const char *dot = strchr(name, '.');
	snprintf(buf, len, "%.12s%s", name, dot ? dot : "");
	return buf;
}

static void display_name(const char *name, char *out, size_t len)
{
	size_t n = strlen(name);
	if (n && name[n - 1] == '.')
		n--;
	snprintf(out, len, "%.*s", (int)n, name);
}

/* ---- the replay hook: remember an id when its message is delivered, not before ---- */

/* The message a worker has in hand. */
struct attempt {
	struct spool_item *item;
	int claimed;
	int64_t expiry;
	char sender[300], id[200];
};

static _Thread_local struct attempt *current_attempt;

static void claim_key(const char *sender, const char *id, uint8_t key[32])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (!c || !EVP_DigestInit_ex(c, EVP_sha256(), NULL) ||
	    !EVP_DigestUpdate(c, sender, strlen(sender) + 1) ||
	    !EVP_DigestUpdate(c, id, strlen(id)) || !EVP_DigestFinal_ex(c, key, NULL))
		memset(key, 0, 32);   /* no claim can match it */
	EVP_MD_CTX_free(c);
}

/*
 * danemsg_open asks this as the last check. The id goes into the replay cache at once, so
 * that a second copy in hand elsewhere is refused; if delivering then fails, the entry
 * keeps a claim on it, and its next attempt is not taken for a replay of itself. After a
 * restart the cache holds only the journal's ids: delivered messages.
 */
static danemsg_err replay_hook(void *ctx, const char *sender, const char *id,
			       int64_t expires_at, int64_t now)
{
	struct listener *L = ctx;
	struct attempt *at = current_attempt;
	danemsg_replay_ops inner = danemsg_replay_cache_ops(L->replay);
	danemsg_err err = inner.check_and_add(inner.ctx, sender, id, expires_at, now);
	uint8_t key[32];

	if (!at)
		return err;
	claim_key(sender, id, key);
	if (err == DANEMSG_ERR_REPLAYED && at->item->has_claim &&
	    !memcmp(at->item->claim, key, sizeof(key)))
		err = DANEMSG_OK;
	if (!err) {
		memcpy(at->item->claim, key, sizeof(key));
		at->item->has_claim = 1;
		at->claimed = 1;
		at->expiry = expires_at;
		snprintf(at->sender, sizeof(at->sender), "%s", sender);
		snprintf(at->id, sizeof(at->id), "%s", id);
	}
	return err;
}

/* ---- workers ---- */

/* 1, 2, 4 ... 300 s, times 0.75 to 1.25 so that messages that failed together are not
 * all retried in the same instant. */
static int64_t retry_delay_ns(unsigned attempts)
{
	int64_t base = attempts >= 9 ? RETRY_BACKOFF_MAX_S : 1 << attempts;
	uint16_t r = 0;
	RAND_bytes((unsigned char *)&r, sizeof(r));
	return base * 1000000000 / 4 * 3 + base * 1000000000 / 2 * r / 65536;
}

/* Errors that are not the message's fault: try it again later. A bogus answer may be an
 * attack on the path that stops: a few tries, then final. */
static unsigned retry_limit(const struct listener *L, danemsg_err err)
{
	if (err == DANEMSG_ERR_DNS_BOGUS)
		return BOGUS_RETRY_MAX;
	if (danemsg_err_is_temporary(err) || err == DANEMSG_ERR_NOMEM ||
	    err == DANEMSG_ERR_IO || err == DANEMSG_ERR_DNS_CONFIG)
		return (unsigned)L->a->retry_max;
	return 0;
}

static void quarantine(struct listener *L, struct spool_item *item, const void *data,
		       size_t size, const char *reason, const char *detail);

/* Puts item back in the queue, due after delay_ns; false when the retry queue is full. */
static int requeue(struct listener *L, struct spool_item *item, int64_t delay_ns,
		   const char *what, const char *why)
{
	char sn[SPOOL_NAME_MAX];
	item->attempts++;
	snprintf(item->last_error, sizeof(item->last_error), "%s", what);
	if (spool_queue_retry(L->queue, item, delay_ns))
		return 0;
	atomic_fetch_add(&L->metrics.retried, 1);
	listen_log("retry in %lld s: %s: %s (%s)",
		   (long long)((delay_ns + 500000000) / 1000000000), what, why,
		   short_name(item->name, sn, sizeof(sn)));
	return 1;
}

/* Tries item again later, unless it has had its attempts or waited long enough: then it
 * goes to quarantine with why, and the operator can put it back (danemsg quarantine). */
static void retry_later(struct listener *L, struct spool_item *item, unsigned limit,
			const char *what, const char *why, const void *data, size_t size)
{
	char sn[SPOOL_NAME_MAX], detail[600];
	int64_t age_s = (spool_real_ns() - item->received_ns) / 1000000000;

	short_name(item->name, sn, sizeof(sn));
	if (item->attempts >= limit || age_s >= (int64_t)L->a->retry_age) {
		snprintf(detail, sizeof(detail), "gave up after %u attempts over %lld s: %s",
			 item->attempts + 1, (long long)age_s, why);
		quarantine(L, item, data, size, what, detail);
		return;
	}
	if (!requeue(L, item, retry_delay_ns(item->attempts), what, why)) {
		snprintf(detail, sizeof(detail), "the retry queue is full (%d): %s", RETRY_CAP,
			 why);
		quarantine(L, item, data, size, what, detail);
	}
}

/* A refusal, and what spool_quarantine kept of it (rc). */
static void count_refused(struct listener *L, const char *reason, int rc, size_t size)
{
	metrics_refused(&L->metrics, reason);
	if (rc == SPOOL_Q_KEPT || rc == SPOOL_Q_HEAD_ONLY) {
		atomic_fetch_add(&L->metrics.quarantined, 1);
		if (rc == SPOOL_Q_KEPT)
			atomic_fetch_add(&L->metrics.quarantined_bytes, size);
	}
}

static void quarantine(struct listener *L, struct spool_item *item, const void *data,
		       size_t size, const char *reason, const char *detail)
{
	char sn[SPOOL_NAME_MAX], head[4 * SPOOL_HEAD_BYTES + 1] = "";
	int rc = spool_quarantine(L->spool, item->name, 1, data, size, item->received_ns,
				  reason, detail);
	short_name(item->name, sn, sizeof(sn));
	if (rc < 0) {   /* the disk is full: try again, unbounded; or find it in a scan */
		if (!requeue(L, item, retry_delay_ns(item->attempts), "cannot quarantine",
			     strerror(errno)))
			spool_queue_done(L->queue, item->name);
		return;
	}
	count_refused(L, reason, rc, data ? size : 0);
	listen_log("rejected: %s: %s (%s%s)", reason, detail,
		   rc != SPOOL_Q_FULL ? "quarantine/" : "", sn);
	if (data)
		spool_escape(data, size < SPOOL_HEAD_BYTES ? size : SPOOL_HEAD_BYTES, head,
			     sizeof(head));
	if (rc == SPOOL_Q_FULL)
		listen_log("quarantine is full (--quarantine-max %lu, --quarantine-max-bytes %lu): "
			   "%s dropped (%zu bytes, %s, first bytes: %s)", L->a->quarantine_max,
			   L->a->quarantine_bytes, sn, size, reason, head);
	else if (rc == SPOOL_Q_HEAD_ONLY)
		listen_log("quarantine is full (--quarantine-max-bytes %lu): the payload of %s "
			   "dropped (%zu bytes), its reason and first bytes kept",
			   L->a->quarantine_bytes, sn, size);
	spool_queue_done(L->queue, item->name);
}

/* Writes the journal line of a delivered message (before its spool file goes). */
static void journal_delivery(struct listener *L, const char *sender, const char *id,
			     int64_t expiry, const uint8_t sha[32], int mid)
{
	struct journal_entry e = {0};
	int64_t now = (int64_t)time(NULL);

	e.expiry = expiry;
	e.sender = sender;
	e.id = id;
	memcpy(e.sha256, sha, 32);
	e.mid = mid;
	e.keep_until = now + KEEP_HASH_S > e.expiry ? now + KEEP_HASH_S : e.expiry;
	if (journal_record(L->journal, &e))
		listen_log("WARNING: delivered, but the journal cannot record it (%s): a restart "
			   "may deliver it again", strerror(errno));
}

/* The log line and the counters of a delivered message; --count stops us. */
static void count_delivered(struct listener *L, const danemsg_message *m, int64_t received_ns)
{
	char from[300];
	unsigned long n;

	display_name(danemsg_message_from(m), from, sizeof(from));
	listen_log("accepted from %s (dnssec %s%s, %s, id %s)", from,
		   danemsg_dnssec_name(danemsg_message_dnssec(m)),
		   danemsg_message_insecure_allowed(m) ? ", INSECURE allowed" : "",
		   danemsg_message_format(m) == DANEMSG_FORMAT_COMPAT ? "compat" : "native",
		   danemsg_message_id(m));
	n = metrics_delivered(&L->metrics, spool_real_ns() - received_ns);
	if (L->a->count && n >= L->a->count && !atomic_exchange(&L->stopping, 1)) {
		listen_log("%lu messages delivered (--count): stopping", n);
		spool_queue_wake(L->queue);
	}
}

static void delivered(struct listener *L, struct spool_item *item, const struct attempt *at,
		      const danemsg_message *m, const uint8_t sha[32], int mid)
{
	if (at->claimed)
		journal_delivery(L, at->sender, at->id, at->expiry, sha, mid);
	else
		journal_delivery(L, danemsg_message_from(m), danemsg_message_id(m),
				 (int64_t)time(NULL), sha, mid);
	spool_remove(L->spool, item->name);
	spool_queue_done(L->queue, item->name);
	count_delivered(L, m, item->received_ns);
}

/* Nobody reads our standard output any more: nothing can be delivered. The message stays
 * in the spool for the next run. */
static void output_gone(struct listener *L, struct spool_item *item, const char *why)
{
	listen_log("not delivered: %s: stopping", why);
	spool_queue_retry(L->queue, item, 0);
	atomic_store(&L->fatal, EXIT_FAILURE_);
	atomic_store(&L->stopping, 1);
	spool_queue_wake(L->queue);
}

/* The same bytes were delivered before: the broker's redelivery, or a replay. */
static int already_delivered(struct listener *L, struct spool_item *item,
			     const uint8_t sha[32], int mid, const uint8_t *data, size_t len)
{
	char sn[SPOOL_NAME_MAX], detail[200];
	int dmid;

	if (!journal_delivered(L->journal, sha, &dmid))
		return 0;
	if (dmid == mid || mid == SPOOL_MID_RETAINED) {
		listen_log("duplicate: %s was delivered already: dropped",
			   short_name(item->name, sn, sizeof(sn)));
		spool_remove(L->spool, item->name);
		spool_queue_done(L->queue, item->name);
	} else {
		snprintf(detail, sizeof(detail), "the same message was delivered before (as "
			 "packet %d; this copy came as packet %d)", dmid, mid);
		quarantine(L, item, data, len, "replayed", detail);
	}
	return 1;
}

static void process(struct worker *w, struct spool_item *item)
{
	struct listener *L = w->L;
	struct attempt at = {.item = item};
	char errbuf[600] = "", why[400] = "";
	uint8_t sha[32], actual[32], *data = NULL;
	size_t len = 0;
	int64_t received_ns;
	danemsg_message *m = NULL;
	danemsg_err err;
	int mid, rc;

	if (spool_name_parse(item->name, sha, &mid)) {
		spool_queue_done(L->queue, item->name);
		return;
	}
	if (spool_read(L->spool, item->name, atomic_load(&L->max_size), &data, &len,
		       &received_ns)) {
		if (errno == ENOENT)
			spool_queue_done(L->queue, item->name);
		else if (errno == E2BIG)
			quarantine(L, item, NULL, 0, "too-large", "over --max-size");
		else
			retry_later(L, item, (unsigned)L->a->retry_max, "cannot read the spool",
				    strerror(errno), NULL, 0);
		return;
	}
	SHA256(data, len, actual);
	if (memcmp(actual, sha, sizeof(sha))) {
		quarantine(L, item, data, len, "damaged", "the spool file does not match its name");
	} else if (!already_delivered(L, item, sha, mid, data, len)) {
		/* judged as of its arrival: a message that waited here for DNS is still fresh */
		current_attempt = &at;
		err = danemsg_open_at(L->r, (const danemsg_credential *const *)L->keys, L->n_keys,
				      w->policy, (int64_t)(received_ns / 1000000000), data, len,
				      &m, errbuf, sizeof(errbuf));
		current_attempt = NULL;
		if (err && retry_limit(L, err))
			retry_later(L, item, retry_limit(L, err), danemsg_err_name(err),
				    errbuf[0] ? errbuf : danemsg_strerror(err), data, len);
		else if (err)
			quarantine(L, item, data, len, danemsg_err_name(err),
				   errbuf[0] ? errbuf : danemsg_strerror(err));
		else if ((rc = deliver_message(&L->deliver, m, why, sizeof(why))) == DELIVER_GONE)
			output_gone(L, item, why);
		else if (rc)
			retry_later(L, item, (unsigned)L->a->retry_max, "not delivered", why,
				    data, len);
		else
			delivered(L, item, &at, m, sha, mid);
	}
	danemsg_message_free(m);
	free(data);
}

/* The worker's policy, the one SIGHUP left for it if any. */
static const danemsg_policy *worker_policy(struct worker *w)
{
	danemsg_policy *reloaded = atomic_exchange(&w->next_policy, NULL);
	if (reloaded) {
		danemsg_policy_free(w->policy);
		w->policy = reloaded;
	}
	return w->policy;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct spool_item item;
	while (spool_queue_take(w->L->queue, &item, &w->L->stopping)) {
		worker_policy(w);
		process(w, &item);
	}
	return NULL;
}

/* ---- what the NATS engine's workers use of ours (receive_nats.h) ---- */

static void write_ready_file(const char *path);

static danemsg_err host_open(void *ctx, size_t w, const uint8_t *data, size_t len,
			     int64_t arrived, danemsg_message **m, char *errbuf, size_t errlen)
{
	struct listener *L = ctx;
	return danemsg_open_at(L->r, (const danemsg_credential *const *)L->keys, L->n_keys,
			       worker_policy(&L->workers[w]), arrived, data, len, m, errbuf,
			       errlen);
}

static unsigned host_retry_limit(void *ctx, danemsg_err err)
{
	return retry_limit(ctx, err);
}

static int host_deliver(void *ctx, const danemsg_message *m, char *why, size_t whylen)
{
	struct listener *L = ctx;
	return deliver_message(&L->deliver, m, why, whylen);
}

static void host_delivered(void *ctx, const danemsg_message *m, const uint8_t sha[32], int mid,
			   int64_t received_ns)
{
	struct listener *L = ctx;
	int64_t exp = danemsg_message_exp(m);
	journal_delivery(L, danemsg_message_from(m), danemsg_message_id(m),
			 exp ? exp : (int64_t)time(NULL), sha, mid);
	count_delivered(L, m, received_ns);
}

static int host_was_delivered(void *ctx, const uint8_t sha[32], int *mid)
{
	struct listener *L = ctx;
	return journal_delivered(L->journal, sha, mid);
}

static void host_refuse(void *ctx, const char *name, const void *data, size_t len,
			const char *reason, const char *detail)
{
	struct listener *L = ctx;
	char sn[SPOOL_NAME_MAX];
	int kept = spool_in_quarantine(L->spool, name) ? SPOOL_Q_FULL :
		   spool_quarantine(L->spool, name, 0, data, len, 0, reason, detail);
	count_refused(L, reason, kept, data ? len : 0);
	listen_log("rejected: %s: %s (%s%s)", reason, detail, kept > 0 ? "quarantine/" : "",
		   short_name(name, sn, sizeof(sn)));
}

static void host_gone(void *ctx, const char *why)
{
	struct listener *L = ctx;
	listen_log("not delivered: %s: stopping", why);
	atomic_store(&L->fatal, EXIT_FAILURE_);
	atomic_store(&L->stopping, 1);
}

static void host_ready(void *ctx)
{
	struct listener *L = ctx;
	if (L->a->ready_file)
		write_ready_file(L->a->ready_file);
	notify_ready();
}

/* The receiving side on nats://: the stream is the spool (receive_nats.c). */
static int setup_nats(struct listener *L, struct listen_args *a)
{
	char subject[NATS_SUBJECT_MAX];
	struct nats_host h = {
		.ctx = L, .me = L->name, .n_workers = a->workers, .max_size = a->max_size,
		.max_age = a->max_age, .ack_wait = a->nats_ack_wait, .stopping = &L->stopping,
		.open = host_open, .retry_limit = host_retry_limit,
		.retry_delay_ns = retry_delay_ns, .deliver = host_deliver,
		.delivered = host_delivered, .was_delivered = host_was_delivered,
		.refuse = host_refuse, .gone = host_gone, .ready = host_ready, .log = listen_log,
	};
	int rc = nats_subject_of(L->topic, 1, subject, sizeof(subject));
	if (!rc)
		rc = nats_receiver_new(&a->mqtt, L->brokers, L->n_brokers,
				       nats_stream_name(&a->mqtt), subject, &h, &L->nats);
	return rc;
}

/* ---- the broker connection (its own thread) ---- */

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
	struct listener *L = obj;
	size_t len = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
	int mid = msg->retain ? SPOOL_MID_RETAINED : msg->mid, dmid, kept;
	char name[SPOOL_NAME_MAX], sn[SPOOL_NAME_MAX], detail[200];
	unsigned long max_size = atomic_load(&L->max_size);
	uint8_t sha[32];

	atomic_fetch_add(&L->metrics.received, 1);
	SHA256(msg->payload ? msg->payload : (const void *)"", len, sha);
	spool_name(sha, mid, name);
	short_name(name, sn, sizeof(sn));
	if (len > max_size) {
		snprintf(detail, sizeof(detail), "%zu bytes, over the limit of %lu (not stored)",
			 len, max_size);
		kept = spool_in_quarantine(L->spool, name) ? SPOOL_Q_FULL :
		       spool_quarantine(L->spool, name, 0, NULL, len, 0, "too-large", detail);
		count_refused(L, "too-large", kept, 0);
		listen_log("rejected: too-large: %s (%s)", detail, sn);
		return;
	}
	if (journal_delivered(L->journal, sha, &dmid)) {
		/* QoS 0 (packet id 0) is never redelivered: the same bytes again are a replay */
		if (msg->retain || (mid && dmid == mid)) {
			listen_log("duplicate: %s of a message delivered already: dropped (%s)",
				   msg->retain ? "a retained copy" : "the broker's redelivery", sn);
		} else if (spool_in_quarantine(L->spool, name)) {
			listen_log("duplicate: %s is in the quarantine already: dropped", sn);
		} else {
			snprintf(detail, sizeof(detail), "the same message was delivered before "
				 "(as packet %d; this copy came as packet %d)", dmid, mid);
			kept = spool_quarantine(L->spool, name, 0, msg->payload, len, 0,
						"replayed", detail);
			count_refused(L, "replayed", kept, len);
			listen_log("rejected: replayed: %s (%s%s)", detail,
				   kept > 0 ? "quarantine/" : "", sn);
		}
		return;
	}
	if (spool_has(L->spool, name) || spool_in_quarantine(L->spool, name)) {
		listen_log("duplicate: %s is in the %s already: dropped", sn,
			   spool_has(L->spool, name) ? "spool" : "quarantine");
		return;
	}
	if (spool_store(L->spool, name, msg->payload, len)) {
		/* Not stored, so not acknowledged: cut the connection before libmosquitto sends
		 * the PUBACK it has queued; the broker sends the message again later. */
		listen_log("cannot store a message in the spool (%s): not acknowledged, "
			   "reconnecting (%s)", strerror(errno), sn);
		shutdown(mosquitto_socket(m), SHUT_RDWR);
		return;
	}
	spool_queue_add(L->queue, name, spool_real_ns());
}

static void write_ready_file(const char *path)
{
	char tmp[4200], pid[32];
	int fd, n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, pid, (size_t)n) != n || close(fd) || rename(tmp, path)) {
		listen_log("cannot write the ready file %s: %s", path, strerror(errno));
		if (fd >= 0)
			unlink(tmp);
	}
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *granted,
			 const mosquitto_property *props)
{
	struct listener *L = obj;
	if (n < 1 || granted[0] >= 128) {
		listen_log("the broker %s refused the subscription to %s: stopping", L->broker->url,
			   L->topic);
		atomic_store(&L->fatal, EXIT_BROKER);
		atomic_store(&L->stopping, 1);
		return;
	}
	listen_log("subscribed to %s (QoS %d)%s", L->topic, granted[0], granted[0] < 1 ?
		   ": WARNING: the broker downgraded to QoS 0, messages sent while we are away "
		   "may be lost" : "");
	if (!L->ready && L->a->ready_file)
		write_ready_file(L->a->ready_file);
	if (!L->ready)
		notify_ready();
	L->ready = 1;
}

static void on_connect(struct mosquitto *m, void *obj, int rc, int flags,
		       const mosquitto_property *props)
{
	struct listener *L = obj;
	int v5 = cli_mqtt_version(&L->a->mqtt) == MQTT_PROTOCOL_V5;
	if (rc && cli_mqtt_fall_back(&L->a->mqtt, m, rc)) {
		L->fell_back = 1;
		listen_log("the broker %s does not speak MQTT 5: using 3.1.1, with which a message "
			   "is read whole before --max-size can refuse it (bound the size on the "
			   "broker)", L->broker->url);
		return;
	}
	if (rc) {
		listen_log("the broker %s refused the connection: %s", L->broker->url,
			   rc <= 5 ? mosquitto_connack_string(rc) : mosquitto_reason_string(rc));
		return;
	}
	L->connected = 1;
	L->was_connected = 1;
	if (L->ever_connected)
		atomic_fetch_add(&L->metrics.reconnects, 1);
	L->ever_connected = 1;
	L->backoff = 1;
	listen_log("connected to %s as %s (%s)", L->broker->url, L->client_id,
		   flags & 1 ? "session resumed" : "new session");
	/* Every time: the session may be new. With MQTT 5, retained messages only come with
	 * a new subscription; with 3.1.1 a retained copy is recognized by its bytes. */
	rc = mosquitto_subscribe_v5(m, NULL, L->topic, 1, v5 ? MQTT_SUB_OPT_SEND_RETAIN_NEW : 0,
				    NULL);
	if (rc)
		listen_log("cannot subscribe to %s: %s", L->topic, cli_mqtt_strerror(rc));
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc, const mosquitto_property *p)
{
	struct listener *L = obj;
	L->connected = 0;
}

static void sleep_unless_stopping(struct listener *L, unsigned seconds)
{
	for (unsigned i = 0; i < seconds * 10 && !atomic_load(&L->stopping); i++) {
		struct timespec t = {0, 100000000};
		nanosleep(&t, NULL);
	}
}

static int broker_connect(struct listener *L)
{
	int keepalive = (int)L->a->keepalive;
	if (cli_mqtt_login(L->mosq, &L->a->mqtt, L->broker))   /* a fresh token each time */
		return MOSQ_ERR_AUTH;
	if (cli_mqtt_version(&L->a->mqtt) == MQTT_PROTOCOL_V5)   /* the properties every time */
		return mosquitto_connect_bind_v5(L->mosq, L->broker->host, L->broker->port,
						 keepalive, NULL, L->connect_props);
	return mosquitto_connect(L->mosq, L->broker->host, L->broker->port, keepalive);
}

static void *broker_main(void *arg)
{
	struct listener *L = arg;
	const struct cli_broker *from;
	char why[200];
	sigset_t usr1;
	int rc;

	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);   /* the main thread's way to interrupt a blocking connect */
	pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);
	L->backoff = 1;
	while (!atomic_load(&L->stopping)) {
		unsigned delay;
		atomic_store(&L->connecting, 1);
		rc = atomic_load(&L->stopping) ? MOSQ_ERR_SUCCESS : broker_connect(L);
		atomic_store(&L->connecting, 0);
		if (rc == MOSQ_ERR_SUCCESS) {
			while (!atomic_load(&L->stopping) &&
			       (rc = mosquitto_loop(L->mosq, 200, 1)) == MOSQ_ERR_SUCCESS)
				;
			if (atomic_load(&L->stopping))
				break;
		}
		delay = (unsigned)L->backoff;
		L->backoff = L->backoff * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : L->backoff * 2;
		snprintf(why, sizeof(why), "%s", cli_mqtt_strerror(rc));
		if (*why && why[strlen(why) - 1] == '.')   /* libmosquitto ends some with '.' */
			why[strlen(why) - 1] = '\0';
		from = L->broker;
		/* the next node: the persistent session lives in the cluster, not in one node */
		if (!L->fell_back)
			L->broker = &L->brokers[(size_t)(L->broker - L->brokers + 1) %
						L->n_brokers];
		L->fell_back = 0;
		listen_log("%s %s: %s; trying %s in %u s",
			   L->was_connected ? "lost the connection to" : "cannot connect to",
			   from->url, why, from == L->broker ? "again" : L->broker->url, delay);
		L->connected = L->was_connected = 0;
		sleep_unless_stopping(L, delay);
	}
	if (L->connected) {
		mosquitto_disconnect(L->mosq);
		for (int i = 0; i < 20 && mosquitto_loop(L->mosq, 50, 1) == MOSQ_ERR_SUCCESS; i++)
			;
	}
	return NULL;
}

/* ---- set-up and the main thread ---- */

static void on_usr1(int sig)
{
	(void)sig;
}

static int make_policy(const struct listen_args *a, struct listener *L, danemsg_policy **out)
{
	/* nats://: the group's replay check, in the engine's bucket */
	danemsg_replay_ops hook = L->nats ? nats_receiver_replay_ops(L->nats)
					  : (danemsg_replay_ops){DANEMSG_REPLAY_OPS_VERSION,
								 replay_hook, L};
	danemsg_policy *p;
	if (danemsg_policy_new(&p))
		return EXIT_FAILURE_;
	for (size_t i = 0; i < a->n_allow; i++)
		if (danemsg_policy_allow_sender(p, a->allow[i])) {
			cli_error("--allow: '%s' is not a name or *.SUFFIX pattern", a->allow[i]);
			danemsg_policy_free(p);
			return EXIT_USAGE;
		}
	danemsg_policy_set_max_size(p, a->max_size);
	danemsg_policy_set_freshness(p, (uint32_t)a->max_age, 60);
	danemsg_policy_set_accept_compat(p, a->compat);
	danemsg_policy_set_replay(p, hook);
	danemsg_policy_set_chain_anchor(p, L->ta, a->dns.chain_at);
	*out = p;
	return EXIT_OK_;
}

/* The state folder: --state, or NAME.listen beside the identity folder dir. */
static int state_folder(const struct listen_args *a, const char *dir, const char *name,
			char *out, size_t len)
{
	if (a->state) {
		snprintf(out, len, "%s", a->state);
		return EXIT_OK_;
	}
	return spool_state_dir(dir, name, out, len) ? EXIT_USAGE : EXIT_OK_;
}

/* --status: what the listener running with that state folder last wrote. */
static int show_status(const struct listen_args *a)
{
	char name[DANEMSG_CREDENTIAL_NAME_MAX], state[4200];
	const char *dir = NULL;
	int rc;

	if (danemsg_credential_name_normalize(a->as, name, sizeof(name))) {
		cli_error("--as: '%s' is not a DNS name", a->as);
		return EXIT_USAGE;
	}
	if (!a->state && !(dir = cli_identity_dir(a->dir_opt)))
		return EXIT_USAGE;
	if ((rc = state_folder(a, dir, name, state, sizeof(state))))
		return rc;
	return status_show(state, STATUS_STALE_S);
}

static int setup(struct listener *L, struct listen_args *a)
{
	const char *dir;
	int rc;

	if (danemsg_credential_name_normalize(a->as, L->name, sizeof(L->name))) {
		cli_error("--as: '%s' is not a DNS name", a->as);
		return EXIT_USAGE;
	}
	if ((rc = cli_brokers_resolve(&a->mqtt, L->brokers, &L->n_brokers)))
		return rc;
	L->engine = transport_for(L->brokers, L->n_brokers);
	if ((rc = cli_topic_expand(a->topic ? a->topic : L->engine->default_topic, L->name, "+",
				   1, L->topic, sizeof(L->topic))))
		return rc;
	L->broker = &L->brokers[0];
	snprintf(L->client_id, sizeof(L->client_id), "%s%s", a->client_id ? "" : "danemsg-",
		 a->client_id ? a->client_id : L->name);
	if (!(dir = cli_identity_dir(a->dir_opt)))
		return EXIT_USAGE;
	if ((rc = cli_load_keyring(dir, L->name, L->keys, &L->n_keys)))
		return rc;
	if ((rc = state_folder(a, dir, L->name, L->state, sizeof(L->state))))
		return rc;
	if (cli_receiver_new(&a->dns, &L->r, &L->ta))
		return EXIT_DNS_CONFIG;
	if (danemsg_replay_cache_new(100000, &L->replay))
		return EXIT_FAILURE_;
	if ((rc = spool_open(L->state, a->quarantine_max, a->quarantine_bytes, &L->spool)))
		return rc;
	{
		char path[4300];
		snprintf(path, sizeof(path), "%s/journal", L->state);
		if ((rc = journal_open(path, L->replay, DELIVERED_HASHES, &L->journal)))
			return rc;
	}
	if (spool_queue_new(L->spool, QUEUE_CAP, RETRY_CAP, &L->queue))
		return EXIT_FAILURE_;
	atomic_store(&L->max_size, a->max_size);
	L->start_time = (int64_t)time(NULL);
	L->deliver.format = a->exec ? DELIVER_EXEC : a->json ? DELIVER_JSON : DELIVER_TEXT;
	L->deliver.exec = a->exec;
	L->deliver.exec_timeout = (unsigned)a->exec_timeout;
	L->deliver.me = L->name;
	if (L->engine == &transport_nats)
		return setup_nats(L, a);
	if (cli_mqtt_version(&a->mqtt) == MQTT_PROTOCOL_V5) {
		/* the broker keeps the session while we are away, and sends us nothing larger
		 * than we accept (room for the topic and headers) */
		unsigned long max_packet = a->max_size + 65536;
		if (mosquitto_property_add_int32(&L->connect_props,
						 MQTT_PROP_SESSION_EXPIRY_INTERVAL,
						 (uint32_t)a->session_expiry) ||
		    mosquitto_property_add_int32(&L->connect_props, MQTT_PROP_MAXIMUM_PACKET_SIZE,
						 (uint32_t)max_packet))
			return EXIT_FAILURE_;
	}
	a->mqtt.login = L->keys[0];
	L->mosq = cli_mqtt_new(&a->mqtt, L->broker, L->client_id, 0, L);
	if (!L->mosq)
		return EXIT_FAILURE_;
	/* Threaded: libmosquitto then only queues the PUBACK while on_message runs, and sends
	 * it after on_message has stored the message (docs/messaging.md). */
	mosquitto_threaded_set(L->mosq, true);
	mosquitto_connect_v5_callback_set(L->mosq, on_connect);
	mosquitto_disconnect_v5_callback_set(L->mosq, on_disconnect);
	mosquitto_subscribe_v5_callback_set(L->mosq, on_subscribe);
	mosquitto_message_callback_set(L->mosq, on_message);
	return EXIT_OK_;
}

static void teardown(struct listener *L)
{
	metrics_server_stop(L->http);   /* first: it reads the queue and the resolver */
	nats_receiver_free(L->nats);
	if (L->mosq)
		mosquitto_destroy(L->mosq);
	mosquitto_property_free_all(&L->connect_props);
	spool_queue_free(L->queue);
	journal_close(L->journal);
	spool_close(L->spool);
	danemsg_replay_cache_free(L->replay);
	danemsg_resolver_free(L->r);
	danemsg_trust_anchor_free(L->ta);
	cli_free_keyring(L->keys, L->n_keys);
}

/* The numbers read when they are rendered (any thread: the HTTP one too). */
static void listen_gauges(void *ctx, struct metrics_gauges *g)
{
	struct listener *L = ctx;
	danemsg_cache_stats cs;
	size_t fresh, retrying;

	spool_queue_counts(L->queue, &fresh, &retrying);
	g->spool_depth = fresh + retrying;
	g->retrying = retrying;
	danemsg_cache_stats_init(&cs);
	danemsg_resolver_cache_stats(L->r, &cs);
	g->dns_queries = cs.queries;
	g->dns_cache_hits = cs.hits;
	g->dns_cache_misses = cs.misses;
	g->dns_cache_entries = cs.entries;
	g->connected = L->nats ? nats_receiver_connected(L->nats) : atomic_load(&L->connected);
	g->start_time = L->start_time;
	g->pid = (int64_t)getpid();
	g->now = (int64_t)time(NULL);
}

/* For `listen --status`: the metrics in the state folder. */
static void write_status(struct listener *L)
{
	struct metrics_gauges g = {0};
	char *text = malloc(METRICS_TEXT_MAX);
	size_t n;

	if (!text)
		return;
	listen_gauges(L, &g);
	n = metrics_render(&L->metrics, &g, text, METRICS_TEXT_MAX);
	if (n && status_write(L->state, text, n))
		listen_log("cannot write the status file in %s: %s", L->state, strerror(errno));
	free(text);
}

/*
 * SIGHUP: reads the command line and the config file again and gives each worker a
 * policy with the new allow-list, --max-size, --max-age and --compat, which it takes
 * before its next message. The broker session stays; other settings wait for a restart.
 */
static void reload(struct listener *L, struct worker *workers, size_t n_workers)
{
	struct listen_args b;
	danemsg_policy *p[MAX_WORKERS] = {0};
	int rc;

	listen_defaults(&b);
	rc = parse_args(L->argc, L->argv, &b);
	for (size_t i = 0; !rc && i < n_workers; i++)
		rc = make_policy(&b, L, &p[i]);
	if (rc) {
		listen_log("cannot reload the settings (SIGHUP): keeping those in use");
		for (size_t i = 0; i < n_workers; i++)
			danemsg_policy_free(p[i]);
		cli_config_free(b.cfg);
		return;
	}
	for (size_t i = 0; i < n_workers; i++)
		danemsg_policy_free(atomic_exchange(&workers[i].next_policy, p[i]));
	atomic_store(&L->max_size, b.max_size);
	listen_log("reloaded (SIGHUP): %zu --allow pattern%s, --max-size %lu, --max-age %lu, "
		   "compat %s", b.n_allow, b.n_allow == 1 ? "" : "s", b.max_size, b.max_age,
		   b.compat ? "accepted" : "refused");
	cli_config_free(b.cfg);
}

/* Waits for a stop signal, or for the workers to stop us (--count, fatal); reloads on
 * SIGHUP, keeps the status file fresh. */
static void wait_for_stop(struct listener *L, const sigset_t *signals, struct worker *workers,
			  size_t n_workers)
{
	time_t last_status = 0;

	while (!atomic_load(&L->stopping)) {
		struct timespec t = {0, 200000000};
		int sig = sigtimedwait(signals, NULL, &t);
		if (sig == SIGHUP) {
			reload(L, workers, n_workers);
		} else if (sig > 0) {
			listen_log("%s: stopping after the message in hand", strsignal(sig));
			atomic_store(&L->stopping, 1);
		}
		notify_tick(atomic_load(&L->metrics.delivered));
		if (time(NULL) - last_status >= STATUS_INTERVAL_S) {
			write_status(L);
			last_status = time(NULL);
		}
	}
	notify_stopping();
	spool_queue_wake(L->queue);
}

static void join_broker_thread(struct listener *L, pthread_t t)
{
	/* a connect() in progress can block for long: interrupt it */
	while (pthread_tryjoin_np(t, NULL) == EBUSY) {
		struct timespec pause = {0, 50000000};
		if (atomic_load(&L->connecting))
			pthread_kill(t, SIGUSR1);
		nanosleep(&pause, NULL);
	}
}

/* nats://: the engine's workers instead of ours and the broker thread. */
static int run_nats(struct listener *L, const sigset_t *stop_signals, struct worker *workers,
		    size_t n_workers)
{
	int rc = EXIT_OK_;
	write_status(L);
	if (nats_receiver_start(L->nats))
		rc = EXIT_FAILURE_;
	else
		wait_for_stop(L, stop_signals, workers, n_workers);
	atomic_store(&L->stopping, 1);
	nats_receiver_join(L->nats);
	if (!rc)
		rc = atomic_load(&L->fatal);
	write_status(L);
	listen_log("stopped: %lu delivered", atomic_load(&L->metrics.delivered));
	return rc;
}

static int run(struct listener *L, struct worker *workers, size_t n_workers)
{
	sigset_t stop_signals, blocked;
	struct sigaction sa;
	pthread_t broker;
	int rc = EXIT_OK_;

	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGHUP);   /* not a stop: a reload */
	blocked = stop_signals;
	sigaddset(&blocked, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &blocked, NULL);   /* threads inherit: only we take them */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;   /* no SA_RESTART: it interrupts connect() */
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* after the mask: its thread must not take a SIGHUP or SIGTERM (and die of it) */
	if (L->a->metrics && metrics_server_start(&L->a->metrics_addr, &L->metrics,
						  listen_gauges, L, &L->http)) {
		cli_error("--metrics %s: cannot listen there (in use? not an address of ours?)",
			  L->a->metrics);
		return EXIT_FAILURE_;
	}

	listen_log("listening as %s on %s at %s; state in %s", L->name, L->topic, L->broker->url,
		   L->state);
	if (L->nats)
		return run_nats(L, &stop_signals, workers, n_workers);
	for (size_t i = 0; i < n_workers; i++) {
		if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i])) {
			cli_error("cannot start a worker thread");
			atomic_store(&L->stopping, 1);
			rc = EXIT_FAILURE_;
			break;
		}
		workers[i].started = 1;
	}
	if (!rc)
		write_status(L);   /* before any message: its room is taken while there is room */
	if (!rc && pthread_create(&broker, NULL, broker_main, L)) {
		cli_error("cannot start the broker thread");
		atomic_store(&L->stopping, 1);
		rc = EXIT_FAILURE_;
	} else if (!rc) {
		wait_for_stop(L, &stop_signals, workers, n_workers);
		join_broker_thread(L, broker);
	}
	spool_queue_wake(L->queue);
	for (size_t i = 0; i < n_workers; i++)
		if (workers[i].started)
			pthread_join(workers[i].thread, NULL);
	if (!rc)
		rc = atomic_load(&L->fatal);
	write_status(L);   /* the final numbers */
	listen_log("stopped: %lu delivered", atomic_load(&L->metrics.delivered));
	return rc;
}

int cmd_listen(int argc, char **argv)
{
	struct listen_args a;
	struct listener L;
	struct worker *workers = NULL;
	int rc;

	listen_defaults(&a);
	memset(&L, 0, sizeof(L));
	L.a = &a;
	L.argc = argc;
	L.argv = argv;
	rc = parse_args(argc, argv, &a);
	if (rc < 0) {
		cli_config_free(a.cfg);
		return EXIT_OK_;
	}
	if (!rc && a.status) {
		rc = show_status(&a);
	} else if (!rc) {
		mosquitto_lib_init();
		rc = setup(&L, &a);
		if (!rc && !(workers = calloc(a.workers, sizeof(*workers))))
			rc = EXIT_FAILURE_;
		L.workers = workers;
		for (size_t i = 0; !rc && i < a.workers; i++) {
			workers[i].L = &L;
			rc = make_policy(&a, &L, &workers[i].policy);
		}
		if (!rc)
			rc = run(&L, workers, a.workers);
		for (size_t i = 0; workers && i < a.workers; i++) {
			danemsg_policy_free(workers[i].policy);
			danemsg_policy_free(atomic_load(&workers[i].next_policy));
		}
		free(workers);
		teardown(&L);
		mosquitto_lib_cleanup();
	}
	cli_config_free(a.cfg);
	return rc;
}

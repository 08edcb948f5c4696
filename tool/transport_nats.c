/*
 * The NATS JetStream engine (libnats). send publishes each copy into a stream, on the
 * subject of its topic, with Nats-Msg-Id a digest of (subject, sealed bytes): a publish
 * retried after a lost acknowledgement is stored once. listen's side is
 * tool/listen/receive_nats.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "cli.h"
#include "transport.h"
#include "transport_nats.h"

#define SEND_RECONNECTS 10          /* send: about 2 s of reconnecting, then the next try */
#define RECONNECT_WAIT_MS 200
#define CONNECT_TIMEOUT_MS 2000
#define PUBLISH_WAIT_S 5            /* for one publish's acknowledgement */

const char *nats_stream_name(const struct cli_mqtt_opts *o)
{
	return o->nats_stream ? o->nats_stream : NATS_DEFAULT_STREAM;
}

const char *nats_why(natsStatus s)
{
	natsStatus last = NATS_OK;
	const char *text = nats_GetLastError(&last);
	return text && *text ? text : natsStatus_GetText(s);
}

static int subject_level_ok(const char *level, size_t len, int subscribe)
{
	if (len == 0)
		return 0;
	if (subscribe && len == 1 && (*level == '*' || *level == '>'))
		return 1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)level[i];
		if (c <= ' ' || c == 0x7f || c == '.' || c == '*' || c == '>')
			return 0;
	}
	return 1;
}

int nats_subject_of(const char *topic, int subscribe, char *out, size_t len)
{
	size_t n = strlen(topic);
	if (n == 0 || n >= len) {
		cli_error("topic '%s' is %s for a NATS subject", topic, n ? "too long" : "empty");
		return EXIT_USAGE;
	}
	for (size_t i = 0; i <= n; i++) {
		char c = topic[i];
		out[i] = c == '/' ? '.' : subscribe && c == '+' ? '*' : subscribe && c == '#' ? '>'
									       : c;
	}
	for (const char *p = out;;) {
		size_t level = strcspn(p, ".");
		if (!subject_level_ok(p, level, subscribe) || (p[0] == '>' && p[level])) {
			cli_error("topic '%s' cannot be a NATS subject (levels separated by '/', "
				  "none empty, no '.', '*', '>' or space in a level)", topic);
			return EXIT_USAGE;
		}
		if (!p[level])
			return EXIT_OK_;
		p += level + 1;
	}
}

static natsStatus set_servers(natsOptions *opts, const struct cli_broker *brokers, size_t n)
{
	const char *urls[CLI_MAX_BROKERS];
	for (size_t i = 0; i < n; i++)
		urls[i] = brokers[i].url;
	return natsOptions_SetServers(opts, urls, (int)n);
}

int nats_connect(const struct cli_mqtt_opts *o, const struct cli_broker *brokers, size_t n,
		 int forever, natsConnection **nc, jsCtx **js)
{
	static const char *const user_vars[] = {"DANEMSG_MQTT_USERNAME", NULL};
	static const char *const pass_vars[] = {"DANEMSG_MQTT_PASSWORD", NULL};
	const char *user = o->username ? o->username : cli_env(user_vars);
	const char *pass = o->password ? o->password : cli_env(pass_vars);
	natsOptions *opts = NULL;
	natsStatus s;

	*nc = NULL;
	*js = NULL;
	if (o->cafile || o->capath || o->certfile || o->keyfile || o->auth_dane) {
		cli_error("nats:// brokers: no TLS (--cafile, --capath, --cert, --key) and no "
			  "--auth dane");
		return EXIT_USAGE;
	}
	s = natsOptions_Create(&opts);
	if (s == NATS_OK)
		s = set_servers(opts, brokers, n);
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(opts, CONNECT_TIMEOUT_MS);
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(opts, forever ? -1 : SEND_RECONNECTS);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(opts, RECONNECT_WAIT_MS);
	if (s == NATS_OK && (user || pass))
		s = natsOptions_SetUserInfo(opts, user, pass);
	if (s == NATS_OK)
		s = natsConnection_Connect(nc, opts);
	if (s == NATS_OK)
		s = natsConnection_JetStream(js, *nc, NULL);
	natsOptions_Destroy(opts);
	if (s != NATS_OK) {
		cli_error("NATS %s%s: cannot connect: %s", brokers[0].url,
			  n > 1 ? " (and the other nodes)" : "", nats_why(s));
		jsCtx_Destroy(*js);
		natsConnection_Destroy(*nc);
		*js = NULL;
		*nc = NULL;
		return EXIT_BROKER;
	}
	return EXIT_OK_;
}

int nats_stream_ensure(jsCtx *js, const char *stream, size_t n_brokers, long max_msg_size)
{
	const char *subjects[] = {NATS_STREAM_SUBJECTS};
	jsStreamInfo *si = NULL;
	jsStreamConfig cfg;
	jsErrCode jerr = 0;
	natsStatus s = js_GetStreamInfo(&si, js, stream, NULL, &jerr);

	if (s == NATS_OK) {
		jsStreamInfo_Destroy(si);
		return EXIT_OK_;
	}
	if (s != NATS_NOT_FOUND && jerr != JSStreamNotFoundErr) {
		cli_error("NATS stream %s: %s", stream, nats_why(s));
		return EXIT_BROKER;
	}
	jsStreamConfig_Init(&cfg);
	cfg.Name = stream;
	cfg.Subjects = subjects;
	cfg.SubjectsLen = 1;
	cfg.Storage = js_FileStorage;
	cfg.Retention = js_WorkQueuePolicy;
	cfg.Replicas = n_brokers < 3 ? (int64_t)n_brokers : 3;
	cfg.MaxAge = (int64_t)NATS_STREAM_MAX_AGE_S * 1000000000;
	cfg.MaxMsgSize = (int32_t)max_msg_size;
	s = js_AddStream(&si, js, &cfg, NULL, &jerr);
	jsStreamInfo_Destroy(si);
	/* another process created it meanwhile: as good */
	if (s != NATS_OK && jerr != JSStreamNameExistErr) {
		cli_error("NATS: cannot create the stream %s for %s: %s", stream,
			  NATS_STREAM_SUBJECTS, nats_why(s));
		return EXIT_BROKER;
	}
	return EXIT_OK_;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Nats-Msg-Id: SHA-256 of subject, NUL, payload, in hex. */
static void message_id(const char *subject, const char *payload, size_t len, char id[65])
{
	unsigned char md[32];
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (!c || !EVP_DigestInit_ex(c, EVP_sha256(), NULL) ||
	    !EVP_DigestUpdate(c, subject, strlen(subject) + 1) ||
	    !EVP_DigestUpdate(c, payload, len) || !EVP_DigestFinal_ex(c, md, NULL))
		memset(md, 0, sizeof(md));
	EVP_MD_CTX_free(c);
	danemsg_hex_encode(md, sizeof(md), id, 65);
}

/* One copy, tried until deadline; the client fails over to another node meanwhile. */
static int publish_copy(struct transport_send *t, jsCtx *js, const char *subject,
			double deadline)
{
	const char *stream = nats_stream_name(t->opts);
	natsMsg *msg = NULL;
	jsPubOptions po;
	char id[65];
	int made_stream = 0;
	natsStatus s;

	message_id(subject, t->payload, t->len, id);
	s = natsMsg_Create(&msg, subject, NULL, t->payload, (int)t->len);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(msg, "Nats-Msg-Id", id);
	if (s != NATS_OK) {
		natsMsg_Destroy(msg);
		cli_error("NATS: cannot make the message: %s", nats_why(s));
		return EXIT_FAILURE_;
	}
	jsPubOptions_Init(&po);
	po.ExpectStream = stream;
	for (;;) {
		jsPubAck *ack = NULL;
		jsErrCode jerr = 0;
		double left = deadline - now_s();
		struct timespec pause = {0, 200000000};
		if (left <= 0)
			break;
		/* an answer lost with a node: ask again (Nats-Msg-Id keeps it one copy) */
		po.MaxWait = left > PUBLISH_WAIT_S ? PUBLISH_WAIT_S * 1000
						 : (int64_t)(left * 1000) + 1;
		s = js_PublishMsg(&ack, js, msg, &po, &jerr);
		jsPubAck_Destroy(ack);
		if (s == NATS_OK) {
			natsMsg_Destroy(msg);
			return EXIT_OK_;
		}
		/* no stream takes the subject, or its leader is being elected: make sure
		 * of the stream once it answers, and try again */
		if (s == NATS_NO_RESPONDERS && !made_stream &&
		    nats_stream_ensure(js, stream, t->n_brokers, 1l << 20) == EXIT_OK_) {
			made_stream = 1;
			continue;
		}
		/* the stream answered, and refused (a JetStream code); no responders or no
		 * answer while a node is lost and a leader elected are worth another try */
		if (jerr >= 10000 && s != NATS_NO_RESPONDERS && s != NATS_TIMEOUT) {
			cli_error("NATS stream %s refused %s: %s", stream, subject, nats_why(s));
			natsMsg_Destroy(msg);
			return EXIT_BROKER;
		}
		fprintf(stderr, "danemsg: NATS: publishing to %s: %s; trying again\n", subject,
			nats_why(s));
		nanosleep(&pause, NULL);
	}
	cli_error("NATS: the stream %s did not acknowledge %s in time (--timeout-broker, "
		  "--retry)", stream, subject);
	natsMsg_Destroy(msg);
	return EXIT_BROKER;
}

static int nats_send(struct transport_send *t)
{
	double deadline = now_s() + (double)t->timeout_s + (double)t->retry_s;
	char subject[NATS_SUBJECT_MAX];
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	int rc = EXIT_OK_;

	for (size_t i = 0; i < t->n; i++)
		if (nats_subject_of(t->topics[i], 0, subject, sizeof(subject)))
			return EXIT_USAGE;
	if (t->len > (1u << 20)) {
		cli_error("NATS: a message over 1 MiB cannot be published");
		return EXIT_TOO_LARGE;
	}
	for (;;) {
		struct timespec pause = {1, 0};
		rc = nats_connect(t->opts, t->brokers, t->n_brokers, 0, &nc, &js);
		if (rc != EXIT_BROKER || now_s() + 1 > deadline)
			break;
		fprintf(stderr, "danemsg: trying again in 1 s\n");
		nanosleep(&pause, NULL);
	}
	for (size_t i = 0; !rc && i < t->n; i++) {
		nats_subject_of(t->topics[i], 0, subject, sizeof(subject));
		rc = publish_copy(t, js, subject, deadline);
	}
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	nats_CloseAndWait(5000);   /* the library's threads and memory, all gone */
	return rc;
}

const struct transport transport_nats = {
	.name = "NATS",
	.default_topic = "danemsg/{to_path}",
	.send = nats_send,
};

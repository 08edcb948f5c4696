/*
 * danemsg_mosquitto: a mosquitto 2.0 plugin (API version 5) that admits only identities
 * DNS vouches for (docs/broker-auth.md). A client logs in with its identity's name as
 * the user name and a login token (include/danemsg/token.h) as the password, or with the
 * token as MQTT 5 single-step enhanced authentication (method "danemsg-jws"); the token's
 * signature is checked against the identity's DNSSEC-secure TLSA records. The ACL lets an
 * identity subscribe to its own topic only and publish only to identities' topics.
 *
 * Every callback runs in the broker's only thread: DNS lookups are asynchronous, cached
 * by TTL (positive and negative), and a callback waits for one at most login_wait_ms,
 * drawing on a budget of stall_budget_ms that refills at that many ms per second (no run
 * of waits is longer, and over time they take at most that share). A login whose
 * lookup did not finish in time is refused as "server unavailable"; the answer keeps
 * coming in the background (tick event), so the client's next attempt finds it cached.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include <openssl/x509v3.h>

#include <danemsg.h>

#include "acl_topic.h"

#define AUTH_METHOD "danemsg-jws"
#define DEFAULT_TOPIC "{to}"
#define MAX_ANCHORS 8
#define LOG_NAME_MAX 80

struct plugin {
	mosquitto_plugin_id_t *id;
	danemsg_resolver *r;
	danemsg_replay_cache *replay;
	danemsg_replay_ops replay_ops;  /* the token policy's, of replay */
	danemsg_policy *allow;          /* its allow-list only; NULL: every name */
	danemsg_token_policy tokens;
	char *audience, *topic, *anchor_list;
	STACK_OF(X509) *cas;            /* plugin_opt_cafile: the listener's CAs, or NULL */
	const char *anchors[MAX_ANCHORS + 1];
	unsigned login_wait_ms, stall_budget_ms;
	int any_client_id;              /* plugin_opt_client_ids any */
	/* Waiting for DNS draws on a bucket of stall_budget_ms that refills at that many ms
	 * per second: no stretch of waits is longer than the bucket, and over time they take
	 * at most that share of the thread. In nanoseconds, so that frequent calls add up. */
	uint64_t credit_ns, credit_at_us;
	struct wait *abandoned;         /* lookups nobody waits for; freed by their answer */
};

/* One asynchronous lookup that a callback may stop waiting for. */
struct wait {
	int done;
	danemsg_err status;
	danemsg_identity *id;           /* the answer, for the waiter to verify against */
	struct plugin *abandoned_by;    /* set when nobody waits any more */
	struct wait *prev, *next;       /* in the plugin's list of those */
};

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* How long this callback may wait for DNS now, in microseconds. */
static uint64_t wait_allowed_us(struct plugin *p, uint64_t now)
{
	uint64_t cap = (uint64_t)p->stall_budget_ms * 1000000u;
	/* stall_budget_ms ms per s = stall_budget_ms ns per us */
	p->credit_ns += (now - p->credit_at_us) * p->stall_budget_ms;
	if (p->credit_ns > cap)
		p->credit_ns = cap;
	p->credit_at_us = now;
	if (p->credit_ns < 1000000u)   /* under a millisecond: not worth a poll */
		return 0;
	return p->credit_ns / 1000u < (uint64_t)p->login_wait_ms * 1000u ?
	       p->credit_ns / 1000u : (uint64_t)p->login_wait_ms * 1000u;
}

/* Outside text made safe for the log: printable ASCII, bounded. */
static const char *safe(const char *in, char out[LOG_NAME_MAX + 4])
{
	size_t i = 0;
	if (!in)
		return "(none)";
	for (; in[i] && i < LOG_NAME_MAX; i++)
		out[i] = in[i] >= ' ' && in[i] <= '~' ? in[i] : '?';
	strcpy(out + i, in[i] ? "..." : "");
	return out;
}

/* ---- bounded DNS ---- */

static void on_lookup(void *arg, danemsg_err status, danemsg_identity *id)
{
	struct wait *w = arg;
	if (w->abandoned_by) {   /* the answer is in the cache for the next attempt */
		danemsg_identity_unref(id);
		if (w->prev)
			w->prev->next = w->next;
		else
			w->abandoned_by->abandoned = w->next;
		if (w->next)
			w->next->prev = w->prev;
		free(w);
		return;
	}
	w->status = id ? status : DANEMSG_ERR_NOMEM;
	w->id = id;
	w->done = 1;
}

/*
 * The lookup status of name: from the cache at once, or after a wait bounded by
 * login_wait_ms and by the stall budget's credit; DANEMSG_ERR_TIMEOUT when the answer did
 * not come in time (it still goes to the cache when it comes). *out (may be NULL) gets the
 * answer, to verify against: a second lookup could miss the cache (a TTL of 0) and block.
 */
static danemsg_err bounded_lookup(struct plugin *p, const char *name, danemsg_identity **out)
{
	struct wait *w = calloc(1, sizeof(*w));
	uint64_t start = now_us(), deadline, spent_ns;
	danemsg_err err;

	if (!w)
		return DANEMSG_ERR_NOMEM;
	if ((err = danemsg_resolver_lookup_async(p->r, name, on_lookup, w))) {
		free(w);
		return err;
	}
	deadline = start + wait_allowed_us(p, start);
	for (uint64_t t = start; !w->done && t < deadline; t = now_us())
		danemsg_resolver_wait(p->r, (int)((deadline - t + 999) / 1000));
	spent_ns = (now_us() - start) * 1000u;
	p->credit_ns = p->credit_ns > spent_ns ? p->credit_ns - spent_ns : 0;
	if (!w->done) {   /* the lookup goes on; on_lookup frees w (or plugin_free does) */
		w->abandoned_by = p;
		w->next = p->abandoned;
		if (w->next)
			w->next->prev = w;
		p->abandoned = w;
		return DANEMSG_ERR_TIMEOUT;
	}
	err = w->status;
	if (out)
		*out = w->id;
	else
		danemsg_identity_unref(w->id);
	free(w);
	return err;
}

/* ---- login ---- */

static int refuse(const char *how, const char *user, const char *why)
{
	char u[LOG_NAME_MAX + 4];
	mosquitto_log_printf(MOSQ_LOG_NOTICE, "danemsg: refused %s of %s: %s", how,
			     safe(user, u), why);
	return MOSQ_ERR_AUTH;
}

/* Is id prefix itself, or prefix, '/' and anything? Never prefix and '-' or '.': those
 * continue a DNS name, so NAME-x could be another identity's name (or its listener's id). */
static int id_is(const char *id, const char *prefix)
{
	size_t n = strlen(prefix);
	return !strncasecmp(id, prefix, n) && (!id[n] || id[n] == '/');
}

/*
 * A client id binds a session: whoever connects with it takes the session over (its
 * subscriptions, its queued messages) and drops the one connected. So an identity gets
 * only ids of its own: NAME or danemsg-NAME (what listen uses), each alone or followed by
 * '/' and anything ('/' occurs in no DNS name); or, for a clean session, a random id a
 * client library or the broker made up (mosq-, auto-).
 */
static int client_id_ok(const struct plugin *p, struct mosquitto *client, const char *name)
{
	const char *id = mosquitto_client_id(client);
	char own[DANEMSG_CREDENTIAL_NAME_MAX + 8];

	if (p->any_client_id)
		return 1;
	if (!id)
		return 0;
	snprintf(own, sizeof(own), "danemsg-%s", name);
	return id_is(id, name) || id_is(id, own) ||
	       (mosquitto_client_clean_session(client) &&
		(!strncmp(id, "mosq-", 5) || !strncmp(id, "auto-", 5)));
}

/* Refuses a client id that is not name's own (before any DNS). */
static int check_client_id(const struct plugin *p, struct mosquitto *client, const char *how,
			   const char *name)
{
	char why[LOG_NAME_MAX + 64], id[LOG_NAME_MAX + 4];
	if (client_id_ok(p, client, name))
		return MOSQ_ERR_SUCCESS;
	snprintf(why, sizeof(why), "client id %s is not one of its own",
		 safe(mosquitto_client_id(client), id));
	return refuse(how, name, why);
}

/*
 * Checks a token presented by username (NULL: the token's sub) and fills claims.
 * Cheap checks first (form, claims, allow-list, client id), then a bounded lookup, then the
 * signature and the replay cache.
 */
static int check_token(struct plugin *p, struct mosquitto *client, const char *how,
		       const char *username, const char *token, size_t len,
		       danemsg_token_claims *claims)
{
	char errbuf[300];
	danemsg_identity *id = NULL;
	danemsg_err err = danemsg_token_parse(token, len, claims);

	if (err)
		return refuse(how, username, err == DANEMSG_ERR_UNSUPPORTED ?
			      "not a login token (typ)" : "the password is not a login token");
	if ((err = danemsg_token_check(&p->tokens, username, claims, 0, errbuf, sizeof(errbuf))))
		return refuse(how, username, errbuf);
	if (p->allow && danemsg_policy_check_sender(p->allow, claims->sub))
		return refuse(how, claims->sub, "not on the allow-list");
	if (check_client_id(p, client, how, claims->sub))
		return MOSQ_ERR_AUTH;
	if ((err = bounded_lookup(p, claims->sub, &id)) == DANEMSG_ERR_TIMEOUT) {
		refuse(how, claims->sub, "DNS did not answer in time (try again)");
		return MOSQ_ERR_UNKNOWN;   /* not "refused": mosquitto closes the connection */
	}
	if (!id)
		return refuse(how, claims->sub, danemsg_strerror(err));
	err = danemsg_token_verify_identity(id, &p->tokens, username, token, len, 0, claims,
					    errbuf, sizeof(errbuf));
	danemsg_identity_unref(id);
	if (err)
		return refuse(how, claims->sub, errbuf);
	mosquitto_log_printf(MOSQ_LOG_INFO, "danemsg: %s logged in (%s, %s)", claims->sub, how,
			     claims->alg);
	return MOSQ_ERR_SUCCESS;
}

/* The first DNS name in a certificate's subjectAltName, normalized, into name. */
static int san_name(X509 *cert, char *name, size_t len)
{
	GENERAL_NAMES *sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	int found = 0;

	for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans) && !found; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
		char raw[DANEMSG_CREDENTIAL_NAME_MAX + 2];
		int n = g->type == GEN_DNS ? ASN1_STRING_length(g->d.dNSName) : 0;
		if (n <= 0 || (size_t)n >= sizeof(raw))
			continue;
		memcpy(raw, ASN1_STRING_get0_data(g->d.dNSName), (size_t)n);
		raw[n] = '\0';
		found = strlen(raw) == (size_t)n &&
			!danemsg_credential_name_normalize(raw, name, len);
	}
	GENERAL_NAMES_free(sans);
	return found;
}

/*
 * A TLS client certificate (its CA in the listener's cafile, which mosquitto checked):
 * it must be one the TLSA records at the name in its SAN authenticate (DANE-TA: the
 * organisation's CA; DANE-EE works too, if the broker trusts the certificate at all).
 * The plugin API gives the client's certificate but not its chain: the CAs of
 * plugin_opt_cafile stand in for it, so that DANE-TA digests (2 0 1, 2 1 1, ...) find
 * their CA; the certificate must still chain to the one a record matches.
 */
static int check_certificate(struct plugin *p, struct mosquitto *client, X509 *cert,
			     const char *username)
{
	char name[DANEMSG_CREDENTIAL_NAME_MAX], user[DANEMSG_CREDENTIAL_NAME_MAX];
	danemsg_identity *id = NULL;
	danemsg_err err;

	if (!san_name(cert, name, sizeof(name)))
		return refuse("certificate login", username, "no DNS name in its subjectAltName");
	if (username && (danemsg_credential_name_normalize(username, user, sizeof(user)) ||
			 strcmp(user, name)))
		return refuse("certificate login", username, "the certificate names another");
	if (p->allow && danemsg_policy_check_sender(p->allow, name))
		return refuse("certificate login", name, "not on the allow-list");
	if (check_client_id(p, client, "certificate login", name))
		return MOSQ_ERR_AUTH;
	if ((err = bounded_lookup(p, name, &id)) == DANEMSG_ERR_TIMEOUT) {
		refuse("certificate login", name, "DNS did not answer in time (try again)");
		return MOSQ_ERR_UNKNOWN;   /* not "refused": mosquitto closes the connection */
	}
	if (!err)
		err = danemsg_identity_authenticate_cert(id, cert, p->cas, NULL);
	danemsg_identity_unref(id);
	if (err)
		return refuse("certificate login", name, danemsg_strerror(err));
	if (mosquitto_set_username(client, name))
		return MOSQ_ERR_AUTH;
	mosquitto_log_printf(MOSQ_LOG_INFO, "danemsg: %s logged in (TLS client certificate)", name);
	return MOSQ_ERR_SUCCESS;
}

static int on_basic_auth(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_basic_auth *ed = event_data;
	danemsg_token_claims claims;
	X509 *cert;
	int rc;

	(void)event;
	danemsg_token_claims_init(&claims);
	if (!ed->password && (cert = mosquitto_client_certificate(ed->client))) {
		rc = check_certificate(userdata, ed->client, cert, ed->username);
		X509_free(cert);
		return rc;
	}
	if (!ed->username || !ed->password)
		return refuse("login", ed->username, "no user name and token (anonymous)");
	return check_token(userdata, ed->client, "login", ed->username, ed->password,
			   strlen(ed->password), &claims);
}

static int on_ext_auth_start(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_extended_auth *ed = event_data;
	const char *username = mosquitto_client_username(ed->client);
	danemsg_token_claims claims;
	char token[DANEMSG_TOKEN_MAX_LEN + 1];
	int rc;

	(void)event;
	danemsg_token_claims_init(&claims);
	if (!ed->auth_method || strcmp(ed->auth_method, AUTH_METHOD))
		return MOSQ_ERR_PLUGIN_DEFER;
	if (!ed->data_in || ed->data_in_len == 0 || ed->data_in_len > DANEMSG_TOKEN_MAX_LEN)
		return refuse(AUTH_METHOD, username, "no token, or one too long");
	memcpy(token, ed->data_in, ed->data_in_len);
	token[ed->data_in_len] = '\0';
	rc = check_token(userdata, ed->client, AUTH_METHOD, username, token, ed->data_in_len,
			 &claims);
	if (rc == MOSQ_ERR_SUCCESS && !username)   /* the token names the client */
		rc = mosquitto_set_username(ed->client, claims.sub) ? MOSQ_ERR_AUTH : rc;
	return rc;
}

/* ---- ACL ---- */

static int on_acl_check(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_acl_check *ed = event_data;
	struct plugin *p = userdata;
	const char *username = mosquitto_client_username(ed->client);
	char user[DANEMSG_CREDENTIAL_NAME_MAX], to[DANEMSG_CREDENTIAL_NAME_MAX];
	char t[LOG_NAME_MAX + 4];
	const char *why = "not its own topic";

	(void)event;
	if (!username || danemsg_credential_name_normalize(username, user, sizeof(user)))
		return MOSQ_ERR_ACL_DENIED;
	switch (ed->access) {
	case MOSQ_ACL_UNSUBSCRIBE:
		return MOSQ_ERR_SUCCESS;
	case MOSQ_ACL_SUBSCRIBE:
	case MOSQ_ACL_READ:
		if (acl_own_subscription(p->topic, user, ed->topic))
			return MOSQ_ERR_SUCCESS;
		break;
	case MOSQ_ACL_WRITE:
		why = "not an identity's topic";
		if (!acl_topic_fits(p->topic, ed->topic, NULL, user, to, sizeof(to)))
			break;
		why = "the recipient is not on the allow-list";
		if (p->allow && danemsg_policy_check_sender(p->allow, to))
			break;
		why = "the recipient publishes no DNSSEC-secure key";
		if (bounded_lookup(p, to, NULL) == DANEMSG_OK)
			return MOSQ_ERR_SUCCESS;
		break;
	default:
		break;
	}
	mosquitto_log_printf(MOSQ_LOG_NOTICE, "danemsg: denied %s of %s to %s: %s",
			     ed->access == MOSQ_ACL_WRITE ? "publish" :
			     ed->access == MOSQ_ACL_READ ? "delivery" : "subscription",
			     user, safe(ed->topic, t), why);
	return MOSQ_ERR_ACL_DENIED;
}

static int on_tick(int event, void *event_data, void *userdata)
{
	struct plugin *p = userdata;
	(void)event;
	(void)event_data;
	danemsg_resolver_process(p->r);   /* answers of lookups nobody waits for: to the cache */
	return MOSQ_ERR_SUCCESS;
}

/* ---- options ---- */

static int number(const char *key, const char *value, unsigned long min, unsigned long max,
		  unsigned long *out)
{
	char *end;
	unsigned long v = strtoul(value, &end, 10);
	if (*value < '0' || *value > '9' || *end || v < min || v > max) {
		mosquitto_log_printf(MOSQ_LOG_ERR, "danemsg: plugin_opt_%s must be a number from "
				     "%lu to %lu", key, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

/* plugin_opt_allow: names or "*.SUFFIX" patterns, separated by commas or spaces. */
static int allow_list(struct plugin *p, const char *value)
{
	char *copy = strdup(value), *save = NULL;
	int rc = copy && !p->allow && !danemsg_policy_new(&p->allow) ? 0 : -1;

	for (char *t = copy ? strtok_r(copy, ", ", &save) : NULL; t && !rc;
	     t = strtok_r(NULL, ", ", &save))
		if (danemsg_policy_allow_sender(p->allow, t)) {
			mosquitto_log_printf(MOSQ_LOG_ERR, "danemsg: plugin_opt_allow: bad pattern "
					     "'%s'", t);
			rc = -1;
		}
	free(copy);
	return rc;
}

static int anchor_list(struct plugin *p, const char *value)
{
	size_t n = 0;
	char *save = NULL;
	if (p->anchor_list || !(p->anchor_list = strdup(value)))
		return -1;
	for (char *f = strtok_r(p->anchor_list, ":", &save); f; f = strtok_r(NULL, ":", &save)) {
		if (n == MAX_ANCHORS)
			return -1;
		p->anchors[n++] = f;
	}
	return 0;
}

/* plugin_opt_cafile: every certificate of a PEM file (the listener's cafile). */
static int ca_file(struct plugin *p, const char *path)
{
	X509_STORE *store = X509_STORE_new();
	X509_LOOKUP *file = store ? X509_STORE_add_lookup(store, X509_LOOKUP_file()) : NULL;

	if (!p->cas && file && X509_load_cert_file(file, path, X509_FILETYPE_PEM) > 0)
		p->cas = X509_STORE_get1_all_certs(store);
	X509_STORE_free(store);
	if (p->cas)
		return 0;
	mosquitto_log_printf(MOSQ_LOG_ERR, "danemsg: plugin_opt_cafile: no PEM certificate "
			     "read from %s (or given twice)", path);
	return -1;
}

static int set_string(char **dst, const char *value)
{
	free(*dst);
	return (*dst = strdup(value)) ? 0 : -1;
}

static int take_option(struct plugin *p, danemsg_resolver_config *cfg, unsigned long *replay,
		       const char *key, const char *value)
{
	unsigned long v;
	int rc;

	if (!strcmp(key, "audience"))
		return set_string(&p->audience, value);
	if (!strcmp(key, "topic"))
		return set_string(&p->topic, value);
	if (!strcmp(key, "allow"))
		return allow_list(p, value);
	if (!strcmp(key, "resolver"))
		return (cfg->server = value), 0;
	if (!strcmp(key, "trust_anchor"))
		return anchor_list(p, value);
	if (!strcmp(key, "cafile"))
		return ca_file(p, value);
	if (!strcmp(key, "root_anchor"))
		return (cfg->root_anchor_file = value), 0;
	if (!strcmp(key, "client_ids")) {
		p->any_client_id = !strcmp(value, "any");
		return strcmp(value, "any") && strcmp(value, "bound") ? -1 : 0;
	}
	if (!strcmp(key, "replay_max"))
		return number(key, value, 1000, 10000000, &replay[0]);
	if (!strcmp(key, "replay_per_identity"))
		return number(key, value, 1, 10000, &replay[1]);
	if (!strcmp(key, "max_lifetime") &&
	    !(rc = number(key, value, 1, DANEMSG_TOKEN_MAX_LIFETIME, &v)))
		p->tokens.max_lifetime = (uint32_t)v;
	else if (!strcmp(key, "max_skew") && !(rc = number(key, value, 0, 300, &v)))
		p->tokens.max_skew = (uint32_t)v;
	else if (!strcmp(key, "dns_timeout_ms") && !(rc = number(key, value, 10, 60000, &v)))
		cfg->timeout_ms = (uint32_t)v;
	else if (!strcmp(key, "login_wait_ms") && !(rc = number(key, value, 0, 10000, &v)))
		p->login_wait_ms = (unsigned)v;
	else if (!strcmp(key, "stall_budget_ms") && !(rc = number(key, value, 0, 1000, &v)))
		p->stall_budget_ms = (unsigned)v;
	else if (!strcmp(key, "cache_max_ttl") && !(rc = number(key, value, 1, 86400, &v)))
		cfg->cache_max_ttl = (uint32_t)v;
	else if (!strcmp(key, "cache_negative_ttl") && !(rc = number(key, value, 1, 3600, &v)))
		cfg->cache_negative_ttl = cfg->cache_failure_ttl = (uint32_t)v;
	else if (!strcmp(key, "cache_max_entries") && !(rc = number(key, value, 1, 10000000, &v)))
		cfg->cache_max_entries = v;
	else
		return -2;
	return rc;
}

static void plugin_free(struct plugin *p)
{
	if (!p)
		return;
	danemsg_resolver_free(p->r);   /* drops lookups in flight without their callbacks */
	while (p->abandoned) {
		struct wait *next = p->abandoned->next;
		free(p->abandoned);
		p->abandoned = next;
	}
	danemsg_replay_cache_free(p->replay);
	danemsg_policy_free(p->allow);
	free(p->audience);
	free(p->topic);
	free(p->anchor_list);
	sk_X509_pop_free(p->cas, X509_free);
	free(p);
}

static int configure(struct plugin *p, struct mosquitto_opt *opts, int n)
{
	danemsg_resolver_config cfg;
	unsigned long replay[2] = {100000, 100};   /* replay_max, replay_per_identity */
	char errbuf[300];

	danemsg_resolver_config_init(&cfg);
	cfg.timeout_ms = 2000;          /* lookups run in the background; logins wait less */
	cfg.cache_failure_ttl = 5;
	danemsg_token_policy_init(&p->tokens);
	p->login_wait_ms = 100;
	p->stall_budget_ms = 200;
	p->credit_at_us = now_us();
	for (int i = 0; i < n; i++) {
		int rc = take_option(p, &cfg, replay, opts[i].key, opts[i].value);
		if (rc == -2)
			mosquitto_log_printf(MOSQ_LOG_ERR, "danemsg: unknown option plugin_opt_%s",
					     opts[i].key);
		if (rc)
			return -1;
	}
	if (!p->audience || (!p->topic && set_string(&p->topic, DEFAULT_TOPIC)) ||
	    !acl_template_ok(p->topic)) {
		mosquitto_log_printf(MOSQ_LOG_ERR, "danemsg: plugin_opt_audience (the broker's "
				     "name in tokens) is required; plugin_opt_topic must hold "
				     "{to} or {to_path} (followed by '/' or nothing)");
		return -1;
	}
	if (replay[1] > replay[0] || p->tokens.max_skew >= p->tokens.max_lifetime) {
		mosquitto_log_printf(MOSQ_LOG_ERR, "danemsg: plugin_opt_replay_per_identity must "
				     "not be over plugin_opt_replay_max, and plugin_opt_max_skew "
				     "must be under plugin_opt_max_lifetime");
		return -1;
	}
	p->tokens.audience = p->audience;
	cfg.trust_anchor_files = p->anchor_list ? p->anchors : NULL;
	if (danemsg_replay_cache_new(replay[0], &p->replay) ||
	    danemsg_replay_cache_set_sender_max(p->replay, replay[1]) ||
	    danemsg_resolver_new(&cfg, &p->r, errbuf, sizeof(errbuf))) {
		mosquitto_log_printf(MOSQ_LOG_ERR, "danemsg: %s", p->r ? "out of memory" : errbuf);
		return -1;
	}
	p->replay_ops = danemsg_replay_cache_ops(p->replay);
	p->tokens.replay = &p->replay_ops;
	return 0;
}

/* ---- the plugin interface ---- */

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	for (int i = 0; i < supported_version_count; i++)
		if (supported_versions[i] == 5)
			return 5;
	return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
			  struct mosquitto_opt *opts, int opt_count)
{
	struct plugin *p = calloc(1, sizeof(*p));

	if (!p || configure(p, opts, opt_count)) {
		plugin_free(p);
		return MOSQ_ERR_INVAL;
	}
	p->id = identifier;
	if (mosquitto_callback_register(identifier, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL, p) ||
	    mosquitto_callback_register(identifier, MOSQ_EVT_EXT_AUTH_START, on_ext_auth_start,
					NULL, p) ||
	    mosquitto_callback_register(identifier, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL, p) ||
	    mosquitto_callback_register(identifier, MOSQ_EVT_TICK, on_tick, NULL, p)) {
		plugin_free(p);
		return MOSQ_ERR_UNKNOWN;
	}
	*userdata = p;
	mosquitto_log_printf(MOSQ_LOG_INFO, "danemsg: broker authentication for audience %s, "
			     "topic %s%s", p->audience, p->topic, p->allow ? ", allow-list" : "");
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *opts, int opt_count)
{
	struct plugin *p = userdata;
	(void)opts;
	(void)opt_count;
	if (p) {
		mosquitto_callback_unregister(p->id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL);
		mosquitto_callback_unregister(p->id, MOSQ_EVT_EXT_AUTH_START, on_ext_auth_start,
					      NULL);
		mosquitto_callback_unregister(p->id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL);
		mosquitto_callback_unregister(p->id, MOSQ_EVT_TICK, on_tick, NULL);
	}
	plugin_free(p);
	return MOSQ_ERR_SUCCESS;
}

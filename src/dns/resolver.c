/* The resolver: libunbound validating locally, in front of the identity cache. */
#include <errno.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ldns/ldns.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <unbound.h>

#include "abi.h"
#include "cache.h"
#include "chain_internal.h"
#include "dname.h"
#include "identity_internal.h"
#include "pkixcd.h"

#define TYPE_TLSA 52
#define CLASS_IN 1
#define ROOT_ANCHOR_DEFAULT "/usr/share/dns/root.key"
#define NAME_MAX_TEXT 256
#define ZONE_QUIET_MAX_MS 60000
/* The first versions of the caller's configuration and statistics end here (abi.h). */
#define RESOLVER_CONFIG_SIZE_V1 ABI_SIZE_THROUGH(danemsg_resolver_config, pkix_cd_connect)
#define CACHE_STATS_SIZE_V1 ABI_SIZE_THROUGH(danemsg_cache_stats, entries)

/* Two libunbound contexts: names that have had a usable answer (KNOWN) and the others
 * (NEW), which an attacker picks. A context whose server timed out again and again fails
 * every query for a while (its infrastructure cache marks the server down, and a trust
 * anchor's keys it could not fetch stay "invalid"): names that never answer then take
 * only the NEW one down, and known senders keep working. The NEW one is replaced by a
 * fresh one once a lookup in it failed and none is left in it (see renew_new_context). */
enum { NEW, KNOWN };

struct danemsg_resolver {
	struct ub_ctx *ub[2];
	pthread_rwlock_t ctx_lock;      /* held to use ub[], for writing to replace ub[NEW] */
	int new_failed;                 /* a lookup in ub[NEW] failed as temporary */
	uint32_t new_queries;           /* queries ub[NEW] still owes a callback (atomic) */
	int epoll_fd;                   /* readable when either context has answers */
	char *server, *zone_file, *zone;   /* copies, to configure a context again */
	danemsg_resolver_config cfg;
	pthread_mutex_t lock;
	struct cache cache;
	danemsg_trust_anchor anchors;   /* what ub was given, for DNSSEC chains */
	X509_STORE *pkix;               /* Web PKI trust store, shared with identities */
	struct keycache *keys;          /* live public keys, shared with identities */
	struct pkixcd *pkixcd;          /* PKIX-CD fetcher when enabled, else NULL */
	int validated_fd;               /* eventfd: readable when pkixcd has handed back answers */
	pthread_mutex_t validated_lock;
	struct pending_query *validated;   /* answers whose PKIX-CD records were validated */
	uint64_t next_generation;
	uint64_t hits, misses, queries, refused;
	uint32_t inflight_new;          /* queries in flight in the NEW context */
};

/* What libunbound hands back to us for one query. */
struct pending_query {
	danemsg_resolver *r;
	uint64_t generation;
	int known;                      /* which context was asked */
	char name[NAME_MAX_TEXT];
	/* the answer, while the PKIX-CD fetcher has it (see hand_off) */
	danemsg_identity *id;
	int temporary;
	struct pending_query *next;
};

void danemsg_resolver_config_init(danemsg_resolver_config *cfg)
{
	if (!cfg)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->struct_size = sizeof(*cfg);
	cfg->root_anchor_file = ROOT_ANCHOR_DEFAULT;
	cfg->cache_max_ttl = 300;
	cfg->cache_negative_ttl = 30;
	cfg->cache_failure_ttl = 5;
	cfg->cache_max_entries = 10000;
	cfg->cache_max_keys = 1024;
	cfg->timeout_ms = 5000;
	cfg->max_inflight = 64;
	cfg->max_inflight_per_zone = 4;
}

static void set_err(char *errbuf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_err(char *errbuf, size_t len, const char *fmt, ...)
{
	va_list ap;
	if (!errbuf || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(errbuf, len, fmt, ap);
	va_end(ap);
}

/* Gives libunbound the DS/DNSKEY records read into r->anchors (with ldns, so that a
 * broken anchor is reported at once, not as "initialization failure" at the first lookup). */
static danemsg_err add_trust_anchors(struct ub_ctx *ub, const ldns_rr_list *rrs, char *errbuf,
				     size_t errlen)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(rrs); i++) {
		char *text = ldns_rr2str(ldns_rr_list_rr(rrs, i));
		int ub_err = text ? ub_ctx_add_ta(ub, text) : UB_NOMEM;
		free(text);
		if (ub_err) {
			set_err(errbuf, errlen, "trust anchor: %s", ub_strerror(ub_err));
			return DANEMSG_ERR_DNS_CONFIG;
		}
	}
	return DANEMSG_OK;
}

/* Offline mode: the signed zone is an auth-zone that only libunbound reads. */
static danemsg_err add_offline_zone(struct ub_ctx *ub, const char *zone, const char *file,
				    char *errbuf, size_t errlen)
{
	char path[] = "/tmp/danemsg-ub-XXXXXX";
	int fd, ub_err;
	FILE *f;

	if (!zone || strpbrk(zone, "\"\n") || strpbrk(file, "\"\n") || access(file, R_OK)) {
		set_err(errbuf, errlen, "offline zone file %s unreadable or zone name %s missing",
			file, zone ? zone : "(none)");
		return DANEMSG_ERR_DNS_CONFIG;
	}
	fd = mkstemp(path);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		if (fd >= 0) {
			close(fd);
			unlink(path);
		}
		set_err(errbuf, errlen, "cannot write a temporary file: %s", strerror(errno));
		return DANEMSG_ERR_IO;
	}
	fprintf(f, "auth-zone:\n\tname: \"%s\"\n\tzonefile: \"%s\"\n\tfor-upstream: yes\n"
		   "\tfor-downstream: no\n\tfallback-enabled: no\n", zone, file);
	fclose(f);
	ub_err = ub_ctx_config(ub, path);
	unlink(path);
	if (ub_err) {
		set_err(errbuf, errlen, "offline zone: %s", ub_strerror(ub_err));
		return DANEMSG_ERR_DNS_CONFIG;
	}
	return DANEMSG_OK;
}

static danemsg_err set_option(struct ub_ctx *ub, const char *opt, uint32_t value)
{
	char text[16];
	snprintf(text, sizeof(text), "%u", value);
	return ub_ctx_set_option(ub, opt, text) ? DANEMSG_ERR_DNS_CONFIG : DANEMSG_OK;
}

/* The Web PKI trust store for usages 0/1; the default folder is read lazily, by hash. */
static danemsg_err pkix_store_new(const danemsg_resolver_config *cfg, X509_STORE **out,
				  char *errbuf, size_t errlen)
{
	const char *file = cfg->pkix_ca_file, *path = cfg->pkix_ca_path;

	if (!(*out = X509_STORE_new()))
		return DANEMSG_ERR_NOMEM;
	if (!file && !path)
		path = X509_get_default_cert_dir();
	if ((file && *file && !X509_STORE_load_file(*out, file)) ||
	    (path && !X509_STORE_load_path(*out, path))) {
		set_err(errbuf, errlen, "cannot load the Web PKI trust store %s",
			file && *file ? file : path);
		ERR_clear_error();
		return DANEMSG_ERR_DNS_CONFIG;
	}
	return DANEMSG_OK;
}

/* One context's options and where it sends its queries. */
static danemsg_err configure_context(struct ub_ctx *ub, const danemsg_resolver_config *cfg,
				     char *errbuf, size_t errlen)
{
	danemsg_err err;

	/* Threads, not a forked process: a daemon keeps its memory to itself. */
	if (ub_ctx_async(ub, 1))
		return DANEMSG_ERR_DNS_CONFIG;
	/* Bound how long unbound's own cache keeps a removed record. */
	if ((err = set_option(ub, "cache-max-ttl:", cfg->cache_max_ttl)) ||
	    (err = set_option(ub, "cache-max-negative-ttl:", cfg->cache_negative_ttl)) ||
	    /* unbound keeps a bogus answer 60 s: an attack on the path that has stopped would
	     * outlast the retries of the messages it hit */
	    (err = set_option(ub, "val-bogus-ttl:", cfg->cache_failure_ttl)))
		return err;
	if (cfg->offline_zone_file)
		return add_offline_zone(ub, cfg->offline_zone, cfg->offline_zone_file, errbuf,
					errlen);
	if (cfg->server) {
		int ub_err = ub_ctx_set_fwd(ub, cfg->server);
		if (ub_err) {
			set_err(errbuf, errlen, "bad resolver address '%s': %s", cfg->server,
				ub_strerror(ub_err));
			return DANEMSG_ERR_DNS_CONFIG;
		}
	} else if (ub_ctx_resolvconf(ub, NULL)) {
		set_err(errbuf, errlen, "cannot read the system's resolver configuration");
		return DANEMSG_ERR_DNS_CONFIG;
	}
	return DANEMSG_OK;
}

/* A context configured as r's, watched by r's epoll descriptor. */
static danemsg_err new_context(danemsg_resolver *r, struct ub_ctx **out, char *errbuf,
			       size_t errlen)
{
	struct epoll_event ev = {.events = EPOLLIN};
	struct ub_ctx *ub = ub_ctx_create();
	danemsg_err err = ub ? configure_context(ub, &r->cfg, errbuf, errlen) : DANEMSG_ERR_NOMEM;

	if (!err)
		err = add_trust_anchors(ub, r->anchors.rrs, errbuf, errlen);
	if (!err && epoll_ctl(r->epoll_fd, EPOLL_CTL_ADD, ub_fd(ub), &ev)) {
		set_err(errbuf, errlen, "epoll: %s", strerror(errno));
		err = DANEMSG_ERR_IO;
	}
	if (err && ub)
		ub_ctx_delete(ub);
	*out = err ? NULL : ub;
	return err;
}

static danemsg_err configure(danemsg_resolver *r, const danemsg_resolver_config *cfg,
			     char *errbuf, size_t errlen)
{
	danemsg_err err;
	size_t added;

	if (cfg->root_anchor_file && *cfg->root_anchor_file &&
	    !(access(cfg->root_anchor_file, R_OK) && !strcmp(cfg->root_anchor_file,
							     ROOT_ANCHOR_DEFAULT))) {
		err = chain_anchor_read_file(cfg->root_anchor_file, r->anchors.rrs, &added,
					     errbuf, errlen);
		if (err)
			return err;
	}
	for (const char *const *f = cfg->trust_anchor_files; f && *f; f++) {
		err = chain_anchor_read_file(*f, r->anchors.rrs, &added, errbuf, errlen);
		if (err)
			return err;
	}
	if ((err = pkix_store_new(cfg, &r->pkix, errbuf, errlen)))
		return err;
	if (cfg->pkix_cd && (err = pkixcd_new(cfg, &r->pkixcd, errbuf, errlen)))
		return err;
	if (r->pkixcd && (r->validated_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		set_err(errbuf, errlen, "eventfd: %s", strerror(errno));
		return DANEMSG_ERR_IO;
	}
	if (r->pkixcd && epoll_ctl(r->epoll_fd, EPOLL_CTL_ADD, r->validated_fd,
				   &(struct epoll_event){.events = EPOLLIN})) {
		set_err(errbuf, errlen, "epoll: %s", strerror(errno));
		return DANEMSG_ERR_IO;
	}
	if ((err = new_context(r, &r->ub[NEW], errbuf, errlen)))
		return err;
	return new_context(r, &r->ub[KNOWN], errbuf, errlen);
}

/* A copy of an optional string: 0, or -1 out of memory. */
static int copy_string(const char *from, char **to)
{
	*to = from ? strdup(from) : NULL;
	return from && !*to ? -1 : 0;
}

danemsg_err danemsg_resolver_new(const danemsg_resolver_config *theirs, danemsg_resolver **out,
				 char *errbuf, size_t errbuf_len)
{
	danemsg_resolver_config config, *cfg = &config;
	danemsg_resolver *r;
	danemsg_err err;

	if (errbuf && errbuf_len)
		errbuf[0] = '\0';
	if (!theirs || !out)
		return DANEMSG_ERR_INVALID_ARG;
	*out = NULL;
	danemsg_resolver_config_init(cfg);
	if ((err = abi_struct_in(cfg, sizeof(*cfg), theirs, RESOLVER_CONFIG_SIZE_V1,
				 "danemsg_resolver_config", errbuf, errbuf_len)))
		return err;
	r = calloc(1, sizeof(*r));
	if (!r)
		return DANEMSG_ERR_NOMEM;
	r->epoll_fd = -1;
	r->validated_fd = -1;
	/* Keep the numbers and copies of what configures a context again; the anchors are
	 * read once, into r->anchors. */
	r->cfg = *cfg;
	r->cfg.trust_anchor_files = NULL;
	r->cfg.root_anchor_file = NULL;
	if (copy_string(cfg->server, &r->server) ||
	    copy_string(cfg->offline_zone_file, &r->zone_file) ||
	    copy_string(cfg->offline_zone, &r->zone)) {
		free(r->server);
		free(r->zone_file);
		free(r);
		return DANEMSG_ERR_NOMEM;
	}
	r->cfg.server = r->server;
	r->cfg.offline_zone_file = r->zone_file;
	r->cfg.offline_zone = r->zone;
	/* read once, by configure() */
	r->cfg.pkix_ca_file = r->cfg.pkix_ca_path = r->cfg.pkix_cd_connect = NULL;
	if (!r->cfg.timeout_ms)
		r->cfg.timeout_ms = 5000;
	if (!r->cfg.max_inflight)
		r->cfg.max_inflight = 64;
	if (!r->cfg.max_inflight_per_zone)
		r->cfg.max_inflight_per_zone = 4;
	err = cache_init(&r->cache, cfg->cache_max_entries);
	if (err) {
		free(r->server);
		free(r->zone_file);
		free(r->zone);
		free(r);
		return err;
	}
	pthread_mutex_init(&r->lock, NULL);
	pthread_mutex_init(&r->validated_lock, NULL);
	pthread_rwlock_init(&r->ctx_lock, NULL);
	r->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	r->anchors.rrs = ldns_rr_list_new();
	err = keycache_new(cfg->cache_max_keys ? cfg->cache_max_keys : 1024, &r->keys);
	if (!err)
		err = r->anchors.rrs && r->epoll_fd >= 0 ? configure(r, cfg, errbuf, errbuf_len)
							 : DANEMSG_ERR_NOMEM;
	if (err) {
		if (errbuf && errbuf_len && !errbuf[0])
			snprintf(errbuf, errbuf_len, "%s", danemsg_strerror(err));
		danemsg_resolver_free(r);
		return err;
	}
	*out = r;
	return DANEMSG_OK;
}

void danemsg_resolver_free(danemsg_resolver *r)
{
	struct pending_query *pq;

	if (!r)
		return;
	/* first: its workers hand back what they hold, and then never touch r again */
	pkixcd_free(r->pkixcd);
	while ((pq = r->validated) != NULL) {
		r->validated = pq->next;
		danemsg_identity_unref(pq->id);
		free(pq);
	}
	if (r->validated_fd >= 0)
		close(r->validated_fd);
	for (int k = NEW; k <= KNOWN; k++)
		if (r->ub[k])
			ub_ctx_delete(r->ub[k]);   /* drops queries in flight without callbacks */
	if (r->epoll_fd >= 0)
		close(r->epoll_fd);
	for (struct cache_entry *e = r->cache.pending; e; e = e->pend_next)
		free(e->query);
	cache_destroy(&r->cache);
	ldns_rr_list_deep_free(r->anchors.rrs);
	X509_STORE_free(r->pkix);
	keycache_unref(r->keys);
	pthread_mutex_destroy(&r->lock);
	pthread_mutex_destroy(&r->validated_lock);
	pthread_rwlock_destroy(&r->ctx_lock);
	free(r->server);
	free(r->zone_file);
	free(r->zone);
	free(r);
}

/* The status of an answer with records, from the records now usable; a CA that could not
 * be fetched (temporary) keeps it only as long as a failure. */
static void settle_status(const danemsg_resolver *r, danemsg_identity *id, int temporary)
{
	id->status = DANEMSG_ERR_NO_USABLE_RECORD;
	for (size_t i = 0; i < id->n_records; i++)
		if (id->records[i].usable)
			id->status = DANEMSG_OK;
	if (id->status != DANEMSG_OK && temporary && id->ttl > r->cfg.cache_failure_ttl)
		id->ttl = r->cfg.cache_failure_ttl;
	if (id->status != DANEMSG_OK)
		identity_set_why(id, "no record can be used (see each record's reason)");
	else if (id->insecure_allowed)
		identity_set_why(id, "INSECURE answer accepted because insecure zones are allowed");
}

/* Turns libunbound's answer into an identity; never fails to return something but on
 * NOMEM. *validate: its PKIX-CD records are to be validated before it is final. */
static danemsg_identity *identity_from_result(const danemsg_resolver *r, const char *name,
					      int ub_err, struct ub_result *res, int *validate)
{
	danemsg_identity *id = identity_new(name);
	if (!id)
		return NULL;
	id->ttl = r->cfg.cache_failure_ttl;
	if (ub_err) {
		id->status = ub_err == UB_INITFAIL ? DANEMSG_ERR_DNS_CONFIG
						   : DANEMSG_ERR_DNS_TEMPORARY;
		identity_set_why(id, ub_strerror(ub_err));
		return id;
	}
	if (res->bogus) {
		id->status = DANEMSG_ERR_DNS_BOGUS;
		id->dnssec = DANEMSG_DNSSEC_BOGUS;
		identity_set_why(id, res->why_bogus ? res->why_bogus : "validation failed");
		return id;
	}
	if (res->rcode != 0 && !res->nxdomain) {
		id->status = DANEMSG_ERR_DNS_TEMPORARY;
		char why[48];
		snprintf(why, sizeof(why), "server answered rcode %d", res->rcode);
		identity_set_why(id, res->rcode == 2 ? "server failure (SERVFAIL)" : why);
		return id;
	}
	id->dnssec = res->secure ? DANEMSG_DNSSEC_SECURE : DANEMSG_DNSSEC_INSECURE;
	if (res->nxdomain || !res->havedata) {
		id->status = DANEMSG_ERR_DNS_NOT_FOUND;
		id->ttl = r->cfg.cache_negative_ttl;
		if (res->ttl > 0 && (uint32_t)res->ttl < id->ttl)
			id->ttl = (uint32_t)res->ttl;
		identity_set_why(id, res->nxdomain ? "no such name (NXDOMAIN)"
						   : "no TLSA records at that name (NODATA)");
		return id;
	}
	size_t n = 0;
	while (res->data[n])
		n++;
	if (r->pkix && X509_STORE_up_ref(r->pkix))
		id->pkix = r->pkix;
	id->keys = keycache_ref(r->keys);
	if (identity_set_records(id, res->data, res->len, n)) {
		danemsg_identity_unref(id);
		return NULL;
	}
	id->ttl = res->ttl < 0 ? 0 : (uint32_t)res->ttl;
	if (id->ttl > r->cfg.cache_max_ttl)
		id->ttl = r->cfg.cache_max_ttl;
	if (!res->secure && !r->cfg.allow_insecure) {
		id->status = DANEMSG_ERR_DNS_INSECURE;
		identity_set_why(id, "the answer is not DNSSEC-signed (no chain of trust)");
		return id;
	}
	id->insecure_allowed = !res->secure;
	/* PKIX-CD wants DNSSEC on the record: never from an allowed insecure answer. */
	*validate = r->pkixcd && res->secure && pkixcd_wanted(id);
	if (!*validate)
		settle_status(r, id, 0);
	return id;
}

/* A query of a name under zone z ended with status: a temporary failure keeps the zone
 * quiet for a while, doubling with each in a row; an answer ends that. Not for a parent
 * (BELOW): answers in one subzone say nothing of the others an attacker makes up, so
 * there the failures are forgotten only after a quiet spell long past. */
static void zone_done_locked(danemsg_resolver *r, struct cache_zone *z, danemsg_err status)
{
	uint64_t quiet_ms, now = cache_now_ms();
	if (!z)
		return;
	z->inflight--;
	if (status != DANEMSG_ERR_DNS_TEMPORARY) {
		if (z->kind != CACHE_ZONE_BELOW) {
			z->failures = 0;
			z->quiet_until_ms = 0;
		}
		return;
	}
	if (z->kind == CACHE_ZONE_BELOW && z->quiet_until_ms + ZONE_QUIET_MAX_MS < now)
		z->failures = 0;
	quiet_ms = (uint64_t)r->cfg.cache_failure_ttl * 1000u
		   << (z->failures < 8 ? z->failures : 8);
	if (quiet_ms > ZONE_QUIET_MAX_MS)
		quiet_ms = ZONE_QUIET_MAX_MS;
	z->failures++;
	z->quiet_until_ms = now + quiet_ms;
}

/* Lookups of names not seen good may take this many of the max_inflight: the rest is kept
 * for the known. */
static uint32_t new_share(const danemsg_resolver *r)
{
	uint32_t share = r->cfg.max_inflight - r->cfg.max_inflight / 4;
	return share ? share : 1;
}

/* Why a new query for canon may not be sent now (lock held), or NULL; zones gets the
 * zone slots the query is to be counted in. */
static const char *refuse_query_locked(danemsg_resolver *r, const char *canon, int known,
				       struct cache_zone *zones[CACHE_KEYS])
{
	uint64_t now = cache_now_ms();
	uint32_t per_zone = r->cfg.max_inflight_per_zone;

	cache_zone_keys(&r->cache, canon, known, zones);
	if (r->cache.n_pending >= r->cfg.max_inflight)
		return "too many DNS lookups in flight";
	if (!known && r->inflight_new >= new_share(r))
		return "too many DNS lookups in flight for senders not seen before";
	for (size_t i = 0; i < CACHE_KEYS; i++) {
		struct cache_zone *z = zones[i];
		int below = z && z->kind == CACHE_ZONE_BELOW;
		if (z && z->quiet_until_ms > now && below)
			return "lookups under other subzones of a parent zone failed just before: "
			       "not asked again yet";
		if (z && z->quiet_until_ms > now)
			return "lookups under this zone failed just before: not asked again yet";
		if (z && z->failures && z->inflight >= per_zone)
			return "too many DNS lookups in flight under this failing zone";
		if (below && z->inflight >= 4 * per_zone)
			return "too many DNS lookups in flight under the subzones of a parent zone";
	}
	return NULL;
}

/* Answers cb at once with a temporary failure that is not cached. */
static danemsg_err refuse_now(const char *name, const char *why, danemsg_lookup_cb cb,
			      void *arg)
{
	danemsg_identity *id = identity_new(name);
	if (!id)
		return DANEMSG_ERR_NOMEM;
	id->status = DANEMSG_ERR_DNS_TEMPORARY;
	identity_set_why(id, why);
	cb(arg, id->status, id);
	return DANEMSG_OK;
}

/* Stores the answer for entry e (lock held) and detaches its waiters. */
static struct cache_waiter *complete_locked(danemsg_resolver *r, struct cache_entry *e,
					    danemsg_identity *id)
{
	struct cache_waiter *w = e->waiters;
	for (size_t i = 0; i < CACHE_KEYS; i++) {
		zone_done_locked(r, e->zones[i], id ? id->status : DANEMSG_ERR_DNS_TEMPORARY);
		e->zones[i] = NULL;
	}
	if (!e->known) {
		r->inflight_new--;
		if (!id || id->status == DANEMSG_ERR_DNS_TEMPORARY)
			__atomic_store_n(&r->new_failed, 1, __ATOMIC_RELAXED);
	}
	if (id && id->status == DANEMSG_OK)
		cache_set_known(&r->cache, e);
	e->waiters = NULL;
	cache_set_pending(&r->cache, e, 0);
	e->async_id = 0;
	e->query = NULL;
	if (id) {
		danemsg_identity_unref(e->id);
		e->id = id;
		e->expires_ms = cache_now_ms() + (uint64_t)id->ttl * 1000u;
	}
	return w;
}

/* Runs and frees waiters, outside the lock. */
static void notify(struct cache_waiter *w, danemsg_identity *id)
{
	while (w) {
		struct cache_waiter *next = w->next;
		if (id)
			w->cb(w->arg, id->status, danemsg_identity_ref(id));
		else
			w->cb(w->arg, DANEMSG_ERR_NOMEM, NULL);
		free(w);
		w = next;
	}
}

static void query_free(danemsg_resolver *r, struct pending_query *pq)
{
	if (!pq->known)
		__atomic_sub_fetch(&r->new_queries, 1, __ATOMIC_RELEASE);
	free(pq);
}

/* Completes pq's lookup with id (taken) and frees pq. */
static void deliver(danemsg_resolver *r, struct pending_query *pq, danemsg_identity *id)
{
	struct cache_waiter *w = NULL;
	struct cache_entry *e;

	pthread_mutex_lock(&r->lock);
	e = cache_find(&r->cache, pq->name);
	if (e && e->pending && e->generation == pq->generation)
		w = complete_locked(r, e, danemsg_identity_ref(id));
	pthread_mutex_unlock(&r->lock);
	notify(w, id);
	danemsg_identity_unref(id);
	query_free(r, pq);
}

/* From a fetcher's worker: queues the answer for danemsg_resolver_process. */
static void on_validated(void *arg, danemsg_identity *id, int temporary)
{
	struct pending_query *pq = arg;
	danemsg_resolver *r = pq->r;
	uint64_t one = 1;

	pq->id = id;
	pq->temporary = temporary;
	pthread_mutex_lock(&r->validated_lock);
	pq->next = r->validated;
	r->validated = pq;
	pthread_mutex_unlock(&r->validated_lock);
	if (write(r->validated_fd, &one, sizeof(one)) < 0) {
		/* full (2^64 - 2 unread): already readable */
	}
}

/* Delivers the answers the fetcher handed back. */
static void deliver_validated(danemsg_resolver *r)
{
	struct pending_query *pq, *next;
	uint64_t count;

	if (!r->pkixcd || read(r->validated_fd, &count, sizeof(count)) < 0)
		return;
	pthread_mutex_lock(&r->validated_lock);
	pq = r->validated;
	r->validated = NULL;
	pthread_mutex_unlock(&r->validated_lock);
	for (; pq; pq = next) {
		next = pq->next;
		settle_status(r, pq->id, pq->temporary);
		deliver(r, pq, pq->id);
	}
}

/* An answer whose PKIX-CD records need CAs fetched over HTTPS goes to the fetcher's
 * workers, with what is left of the lookup's time: the thread that delivers answers never
 * waits for a web server, so a server that hangs delays no other lookup. The query is the
 * fetcher's until on_validated; expire_overdue may fail the lookup meanwhile. */
static void hand_off(danemsg_resolver *r, struct pending_query *pq, danemsg_identity *id)
{
	uint64_t now = cache_now_ms(), left = 0;
	struct cache_entry *e;

	pthread_mutex_lock(&r->lock);
	e = cache_find(&r->cache, pq->name);
	if (e && e->pending && e->generation == pq->generation && e->deadline_ms > now) {
		left = e->deadline_ms - now;
		e->query = NULL;   /* libunbound is done with it: nothing to cancel */
		e->async_id = 0;
	}
	pthread_mutex_unlock(&r->lock);
	if (left) {
		pkixcd_submit(r->pkixcd, id, left, on_validated, pq);
		return;
	}
	settle_status(r, id, 1);
	deliver(r, pq, id);
}

static void on_answer(void *arg, int ub_err, struct ub_result *res)
{
	struct pending_query *pq = arg;
	danemsg_resolver *r = pq->r;
	int validate = 0;
	danemsg_identity *id = identity_from_result(r, pq->name, ub_err, res, &validate);

	ub_resolve_free(res);
	if (validate)
		hand_off(r, pq, id);
	else
		deliver(r, pq, id);
}

/* Times out overdue queries: they fail as temporary, without waiting for libunbound. */
static void expire_overdue(danemsg_resolver *r)
{
	uint64_t now = cache_now_ms();
	for (;;) {
		struct cache_entry *e;
		struct cache_waiter *w = NULL;
		danemsg_identity *id = NULL;
		int async_id = 0;
		struct pending_query *pq = NULL;
		struct ub_ctx *ub = NULL;

		pthread_rwlock_rdlock(&r->ctx_lock);
		pthread_mutex_lock(&r->lock);
		for (e = r->cache.pending; e && e->deadline_ms > now; e = e->pend_next)
			;
		if (e) {
			id = identity_new(e->name);
			if (id) {
				id->ttl = r->cfg.cache_failure_ttl;
				identity_set_why(id, "no answer from the DNS server in time");
			}
			async_id = e->async_id;
			pq = e->query;
			ub = r->ub[e->known];
			e->generation = ++r->next_generation;   /* a late answer is ignored */
			w = complete_locked(r, e, id ? danemsg_identity_ref(id) : NULL);
		}
		pthread_mutex_unlock(&r->lock);
		if (!e) {
			pthread_rwlock_unlock(&r->ctx_lock);
			return;
		}
		/* A cancelled query never calls back, so its data is ours to free; if
		 * the answer was already on its way, on_answer() frees it. */
		if (async_id && ub_cancel(ub, async_id) == UB_NOERROR)
			query_free(r, pq);
		pthread_rwlock_unlock(&r->ctx_lock);
		notify(w, id);
		danemsg_identity_unref(id);
	}
}

danemsg_err danemsg_resolver_process(danemsg_resolver *r)
{
	danemsg_err err = DANEMSG_OK;
	if (!r)
		return DANEMSG_ERR_INVALID_ARG;
	pthread_rwlock_rdlock(&r->ctx_lock);
	for (int k = NEW; k <= KNOWN; k++)
		if (ub_poll(r->ub[k]) && ub_process(r->ub[k]))
			err = DANEMSG_ERR_DNS_TEMPORARY;
	pthread_rwlock_unlock(&r->ctx_lock);
	deliver_validated(r);
	expire_overdue(r);
	return err;
}

danemsg_err danemsg_resolver_wait(danemsg_resolver *r, int timeout_ms)
{
	struct pollfd pfd;
	if (!r)
		return DANEMSG_ERR_INVALID_ARG;
	pfd.fd = r->epoll_fd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, timeout_ms) < 0 && errno != EINTR)
		return DANEMSG_ERR_IO;
	return danemsg_resolver_process(r);
}

int danemsg_resolver_fd(danemsg_resolver *r)
{
	return r ? r->epoll_fd : -1;
}

static danemsg_err lookup_start(danemsg_resolver *r, const char *name, danemsg_lookup_cb cb,
				void *arg)
{
	char canon[NAME_MAX_TEXT];
	struct cache_entry *e;
	struct cache_waiter *w;
	struct pending_query *pq;
	struct cache_zone *zones[CACHE_KEYS];
	int known;
	danemsg_err err;

	if (!r || !name || !cb)
		return DANEMSG_ERR_INVALID_ARG;
	err = dname_canonical(name, canon, sizeof(canon));
	if (err)
		return DANEMSG_ERR_INVALID_ARG;

	pthread_mutex_lock(&r->lock);
	e = cache_find(&r->cache, canon);
	if (e && e->id && !e->pending && cache_now_ms() < e->expires_ms) {
		danemsg_identity *id = danemsg_identity_ref(e->id);
		cache_touch(&r->cache, e);
		r->hits++;
		pthread_mutex_unlock(&r->lock);
		cb(arg, id->status, id);
		return DANEMSG_OK;
	}
	r->misses++;
	known = e && e->known;
	if (!e || !e->pending) {
		const char *why = refuse_query_locked(r, canon, known, zones);
		if (why) {
			r->refused++;
			pthread_mutex_unlock(&r->lock);
			return refuse_now(canon, why, cb, arg);
		}
	}
	w = calloc(1, sizeof(*w));
	if (!w || (!e && !(e = cache_insert(&r->cache, canon)))) {
		pthread_mutex_unlock(&r->lock);
		free(w);
		return DANEMSG_ERR_NOMEM;
	}
	cache_touch(&r->cache, e);
	w->cb = cb;
	w->arg = arg;
	w->next = e->waiters;
	e->waiters = w;
	if (e->pending) {   /* one query per name in flight: join it */
		pthread_mutex_unlock(&r->lock);
		return DANEMSG_OK;
	}
	pq = calloc(1, sizeof(*pq));
	if (!pq) {
		e->waiters = w->next;
		pthread_mutex_unlock(&r->lock);
		free(w);
		return DANEMSG_ERR_NOMEM;
	}
	cache_set_pending(&r->cache, e, 1);
	for (size_t i = 0; i < CACHE_KEYS; i++)
		if ((e->zones[i] = zones[i]))
			zones[i]->inflight++;
	if (!known)
		r->inflight_new++;
	e->generation = pq->generation = ++r->next_generation;
	e->deadline_ms = cache_now_ms() + r->cfg.timeout_ms;
	e->async_id = 0;
	e->query = pq;
	pq->r = r;
	pq->known = known;
	if (!known)
		__atomic_add_fetch(&r->new_queries, 1, __ATOMIC_RELAXED);
	memcpy(pq->name, canon, strlen(canon) + 1);
	r->queries++;
	pthread_mutex_unlock(&r->lock);

	int async_id = 0;
	int ub_err = ub_resolve_async(r->ub[known], canon, TYPE_TLSA, CLASS_IN, pq, on_answer,
				      &async_id);
	if (ub_err) {
		/* Fail the entry now, as if libunbound had answered with this error. */
		on_answer(pq, ub_err, NULL);
		return DANEMSG_OK;
	}
	pthread_mutex_lock(&r->lock);
	if (e == cache_find(&r->cache, canon) && e->pending && e->generation == pq->generation)
		e->async_id = async_id;
	pthread_mutex_unlock(&r->lock);
	return DANEMSG_OK;
}

/* Replaces the NEW context by a fresh one when a lookup in it failed and it owes no
 * callback: whatever names that never answer left in its infrastructure and key caches
 * (the server marked down, keys marked invalid) goes with it, so that a new sender is not
 * failed for it. Skipped while another thread uses a context, or from a callback. */
static void renew_new_context(danemsg_resolver *r)
{
	struct ub_ctx *fresh, *old = NULL;

	if (!__atomic_load_n(&r->new_failed, __ATOMIC_RELAXED) ||
	    pthread_rwlock_trywrlock(&r->ctx_lock))
		return;
	pthread_mutex_lock(&r->lock);
	if (r->new_failed && !r->inflight_new &&
	    !__atomic_load_n(&r->new_queries, __ATOMIC_ACQUIRE) &&
	    !new_context(r, &fresh, NULL, 0)) {
		old = r->ub[NEW];
		r->ub[NEW] = fresh;
		r->new_failed = 0;
	}
	pthread_mutex_unlock(&r->lock);
	if (old) {
		epoll_ctl(r->epoll_fd, EPOLL_CTL_DEL, ub_fd(old), NULL);
		ub_ctx_delete(old);
	}
	pthread_rwlock_unlock(&r->ctx_lock);
}

danemsg_err danemsg_resolver_lookup_async(danemsg_resolver *r, const char *name,
					  danemsg_lookup_cb cb, void *arg)
{
	danemsg_err err;
	if (!r || !name || !cb)
		return DANEMSG_ERR_INVALID_ARG;
	renew_new_context(r);
	pthread_rwlock_rdlock(&r->ctx_lock);
	err = lookup_start(r, name, cb, arg);
	pthread_rwlock_unlock(&r->ctx_lock);
	return err;
}

struct sync_wait {
	int done;
	danemsg_err status;
	danemsg_identity *id;
};

static void on_sync_answer(void *arg, danemsg_err status, danemsg_identity *id)
{
	struct sync_wait *sw = arg;
	sw->id = id;
	sw->status = id ? status : DANEMSG_ERR_NOMEM;
	__atomic_store_n(&sw->done, 1, __ATOMIC_RELEASE);
}

danemsg_err danemsg_resolver_lookup(danemsg_resolver *r, const char *name,
				    danemsg_identity **out)
{
	struct sync_wait sw = {0, DANEMSG_OK, NULL};
	danemsg_err err;

	if (out)
		*out = NULL;
	if (!r || !name || !out)
		return DANEMSG_ERR_INVALID_ARG;
	err = danemsg_resolver_lookup_async(r, name, on_sync_answer, &sw);
	if (err)
		return err;
	/* Drive libunbound ourselves; another thread may deliver our answer, so
	 * poll in short slices. expire_overdue() bounds the wait. */
	while (!__atomic_load_n(&sw.done, __ATOMIC_ACQUIRE))
		danemsg_resolver_wait(r, 10);
	*out = sw.id;
	return sw.status;
}

void danemsg_cache_stats_init(danemsg_cache_stats *stats)
{
	if (!stats)
		return;
	memset(stats, 0, sizeof(*stats));
	stats->struct_size = sizeof(*stats);
}

void danemsg_resolver_cache_stats(danemsg_resolver *r, danemsg_cache_stats *out)
{
	danemsg_cache_stats st;

	if (!r || !out)
		return;
	danemsg_cache_stats_init(&st);
	pthread_mutex_lock(&r->lock);
	st.hits = r->hits;
	st.misses = r->misses;
	st.queries = r->queries;
	st.evictions = r->cache.evictions;
	st.entries = r->cache.n_entries;
	pthread_mutex_unlock(&r->lock);
	abi_struct_out(out, &st, sizeof(st), CACHE_STATS_SIZE_V1);
}

const danemsg_trust_anchor *resolver_trust_anchor(const danemsg_resolver *r)
{
	return &r->anchors;
}

danemsg_err resolver_query_packet(danemsg_resolver *r, const char *name, ldns_rr_type type,
				  ldns_pkt **out, char *errbuf, size_t errlen)
{
	struct ub_result *res = NULL;
	int ub_err;

	/* names of a chain to build: kept away from the known senders' context */
	pthread_rwlock_rdlock(&r->ctx_lock);
	ub_err = ub_resolve(r->ub[NEW], name, type, CLASS_IN, &res);
	pthread_rwlock_unlock(&r->ctx_lock);
	danemsg_err err = DANEMSG_OK;

	*out = NULL;
	if (ub_err) {
		set_err(errbuf, errlen, "%s: %s", name, ub_strerror(ub_err));
		err = ub_err == UB_INITFAIL ? DANEMSG_ERR_DNS_CONFIG : DANEMSG_ERR_DNS_TEMPORARY;
	} else if (res->bogus) {
		set_err(errbuf, errlen, "%s: %s", name, res->why_bogus ? res->why_bogus : "bogus");
		err = DANEMSG_ERR_DNS_BOGUS;
	} else if (!res->secure) {
		set_err(errbuf, errlen, "%s: the answer is not DNSSEC-signed", name);
		err = DANEMSG_ERR_DNS_INSECURE;
	} else if (!res->havedata) {
		set_err(errbuf, errlen, "%s: no such records", name);
		err = DANEMSG_ERR_DNS_NOT_FOUND;
	} else if (ldns_wire2pkt(out, res->answer_packet, (size_t)res->answer_len) !=
		   LDNS_STATUS_OK) {
		set_err(errbuf, errlen, "%s: the answer does not parse", name);
		err = DANEMSG_ERR_DNS_TEMPORARY;
	}
	ub_resolve_free(res);
	return err;
}

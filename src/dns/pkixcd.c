/*
 * The reference system's PKIX-CD (private TLSA usage 4), read-only and opt-in: a "4 0 0"
 * record carries a device certificate that a CA published over HTTPS issued. Unlike the
 * reference, which checks signatures and SAN[0] only, the certificate must pass RFC 5280
 * validation (dates, basicConstraints, keyUsage) to the fetched CA and name the identity
 * in any DNS SAN; DNSSEC on the record is required as for every record.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cache.h"
#include "identity_internal.h"
#include "pkixcd.h"

/* Bounds on what a CA's web server can make us do. */
#define CA_BODY_MAX (64 * 1024)     /* a PEM certificate is a few KiB */
#define CA_DEPTH_MAX 4              /* device CA, intermediates, root */
#define CA_CACHE_MAX 64
#define AKI_MAX 64                  /* octets of an authorityKeyIdentifier */
#define URL_MAX 512
#define WORKERS 4                   /* CA fetches in flight, at most */
#define QUEUE_MAX 64                /* identities waiting for a worker, at most */

/* Compared by address: a temporary failure. */
static const char why_not_fetched[] = "PKIX-CD: the CA could not be fetched over HTTPS (in time)";

struct ca_entry {
	char url[URL_MAX];
	X509 *cert;                 /* NULL: the fetch failed, not tried again until expires */
	time_t expires;
};

/* An identity waiting for its PKIX-CD records to be validated. */
struct job {
	danemsg_identity *id;
	uint64_t deadline_ms;       /* cache_now_ms() clock */
	pkixcd_done_cb done;
	void *arg;
	struct job *next;
};

struct pkixcd {
	char *ca_file, *ca_path, *connect_to;
	uint32_t max_ttl, failure_ttl;
	pthread_mutex_t lock;       /* the cache, the queue and the workers */
	struct ca_entry cache[CA_CACHE_MAX];
	size_t n_cache;
	pthread_cond_t wake;
	struct job *head, *tail;
	size_t queued;
	pthread_t workers[WORKERS];
	size_t n_workers;
	int stopping;               /* atomic: ends the workers and their transfers */
};

static void refuse_records(danemsg_identity *id, const char *why);

danemsg_err pkixcd_authority(const char *name, char *buf, size_t buflen)
{
	size_t len = name ? strnlen(name, 256) : 0;
	size_t start = len;

	if (len == 0 || len > 254)
		return DANEMSG_ERR_INVALID_ARG;
	if (name[len - 1] == '.')
		len--;
	/* Walk labels from the right; stop at the first that starts with '_'. */
	for (size_t i = len; i > 0; i--) {
		if (i == 1 || name[i - 2] == '.') {
			if (name[i - 1] == '_') {
				start = i;   /* just after the '_' */
				break;
			}
		}
	}
	if (start >= len || name[start] == '.')
		return DANEMSG_ERR_INVALID_ARG;
	if (len - start + 1 > buflen)
		return DANEMSG_ERR_BUFFER_TOO_SMALL;
	memcpy(buf, name + start, len - start);
	buf[len - start] = '\0';
	return DANEMSG_OK;
}

danemsg_err pkixcd_parse_ca(const uint8_t *body, size_t len, X509 **out)
{
	BIO *bio;

	*out = NULL;
	if (len > CA_BODY_MAX)
		return DANEMSG_ERR_TOO_LARGE;
	if (!(bio = BIO_new_mem_buf(body, (int)len)))
		return DANEMSG_ERR_NOMEM;
	*out = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	ERR_clear_error();
	return *out ? DANEMSG_OK : DANEMSG_ERR_MALFORMED;
}

danemsg_err pkixcd_new(const danemsg_resolver_config *cfg, struct pkixcd **out,
		       char *errbuf, size_t errlen)
{
	struct pkixcd *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (!p || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		free(p);
		return DANEMSG_ERR_NOMEM;
	}
	p->ca_file = cfg->pkix_ca_file && *cfg->pkix_ca_file ? strdup(cfg->pkix_ca_file) : NULL;
	p->ca_path = cfg->pkix_ca_path ? strdup(cfg->pkix_ca_path) : NULL;
	p->connect_to = cfg->pkix_cd_connect ? strdup(cfg->pkix_cd_connect) : NULL;
	p->max_ttl = cfg->cache_max_ttl;
	p->failure_ttl = cfg->cache_failure_ttl;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	*out = p;
	if ((cfg->pkix_ca_file && *cfg->pkix_ca_file && !p->ca_file) ||
	    (cfg->pkix_ca_path && !p->ca_path) || (cfg->pkix_cd_connect && !p->connect_to)) {
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "out of memory");
		return DANEMSG_ERR_NOMEM;
	}
	return DANEMSG_OK;
}

void pkixcd_free(struct pkixcd *p)
{
	struct job *j;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	__atomic_store_n(&p->stopping, 1, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->lock);
	for (size_t i = 0; i < p->n_workers; i++)
		pthread_join(p->workers[i], NULL);
	/* What no worker took is handed back unvalidated, so that its owner frees it. */
	while ((j = p->head) != NULL) {
		p->head = j->next;
		refuse_records(j->id, "PKIX-CD: the resolver was closed");
		j->done(j->arg, j->id, 1);
		free(j);
	}
	for (size_t i = 0; i < p->n_cache; i++)
		X509_free(p->cache[i].cert);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	free(p->ca_file);
	free(p->ca_path);
	free(p->connect_to);
	free(p);
	curl_global_cleanup();
}

/* What one fetch collects: the body (bounded) and the caching headers. */
struct fetch {
	uint8_t body[CA_BODY_MAX];
	size_t len;
	int too_large;
	long max_age;               /* -1: no max-age; 0 also for no-store / no-cache */
};

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct fetch *f = arg;
	size_t len = size * n;

	if (len > sizeof(f->body) - f->len) {
		f->too_large = 1;
		return 0;   /* aborts the transfer */
	}
	memcpy(f->body + f->len, data, len);
	f->len += len;
	return len;
}

/* Cache-Control: max-age=N, no-store, no-cache (RFC 9111 section 5.2.2). */
static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	struct fetch *f = arg;
	size_t len = size * n;
	char line[256];
	const char *v;

	if (len >= sizeof(line) || strncasecmp(data, "cache-control:", 14))
		return len;
	memcpy(line, data, len);
	line[len] = '\0';
	for (char *c = line; *c; c++)
		*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
	if (strstr(line, "no-store") || strstr(line, "no-cache"))
		f->max_age = 0;
	else if ((v = strstr(line, "max-age=")) != NULL)
		f->max_age = strtol(v + 8, NULL, 10);
	return len;
}

/* Ends a transfer when the fetcher is being freed (libcurl asks at least once a second). */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct pkixcd *p = arg;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return __atomic_load_n(&p->stopping, __ATOMIC_RELAXED);
}

/* HTTPS only, verified with the Web PKI, no redirects, bounded in size and in time (until
 * deadline_ms). */
static danemsg_err http_get(struct pkixcd *p, const char *url, const char *host,
			    uint64_t deadline_ms, struct fetch *f)
{
	CURL *curl = curl_easy_init();
	struct curl_slist *connect_to = NULL;
	char rule[300];
	long status = 0;
	CURLcode rc;

	uint64_t now = cache_now_ms();

	if (now >= deadline_ms) {
		curl_easy_cleanup(curl);
		return DANEMSG_ERR_DNS_TEMPORARY;
	}
	if (!curl)
		return DANEMSG_ERR_NOMEM;
	if (p->connect_to) {
		snprintf(rule, sizeof(rule), "%s:443:%s", host, p->connect_to);
		connect_to = curl_slist_append(NULL, rule);
		curl_easy_setopt(curl, CURLOPT_CONNECT_TO, connect_to);
	}
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
	if (p->ca_file)
		curl_easy_setopt(curl, CURLOPT_CAINFO, p->ca_file);
	if (p->ca_path)
		curl_easy_setopt(curl, CURLOPT_CAPATH, p->ca_path);
	curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)CA_BODY_MAX);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)(deadline_ms - now));
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(curl, CURLOPT_XFERINFODATA, p);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, f);
	rc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(curl);
	curl_slist_free_all(connect_to);
	if (f->too_large || rc == CURLE_FILESIZE_EXCEEDED)
		return DANEMSG_ERR_TOO_LARGE;
	return rc == CURLE_OK && status == 200 ? DANEMSG_OK : DANEMSG_ERR_DNS_TEMPORARY;
}

/* What the cache knows of url: 1 with the CA in *out (a reference), -1 when its fetch
 * failed just before, 0 nothing. */
static int cache_get(struct pkixcd *p, const char *url, X509 **out)
{
	time_t now = time(NULL);
	int found = 0;

	*out = NULL;
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < p->n_cache && !found; i++) {
		struct ca_entry *c = &p->cache[i];

		if (c->expires <= now || strcmp(c->url, url))
			continue;
		found = -1;
		if (c->cert && X509_up_ref(c->cert)) {
			*out = c->cert;
			found = 1;
		}
	}
	pthread_mutex_unlock(&p->lock);
	return found;
}

/* Keeps cert for max_age seconds, capped by the resolver's cache_max_ttl; a failed fetch
 * (cert NULL) for cache_failure_ttl, so that a server that hangs is not asked again by
 * every lookup meanwhile. */
static void cache_put(struct pkixcd *p, const char *url, X509 *cert, long max_age)
{
	time_t now = time(NULL);
	size_t slot = 0;

	if (!cert)
		max_age = (long)p->failure_ttl;
	if (max_age == 0)
		return;
	if (max_age < 0 || max_age > (long)p->max_ttl)
		max_age = (long)p->max_ttl;
	pthread_mutex_lock(&p->lock);
	/* A free slot, or an expired one, or the one expiring first. */
	if (p->n_cache < CA_CACHE_MAX) {
		slot = p->n_cache++;
	} else {
		for (size_t i = 1; i < CA_CACHE_MAX; i++)
			if (p->cache[i].expires < p->cache[slot].expires)
				slot = i;
		X509_free(p->cache[slot].cert);
	}
	snprintf(p->cache[slot].url, sizeof(p->cache[slot].url), "%s", url);
	p->cache[slot].cert = cert && X509_up_ref(cert) ? cert : NULL;
	p->cache[slot].expires = p->cache[slot].cert || !cert ? now + max_age : 0;
	pthread_mutex_unlock(&p->lock);
}

/* The issuer of cert, fetched from its authority by authorityKeyIdentifier. */
static danemsg_err fetch_issuer(struct pkixcd *p, const char *host, X509 *cert,
				uint64_t deadline_ms, X509 **out)
{
	const ASN1_OCTET_STRING *aki = X509_get0_authority_key_id(cert);
	char url[URL_MAX], hex[3 * AKI_MAX + 1] = "";
	struct fetch *f;
	danemsg_err err;
	int len = aki ? ASN1_STRING_length(aki) : 0;
	size_t pos = 0;

	*out = NULL;
	if (len <= 0 || len > AKI_MAX)
		return DANEMSG_ERR_MALFORMED;
	/* Lower-case hex pairs joined by '-', as the reference names the files. */
	for (int i = 0; i < len; i++)
		pos += (size_t)snprintf(hex + pos, sizeof(hex) - pos, i ? "-%02x" : "%02x",
					ASN1_STRING_get0_data(aki)[i]);
	snprintf(url, sizeof(url), "https://%s/.well-known/ca/%s.pem", host, hex);
	switch (cache_get(p, url, out)) {
	case 1: return DANEMSG_OK;
	case -1: return DANEMSG_ERR_DNS_TEMPORARY;
	default: break;
	}
	if (!(f = calloc(1, sizeof(*f))))
		return DANEMSG_ERR_NOMEM;
	f->max_age = -1;
	err = http_get(p, url, host, deadline_ms, f);
	if (!err)
		err = pkixcd_parse_ca(f->body, f->len, out);
	if (!err)
		cache_put(p, url, *out, f->max_age);
	else if (err == DANEMSG_ERR_DNS_TEMPORARY)
		cache_put(p, url, NULL, 0);
	free(f);
	return err;
}

/* Is cert its own issuer (a root: the walk up ends)? */
static int self_issued(X509 *cert)
{
	int ok = X509_check_issued(cert, cert) == X509_V_OK;

	ERR_clear_error();
	return ok;
}

/* The device certificate may sign and encrypt messages: keyUsage, when present, allows. */
static int key_usage_allows(X509 *cert)
{
	if (!(X509_get_extension_flags(cert) & EXFLAG_KUSAGE))
		return 1;
	return (X509_get_key_usage(cert) & KU_DIGITAL_SIGNATURE) != 0;
}

/*
 * Fetches the CAs above cert (at most CA_DEPTH_MAX) and validates cert to the root as a
 * PKIX-EE record for name would be: RFC 5280 by OpenSSL, the name in a DNS SAN.
 */
/* Adds cert to the identity's CAs unless it is there already. */
static void keep_ca(danemsg_identity *id, X509 *cert)
{
	for (int i = 0; i < sk_X509_num(id->pkixcd_cas); i++)
		if (!X509_cmp(sk_X509_value(id->pkixcd_cas, i), cert))
			return;
	if (!id->pkixcd_cas && !(id->pkixcd_cas = sk_X509_new_null()))
		return;
	if (X509_up_ref(cert) && !sk_X509_push(id->pkixcd_cas, cert))
		X509_free(cert);
}

/* Does cert (rec's) validate to store as a PKIX-EE record's would? */
static danemsg_err as_pkix_ee(const danemsg_tlsa *rec, X509 *cert, const char *name,
			      STACK_OF(X509) *untrusted, X509_STORE *store)
{
	danemsg_tlsa ee = *rec;

	ee.usage = DANEMSG_TLSA_PKIX_EE;
	ee.usable = 1;
	ee.unusable_reason = NULL;
	if (tlsa_take_facts(&ee))   /* the copy's: rec stays unusable until it validates */
		return DANEMSG_ERR_NO_MATCH;
	return danemsg_tlsa_match_cert_pkix(&ee, 1, name, cert, untrusted, store, NULL);
}

static const char *validate(struct pkixcd *p, const char *host, const char *name,
			    const danemsg_tlsa *rec, X509 *cert, danemsg_identity *id,
			    uint64_t deadline_ms)
{
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	X509_STORE *store = X509_STORE_new();
	X509 *cur = cert, *ca = NULL;
	const char *why = "PKIX-CD: no self-signed CA within 4 levels";
	danemsg_err err;

	if (!untrusted || !store) {
		why = "out of memory";
		goto out;
	}
	for (int depth = 0; depth < CA_DEPTH_MAX; depth++) {
		if ((err = fetch_issuer(p, host, cur, deadline_ms, &ca))) {
			why = err == DANEMSG_ERR_DNS_TEMPORARY ? why_not_fetched :
				"PKIX-CD: the CA's certificate is missing, too large or malformed";
			goto out;
		}
		if (self_issued(ca)) {
			why = X509_STORE_add_cert(store, ca) ? NULL : "out of memory";
			break;
		}
		if (!sk_X509_push(untrusted, ca)) {
			why = "out of memory";
			goto out;
		}
		cur = ca;
		ca = NULL;
	}
	if (why)
		goto out;
	if (!key_usage_allows(cert))
		why = "PKIX-CD: the certificate's keyUsage does not allow signatures";
	else if (as_pkix_ee(rec, cert, name, untrusted, store) != DANEMSG_OK)
		why = "PKIX-CD: the certificate does not validate to its CA for this name";
	for (int i = 0; !why && i < sk_X509_num(untrusted); i++)
		keep_ca(id, sk_X509_value(untrusted, i));
	if (!why)
		keep_ca(id, ca);
out:
	X509_free(ca);
	sk_X509_pop_free(untrusted, X509_free);
	X509_STORE_free(store);
	return why;
}

/* The certificate of a "4 0 0" record (*cert, the caller's); its own reason when it has
 * none. */
static const char *record_cert(const danemsg_tlsa *rec, X509 **cert)
{
	*cert = NULL;
	if (rec->selector != DANEMSG_TLSA_SEL_CERT || rec->matching_type != DANEMSG_TLSA_MATCH_FULL)
		return "PKIX-CD: only 4 0 0 records (a whole certificate) are supported";
	if (!rec->data || rec->data_len == 0 || rec->data_len > 65535)
		return "PKIX-CD: no certificate";
	return danemsg_tlsa_cert(rec, cert) ? "certificate does not parse" : NULL;
}

int pkixcd_wanted(const danemsg_identity *id)
{
	for (size_t i = 0; i < id->n_records; i++)
		if (id->records[i].usage == DANEMSG_TLSA_PKIX_CD && !id->records[i].usable)
			return 1;
	return 0;
}

/* Gives every PKIX-CD record still unusable the reason why. */
static void refuse_records(danemsg_identity *id, const char *why)
{
	for (size_t i = 0; i < id->n_records; i++)
		if (id->records[i].usage == DANEMSG_TLSA_PKIX_CD && !id->records[i].usable)
			id->records[i].unusable_reason = why;
}

int pkixcd_validate_records(struct pkixcd *p, danemsg_identity *id, uint64_t deadline_ms)
{
	char host[256], name[256];
	size_t len;
	int temporary = 0;

	if (pkixcd_authority(id->name, host, sizeof(host)))
		return 0;
	len = strlen(id->name);
	if (len == 0 || len >= sizeof(name))
		return 0;
	memcpy(name, id->name, len - 1);   /* without the trailing dot */
	name[len - 1] = '\0';
	for (size_t i = 0; i < id->n_records; i++) {
		danemsg_tlsa *rec = &id->records[i];
		const char *why;
		X509 *cert = NULL;

		if (rec->usage != DANEMSG_TLSA_PKIX_CD || rec->usable)
			continue;
		why = record_cert(rec, &cert);
		if (!why)
			why = validate(p, host, name, rec, cert, id, deadline_ms);
		temporary |= why == why_not_fetched;
		if (!why)   /* usable now: what matching and verification need */
			why = tlsa_take_facts(rec);
		X509_free(cert);
		cert = NULL;
		rec->usable = why == NULL;
		rec->unusable_reason = why;
	}
	return temporary;
}

static void *worker(void *arg)
{
	struct pkixcd *p = arg;
	struct job *j;

	for (;;) {
		pthread_mutex_lock(&p->lock);
		while (!p->head && !__atomic_load_n(&p->stopping, __ATOMIC_RELAXED))
			pthread_cond_wait(&p->wake, &p->lock);
		if (__atomic_load_n(&p->stopping, __ATOMIC_RELAXED)) {
			pthread_mutex_unlock(&p->lock);
			return NULL;
		}
		j = p->head;
		p->head = j->next;
		if (!p->head)
			p->tail = NULL;
		p->queued--;
		pthread_mutex_unlock(&p->lock);
		j->done(j->arg, j->id, pkixcd_validate_records(p, j->id, j->deadline_ms));
		free(j);
	}
}

/* Starts the workers at the first job (lock held): most resolvers never need them. */
static void start_workers_locked(struct pkixcd *p)
{
	while (p->n_workers < WORKERS &&
	       !pthread_create(&p->workers[p->n_workers], NULL, worker, p))
		p->n_workers++;
}

void pkixcd_submit(struct pkixcd *p, danemsg_identity *id, uint64_t timeout_ms,
		   pkixcd_done_cb done, void *arg)
{
	struct job *j = calloc(1, sizeof(*j));
	const char *why = "PKIX-CD: too many CA fetches waiting";

	pthread_mutex_lock(&p->lock);
	start_workers_locked(p);
	if (j && p->n_workers && p->queued < QUEUE_MAX) {
		j->id = id;
		j->deadline_ms = cache_now_ms() + timeout_ms;
		j->done = done;
		j->arg = arg;
		if (p->tail)
			p->tail->next = j;
		else
			p->head = j;
		p->tail = j;
		p->queued++;
		pthread_cond_signal(&p->wake);
		pthread_mutex_unlock(&p->lock);
		return;
	}
	pthread_mutex_unlock(&p->lock);
	free(j);
	if (!j || !p->n_workers)
		why = "out of memory";
	refuse_records(id, why);
	done(arg, id, 1);
}

/* danemsg id publish NAME: put NAME's TLSA records into DNS by UPDATE with TSIG, then check. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "dns_opts.h"

static const char publish_usage[] =
	"usage: danemsg id publish NAME [--server ADDR[@PORT]] [--tsig ALG:KEYNAME:SECRET |\n"
	"                               --tsig-file FILE] [--zone ZONE] [--add] [--ttl N]\n"
	"                               [--usage U --selector S --matching M] [--no-confirm]\n"
	"                               [--dir DIR] [DNS options]\n"
	"       danemsg id publish NAME --remove [--record 'U S M HEX']... [--force] [...]\n"
	"\n"
	"Publishes one TLSA record per certificate NAME publishes (the current one, the\n"
	"next one during a rollover, and for Ed25519 the X25519 certificate) with one DNS\n"
	"UPDATE (RFC 2136) signed with TSIG, sent over TCP. By default the update replaces\n"
	"the TLSA records at NAME; then a DNSSEC-validated lookup confirms that the records\n"
	"are live and secure.\n"
	"\n"
	"  --server ADDR[@PORT]    the primary that accepts updates, an IP address\n"
	"                          (default: env DANEMSG_RESOLVER; port 53)\n"
	"  --tsig [ALG:]NAME:SECRET  the TSIG key (knsupdate -y form; ALG default\n"
	"                          hmac-sha256); default: env DANEMSG_TSIG. Visible to other\n"
	"                          local users in the process list: prefer --tsig-file\n"
	"  --tsig-file FILE        the TSIG key from a file: BIND/nsupdate 'key \"NAME\" {...};',\n"
	"                          knot 'key: - id: ...', or knsupdate -k (env DANEMSG_TSIG_FILE)\n"
	"  --zone ZONE             the zone to update (default: the owner of NAME's SOA,\n"
	"                          asked of the server, as nsupdate does)\n"
	"  --add                   add the records beside those already at NAME\n"
	"  --remove                remove records instead (revocation): the retired key's\n"
	"                          (NAME.old.*, from 'id rollover'), or those of --record;\n"
	"                          refused when no usable record would remain at NAME\n"
	"  --record 'U S M HEX'    with --remove: this record (a TLSA RDATA as 'id tlsa'\n"
	"                          prints it); repeatable, at most 64\n"
	"  --force                 with --remove: remove even the last usable record, and\n"
	"                          without looking at what DNS holds first\n"
	"  --ttl N                 TTL of the records, seconds (default 300)\n"
	"  --usage U --selector S --matching M\n"
	"                          the TLSA parameters (default 3 0 0: DANE-EE, the whole\n"
	"                          certificate, which messages then need not carry)\n"
	"  --no-confirm            skip the DNSSEC-validated lookup after the update\n"
	"  --confirm-wait S        how long to wait for the records to show, seconds\n"
	"                          (default 10)\n"
	"  --dir DIR               the identity folder (default: env DANEMSG_DIR, ...)\n"
	"  -h, --help              this text\n"
	"\n%s"
	"\n"
	"Exit status: 0 published (and confirmed live and secure); 30 the server refused\n"
	"the update (TSIG key, ACL, zone); 13 server unreachable or no answer; 23 the\n"
	"answer's TSIG does not verify; 2 usage; with confirmation, the status of the\n"
	"lookup: 10 insecure, 11 bogus, 12 not found, 16 the records are not (yet) there.\n"
	"--remove: 0 removed and confirmed gone, or none of them was there; 14 refused:\n"
	"no usable record would remain (--force); 16 a removed record still shows; the\n"
	"lookup before it (without --force): 10, 11, 13 as above.\n";

enum {
	OPT_SERVER = 2000,
	OPT_TSIG,
	OPT_TSIG_FILE,
	OPT_ZONE,
	OPT_ADD,
	OPT_TTL,
	OPT_USAGE,
	OPT_SELECTOR,
	OPT_MATCHING,
	OPT_NO_CONFIRM,
	OPT_CONFIRM_WAIT,
	OPT_DIR,
	OPT_REMOVE,
	OPT_RECORD,
	OPT_FORCE,
};

/* The records one update carries, at most (src/dns/publish.c refuses more). */
#define RECORDS_MAX 64

struct publish_args {
	const char *name, *server, *tsig, *tsig_file, *zone, *dir;
	const char *record_text[RECORDS_MAX];
	size_t n_record_text;
	int add, confirm, remove, force;
	unsigned long ttl, usage, selector, matching, confirm_wait;
	struct cli_dns_opts dns;
};

/* The records of one update: RDATA owned here, recs[i] pointing into rdata[i]. */
struct records {
	danemsg_tlsa recs[RECORDS_MAX];
	uint8_t *rdata[RECORDS_MAX];
	size_t n;
};

static void records_free(struct records *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->rdata[i]);
	memset(r, 0, sizeof(*r));
}

/* Takes rdata (malloc'ed, at least 4 octets) into r. */
static danemsg_err records_add(struct records *r, uint8_t *rdata, size_t len)
{
	if (r->n >= RECORDS_MAX || len < 4) {
		free(rdata);
		return DANEMSG_ERR_TOO_LARGE;
	}
	danemsg_tlsa *rec = &r->recs[r->n];
	r->rdata[r->n++] = rdata;
	danemsg_tlsa_init(rec);
	rec->usage = rdata[0];
	rec->selector = rdata[1];
	rec->matching_type = rdata[2];
	rec->data = rdata + 3;
	rec->data_len = len - 3;
	return DANEMSG_OK;
}

/* Parses --record 'U S M HEX' into out. */
static danemsg_err record_parse(const char *text, struct records *out)
{
	size_t len = 0, size = 3 + strlen(text) / 2;
	uint8_t *rdata = malloc(size);
	if (!rdata)
		return DANEMSG_ERR_NOMEM;
	danemsg_err err = danemsg_tlsa_rdata_from_text(text, rdata, size, &len);
	if (err) {
		free(rdata);
		return err;
	}
	return records_add(out, rdata, len);
}

/* One record per certificate, with the --usage/--selector/--matching of a. */
static danemsg_err records_of_certs(const struct publish_args *a, X509 *const *certs, size_t n,
				    struct records *out)
{
	danemsg_err err = DANEMSG_OK;
	for (size_t i = 0; i < n && !err; i++) {
		size_t len = 0;
		uint8_t *rdata;
		err = danemsg_tlsa_rdata(certs[i], (uint8_t)a->usage, (uint8_t)a->selector,
					 (uint8_t)a->matching, NULL, 0, &len);
		if (err != DANEMSG_ERR_BUFFER_TOO_SMALL)
			break;
		if (!(rdata = malloc(len)))
			return DANEMSG_ERR_NOMEM;
		err = danemsg_tlsa_rdata(certs[i], (uint8_t)a->usage, (uint8_t)a->selector,
					 (uint8_t)a->matching, rdata, len, &len);
		if (err)
			free(rdata);
		else
			err = records_add(out, rdata, len);
	}
	return err;
}

/* The records of the certificates NAME publishes: current, next, X25519. */
static danemsg_err records_published(const struct publish_args *a, const char *dir,
				     struct records *out, char *errbuf, size_t errbuf_len)
{
	STACK_OF(X509) *certs = NULL;
	danemsg_err err = danemsg_credential_published(dir, a->name, &certs, errbuf, errbuf_len);
	X509 *list[RECORDS_MAX];
	size_t n = 0;
	for (int i = 0; !err && i < sk_X509_num(certs) && n < RECORDS_MAX; i++)
		list[n++] = sk_X509_value(certs, i);
	if (!err)
		err = records_of_certs(a, list, n, out);
	sk_X509_pop_free(certs, X509_free);
	return err;
}

/* The records of the retired key (NAME.old.*): signing, and X25519 for Ed25519. */
static danemsg_err records_retired(const struct publish_args *a, const char *dir,
				   struct records *out, char *errbuf, size_t errbuf_len)
{
	danemsg_credential *c;
	danemsg_err err = danemsg_credential_load_slot(dir, a->name, DANEMSG_SLOT_OLD, &c, errbuf,
						       errbuf_len);
	if (err == DANEMSG_ERR_NOT_FOUND)
		snprintf(errbuf, errbuf_len, "there is no retired key (NAME.old.*, kept by 'id "
			 "rollover') whose records to remove: name them with --record");
	if (err)
		return err;
	X509 *certs[2] = {danemsg_credential_sign_cert(c), danemsg_credential_enc_cert(c)};
	err = records_of_certs(a, certs, certs[1] == certs[0] ? 1 : 2, out);
	danemsg_credential_free(c);
	return err;
}

/* What the update carries: --record's records, the retired key's, or the published ones. */
static danemsg_err records_make(const struct publish_args *a, const char *dir,
				struct records *out, char *errbuf, size_t errbuf_len)
{
	danemsg_err err = DANEMSG_OK;
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < a->n_record_text && !err; i++)
		if ((err = record_parse(a->record_text[i], out)))
			snprintf(errbuf, errbuf_len, "--record '%.80s' is not 'USAGE SELECTOR "
				 "MATCHING HEX' (numbers 0-255, hex data)", a->record_text[i]);
	if (!a->n_record_text) {
		err = a->remove ? records_retired(a, dir, out, errbuf, errbuf_len) :
		      records_published(a, dir, out, errbuf, errbuf_len);
		if (err && !errbuf[0])
			snprintf(errbuf, errbuf_len, "cannot make the TLSA records of its "
				 "certificates");
	}
	if (err)
		records_free(out);
	return err;
}

/* The TSIG key from --tsig, --tsig-file, DANEMSG_TSIG or DANEMSG_TSIG_FILE. */
static int load_key(const struct publish_args *a, danemsg_tsig_key **key)
{
	static const char *const spec_vars[] = {"DANEMSG_TSIG", NULL};
	static const char *const file_vars[] = {"DANEMSG_TSIG_FILE", NULL};
	const char *spec = a->tsig, *file = a->tsig_file;
	char errbuf[512] = "";
	danemsg_err err;

	if (spec && file) {
		cli_error("id publish: give --tsig or --tsig-file, not both");
		return EXIT_USAGE;
	}
	if (!spec && !file && !(spec = cli_env(spec_vars)) && !(file = cli_env(file_vars))) {
		cli_error("id publish: no TSIG key: give --tsig ALG:NAME:SECRET or --tsig-file "
			  "FILE, or set DANEMSG_TSIG");
		return EXIT_USAGE;
	}
	err = spec ? danemsg_tsig_key_parse(spec, key, errbuf, sizeof(errbuf))
		   : danemsg_tsig_key_load(file, key, errbuf, sizeof(errbuf));
	if (err) {
		cli_error("%s%s", errbuf, spec && !a->tsig ? " (from DANEMSG_TSIG)" : "");
		return EXIT_USAGE;
	}
	return EXIT_OK_;
}

static void print_record(const char *name, uint32_t ttl, const danemsg_tlsa *rec)
{
	size_t shown = rec->data_len <= 64 ? rec->data_len : 16;
	char hex[2 * 64 + 1];

	danemsg_hex_encode(rec->data, shown, hex, sizeof(hex));
	printf("  %s %u IN TLSA %u %u %u %s", name, ttl, rec->usage, rec->selector,
	       rec->matching_type, hex);
	if (shown < rec->data_len)
		printf("... (%zu octets)", rec->data_len);
	putchar('\n');
}

static int same_record(const danemsg_tlsa *a, const danemsg_tlsa *b)
{
	return a->usage == b->usage && a->selector == b->selector &&
	       a->matching_type == b->matching_type && a->data_len == b->data_len &&
	       !memcmp(a->data, b->data, a->data_len);
}

/* How many of recs the identity's validated answer holds. */
static size_t records_live(const danemsg_identity *id, const struct records *r)
{
	size_t live = 0;
	for (size_t i = 0; i < r->n; i++)
		for (size_t j = 0; j < danemsg_identity_record_count(id); j++)
			if (same_record(&r->recs[i], danemsg_identity_record(id, j))) {
				live++;
				break;
			}
	return live;
}

/* A validated lookup of name with a resolver of its own (its cache would keep old answers). */
static danemsg_err lookup(struct publish_args *a, const char *name, danemsg_identity **id)
{
	danemsg_resolver *res = NULL;
	*id = NULL;
	if (cli_resolver_new(&a->dns, &res))
		return DANEMSG_ERR_DNS_CONFIG;
	danemsg_err err = danemsg_resolver_lookup(res, name, id);
	danemsg_resolver_free(res);
	return err;
}

/* Is the answer final for confirm: the records all show (publish) or none does (remove)? */
static int confirmed(const struct publish_args *a, danemsg_err err, size_t live, size_t n)
{
	if (a->remove)
		return live == 0 && (!err || err == DANEMSG_ERR_NO_USABLE_RECORD ||
				     err == DANEMSG_ERR_DNS_NOT_FOUND);
	return !err && live == n;
}

/*
 * Looks NAME up with DNSSEC validation until every published record shows (with
 * --remove: until none of the removed ones does) or the wait is over.
 */
static int confirm(struct publish_args *a, const char *name, const struct records *r)
{
	danemsg_err err = DANEMSG_ERR_DNS_TEMPORARY;
	size_t live = 0;

	for (unsigned long waited = 0;; waited++) {
		danemsg_identity *id = NULL;
		err = lookup(a, name, &id);
		if (err == DANEMSG_ERR_DNS_CONFIG && !id) {
			cli_error("the update was accepted, but the records cannot be confirmed: "
				  "DNS configuration");
			return EXIT_DNS_CONFIG;
		}
		live = id ? records_live(id, r) : 0;
		int done = confirmed(a, err, live, r->n);
		if (!done && (!err || err == DANEMSG_ERR_NO_USABLE_RECORD ||
			      err == DANEMSG_ERR_DNS_NOT_FOUND))
			err = DANEMSG_ERR_NO_MATCH;
		/* Only an answer that may still change is worth waiting for. */
		int last = done || waited >= a->confirm_wait ||
			   (err != DANEMSG_ERR_DNS_NOT_FOUND && err != DANEMSG_ERR_NO_MATCH &&
			    err != DANEMSG_ERR_DNS_TEMPORARY);
		if (last && id) {
			printf("DNSSEC-validated lookup: %s, %zu TLSA record%s at %s, "
			       "%zu of %zu %s record%s live, TTL %u s\n",
			       danemsg_dnssec_name(danemsg_identity_dnssec(id)),
			       danemsg_identity_record_count(id),
			       danemsg_identity_record_count(id) == 1 ? "" : "s",
			       danemsg_identity_name(id), live, r->n,
			       a->remove ? "removed" : "published", r->n == 1 ? "" : "s",
			       danemsg_identity_ttl(id));
			if (!done && err != DANEMSG_ERR_NO_MATCH && danemsg_identity_why(id))
				printf("  reason: %s\n", danemsg_identity_why(id));
		}
		danemsg_identity_unref(id);
		if (done) {
			printf("confirmed: the records are %s\n",
			       a->remove ? "gone (DNSSEC-validated answer)" :
			       "live and DNSSEC-secure");
			return EXIT_OK_;
		}
		if (last)
			break;
		sleep(1);
	}
	if (err == DANEMSG_ERR_NO_MATCH) {
		cli_error("the update was accepted, but after %lu s DNS shows %zu of the %zu "
			  "records (a resolver that caches the old answer?)", a->confirm_wait, live,
			  r->n);
		return EXIT_NO_MATCH;
	}
	cli_error("the update was accepted, but the lookup of %s says: %s", name,
		  danemsg_strerror(err));
	return cli_exit_code(err);
}

/*
 * Before --remove (unless --force): what DNS holds now. 0 to go on; -1 when none of the
 * records is there (nothing to do); else the exit code of a refusal.
 */
static int check_removal(struct publish_args *a, const char *name, const struct records *r)
{
	danemsg_identity *id = NULL;
	danemsg_err err = lookup(a, name, &id);
	size_t live = id ? records_live(id, r) : 0, usable_left = 0, usable = 0;
	for (size_t j = 0; id && j < danemsg_identity_record_count(id); j++) {
		const danemsg_tlsa *rec = danemsg_identity_record(id, j);
		int removed = 0;
		for (size_t i = 0; i < r->n && !removed; i++)
			removed = same_record(&r->recs[i], rec);
		usable += rec->usable != 0;
		usable_left += rec->usable && !removed;
	}
	danemsg_identity_unref(id);
	if (err == DANEMSG_ERR_DNS_NOT_FOUND || (live == 0 && (!err ||
						 err == DANEMSG_ERR_NO_USABLE_RECORD))) {
		printf("none of the %zu record%s is published at %s: nothing to remove\n", r->n,
		       r->n == 1 ? "" : "s", name);
		return -1;
	}
	if (err && err != DANEMSG_ERR_NO_USABLE_RECORD) {
		cli_error("%s: cannot tell what would remain (%s): nothing removed; --force "
			  "removes without looking", name, danemsg_strerror(err));
		return cli_exit_code(err);
	}
	if (usable > 0 && usable_left == 0 && !a->force) {
		cli_error("%s: removing %s would leave no usable TLSA record: no one could "
			  "authenticate %s or encrypt to it; nothing removed (--force to do it)",
			  name, live == 1 ? "this record" : "these records", name);
		return EXIT_NO_USABLE_RECORD;
	}
	printf("%zu of the %zu record%s to remove published at %s; %zu usable record%s will "
	       "remain\n", live, r->n, r->n == 1 ? "" : "s", name, usable_left,
	       usable_left == 1 ? "" : "s");
	return 0;
}

static int parse_args(int argc, char **argv, struct publish_args *a)
{
	static const struct option longopts[] = {
		{"server", required_argument, NULL, OPT_SERVER},
		{"tsig", required_argument, NULL, OPT_TSIG},
		{"tsig-file", required_argument, NULL, OPT_TSIG_FILE},
		{"zone", required_argument, NULL, OPT_ZONE},
		{"add", no_argument, NULL, OPT_ADD},
		{"ttl", required_argument, NULL, OPT_TTL},
		{"usage", required_argument, NULL, OPT_USAGE},
		{"selector", required_argument, NULL, OPT_SELECTOR},
		{"matching", required_argument, NULL, OPT_MATCHING},
		{"no-confirm", no_argument, NULL, OPT_NO_CONFIRM},
		{"confirm-wait", required_argument, NULL, OPT_CONFIRM_WAIT},
		{"dir", required_argument, NULL, OPT_DIR},
		{"remove", no_argument, NULL, OPT_REMOVE},
		{"record", required_argument, NULL, OPT_RECORD},
		{"force", no_argument, NULL, OPT_FORCE},
		{"help", no_argument, NULL, 'h'},
		CLI_DNS_LONG_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	int opt;

	memset(a, 0, sizeof(*a));
	a->confirm = 1;
	a->ttl = 300;
	a->confirm_wait = 10;
	a->usage = DANEMSG_TLSA_DANE_EE;
	a->selector = DANEMSG_TLSA_SEL_CERT;
	a->matching = DANEMSG_TLSA_MATCH_FULL;
	optind = 1;
	while ((opt = cli_next_option(argc, argv, longopts, &a->dns)) != -1) {
		int bad = 0;
		switch (opt) {
		case CLI_OPT_BAD_VALUE: return EXIT_USAGE;
		case OPT_SERVER: a->server = optarg; break;
		case OPT_TSIG: a->tsig = optarg; break;
		case OPT_TSIG_FILE: a->tsig_file = optarg; break;
		case OPT_ZONE: a->zone = optarg; break;
		case OPT_ADD: a->add = 1; break;
		case OPT_TTL: bad = cli_parse_uint(optarg, "--ttl", 0, 2147483647, &a->ttl); break;
		case OPT_USAGE: bad = cli_parse_uint(optarg, "--usage", 0, 3, &a->usage); break;
		case OPT_SELECTOR:
			bad = cli_parse_uint(optarg, "--selector", 0, 1, &a->selector);
			break;
		case OPT_MATCHING:
			bad = cli_parse_uint(optarg, "--matching", 0, 2, &a->matching);
			break;
		case OPT_NO_CONFIRM: a->confirm = 0; break;
		case OPT_CONFIRM_WAIT:
			bad = cli_parse_uint(optarg, "--confirm-wait", 0, 3600, &a->confirm_wait);
			break;
		case OPT_DIR: a->dir = optarg; break;
		case OPT_REMOVE: a->remove = 1; break;
		case OPT_FORCE: a->force = 1; break;
		case OPT_RECORD:
			bad = a->n_record_text >= RECORDS_MAX;
			if (!bad)
				a->record_text[a->n_record_text++] = optarg;
			break;
		case 'h': printf(publish_usage, cli_dns_help); return -1;
		default: bad = 1; break;
		}
		if (bad)
			return EXIT_USAGE;
	}
	if (cli_operands(argc, argv, "NAME", 1, 1))
		return EXIT_USAGE;
	if ((a->remove && a->add) || (!a->remove && (a->force || a->n_record_text))) {
		cli_error("id publish: --record and --force go with --remove, which excludes "
			  "--add");
		return EXIT_USAGE;
	}
	a->name = argv[optind];
	return EXIT_OK_;
}

int id_publish(int argc, char **argv)
{
	static const char *const server_vars[] = {"DANEMSG_RESOLVER", NULL};
	struct publish_args a;
	struct records recs = {0};
	danemsg_publish_options opt;
	danemsg_tsig_key *key = NULL;
	char name[DANEMSG_CREDENTIAL_NAME_MAX + 1], zone[256], server[64], errbuf[1024] = "";
	const char *dir, *server_spec;
	danemsg_err err;
	int rc = parse_args(argc, argv, &a);

	if (rc)
		return rc < 0 ? EXIT_OK_ : rc;
	if (danemsg_credential_name_normalize(a.name, name, sizeof(name) - 1)) {
		cli_error("id publish: '%s' is not a valid identity name", a.name);
		return EXIT_USAGE;
	}
	memcpy(name + strlen(name), ".", 2);   /* fits: the name took at most sizeof - 1 */
	danemsg_publish_options_init(&opt);
	server_spec = a.server ? a.server : cli_env(server_vars);
	if (!server_spec) {
		cli_error("id publish: no server: give --server ADDR[@PORT] or set "
			  "DANEMSG_RESOLVER");
		return EXIT_USAGE;
	}
	if (danemsg_dns_server_parse(server_spec, &opt.server)) {
		cli_error("id publish: server '%s' is not ADDR[@PORT] with an IP address%s",
			  server_spec, a.server ? "" : " (from DANEMSG_RESOLVER)");
		return EXIT_USAGE;
	}
	danemsg_dns_server_format(&opt.server, server, sizeof(server));
	if ((rc = load_key(&a, &key)))
		return rc;
	if (!(dir = cli_identity_dir(a.dir))) {
		danemsg_tsig_key_free(key);
		return EXIT_USAGE;
	}
	err = records_make(&a, dir, &recs, errbuf, sizeof(errbuf));
	if (err) {
		cli_error("%s: %s (%s)", a.name, danemsg_strerror(err), errbuf);
		danemsg_tsig_key_free(key);
		return a.n_record_text && (err == DANEMSG_ERR_MALFORMED ||
					   err == DANEMSG_ERR_TOO_LARGE) ? EXIT_USAGE :
		       cli_exit_code(err);
	}
	if (a.remove && !a.force && (rc = check_removal(&a, name, &recs))) {
		rc = rc < 0 ? EXIT_OK_ : rc;
		goto out;
	}
	opt.key = key;
	opt.mode = a.remove ? DANEMSG_PUBLISH_REMOVE :
		   a.add ? DANEMSG_PUBLISH_ADD : DANEMSG_PUBLISH_REPLACE;
	opt.ttl = (uint32_t)a.ttl;
	if (a.dns.timeout_ms)
		opt.timeout_ms = (uint32_t)a.dns.timeout_ms;
	if (a.zone) {
		opt.zone = a.zone;
		snprintf(zone, sizeof(zone), "%s", a.zone);
		err = DANEMSG_OK;
	} else {
		err = danemsg_dns_find_zone(&opt.server, name, opt.timeout_ms, zone, sizeof(zone),
					    errbuf, sizeof(errbuf));
		opt.zone = zone;
	}
	if (!err)
		err = danemsg_publish_tlsa(&opt, name, recs.recs, recs.n, errbuf, sizeof(errbuf));
	if (err) {
		cli_error("%s: %s", name, errbuf);
		rc = cli_exit_code(err);
		goto out;
	}
	printf("%s %zu TLSA record%s at %s (zone %s, server %s, key %s):\n",
	       a.remove ? "removed" : a.add ? "added" : "published", recs.n,
	       recs.n == 1 ? "" : "s", name, zone, server, danemsg_tsig_key_name(key));
	for (size_t i = 0; i < recs.n; i++)
		print_record(name, opt.ttl, &recs.recs[i]);
	fflush(stdout);
	rc = a.confirm ? confirm(&a, name, &recs) : EXIT_OK_;
out:
	records_free(&recs);
	danemsg_tsig_key_free(key);
	return rc;
}

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
	"lookup: 10 insecure, 11 bogus, 12 not found, 16 the records are not (yet) there.\n";

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
};

struct publish_args {
	const char *name, *server, *tsig, *tsig_file, *zone, *dir;
	int add, confirm;
	unsigned long ttl, usage, selector, matching, confirm_wait;
	struct cli_dns_opts dns;
};

/* The records to publish: one RDATA per certificate, owned by the caller. */
struct records {
	danemsg_tlsa *recs;
	uint8_t **rdata;
	size_t n;
};

static void records_free(struct records *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->rdata[i]);
	free(r->rdata);
	free(r->recs);
	memset(r, 0, sizeof(*r));
}

static danemsg_err records_make(const struct publish_args *a, const char *dir,
				struct records *out, char *errbuf, size_t errbuf_len)
{
	STACK_OF(X509) *certs = NULL;
	danemsg_err err = danemsg_credential_published(dir, a->name, &certs, errbuf, errbuf_len);
	size_t n;

	memset(out, 0, sizeof(*out));
	if (err)
		return err;
	n = (size_t)sk_X509_num(certs);
	out->recs = calloc(n ? n : 1, sizeof(*out->recs));
	out->rdata = calloc(n ? n : 1, sizeof(*out->rdata));
	if (!out->recs || !out->rdata)
		err = DANEMSG_ERR_NOMEM;
	for (size_t i = 0; i < n && !err; i++) {
		X509 *cert = sk_X509_value(certs, (int)i);
		size_t len = 0;
		err = danemsg_tlsa_rdata(cert, (uint8_t)a->usage, (uint8_t)a->selector,
					 (uint8_t)a->matching, NULL, 0, &len);
		if (err != DANEMSG_ERR_BUFFER_TOO_SMALL)
			break;
		if (!(out->rdata[i] = malloc(len))) {
			err = DANEMSG_ERR_NOMEM;
			break;
		}
		out->n = i + 1;
		err = danemsg_tlsa_rdata(cert, (uint8_t)a->usage, (uint8_t)a->selector,
					 (uint8_t)a->matching, out->rdata[i], len, &len);
		if (!err && len < 4)
			err = DANEMSG_ERR_MALFORMED;
		if (!err) {
			out->recs[i].usage = out->rdata[i][0];
			out->recs[i].selector = out->rdata[i][1];
			out->recs[i].matching_type = out->rdata[i][2];
			out->recs[i].data = out->rdata[i] + 3;
			out->recs[i].data_len = len - 3;
		}
	}
	sk_X509_pop_free(certs, X509_free);
	if (err) {
		snprintf(errbuf, errbuf_len, "cannot make the TLSA records of its certificates");
		records_free(out);
	}
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

/*
 * Looks NAME up with DNSSEC validation until every published record shows or the
 * wait is over. A new resolver each time: its cache would keep the first answer.
 */
static int confirm(struct publish_args *a, const char *name, const struct records *r)
{
	danemsg_err err = DANEMSG_ERR_DNS_TEMPORARY;
	size_t live = 0;

	for (unsigned long waited = 0;; waited++) {
		danemsg_resolver *res = NULL;
		danemsg_identity *id = NULL;
		if (cli_resolver_new(&a->dns, &res)) {
			cli_error("the update was accepted, but the records cannot be confirmed: "
				  "DNS configuration");
			return EXIT_DNS_CONFIG;
		}
		err = danemsg_resolver_lookup(res, name, &id);
		live = id ? records_live(id, r) : 0;
		if (!err && live < r->n)
			err = DANEMSG_ERR_NO_MATCH;
		/* Only an answer that may still change is worth waiting for. */
		int last = !err || waited >= a->confirm_wait ||
			   (err != DANEMSG_ERR_DNS_NOT_FOUND && err != DANEMSG_ERR_NO_MATCH &&
			    err != DANEMSG_ERR_DNS_TEMPORARY);
		if (last && id) {
			printf("DNSSEC-validated lookup: %s, %zu TLSA record%s at %s, "
			       "%zu of %zu published record%s live, TTL %u s\n",
			       danemsg_dnssec_name(danemsg_identity_dnssec(id)),
			       danemsg_identity_record_count(id),
			       danemsg_identity_record_count(id) == 1 ? "" : "s",
			       danemsg_identity_name(id), live, r->n, r->n == 1 ? "" : "s",
			       danemsg_identity_ttl(id));
			if (err && danemsg_identity_why(id))
				printf("  reason: %s\n", danemsg_identity_why(id));
		}
		danemsg_identity_unref(id);
		danemsg_resolver_free(res);
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
	if (err) {
		cli_error("the update was accepted, but the lookup of %s says: %s", name,
			  danemsg_strerror(err));
		return cli_exit_code(err);
	}
	printf("confirmed: the records are live and DNSSEC-secure\n");
	return EXIT_OK_;
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
		case 'h': printf(publish_usage, cli_dns_help); return -1;
		default: bad = 1; break;
		}
		if (bad) {
			fprintf(stderr, publish_usage, cli_dns_help);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		cli_error("id publish: expected one NAME");
		fprintf(stderr, publish_usage, cli_dns_help);
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
	strcat(name, ".");
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
		return cli_exit_code(err);
	}
	opt.key = key;
	opt.mode = a.add ? DANEMSG_PUBLISH_ADD : DANEMSG_PUBLISH_REPLACE;
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
	       a.add ? "added" : "published", recs.n, recs.n == 1 ? "" : "s", name, zone, server,
	       danemsg_tsig_key_name(key));
	for (size_t i = 0; i < recs.n; i++)
		print_record(name, opt.ttl, &recs.recs[i]);
	fflush(stdout);
	rc = a.confirm ? confirm(&a, name, &recs) : EXIT_OK_;
out:
	records_free(&recs);
	danemsg_tsig_key_free(key);
	return rc;
}

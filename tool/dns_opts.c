/* DNS options shared by the subcommands that look identities up. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "cli.h"
#include "dns_opts.h"

const char cli_dns_help[] =
	"DNS options (validation is always done locally, with libunbound):\n"
	"  --resolver ADDR[@PORT]  send queries to this server (env DANEMSG_RESOLVER);\n"
	"                          default: the servers in /etc/resolv.conf\n"
	"  --trust-anchor FILE     add DS/DNSKEY trust anchors for private zones, repeatable\n"
	"                          (env DANEMSG_TRUST_ANCHOR, several separated by ':')\n"
	"  --root-anchor FILE      the root trust anchor (default /usr/share/dns/root.key);\n"
	"                          '' for none\n"
	"  --zone-file FILE        offline: validate from this signed zone file, no server\n"
	"  --allow-insecure        INSECURE: let unsigned answers authenticate identities\n"
	"                          (env DANEMSG_ALLOW_INSECURE=1); off by default\n"
	"  --timeout MS            give up on a lookup after MS milliseconds (default 5000)\n"
	"  --cache-max-ttl S       use no answer longer than S seconds (default 300)\n"
	"  --ca-file FILE          Web PKI CAs (PEM) for PKIX-TA/PKIX-EE records (usages 0, 1)\n"
	"  --ca-path DIR           ... a folder of them named by hash; default for both: the\n"
	"                          system's (/etc/ssl/certs); --ca-file '' for none\n"
	"  --pkix-cd               also trust the reference's private usage 4 (\"PKIX-CD\",\n"
	"                          not assigned by IANA): the CA is fetched over HTTPS from\n"
	"                          the identity's domain (docs/discovery.md); off by default\n"
	"  --pkix-cd-connect ADDR:PORT  send those HTTPS fetches there (TLS name unchanged)\n";

const char cli_chain_help[] =
	"DNSSEC chains carried in messages (seal --with-chain):\n"
	"  --offline               no DNS at all: the sender's TLSA records come from the\n"
	"                          chain the message carries, verified with the --trust-anchor\n"
	"                          files (or DANEMSG_TRUST_ANCHOR); a message without one is\n"
	"                          refused (22). Without --offline a carried chain must verify\n"
	"                          too (else 11, 20 or 27), but DNS decides\n"
	"  --at now|iat            check the chain's RRSIGs as of now (default), or as of the\n"
	"                          message's signed iat: for archives only, since whoever holds\n"
	"                          a key removed from DNS can date messages into an old chain\n";

static int parse_number(const char *arg, const char *what, long max, long *out)
{
	char *end;
	long v = strtol(arg, &end, 10);
	if (*arg == '\0' || *end != '\0' || v < 0 || v > max) {
		cli_error("%s must be a number from 0 to %ld, not '%s'", what, max, arg);
		return -1;
	}
	*out = v;
	return 1;
}

static int add_anchor(struct cli_dns_opts *o, const char *file)
{
	if (o->n_anchors >= CLI_DNS_MAX_ANCHORS) {
		cli_error("at most %d trust anchor files", CLI_DNS_MAX_ANCHORS);
		return -1;
	}
	o->anchors[o->n_anchors++] = file;
	return 1;
}

int cli_dns_option(struct cli_dns_opts *o, int opt, const char *arg)
{
	switch (opt) {
	case CLI_OPT_RESOLVER: o->server = arg; return 1;
	case CLI_OPT_TRUST_ANCHOR: return add_anchor(o, arg);
	case CLI_OPT_ROOT_ANCHOR: o->root_anchor = arg; return 1;
	case CLI_OPT_ZONE_FILE: o->zone_file = arg; return 1;
	case CLI_OPT_ALLOW_INSECURE: o->allow_insecure = 1; return 1;
	case CLI_OPT_DNS_TIMEOUT: return parse_number(arg, "--timeout", 3600000, &o->timeout_ms);
	case CLI_OPT_CACHE_MAX_TTL:
		return parse_number(arg, "--cache-max-ttl", 86400 * 7, &o->cache_max_ttl);
	case CLI_OPT_OFFLINE: o->offline = 1; return 1;
	case CLI_OPT_CA_FILE: o->ca_file = arg; return 1;
	case CLI_OPT_CA_PATH: o->ca_path = arg; return 1;
	case CLI_OPT_PKIX_CD: o->pkix_cd = 1; return 1;
	case CLI_OPT_PKIX_CD_CONNECT: o->pkix_cd_connect = arg; return 1;
	case CLI_OPT_CHAIN_AT:
		if (strcmp(arg, "now") && strcmp(arg, "iat")) {
			cli_error("--at takes now or iat, not '%s'", arg);
			return -1;
		}
		o->chain_at = strcmp(arg, "iat") ? DANEMSG_CHAIN_AT_NOW : DANEMSG_CHAIN_AT_IAT;
		return 1;
	default: return 0;
	}
}

int cli_next_option(int argc, char **argv, const struct option *longopts,
		    struct cli_dns_opts *o)
{
	int opt, taken;
	while ((opt = cli_getopt(argc, argv, longopts)) != -1) {
		if (opt == CLI_OPT_BAD_VALUE)
			return opt;
		taken = cli_dns_option(o, opt, optarg);
		if (taken < 0)
			return CLI_OPT_BAD_VALUE;
		if (taken == 0)
			return opt;
	}
	return -1;
}

/* usage with cli_dns_help in place of its "%s" (a format, but not one printf may check). */
static void print_usage(FILE *f, const char *usage)
{
	const char *at = strstr(usage, "%s");

	if (!at) {
		fputs(usage, f);
		return;
	}
	fwrite(usage, 1, (size_t)(at - usage), f);
	fputs(cli_dns_help, f);
	fputs(at + 2, f);
}

int cli_next_own_option(int argc, char **argv, const struct option *longopts,
			struct cli_dns_opts *o, const char *usage, int *rc)
{
	int opt = cli_next_option(argc, argv, longopts, o);

	*rc = 0;
	switch (opt) {
	case CLI_OPT_BAD_VALUE:
		*rc = EXIT_USAGE;
		return -1;
	case 'h':
		print_usage(stdout, usage);
		*rc = -1;
		return -1;
	default:
		return opt;
	}
}

/* The zone a signed zone file is for: the owner of its SOA record. */
static char *zone_file_origin(const char *path)
{
	FILE *f = fopen(path, "r");
	ldns_zone *zone = NULL;
	char *origin = NULL;
	int line = 0;

	if (!f)
		return NULL;
	if (ldns_zone_new_frm_fp_l(&zone, f, NULL, 0, LDNS_RR_CLASS_IN, &line) ==
	    LDNS_STATUS_OK && ldns_zone_soa(zone))
		origin = ldns_rdf2str(ldns_rr_owner(ldns_zone_soa(zone)));
	ldns_zone_deep_free(zone);
	fclose(f);
	return origin;
}

/* DANEMSG_TRUST_ANCHOR may name several files separated by ':'. */
static char *anchors_from_env(struct cli_dns_opts *o)
{
	const char *env = getenv("DANEMSG_TRUST_ANCHOR");
	char *copy, *save = NULL;
	if (o->n_anchors || !env || !*env || !(copy = strdup(env)))
		return NULL;
	for (char *f = strtok_r(copy, ":", &save); f; f = strtok_r(NULL, ":", &save))
		if (add_anchor(o, f) < 0)
			break;
	return copy;
}

danemsg_err cli_resolver_new(struct cli_dns_opts *o, danemsg_resolver **out)
{
	danemsg_resolver_config cfg;
	char errbuf[512];
	char *origin = NULL, *env_anchors;
	const char *allow = getenv("DANEMSG_ALLOW_INSECURE");
	danemsg_err err;

	danemsg_resolver_config_init(&cfg);
	env_anchors = anchors_from_env(o);
	cfg.server = o->server ? o->server : getenv("DANEMSG_RESOLVER");
	if (cfg.server && !*cfg.server)
		cfg.server = NULL;
	cfg.trust_anchor_files = o->anchors;
	if (o->root_anchor)
		cfg.root_anchor_file = o->root_anchor;
	if (o->timeout_ms)
		cfg.timeout_ms = (uint32_t)o->timeout_ms;
	if (o->cache_max_ttl)
		cfg.cache_max_ttl = (uint32_t)o->cache_max_ttl;
	cfg.allow_insecure = o->allow_insecure || (allow && !strcmp(allow, "1"));
	cfg.pkix_ca_file = o->ca_file;
	cfg.pkix_ca_path = o->ca_path;
	cfg.pkix_cd = o->pkix_cd;
	cfg.pkix_cd_connect = o->pkix_cd_connect;
	if (o->zone_file) {
		origin = zone_file_origin(o->zone_file);
		if (!origin) {
			cli_error("%s: not a zone file with an SOA record", o->zone_file);
			free(env_anchors);
			return DANEMSG_ERR_DNS_CONFIG;
		}
		cfg.offline_zone_file = o->zone_file;
		cfg.offline_zone = origin;
	}
	if (cfg.allow_insecure)
		fprintf(stderr, "danemsg: WARNING: insecure DNS answers are allowed: anyone who "
				"can forge DNS answers for an unsigned zone chooses its keys\n");
	err = danemsg_resolver_new(&cfg, out, errbuf, sizeof(errbuf));
	if (err)
		cli_error("%s", errbuf);
	free(origin);
	if (env_anchors) {   /* the anchors pointed into it */
		free(env_anchors);
		o->n_anchors = 0;
		o->anchors[0] = NULL;
	}
	return err;
}

danemsg_err cli_receiver_new(struct cli_dns_opts *o, danemsg_resolver **r,
			     danemsg_trust_anchor **ta)
{
	char errbuf[512], *env_anchors;
	danemsg_err err;

	*r = NULL;
	*ta = NULL;
	if (!o->offline)
		return cli_resolver_new(o, r);
	env_anchors = anchors_from_env(o);
	o->anchors[o->n_anchors] = NULL;
	if (!o->n_anchors) {
		cli_error("--offline needs --trust-anchor FILE (or DANEMSG_TRUST_ANCHOR)");
		return DANEMSG_ERR_DNS_CONFIG;
	}
	err = danemsg_trust_anchor_load(o->anchors, ta, errbuf, sizeof(errbuf));
	if (err)
		cli_error("%s", errbuf);
	if (env_anchors) {   /* the anchors pointed into it */
		free(env_anchors);
		o->n_anchors = 0;
		o->anchors[0] = NULL;
	}
	return err;
}

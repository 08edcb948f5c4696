/* DNS options shared by every subcommand that looks identities up. */
#ifndef DANEMSG_TOOL_DNS_OPTS_H
#define DANEMSG_TOOL_DNS_OPTS_H

#include <getopt.h>

#include <danemsg.h>

#include "cli.h"

#define CLI_DNS_MAX_ANCHORS 8

struct cli_dns_opts {
	const char *server;                     /* --resolver / DANEMSG_RESOLVER */
	const char *anchors[CLI_DNS_MAX_ANCHORS + 1];   /* --trust-anchor / DANEMSG_TRUST_ANCHOR */
	size_t n_anchors;
	const char *root_anchor;                /* --root-anchor FILE, "" for none */
	const char *zone_file;                  /* --zone-file: offline mode */
	int allow_insecure;                     /* --allow-insecure / DANEMSG_ALLOW_INSECURE=1 */
	long timeout_ms;                        /* --timeout MS */
	long cache_max_ttl;                     /* --cache-max-ttl S */
	int offline;                            /* --offline: no DNS, carried chains only */
	danemsg_chain_time chain_at;            /* --at now|iat */
	const char *ca_file, *ca_path;          /* --ca-file, --ca-path: Web PKI (usages 0/1) */
	int pkix_cd;                            /* --pkix-cd: the reference's usage 4 */
	const char *pkix_cd_connect;            /* --pkix-cd-connect ADDR:PORT */
};

/* Option codes, above any short option character. */
enum {
	CLI_OPT_RESOLVER = 1000,
	CLI_OPT_TRUST_ANCHOR,
	CLI_OPT_ROOT_ANCHOR,
	CLI_OPT_ZONE_FILE,
	CLI_OPT_ALLOW_INSECURE,
	CLI_OPT_DNS_TIMEOUT,
	CLI_OPT_CACHE_MAX_TTL,
	CLI_OPT_OFFLINE,
	CLI_OPT_CHAIN_AT,
	CLI_OPT_CA_FILE,
	CLI_OPT_CA_PATH,
	CLI_OPT_PKIX_CD,
	CLI_OPT_PKIX_CD_CONNECT,
};

/* Put inside a struct option array. */
#define CLI_DNS_LONG_OPTIONS \
	{"resolver", required_argument, NULL, CLI_OPT_RESOLVER}, \
	{"trust-anchor", required_argument, NULL, CLI_OPT_TRUST_ANCHOR}, \
	{"root-anchor", required_argument, NULL, CLI_OPT_ROOT_ANCHOR}, \
	{"zone-file", required_argument, NULL, CLI_OPT_ZONE_FILE}, \
	{"allow-insecure", no_argument, NULL, CLI_OPT_ALLOW_INSECURE}, \
	{"timeout", required_argument, NULL, CLI_OPT_DNS_TIMEOUT}, \
	{"cache-max-ttl", required_argument, NULL, CLI_OPT_CACHE_MAX_TTL}, \
	{"ca-file", required_argument, NULL, CLI_OPT_CA_FILE}, \
	{"ca-path", required_argument, NULL, CLI_OPT_CA_PATH}, \
	{"pkix-cd", no_argument, NULL, CLI_OPT_PKIX_CD}, \
	{"pkix-cd-connect", required_argument, NULL, CLI_OPT_PKIX_CD_CONNECT}

/* The lines of --help that describe those options. */
extern const char cli_dns_help[];

/* Receivers (open, listen): DNSSEC chains carried in messages. */
#define CLI_CHAIN_LONG_OPTIONS \
	{"offline", no_argument, NULL, CLI_OPT_OFFLINE}, \
	{"at", required_argument, NULL, CLI_OPT_CHAIN_AT}
extern const char cli_chain_help[];

/* A receiver's resolver (NULL with --offline) and the trust anchors its policy checks
 * carried chains with (with --offline: the --trust-anchor files, required; otherwise
 * NULL: the resolver's own). Prints why on failure. */
danemsg_err cli_receiver_new(struct cli_dns_opts *o, danemsg_resolver **r,
			     danemsg_trust_anchor **ta);

/* Takes option opt if it is one of ours: 1 taken, 0 not ours, -1 bad value (reported). */
int cli_dns_option(struct cli_dns_opts *o, int opt, const char *arg);

/* cli_getopt() that takes the DNS options into o itself and returns the next other
 * option, -1 at the end, or CLI_OPT_BAD_VALUE (a wrong option or value, reported). */
int cli_next_option(int argc, char **argv, const struct option *longopts,
		    struct cli_dns_opts *o);

/*
 * cli_next_option() for a subcommand whose --help text is usage (a printf format taking
 * cli_dns_help): handles a bad DNS value and an unknown option (one line, *rc =
 * EXIT_USAGE) and --help (usage on stdout, *rc = -1) and then returns -1, as at the end
 * of the options (*rc = 0); otherwise returns the next option of the caller's own.
 */
int cli_next_own_option(int argc, char **argv, const struct option *longopts,
			struct cli_dns_opts *o, const char *usage, int *rc);

/* A resolver from the options, completed from the environment; prints why on failure. */
danemsg_err cli_resolver_new(struct cli_dns_opts *o, danemsg_resolver **out);

#endif

/* danemsg id fetch NAME: write the certificates NAME's DNSSEC-validated TLSA records publish. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "cli.h"
#include "dns_opts.h"

static const char fetch_usage[] =
	"usage: danemsg id fetch NAME [--out FILE|DIR] [--separate] [--usage USAGE] [--json]\n"
	"                        [DNS options]\n"
	"       danemsg id fetch NAME --ca [--out FILE|DIR] [--separate] [--json] [DNS options]\n"
	"\n"
	"Looks up the TLSA records at NAME with DNSSEC validation and writes the certificates\n"
	"that records carrying a whole certificate (U 0 0) publish, as PEM. Digest records\n"
	"(U x 1, U x 2) and key records (U 1 0) carry no certificate and are skipped.\n"
	"\n"
	"  --out FILE|DIR          the PEM bundle's file (default: standard output); with\n"
	"                          --separate the folder (default: the current one)\n"
	"  --separate              one file per certificate, named SHA256.pem after the\n"
	"                          SHA-256 fingerprint of its DER (lower-case hex)\n"
	"  --usage USAGE           only records of this usage: dane-ee, dane-ta, pkix-ee,\n"
	"                          pkix-ta, pkix-cd (this one implies --pkix-cd)\n"
	"  --ca                    instead, the CA certificates of NAME's PKIX-CD records,\n"
	"                          fetched and validated as --pkix-cd does (implies it)\n"
	"  --json                  print {name, dnssec, certificates: [{usage, sha256,\n"
	"                          subject, file}]} instead of the PEM (file: with --out)\n"
	"  -h, --help              this text\n"
	"\n%s"
	"\n"
	"Exit status: 0 written; 16 DNS is secure but publishes no such certificate;\n"
	"10 insecure; 11 bogus; 12 no TLSA records; 13 temporary DNS failure;\n"
	"15 DNS configuration; 1 a file cannot be written; 2 usage.\n";

enum { OPT_OUT = 2000, OPT_SEPARATE, OPT_USAGE, OPT_JSON, OPT_CA };

struct fetch_opts {
	const char *out;
	int separate;
	int usage;          /* -1: every usage */
	int json;
	int ca;             /* --ca: the PKIX-CD CAs instead of the records' certificates */
};

static const struct { const char *name; int usage; } usages[] = {
	{"pkix-ta", DANEMSG_TLSA_PKIX_TA},
	{"pkix-ee", DANEMSG_TLSA_PKIX_EE},
	{"dane-ta", DANEMSG_TLSA_DANE_TA},
	{"dane-ee", DANEMSG_TLSA_DANE_EE},
	{"pkix-cd", DANEMSG_TLSA_PKIX_CD},
};

static int parse_usage(const char *arg, int *usage)
{
	for (size_t i = 0; i < sizeof(usages) / sizeof(usages[0]); i++) {
		if (!strcmp(arg, usages[i].name)) {
			*usage = usages[i].usage;
			return 0;
		}
	}
	cli_error("--usage: expected dane-ee, dane-ta, pkix-ee, pkix-ta or pkix-cd");
	return -1;
}

static int parse_args(int argc, char **argv, struct cli_dns_opts *dns, struct fetch_opts *o)
{
	static const struct option longopts[] = {
		{"out", required_argument, NULL, OPT_OUT},
		{"separate", no_argument, NULL, OPT_SEPARATE},
		{"usage", required_argument, NULL, OPT_USAGE},
		{"json", no_argument, NULL, OPT_JSON},
		{"ca", no_argument, NULL, OPT_CA},
		{"help", no_argument, NULL, 'h'},
		CLI_DNS_LONG_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	int opt, rc;

	optind = 1;
	while ((opt = cli_next_own_option(argc, argv, longopts, dns, fetch_usage, &rc)) != -1) {
		switch (opt) {
		case OPT_OUT: o->out = optarg; break;
		case OPT_SEPARATE: o->separate = 1; break;
		case OPT_USAGE:
			if (parse_usage(optarg, &o->usage))
				return EXIT_USAGE;
			break;
		case OPT_CA: o->ca = 1; break;
		default: o->json = 1; break;   /* OPT_JSON */
		}
	}
	if (rc)
		return rc;
	dns->pkix_cd |= o->ca || o->usage == DANEMSG_TLSA_PKIX_CD;
	return cli_operands(argc, argv, "NAME", 1, 1) ? EXIT_USAGE : EXIT_OK_;
}

void cli_cert_sha256(X509 *cert, char fp[CLI_SHA256_HEX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;

	if (!X509_digest(cert, EVP_sha256(), md, &md_len) ||
	    danemsg_hex_encode(md, md_len, fp, CLI_SHA256_HEX))
		snprintf(fp, CLI_SHA256_HEX, "?");
}

int cli_lookup_secure(struct cli_dns_opts *dns, const char *name, danemsg_resolver **res,
		      danemsg_identity **id)
{
	danemsg_err status;

	if (cli_resolver_new(dns, res))
		return EXIT_DNS_CONFIG;
	status = danemsg_resolver_lookup(*res, name, id);
	if (!*id || status == DANEMSG_ERR_INVALID_ARG) {
		cli_error("%s: %s", name, status == DANEMSG_ERR_INVALID_ARG ?
			  "not a valid DNS name" : danemsg_strerror(status));
		return cli_exit_code(status);
	}
	if (danemsg_identity_insecure_allowed(*id))
		cli_error("WARNING: %s: accepted only because insecure answers are allowed",
			  danemsg_identity_name(*id));
	/* Records this build cannot use for authentication are still what DNS vouches for. */
	if (status && status != DANEMSG_ERR_NO_USABLE_RECORD) {
		cli_error("%s: DNS does not securely publish it: %s", danemsg_identity_name(*id),
			  danemsg_strerror(status));
		return cli_exit_code(status);
	}
	return EXIT_OK_;
}

/* The certificate a "U 0 0" record carries, whatever U is; NULL for any other record. */
X509 *cli_record_cert(const danemsg_tlsa *rec)
{
	X509 *cert = NULL;

	danemsg_tlsa_cert(rec, &cert);
	return cert;
}

void cli_print_json(json_t *o)
{
	if (o)
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
	putchar('\n');
	json_decref(o);
}

/* Opens path for writing, replacing a file but never following a link. */
static FILE *open_out(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	if (!f) {
		cli_error("%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	return f;
}

static int close_out(FILE *f, const char *path)
{
	if (f == stdout)
		return fflush(f) ? -1 : 0;
	if (ferror(f) | fclose(f)) {
		cli_error("%s: write failed", path);
		return -1;
	}
	return 0;
}

/* Writes one certificate, to the bundle or to its own file; adds it to list. */
static int write_cert(const struct fetch_opts *o, FILE *bundle, const danemsg_tlsa *rec,
		      X509 *cert, json_t *list)
{
	char fp[CLI_SHA256_HEX], path[4096] = "", subject[256];
	FILE *f = bundle;

	cli_cert_sha256(cert, fp);
	if (o->separate) {
		if (snprintf(path, sizeof(path), "%s/%s.pem", o->out ? o->out : ".", fp)
		    >= (int)sizeof(path)) {
			cli_error("--out: folder name too long");
			return -1;
		}
		if (!(f = open_out(path)))
			return -1;
	}
	if (!o->json || f != stdout) {
		if (!PEM_write_X509(f, cert))
			cli_error("%s: cannot write the certificate", path[0] ? path : "output");
	}
	if (o->separate && close_out(f, path))
		return -1;
	X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof(subject));
	json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s?}", "usage",
					      rec ? danemsg_tlsa_usage_name(rec->usage) : "CA",
					      "sha256", fp,
					      "subject", subject, "file",
					      o->separate ? path : o->out));
	return 0;
}

/* Writes every matching certificate; *count is how many. */
static int write_all(const struct fetch_opts *o, const danemsg_identity *id, json_t *list,
		     size_t *count)
{
	FILE *bundle = stdout;
	int rc = 0;

	*count = 0;
	if (!o->separate && o->out && !(bundle = open_out(o->out)))
		return -1;
	for (int i = 0; o->ca && i < sk_X509_num(danemsg_identity_pkix_cd_cas(id)) && !rc; i++) {
		rc = write_cert(o, bundle, NULL, sk_X509_value(danemsg_identity_pkix_cd_cas(id), i),
				list);
		++*count;
	}
	for (size_t i = 0; !o->ca && i < danemsg_identity_record_count(id) && !rc; i++) {
		const danemsg_tlsa *rec = danemsg_identity_record(id, i);
		X509 *cert;

		if (o->usage >= 0 && rec->usage != o->usage)
			continue;
		if (!(cert = cli_record_cert(rec)))
			continue;
		rc = write_cert(o, bundle, rec, cert, list);
		X509_free(cert);
		++*count;
	}
	if (!o->separate && close_out(bundle, o->out ? o->out : "standard output"))
		rc = -1;
	return rc;
}

int id_fetch(int argc, char **argv)
{
	struct cli_dns_opts dns = {0};
	struct fetch_opts o = {.usage = -1};
	danemsg_resolver *res = NULL;
	danemsg_identity *id = NULL;
	json_t *list = json_array();
	size_t count = 0;
	int rc = parse_args(argc, argv, &dns, &o);

	if (rc)
		goto out;
	rc = cli_lookup_secure(&dns, argv[optind], &res, &id);
	if (rc)
		goto out;
	if (write_all(&o, id, list, &count)) {
		rc = EXIT_FAILURE_;
		goto out;
	}
	if (o.json) {
		cli_print_json(json_pack("{s:s, s:s, s:O}", "name", danemsg_identity_name(id),
					 "dnssec", danemsg_dnssec_name(danemsg_identity_dnssec(id)),
					 "certificates", list));
	}
	if (count == 0) {
		cli_error("%s: DNS securely publishes no %s%scertificate%s",
			  danemsg_identity_name(id),
			  o.usage >= 0 ? danemsg_tlsa_usage_name((uint8_t)o.usage) : "",
			  o.usage >= 0 ? " " : "", o.ca ? " with a valid PKIX-CD CA" : "");
		rc = EXIT_NO_MATCH;
	}
out:
	json_decref(list);
	danemsg_identity_unref(id);
	danemsg_resolver_free(res);
	return rc < 0 ? EXIT_OK_ : rc;
}

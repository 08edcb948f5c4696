/* danemsg id verify CERT [NAME]: does DNS vouch for this certificate at NAME? */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cli.h"
#include "dns_opts.h"

static const char verify_usage[] =
	"usage: danemsg id verify CERT [NAME] [--json] [DNS options]\n"
	"\n"
	"Says whether DNSSEC-validated TLSA records at NAME authenticate the certificate in\n"
	"file CERT (PEM; certificates after the first are its chain, issuer order). Without\n"
	"NAME, each DNS name of the certificate's subjectAltName is tried (at most 16;\n"
	"wildcards are skipped). Records are matched as when a message is opened.\n"
	"\n"
	"  --json                  print {certificate, vouched, names: [{name, status,\n"
	"                          dnssec, record}]}\n"
	"  -h, --help              this text\n"
	"\n%s"
	"\n"
	"Exit status: 0 DNS vouches for it at a name; 16 DNS answers securely but no record\n"
	"matches; otherwise the first name's lookup failure: 10 insecure; 11 bogus; 12 no\n"
	"TLSA records; 13 temporary DNS failure; 14 no usable record; 15 DNS configuration;\n"
	"1 CERT cannot be read; 2 usage (also: no DNS name to try).\n";

enum { OPT_JSON = 2000 };
/* Bounds on what an untrusted certificate file may make us do. */
#define VERIFY_FILE_MAX (1024 * 1024)
#define VERIFY_CERTS_MAX 16
#define VERIFY_NAMES_MAX 16

static int parse_args(int argc, char **argv, struct cli_dns_opts *dns, int *json)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, OPT_JSON},
		{"help", no_argument, NULL, 'h'},
		CLI_DNS_LONG_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	int rc;

	optind = 1;
	while (cli_next_own_option(argc, argv, longopts, dns, verify_usage, &rc) != -1)
		*json = 1;   /* the only option of our own */
	if (rc)
		return rc;
	return cli_operands(argc, argv, "CERT", 1, 2) ? EXIT_USAGE : EXIT_OK_;
}

/* The certificates of a PEM file: the first in *ee, the others in *chain. */
static int load_cert_file(const char *path, X509 **ee, STACK_OF(X509) **chain)
{
	struct stat st;
	BIO *bio = NULL;
	X509 *x;

	*ee = NULL;
	*chain = sk_X509_new_null();
	if (stat(path, &st) || !S_ISREG(st.st_mode) || st.st_size > VERIFY_FILE_MAX ||
	    !*chain || !(bio = BIO_new_file(path, "r"))) {
		cli_error("%s: not a readable file of at most %d octets", path, VERIFY_FILE_MAX);
		BIO_free(bio);
		return -1;
	}
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (!*ee) {
			*ee = x;
		} else if (sk_X509_num(*chain) >= VERIFY_CERTS_MAX || !sk_X509_push(*chain, x)) {
			X509_free(x);
			break;
		}
	}
	BIO_free(bio);
	ERR_clear_error();
	if (!*ee) {
		cli_error("%s: holds no PEM certificate", path);
		return -1;
	}
	return 0;
}

/* The DNS names of the certificate's subjectAltName that name an identity (no wildcards). */
static size_t san_dns_names(X509 *cert, char names[][256], size_t max)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	size_t n = 0;

	for (int i = 0; i < sk_GENERAL_NAME_num(gens) && n < max; i++) {
		const GENERAL_NAME *gen = sk_GENERAL_NAME_value(gens, i);
		const ASN1_STRING *s;
		char raw[256];
		int len;

		if (gen->type != GEN_DNS)
			continue;
		s = gen->d.dNSName;
		len = ASN1_STRING_length(s);
		if (len <= 0 || len >= (int)sizeof(raw) ||
		    memchr(ASN1_STRING_get0_data(s), '\0', (size_t)len))
			continue;
		memcpy(raw, ASN1_STRING_get0_data(s), (size_t)len);
		raw[len] = '\0';
		if (strchr(raw, '*') || danemsg_credential_name_normalize(raw, names[n], 256))
			continue;
		n++;
	}
	GENERAL_NAMES_free(gens);
	ERR_clear_error();
	return n;
}

/* Looks name up (a normalized name: safe to print) and matches the certificate: the
 * lookup's or the match's outcome. */
static danemsg_err verify_at(danemsg_resolver *res, const char *name, X509 *ee,
			     STACK_OF(X509) *chain, json_t *results, int json)
{
	danemsg_identity *id = NULL;
	danemsg_err status = danemsg_resolver_lookup(res, name, &id), err = status;
	size_t matched = 0;

	if (id)
		err = danemsg_identity_authenticate_cert(id, ee, chain, &matched);
	json_array_append_new(results, json_pack(
		"{s:s, s:s, s:s, s:o}", "name", id ? danemsg_identity_name(id) : name,
		"status", danemsg_err_name(err), "dnssec",
		danemsg_dnssec_name(danemsg_identity_dnssec(id)), "record",
		err ? json_null() : json_integer((json_int_t)matched + 1)));
	if (!json && !err)
		printf("%s: DNS vouches for the certificate (record %zu, %s)\n", name,
		       matched + 1, danemsg_tlsa_usage_name(
			       danemsg_identity_record(id, matched)->usage));
	else if (!json)
		printf("%s: not vouched for: %s\n", name, danemsg_strerror(err));
	danemsg_identity_unref(id);
	return err;
}

/* 0 when a name vouches; 16 when one answered securely; else the first name's failure. */
static int verdict(const danemsg_err *errs, size_t n)
{
	int any_secure = 0;

	for (size_t i = 0; i < n; i++) {
		if (errs[i] == DANEMSG_OK)
			return EXIT_OK_;
		any_secure |= errs[i] == DANEMSG_ERR_NO_MATCH;
	}
	return any_secure ? EXIT_NO_MATCH : cli_exit_code(errs[0]);
}

int id_verify(int argc, char **argv)
{
	struct cli_dns_opts dns = {0};
	char names[VERIFY_NAMES_MAX][256], fp[CLI_SHA256_HEX];
	danemsg_err errs[VERIFY_NAMES_MAX];
	danemsg_resolver *res = NULL;
	STACK_OF(X509) *chain = NULL;
	X509 *ee = NULL;
	json_t *results = json_array();
	size_t n = 0;
	int json = 0, rc = parse_args(argc, argv, &dns, &json);

	if (rc)
		goto out;
	if (load_cert_file(argv[optind], &ee, &chain)) {
		rc = EXIT_FAILURE_;
		goto out;
	}
	if (optind == argc - 2) {
		if (danemsg_credential_name_normalize(argv[optind + 1], names[0],
						      sizeof(names[0]))) {
			cli_error("%s: not a valid DNS name", argv[optind + 1]);
			rc = EXIT_USAGE;
			goto out;
		}
		n = 1;
	} else if ((n = san_dns_names(ee, names, VERIFY_NAMES_MAX)) == 0) {
		cli_error("%s: no DNS name in the certificate's subjectAltName: give NAME",
			  argv[optind]);
		rc = EXIT_USAGE;
		goto out;
	}
	if (cli_resolver_new(&dns, &res)) {
		rc = EXIT_DNS_CONFIG;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		errs[i] = verify_at(res, names[i], ee, chain, results, json);
	rc = verdict(errs, n);
	if (json) {
		cli_cert_sha256(ee, fp);
		cli_print_json(json_pack("{s:s, s:b, s:O}", "certificate", fp, "vouched",
					 rc == EXIT_OK_, "names", results));
	}
out:
	json_decref(results);
	danemsg_resolver_free(res);
	sk_X509_pop_free(chain, X509_free);
	X509_free(ee);
	return rc < 0 ? EXIT_OK_ : rc;
}

/* danemsg id update NAME: replace the local certificate by the one DNS publishes for its key. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "cli.h"
#include "dns_opts.h"

static const char update_usage[] =
	"usage: danemsg id update NAME [--dir DIR] [--json] [DNS options]\n"
	"\n"
	"Looks up the TLSA records at NAME with DNSSEC validation and installs, as NAME's\n"
	"current certificate, the end-entity certificate they publish (a DANE-EE or PKIX-EE\n"
	"record carrying a whole certificate, U 0 0, or with --pkix-cd a validated PKIX-CD\n"
	"4 0 0 record) for the local private key; of several, the one valid longest. It is\n"
	"installed as by 'danemsg id import': it must name NAME in its subjectAltName and be\n"
	"valid now; the replaced files are kept as NAME.crt.pem.bak and NAME.chain.pem.bak,\n"
	"and NAME.chain.pem, the chain of the certificate replaced, is removed. A published\n"
	"certificate for another key is never installed.\n"
	"\n"
	"  --dir DIR               the identity folder (default: env DANEMSG_DIR, ...)\n"
	"  --json                  print {name, updated, sha256, previous}\n"
	"  -h, --help              this text\n"
	"\n%s"
	"\n"
	"Exit status: 0 updated, or already the published one; 16 DNS publishes no\n"
	"certificate for the local key; 24 the published one is expired or not yet valid;\n"
	"10 insecure; 11 bogus; 12 no TLSA records; 13 temporary DNS failure; 15 DNS\n"
	"configuration; 1 the local identity cannot be loaded or written; 2 usage.\n";

enum { OPT_DIR = 2000, OPT_JSON };

static int parse_args(int argc, char **argv, struct cli_dns_opts *dns, const char **dir,
		      int *json)
{
	static const struct option longopts[] = {
		{"dir", required_argument, NULL, OPT_DIR},
		{"json", no_argument, NULL, OPT_JSON},
		{"help", no_argument, NULL, 'h'},
		CLI_DNS_LONG_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	int opt, rc;

	optind = 1;
	while ((opt = cli_next_own_option(argc, argv, longopts, dns, update_usage, &rc)) != -1) {
		if (opt == OPT_DIR)
			*dir = optarg;
		else
			*json = 1;   /* OPT_JSON */
	}
	return rc;
}

/* The published end-entity certificate for key that DNS authenticates, valid longest. */
static X509 *published_for_key(const danemsg_identity *id, EVP_PKEY *key)
{
	X509 *best = NULL;

	for (size_t i = 0; i < danemsg_identity_record_count(id); i++) {
		const danemsg_tlsa *rec = danemsg_identity_record(id, i);
		X509 *cert;

		if (rec->usage != DANEMSG_TLSA_DANE_EE && rec->usage != DANEMSG_TLSA_PKIX_EE &&
		    rec->usage != DANEMSG_TLSA_PKIX_CD)
			continue;
		if (!(cert = cli_record_cert(rec)))
			continue;
		if (EVP_PKEY_eq(X509_get0_pubkey(cert), key) != 1 ||
		    danemsg_identity_authenticate_cert(id, cert, NULL, NULL) != DANEMSG_OK ||
		    (best && ASN1_TIME_compare(X509_get0_notAfter(cert),
					       X509_get0_notAfter(best)) <= 0)) {
			X509_free(cert);
			continue;
		}
		X509_free(best);
		best = cert;
	}
	return best;
}

/* A PKIX-CD record that only --pkix-cd would make usable. */
static int has_pkix_cd_record(const danemsg_identity *id)
{
	for (size_t i = 0; i < danemsg_identity_record_count(id); i++)
		if (danemsg_identity_record(id, i)->usage == DANEMSG_TLSA_PKIX_CD)
			return 1;
	return 0;
}

/* Installs cert, with no chain (the replaced certificate's is stale), through a private
 * temporary file in the identity folder. */
static danemsg_err install(const char *dir, const char *name, X509 *cert, char *errbuf,
			   size_t errbuf_len)
{
	char tmp[4096];
	danemsg_err err = DANEMSG_ERR_IO;
	FILE *f;
	int fd;

	if (snprintf(tmp, sizeof(tmp), "%s/.update.XXXXXX", dir) >= (int)sizeof(tmp))
		return DANEMSG_ERR_INVALID_ARG;
	if ((fd = mkstemp(tmp)) < 0) {
		snprintf(errbuf, errbuf_len, "cannot create a temporary file in %s", dir);
		return DANEMSG_ERR_IO;
	}
	f = fdopen(fd, "w");
	if (f && PEM_write_X509(f, cert) && fflush(f) == 0)
		err = danemsg_credential_import(dir, name, tmp, NULL, 0, errbuf, errbuf_len);
	else
		snprintf(errbuf, errbuf_len, "cannot write %s", tmp);
	if (f)
		fclose(f);
	else
		close(fd);
	unlink(tmp);
	return err;
}

int id_update(int argc, char **argv)
{
	struct cli_dns_opts dns = {0};
	const char *dir_option = NULL, *dir = NULL, *name;
	danemsg_credential *cur = NULL;
	danemsg_resolver *res = NULL;
	danemsg_identity *id = NULL;
	X509 *cert = NULL;
	char errbuf[512] = "", fp[CLI_SHA256_HEX], previous[CLI_SHA256_HEX];
	danemsg_err err;
	int json = 0, same, rc = parse_args(argc, argv, &dns, &dir_option, &json);

	if (rc)
		return rc < 0 ? EXIT_OK_ : rc;
	if (!(name = cli_name_operand(argc, argv, dir_option, &dir)))
		return EXIT_USAGE;
	err = danemsg_credential_load_slot(dir, name, DANEMSG_SLOT_CURRENT, &cur, errbuf,
					   sizeof(errbuf));
	if (err) {
		cli_error("%s: cannot load the local identity: %s (%s)", name,
			  danemsg_strerror(err), errbuf);
		return err == DANEMSG_ERR_INVALID_ARG ? EXIT_USAGE : EXIT_FAILURE_;
	}
	if ((rc = cli_lookup_secure(&dns, name, &res, &id)))
		goto out;
	if (!(cert = published_for_key(id, danemsg_credential_sign_key(cur)))) {
		cli_error("%s: DNS publishes no certificate for the local key: nothing installed%s",
			  name, !dns.pkix_cd && has_pkix_cd_record(id) ?
			  " (a PKIX-CD record is published: trust it with --pkix-cd)" : "");
		rc = EXIT_NO_MATCH;
		goto out;
	}
	cli_cert_sha256(cert, fp);
	cli_cert_sha256(danemsg_credential_sign_cert(cur), previous);
	same = X509_cmp(cert, danemsg_credential_sign_cert(cur)) == 0;
	if (!same && (err = install(dir, name, cert, errbuf, sizeof(errbuf)))) {
		cli_error("%s: cannot install the published certificate: %s (%s)", name,
			  danemsg_strerror(err), errbuf);
		rc = cli_exit_code(err);
		goto out;
	}
	if (json)
		cli_print_json(json_pack("{s:s, s:b, s:s, s:s}", "name", danemsg_identity_name(id),
					 "updated", !same, "sha256", fp, "previous", previous));
	else if (same)
		printf("%s: the local certificate is the published one (SHA-256 %s)\n", name, fp);
	else
		printf("%s: installed the published certificate (SHA-256 %s); the previous one "
		       "is kept as .bak\n", name, fp);
out:
	X509_free(cert);
	danemsg_identity_unref(id);
	danemsg_resolver_free(res);
	danemsg_credential_free(cur);
	return rc;
}

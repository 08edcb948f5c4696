/* danemsg id check NAME: does DNS securely publish the local certificate? Expiring soon? */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/x509.h>

#include "cli.h"
#include "dns_opts.h"

static const char check_usage[] =
	"usage: danemsg id check NAME [--dir DIR] [--warn-days N] [DNS options]\n"
	"\n"
	"Looks up the TLSA records at NAME with DNSSEC validation and checks that they\n"
	"authenticate the local certificate(s) of identity NAME (the signing certificate\n"
	"and, for Ed25519, the X25519 one; the next certificate of a rollover is reported\n"
	"too). Warns when a local certificate expires within N days.\n"
	"\n"
	"  --dir DIR               the identity folder (default: env DANEMSG_DIR, ...)\n"
	"  --warn-days N           warn when a certificate expires within N days (default 30)\n"
	"  -h, --help              this text\n"
	"\n%s"
	"\n"
	"Exit status: 0 published and secure; 16 DNS publishes records but none for the\n"
	"local certificate (run 'danemsg id publish'); 10 insecure; 11 bogus; 12 no TLSA\n"
	"records; 13 temporary DNS failure; 14 no usable record; 15 DNS configuration;\n"
	"2 usage; 1 the local identity cannot be loaded.\n";

enum { OPT_DIR = 2000, OPT_WARN_DAYS };

/* Days until the certificate expires (negative once expired), and the date. */
static int days_left(X509 *cert, char *date, size_t date_len)
{
	const ASN1_TIME *not_after = X509_get0_notAfter(cert);
	struct tm tm;
	int days = 0, secs = 0;

	if (!ASN1_TIME_to_tm(not_after, &tm) || !strftime(date, date_len, "%Y-%m-%d", &tm))
		snprintf(date, date_len, "?");
	if (!ASN1_TIME_diff(&days, &secs, NULL, not_after))
		return 0;
	return days < 0 || secs < 0 ? (days < 0 ? days : -1) : days;
}

/* Reports one local certificate: whether DNS authenticates it, when it expires. */
static danemsg_err check_cert(const danemsg_identity *id, const char *what, X509 *cert,
			      STACK_OF(X509) *chain, unsigned long warn_days, int *warnings)
{
	char date[32], label[64];
	size_t matched = 0;
	int days = days_left(cert, date, sizeof(date));
	danemsg_err err = id ? danemsg_identity_authenticate_cert(id, cert, chain, &matched)
			     : DANEMSG_ERR_DNS_TEMPORARY;

	snprintf(label, sizeof(label), "%s:", what);
	if (!id)
		printf("  %-28s valid until %s\n", label, date);
	else if (!err)
		printf("  %-28s published (record %zu), valid until %s\n", label, matched + 1,
		       date);
	else
		printf("  %-28s NOT published (%s), valid until %s\n", label,
		       danemsg_strerror(err), date);
	if (days < 0) {
		printf("  WARNING: the %s expired on %s\n", what, date);
		++*warnings;
	} else if ((unsigned long)days < warn_days) {
		printf("  WARNING: the %s expires in %d day%s (%s): renew it\n", what, days,
		       days == 1 ? "" : "s", date);
		++*warnings;
	}
	return err;
}

/* Checks a slot's signing certificate and, when it is another, its encryption one. */
static danemsg_err check_slot(const danemsg_identity *id, const danemsg_credential *cred,
			      const char *slot, unsigned long warn_days, int *warnings)
{
	char what[64];
	X509 *sign = danemsg_credential_sign_cert(cred), *enc = danemsg_credential_enc_cert(cred);
	danemsg_err err;

	snprintf(what, sizeof(what), "%s signing certificate", slot);
	err = check_cert(id, what, sign, danemsg_credential_chain(cred), warn_days, warnings);
	if (enc && X509_cmp(enc, sign) != 0) {
		danemsg_err enc_err;
		snprintf(what, sizeof(what), "%s X25519 certificate", slot);
		enc_err = check_cert(id, what, enc, NULL, warn_days, warnings);
		if (!err)
			err = enc_err;
	}
	return err;
}

static int parse_args(int argc, char **argv, struct cli_dns_opts *dns, const char **dir,
		      unsigned long *warn_days)
{
	static const struct option longopts[] = {
		{"dir", required_argument, NULL, OPT_DIR},
		{"warn-days", required_argument, NULL, OPT_WARN_DAYS},
		{"help", no_argument, NULL, 'h'},
		CLI_DNS_LONG_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	int opt, rc;

	optind = 1;
	while ((opt = cli_next_own_option(argc, argv, longopts, dns, check_usage, &rc)) != -1) {
		if (opt == OPT_DIR)
			*dir = optarg;
		else if (cli_parse_uint(optarg, "--warn-days", 0, 36500, warn_days))
			return EXIT_USAGE;   /* OPT_WARN_DAYS */
	}
	if (rc)
		return rc;
	if (cli_operands(argc, argv, "NAME", 1, 1))
		return EXIT_USAGE;
	return EXIT_OK_;
}

int id_check(int argc, char **argv)
{
	struct cli_dns_opts dns = {0};
	const char *dir_option = NULL, *dir, *name;
	unsigned long warn_days = 30;
	danemsg_credential *cur = NULL, *next = NULL;
	danemsg_resolver *res = NULL;
	danemsg_identity *id = NULL;
	char errbuf[512] = "";
	danemsg_err err, status;
	int rc = parse_args(argc, argv, &dns, &dir_option, &warn_days), warnings = 0;

	if (rc)
		return rc < 0 ? EXIT_OK_ : rc;
	name = argv[optind];
	if (!(dir = cli_identity_dir(dir_option)))
		return EXIT_USAGE;
	err = danemsg_credential_load_slot(dir, name, DANEMSG_SLOT_CURRENT, &cur, errbuf,
					   sizeof(errbuf));
	if (err) {
		cli_error("%s: cannot load the local identity: %s (%s)", name,
			  danemsg_strerror(err), errbuf);
		cli_identity_hint(err, dir, name);
		return err == DANEMSG_ERR_INVALID_ARG ? EXIT_USAGE : EXIT_FAILURE_;
	}
	err = danemsg_credential_load_slot(dir, name, DANEMSG_SLOT_NEXT, &next, errbuf,
					   sizeof(errbuf));
	if (err && err != DANEMSG_ERR_NOT_FOUND)
		printf("WARNING: the next identity (rollover) does not load: %s\n", errbuf);
	if (cli_resolver_new(&dns, &res)) {
		rc = EXIT_DNS_CONFIG;
		goto out;
	}
	status = danemsg_resolver_lookup(res, name, &id);
	if (!id) {
		cli_error("%s: %s", name, status == DANEMSG_ERR_INVALID_ARG ?
			  "not a valid DNS name" : danemsg_strerror(status));
		rc = cli_exit_code(status);
		goto out;
	}
	printf("%s\n  DNS: %s, %s, %zu TLSA record%s, TTL %u s\n", danemsg_identity_name(id),
	       danemsg_dnssec_name(danemsg_identity_dnssec(id)), danemsg_err_name(status),
	       danemsg_identity_record_count(id),
	       danemsg_identity_record_count(id) == 1 ? "" : "s", danemsg_identity_ttl(id));
	if (danemsg_identity_why(id))
		printf("  reason: %s\n", danemsg_identity_why(id));
	if (danemsg_identity_insecure_allowed(id))
		printf("  WARNING: accepted only because insecure answers are allowed\n");

	err = check_slot(status ? NULL : id, cur, "current", warn_days, &warnings);
	if (next &&
	    check_slot(status ? NULL : id, next, "next", warn_days, &warnings) == DANEMSG_OK)
		printf("  the next certificate is published: 'danemsg id rollover' may proceed\n");
	else if (next && !status)
		printf("  the next certificate is not published yet: run 'danemsg id publish' and "
		       "wait a TTL before 'danemsg id rollover'\n");

	if (status) {
		cli_error("%s: DNS does not securely publish it: %s", name,
			  danemsg_strerror(status));
		rc = cli_exit_code(status);
	} else if (err == DANEMSG_ERR_NO_MATCH) {
		cli_error("%s: the published TLSA records do not match the local certificate "
			  "(run 'danemsg id publish')", name);
		rc = EXIT_NO_MATCH;
	} else if (err) {
		cli_error("%s: %s", name, danemsg_strerror(err));
		rc = cli_exit_code(err);
	} else {
		printf("DNS securely publishes the local certificate%s\n",
		       warnings ? " (see the warnings above)" : "");
		rc = EXIT_OK_;
	}
out:
	danemsg_identity_unref(id);
	danemsg_resolver_free(res);
	danemsg_credential_free(next);
	danemsg_credential_free(cur);
	return rc;
}

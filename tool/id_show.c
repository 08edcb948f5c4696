/* danemsg id show NAME: what DNS publishes for an identity, and whether to trust it. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "cli.h"
#include "dns_opts.h"

static const char show_usage[] =
	"usage: danemsg id show NAME [--json] [DNS options]\n"
	"\n"
	"Looks up the TLSA records at NAME, validates the answer with DNSSEC locally, and\n"
	"prints each record with its meaning.\n"
	"\n"
	"  --json                  one JSON object (format in docs/id-show-json.md)\n"
	"  -h, --help              this text\n"
	"\n%s"
	"\n"
	"Exit status: 0 secure with a usable record; 10 insecure; 11 bogus; 12 not found;\n"
	"13 temporary DNS failure; 14 no usable record; 15 DNS configuration; 2 usage.\n";

/* What a key can do for messages, from its type and the certificate's keyUsage. */
struct key_facts {
	const char *type;   /* "EC", "Ed25519", "X25519", "RSA", ... */
	const char *curve;  /* "P-256" or NULL */
	int bits;
	int can_verify;
	int can_encrypt;
};

static void describe_key(EVP_PKEY *pkey, X509 *cert, struct key_facts *k)
{
	uint32_t ku = cert && (X509_get_extension_flags(cert) & EXFLAG_KUSAGE) ?
			      X509_get_key_usage(cert) : UINT32_MAX;
	int sign_ok = (ku & KU_DIGITAL_SIGNATURE) != 0;
	char group[64] = "";

	memset(k, 0, sizeof(*k));
	k->bits = EVP_PKEY_get_bits(pkey);
	if (EVP_PKEY_is_a(pkey, "EC")) {
		k->type = "EC";
		size_t len = 0;
		if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), &len) &&
		    !strcmp(group, "prime256v1")) {
			k->curve = "P-256";
			k->can_verify = sign_ok;
			k->can_encrypt = (ku & KU_KEY_AGREEMENT) != 0;
		} else {
			k->curve = "unsupported curve";
		}
	} else if (EVP_PKEY_is_a(pkey, "ED25519")) {
		k->type = "Ed25519";
		k->can_verify = sign_ok;
	} else if (EVP_PKEY_is_a(pkey, "X25519")) {
		k->type = "X25519";
		k->can_encrypt = (ku & KU_KEY_AGREEMENT) != 0;
	} else if (EVP_PKEY_is_a(pkey, "RSA")) {
		k->type = "RSA";
		k->can_verify = sign_ok && k->bits >= 2048;
		k->can_encrypt = (ku & KU_KEY_ENCIPHERMENT) != 0 && k->bits >= 2048;
	} else {
		k->type = "unsupported";
	}
}

static void asn1_time_iso(const ASN1_TIME *t, char *out, size_t len)
{
	struct tm tm;
	if (!t || !ASN1_TIME_to_tm(t, &tm) || !strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, len, "?");
}

static json_t *san_names(X509 *cert)
{
	json_t *list = json_array();
	GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		if (g->type == GEN_DNS)
			json_array_append_new(list, json_stringn(
				(const char *)ASN1_STRING_get0_data(g->d.dNSName),
				(size_t)ASN1_STRING_length(g->d.dNSName)));
	}
	GENERAL_NAMES_free(gens);
	return list;
}

static json_t *key_json(EVP_PKEY *pkey, X509 *cert)
{
	struct key_facts k;
	describe_key(pkey, cert, &k);
	return json_pack("{s:s, s:s?, s:i, s:b, s:b}", "key_type", k.type, "curve", k.curve,
			 "key_bits", k.bits, "can_verify", k.can_verify, "can_encrypt",
			 k.can_encrypt);
}

static json_t *cert_json(X509 *cert)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	char fp[2 * EVP_MAX_MD_SIZE + 1], nb[32], na[32], subject[512];
	json_t *o = key_json(X509_get0_pubkey(cert), cert);

	X509_digest(cert, EVP_sha256(), md, &md_len);
	danemsg_hex_encode(md, md_len, fp, sizeof(fp));
	asn1_time_iso(X509_get0_notBefore(cert), nb, sizeof(nb));
	asn1_time_iso(X509_get0_notAfter(cert), na, sizeof(na));
	X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof(subject));
	json_object_set_new(o, "subject", json_string(subject));
	json_object_set_new(o, "san", san_names(cert));
	json_object_set_new(o, "not_before", json_string(nb));
	json_object_set_new(o, "not_after", json_string(na));
	json_object_set_new(o, "expired", json_boolean(X509_cmp_current_time(
						    X509_get0_notAfter(cert)) < 0));
	json_object_set_new(o, "sha256", json_string(fp));
	return o;
}

static json_t *record_json(const danemsg_tlsa *rec)
{
	char *data = malloc(2 * rec->data_len + 1);
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	json_t *o;

	if (!data)
		return NULL;
	danemsg_hex_encode(rec->data, rec->data_len, data, 2 * rec->data_len + 1);
	o = json_pack("{s:i, s:i, s:i, s:s, s:s, s:s, s:s, s:b, s:s?}", "usage", rec->usage,
		      "selector", rec->selector, "matching_type", rec->matching_type,
		      "usage_name", danemsg_tlsa_usage_name(rec->usage), "selector_name",
		      danemsg_tlsa_selector_name(rec->selector), "matching_name",
		      danemsg_tlsa_matching_name(rec->matching_type), "data", data, "usable",
		      rec->usable, "reason", rec->unusable_reason);
	free(data);
	if (rec->has_cert && !danemsg_tlsa_cert(rec, &cert))
		json_object_set_new(o, "certificate", cert_json(cert));
	else if (rec->spki_len && !danemsg_tlsa_pkey(rec, &key))
		json_object_set_new(o, "key", key_json(key, NULL));
	X509_free(cert);
	EVP_PKEY_free(key);
	return o;
}

/* The identity as one JSON object: the stable format of --json. */
static json_t *identity_json(const danemsg_identity *id)
{
	json_t *records = json_array();
	int can_verify = 0, can_encrypt = 0, ok = danemsg_identity_status(id) == DANEMSG_OK;

	for (size_t i = 0; i < danemsg_identity_record_count(id); i++) {
		const danemsg_tlsa *rec = danemsg_identity_record(id, i);
		json_t *r = record_json(rec);
		json_t *facts = json_object_get(r, rec->has_cert ? "certificate" : "key");
		if (rec->usable && rec->usage == DANEMSG_TLSA_PKIX_TA) {
			can_verify = 1;   /* a CA: with a chain carried, never its own key */
		} else if (rec->usable && facts) {
			can_verify |= json_is_true(json_object_get(facts, "can_verify"));
			can_encrypt |= json_is_true(json_object_get(facts, "can_encrypt"));
		} else if (rec->usable && rec->usage == DANEMSG_TLSA_DANE_TA) {
			can_verify = 1;   /* with a chain carried in the message */
		} else if (rec->usable) {
			can_verify = 1;   /* with the certificate carried in the message */
		}
		json_array_append_new(records, r);
	}
	return json_pack("{s:s, s:s, s:s, s:s?, s:i, s:b, s:b, s:b, s:o}",
			 "name", danemsg_identity_name(id),
			 "status", danemsg_err_name(danemsg_identity_status(id)),
			 "dnssec", danemsg_dnssec_name(danemsg_identity_dnssec(id)),
			 "why", danemsg_identity_why(id),
			 "ttl", (int)danemsg_identity_ttl(id),
			 "insecure_allowed", danemsg_identity_insecure_allowed(id),
			 "can_verify", ok && can_verify, "can_encrypt", ok && can_encrypt,
			 "records", records);
}

static const char *yes_no(int v)
{
	return v ? "yes" : "no";
}

static void print_text(json_t *o)
{
	json_t *rec;
	size_t i;

	printf("%s\n", json_string_value(json_object_get(o, "name")));
	printf("  DNSSEC:  %s%s\n", json_string_value(json_object_get(o, "dnssec")),
	       json_is_true(json_object_get(o, "insecure_allowed")) ?
		       "  (ACCEPTED ONLY BECAUSE --allow-insecure IS ON)" : "");
	printf("  status:  %s\n", json_string_value(json_object_get(o, "status")));
	if (json_string_value(json_object_get(o, "why")))
		printf("  reason:  %s\n", json_string_value(json_object_get(o, "why")));
	printf("  TTL:     %d s\n", (int)json_integer_value(json_object_get(o, "ttl")));
	json_array_foreach(json_object_get(o, "records"), i, rec) {
		json_t *c = json_object_get(rec, "certificate");
		json_t *k = c ? c : json_object_get(rec, "key");
		printf("  record %zu: TLSA %d %d %d (%s, %s, %s): %s%s\n", i + 1,
		       (int)json_integer_value(json_object_get(rec, "usage")),
		       (int)json_integer_value(json_object_get(rec, "selector")),
		       (int)json_integer_value(json_object_get(rec, "matching_type")),
		       json_string_value(json_object_get(rec, "usage_name")),
		       json_string_value(json_object_get(rec, "selector_name")),
		       json_string_value(json_object_get(rec, "matching_name")),
		       json_is_true(json_object_get(rec, "usable")) ? "usable" : "UNUSABLE: ",
		       json_is_true(json_object_get(rec, "usable")) ? "" :
		       json_string_value(json_object_get(rec, "reason")));
		if (c) {
			json_t *san;
			size_t j;
			printf("    subject:   %s\n",
			       json_string_value(json_object_get(c, "subject")));
			printf("    SAN:      ");
			json_array_foreach(json_object_get(c, "san"), j, san)
				printf(" DNS:%s", json_string_value(san));
			printf("\n    valid:     %s to %s%s\n",
			       json_string_value(json_object_get(c, "not_before")),
			       json_string_value(json_object_get(c, "not_after")),
			       json_is_true(json_object_get(c, "expired")) ? " (EXPIRED)" : "");
			printf("    SHA-256:   %s\n",
			       json_string_value(json_object_get(c, "sha256")));
		}
		if (k) {
			const char *curve = json_string_value(json_object_get(k, "curve"));
			printf("    key:       %s%s%s, %d bits; verify: %s, encrypt to: %s\n",
			       json_string_value(json_object_get(k, "key_type")),
			       curve ? " " : "", curve ? curve : "",
			       (int)json_integer_value(json_object_get(k, "key_bits")),
			       yes_no(json_is_true(json_object_get(k, "can_verify"))),
			       yes_no(json_is_true(json_object_get(k, "can_encrypt"))));
		} else if (json_is_true(json_object_get(rec, "usable")))
			printf("    a digest: messages must carry the certificate it matches\n");
	}
	printf("  can verify signatures: %s\n",
	       yes_no(json_is_true(json_object_get(o, "can_verify"))));
	printf("  can encrypt to:        %s\n",
	       yes_no(json_is_true(json_object_get(o, "can_encrypt"))));
}

int id_show(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		CLI_DNS_LONG_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	struct cli_dns_opts dns = {0};
	danemsg_resolver *r = NULL;
	danemsg_identity *id = NULL;
	int json = 0, opt;
	danemsg_err err;

	optind = 1;
	while ((opt = cli_next_option(argc, argv, longopts, &dns)) != -1) {
		switch (opt) {
		case CLI_OPT_BAD_VALUE: return EXIT_USAGE;
		case 'j': json = 1; break;
		case 'h': printf(show_usage, cli_dns_help); return EXIT_OK_;
		default: return EXIT_USAGE;
		}
	}
	if (cli_operands(argc, argv, "NAME", 1, 1))
		return EXIT_USAGE;
	if (cli_resolver_new(&dns, &r))
		return EXIT_DNS_CONFIG;
	err = danemsg_resolver_lookup(r, argv[optind], &id);
	if (!id) {
		cli_error("%s: %s", argv[optind], err == DANEMSG_ERR_INVALID_ARG ?
			  "not a valid DNS name" : danemsg_strerror(err));
	} else {
		json_t *o = identity_json(id);
		if (json) {
			json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
			putchar('\n');
		} else {
			print_text(o);
		}
		json_decref(o);
		if (err)
			cli_error("%s: %s", argv[optind], danemsg_strerror(err));
	}
	danemsg_identity_unref(id);
	danemsg_resolver_free(r);
	return cli_exit_code(err);
}

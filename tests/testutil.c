/* Helpers shared by the tests. Failures abort: a broken fixture is not a result. */
#define _GNU_SOURCE
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509v3.h>

#include <danemsg.h>

#include "testutil.h"

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "%s:%d: fixture failed: %s\n", \
	__FILE__, __LINE__, #cond); abort(); } } while (0)

EVP_PKEY *tu_key(const char *type)
{
	EVP_PKEY *key = NULL;
	if (!strcmp(type, "P-256"))
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	else if (!strcmp(type, "RSA2048"))
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else
		key = EVP_PKEY_Q_keygen(NULL, NULL, type);
	CHECK(key);
	return key;
}

X509 *tu_cert(EVP_PKEY *key, const char *name, int days)
{
	X509 *cert = X509_new();
	X509_NAME *subject = X509_NAME_new();
	X509V3_CTX ctx;
	char san[300];
	X509_EXTENSION *ext;
	int is_ed = EVP_PKEY_is_a(key, "ED25519");

	CHECK(cert && subject);
	X509_set_version(cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), (long)random() + 1);
	X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, (const unsigned char *)name, -1,
				   -1, 0);
	X509_set_subject_name(cert, subject);
	X509_set_issuer_name(cert, subject);
	X509_NAME_free(subject);
	X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(cert), (long)days * 86400);
	X509_set_pubkey(cert, key);
	X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
	snprintf(san, sizeof(san), "DNS:%s", name);
	CHECK(ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san));
	X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	CHECK(ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage,
					EVP_PKEY_is_a(key, "RSA") ?
						"digitalSignature,keyEncipherment" :
					is_ed ? "digitalSignature" :
						"digitalSignature,keyAgreement"));
	X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	CHECK(X509_sign(cert, key, is_ed ? NULL : EVP_sha256()) > 0);
	return cert;
}

int64_t tu_asn1_seconds(const ASN1_TIME *t)
{
	ASN1_TIME *epoch = ASN1_TIME_set(NULL, 0);
	int days = 0, secs = 0;

	CHECK(epoch && ASN1_TIME_diff(&days, &secs, epoch, t) == 1);
	ASN1_TIME_free(epoch);
	return (int64_t)days * 86400 + secs;
}

char *tu_tempdir(void)
{
	char tmpl[] = "/tmp/danemsg-test-XXXXXX";
	CHECK(mkdtemp(tmpl));
	return strdup(tmpl);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

void tu_rmtree(const char *dir)
{
	if (dir)
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void tu_zone_add(struct tu_zone *z, const char *text)
{
	ldns_rr *rr = NULL;
	CHECK(ldns_rr_new_frm_str(&rr, text, 60, z->origin, NULL) == LDNS_STATUS_OK);
	CHECK(ldns_zone_push_rr(z->zone, rr));
}

void tu_zone_begin(struct tu_zone *z, const char *origin)
{
	char soa[512];
	ldns_rr *rr = NULL;
	memset(z, 0, sizeof(*z));
	z->dir = tu_tempdir();
	snprintf(z->zone_file, sizeof(z->zone_file), "%s/zone.signed", z->dir);
	snprintf(z->anchor_file, sizeof(z->anchor_file), "%s/anchor.ds", z->dir);
	CHECK(z->origin = ldns_dname_new_frm_str(origin));
	CHECK(z->zone = ldns_zone_new());
	snprintf(soa, sizeof(soa), "%s 60 IN SOA ns.%s hostmaster.%s 1 3600 600 86400 60",
		 origin, origin, origin);
	CHECK(ldns_rr_new_frm_str(&rr, soa, 60, NULL, NULL) == LDNS_STATUS_OK);
	ldns_zone_set_soa(z->zone, rr);
	snprintf(soa, sizeof(soa), "%s 60 IN NS ns.%s", origin, origin);
	tu_zone_add(z, soa);
	snprintf(soa, sizeof(soa), "ns.%s 60 IN A 127.0.0.1", origin);
	tu_zone_add(z, soa);
}

void tu_zone_add_tlsa(struct tu_zone *z, const char *owner, X509 *cert, int u, int s, int m)
{
	uint8_t rdata[4096];
	size_t len = 0;
	char hex[8200], text[9000];
	CHECK(danemsg_tlsa_rdata(cert, (uint8_t)u, (uint8_t)s, (uint8_t)m, rdata, sizeof(rdata),
				 &len) == DANEMSG_OK);
	danemsg_hex_encode(rdata + 3, len - 3, hex, sizeof(hex));
	snprintf(text, sizeof(text), "%s 60 IN TLSA %d %d %d %s", owner, u, s, m, hex);
	tu_zone_add(z, text);
}

void tu_zone_finish(struct tu_zone *z, int tamper)
{
	ldns_key *key = ldns_key_new_frm_algorithm(LDNS_SIGN_ECDSAP256SHA256, 256);
	ldns_zone *signed_zone;
	ldns_rr *dnskey, *ds;
	FILE *f;

	CHECK(key);
	ldns_key_set_pubkey_owner(key, ldns_rdf_clone(z->origin));
	ldns_key_set_flags(key, 257);
	ldns_key_set_inception(key, (uint32_t)time(NULL) - 3600);
	ldns_key_set_expiration(key, (uint32_t)time(NULL) + 86400);
	CHECK(z->keys = ldns_key_list_new());
	ldns_key_list_push_key(z->keys, key);
	CHECK(dnskey = ldns_key2rr(key));
	ldns_key_set_keytag(key, ldns_calc_keytag(dnskey));
	ldns_zone_push_rr(z->zone, ldns_rr_clone(dnskey));
	CHECK(signed_zone = ldns_zone_sign(z->zone, z->keys));
	if (tamper) {
		ldns_rr_list *rrs = ldns_zone_rrs(signed_zone);
		for (size_t i = 0; i < ldns_rr_list_rr_count(rrs); i++) {
			ldns_rr *rr = ldns_rr_list_rr(rrs, i);
			if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_TLSA) {
				ldns_rdf *data = ldns_rr_rdf(rr, 3);
				ldns_rdf_data(data)[ldns_rdf_size(data) - 1] ^= 1;
				break;
			}
		}
	}
	CHECK(f = fopen(z->zone_file, "w"));
	ldns_zone_print(f, signed_zone);
	fclose(f);
	CHECK(ds = ldns_key_rr2ds(dnskey, LDNS_SHA256));
	CHECK(f = fopen(z->anchor_file, "w"));
	ldns_rr_print(f, ds);
	fclose(f);
	ldns_rr_free(ds);
	ldns_rr_free(dnskey);
	ldns_zone_deep_free(signed_zone);
}

void tu_zone_end(struct tu_zone *z)
{
	ldns_zone_deep_free(z->zone);
	ldns_rdf_deep_free(z->origin);
	if (z->keys)
		ldns_key_list_free(z->keys);
	tu_rmtree(z->dir);
	free(z->dir);
	memset(z, 0, sizeof(*z));
}

/* Helpers shared by the tests: keys, certificates, signed zones, temp dirs. */
#ifndef DANEMSG_TESTUTIL_H
#define DANEMSG_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include <ldns/ldns.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

/* A fresh key: "P-256", "ED25519", "X25519", "RSA2048". Aborts the test on failure. */
EVP_PKEY *tu_key(const char *type);

/* A self-signed certificate for key naming name in CN and SAN, valid days days.
 * Keys that cannot sign (X25519) are signed by signer instead (may be NULL). */
X509 *tu_cert(EVP_PKEY *key, const char *name, int days);

/* t in seconds since the epoch, counted by OpenSSL's own difference of two times (not the
 * library's reading of it). Aborts the test on failure. */
int64_t tu_asn1_seconds(const ASN1_TIME *t);

/* A temporary directory (created) and its removal with everything in it. */
char *tu_tempdir(void);
void tu_rmtree(const char *dir);

/* A DNSSEC-signed zone built in memory and written to a file, for offline tests. */
struct tu_zone {
	char *dir;
	char zone_file[512];
	char anchor_file[512];   /* the DS record of the zone's key */
	ldns_rdf *origin;
	ldns_zone *zone;
	ldns_key_list *keys;
};

void tu_zone_begin(struct tu_zone *z, const char *origin);
/* Adds a record in presentation format ("name. 60 IN TLSA 3 1 1 ..."). */
void tu_zone_add(struct tu_zone *z, const char *rr);
/* Adds owner's TLSA record for cert with usage, selector and matching type. */
void tu_zone_add_tlsa(struct tu_zone *z, const char *owner, X509 *cert, int u, int s, int m);
/* Signs and writes the zone; with tamper, flips a bit of the first TLSA rdata after
 * signing (its signature no longer verifies). */
void tu_zone_finish(struct tu_zone *z, int tamper);
void tu_zone_end(struct tu_zone *z);

#endif

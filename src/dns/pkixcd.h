/* Private: the reference system's PKIX-CD records (private usage 4), opt-in. */
#ifndef DANEMSG_PKIXCD_H
#define DANEMSG_PKIXCD_H

#include <danemsg.h>

/* The CA fetcher of one resolver: libcurl settings and a cache of fetched CAs. */
struct pkixcd;

/* A fetcher for cfg (pkix_cd on): HTTPS with the Web PKI store of pkix_ca_file/path. */
danemsg_err pkixcd_new(const danemsg_resolver_config *cfg, struct pkixcd **out,
		       char *errbuf, size_t errlen);
void pkixcd_free(struct pkixcd *p);

/*
 * Makes each "4 0 0" record of id usable whose certificate validates (RFC 5280, to the
 * CA fetched from https://AUTHORITY/.well-known/ca/AKI.pem, and naming the identity in a
 * DNS SAN); the others stay unusable, with the reason. Blocks for the fetches (bounded
 * by the resolver's timeout). Call before the identity is shared.
 */
void pkixcd_validate_records(struct pkixcd *p, danemsg_identity *id);

/* The authority host of an identity name: from the right, up to and including the first
 * label that starts with '_', without the '_' ("a._device.example.net." gives
 * "device.example.net"). INVALID_ARG when no label starts with '_'. */
danemsg_err pkixcd_authority(const char *name, char *buf, size_t buflen);

/* The first PEM certificate of a fetched CA file (at most 64 KiB): MALFORMED, TOO_LARGE. */
danemsg_err pkixcd_parse_ca(const uint8_t *body, size_t len, X509 **out);

#endif

/* Private: the identity object that lookups produce and the cache holds. */
#ifndef DANEMSG_IDENTITY_INTERNAL_H
#define DANEMSG_IDENTITY_INTERNAL_H

#include <danemsg.h>

struct danemsg_identity {
	int refs;                   /* atomic */
	char *name;                 /* canonical: lower case, trailing dot */
	danemsg_err status;
	danemsg_dnssec dnssec;
	char *why;                  /* reason for failure, or NULL */
	uint32_t ttl;
	int insecure_allowed;
	size_t n_records;
	danemsg_tlsa *records;
};

/* A new identity with one reference and no records; NULL on allocation failure. */
danemsg_identity *identity_new(const char *name);

/* Parses TLSA rdatas into id; counts usable records. */
danemsg_err identity_set_records(danemsg_identity *id, char **rdata, int *len, size_t n);

/* Replaces id->why with a copy of why (may be NULL). */
void identity_set_why(danemsg_identity *id, const char *why);

/* Canonical form of a DNS name (lower case, trailing dot) into buf; INVALID_ARG
 * when it is not a valid DNS name. */
danemsg_err identity_canonical_name(const char *name, char *buf, size_t buflen);

#endif

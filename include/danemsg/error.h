/* danemsg: one error enum for the whole library, with a message function. */
#ifndef DANEMSG_ERROR_H
#define DANEMSG_ERROR_H

/*
 * On functions whose result is a security decision (open a message, match or authenticate
 * a key, verify a token or a chain, allow a sender): a caller that drops the result gets a
 * compiler warning, since going on as if it were DANEMSG_OK accepts what was refused.
 */
#if defined(__GNUC__) || defined(__clang__)
#define DANEMSG_NODISCARD __attribute__((warn_unused_result))
#else
#define DANEMSG_NODISCARD
#endif

/*
 * ABI of the structs a caller allocates (options, records, results): each begins with
 * size_t struct_size, which its _init function sets to the sizeof the caller compiled
 * with, next to the defaults. The library reads and writes no more than struct_size bytes:
 * fields are only ever appended, a field the caller's headers lack keeps its default, and
 * one the library does not know must be zero (what _init sets; else
 * DANEMSG_ERR_UNSUPPORTED). A struct_size under the first version's size is
 * DANEMSG_ERR_INVALID_ARG. Function tables (danemsg_replay_ops) carry a version instead.
 */

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Every function of the library that can fail returns one of these.
 * Values are stable: new codes are only ever appended.
 * danemsg_err_is_temporary() tells "retry later" from "reject".
 */
typedef enum danemsg_err {
	DANEMSG_OK = 0,
	DANEMSG_ERR_NOMEM,              /* out of memory */
	DANEMSG_ERR_INVALID_ARG,        /* caller passed something unusable */
	DANEMSG_ERR_IO,                 /* file or system call failed */
	DANEMSG_ERR_BUFFER_TOO_SMALL,   /* caller-owned buffer too short */
	DANEMSG_ERR_MALFORMED,          /* input does not parse */
	DANEMSG_ERR_UNSUPPORTED,        /* well-formed, but not something we do */
	DANEMSG_ERR_CRYPTO,             /* OpenSSL operation failed */
	DANEMSG_ERR_EXISTS,             /* refusing to overwrite */
	DANEMSG_ERR_NOT_FOUND,          /* local file or key missing */

	/* Discovery (DNS) */
	DANEMSG_ERR_DNS_CONFIG = 20,    /* resolver or trust anchor misconfigured */
	DANEMSG_ERR_DNS_INSECURE,       /* answer not DNSSEC-signed (no chain of trust) */
	DANEMSG_ERR_DNS_BOGUS,          /* DNSSEC validation failed */
	DANEMSG_ERR_DNS_NOT_FOUND,      /* authenticated NXDOMAIN or NODATA */
	DANEMSG_ERR_DNS_TEMPORARY,      /* SERVFAIL, timeout, server unreachable */
	DANEMSG_ERR_NO_USABLE_RECORD,   /* records exist but none can be used */
	DANEMSG_ERR_NO_MATCH,           /* no record authenticates this key/cert */

	/* Provisioning */
	DANEMSG_ERR_UPDATE_REFUSED = 40,/* DNS UPDATE refused (BADSIG, NOTAUTH, REFUSED) */
	DANEMSG_ERR_KEY_MISMATCH,       /* certificate does not belong to the key */
	DANEMSG_ERR_KEY_PERMISSIONS,    /* private key file that others may access */

	/* Envelope and policy */
	DANEMSG_ERR_NOT_FOR_ME = 60,    /* message is addressed to someone else */
	DANEMSG_ERR_UNKNOWN_SENDER,     /* sender publishes no key that matches */
	DANEMSG_ERR_BAD_SIGNATURE,      /* signature or authentication tag wrong */
	DANEMSG_ERR_EXPIRED,            /* outside the freshness window */
	DANEMSG_ERR_REPLAYED,           /* message id already seen */
	DANEMSG_ERR_SENDER_NOT_ALLOWED, /* sender not on the allow-list */
	DANEMSG_ERR_TOO_LARGE,          /* input over the configured size limit */
	DANEMSG_ERR_ALGORITHM,          /* algorithm not allowed by the profile */
	DANEMSG_ERR_DECRYPT,            /* cannot decrypt (no key for us, or tampered) */

	/* Transport */
	DANEMSG_ERR_BROKER = 80,        /* broker unreachable or refused us */
	DANEMSG_ERR_TIMEOUT,            /* operation did not finish in time */
} danemsg_err;

/* A short, static, human-readable message for an error code. Never NULL. */
const char *danemsg_strerror(danemsg_err err);

/* A stable identifier for an error code ("dns-bogus"), for logs and JSON. */
const char *danemsg_err_name(danemsg_err err);

/* Nonzero when the failure may go away by retrying later (DNS down, broker gone). */
int danemsg_err_is_temporary(danemsg_err err);

#ifdef __cplusplus
}
#endif
#endif

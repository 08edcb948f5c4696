/* Error codes (messages and stable names, from one table) and small utilities. */
#include <stdarg.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include <danemsg.h>

#include "error_internal.h"

struct err_entry {
	danemsg_err code;
	const char *name;
	const char *message;
	int temporary;
};

static const struct err_entry err_table[] = {
	{DANEMSG_OK, "ok", "success", 0},
	{DANEMSG_ERR_NOMEM, "nomem", "out of memory", 1},
	{DANEMSG_ERR_INVALID_ARG, "invalid-argument", "invalid argument", 0},
	{DANEMSG_ERR_IO, "io", "input/output error", 0},
	{DANEMSG_ERR_BUFFER_TOO_SMALL, "buffer-too-small", "buffer too small", 0},
	{DANEMSG_ERR_MALFORMED, "malformed", "malformed input", 0},
	{DANEMSG_ERR_UNSUPPORTED, "unsupported", "not supported", 0},
	{DANEMSG_ERR_CRYPTO, "crypto", "cryptographic operation failed", 0},
	{DANEMSG_ERR_EXISTS, "exists", "already exists (refusing to overwrite)", 0},
	{DANEMSG_ERR_NOT_FOUND, "not-found", "not found", 0},
	{DANEMSG_ERR_DNS_CONFIG, "dns-config", "DNS resolver or trust anchor misconfigured", 0},
	{DANEMSG_ERR_DNS_INSECURE, "dns-insecure", "DNS answer is not DNSSEC-secure (insecure)", 0},
	{DANEMSG_ERR_DNS_BOGUS, "dns-bogus", "DNSSEC validation failed (bogus)", 0},
	{DANEMSG_ERR_DNS_NOT_FOUND, "dns-not-found", "no TLSA records at that name", 0},
	{DANEMSG_ERR_DNS_TEMPORARY, "dns-temporary", "temporary DNS failure", 1},
	{DANEMSG_ERR_NO_USABLE_RECORD, "no-usable-record", "no usable TLSA record", 0},
	{DANEMSG_ERR_NO_MATCH, "no-match", "no TLSA record matches", 0},
	{DANEMSG_ERR_UPDATE_REFUSED, "update-refused", "DNS UPDATE refused", 0},
	{DANEMSG_ERR_KEY_MISMATCH, "key-mismatch", "certificate does not match the key", 0},
	{DANEMSG_ERR_KEY_PERMISSIONS, "key-permissions",
	 "private key file is accessible by others (chmod 600 it)", 0},
	{DANEMSG_ERR_NOT_FOR_ME, "not-for-me", "message is not addressed to this identity", 0},
	{DANEMSG_ERR_UNKNOWN_SENDER, "unknown-sender", "sender publishes no matching key", 0},
	{DANEMSG_ERR_BAD_SIGNATURE, "bad-signature", "signature does not verify", 0},
	{DANEMSG_ERR_EXPIRED, "expired", "message expired or not yet valid", 0},
	{DANEMSG_ERR_REPLAYED, "replayed", "message already seen (replay)", 0},
	{DANEMSG_ERR_SENDER_NOT_ALLOWED, "sender-not-allowed", "sender not allowed by policy", 0},
	{DANEMSG_ERR_TOO_LARGE, "too-large", "input exceeds the size limit", 0},
	{DANEMSG_ERR_ALGORITHM, "algorithm", "algorithm not allowed", 0},
	{DANEMSG_ERR_DECRYPT, "decrypt", "cannot decrypt", 0},
	{DANEMSG_ERR_BROKER, "broker", "message broker unreachable or refused", 1},
	{DANEMSG_ERR_TIMEOUT, "timeout", "timed out", 1},
};

static const struct err_entry *err_find(danemsg_err err)
{
	for (size_t i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++)
		if (err_table[i].code == err)
			return &err_table[i];
	return NULL;
}

const char *danemsg_strerror(danemsg_err err)
{
	const struct err_entry *e = err_find(err);
	return e ? e->message : "unknown error";
}

const char *danemsg_err_name(danemsg_err err)
{
	const struct err_entry *e = err_find(err);
	return e ? e->name : "unknown";
}

int danemsg_err_is_temporary(danemsg_err err)
{
	const struct err_entry *e = err_find(err);
	return e ? e->temporary : 0;
}

danemsg_err danemsg_hex_encode(const uint8_t *in, size_t len, char *out, size_t out_size)
{
	static const char digits[] = "0123456789abcdef";
	if ((!in && len) || !out)
		return DANEMSG_ERR_INVALID_ARG;
	if (len > (SIZE_MAX - 1) / 2 || out_size < 2 * len + 1)
		return DANEMSG_ERR_BUFFER_TOO_SMALL;
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
	return DANEMSG_OK;
}

const char *danemsg_version(void)
{
	return DANEMSG_VERSION_STRING;
}

unsigned long danemsg_version_number(void)
{
	return DANEMSG_VERSION_NUMBER;
}

void errbuf_vset(char *errbuf, size_t len, size_t offset, const char *fmt, va_list ap)
{
	if (errbuf && offset < len)
		vsnprintf(errbuf + offset, len - offset, fmt, ap);
}

danemsg_err errbuf_set(char *errbuf, size_t len, danemsg_err err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	errbuf_vset(errbuf, len, 0, fmt, ap);
	va_end(ap);
	return err;
}

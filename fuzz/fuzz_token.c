/*
 * libFuzzer target for login tokens (outside data: a broker reads the password of every
 * client that connects). danemsg_token_parse on any bytes; a token that parses must have
 * claims a log may show (printable, NUL-terminated, bounded), iat < exp, and an allowed
 * algorithm; danemsg_token_check on it returns one of its documented codes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <danemsg.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int ok)
{
	if (!ok)
		abort();
}

static int printable(const char *s, size_t max)
{
	size_t n = strnlen(s, max);
	for (size_t i = 0; i < n; i++)
		if (s[i] < ' ' || s[i] > '~')
			return 0;
	return n > 0 && n < max;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	danemsg_token_claims c;
	danemsg_token_policy policy;
	danemsg_err err;

	danemsg_token_claims_init(&c);
	err = danemsg_token_parse((const char *)data, size, &c);

	require(err == DANEMSG_OK || err == DANEMSG_ERR_MALFORMED || err == DANEMSG_ERR_ALGORITHM
		|| err == DANEMSG_ERR_TOO_LARGE || err == DANEMSG_ERR_UNSUPPORTED);
	if (err != DANEMSG_OK)
		return 0;
	require(printable(c.sub, sizeof(c.sub)) && printable(c.aud, sizeof(c.aud)) &&
		printable(c.jti, sizeof(c.jti)));
	require(c.iat > 0 && c.iat < c.exp);
	require(c.alg && (!strcmp(c.alg, "ES256") || !strcmp(c.alg, "EdDSA") ||
			  !strcmp(c.alg, "PS256") || !strcmp(c.alg, "RS256")));
	danemsg_token_policy_init(&policy);
	policy.audience = "example.net";
	err = danemsg_token_check(&policy, "alice._device.example.net", &c, 1800000000, NULL, 0);
	require(err == DANEMSG_OK || err == DANEMSG_ERR_NOT_FOR_ME || err == DANEMSG_ERR_EXPIRED);
	return 0;
}

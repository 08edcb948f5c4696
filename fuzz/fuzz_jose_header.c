/*
 * libFuzzer target for JOSE header parsing and checks (outside data: the protected
 * header of every JWS and JWE). The input is read as header JSON, then as a base64url
 * protected header, each with no crit names understood and with some. A header that
 * passes is an object with no b64/zip and only understood crit names.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jose.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const understood[] = { "exp", "nbf", "danemsg-v1", NULL };

static void require(int ok)
{
	if (!ok)
		abort();
}

static void check_passed(const json_t *h, const char *const *names)
{
	const json_t *crit = json_object_get(h, "crit");

	require(json_is_object(h));
	require(!json_object_get(h, "b64") && !json_object_get(h, "zip"));
	for (size_t i = 0; i < json_array_size(crit); i++) {
		const char *name = json_string_value(json_array_get(crit, i));
		int listed = 0;

		require(name != NULL && json_object_get(h, name) != NULL);
		for (size_t j = 0; names && names[j]; j++)
			listed |= strcmp(names[j], name) == 0;
		require(listed);
	}
	/* The lookups the JWS/JWE code does on every header. */
	(void)jose_header_get_string("alg", h, NULL, NULL);
	(void)jose_alg_from_name(jose_header_get_string("alg", NULL, h, NULL));
	(void)jose_enc_from_name(jose_header_get_string("enc", NULL, NULL, h));
}

static void one(danemsg_err err, json_t *h, const char *const *names)
{
	require(err == DANEMSG_OK || err == DANEMSG_ERR_MALFORMED || err == DANEMSG_ERR_ALGORITHM
		|| err == DANEMSG_ERR_TOO_LARGE);
	require((err == DANEMSG_OK) == (h != NULL));
	if (h) {
		check_passed(h, names);
		/* As an unprotected header, it passes unless it has crit. */
		danemsg_err u = jose_header_check(h, 0, NULL);

		require(json_object_get(h, "crit") ? u == DANEMSG_ERR_MALFORMED
						   : u == DANEMSG_OK || u == DANEMSG_ERR_TOO_LARGE);
	}
	json_decref(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	json_t *h = NULL;

	one(jose_header_parse(text, size, NULL, &h), h, NULL);
	h = NULL;
	one(jose_header_parse(text, size, understood, &h), h, understood);
	h = NULL;
	one(jose_header_decode(text, size, understood, &h), h, understood);
	return 0;
}

/*
 * Test-only command line front end to the JOSE layer, for interop tests.
 *
 *   jose_cli sign ALG KEY.pem [HEADER_JSON]   stdin payload  -> stdout flattened JWS
 *   jose_cli verify KEY.pem                   stdin JWS      -> stdout payload
 *   jose_cli encrypt [-p HEADER_JSON] ENC KEY.pem[:KID] ...
 *                                             stdin plaintext -> stdout JWE
 *   jose_cli decrypt KEY.pem [KID]            stdin JWE      -> stdout plaintext
 *
 * ALG "auto" picks the key's default; KEY.pem holds a private key, a public key or a
 * certificate. Errors go to stderr as the danemsg error name; the exit status is 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include <danemsg/error.h>

#include "jose.h"

static int fail(const char *what, danemsg_err err)
{
	fprintf(stderr, "jose_cli: %s: %s\n", what, danemsg_err_name(err));
	return 1;
}

static int usage(void)
{
	fprintf(stderr, "usage: jose_cli sign ALG KEY [HEADER] | verify KEY |"
			" encrypt [-p HEADER] ENC KEY[:KID]... | decrypt KEY [KID]\n");
	return 2;
}

static uint8_t *read_stdin(size_t *len)
{
	size_t cap = 4096, n = 0, got;
	uint8_t *buf = malloc(cap + 1);

	while (buf && (got = fread(buf + n, 1, cap - n, stdin)) > 0) {
		n += got;
		if (n == cap) {
			uint8_t *bigger = realloc(buf, cap * 2 + 1);

			if (!bigger) {
				free(buf);
				return NULL;
			}
			buf = bigger;
			cap *= 2;
		}
	}
	if (buf)
		buf[n] = 0;
	*len = n;
	return buf;
}

static EVP_PKEY *load_key(const char *path)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *key = NULL;
	X509 *cert;

	if (!f) {
		perror(path);
		return NULL;
	}
	key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	if (!key) {
		rewind(f);
		key = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	}
	if (!key) {
		rewind(f);
		if ((cert = PEM_read_X509(f, NULL, NULL, NULL))) {
			key = X509_get_pubkey(cert);
			X509_free(cert);
		}
	}
	fclose(f);
	if (!key)
		fprintf(stderr, "jose_cli: %s: no key\n", path);
	return key;
}

static int write_out(const void *p, size_t n)
{
	return fwrite(p, 1, n, stdout) == n && fflush(stdout) == 0 ? 0 : 1;
}

static int cmd_sign(int argc, char **argv)
{
	EVP_PKEY *key;
	json_t *header = NULL;
	jose_alg alg = JOSE_ALG_UNKNOWN;
	uint8_t *payload;
	size_t len, out_len;
	char *out = NULL;
	danemsg_err err;

	if (argc < 2 || argc > 3)
		return usage();
	if (strcmp(argv[0], "auto") != 0 && !(alg = jose_alg_from_name(argv[0])))
		return fail(argv[0], DANEMSG_ERR_ALGORITHM);
	if (argc == 3 && !(header = json_loads(argv[2], JSON_REJECT_DUPLICATES, NULL)))
		return fail("header", DANEMSG_ERR_MALFORMED);
	if (!(key = load_key(argv[1])) || !(payload = read_stdin(&len))) {
		json_decref(header);
		EVP_PKEY_free(key);
		return 1;
	}
	err = jose_jws_sign(key, alg, header, payload, len, &out, &out_len);
	free(payload);
	json_decref(header);
	EVP_PKEY_free(key);
	if (err != DANEMSG_OK)
		return fail("sign", err);
	err = write_out(out, out_len);
	free(out);
	return err;
}

static int cmd_verify(int argc, char **argv)
{
	EVP_PKEY *key;
	jose_jws jws;
	uint8_t *in;
	size_t len;
	danemsg_err err;
	int rc;

	if (argc != 1)
		return usage();
	if (!(key = load_key(argv[0])) || !(in = read_stdin(&len))) {
		EVP_PKEY_free(key);
		return 1;
	}
	err = jose_jws_parse((const char *)in, len, NULL, &jws);
	free(in);
	if (err == DANEMSG_OK)
		err = jose_jws_verify(&jws, key);
	EVP_PKEY_free(key);
	if (err != DANEMSG_OK) {
		jose_jws_clear(&jws);
		return fail("verify", err);
	}
	rc = write_out(jws.payload, jws.payload_len);
	jose_jws_clear(&jws);
	return rc;
}

static int cmd_encrypt(int argc, char **argv)
{
	jose_recipient r[JOSE_MAX_RECIPIENTS];
	json_t *headers[JOSE_MAX_RECIPIENTS] = { 0 }, *prot = NULL;
	jose_enc enc;
	uint8_t *pt = NULL;
	size_t n = 0, len, out_len;
	char *out = NULL;
	danemsg_err err = DANEMSG_ERR_INVALID_ARG;
	int rc = 1;

	if (argc >= 2 && strcmp(argv[0], "-p") == 0) {
		if (!(prot = json_loads(argv[1], JSON_REJECT_DUPLICATES, NULL)))
			return fail("header", DANEMSG_ERR_MALFORMED);
		argc -= 2;
		argv += 2;
	}
	if (argc < 2 || (size_t)argc - 1 > JOSE_MAX_RECIPIENTS) {
		json_decref(prot);
		return usage();
	}
	if (!(enc = jose_enc_from_name(argv[0]))) {
		json_decref(prot);
		return fail(argv[0], DANEMSG_ERR_ALGORITHM);
	}
	memset(r, 0, sizeof(r));
	for (n = 0; n < (size_t)argc - 1; n++) {
		char *spec = argv[n + 1], *kid = strchr(spec, ':');

		if (kid) {
			*kid++ = '\0';
			headers[n] = json_pack("{s:s}", "kid", kid);
			r[n].header = headers[n];
		}
		if (!(r[n].key = load_key(spec)))
			goto done;
	}
	if (!(pt = read_stdin(&len)))
		goto done;
	err = jose_jwe_encrypt(r, n, enc, prot, pt, len, NULL, 0, &out, &out_len);
	if (err != DANEMSG_OK) {
		rc = fail("encrypt", err);
		goto done;
	}
	rc = write_out(out, out_len);
done:
	for (size_t i = 0; i < (size_t)argc - 1; i++) {
		EVP_PKEY_free(r[i].key);
		json_decref(headers[i]);
	}
	json_decref(prot);
	free(pt);
	free(out);
	return rc;
}

static int cmd_decrypt(int argc, char **argv)
{
	struct jose_id_match match = { "kid", NULL };
	EVP_PKEY *key;
	jose_jwe jwe;
	uint8_t *in, *pt = NULL;
	size_t len, pt_len = 0;
	danemsg_err err;
	int rc;

	if (argc < 1 || argc > 2)
		return usage();
	if (!(key = load_key(argv[0])) || !(in = read_stdin(&len))) {
		EVP_PKEY_free(key);
		return 1;
	}
	match.value = argc == 2 ? argv[1] : NULL;
	err = jose_jwe_parse((const char *)in, len, NULL, &jwe);
	free(in);
	if (err == DANEMSG_OK)
		err = jose_jwe_decrypt(&jwe, key, match.value ? jose_recipient_has_id : NULL,
				       &match, &pt, &pt_len, NULL);
	jose_jwe_clear(&jwe);
	EVP_PKEY_free(key);
	if (err != DANEMSG_OK)
		return fail("decrypt", err);
	rc = write_out(pt, pt_len);
	free(pt);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	if (strcmp(argv[1], "sign") == 0)
		return cmd_sign(argc - 2, argv + 2);
	if (strcmp(argv[1], "verify") == 0)
		return cmd_verify(argc - 2, argv + 2);
	if (strcmp(argv[1], "encrypt") == 0)
		return cmd_encrypt(argc - 2, argv + 2);
	if (strcmp(argv[1], "decrypt") == 0)
		return cmd_decrypt(argc - 2, argv + 2);
	return usage();
}

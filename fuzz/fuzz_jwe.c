/*
 * libFuzzer target for JWE parsing and decryption (outside data: every message received).
 * The input is parsed in any form (flattened, general, compact) and decrypted with fixed
 * P-256, X25519 and RSA keys, trying every entry, then by a "kid" predicate, so that
 * seeds encrypted to those keys reach the success paths. Invariants: a parsed JWE has an
 * allowed enc and per-entry alg with the right IV and tag lengths; decryption returns a
 * plaintext exactly when it succeeds, and a key type no entry fits is
 * DANEMSG_ERR_ALGORITHM.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/pem.h>

#include "jose.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Test-only keys (made with openssl genpkey for this target; never used elsewhere). */
static const char *const key_pems[] = {
	/* P-256 */
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgyyG2vDTKD0rNQlgr\n"
	"kOqCB0KZ/15bO+x9LS4n2joUOzehRANCAARdI5FuCRDypZHl+SENSUXgnQaKD/5W\n"
	"wEoGNnlro5YIszsfcxWpdNfoFxUzcPtXd/6tdpUXY4je0TO65GcJSO+P\n"
	"-----END PRIVATE KEY-----\n"
	,
	/* X25519 */
	"-----BEGIN PRIVATE KEY-----\n"
	"MC4CAQAwBQYDK2VuBCIEIPjgNNorYdFRh8O61UKz99w6mHaKexqbEEWCgfQDFjli\n"
	"-----END PRIVATE KEY-----\n"
	,
	/* RSA 2048 */
	"-----BEGIN PRIVATE KEY-----\n"
	"MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQCpjBLQ4EpwZTaB\n"
	"Co/yyBsZsjWhxhyfh4lXFTlLCh1de1VWk8F7FNa+PBJBXKltG/YXGcfvBMW5PQW0\n"
	"s3yCmHoLkz5sZ9cTW/n9wMEg4Gye2lro9TDzGcpPt/WrjBns2aBEpkMc48M3d06f\n"
	"6+YDkWuAO6+/9mrsGxCkqTQo/Nslz8WrLF6wRmUm54ZtsmfF2s7Qv1lSw762DMq1\n"
	"eFQMbg4LqUpg10DaUsUjbjmGBo+1OZ9lDIWAOB2S1vxsq2AjuqBJHx7ESTpYAbEr\n"
	"IxXw5fpmMpv6gZZGrm3zjfySdSdTRs+ElnBT9880rLR37KqzsCF2WtjgCV2K29bx\n"
	"BUjzDWS/AgMBAAECggEAAXiCF0bCzovKN79YNVJwDb6CgZc+21FpKxS3jQOW8p8l\n"
	"w9z/QiqRnE/YFrIPlC84aMXj+ppPfsZdPM6Lx3Q8JsqNsZILBxN2rTFVW4wm1Q/u\n"
	"1vN9i7ZPD3b4jhbmiKvwnHfWwDLnmB0UVQXOVnyV8qRR53fjQI4RjGQdXDepTQAn\n"
	"RdxXwyvUECYPg0w42KbxssbH3k3V0E6tLCMXZFk6Wp3n3c69xOKFSkhL66Xi1TDt\n"
	"NnKtWAEuGtjhqj3Ql7Bqm1Gr8RoHtLk6VqrnQIQ1EP25eSz5DfPgoKi79nQUSv3e\n"
	"amfuL+Xq0URc5rmh/CsVazIq4pWXHCLN7d0dO2DUvQKBgQDiOopqIuJOcxceh2V7\n"
	"GLiNSM628aeYVLA7zxj9ShPWD8tqGcUQPiu5zl+PMTRQ5f8UOSDotVre7/81whq9\n"
	"N2k6o4jWfeHizb6S8qEd/5qnL5bHUpt6G3GNNT4YOw63e+0yCCc3xrfWAEut3oqT\n"
	"6Sy/esXghPmy9wYUR1NZfFzK7QKBgQC/2/qcSSDjJwmFrwgwDdG33NUZrDg9u210\n"
	"MMeSc7g96GLzGDDGuxfhUTDMIR97V1R6yrQX3qrCygaaQW1crF7F6Bt0u38R2nJf\n"
	"VlggR/8vjLYwkEgsadx51OPDYmntq5js13dI1w2qxJ8Xq9SZBQW1Key+YLN9q4PG\n"
	"ai6gqcV82wKBgBAODYKoxRzCKDLfcwFAaOCF+T2cesNhxzwHX4OiPTQk3M/D0mtr\n"
	"rhi6n6d+23KeT/L0dvRs4m0N5TPAebtR8mLZ9j0ao+w/o7W0CGEjoasZwn6Uyzno\n"
	"Nq/JxoVbs5ir79JsJ7RaovNKBBTrxTPoCWfxY5eieEIOK91GjpC8Na2lAoGBALDy\n"
	"VkkrnNxDFaIo0tlW9XOohRWfY2Nz6DfAAWANv//AwvnG9r1islyJQAMUDW/5FB4H\n"
	"s19MapsqLjq4Wv+cre/C6QeZIVG68b8B6Fclb7JQCXvypc3oeIIYmVOLAX1ExM6y\n"
	"zf3s8Vrs6nmvbW0PV7tFBmZy0zf1JpypM4XT7iL/AoGBAMTohNJUBWcfRxEKYTXw\n"
	"HO7jbtK+UwUJSCFMfCvv2sL2Bh446Aw660Vq6swQg7vfT/tBa0yY/60WtHnKJbTD\n"
	"DRmm4eXx/TAhkHWyecG/zvbTVyMdvsRDx71J7MhDrgkn0emFIGHi2MlOyAB+Fj/T\n"
	"FpQdw47mnIIQqoS+bpioL7KC\n"
	"-----END PRIVATE KEY-----\n"
};

#define N_KEYS (sizeof(key_pems) / sizeof(key_pems[0]))

static EVP_PKEY *keys[N_KEYS];
static const char *const understood[] = { "exp", NULL };

static void require(int ok)
{
	if (!ok)
		abort();
}

static void fixture_init(void)
{
	if (keys[0])
		return;
	for (size_t i = 0; i < N_KEYS; i++) {
		BIO *bio = BIO_new_mem_buf(key_pems[i], -1);

		require(bio != NULL);
		keys[i] = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
		require(keys[i] != NULL);
		BIO_free(bio);
	}
}

static void check_parsed(const jose_jwe *jwe)
{
	size_t iv = jwe->enc == JOSE_ENC_A256GCM ? 12 : 16, tag = jwe->enc == JOSE_ENC_A256GCM
								     ? 16 : 32;

	require(jwe->enc == JOSE_ENC_A256GCM || jwe->enc == JOSE_ENC_A256CBC_HS512);
	require(jwe->iv_len == iv && jwe->tag_len == tag);
	require(jwe->n_recipients >= 1 && jwe->n_recipients <= JOSE_MAX_RECIPIENTS);
	require(jwe->protected_b64 != NULL);
	for (size_t i = 0; i < jwe->n_recipients; i++) {
		require(jwe->recipients[i].alg == JOSE_ALG_RSA_OAEP_256
			|| jwe->recipients[i].alg == JOSE_ALG_ECDH_ES_A256KW);
		require(jwe->recipients[i].encrypted_key_len > 0);
	}
}

static void check_decrypt(const jose_jwe *jwe, EVP_PKEY *key, jose_recipient_pred pred,
			  void *arg)
{
	uint8_t *pt = NULL;
	size_t pt_len = 0, index = SIZE_MAX;
	int fits = 0;
	danemsg_err err = jose_jwe_decrypt(jwe, key, pred, arg, &pt, &pt_len, &index);

	for (size_t i = 0; i < jwe->n_recipients; i++)
		fits |= jose_alg_check_key(jwe->recipients[i].alg, key) == DANEMSG_OK;
	require(err == DANEMSG_OK || err == DANEMSG_ERR_DECRYPT || err == DANEMSG_ERR_MALFORMED
		|| err == DANEMSG_ERR_ALGORITHM || err == DANEMSG_ERR_TOO_LARGE);
	require(fits || err == DANEMSG_ERR_ALGORITHM);
	if (err == DANEMSG_OK) {
		require(pt != NULL && pt[pt_len] == 0 && index < jwe->n_recipients);
		require(jose_alg_check_key(jwe->recipients[index].alg, key) == DANEMSG_OK);
	} else {
		require(pt == NULL && pt_len == 0);
	}
	free(pt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jose_id_match by_kid = { "kid", "r1" };
	jose_jwe jwe;
	danemsg_err err;

	fixture_init();
	err = jose_jwe_parse((const char *)data, size, (size & 1) ? understood : NULL, &jwe);
	require(err == DANEMSG_OK || err == DANEMSG_ERR_MALFORMED || err == DANEMSG_ERR_ALGORITHM
		|| err == DANEMSG_ERR_TOO_LARGE);
	if (err != DANEMSG_OK) {
		require(!jwe.recipients && !jwe.ciphertext && !jwe.protected_header);
		return 0;
	}
	check_parsed(&jwe);
	for (size_t i = 0; i < N_KEYS; i++) {
		check_decrypt(&jwe, keys[i], NULL, NULL);
		check_decrypt(&jwe, keys[i], jose_recipient_has_id, &by_kid);
	}
	jose_jwe_clear(&jwe);
	return 0;
}

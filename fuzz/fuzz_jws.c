/*
 * libFuzzer target for JWS parsing and verification (outside data: every message
 * carries a JWS inside its JWE). The input is parsed in any form (flattened, general,
 * compact) and verified against fixed P-256, Ed25519 and RSA keys, so that seeds signed
 * by those keys reach the success paths. Invariants: a parsed JWS has an allowed alg,
 * a decoded protected header and consistent lengths; only the key the alg names can
 * verify; a key of another type is refused with DANEMSG_ERR_ALGORITHM.
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
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgCjidvfGvgsntbK9s\n"
	"GXkxzistfj0eah6TaneVRNZMuYahRANCAASbax0yQ+R1WLJNK0v+MuFusMwCSfF6\n"
	"JE9mWN9iX6qFEN8GilhjT/zbabmKz12W5NrGrJZCwV31aumEyfyuk5A3\n"
	"-----END PRIVATE KEY-----\n"
	,
	/* Ed25519 */
	"-----BEGIN PRIVATE KEY-----\n"
	"MC4CAQAwBQYDK2VwBCIEIEr02QqXgJyMx673MTDoAe/rTlHS2y6mz1CzxxxfABLd\n"
	"-----END PRIVATE KEY-----\n"
	,
	/* RSA 2048 */
	"-----BEGIN PRIVATE KEY-----\n"
	"MIIEvwIBADANBgkqhkiG9w0BAQEFAASCBKkwggSlAgEAAoIBAQDRDjJW2hiivXzS\n"
	"sHyQXQ6Ygct4/nzUpas0cAnjYdOjISeHXWgtbQ8zVIrJ8Nl6RlsmwcpBE5V/Ohap\n"
	"lFiEwordf5MaCUDl0Ub3Yv6qLAUqkhNcszY82sC0t3hXZcuUAt/BHDvkWlHe23dM\n"
	"0/AEMaqBFCR25gGf+7FwPnBM5Zq7CFfzMJz66cUCm2ZF+oBJLABAfCJiLMdwodPr\n"
	"QWK4cyinIBZUCYYDlV2zIF5KaMaO3EdUFPoOlbaY0e4jpZVvjVU/YpEWXMuNYbxb\n"
	"nmXzfWf8yyns+uz0qJ1XEv9Y94PDIfkikzP1Xgr77z0Xx0l7cmRJorGfy303f/Vr\n"
	"TSAekaGNAgMBAAECggEALzuM5hCallJHnHahfiB4Rr60kR62Z3kSyGMz6LrWjTnV\n"
	"a4EQI4tLbuaAAQY4rKauu3/3SWK6WSdvrVrF8SDfLRJA0xYaIpJ4/TXRofMWK7sb\n"
	"Qst+ypsGBQ6a0uw95bAMi93sLji13KsrNiGATgJGqqk5X9+xqEq+mUSSLN2HaxAb\n"
	"vcpaDLlnOZiDneznoyAbSUvZ2E5KoKmnn1AKLFgG4juFvvlYNKYa03m/ALNIIZ/G\n"
	"Pyx1lEm23QqMY4ySn+1qXo+qJ88F0MbsNu3z/9NEHnm4zWhoHE0gR+KCPnegT5+p\n"
	"wxph18L5N5JfQO9vtw6YpTYrzeoT7zXWhQXedRn/BQKBgQD33zLehKLISue//S/Z\n"
	"LUTdw8Y3SzfKiwcVZzMgD6cs8J2+ltZwRmwUjP8mppIMo/nSldw0ANNi52YCL3wW\n"
	"xmj6H4Bgzu4JHVdEq8HjcqBAgrfRFw2lu6MDTYUvOMDwCTMdAjLbbjMqy5FxsOi1\n"
	"arnrJ/3GS8sN11hD89zLgt9iHwKBgQDX6SWq1moM5nS/gGbVPGBTBy1DPoMbCFnI\n"
	"t4xtkHex4kc23SX1mTqnMRTHN+pIfDfz9RFkr5AZc0KTcvYOf17tJhtnNzZecNum\n"
	"E4NRAiokxFXIx8xMhKzLcw5JRWeCVEGU5jsFAHQule4F/UXaMuDmeJyV6xxTNObP\n"
	"1CLmycf+0wKBgQCcZ2kIwXaZnbI4EcGEby0aJbNIJp0wn6M7nR/EZjwdfkJ7BWCP\n"
	"/c+q9AD32Xkkor87YrZM1gyMRui2DlJlaJLK6N+vtkK625m6SgqQwz5dFl54f+xr\n"
	"nEdTCTI1xsDvdU6cSkve6907brH6pB9igdKIkHZwDlk1BaG7VwAGJjFgDwKBgQCe\n"
	"SJjJpki2zlg2b/5zQsDm/XLsQi7BKZ0QrabwR6HIMbe9e+CxLTU3jp7J8a76lr46\n"
	"RaYLpz0/uyTKjdPfCvdfablbMLnWAGy2UsXJJIoazCiLehXG3tkCiYWmp4/blsNB\n"
	"Uotf/lYuNNH7aBLGhNglfbRln6fzQ+wV3lH72V+Z6wKBgQDfqADxBzpM/xl+CMmr\n"
	"+BtgKsUZL4dBPLK0IS5+w5a1wMu2NlJOaneMDYFJY3nKBNslDIkt546UlfVTOX9C\n"
	"3UOLghynevULVH3DGQoxZobwCwyF1vB7F4wgcTfKdBS8QoG72r2K6erYGXP08qC+\n"
	"y8jHeK8szps9m/nn7VkbayGAkw==\n"
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	jose_jws jws;
	danemsg_err err;
	int verified = 0;

	fixture_init();
	err = jose_jws_parse((const char *)data, size, (size & 1) ? understood : NULL, &jws);
	require(err == DANEMSG_OK || err == DANEMSG_ERR_MALFORMED || err == DANEMSG_ERR_ALGORITHM
		|| err == DANEMSG_ERR_TOO_LARGE);
	if (err != DANEMSG_OK) {
		require(!jws.protected_header && !jws.payload && !jws.signature);
		return 0;
	}
	require(jose_alg_from_name(json_string_value(json_object_get(jws.protected_header, "alg")))
		== jws.alg);
	require(jws.signing_input && strlen(jws.signing_input) == jws.signing_input_len);
	require(jws.payload && jws.payload[jws.payload_len] == 0);
	require(jws.signature_len > 0);
	for (size_t i = 0; i < N_KEYS; i++) {
		err = jose_jws_verify(&jws, keys[i]);
		if (jose_alg_check_key(jws.alg, keys[i]) != DANEMSG_OK) {
			require(err == DANEMSG_ERR_ALGORITHM);
			continue;
		}
		require(err == DANEMSG_OK || err == DANEMSG_ERR_BAD_SIGNATURE);
		verified += err == DANEMSG_OK;
	}
	require(verified <= 1);
	jose_jws_clear(&jws);
	return 0;
}

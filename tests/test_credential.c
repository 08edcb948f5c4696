/* Identity credentials: creation, certificate fields, loading, names, TLSA, import, rollover. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include <danemsg.h>

#define NAME "alice._device.example.net"

/* A fresh temporary folder; the identity folder is DIR/ids (not created yet). */
struct fixture {
	char base[64];
	char dir[96];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	snprintf(f->base, sizeof(f->base), "/tmp/test_credential.XXXXXX");
	if (!mkdtemp(f->base)) {
		free(f);
		return -1;
	}
	snprintf(f->dir, sizeof(f->dir), "%s/ids", f->base);
	*state = f;
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	int rc = nftw(f->base, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return rc;
}

static void path_of(const struct fixture *f, const char *name, danemsg_credential_slot slot,
		    danemsg_credential_file file, char *buf, size_t len)
{
	assert_int_equal(danemsg_credential_path(f->dir, name, slot, file, buf, len), DANEMSG_OK);
}

static mode_t mode_of(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static int exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* The whole content of a small file, NUL-terminated; caller frees. */
static char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	assert_non_null(fp);
	char *buf = calloc(1, 65536);
	assert_non_null(buf);
	*len = fread(buf, 1, 65535, fp);
	fclose(fp);
	return buf;
}

static X509 *read_cert(const char *path)
{
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	X509 *x = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	assert_non_null(x);
	return x;
}

static void write_pem_certs(const char *path, X509 *a, X509 *b)
{
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	assert_true(PEM_write_X509(fp, a));
	if (b)
		assert_true(PEM_write_X509(fp, b));
	assert_int_equal(fclose(fp), 0);
}

static const danemsg_keytype all_types[] = {
	DANEMSG_KEY_P256, DANEMSG_KEY_ED25519, DANEMSG_KEY_RSA2048, DANEMSG_KEY_RSA3072,
};
#define N_TYPES (sizeof(all_types) / sizeof(all_types[0]))

static void test_keytype_names(void **state)
{
	static const char *const names[] = {"p256", "ed25519", "rsa2048", "rsa3072"};
	danemsg_keytype t;
	for (size_t i = 0; i < N_TYPES; i++) {
		assert_string_equal(danemsg_keytype_name(all_types[i]), names[i]);
		assert_int_equal(danemsg_keytype_parse(names[i], &t), DANEMSG_OK);
		assert_int_equal(t, all_types[i]);
	}
	assert_int_equal(danemsg_keytype_parse("RSA2048", &t), DANEMSG_OK);
	assert_int_equal(danemsg_keytype_parse("dsa", &t), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_keytype_parse(NULL, &t), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_keytype_parse("p256", NULL), DANEMSG_ERR_INVALID_ARG);
	assert_string_equal(danemsg_keytype_name((danemsg_keytype)99), "unknown");
}

/* Every key type makes key + certificate + CSR with the right modes, and loads. */
static void test_every_keytype_creates_identity(void **state)
{
	struct fixture *f = *state;
	char key[4096], crt[4096], csr[4096], enc_key[4096], enc_crt[4096];
	for (size_t i = 0; i < N_TYPES; i++) {
		char name[64];
		snprintf(name, sizeof(name), "dev%zu._device.example.net", i);
		assert_int_equal(danemsg_credential_new(f->dir, name, all_types[i], 0, 0, NULL, 0),
				 DANEMSG_OK);
		assert_int_equal(mode_of(f->dir), 0700);
		path_of(f, name, DANEMSG_SLOT_CURRENT, DANEMSG_FILE_KEY, key, sizeof(key));
		path_of(f, name, DANEMSG_SLOT_CURRENT, DANEMSG_FILE_CERT, crt, sizeof(crt));
		path_of(f, name, DANEMSG_SLOT_CURRENT, DANEMSG_FILE_CSR, csr, sizeof(csr));
		path_of(f, name, DANEMSG_SLOT_CURRENT, DANEMSG_FILE_ENC_KEY, enc_key,
			sizeof(enc_key));
		path_of(f, name, DANEMSG_SLOT_CURRENT, DANEMSG_FILE_ENC_CERT, enc_crt,
			sizeof(enc_crt));
		assert_int_equal(mode_of(key), 0600);
		assert_int_equal(mode_of(crt), 0644);
		assert_int_equal(mode_of(csr), 0644);
		int ed = all_types[i] == DANEMSG_KEY_ED25519;
		assert_int_equal(exists(enc_key), ed);
		assert_int_equal(exists(enc_crt), ed);
		if (ed)
			assert_int_equal(mode_of(enc_key), 0600);

		danemsg_credential *c;
		assert_int_equal(danemsg_credential_load(f->dir, name, &c, NULL, 0), DANEMSG_OK);
		assert_string_equal(danemsg_credential_name(c), name);
		EVP_PKEY *k = danemsg_credential_sign_key(c);
		switch (all_types[i]) {
		case DANEMSG_KEY_P256: {
			char group[32];
			assert_true(EVP_PKEY_is_a(k, "EC"));
			assert_true(EVP_PKEY_get_group_name(k, group, sizeof(group), NULL));
			assert_string_equal(group, "prime256v1");
			break;
		}
		case DANEMSG_KEY_ED25519: assert_true(EVP_PKEY_is_a(k, "ED25519")); break;
		case DANEMSG_KEY_RSA2048: assert_int_equal(EVP_PKEY_get_bits(k), 2048); break;
		case DANEMSG_KEY_RSA3072: assert_int_equal(EVP_PKEY_get_bits(k), 3072); break;
		}
		X509 *sign_cert = danemsg_credential_sign_cert(c);
		assert_int_equal(EVP_PKEY_eq(k, X509_get0_pubkey(sign_cert)), 1);
		assert_null(danemsg_credential_chain(c));
		if (ed) {
			assert_true(EVP_PKEY_is_a(danemsg_credential_enc_key(c), "X25519"));
		} else {
			assert_ptr_equal(danemsg_credential_enc_key(c), k);
			assert_ptr_equal(danemsg_credential_enc_cert(c), sign_cert);
		}
		danemsg_credential_free(c);
	}
}

/* SAN, CN, basicConstraints, keyUsage, SKI, serial, validity and signature of each type. */
static void test_certificate_fields(void **state)
{
	static const struct {
		danemsg_keytype type;
		uint32_t key_usage;
		int sig_nid;
	} cases[] = {
		{DANEMSG_KEY_P256, KU_DIGITAL_SIGNATURE | KU_KEY_AGREEMENT, NID_ecdsa_with_SHA256},
		{DANEMSG_KEY_ED25519, KU_DIGITAL_SIGNATURE, NID_ED25519},
		{DANEMSG_KEY_RSA2048, KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT,
		 NID_sha256WithRSAEncryption},
	};
	struct fixture *f = *state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char name[64], cn[64];
		snprintf(name, sizeof(name), "d%zu._device.example.net", i);
		assert_int_equal(danemsg_credential_new(f->dir, name, cases[i].type, 30, 0, NULL,
							0), DANEMSG_OK);
		danemsg_credential *c;
		assert_int_equal(danemsg_credential_load(f->dir, name, &c, NULL, 0), DANEMSG_OK);
		X509 *x = danemsg_credential_sign_cert(c);

		assert_int_equal(X509_get_version(x), X509_VERSION_3);
		assert_int_equal(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName,
							   cn, sizeof(cn)), (int)strlen(name));
		assert_string_equal(cn, name);
		assert_int_equal(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)),
				 0);
		assert_int_equal(X509_check_host(x, name, 0, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT |
						 X509_CHECK_FLAG_NO_WILDCARDS, NULL), 1);

		int pos = X509_get_ext_by_NID(x, NID_basic_constraints, -1);
		assert_true(pos >= 0);
		assert_true(X509_EXTENSION_get_critical(X509_get_ext(x, pos)));
		assert_false(X509_get_extension_flags(x) & EXFLAG_CA);
		pos = X509_get_ext_by_NID(x, NID_key_usage, -1);
		assert_true(pos >= 0);
		assert_true(X509_EXTENSION_get_critical(X509_get_ext(x, pos)));
		assert_int_equal(X509_get_key_usage(x), cases[i].key_usage);
		assert_non_null(X509_get0_subject_key_id(x));

		BIGNUM *serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
		assert_non_null(serial);
		assert_false(BN_is_negative(serial));
		assert_int_equal(BN_num_bits(serial), 128);
		BN_free(serial);

		int days, secs;
		assert_true(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x),
					   X509_get0_notAfter(x)));
		assert_int_equal(days, 30);
		assert_int_equal(secs, 3600);
		assert_true(X509_cmp_current_time(X509_get0_notBefore(x)) < 0);

		assert_int_equal(X509_get_signature_nid(x), cases[i].sig_nid);
		assert_int_equal(X509_verify(x, X509_get0_pubkey(x)), 1);
		danemsg_credential_free(c);
	}
}

/* Ed25519 identities get an X25519 certificate issued by the Ed25519 key. */
static void test_ed25519_has_x25519_certificate(void **state)
{
	struct fixture *f = *state;
	danemsg_credential *c;
	assert_int_equal(danemsg_credential_new(f->dir, NAME, DANEMSG_KEY_ED25519, 0, 0, NULL, 0),
			 DANEMSG_OK);
	assert_int_equal(danemsg_credential_load(f->dir, NAME, &c, NULL, 0), DANEMSG_OK);
	X509 *sign = danemsg_credential_sign_cert(c), *enc = danemsg_credential_enc_cert(c);
	assert_ptr_not_equal(sign, enc);
	assert_true(EVP_PKEY_is_a(X509_get0_pubkey(enc), "X25519"));
	assert_int_equal(EVP_PKEY_eq(danemsg_credential_enc_key(c), X509_get0_pubkey(enc)), 1);
	assert_int_equal(X509_verify(enc, danemsg_credential_sign_key(c)), 1);
	assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(enc), X509_get_subject_name(sign)), 0);
	assert_int_equal(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(enc),
					       X509_get0_subject_key_id(sign)), 0);
	assert_int_equal(X509_get_key_usage(enc), KU_KEY_AGREEMENT);
	assert_int_equal(X509_check_host(enc, NAME, 0, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, NULL),
			 1);
	danemsg_credential_free(c);

	/* An X25519 certificate signed by another key is refused. */
	char enc_crt[4096];
	path_of(f, "other.example", DANEMSG_SLOT_CURRENT, DANEMSG_FILE_ENC_CERT, enc_crt,
		sizeof(enc_crt));
	assert_int_equal(danemsg_credential_new(f->dir, "other.example", DANEMSG_KEY_ED25519, 0,
						0, NULL, 0), DANEMSG_OK);
	char mine[4096];
	path_of(f, NAME, DANEMSG_SLOT_CURRENT, DANEMSG_FILE_ENC_CERT, mine, sizeof(mine));
	assert_int_equal(rename(mine, enc_crt), 0);
	assert_int_equal(danemsg_credential_load(f->dir, "other.example", &c, NULL, 0),
			 DANEMSG_ERR_KEY_MISMATCH);
	assert_null(c);
}

/* An existing key is never replaced without FORCE; with FORCE it is. */
static void test_existing_key_kept_unless_forced(void **state)
{
	struct fixture *f = *state;
	char key[4096], err[256] = "";
	size_t len1, len2, len3;
	path_of(f, NAME, DANEMSG_SLOT_CURRENT, DANEMSG_FILE_KEY, key, sizeof(key));
	assert_int_equal(danemsg_credential_new(f->dir, NAME, DANEMSG_KEY_P256, 0, 0, NULL, 0),
			 DANEMSG_OK);
	char *before = slurp(key, &len1);
	assert_int_equal(danemsg_credential_new(f->dir, NAME, DANEMSG_KEY_P256, 0, 0, err,
						sizeof(err)), DANEMSG_ERR_EXISTS);
	assert_non_null(strstr(err, key));
	char *same = slurp(key, &len2);
	assert_int_equal(len1, len2);
	assert_memory_equal(before, same, len1);
	assert_int_equal(danemsg_credential_new(f->dir, NAME, DANEMSG_KEY_P256, 0,
						DANEMSG_CREDENTIAL_FORCE, NULL, 0), DANEMSG_OK);
	char *after = slurp(key, &len3);
	assert_true(len1 != len3 || memcmp(before, after, len1) != 0);
	assert_int_equal(mode_of(key), 0600);
	free(before);
	free(same);
	free(after);
}

/* Replacing an Ed25519 identity by another type drops its X25519 pair and chain. */
static void test_force_removes_stale_files(void **state)
{
	struct fixture *f = *state;
	char enc_key[4096], chain[4096];
	path_of(f, NAME, DANEMSG_SLOT_CURRENT, DANEMSG_FILE_ENC_KEY, enc_key, sizeof(enc_key));
	path_of(f, NAME, DANEMSG_SLOT_CURRENT, DANEMSG_FILE_CHAIN, chain, sizeof(chain));
	assert_int_equal(danemsg_credential_new(f->dir, NAME, DANEMSG_KEY_ED25519, 0, 0, NULL, 0),
			 DANEMSG_OK);
	FILE *fp = fopen(chain, "w");
	assert_non_null(fp);
	fclose(fp);
	assert_true(exists(enc_key));
	assert_int_equal(danemsg_credential_new(f->dir, NAME, DANEMSG_KEY_RSA2048, 0,
						DANEMSG_CREDENTIAL_FORCE, NULL, 0), DANEMSG_OK);
	assert_false(exists(enc_key));
	assert_false(exists(chain));
	danemsg_credential *c;
	assert_int_equal(danemsg_credential_load(f->dir, NAME, &c, NULL, 0), DANEMSG_OK);
	danemsg_credential_free(c);
}

static void test_load_key_mismatch(void **state)
{
	struct fixture *f = *state;
	char a_crt[4096], b_crt[4096], err[256] = "";
	assert_int_equal(danemsg_credential_new(f->dir, "a.example", DANEMSG_KEY_P256, 0, 0, NULL,
						0), DANEMSG_OK);
	assert_int_equal(danemsg_credential_new(f->dir, "b.example", DANEMSG_KEY_P256, 0, 0, NULL,
						0), DANEMSG_OK);
	path_of(f, "a.example", DANEMSG_SLOT_CURRENT, DANEMSG_FILE_CERT, a_crt, sizeof(a_crt));
	path_of(f, "b.example", DANEMSG_SLOT_CURRENT, DANEMSG_FILE_CERT, b_crt, sizeof(b_crt));
	assert_int_equal(rename(b_crt, a_crt), 0);
	danemsg_credential *c = (danemsg_credential *)1;
	assert_int_equal(danemsg_credential_load(f->dir, "a.example", &c, NULL, 0),
			 DANEMSG_ERR_KEY_MISMATCH);
	assert_null(c);
	assert_int_equal(danemsg_credential_load_slot(f->dir, "a.example", DANEMSG_SLOT_CURRENT, &c,
						      err, sizeof(err)),
			 DANEMSG_ERR_KEY_MISMATCH);
	assert_non_null(strstr(err, a_crt));
	assert_int_equal(danemsg_credential_load(f->dir, "b.example", &c, NULL, 0),
			 DANEMSG_ERR_NOT_FOUND);
	assert_int_equal(danemsg_credential_load(f->dir, "nobody.example", &c, NULL, 0),
			 DANEMSG_ERR_NOT_FOUND);
}

/* Like ssh: a key file others may read is refused. */
static void test_load_refuses_shared_key(void **state)
{
	struct fixture *f = *state;
	char key[4096], err[512] = "";
	danemsg_credential *c;
	path_of(f, NAME, DANEMSG_SLOT_CURRENT, DANEMSG_FILE_KEY, key, sizeof(key));
	assert_int_equal(danemsg_credential_new(f->dir, NAME, DANEMSG_KEY_P256, 0, 0, NULL, 0),
			 DANEMSG_OK);
	assert_int_equal(chmod(key, 0644), 0);
	assert_int_equal(danemsg_credential_load(f->dir, NAME, &c, err, sizeof(err)),
			 DANEMSG_ERR_KEY_PERMISSIONS);
	assert_null(c);
	assert_non_null(strstr(err, key));      /* which file */
	assert_non_null(strstr(err, "mode 0644"));
	assert_non_null(strstr(err, "chmod 600"));
	assert_int_equal(chmod(key, 0640), 0);
	assert_int_equal(danemsg_credential_load_slot(f->dir, NAME, DANEMSG_SLOT_CURRENT, &c, NULL,
						      0), DANEMSG_ERR_KEY_PERMISSIONS);
	assert_int_equal(chmod(key, 0400), 0);
	assert_int_equal(danemsg_credential_load(f->dir, NAME, &c, NULL, 0), DANEMSG_OK);
	danemsg_credential_free(c);
}

static void test_names(void **state)
{
	struct fixture *f = *state;
	char label64[80], long_name[300], max_name[300], max_label[80];
	memset(label64, 'a', 64);
	label64[64] = '\0';
	memset(max_label, 'b', 63);
	memcpy(max_label + 63, ".example", sizeof(".example"));
	/* 254 octets: 127 labels "a." minus the final dot gives 253; one more 'a' gives 254. */
	for (int i = 0; i < 127; i++)
		memcpy(long_name + 2 * i, "a.", 2);
	memcpy(max_name, long_name, 253);
	max_name[253] = '\0';           /* 253 octets, ends with "a" */
	long_name[253] = 'a';
	long_name[254] = '\0';          /* 254 octets */
	const char *bad[] = {
		"", ".", "a/b", "..", "../x", "a..b", ".a", "a.b..", label64, long_name,
		"a b", "a*b", "a\\b", "caf\xc3\xa9.example", "a.b/",
	};
	char buf[DANEMSG_CREDENTIAL_NAME_MAX];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(danemsg_credential_name_normalize(bad[i], buf, sizeof(buf)),
				 DANEMSG_ERR_INVALID_ARG);
		assert_int_equal(danemsg_credential_new(f->dir, bad[i], DANEMSG_KEY_P256, 0, 0,
							NULL, 0), DANEMSG_ERR_INVALID_ARG);
	}
	assert_false(exists(f->dir));   /* nothing was created for a bad name */

	static const struct { const char *in, *out; } good[] = {
		{"Alice._Device.Example.NET.", "alice._device.example.net"},
		{"x", "x"},
		{"a-b_c.d9", "a-b_c.d9"},
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(danemsg_credential_name_normalize(good[i].in, buf, sizeof(buf)),
				 DANEMSG_OK);
		assert_string_equal(buf, good[i].out);
	}
	assert_int_equal(danemsg_credential_name_normalize(max_label, buf, sizeof(buf)),
			 DANEMSG_OK);
	assert_int_equal(danemsg_credential_name_normalize(max_name, buf, sizeof(buf)), DANEMSG_OK);
	assert_int_equal(strlen(buf), 253);
	assert_int_equal(danemsg_credential_name_normalize("abc", buf, 3),
			 DANEMSG_ERR_BUFFER_TOO_SMALL);
	assert_int_equal(danemsg_credential_name_normalize("abc", buf, 4), DANEMSG_OK);
}

/* Names as topic paths (for brokers that refuse '.' in topics) and back. */
static void test_name_paths(void **state)
{
	static const struct { const char *name, *path; } pairs[] = {
		{"bob._device.example.net", "net/example/_device/bob"},
		{"Alice.Example.NET.", "net/example/alice"},
		{"x", "x"},
		{"a-b_c.d9", "d9/a-b_c"},
	};
	static const char *const bad_paths[] = {
		"", "/", "net/", "/net", "net//bob", "net/ex.ample/bob", "net/+/bob", "net/#",
		"a b", "net/caf\xc3\xa9",
	};
	char buf[DANEMSG_CREDENTIAL_NAME_MAX], name[DANEMSG_CREDENTIAL_NAME_MAX], long_path[300];

	(void)state;
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		assert_int_equal(danemsg_credential_name_to_path(pairs[i].name, buf, sizeof(buf)),
				 DANEMSG_OK);
		assert_string_equal(buf, pairs[i].path);
		assert_int_equal(danemsg_credential_name_from_path(buf, name, sizeof(name)),
				 DANEMSG_OK);
		assert_int_equal(danemsg_credential_name_normalize(pairs[i].name, buf, sizeof(buf)),
				 DANEMSG_OK);
		assert_string_equal(name, buf);
	}
	for (size_t i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++)
		assert_int_equal(danemsg_credential_name_from_path(bad_paths[i], name,
								   sizeof(name)),
				 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_credential_name_to_path("a..b", buf, sizeof(buf)),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_credential_name_to_path("a.bc", buf, 4),
			 DANEMSG_ERR_BUFFER_TOO_SMALL);
	assert_int_equal(danemsg_credential_name_from_path("bc/a", name, 4),
			 DANEMSG_ERR_BUFFER_TOO_SMALL);
	for (int i = 0; i < 127; i++)   /* 253 octets: the longest name; one more is refused */
		memcpy(long_path + 2 * i, "a/", 2);
	long_path[253] = '\0';
	assert_int_equal(danemsg_credential_name_from_path(long_path, name, sizeof(name)),
			 DANEMSG_OK);
	long_path[253] = 'a';
	long_path[254] = '\0';
	assert_int_equal(danemsg_credential_name_from_path(long_path, name, sizeof(name)),
			 DANEMSG_ERR_INVALID_ARG);
}

/* TLSA data equals what OpenSSL's own digest functions compute. */
static void test_tlsa_rdata(void **state)
{
	struct fixture *f = *state;
	danemsg_credential *c;
	assert_int_equal(danemsg_credential_new(f->dir, NAME, DANEMSG_KEY_P256, 0, 0, NULL, 0),
			 DANEMSG_OK);
	assert_int_equal(danemsg_credential_load(f->dir, NAME, &c, NULL, 0), DANEMSG_OK);
	X509 *x = danemsg_credential_sign_cert(c);

	unsigned char *der = NULL;
	int der_len = i2d_X509(x, &der);
	assert_true(der_len > 0);
	/* SPKI from the key (i2d_PUBKEY), not from the certificate's field. */
	unsigned char *spki = NULL;
	int spki_len = i2d_PUBKEY(X509_get0_pubkey(x), &spki);
	assert_true(spki_len > 0);
	unsigned char spki256[32], spki512[64], cert256[32];
	unsigned int n;
	SHA256(spki, (size_t)spki_len, spki256);
	SHA512(spki, (size_t)spki_len, spki512);
	assert_true(X509_digest(x, EVP_sha256(), cert256, &n) && n == 32);
	const struct {
		uint8_t s, m;
		const unsigned char *want;
		size_t want_len;
	} cases[] = {
		{0, 0, der, (size_t)der_len},
		{1, 1, spki256, 32},
		{1, 2, spki512, 64},
		{0, 1, cert256, 32},
	};
	uint8_t buf[4096];
	size_t len;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(danemsg_tlsa_rdata(x, 3, cases[i].s, cases[i].m, buf, sizeof(buf),
						    &len), DANEMSG_OK);
		assert_int_equal(len, 3 + cases[i].want_len);
		assert_int_equal(buf[0], 3);
		assert_int_equal(buf[1], cases[i].s);
		assert_int_equal(buf[2], cases[i].m);
		assert_memory_equal(buf + 3, cases[i].want, cases[i].want_len);

		/* What the tlsa module parses back matches the certificate. */
		danemsg_tlsa rec;
		size_t matched = 99;
		danemsg_tlsa_init(&rec);
		assert_int_equal(danemsg_tlsa_parse(buf, len, &rec), DANEMSG_OK);
		assert_true(rec.usable);
		assert_int_equal(danemsg_tlsa_match_cert(&rec, 1, NAME, x, NULL, &matched),
				 DANEMSG_OK);
		assert_int_equal(matched, 0);
		danemsg_tlsa_clear(&rec);
	}

	/* A short buffer is an error that says how much is needed; NULL asks the size. */
	assert_int_equal(danemsg_tlsa_rdata(x, 3, 1, 1, buf, 34, &len),
			 DANEMSG_ERR_BUFFER_TOO_SMALL);
	assert_int_equal(len, 35);
	assert_int_equal(danemsg_tlsa_rdata(x, 3, 0, 0, NULL, 0, &len),
			 DANEMSG_ERR_BUFFER_TOO_SMALL);
	assert_int_equal(len, 3 + (size_t)der_len);
	assert_int_equal(danemsg_tlsa_rdata(x, 3, 0, 0, buf, (size_t)der_len + 2, &len),
			 DANEMSG_ERR_BUFFER_TOO_SMALL);

	/* Out-of-range parameters and NULLs. */
	assert_int_equal(danemsg_tlsa_rdata(x, 4, 0, 0, buf, sizeof(buf), &len),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_tlsa_rdata(x, 3, 2, 0, buf, sizeof(buf), &len),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_tlsa_rdata(x, 3, 0, 3, buf, sizeof(buf), &len),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_tlsa_rdata(NULL, 3, 0, 0, buf, sizeof(buf), &len),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_tlsa_rdata(x, 3, 0, 0, buf, sizeof(buf), NULL),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_tlsa_rdata(x, 3, 0, 0, NULL, 10, &len), DANEMSG_ERR_INVALID_ARG);
	OPENSSL_free(der);
	OPENSSL_free(spki);
	danemsg_credential_free(c);
}

static void test_tlsa_format_line(void **state)
{
	static const uint8_t rdata[] = {3, 1, 1, 0xab, 0x01, 0xff};
	static const char want[] = "alice.example. 300 IN TLSA 3 1 1 ab01ff";
	char buf[128];
	size_t len;
	assert_int_equal(danemsg_tlsa_format_line("Alice.Example.", 300, rdata, sizeof(rdata), buf,
						  sizeof(buf), &len), DANEMSG_OK);
	assert_string_equal(buf, want);
	assert_int_equal(len, strlen(want));
	assert_int_equal(danemsg_tlsa_format_line("alice.example", 300, rdata, sizeof(rdata), buf,
						  strlen(want), &len),
			 DANEMSG_ERR_BUFFER_TOO_SMALL);
	assert_int_equal(len, strlen(want) + 1);
	assert_int_equal(danemsg_tlsa_format_line("alice.example", 300, rdata, sizeof(rdata), buf,
						  strlen(want) + 1, NULL), DANEMSG_OK);
	assert_int_equal(danemsg_tlsa_format_line("a/b", 300, rdata, sizeof(rdata), buf,
						  sizeof(buf), &len), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_tlsa_format_line(NULL, 300, rdata, sizeof(rdata), buf,
						  sizeof(buf), &len), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_tlsa_format_line("a", 300, NULL, 4, buf, sizeof(buf), &len),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_tlsa_format_line("a", 300, rdata, 3, buf, sizeof(buf), &len),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_tlsa_format_line("a", 300, rdata, sizeof(rdata), NULL, 10, &len),
			 DANEMSG_ERR_INVALID_ARG);
}

static void test_csr(void **state)
{
	struct fixture *f = *state;
	X509_REQ *req;
	danemsg_credential *c;
	assert_int_equal(danemsg_credential_new(f->dir, NAME, DANEMSG_KEY_ED25519, 0, 0, NULL, 0),
			 DANEMSG_OK);
	assert_int_equal(danemsg_credential_csr(f->dir, NAME, DANEMSG_SLOT_CURRENT, &req, NULL, 0),
			 DANEMSG_OK);
	assert_int_equal(danemsg_credential_load(f->dir, NAME, &c, NULL, 0), DANEMSG_OK);
	assert_int_equal(X509_REQ_verify(req, danemsg_credential_sign_key(c)), 1);
	char cn[64];
	assert_true(X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(req), NID_commonName, cn,
					      sizeof(cn)) > 0);
	assert_string_equal(cn, NAME);
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
	int pos = X509v3_get_ext_by_NID(exts, NID_subject_alt_name, -1);
	assert_true(pos >= 0);
	GENERAL_NAMES *sans = X509V3_EXT_d2i(X509v3_get_ext(exts, pos));
	assert_int_equal(sk_GENERAL_NAME_num(sans), 1);
	assert_int_equal(sk_GENERAL_NAME_value(sans, 0)->type, GEN_DNS);
	GENERAL_NAMES_free(sans);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	danemsg_credential_free(c);
	assert_int_equal(danemsg_credential_csr(f->dir, "nobody.example", DANEMSG_SLOT_CURRENT,
						&req, NULL, 0), DANEMSG_ERR_NOT_FOUND);
	assert_null(req);
}

/* A small CA for import tests: a key and a self-signed CA certificate. */
static X509 *ca_cert(EVP_PKEY *key, const char *cn)
{
	X509 *x = X509_new();
	X509V3_CTX ctx;
	assert_non_null(x);
	X509_NAME *n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, n);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints,
						  "critical,CA:TRUE");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	return x;
}

/* A certificate for pub with SAN dNSName san, issued by the CA, valid from..to (seconds). */
static X509 *issue(EVP_PKEY *pub, const char *san, X509 *ca, EVP_PKEY *ca_key, long from,
		   long to)
{
	char value[128];
	X509V3_CTX ctx;
	X509 *x = X509_new();
	assert_non_null(x);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)san, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(ca));
	ASN1_INTEGER_set(X509_get_serialNumber(x), 2);
	X509_gmtime_adj(X509_getm_notBefore(x), from);
	X509_gmtime_adj(X509_getm_notAfter(x), to);
	X509_set_pubkey(x, pub);
	X509V3_set_ctx(&ctx, ca, x, NULL, NULL, 0);
	snprintf(value, sizeof(value), "DNS:%s", san);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, value);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(x, ca_key, EVP_sha256()) > 0);
	return x;
}

static void test_import(void **state)
{
	struct fixture *f = *state;
	char cert_file[128], chain_file[128], crt[4096], bak[4200], err[512] = "";
	danemsg_credential *c;
	snprintf(cert_file, sizeof(cert_file), "%s/issued.pem", f->base);
	snprintf(chain_file, sizeof(chain_file), "%s/chain.pem", f->base);
	path_of(f, NAME, DANEMSG_SLOT_CURRENT, DANEMSG_FILE_CERT, crt, sizeof(crt));
	snprintf(bak, sizeof(bak), "%s.bak", crt);
	assert_int_equal(danemsg_credential_new(f->dir, NAME, DANEMSG_KEY_P256, 0, 0, NULL, 0),
			 DANEMSG_OK);
	assert_int_equal(danemsg_credential_load(f->dir, NAME, &c, NULL, 0), DANEMSG_OK);
	EVP_PKEY *key = danemsg_credential_sign_key(c);
	EVP_PKEY *ca_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *other_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *ca = ca_cert(ca_key, "Test CA"), *other_ca = ca_cert(other_key, "Other CA");

	struct {
		X509 *cert;
		X509 *chain;
		unsigned flags;
		danemsg_err want;
	} cases[] = {
		{issue(other_key, NAME, ca, ca_key, -60, 3600), ca, 0, DANEMSG_ERR_KEY_MISMATCH},
		{issue(key, "bob.example", ca, ca_key, -60, 3600), ca, 0, DANEMSG_ERR_NO_MATCH},
		{issue(key, NAME, ca, ca_key, -60, 3600), other_ca, 0, DANEMSG_ERR_BAD_SIGNATURE},
		{issue(key, NAME, ca, ca_key, -7200, -3600), ca, 0, DANEMSG_ERR_EXPIRED},
		{issue(key, NAME, ca, ca_key, -7200, -3600), ca, DANEMSG_CREDENTIAL_FORCE,
		 DANEMSG_OK},
		{issue(key, NAME, ca, ca_key, -60, 3600), ca, 0, DANEMSG_OK},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_pem_certs(cert_file, cases[i].cert, NULL);
		write_pem_certs(chain_file, cases[i].chain, NULL);
		assert_int_equal(danemsg_credential_import(f->dir, NAME, cert_file, chain_file,
							   cases[i].flags, err, sizeof(err)),
				 cases[i].want);
		if (cases[i].want == DANEMSG_OK)
			assert_true(exists(bak));
	}
	/* The last one is installed, with its chain; it loads. */
	danemsg_credential *imported;
	assert_int_equal(danemsg_credential_load(f->dir, NAME, &imported, NULL, 0), DANEMSG_OK);
	assert_int_equal(X509_cmp(danemsg_credential_sign_cert(imported), cases[5].cert), 0);
	assert_int_equal(sk_X509_num(danemsg_credential_chain(imported)), 1);
	assert_int_equal(X509_cmp(sk_X509_value(danemsg_credential_chain(imported), 0), ca), 0);
	danemsg_credential_free(imported);

	/* Certificate and chain in one file, no chain file. */
	write_pem_certs(cert_file, cases[5].cert, ca);
	assert_int_equal(danemsg_credential_import(f->dir, NAME, cert_file, NULL, 0, NULL, 0),
			 DANEMSG_OK);
	assert_int_equal(danemsg_credential_import(f->dir, NAME, "/nonexistent.pem", NULL, 0, NULL,
						   0), DANEMSG_ERR_NOT_FOUND);
	assert_int_equal(danemsg_credential_import(f->dir, NAME, NULL, NULL, 0, NULL, 0),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_credential_import(f->dir, "a/b", cert_file, NULL, 0, NULL, 0),
			 DANEMSG_ERR_INVALID_ARG);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		X509_free(cases[i].cert);
	X509_free(ca);
	X509_free(other_ca);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(other_key);
	danemsg_credential_free(c);
}

/* Current + next are published; rollover promotes next and keeps the old files. */
static void test_published_and_rollover(void **state)
{
	struct fixture *f = *state;
	STACK_OF(X509) *certs;
	char next_key[4096], old_key[4096], key[4096];
	path_of(f, NAME, DANEMSG_SLOT_NEXT, DANEMSG_FILE_KEY, next_key, sizeof(next_key));
	path_of(f, NAME, DANEMSG_SLOT_OLD, DANEMSG_FILE_KEY, old_key, sizeof(old_key));
	path_of(f, NAME, DANEMSG_SLOT_CURRENT, DANEMSG_FILE_KEY, key, sizeof(key));

	assert_int_equal(danemsg_credential_new(f->dir, NAME, DANEMSG_KEY_P256, 0,
						DANEMSG_CREDENTIAL_NEXT, NULL, 0),
			 DANEMSG_ERR_NOT_FOUND);
	assert_int_equal(danemsg_credential_new(f->dir, NAME, DANEMSG_KEY_P256, 0, 0, NULL, 0),
			 DANEMSG_OK);
	assert_int_equal(danemsg_credential_rollover(f->dir, NAME, NULL, 0), DANEMSG_ERR_NOT_FOUND);
	assert_int_equal(danemsg_credential_published(f->dir, NAME, &certs, NULL, 0), DANEMSG_OK);
	assert_int_equal(sk_X509_num(certs), 1);
	sk_X509_pop_free(certs, X509_free);

	assert_int_equal(danemsg_credential_new(f->dir, NAME, DANEMSG_KEY_ED25519, 0,
						DANEMSG_CREDENTIAL_NEXT, NULL, 0), DANEMSG_OK);
	assert_int_equal(mode_of(next_key), 0600);
	assert_int_equal(danemsg_credential_new(f->dir, NAME, DANEMSG_KEY_ED25519, 0,
						DANEMSG_CREDENTIAL_NEXT, NULL, 0),
			 DANEMSG_ERR_EXISTS);
	assert_int_equal(danemsg_credential_published(f->dir, NAME, &certs, NULL, 0), DANEMSG_OK);
	assert_int_equal(sk_X509_num(certs), 3);        /* current, next Ed25519, next X25519 */
	char next_crt[4096];
	path_of(f, NAME, DANEMSG_SLOT_NEXT, DANEMSG_FILE_CERT, next_crt, sizeof(next_crt));
	X509 *next_cert = read_cert(next_crt);
	assert_int_equal(X509_cmp(sk_X509_value(certs, 1), next_cert), 0);
	X509_free(next_cert);
	sk_X509_pop_free(certs, X509_free);

	danemsg_credential *next, *cur;
	assert_int_equal(danemsg_credential_load_slot(f->dir, NAME, DANEMSG_SLOT_NEXT, &next, NULL,
						      0), DANEMSG_OK);
	assert_int_equal(danemsg_credential_rollover(f->dir, NAME, NULL, 0), DANEMSG_OK);
	assert_false(exists(next_key));
	assert_true(exists(old_key));
	assert_int_equal(mode_of(key), 0600);
	assert_int_equal(danemsg_credential_load(f->dir, NAME, &cur, NULL, 0), DANEMSG_OK);
	assert_int_equal(EVP_PKEY_eq(danemsg_credential_sign_key(cur),
				     danemsg_credential_sign_key(next)), 1);
	assert_int_equal(X509_cmp(danemsg_credential_enc_cert(cur),
				  danemsg_credential_enc_cert(next)), 0);
	danemsg_credential_free(cur);
	danemsg_credential_free(next);
	assert_int_equal(danemsg_credential_published(f->dir, NAME, &certs, NULL, 0), DANEMSG_OK);
	assert_int_equal(sk_X509_num(certs), 2);        /* Ed25519 + X25519 */
	sk_X509_pop_free(certs, X509_free);
	assert_int_equal(danemsg_credential_rollover(f->dir, NAME, NULL, 0), DANEMSG_ERR_NOT_FOUND);
	assert_int_equal(danemsg_credential_load_slot(f->dir, NAME, DANEMSG_SLOT_OLD, &cur, NULL,
						      0), DANEMSG_OK);
	danemsg_credential_free(cur);
}

/*
 * The retired key is deleted only by danemsg_credential_delete_old: a second rollover
 * refuses while it is there, and during an unfinished rollover (NAME.rollover) the old set
 * is what loads as current, new and import refuse, delete_old refuses.
 */
static void test_rollover_keeps_old_keys(void **state)
{
	struct fixture *f = *state;
	char old_key[4096], next_key[4096], marker[4096];
	danemsg_credential *first, *c;
	path_of(f, NAME, DANEMSG_SLOT_OLD, DANEMSG_FILE_KEY, old_key, sizeof(old_key));
	path_of(f, NAME, DANEMSG_SLOT_NEXT, DANEMSG_FILE_KEY, next_key, sizeof(next_key));
	snprintf(marker, sizeof(marker), "%s/%s.rollover", f->dir, NAME);

	assert_int_equal(danemsg_credential_new(f->dir, NAME, DANEMSG_KEY_P256, 0, 0, NULL, 0),
			 DANEMSG_OK);
	assert_int_equal(danemsg_credential_load(f->dir, NAME, &first, NULL, 0), DANEMSG_OK);
	assert_int_equal(danemsg_credential_new(f->dir, NAME, DANEMSG_KEY_P256, 0,
						DANEMSG_CREDENTIAL_NEXT, NULL, 0), DANEMSG_OK);
	assert_int_equal(danemsg_credential_rollover(f->dir, NAME, NULL, 0), DANEMSG_OK);
	assert_int_equal(danemsg_credential_new(f->dir, NAME, DANEMSG_KEY_P256, 0,
						DANEMSG_CREDENTIAL_NEXT, NULL, 0), DANEMSG_OK);
	char err[512] = "";
	assert_int_equal(danemsg_credential_rollover(f->dir, NAME, err, sizeof(err)),
			 DANEMSG_ERR_EXISTS);
	assert_non_null(strstr(err, "--delete-old"));
	assert_true(exists(next_key));
	assert_int_equal(danemsg_credential_load_slot(f->dir, NAME, DANEMSG_SLOT_OLD, &c, NULL, 0),
			 DANEMSG_OK);
	assert_int_equal(EVP_PKEY_eq(danemsg_credential_sign_key(c),
				     danemsg_credential_sign_key(first)), 1);
	danemsg_credential_free(c);

	/* An unfinished rollover: the old set is current until it is run again. */
	FILE *m = fopen(marker, "w");
	assert_non_null(m);
	fclose(m);
	assert_int_equal(danemsg_credential_load(f->dir, NAME, &c, NULL, 0), DANEMSG_OK);
	assert_int_equal(EVP_PKEY_eq(danemsg_credential_sign_key(c),
				     danemsg_credential_sign_key(first)), 1);
	danemsg_credential_free(c);
	assert_int_equal(danemsg_credential_load_slot(f->dir, NAME, DANEMSG_SLOT_OLD, &c, NULL, 0),
			 DANEMSG_ERR_NOT_FOUND);
	assert_int_equal(danemsg_credential_new(f->dir, NAME, DANEMSG_KEY_P256, 0,
						DANEMSG_CREDENTIAL_FORCE, NULL, 0),
			 DANEMSG_ERR_EXISTS);
	assert_int_equal(danemsg_credential_delete_old(f->dir, NAME, NULL, 0), DANEMSG_ERR_EXISTS);
	assert_true(exists(old_key));
	assert_int_equal(unlink(marker), 0);

	assert_int_equal(danemsg_credential_delete_old(f->dir, NAME, NULL, 0), DANEMSG_OK);
	assert_false(exists(old_key));
	assert_int_equal(danemsg_credential_delete_old(f->dir, NAME, NULL, 0), DANEMSG_OK);
	assert_int_equal(danemsg_credential_rollover(f->dir, NAME, NULL, 0), DANEMSG_OK);
	assert_true(exists(old_key));
	assert_false(exists(next_key));
	assert_false(exists(marker));
	assert_int_equal(danemsg_credential_delete_old(NULL, NAME, NULL, 0),
			 DANEMSG_ERR_INVALID_ARG);
	danemsg_credential_free(first);
}

/* Builds a valid name of exactly len octets ending in "._device.example.net". */
static void name_of_length(size_t len, char *buf)
{
	static const char tail[] = "._device.example.net";
	size_t body = len - (sizeof(tail) - 1), label = 0;
	for (size_t i = 0; i < body; i++) {
		/* A dot every 63 octets, never first or last. */
		int dot = label == 63 && i + 1 < body;
		buf[i] = dot ? '.' : (char)('a' + i % 26);
		label = dot ? 0 : label + 1;
	}
	memcpy(buf + body, tail, sizeof(tail));
}

/*
 * Names of any valid length: CN = name up to 64 octets (what the reference reads), else
 * a subject of domainComponents; SAN dNSName = name always; names over 225 octets keep
 * their files in DIR/NAME/ (a file name has at most 255 octets).
 */
static void test_names_of_any_length(void **state)
{
	static const struct {
		size_t len;
		int has_cn, own_folder;
	} cases[] = {
		{64, 1, 0}, {65, 0, 0}, {72, 0, 0}, {225, 0, 0}, {226, 0, 1}, {253, 0, 1},
	};
	struct fixture *f = *state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char name[300], cn[300], path[4096], folder[4096];
		name_of_length(cases[i].len, name);
		assert_int_equal(strlen(name), cases[i].len);
		assert_int_equal(danemsg_credential_new(f->dir, name, DANEMSG_KEY_ED25519, 0, 0,
							NULL, 0), DANEMSG_OK);
		danemsg_credential *c;
		assert_int_equal(danemsg_credential_load(f->dir, name, &c, NULL, 0), DANEMSG_OK);
		X509 *x = danemsg_credential_sign_cert(c), *enc = danemsg_credential_enc_cert(c);
		int cn_len = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn,
						       sizeof(cn));
		if (cases[i].has_cn)
			assert_string_equal(cn, name);
		else
			assert_int_equal(cn_len, -1);
		assert_true(X509_NAME_entry_count(X509_get_subject_name(x)) > 0);
		assert_int_equal(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)),
				 0);
		assert_int_equal(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(enc)),
				 0);
		assert_int_equal(X509_check_host(x, name, 0, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT,
						 NULL), 1);
		assert_int_equal(X509_check_host(enc, name, 0, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT,
						 NULL), 1);
		danemsg_credential_free(c);

		path_of(f, name, DANEMSG_SLOT_CURRENT, DANEMSG_FILE_KEY, path, sizeof(path));
		snprintf(folder, sizeof(folder), "%s/%s/key.pem", f->dir, name);
		assert_int_equal(strcmp(path, folder) == 0, cases[i].own_folder);
		assert_true(exists(path));
		assert_int_equal(danemsg_credential_new(f->dir, name, DANEMSG_KEY_P256, 0,
							DANEMSG_CREDENTIAL_NEXT, NULL, 0),
				 DANEMSG_OK);
		assert_int_equal(danemsg_credential_rollover(f->dir, name, NULL, 0), DANEMSG_OK);
		X509_REQ *req;
		assert_int_equal(danemsg_credential_csr(f->dir, name, DANEMSG_SLOT_OLD, &req, NULL,
							0), DANEMSG_OK);
		X509_REQ_free(req);
	}
}

static void test_null_arguments(void **state)
{
	struct fixture *f = *state;
	danemsg_credential *c = (danemsg_credential *)1;
	STACK_OF(X509) *certs;
	X509_REQ *req;
	char buf[256];
	assert_int_equal(danemsg_credential_new(NULL, NAME, DANEMSG_KEY_P256, 0, 0, NULL, 0),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_credential_new("", NAME, DANEMSG_KEY_P256, 0, 0, NULL, 0),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_credential_new(f->dir, NULL, DANEMSG_KEY_P256, 0, 0, NULL, 0),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_credential_new(f->dir, NAME, (danemsg_keytype)42, 0, 0, NULL, 0),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_credential_new(f->dir, NAME, DANEMSG_KEY_P256,
						DANEMSG_CREDENTIAL_MAX_DAYS + 1, 0, NULL, 0),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_credential_new(f->dir, NAME, DANEMSG_KEY_P256, 0, 0x80, NULL, 0),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_credential_load(NULL, NAME, &c, NULL, 0), DANEMSG_ERR_INVALID_ARG);
	assert_null(c);
	assert_int_equal(danemsg_credential_load(f->dir, NULL, &c, NULL, 0),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_credential_load(f->dir, NAME, NULL, NULL, 0),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_credential_load_slot(f->dir, NAME, (danemsg_credential_slot)7, &c,
						      NULL, 0), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_credential_published(NULL, NAME, &certs, NULL, 0),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_credential_published(f->dir, NAME, NULL, NULL, 0),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_credential_csr(f->dir, NAME, DANEMSG_SLOT_CURRENT, NULL, NULL, 0),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_credential_csr(NULL, NAME, DANEMSG_SLOT_CURRENT, &req, NULL, 0),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_credential_import(NULL, NAME, "x", NULL, 0, NULL, 0),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_credential_rollover(NULL, NAME, NULL, 0), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_credential_rollover(f->dir, "..", NULL, 0),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_credential_path(NULL, NAME, DANEMSG_SLOT_CURRENT,
						 DANEMSG_FILE_KEY, buf, sizeof(buf)),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_credential_path(f->dir, NAME, DANEMSG_SLOT_CURRENT,
						 DANEMSG_FILE_KEY, NULL, 0),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_credential_path(f->dir, NAME, DANEMSG_SLOT_CURRENT,
						 (danemsg_credential_file)9, buf, sizeof(buf)),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_credential_path("/d", "A.b.", DANEMSG_SLOT_NEXT,
						 DANEMSG_FILE_ENC_CERT, buf, sizeof(buf)),
			 DANEMSG_OK);
	assert_string_equal(buf, "/d/a.b.next.x25519.crt.pem");
	assert_int_equal(danemsg_credential_path("/d", "a.b", DANEMSG_SLOT_OLD, DANEMSG_FILE_KEY,
						 buf, 8), DANEMSG_ERR_BUFFER_TOO_SMALL);
	danemsg_credential_free(NULL);
	assert_null(danemsg_credential_name(NULL));
	assert_null(danemsg_credential_sign_key(NULL));
	assert_null(danemsg_credential_sign_cert(NULL));
	assert_null(danemsg_credential_chain(NULL));
	assert_null(danemsg_credential_enc_key(NULL));
	assert_null(danemsg_credential_enc_cert(NULL));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keytype_names),
		T(test_every_keytype_creates_identity),
		T(test_certificate_fields),
		T(test_ed25519_has_x25519_certificate),
		T(test_existing_key_kept_unless_forced),
		T(test_force_removes_stale_files),
		T(test_load_key_mismatch),
		T(test_load_refuses_shared_key),
		T(test_names),
		cmocka_unit_test(test_name_paths),
		T(test_tlsa_rdata),
		cmocka_unit_test(test_tlsa_format_line),
		T(test_csr),
		T(test_import),
		T(test_published_and_rollover),
		T(test_rollover_keeps_old_keys),
		T(test_names_of_any_length),
		T(test_null_arguments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Publishing TLSA records by DNS UPDATE + TSIG: parsers offline, updates against the lab's knot. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <ldns/ldns.h>
#include <openssl/rand.h>

#include <danemsg.h>

#define SECRET "zy/e3jMSwM983dKLUxm6k7Gw1XJfX8zbfq1OSlI904w="

/* TSIG specs. */

/* A TSIG key spec or key file, and what reading it gives. */
struct key_case {
	const char *text;
	danemsg_err want;
	const char *name;       /* expected key name, or a word the error message contains */
	const char *algorithm;
};

/* The outcome of reading case i (what: "spec", "file"): the key it names, or a refusal
 * that says why without echoing the secret. Frees key. */
static void check_key_case(const char *what, size_t i, const struct key_case *c,
			   danemsg_err got, danemsg_tsig_key *key, const char *err)
{
	if (got != c->want)
		fail_msg("%s #%zu '%s': got %s, want %s (%s)", what, i, c->text,
			 danemsg_err_name(got), danemsg_err_name(c->want), err);
	if (got == DANEMSG_OK) {
		assert_non_null(key);
		assert_string_equal(danemsg_tsig_key_name(key), c->name);
		assert_string_equal(danemsg_tsig_key_algorithm(key), c->algorithm);
		danemsg_tsig_key_free(key);
	} else {
		assert_null(key);
		if (!strstr(err, c->name))
			fail_msg("%s #%zu '%s': message '%s' lacks '%s'", what, i, c->text, err,
				 c->name);
		assert_null(strstr(err, SECRET));
	}
}

static const struct key_case spec_cases[] = {
	{"hmac-sha256:danemsg-lab:" SECRET, DANEMSG_OK, "danemsg-lab.", "hmac-sha256"},
	{"danemsg-lab:" SECRET, DANEMSG_OK, "danemsg-lab.", "hmac-sha256"},
	{"HMAC-SHA512:Key.Example.:" SECRET, DANEMSG_OK, "key.example.", "hmac-sha512"},
	{"hmac-sha256.:k:" SECRET, DANEMSG_OK, "k.", "hmac-sha256"},
	{"hmac-sha1:k:" SECRET, DANEMSG_OK, "k.", "hmac-sha1"},
	{"hmac-sha224:k:" SECRET, DANEMSG_ERR_UNSUPPORTED, "is not supported", NULL},
	{"hmac-sha384:k:" SECRET, DANEMSG_ERR_UNSUPPORTED, "is not supported", NULL},
	{"hmac-md5.sig-alg.reg.int:k:" SECRET, DANEMSG_OK, "k.", "hmac-md5"},
	{"  hmac-sha256:k:" SECRET "\n", DANEMSG_OK, "k.", "hmac-sha256"},
	{"k:AA==", DANEMSG_OK, "k.", "hmac-sha256"},
	/* each bad part */
	{"", DANEMSG_ERR_MALFORMED, "no ':'", NULL},
	{"danemsg-lab", DANEMSG_ERR_MALFORMED, "no ':'", NULL},
	{"a:b:c:" SECRET, DANEMSG_ERR_MALFORMED, "3 ':'", NULL},
	{"hmac-sha999:k:" SECRET, DANEMSG_ERR_UNSUPPORTED, "is not supported", NULL},
	{"rsa:k:" SECRET, DANEMSG_ERR_UNSUPPORTED, "is not supported", NULL},
	{":k:" SECRET, DANEMSG_ERR_MALFORMED, "empty algorithm", NULL},
	{"hmac-sha256::" SECRET, DANEMSG_ERR_MALFORMED, "empty key name", NULL},
	{":" SECRET, DANEMSG_ERR_MALFORMED, "empty key name", NULL},
	{"hmac-sha256:k:", DANEMSG_ERR_MALFORMED, "empty secret", NULL},
	{"k:", DANEMSG_ERR_MALFORMED, "empty secret", NULL},
	{"hmac-sha256:k:abc", DANEMSG_ERR_MALFORMED, "base64", NULL},
	{"hmac-sha256:k:ab*d", DANEMSG_ERR_MALFORMED, "base64", NULL},
	{"hmac-sha256:k:a=bc", DANEMSG_ERR_MALFORMED, "base64", NULL},
	{"hmac-sha256:k:====", DANEMSG_ERR_MALFORMED, "base64", NULL},
	{"hmac-sha256:k:QR==", DANEMSG_ERR_MALFORMED, "base64", NULL},  /* trailing bits */
	{"hmac-sha256:k:ab cd", DANEMSG_ERR_MALFORMED, "base64", NULL},
	{"hmac-sha256:a..b:" SECRET, DANEMSG_ERR_MALFORMED, "not a DNS name", NULL},
	{"hmac-sha256:a b:" SECRET, DANEMSG_ERR_MALFORMED, "not a DNS name", NULL},
	{"hmac-sha256:.:" SECRET, DANEMSG_ERR_MALFORMED, "not a DNS name", NULL},
	{"hmac-sha256:"
	 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:" SECRET,
	 DANEMSG_ERR_MALFORMED, "not a DNS name", NULL},
};

static void test_tsig_spec_table(void **state)
{
	for (size_t i = 0; i < sizeof(spec_cases) / sizeof(spec_cases[0]); i++) {
		const struct key_case *c = &spec_cases[i];
		danemsg_tsig_key *key = (danemsg_tsig_key *)1;
		char err[512] = "";
		danemsg_err got = danemsg_tsig_key_parse(c->text, &key, err, sizeof(err));
		check_key_case("spec", i, c, got, key, err);
	}
}

static void test_tsig_secret_too_long(void **state)
{
	char spec[2100] = "k:";
	danemsg_tsig_key *key = NULL;
	memset(spec + 2, 'A', 2048);
	spec[2050] = '\0';
	assert_int_equal(danemsg_tsig_key_parse(spec, &key, NULL, 0), DANEMSG_ERR_MALFORMED);
	assert_null(key);
}

/* Key files. */

static char tmpdir[] = "/tmp/test_publish.XXXXXX";

static const char *write_file(const char *name, const char *text)
{
	static char path[256];
	FILE *f;
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static const struct key_case file_cases[] = {
	{"key \"danemsg-lab\" {\n\talgorithm hmac-sha256;\n\tsecret \"" SECRET "\";\n};\n",
	 DANEMSG_OK, "danemsg-lab.", "hmac-sha256"},
	{"# made by tsig-keygen\nkey upd.example. { algorithm hmac-sha512; secret \"" SECRET
	 "\"; };", DANEMSG_OK, "upd.example.", "hmac-sha512"},
	{"/* c */ key \"k\" { // x\n secret \"" SECRET "\"; algorithm \"hmac-sha1\"; };",
	 DANEMSG_OK, "k.", "hmac-sha1"},
	{"# hmac-sha256:danemsg-lab:" SECRET "\nkey:\n  - id: danemsg-lab\n"
	 "    algorithm: hmac-sha512\n    secret: " SECRET "\n",
	 DANEMSG_OK, "danemsg-lab.", "hmac-sha512"},
	{"key:\n  - id: \"a\"\n    secret: \"" SECRET "\"\n  - id: b\n    algorithm: hmac-md5\n",
	 DANEMSG_OK, "a.", "hmac-sha256"},
	{"hmac-sha1:lab-key:" SECRET "\n", DANEMSG_OK, "lab-key.", "hmac-sha1"},
	{"\n# comment\n\nlab-key:" SECRET, DANEMSG_OK, "lab-key.", "hmac-sha256"},
	{"", DANEMSG_ERR_MALFORMED, "no key", NULL},
	{"# only a comment\n", DANEMSG_ERR_MALFORMED, "no key", NULL},
	{"key \"k\" { algorithm hmac-sha256; };", DANEMSG_ERR_MALFORMED, "no secret", NULL},
	{"key \"k\" { secret \"" SECRET "\"; };", DANEMSG_ERR_MALFORMED, "no algorithm", NULL},
	{"key \"k\" { algorithm hmac-sha256; secret \"" SECRET "\";", DANEMSG_ERR_MALFORMED,
	 "unterminated", NULL},
	{"key \"k\" { algorithm hmac-sha256 secret \"" SECRET "\"; };", DANEMSG_ERR_MALFORMED,
	 "expected", NULL},
	{"key \"k { algorithm hmac-sha256; secret \"" SECRET "\"; };", DANEMSG_ERR_MALFORMED,
	 "expected", NULL},
	{"key \"k\" { algorithm hmac-foo; secret \"" SECRET "\"; };", DANEMSG_ERR_UNSUPPORTED,
	 "is not supported", NULL},
	{"key:\n  - id: k\n    algorithm: hmac-sha256\n", DANEMSG_ERR_MALFORMED, "no 'secret:'",
	 NULL},
	{"key:\n  algorithm: hmac-sha256\n", DANEMSG_ERR_MALFORMED, "id:", NULL},
	{"key:\n  - id: k\n    secret: not!base64\n", DANEMSG_ERR_MALFORMED, "base64", NULL},
};

static void test_key_file_table(void **state)
{
	for (size_t i = 0; i < sizeof(file_cases) / sizeof(file_cases[0]); i++) {
		const struct key_case *c = &file_cases[i];
		danemsg_tsig_key *key = NULL;
		char err[512] = "";
		const char *path = write_file("key", c->text);
		danemsg_err got = danemsg_tsig_key_load(path, &key, err, sizeof(err));
		check_key_case("file", i, c, got, key, err);
	}
}

static void test_key_file_errors(void **state)
{
	danemsg_tsig_key *key = NULL;
	char path[256], err[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/missing", tmpdir);
	assert_int_equal(danemsg_tsig_key_load(path, &key, err, sizeof(err)),
			 DANEMSG_ERR_NOT_FOUND);
	assert_non_null(strstr(err, "missing"));
	assert_int_equal(danemsg_tsig_key_load(tmpdir, &key, err, sizeof(err)), DANEMSG_ERR_IO);
	snprintf(path, sizeof(path), "%s/big", tmpdir);
	f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; i < 70000; i++)
		fputc('#', f);
	fclose(f);
	assert_int_equal(danemsg_tsig_key_load(path, &key, err, sizeof(err)), DANEMSG_ERR_IO);
	assert_null(key);
}

/* Server addresses. */

struct server_case {
	const char *spec;
	danemsg_err want;
	const char *formatted;
};

static const struct server_case server_cases[] = {
	{"127.0.0.1", DANEMSG_OK, "127.0.0.1@53"},
	{"127.0.0.1@5353", DANEMSG_OK, "127.0.0.1@5353"},
	{"192.0.2.1@65535", DANEMSG_OK, "192.0.2.1@65535"},
	{"::1", DANEMSG_OK, "::1@53"},
	{"::1@853", DANEMSG_OK, "::1@853"},
	{"[::1]@5300", DANEMSG_OK, "::1@5300"},
	{"[2001:db8::1]", DANEMSG_OK, "2001:db8::1@53"},
	{"", DANEMSG_ERR_MALFORMED, NULL},
	{"@53", DANEMSG_ERR_MALFORMED, NULL},
	{"localhost", DANEMSG_ERR_MALFORMED, NULL},
	{"ns1.example.net@53", DANEMSG_ERR_MALFORMED, NULL},
	{"127.0.0.1@", DANEMSG_ERR_MALFORMED, NULL},
	{"127.0.0.1@0", DANEMSG_ERR_MALFORMED, NULL},
	{"127.0.0.1@65536", DANEMSG_ERR_MALFORMED, NULL},
	{"127.0.0.1@000053", DANEMSG_ERR_MALFORMED, NULL},
	{"127.0.0.1@53x", DANEMSG_ERR_MALFORMED, NULL},
	{"127.0.0.1@-1", DANEMSG_ERR_MALFORMED, NULL},
	{"127.0.0.1@+53", DANEMSG_ERR_MALFORMED, NULL},
	{"127.0.0.1:53", DANEMSG_ERR_MALFORMED, NULL},
	{"1.2.3.4.5", DANEMSG_ERR_MALFORMED, NULL},
	{"[::1", DANEMSG_ERR_MALFORMED, NULL},
	{"127.0.0.1@53@53", DANEMSG_ERR_MALFORMED, NULL},
};

static void test_server_table(void **state)
{
	for (size_t i = 0; i < sizeof(server_cases) / sizeof(server_cases[0]); i++) {
		const struct server_case *c = &server_cases[i];
		danemsg_dns_server s;
		char buf[64];
		danemsg_err got = danemsg_dns_server_parse(c->spec, &s);
		if (got != c->want)
			fail_msg("server #%zu '%s': got %s", i, c->spec, danemsg_err_name(got));
		if (got == DANEMSG_OK) {
			assert_int_equal(danemsg_dns_server_format(&s, buf, sizeof(buf)),
					 DANEMSG_OK);
			assert_string_equal(buf, c->formatted);
		}
	}
}

static void test_server_format_short_buffer(void **state)
{
	danemsg_dns_server s;
	char buf[8];
	assert_int_equal(danemsg_dns_server_parse("127.0.0.1@5353", &s), DANEMSG_OK);
	assert_int_equal(danemsg_dns_server_format(&s, buf, sizeof(buf)),
			 DANEMSG_ERR_BUFFER_TOO_SMALL);
}

/* NULL and bad arguments, one at a time. */

/* TLSA records in presentation form ("3 1 1 HEX"), as --record takes them. */
static void test_record_text_table(void **state)
{
	static const struct {
		const char *text;
		danemsg_err want;
		const char *rdata_hex;  /* the RDATA when parsed */
	} cases[] = {
		{"3 1 1 abCD", DANEMSG_OK, "030101abcd"},
		{"  3\t0 0 0a 0b  0c ", DANEMSG_OK, "0300000a0b0c"},
		{"255 255 255 00", DANEMSG_OK, "ffffff00"},
		{"0 0 0 0", DANEMSG_ERR_MALFORMED, NULL},        /* odd number of digits */
		{"3 1 1", DANEMSG_ERR_MALFORMED, NULL},          /* no data */
		{"3 1 1 ", DANEMSG_ERR_MALFORMED, NULL},
		{"256 1 1 ab", DANEMSG_ERR_MALFORMED, NULL},
		{"3 1 -1 ab", DANEMSG_ERR_MALFORMED, NULL},
		{"3 1 1 xyz0", DANEMSG_ERR_MALFORMED, NULL},
		{"3 1 1ab", DANEMSG_ERR_MALFORMED, NULL},
		{"3 1 1 0x12", DANEMSG_ERR_MALFORMED, NULL},
		{"", DANEMSG_ERR_MALFORMED, NULL},
		{"99999999999999999999 1 1 ab", DANEMSG_ERR_MALFORMED, NULL},
	};
	uint8_t buf[16];
	char hex[40];
	size_t len;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		danemsg_err err = danemsg_tlsa_rdata_from_text(cases[i].text, buf, sizeof(buf),
							       &len);
		if (err != cases[i].want)
			fail_msg("'%s': %s", cases[i].text, danemsg_strerror(err));
		if (!cases[i].rdata_hex)
			continue;
		danemsg_hex_encode(buf, len, hex, sizeof(hex));
		assert_string_equal(hex, cases[i].rdata_hex);
	}
	assert_int_equal(danemsg_tlsa_rdata_from_text("3 1 1 abcd", buf, 4, &len),
			 DANEMSG_ERR_BUFFER_TOO_SMALL);
	assert_int_equal(len, 5);
	assert_int_equal(danemsg_tlsa_rdata_from_text(NULL, buf, 6, &len), DANEMSG_ERR_INVALID_ARG);
	/* 65533 octets of data: one more than a record holds. */
	size_t big = 6 + 2 * 65533 + 1;
	char *text = malloc(big);
	assert_non_null(text);
	memcpy(text, "3 0 0 ", 6);
	memset(text + 6, 'a', big - 7);
	text[big - 1] = '\0';
	assert_int_equal(danemsg_tlsa_rdata_from_text(text, NULL, 0, &len), DANEMSG_ERR_TOO_LARGE);
	text[big - 3] = '\0';  /* 65532 octets: fits */
	assert_int_equal(danemsg_tlsa_rdata_from_text(text, NULL, 0, &len),
			 DANEMSG_ERR_BUFFER_TOO_SMALL);
	assert_int_equal(len, 3 + 65532);
	free(text);
}

static void test_null_arguments(void **state)
{
	danemsg_tsig_key *key = NULL;
	danemsg_dns_server s;
	danemsg_publish_options opt;
	uint8_t data[32] = {1};
	danemsg_tlsa rec = {.struct_size = sizeof(rec), .usage = 3, .selector = 1,
			    .matching_type = 1, .data = data, .data_len = sizeof(data)};
	char zone[256], err[256];

	assert_int_equal(danemsg_tsig_key_parse(NULL, &key, err, sizeof(err)),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_tsig_key_parse("k:" SECRET, NULL, err, sizeof(err)),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_tsig_key_parse("bad", &key, NULL, 0), DANEMSG_ERR_MALFORMED);
	assert_int_equal(danemsg_tsig_key_load(NULL, &key, err, sizeof(err)),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_tsig_key_load("/nonexistent", NULL, err, sizeof(err)),
			 DANEMSG_ERR_INVALID_ARG);
	danemsg_tsig_key_free(NULL);
	assert_null(danemsg_tsig_key_name(NULL));
	assert_null(danemsg_tsig_key_algorithm(NULL));

	assert_int_equal(danemsg_dns_server_parse(NULL, &s), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_dns_server_parse("127.0.0.1", NULL), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_dns_server_format(NULL, zone, sizeof(zone)),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_dns_server_parse("127.0.0.1", &s), DANEMSG_OK);
	assert_int_equal(danemsg_dns_server_format(&s, NULL, 10), DANEMSG_ERR_INVALID_ARG);

	assert_int_equal(danemsg_dns_find_zone(NULL, "a.example.", 100, zone, sizeof(zone), err,
					       sizeof(err)), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_dns_find_zone(&s, NULL, 100, zone, sizeof(zone), err,
					       sizeof(err)), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_dns_find_zone(&s, "a.example.", 100, NULL, 0, err, sizeof(err)),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_dns_find_zone(&s, "a..b", 100, zone, sizeof(zone), NULL, 0),
			 DANEMSG_ERR_INVALID_ARG);

	danemsg_publish_options_init(NULL);
	danemsg_publish_options_init(&opt);
	assert_int_equal(opt.ttl, 300);
	assert_int_equal(opt.mode, DANEMSG_PUBLISH_REPLACE);
	/* no server set */
	assert_int_equal(danemsg_publish_tlsa(&opt, "a.example.", &rec, 1, err, sizeof(err)),
			 DANEMSG_ERR_INVALID_ARG);
	opt.server = s;
	assert_int_equal(danemsg_publish_tlsa(NULL, "a.example.", &rec, 1, err, sizeof(err)),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_publish_tlsa(&opt, NULL, &rec, 1, err, sizeof(err)),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_publish_tlsa(&opt, "a.example.", NULL, 1, err, sizeof(err)),
			 DANEMSG_ERR_INVALID_ARG);
	/* replace and add need records; records need data */
	assert_int_equal(danemsg_publish_tlsa(&opt, "a.example.", NULL, 0, err, sizeof(err)),
			 DANEMSG_ERR_INVALID_ARG);
	assert_non_null(strstr(err, "no records"));
	opt.mode = DANEMSG_PUBLISH_ADD;
	assert_int_equal(danemsg_publish_tlsa(&opt, "a.example.", &rec, 0, err, sizeof(err)),
			 DANEMSG_ERR_INVALID_ARG);
	rec.data = NULL;
	assert_int_equal(danemsg_publish_tlsa(&opt, "a.example.", &rec, 1, err, sizeof(err)),
			 DANEMSG_ERR_INVALID_ARG);
	rec.data = data;
	rec.data_len = 0;
	assert_int_equal(danemsg_publish_tlsa(&opt, "a.example.", &rec, 1, err, sizeof(err)),
			 DANEMSG_ERR_INVALID_ARG);
	rec.data_len = sizeof(data);
	opt.mode = (danemsg_publish_mode)7;
	assert_int_equal(danemsg_publish_tlsa(&opt, "a.example.", &rec, 1, err, sizeof(err)),
			 DANEMSG_ERR_INVALID_ARG);
	opt.mode = DANEMSG_PUBLISH_REPLACE;
	assert_int_equal(danemsg_publish_tlsa(&opt, "a..example.", &rec, 1, err, sizeof(err)),
			 DANEMSG_ERR_INVALID_ARG);
	opt.zone = "other.example.";
	assert_int_equal(danemsg_publish_tlsa(&opt, "a.example.", &rec, 1, err, sizeof(err)),
			 DANEMSG_ERR_INVALID_ARG);
	assert_non_null(strstr(err, "not inside zone other.example."));
}

/* Against the lab. */

struct lab {
	danemsg_dns_server server;
	danemsg_tsig_key *key;
	char zone[256];
	char label[32];          /* unique per run, so reruns and other tests never collide */
};

static struct lab lab;

static int lab_setup(void **state)
{
	const char *resolver = getenv("DANEMSG_RESOLVER"), *tsig = getenv("DANEMSG_TSIG");
	const char *zone = getenv("DANEMSG_ZONE");
	uint8_t rnd[4];
	char err[256];

	if (!resolver || !tsig) {
		*state = NULL;
		return 0;
	}
	if (danemsg_dns_server_parse(resolver, &lab.server) ||
	    danemsg_tsig_key_parse(tsig, &lab.key, err, sizeof(err))) {
		fprintf(stderr, "bad lab environment: %s\n", err);
		return -1;
	}
	snprintf(lab.zone, sizeof(lab.zone), "%s", zone ? zone : "example.net.");
	RAND_bytes(rnd, sizeof(rnd));
	snprintf(lab.label, sizeof(lab.label), "pub%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
		 rnd[3]);
	*state = &lab;
	return 0;
}

static int lab_teardown(void **state)
{
	danemsg_tsig_key_free(lab.key);
	lab.key = NULL;
	return 0;
}

#define NEED_LAB()                                                             \
	do {                                                                   \
		if (!*state)                                                   \
			skip();                                                \
	} while (0)

static void lab_name(char *buf, size_t len, const char *prefix)
{
	snprintf(buf, len, "%s.%s._device.%s", prefix, lab.label, lab.zone);
}

static void lab_options(danemsg_publish_options *opt)
{
	danemsg_publish_options_init(opt);
	opt->server = lab.server;
	opt->key = lab.key;
	opt->ttl = 60;
}

/* The TLSA data at name, straight from the server (ldns, over TCP). */
struct seen {
	size_t n;
	uint8_t first[8][4];     /* usage, selector, matching, first data octet */
	size_t len[8];           /* data length */
	uint32_t ttl;
};

static void query_tlsa(const char *name, struct seen *out)
{
	ldns_resolver *res = ldns_resolver_new();
	ldns_rdf *ns, *qname = ldns_dname_new_frm_str(name);
	ldns_pkt *answer = NULL;
	ldns_rr_list *rrs;
	char addr[64];

	memset(out, 0, sizeof(*out));
	assert_non_null(res);
	inet_ntop(lab.server.family, lab.server.addr, addr, sizeof(addr));
	ns = ldns_rdf_new_frm_str(lab.server.family == AF_INET ? LDNS_RDF_TYPE_A
							       : LDNS_RDF_TYPE_AAAA, addr);
	assert_int_equal(ldns_resolver_push_nameserver(res, ns), LDNS_STATUS_OK);
	ldns_rdf_deep_free(ns);
	ldns_resolver_set_port(res, lab.server.port);
	ldns_resolver_set_usevc(res, true);
	ldns_resolver_set_recursive(res, false);
	assert_int_equal(ldns_resolver_send(&answer, res, qname, LDNS_RR_TYPE_TLSA,
					    LDNS_RR_CLASS_IN, 0), LDNS_STATUS_OK);
	rrs = ldns_pkt_rr_list_by_type(answer, LDNS_RR_TYPE_TLSA, LDNS_SECTION_ANSWER);
	for (size_t i = 0; rrs && i < ldns_rr_list_rr_count(rrs) && i < 8; i++) {
		const ldns_rr *rr = ldns_rr_list_rr(rrs, i);
		const ldns_rdf *data = ldns_rr_rdf(rr, 3);
		out->first[i][0] = ldns_rdf2native_int8(ldns_rr_rdf(rr, 0));
		out->first[i][1] = ldns_rdf2native_int8(ldns_rr_rdf(rr, 1));
		out->first[i][2] = ldns_rdf2native_int8(ldns_rr_rdf(rr, 2));
		out->first[i][3] = ldns_rdf_data(data)[0];
		out->len[i] = ldns_rdf_size(data);
		out->ttl = ldns_rr_ttl(rr);
		out->n++;
	}
	ldns_rr_list_deep_free(rrs);
	ldns_pkt_free(answer);
	ldns_rdf_deep_free(qname);
	ldns_resolver_deep_free(res);
}

/* Does the set hold a record with this usage and first data octet? */
static int seen_has(const struct seen *s, uint8_t usage, uint8_t first)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->first[i][0] == usage && s->first[i][3] == first)
			return 1;
	return 0;
}

static void make_rec(danemsg_tlsa *rec, uint8_t *buf, size_t len, uint8_t usage, uint8_t fill)
{
	memset(buf, fill, len);
	danemsg_tlsa_init(rec);
	rec->usage = usage;
	rec->selector = 1;
	rec->matching_type = 1;
	rec->data = buf;
	rec->data_len = len;
}

static void test_lab_find_zone(void **state)
{
	char name[600], zone[256], err[512];
	NEED_LAB();
	snprintf(name, sizeof(name), "a.b._device.%s", lab.zone);
	assert_int_equal(danemsg_dns_find_zone(&lab.server, name, 3000, zone, sizeof(zone), err,
					       sizeof(err)), DANEMSG_OK);
	assert_string_equal(zone, lab.zone);
	/* the apex itself, and a name given without the trailing dot, in upper case */
	assert_int_equal(danemsg_dns_find_zone(&lab.server, lab.zone, 3000, zone, sizeof(zone),
					       err, sizeof(err)), DANEMSG_OK);
	assert_string_equal(zone, lab.zone);
	assert_int_equal(danemsg_dns_find_zone(&lab.server, "A.B._DEVICE.EXAMPLE.NET", 3000, zone,
					       sizeof(zone), err, sizeof(err)), DANEMSG_OK);
	assert_string_equal(zone, "example.net.");
	/* too short a buffer */
	assert_int_equal(danemsg_dns_find_zone(&lab.server, name, 3000, zone, 5, err,
					       sizeof(err)), DANEMSG_ERR_BUFFER_TOO_SMALL);
	/* a zone the server does not hold */
	assert_int_equal(danemsg_dns_find_zone(&lab.server, "a.example.org.", 3000, zone,
					       sizeof(zone), err, sizeof(err)),
			 DANEMSG_ERR_UPDATE_REFUSED);
	assert_non_null(strstr(err, "REFUSED"));
}

static void test_lab_replace_add_remove(void **state)
{
	char name[600], err[512];
	uint8_t a[32], b[32], c[32];
	danemsg_tlsa ra, rb, rc, both[2];
	danemsg_publish_options opt;
	struct seen seen;

	NEED_LAB();
	lab_name(name, sizeof(name), "rar");
	make_rec(&ra, a, sizeof(a), 3, 0xaa);
	make_rec(&rb, b, sizeof(b), 3, 0xbb);
	make_rec(&rc, c, sizeof(c), 2, 0xcc);
	lab_options(&opt);

	/* replace: the query shows exactly the new record, with our TTL */
	assert_int_equal(danemsg_publish_tlsa(&opt, name, &ra, 1, err, sizeof(err)), DANEMSG_OK);
	query_tlsa(name, &seen);
	assert_int_equal(seen.n, 1);
	assert_true(seen_has(&seen, 3, 0xaa));
	assert_int_equal(seen.ttl, 60);
	/* replace again: the old record is gone */
	both[0] = rb;
	both[1] = rc;
	assert_int_equal(danemsg_publish_tlsa(&opt, name, both, 2, err, sizeof(err)), DANEMSG_OK);
	query_tlsa(name, &seen);
	assert_int_equal(seen.n, 2);
	assert_true(seen_has(&seen, 3, 0xbb));
	assert_true(seen_has(&seen, 2, 0xcc));
	/* add: leaves both */
	opt.mode = DANEMSG_PUBLISH_ADD;
	assert_int_equal(danemsg_publish_tlsa(&opt, name, &ra, 1, err, sizeof(err)), DANEMSG_OK);
	query_tlsa(name, &seen);
	assert_int_equal(seen.n, 3);
	/* remove one */
	opt.mode = DANEMSG_PUBLISH_REMOVE;
	assert_int_equal(danemsg_publish_tlsa(&opt, name, &rb, 1, err, sizeof(err)), DANEMSG_OK);
	query_tlsa(name, &seen);
	assert_int_equal(seen.n, 2);
	assert_false(seen_has(&seen, 3, 0xbb));
	assert_true(seen_has(&seen, 3, 0xaa));
	/* remove the whole RRset */
	assert_int_equal(danemsg_publish_tlsa(&opt, name, NULL, 0, err, sizeof(err)), DANEMSG_OK);
	query_tlsa(name, &seen);
	assert_int_equal(seen.n, 0);
}

static void test_lab_explicit_zone_and_large_record(void **state)
{
	char name[600], err[512];
	static uint8_t cert[1400];
	danemsg_tlsa rec;
	danemsg_publish_options opt;
	struct seen seen;

	NEED_LAB();
	lab_name(name, sizeof(name), "big");
	make_rec(&rec, cert, sizeof(cert), 3, 0x30);
	rec.selector = 0;
	rec.matching_type = 0; /* a whole certificate: too big for a 512-octet UDP message */
	lab_options(&opt);
	opt.zone = lab.zone;
	assert_int_equal(danemsg_publish_tlsa(&opt, name, &rec, 1, err, sizeof(err)), DANEMSG_OK);
	query_tlsa(name, &seen);
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.len[0], sizeof(cert));
	assert_int_equal(seen.first[0][1], 0);
	assert_int_equal(seen.first[0][2], 0);
	opt.mode = DANEMSG_PUBLISH_REMOVE;
	assert_int_equal(danemsg_publish_tlsa(&opt, name, NULL, 0, err, sizeof(err)), DANEMSG_OK);
}

static void test_lab_wrong_secret(void **state)
{
	char name[600], err[512], spec[200];
	uint8_t a[32];
	danemsg_tlsa rec;
	danemsg_tsig_key *bad = NULL;
	danemsg_publish_options opt;
	struct seen seen;

	NEED_LAB();
	lab_name(name, sizeof(name), "badsig");
	make_rec(&rec, a, sizeof(a), 3, 0x11);
	snprintf(spec, sizeof(spec), "hmac-sha256:%s:" SECRET, danemsg_tsig_key_name(lab.key));
	assert_int_equal(danemsg_tsig_key_parse(spec, &bad, err, sizeof(err)), DANEMSG_OK);
	lab_options(&opt);
	opt.key = bad;
	assert_int_equal(danemsg_publish_tlsa(&opt, name, &rec, 1, err, sizeof(err)),
			 DANEMSG_ERR_UPDATE_REFUSED);
	assert_non_null(strstr(err, "server refused the update: NOTAUTH"));
	assert_non_null(strstr(err, "BADSIG"));
	query_tlsa(name, &seen);
	assert_int_equal(seen.n, 0);
	danemsg_tsig_key_free(bad);
}

static void test_lab_unknown_key(void **state)
{
	char name[600], err[512];
	uint8_t a[32];
	danemsg_tlsa rec;
	danemsg_tsig_key *bad = NULL;
	danemsg_publish_options opt;

	NEED_LAB();
	lab_name(name, sizeof(name), "badkey");
	make_rec(&rec, a, sizeof(a), 3, 0x12);
	assert_int_equal(danemsg_tsig_key_parse("no-such-key:" SECRET, &bad, err, sizeof(err)),
			 DANEMSG_OK);
	lab_options(&opt);
	opt.key = bad;
	assert_int_equal(danemsg_publish_tlsa(&opt, name, &rec, 1, err, sizeof(err)),
			 DANEMSG_ERR_UPDATE_REFUSED);
	assert_non_null(strstr(err, "NOTAUTH"));
	assert_non_null(strstr(err, "BADKEY"));
	assert_non_null(strstr(err, "no-such-key."));
	danemsg_tsig_key_free(bad);

	/* Every algorithm we accept signs: the server gets to say BADKEY. */
	static const char *const algs[] = {"hmac-sha1", "hmac-sha512", "hmac-md5"};
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		char spec[128];
		snprintf(spec, sizeof(spec), "%s:no-such-key:" SECRET, algs[i]);
		assert_int_equal(danemsg_tsig_key_parse(spec, &bad, err, sizeof(err)), DANEMSG_OK);
		opt.key = bad;
		if (danemsg_publish_tlsa(&opt, name, &rec, 1, err, sizeof(err)) !=
		    DANEMSG_ERR_UPDATE_REFUSED || !strstr(err, "BADKEY"))
			fail_msg("%s: %s", algs[i], err);
		danemsg_tsig_key_free(bad);
	}
}

static void test_lab_unsigned_update(void **state)
{
	char name[600], err[512];
	uint8_t a[32];
	danemsg_tlsa rec;
	danemsg_publish_options opt;

	NEED_LAB();
	lab_name(name, sizeof(name), "unsigned");
	make_rec(&rec, a, sizeof(a), 3, 0x13);
	lab_options(&opt);
	opt.key = NULL;
	assert_int_equal(danemsg_publish_tlsa(&opt, name, &rec, 1, err, sizeof(err)),
			 DANEMSG_ERR_UPDATE_REFUSED);
	assert_non_null(strstr(err, "NOTAUTH"));
	assert_non_null(strstr(err, "not signed"));
}

static void test_lab_zone_not_served(void **state)
{
	char err[512];
	uint8_t a[32];
	danemsg_tlsa rec;
	danemsg_publish_options opt;

	NEED_LAB();
	make_rec(&rec, a, sizeof(a), 3, 0x14);
	lab_options(&opt);
	opt.zone = "example.org.";
	assert_int_equal(danemsg_publish_tlsa(&opt, "x.example.org.", &rec, 1, err, sizeof(err)),
			 DANEMSG_ERR_UPDATE_REFUSED);
	assert_non_null(strstr(err, "server refused the update: NOTAUTH"));
}

static uint16_t unused_port(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_nothing_listening_is_temporary(void **state)
{
	char err[512], zone[256];
	uint8_t a[32];
	danemsg_tlsa rec;
	danemsg_publish_options opt;
	double t0;
	char spec[32];

	make_rec(&rec, a, sizeof(a), 3, 0x15);
	danemsg_publish_options_init(&opt);
	snprintf(spec, sizeof(spec), "127.0.0.1@%u", (unsigned)unused_port());
	assert_int_equal(danemsg_dns_server_parse(spec, &opt.server), DANEMSG_OK);
	t0 = now_s();
	assert_int_equal(danemsg_publish_tlsa(&opt, "x.example.net.", &rec, 1, err, sizeof(err)),
			 DANEMSG_ERR_DNS_TEMPORARY);
	assert_true(now_s() - t0 < 5.0);
	assert_non_null(strstr(err, spec));
	opt.zone = "example.net.";
	assert_int_equal(danemsg_publish_tlsa(&opt, "x.example.net.", &rec, 1, err, sizeof(err)),
			 DANEMSG_ERR_DNS_TEMPORARY);
	assert_int_equal(danemsg_dns_find_zone(&opt.server, "x.example.net.", 1000, zone,
					       sizeof(zone), err, sizeof(err)),
			 DANEMSG_ERR_DNS_TEMPORARY);
	assert_string_equal(zone, "");
	assert_true(now_s() - t0 < 5.0);
	assert_true(danemsg_err_is_temporary(DANEMSG_ERR_DNS_TEMPORARY));
}


/*
 * An on-path attacker: answers one update itself, NOERROR, without knowing the key.
 * The client must not take that for success.
 */
enum forgery { FORGE_UNSIGNED, FORGE_REQUEST_TSIG, FORGE_WRONG_ID };

struct forger {
	int listen_fd;
	uint16_t port;
	enum forgery how;
	pthread_t thread;
};

static int read_full(int fd, uint8_t *buf, size_t len)
{
	for (size_t got = 0; got < len;) {
		ssize_t r = read(fd, buf + got, len - got);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static void *forger_run(void *arg)
{
	struct forger *f = arg;
	uint8_t len_octets[2], *query, *wire = NULL;
	size_t len, wire_len = 0;
	ldns_pkt *pkt = NULL;
	int fd = accept(f->listen_fd, NULL, NULL);

	if (fd < 0)
		return NULL;
	if (read_full(fd, len_octets, 2) == 0) {
		len = (size_t)len_octets[0] << 8 | len_octets[1];
		query = malloc(len);
		if (query && read_full(fd, query, len) == 0 &&
		    ldns_wire2pkt(&pkt, query, len) == LDNS_STATUS_OK) {
			ldns_pkt_set_qr(pkt, true);
			ldns_pkt_set_rcode(pkt, LDNS_RCODE_NOERROR);
			if (f->how == FORGE_UNSIGNED) {
				ldns_rr_free(ldns_pkt_tsig(pkt));
				ldns_pkt_set_tsig(pkt, NULL);
			}
			if (f->how == FORGE_WRONG_ID)
				ldns_pkt_set_id(pkt, (uint16_t)(ldns_pkt_id(pkt) + 1));
			if (ldns_pkt2wire(&wire, pkt, &wire_len) == LDNS_STATUS_OK) {
				len_octets[0] = (uint8_t)(wire_len >> 8);
				len_octets[1] = (uint8_t)wire_len;
				if (write(fd, len_octets, 2) != 2 ||
				    write(fd, wire, wire_len) != (ssize_t)wire_len)
					fprintf(stderr, "forger: short write\n");
			}
		}
		free(query);
	}
	free(wire);
	ldns_pkt_free(pkt);
	close(fd);
	return NULL;
}

static void forger_start(struct forger *f, enum forgery how)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);

	f->how = how;
	f->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(f->listen_fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(f->listen_fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(f->listen_fd, 1), 0);
	assert_int_equal(getsockname(f->listen_fd, (struct sockaddr *)&sin, &len), 0);
	f->port = ntohs(sin.sin_port);
	assert_int_equal(pthread_create(&f->thread, NULL, forger_run, f), 0);
}

static void forger_stop(struct forger *f)
{
	pthread_join(f->thread, NULL);
	close(f->listen_fd);
}

static void test_forged_answer_is_not_success(void **state)
{
	static const struct {
		enum forgery how;
		danemsg_err want;
		const char *why;
	} cases[] = {
		{FORGE_UNSIGNED, DANEMSG_ERR_BAD_SIGNATURE, "not TSIG-signed"},
		{FORGE_REQUEST_TSIG, DANEMSG_ERR_BAD_SIGNATURE, "does not verify"},
		{FORGE_WRONG_ID, DANEMSG_ERR_MALFORMED, "does not answer our message"},
	};
	char err[512];
	uint8_t a[32];
	danemsg_tlsa rec;
	danemsg_tsig_key *key = NULL;
	danemsg_publish_options opt;

	make_rec(&rec, a, sizeof(a), 3, 0x16);
	assert_int_equal(danemsg_tsig_key_parse("k:" SECRET, &key, err, sizeof(err)), DANEMSG_OK);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct forger f;
		char spec[32];
		forger_start(&f, cases[i].how);
		danemsg_publish_options_init(&opt);
		snprintf(spec, sizeof(spec), "127.0.0.1@%u", (unsigned)f.port);
		assert_int_equal(danemsg_dns_server_parse(spec, &opt.server), DANEMSG_OK);
		opt.key = key;
		opt.zone = "example.net.";
		danemsg_err got = danemsg_publish_tlsa(&opt, "x.example.net.", &rec, 1, err,
						       sizeof(err));
		forger_stop(&f);
		if (got != cases[i].want || !strstr(err, cases[i].why))
			fail_msg("forgery %zu: %s: %s", i, danemsg_err_name(got), err);
	}
	danemsg_tsig_key_free(key);
}

static void test_too_large_for_dns(void **state)
{
	static uint8_t big[40000];
	danemsg_tlsa recs[2];
	danemsg_publish_options opt;
	char err[256];

	make_rec(&recs[0], big, sizeof(big), 3, 0x01);
	make_rec(&recs[1], big, sizeof(big), 2, 0x01);
	danemsg_publish_options_init(&opt);
	assert_int_equal(danemsg_dns_server_parse("127.0.0.1@9", &opt.server), DANEMSG_OK);
	opt.zone = "example.net.";
	assert_int_equal(danemsg_publish_tlsa(&opt, "x.example.net.", recs, 2, err, sizeof(err)),
			 DANEMSG_ERR_TOO_LARGE);
	assert_non_null(strstr(err, "more than DNS can carry"));
}

static int tmpdir_setup(void **state)
{
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int tmpdir_teardown(void **state)
{
	char path[300];
	const char *names[] = {"key", "big"};
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, names[i]);
		unlink(path);
	}
	return rmdir(tmpdir);
}

int main(void)
{
	const struct CMUnitTest offline[] = {
		cmocka_unit_test(test_tsig_spec_table),
		cmocka_unit_test(test_tsig_secret_too_long),
		cmocka_unit_test(test_key_file_table),
		cmocka_unit_test(test_key_file_errors),
		cmocka_unit_test(test_server_table),
		cmocka_unit_test(test_server_format_short_buffer),
		cmocka_unit_test(test_record_text_table),
		cmocka_unit_test(test_null_arguments),
		cmocka_unit_test(test_nothing_listening_is_temporary),
		cmocka_unit_test(test_forged_answer_is_not_success),
		cmocka_unit_test(test_too_large_for_dns),
	};
	const struct CMUnitTest with_lab[] = {
		cmocka_unit_test(test_lab_find_zone),
		cmocka_unit_test(test_lab_replace_add_remove),
		cmocka_unit_test(test_lab_explicit_zone_and_large_record),
		cmocka_unit_test(test_lab_wrong_secret),
		cmocka_unit_test(test_lab_unknown_key),
		cmocka_unit_test(test_lab_unsigned_update),
		cmocka_unit_test(test_lab_zone_not_served),
	};
	int failed = cmocka_run_group_tests_name("offline", offline, tmpdir_setup, tmpdir_teardown);
	failed += cmocka_run_group_tests_name("lab", with_lab, lab_setup, lab_teardown);
	return failed ? 1 : 0;
}

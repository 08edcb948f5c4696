/* DNSSEC chains carried in messages, against the lab's signed zone: a chain collected
 * there verifies with the trust anchor alone; each way of breaking it is refused with
 * its own reason; getdns' offline validator agrees with ours; sealed messages carry it
 * and open with no resolver at all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <getdns/getdns.h>
#include <getdns/getdns_extra.h>
#include <ldns/ldns.h>

#include <danemsg.h>

#include "testutil.h"

struct fixture {
	char *dir;
	char sender[128], recipient[128], rsa[128];
	char wrong_anchor[600];
	danemsg_resolver *r;
	danemsg_trust_anchor *ta, *wrong_ta;
	uint8_t *wire;
	size_t len;
	int64_t inception, expiration;   /* the latest inception, the earliest expiration */
};

static struct fixture fx;

/* Creates and publishes an identity with the tool, as a user would. */
static void publish_identity(const char *dir, const char *name, const char *key)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "DANEMSG_DIR='%s' '%s' id new %s --key %s >/dev/null && "
		 "DANEMSG_DIR='%s' '%s' id publish %s --ttl 60 --no-confirm >/dev/null", dir,
		 getenv("DANEMSG_TOOL"), name, key, dir, getenv("DANEMSG_TOOL"), name);
	assert_int_equal(system(cmd), 0);
}

/* ---- chains as lists of records, to break them ---- */

static ldns_rr_list *records_of(const uint8_t *wire, size_t len)
{
	ldns_rr_list *rrs = ldns_rr_list_new();
	size_t pos = 0;
	while (pos < len) {
		ldns_rr *rr = NULL;
		assert_int_equal(ldns_wire2rr(&rr, wire, len, &pos, LDNS_SECTION_ANSWER),
				 LDNS_STATUS_OK);
		ldns_rr_list_push_rr(rrs, rr);
	}
	return rrs;
}

static void wire_of(const ldns_rr_list *rrs, uint8_t **wire, size_t *len)
{
	ldns_buffer *buf = ldns_buffer_new(1024);
	for (size_t i = 0; i < ldns_rr_list_rr_count(rrs); i++)
		assert_int_equal(ldns_rr2buffer_wire(buf, ldns_rr_list_rr(rrs, i),
						     LDNS_SECTION_ANSWER), LDNS_STATUS_OK);
	*len = ldns_buffer_position(buf);
	*wire = malloc(*len + 1);
	memcpy(*wire, ldns_buffer_begin(buf), *len);
	ldns_buffer_free(buf);
}

static int is_type(const ldns_rr *rr, ldns_rr_type type)
{
	return ldns_rr_get_type(rr) == type ||
	       (ldns_rr_get_type(rr) == LDNS_RR_TYPE_RRSIG &&
		ldns_rdf2rr_type(ldns_rr_rrsig_typecovered(rr)) == type);
}

/* ---- the cases ---- */

enum mutation { KEEP, FLIP_TLSA, FLIP_TLSA_RRSIG, DROP_DNSKEY, TRUNCATE, GARBAGE, OVERSIZE,
		COMPRESS, EMPTY_RDATA };

static void mutate(enum mutation m, uint8_t **wire, size_t *len)
{
	ldns_rr_list *rrs;
	*wire = malloc(DANEMSG_CHAIN_MAX_BYTES + 2);
	memcpy(*wire, fx.wire, fx.len);
	*len = fx.len;
	if (m == TRUNCATE) {
		*len -= 5;
		return;
	}
	if (m == GARBAGE) {
		*len = (size_t)snprintf((char *)*wire, fx.len, "these bytes are no DNS records");
		return;
	}
	if (m == OVERSIZE) {
		memset(*wire, 0, DANEMSG_CHAIN_MAX_BYTES + 1);
		*len = DANEMSG_CHAIN_MAX_BYTES + 1;
		return;
	}
	if (m == COMPRESS) {   /* the 2nd DNSKEY's owner points at the 1st's: the same name */
		size_t pos = 0, at[4] = {0}, owner_len;
		for (int i = 0; i < 4; i++) {
			ldns_rr *rr = NULL;
			at[i] = pos;
			assert_int_equal(ldns_wire2rr(&rr, *wire, *len, &pos,
						      LDNS_SECTION_ANSWER), 0);
			assert_true(i < 2 || ldns_rr_get_type(rr) == LDNS_RR_TYPE_DNSKEY);
			owner_len = ldns_rdf_size(ldns_rr_owner(rr));
			ldns_rr_free(rr);
		}
		memmove(*wire + at[3] + 2, *wire + at[3] + owner_len, *len - at[3] - owner_len);
		(*wire)[at[3]] = (uint8_t)(0xc0 | at[2] >> 8);
		(*wire)[at[3] + 1] = (uint8_t)(at[2] & 0xff);
		*len -= owner_len - 2;
		return;
	}
	if (m == EMPTY_RDATA) {   /* one more TLSA record at the name, with no RDATA */
		static const uint8_t rest[] = {0, 52, 0, 1, 0, 0, 0, 60, 0, 0};
		/* in wire form; the name ends in a dot */
		size_t owner_len = strlen(fx.sender) + 1;
		memcpy(*wire + *len, *wire, owner_len);
		memcpy(*wire + *len + owner_len, rest, sizeof(rest));
		*len += owner_len + sizeof(rest);
		return;
	}
	if (m == KEEP)
		return;
	free(*wire);
	rrs = records_of(fx.wire, fx.len);
	for (size_t i = 0; i < ldns_rr_list_rr_count(rrs); i++) {
		ldns_rr *rr = ldns_rr_list_rr(rrs, i);
		if (m == FLIP_TLSA && ldns_rr_get_type(rr) == LDNS_RR_TYPE_TLSA) {
			ldns_rdf *data = ldns_rr_rdf(rr, 3);
			ldns_rdf_data(data)[ldns_rdf_size(data) - 1] ^= 1;
		} else if (m == FLIP_TLSA_RRSIG && ldns_rr_get_type(rr) == LDNS_RR_TYPE_RRSIG &&
			   is_type(rr, LDNS_RR_TYPE_TLSA)) {
			ldns_rdf *sig = ldns_rr_rdf(rr, 8);
			ldns_rdf_data(sig)[3] ^= 0x40;
		} else if (m == DROP_DNSKEY && is_type(rr, LDNS_RR_TYPE_DNSKEY)) {
			ldns_rr_free(rr);
			ldns_rr_list_set_rr(rrs, NULL, i);
		}
	}
	if (m == DROP_DNSKEY) {   /* compact the list */
		ldns_rr_list *kept = ldns_rr_list_new();
		for (size_t i = 0; i < ldns_rr_list_rr_count(rrs); i++)
			if (ldns_rr_list_rr(rrs, i))
				ldns_rr_list_push_rr(kept, ldns_rr_list_rr(rrs, i));
		ldns_rr_list_free(rrs);
		rrs = kept;
	}
	wire_of(rrs, wire, len);
	ldns_rr_list_deep_free(rrs);
}

/* getdns: the TLSA RRset and its RRSIGs to validate, the rest as support. 1 secure. */
static int getdns_secure(const uint8_t *wire, size_t len, const char *anchor_file,
			 int64_t at)
{
	getdns_list *to_validate = getdns_list_create(), *support = getdns_list_create();
	getdns_list *anchors = NULL;
	size_t nv = 0, ns = 0;
	FILE *f = fopen(anchor_file, "r");
	getdns_return_t r;

	assert_non_null(f);
	assert_int_equal(getdns_fp2rr_list(f, &anchors, NULL, 3600), GETDNS_RETURN_GOOD);
	fclose(f);
	while (len) {
		getdns_dict *rr = NULL;
		uint32_t type = 0, covered = 0;
		assert_int_equal(getdns_wire2rr_dict_scan(&wire, &len, &rr), GETDNS_RETURN_GOOD);
		getdns_dict_get_int(rr, "type", &type);
		getdns_dict_get_int(rr, "/rdata/type_covered", &covered);
		if (type == GETDNS_RRTYPE_TLSA ||
		    (type == GETDNS_RRTYPE_RRSIG && covered == GETDNS_RRTYPE_TLSA))
			getdns_list_set_dict(to_validate, nv++, rr);
		else
			getdns_list_set_dict(support, ns++, rr);
		getdns_dict_destroy(rr);
	}
	r = getdns_validate_dnssec2(to_validate, support, anchors, (time_t)at, 0);
	getdns_list_destroy(to_validate);
	getdns_list_destroy(support);
	getdns_list_destroy(anchors);
	return r == GETDNS_DNSSEC_SECURE;
}

struct chain_case {
	const char *what;
	enum mutation mutation;
	int other_name, wrong_anchor;
	int at;                       /* 0 now, -1 before inception, 1 after expiration */
	danemsg_chain_reason reason;
	danemsg_err err;
	int cross_check;              /* getdns sees the same records */
};

static const struct chain_case cases[] = {
	{"as collected", KEEP, 0, 0, 0, DANEMSG_CHAIN_OK, DANEMSG_OK, 1},
	{"TLSA data altered", FLIP_TLSA, 0, 0, 0, DANEMSG_CHAIN_BAD_SIGNATURE,
	 DANEMSG_ERR_DNS_BOGUS, 1},
	{"TLSA RRSIG altered", FLIP_TLSA_RRSIG, 0, 0, 0, DANEMSG_CHAIN_BAD_SIGNATURE,
	 DANEMSG_ERR_DNS_BOGUS, 1},
	{"another zone's anchor", KEEP, 0, 1, 0, DANEMSG_CHAIN_NO_ANCHOR, DANEMSG_ERR_DNS_BOGUS, 1},
	{"RRSIGs expired", KEEP, 0, 0, 1, DANEMSG_CHAIN_EXPIRED, DANEMSG_ERR_DNS_BOGUS, 1},
	{"RRSIGs not yet valid", KEEP, 0, 0, -1, DANEMSG_CHAIN_EXPIRED, DANEMSG_ERR_DNS_BOGUS, 1},
	{"chain of another name", KEEP, 1, 0, 0, DANEMSG_CHAIN_WRONG_NAME, DANEMSG_ERR_DNS_BOGUS,
	 0},
	{"DNSKEY RRset left out", DROP_DNSKEY, 0, 0, 0, DANEMSG_CHAIN_INCOMPLETE,
	 DANEMSG_ERR_DNS_BOGUS, 1},
	{"truncated", TRUNCATE, 0, 0, 0, DANEMSG_CHAIN_TRUNCATED, DANEMSG_ERR_MALFORMED, 0},
	{"garbage", GARBAGE, 0, 0, 0, DANEMSG_CHAIN_MALFORMED, DANEMSG_ERR_MALFORMED, 0},
	{"compressed name", COMPRESS, 0, 0, 0, DANEMSG_CHAIN_MALFORMED, DANEMSG_ERR_MALFORMED, 0},
	{"TLSA with empty RDATA", EMPTY_RDATA, 0, 0, 0, DANEMSG_CHAIN_MALFORMED,
	 DANEMSG_ERR_MALFORMED, 0},
	{"over 8 KiB", OVERSIZE, 0, 0, 0, DANEMSG_CHAIN_TOO_LARGE, DANEMSG_ERR_TOO_LARGE, 0},
};

static void test_chain_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct chain_case *c = &cases[i];
		uint8_t *wire;
		size_t len;
		danemsg_identity *id = NULL;
		danemsg_chain_reason reason = DANEMSG_CHAIN_OK;
		char err[512];
		int64_t at = c->at < 0 ? fx.inception - 1 : c->at > 0 ? fx.expiration + 1
								    : (int64_t)time(NULL);
		const char *name = c->other_name ? fx.recipient : fx.sender;
		danemsg_err e;

		mutate(c->mutation, &wire, &len);
		e = danemsg_chain_verify(wire, len, name, c->wrong_anchor ? fx.wrong_ta : fx.ta, at,
					 &id, &reason, err, sizeof(err));
		print_message("%-24s %-14s %s\n", c->what, danemsg_chain_reason_name(reason), err);
		assert_int_equal(reason, c->reason);
		assert_int_equal(e, c->err);
		if (!e) {
			assert_non_null(id);
			assert_int_equal(danemsg_identity_dnssec(id), DANEMSG_DNSSEC_SECURE);
			assert_int_equal(danemsg_identity_status(id), DANEMSG_OK);
			assert_true(danemsg_identity_record_count(id) >= 1);
		} else {
			assert_null(id);
		}
		if (c->cross_check) {
			const char *anchor = c->wrong_anchor ? fx.wrong_anchor
							     : getenv("DANEMSG_TRUST_ANCHOR");
			assert_int_equal(getdns_secure(wire, len, anchor, at), e == DANEMSG_OK);
		}
		danemsg_identity_unref(id);
		free(wire);
	}
}

/* Each reason has its own name: a caller can tell every refusal apart. */
static void test_reason_names(void **state)
{
	(void)state;
	for (int a = DANEMSG_CHAIN_OK; a <= DANEMSG_CHAIN_EXPIRED; a++)
		for (int b = a + 1; b <= DANEMSG_CHAIN_EXPIRED; b++)
			assert_string_not_equal(danemsg_chain_reason_name(a),
						danemsg_chain_reason_name(b));
	assert_string_equal(danemsg_chain_reason_name((danemsg_chain_reason)99), "unknown");
}

static void test_bad_arguments(void **state)
{
	danemsg_identity *id = NULL;
	danemsg_trust_anchor *ta = NULL;
	const char *none[] = {NULL}, *missing[] = {"/nonexistent/anchor", NULL};
	char err[256];
	(void)state;
	assert_int_equal(danemsg_chain_verify(NULL, 1, fx.sender, fx.ta, 1, &id, NULL, err,
					      sizeof(err)), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_chain_verify(fx.wire, fx.len, NULL, fx.ta, 1, &id, NULL, err,
					      sizeof(err)), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_chain_verify(fx.wire, fx.len, fx.sender, NULL, 1, &id, NULL,
					      err, sizeof(err)), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_chain_verify(fx.wire, fx.len, "a..b", fx.ta, 1, &id, NULL, err,
					      sizeof(err)), DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_trust_anchor_load(none, &ta, err, sizeof(err)),
			 DANEMSG_ERR_INVALID_ARG);
	assert_int_equal(danemsg_trust_anchor_load(missing, &ta, err, sizeof(err)),
			 DANEMSG_ERR_DNS_CONFIG);
	assert_null(ta);
	danemsg_trust_anchor_free(NULL);
	/* A name in an unsigned zone has no chain to collect. */
	uint8_t *wire = NULL;
	size_t len = 0;
	char name[200];
	snprintf(name, sizeof(name), "nobody._device.unsigned.%s", getenv("DANEMSG_ZONE"));
	assert_int_not_equal(danemsg_chain_collect(fx.r, name, &wire, &len, err, sizeof(err)),
			     DANEMSG_OK);
	assert_null(wire);
}

/* ---- a chain that climbs a delegation (DS), built offline with ldns ---- */

/* Appends the RRset (owner, type) of a signed zone file, with its RRSIGs, to out. */
static void take_from_zone(const char *zone_file, const char *owner, ldns_rr_type type,
			   ldns_rr_list *out)
{
	FILE *f = fopen(zone_file, "r");
	ldns_zone *zone = NULL;
	ldns_rdf *name = ldns_dname_new_frm_str(owner);
	assert_non_null(f);
	assert_int_equal(ldns_zone_new_frm_fp(&zone, f, NULL, 0, LDNS_RR_CLASS_IN), 0);
	fclose(f);
	for (size_t i = 0; i < ldns_rr_list_rr_count(ldns_zone_rrs(zone)); i++) {
		ldns_rr *rr = ldns_rr_list_rr(ldns_zone_rrs(zone), i);
		if (!ldns_dname_compare(ldns_rr_owner(rr), name) && is_type(rr, type))
			ldns_rr_list_push_rr(out, ldns_rr_clone(rr));
	}
	ldns_rdf_deep_free(name);
	ldns_zone_deep_free(zone);
}

static danemsg_chain_reason verify_built(const ldns_rr_list *rrs, const char *anchor_file,
					 const char *name)
{
	const char *files[] = {anchor_file, NULL};
	danemsg_trust_anchor *ta = NULL;
	danemsg_identity *id = NULL;
	danemsg_chain_reason reason;
	uint8_t *wire;
	size_t len;
	char err[512];
	danemsg_err e;

	wire_of(rrs, &wire, &len);
	assert_int_equal(danemsg_trust_anchor_load(files, &ta, err, sizeof(err)), DANEMSG_OK);
	e = danemsg_chain_verify(wire, len, name, ta, (int64_t)time(NULL), &id, &reason, err,
				 sizeof(err));
	print_message("delegation: %s %s\n", danemsg_chain_reason_name(reason), err);
	assert_int_equal(e == DANEMSG_OK, reason == DANEMSG_CHAIN_OK);
	assert_int_equal(getdns_secure(wire, len, anchor_file, (int64_t)time(NULL)),
			 e == DANEMSG_OK);
	danemsg_identity_unref(id);
	danemsg_trust_anchor_free(ta);
	free(wire);
	return reason;
}

/* A bad trust anchor file names the line of the bad record, whatever precedes it. */
static void test_anchor_error_line(void **state)
{
	static const char ds[] = "example.net. 3600 IN DS 12345 13 2 "
		"AABBCCDD00112233445566778899AABBCCDDEEFF00112233445566778899AABB\n";
	static const struct {
		const char *before, *bad;
		int line;
	} anchors[] = {
		{"", "bad line here\n", 1},
		{"", "bad line here", 1},
		{"; a comment\n\n", "example.net. IN DS x\n", 3},
		{ds, "example.net. IN DS x\n", 2},
		{ds, "example.net. IN DS x", 2},
		{"$TTL 300\n", "example.net. IN DS x\n", 2},
		{"$TTL 300\n\n; two\n\n", "example.net. IN DS x\n", 5},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(anchors) / sizeof(anchors[0]); i++) {
		char path[] = "/tmp/danemsg-anchor-XXXXXX", err[512], want[64];
		const char *files[] = {path, NULL};
		danemsg_trust_anchor *ta = NULL;
		int fd = mkstemp(path);
		FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
		assert_non_null(f);
		fprintf(f, "%s%s", anchors[i].before, anchors[i].bad);
		fclose(f);
		assert_int_equal(danemsg_trust_anchor_load(files, &ta, err, sizeof(err)),
				 DANEMSG_ERR_DNS_CONFIG);
		unlink(path);
		snprintf(want, sizeof(want), ", line %d: ", anchors[i].line);
		if (!strstr(err, want))
			fail_msg("case %zu: '%s' does not say '%s'", i, err, want);
		assert_null(ta);
	}
}

static void test_delegation_chain(void **state)
{
	const char *name = "alice._device.child.parent-zone.example.";
	struct tu_zone parent, child;
	EVP_PKEY *key = tu_key("P-256");
	X509 *cert = tu_cert(key, name, 30);
	ldns_rr_list *rrs = ldns_rr_list_new();
	char ds[1024];
	FILE *f;
	(void)state;

	tu_zone_begin(&child, "child.parent-zone.example.");
	tu_zone_add_tlsa(&child, name, cert, 3, 1, 1);
	tu_zone_finish(&child, 0);
	tu_zone_begin(&parent, "parent-zone.example.");
	assert_non_null(f = fopen(child.anchor_file, "r"));
	assert_non_null(fgets(ds, sizeof(ds), f));
	fclose(f);
	ds[strcspn(ds, "\n")] = '\0';
	tu_zone_add(&parent, ds);
	tu_zone_finish(&parent, 0);

	take_from_zone(child.zone_file, name, LDNS_RR_TYPE_TLSA, rrs);
	take_from_zone(child.zone_file, "child.parent-zone.example.", LDNS_RR_TYPE_DNSKEY, rrs);
	take_from_zone(parent.zone_file, "child.parent-zone.example.", LDNS_RR_TYPE_DS, rrs);
	take_from_zone(parent.zone_file, "parent-zone.example.", LDNS_RR_TYPE_DNSKEY, rrs);
	/* Anchored at the parent: TLSA, child DNSKEY, DS, parent DNSKEY. */
	assert_int_equal(verify_built(rrs, parent.anchor_file, name), DANEMSG_CHAIN_OK);
	/* Anchored at the child, the rest is not needed. */
	assert_int_equal(verify_built(rrs, child.anchor_file, name), DANEMSG_CHAIN_OK);
	/* The DS altered: its RRSIG no longer verifies. */
	for (size_t i = 0; i < ldns_rr_list_rr_count(rrs); i++) {
		ldns_rr *rr = ldns_rr_list_rr(rrs, i);
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_DS)
			ldns_rdf_data(ldns_rr_rdf(rr, 3))[0] ^= 1;
	}
	assert_int_equal(verify_built(rrs, parent.anchor_file, name),
			 DANEMSG_CHAIN_BAD_SIGNATURE);
	/* The DS and its RRSIG left out: nothing links the child to the parent. */
	for (size_t i = ldns_rr_list_rr_count(rrs); i-- > 0;) {
		ldns_rr *rr = ldns_rr_list_rr(rrs, i);
		if (is_type(rr, LDNS_RR_TYPE_DS)) {
			ldns_rr_list_set_rr(rrs, ldns_rr_list_pop_rr(rrs), i);
			ldns_rr_free(rr);
		}
	}
	assert_int_equal(verify_built(rrs, parent.anchor_file, name), DANEMSG_CHAIN_INCOMPLETE);
	ldns_rr_list_deep_free(rrs);
	tu_zone_end(&parent);
	tu_zone_end(&child);
	X509_free(cert);
	EVP_PKEY_free(key);
}

/* A wildcard's records passed off as a name's own: with no proof that the name has none of
 * its own, refused, whatever RRSIGs come first. */
static ldns_rr_list *wildcard_chain(struct tu_zone *z, const char *name, int junk_first)
{
	const char *wild = "*._device.wild-zone.example.";
	ldns_rr_list *taken = ldns_rr_list_new(), *rrs = ldns_rr_list_new();
	ldns_rr *junk = NULL;

	take_from_zone(z->zone_file, wild, LDNS_RR_TYPE_TLSA, taken);
	/* the expansion as a resolver returns it: the name as owner, the RRSIG as signed */
	for (size_t i = 0; i < ldns_rr_list_rr_count(taken); i++) {
		ldns_rr *rr = ldns_rr_clone(ldns_rr_list_rr(taken, i));
		ldns_rdf_deep_free(ldns_rr_owner(rr));
		ldns_rr_set_owner(rr, ldns_dname_new_frm_str(name));
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_RRSIG && junk_first) {
			/* before it, an RRSIG claiming the name's own label count, junk inside */
			junk = ldns_rr_clone(rr);
			ldns_rdf_deep_free(ldns_rr_set_rdf(junk, ldns_native2rdf_int8(
				LDNS_RDF_TYPE_INT8, (uint8_t)ldns_dname_label_count(
					ldns_rr_owner(rr))), 2));
			ldns_rr_list_push_rr(rrs, junk);
		}
		ldns_rr_list_push_rr(rrs, rr);
	}
	take_from_zone(z->zone_file, "wild-zone.example.", LDNS_RR_TYPE_DNSKEY, rrs);
	ldns_rr_list_deep_free(taken);
	return rrs;
}

static void test_wildcard_chain(void **state)
{
	const char *name = "alice._device.wild-zone.example.";
	EVP_PKEY *key = tu_key("P-256");
	X509 *cert = tu_cert(key, name, 30);
	struct tu_zone z;
	(void)state;

	tu_zone_begin(&z, "wild-zone.example.");
	tu_zone_add_tlsa(&z, "*._device.wild-zone.example.", cert, 3, 1, 1);
	tu_zone_finish(&z, 0);
	for (int junk_first = 0; junk_first < 2; junk_first++) {
		ldns_rr_list *rrs = wildcard_chain(&z, name, junk_first);
		assert_int_equal(verify_built(rrs, z.anchor_file, name), DANEMSG_CHAIN_INCOMPLETE);
		ldns_rr_list_deep_free(rrs);
	}
	tu_zone_end(&z);
	X509_free(cert);
	EVP_PKEY_free(key);
}

/* ---- in messages ---- */

static char *seal_from_sender(int with_chain)
{
	danemsg_credential *cred = NULL;
	danemsg_seal_options opts;
	const char *to[] = {fx.recipient};
	char *out = NULL, err[512];
	size_t out_len;

	assert_int_equal(danemsg_credential_load(fx.dir, fx.sender, &cred, NULL, 0), DANEMSG_OK);
	danemsg_seal_options_init(&opts);
	opts.with_dnssec_chain = with_chain;
	assert_int_equal(danemsg_seal(fx.r, cred, to, 1, (const uint8_t *)"offline", 7, &opts,
				      &out, &out_len, err, sizeof(err)), DANEMSG_OK);
	danemsg_credential_free(cred);
	return out;
}

static danemsg_err open_with(danemsg_resolver *r, const danemsg_trust_anchor *ta,
			     danemsg_chain_time at, const char *sealed, int64_t now,
			     danemsg_message **m, char *err, size_t errlen)
{
	danemsg_credential *bob = NULL;
	danemsg_policy *p = NULL;
	danemsg_replay_ops none = {DANEMSG_REPLAY_OPS_VERSION, NULL, NULL};
	danemsg_err e;

	assert_int_equal(danemsg_credential_load(fx.dir, fx.recipient, &bob, NULL, 0), DANEMSG_OK);
	assert_int_equal(danemsg_policy_new(&p), DANEMSG_OK);
	danemsg_policy_set_replay(p, none);
	danemsg_policy_set_freshness(p, 366u * 86400u, 60);
	assert_int_equal(danemsg_policy_set_chain_anchor(p, ta, at), DANEMSG_OK);
	e = danemsg_open_at(r, (const danemsg_credential *const *)&bob, 1, p, now,
			    (const uint8_t *)sealed, strlen(sealed), m, err, errlen);
	danemsg_policy_free(p);
	danemsg_credential_free(bob);
	return e;
}

static void test_message_opens_offline(void **state)
{
	char *sealed = seal_from_sender(1), *plain = seal_from_sender(0), err[512];
	danemsg_message *m = NULL;
	int64_t now = (int64_t)time(NULL);
	(void)state;

	/* No resolver at all: the chain in the message is the only source. */
	assert_int_equal(open_with(NULL, fx.ta, DANEMSG_CHAIN_AT_NOW, sealed, now, &m, err,
				   sizeof(err)), DANEMSG_OK);
	assert_string_equal(danemsg_message_from(m), fx.sender);
	assert_int_equal(danemsg_message_dnssec(m), DANEMSG_DNSSEC_SECURE);
	danemsg_message_free(m);
	m = NULL;
	/* After the RRSIGs expired: refused as of now, opened as of iat (an archive). */
	assert_int_equal(open_with(NULL, fx.ta, DANEMSG_CHAIN_AT_NOW, sealed, fx.expiration + 1,
				   &m, err, sizeof(err)), DANEMSG_ERR_DNS_BOGUS);
	assert_non_null(strstr(err, "expired"));
	assert_int_equal(open_with(NULL, fx.ta, DANEMSG_CHAIN_AT_IAT, sealed, fx.expiration + 1,
				   &m, err, sizeof(err)), DANEMSG_OK);
	danemsg_message_free(m);
	m = NULL;
	/* The wrong anchor; no chain and no DNS. */
	assert_int_equal(open_with(NULL, fx.wrong_ta, DANEMSG_CHAIN_AT_NOW, sealed, now, &m, err,
				   sizeof(err)), DANEMSG_ERR_DNS_BOGUS);
	assert_non_null(strstr(err, "no-anchor"));
	assert_int_equal(open_with(NULL, fx.ta, DANEMSG_CHAIN_AT_NOW, plain, now, &m, err,
				   sizeof(err)), DANEMSG_ERR_UNKNOWN_SENDER);
	/* Online: DNS decides, but a carried chain that does not verify is refused. */
	assert_int_equal(open_with(fx.r, NULL, DANEMSG_CHAIN_AT_NOW, sealed, now, &m, err,
				   sizeof(err)), DANEMSG_OK);
	danemsg_message_free(m);
	m = NULL;
	assert_int_equal(open_with(fx.r, fx.wrong_ta, DANEMSG_CHAIN_AT_NOW, sealed, now, &m, err,
				   sizeof(err)), DANEMSG_ERR_DNS_BOGUS);
	assert_int_equal(open_with(fx.r, fx.wrong_ta, DANEMSG_CHAIN_AT_NOW, plain, now, &m, err,
				   sizeof(err)), DANEMSG_OK);
	danemsg_message_free(m);
	free(sealed);
	free(plain);
}

/* The reference format has no room for a chain: asking for one is a usage error. */
static void test_compat_carries_no_chain(void **state)
{
	danemsg_credential *cred = NULL;
	danemsg_seal_options opts;
	const char *to[] = {fx.rsa};
	char *out = NULL, err[512];
	size_t out_len;
	(void)state;

	assert_int_equal(danemsg_credential_load(fx.dir, fx.rsa, &cred, NULL, 0), DANEMSG_OK);
	danemsg_seal_options_init(&opts);
	opts.compat = 1;
	opts.with_dnssec_chain = 1;
	assert_int_equal(danemsg_seal(fx.r, cred, to, 1, (const uint8_t *)"x", 1, &opts, &out,
				      &out_len, err, sizeof(err)), DANEMSG_ERR_INVALID_ARG);
	assert_null(out);
	opts.with_dnssec_chain = 0;
	assert_int_equal(danemsg_seal(fx.r, cred, to, 1, (const uint8_t *)"x", 1, &opts, &out,
				      &out_len, err, sizeof(err)), DANEMSG_OK);
	free(out);
	danemsg_credential_free(cred);
}

/* ---- fixture ---- */

static void write_wrong_anchor(void)
{
	FILE *in = fopen(getenv("DANEMSG_TRUST_ANCHOR"), "r"), *out;
	char line[1024];
	snprintf(fx.wrong_anchor, sizeof(fx.wrong_anchor), "%s/wrong-anchor", fx.dir);
	out = fopen(fx.wrong_anchor, "w");
	assert_non_null(in);
	assert_non_null(out);
	while (fgets(line, sizeof(line), in)) {
		size_t n = strlen(line);
		/* the digest's last hex digit changed: another key's DS, same zone */
		while (n && (line[n - 1] == '\n' || line[n - 1] == ' '))
			n--;
		if (n && line[0] != ';')
			line[n - 1] = line[n - 1] == '0' ? '1' : '0';
		fputs(line, out);
	}
	fclose(in);
	fclose(out);
}

static int setup(void **state)
{
	const char *anchors[] = {getenv("DANEMSG_TRUST_ANCHOR"), NULL}, *wrong[2] = {NULL};
	danemsg_resolver_config cfg;
	char err[512];
	ldns_rr_list *rrs;
	(void)state;

	fx.dir = tu_tempdir();
	snprintf(fx.sender, sizeof(fx.sender), "alice._device.c%d.%s", (int)getpid(),
		 getenv("DANEMSG_ZONE"));
	snprintf(fx.recipient, sizeof(fx.recipient), "bob._device.c%d.%s", (int)getpid(),
		 getenv("DANEMSG_ZONE"));
	snprintf(fx.rsa, sizeof(fx.rsa), "carol._device.c%d.%s", (int)getpid(),
		 getenv("DANEMSG_ZONE"));
	publish_identity(fx.dir, fx.sender, "p256");
	publish_identity(fx.dir, fx.recipient, "p256");
	publish_identity(fx.dir, fx.rsa, "rsa2048");
	danemsg_resolver_config_init(&cfg);
	cfg.server = getenv("DANEMSG_RESOLVER");
	cfg.trust_anchor_files = anchors;
	cfg.root_anchor_file = "";
	assert_int_equal(danemsg_resolver_new(&cfg, &fx.r, err, sizeof(err)), DANEMSG_OK);
	assert_int_equal(danemsg_chain_collect(fx.r, fx.sender, &fx.wire, &fx.len, err,
					       sizeof(err)), DANEMSG_OK);
	assert_int_equal(danemsg_trust_anchor_load(anchors, &fx.ta, err, sizeof(err)), 0);
	write_wrong_anchor();
	wrong[0] = fx.wrong_anchor;
	assert_int_equal(danemsg_trust_anchor_load(wrong, &fx.wrong_ta, err, sizeof(err)), 0);
	fx.inception = 0;
	fx.expiration = INT64_MAX;
	rrs = records_of(fx.wire, fx.len);
	for (size_t i = 0; i < ldns_rr_list_rr_count(rrs); i++) {
		ldns_rr *rr = ldns_rr_list_rr(rrs, i);
		int64_t inc, exp;
		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_RRSIG)
			continue;
		inc = ldns_rdf2native_time_t(ldns_rr_rrsig_inception(rr));
		exp = ldns_rdf2native_time_t(ldns_rr_rrsig_expiration(rr));
		fx.inception = inc > fx.inception ? inc : fx.inception;
		fx.expiration = exp < fx.expiration ? exp : fx.expiration;
	}
	print_message("chain of %s: %zu bytes, %zu records\n", fx.sender, fx.len,
		      ldns_rr_list_rr_count(rrs));
	ldns_rr_list_deep_free(rrs);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(fx.wire);
	danemsg_trust_anchor_free(fx.ta);
	danemsg_trust_anchor_free(fx.wrong_ta);
	danemsg_resolver_free(fx.r);
	tu_rmtree(fx.dir);
	free(fx.dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chain_cases),
		cmocka_unit_test(test_reason_names),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_anchor_error_line),
		cmocka_unit_test(test_delegation_chain),
		cmocka_unit_test(test_wildcard_chain),
		cmocka_unit_test(test_message_opens_offline),
		cmocka_unit_test(test_compat_carries_no_chain),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

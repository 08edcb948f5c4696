/* DNSSEC chains of TLSA records, carried in messages and verified with no network:
 * parse (bounded), climb from the TLSA RRset to a trust anchor, check every RRSIG with
 * ldns at an explicit time. Collecting goes through the resolver's validating context. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ldns/ldns.h>

#include <danemsg.h>

#include "chain_internal.h"
#include "dname.h"
#include "error_internal.h"
#include "identity_internal.h"
#include "jose.h"
#include "policy_internal.h"

#define DNSKEY_FLAG_ZONE 0x0100
#define DNSKEY_FLAG_REVOKE 0x0080

/* What one verification carries along. */
struct chain_check {
	ldns_rr_list *rrs;                  /* every record of the chain */
	const danemsg_trust_anchor *ta;
	time_t at;
	danemsg_chain_reason reason;
	char *errbuf;
	size_t errlen;
};

const char *danemsg_chain_reason_name(danemsg_chain_reason reason)
{
	static const char *const names[] = {
		"ok", "malformed", "truncated", "too-large", "wrong-name", "incomplete",
		"no-anchor", "bad-signature", "expired",
	};
	return (size_t)reason < sizeof(names) / sizeof(names[0]) ? names[reason] : "unknown";
}

/* The error a reason is reported as. */
static danemsg_err reason_err(danemsg_chain_reason reason)
{
	switch (reason) {
	case DANEMSG_CHAIN_OK: return DANEMSG_OK;
	case DANEMSG_CHAIN_MALFORMED:
	case DANEMSG_CHAIN_TRUNCATED: return DANEMSG_ERR_MALFORMED;
	case DANEMSG_CHAIN_TOO_LARGE: return DANEMSG_ERR_TOO_LARGE;
	default: return DANEMSG_ERR_DNS_BOGUS;
	}
}

static danemsg_err refuse(struct chain_check *c, danemsg_chain_reason reason,
			  const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static danemsg_err refuse(struct chain_check *c, danemsg_chain_reason reason,
			  const char *fmt, ...)
{
	va_list ap;
	c->reason = reason;
	if (c->errbuf && c->errlen) {
		int n = snprintf(c->errbuf, c->errlen, "DNSSEC chain %s: ",
				 danemsg_chain_reason_name(reason));
		va_start(ap, fmt);
		errbuf_vset(c->errbuf, c->errlen, n > 0 ? (size_t)n : c->errlen, fmt, ap);
		va_end(ap);
	}
	return reason_err(reason);
}

/* ---- trust anchors ---- */

/* ldns counts a line when it reads the newline that ends it: after a record the count is
 * one ahead, unless the file ended without a newline. */
static int record_end_line(FILE *f, int line)
{
	if (line > 1 && fseek(f, -1, SEEK_CUR) == 0 && fgetc(f) == '\n')
		return line - 1;
	return line;
}

danemsg_err chain_anchor_read_file(const char *path, ldns_rr_list *into, size_t *added,
				   char *errbuf, size_t errlen)
{
	FILE *f = fopen(path, "r");
	int line = 1;
	uint32_t ttl = 3600;
	ldns_rdf *origin = NULL, *prev = NULL;
	danemsg_err err = DANEMSG_OK;
	size_t n = 0;

	if (added)
		*added = 0;
	if (!f)
		return errbuf_set(errbuf, errlen, DANEMSG_ERR_DNS_CONFIG,
				  "cannot read trust anchor file %s: %s", path, strerror(errno));
	while (!err && !feof(f)) {
		ldns_rr *rr = NULL;
		ldns_status st = ldns_rr_new_frm_fp_l(&rr, f, &ttl, &origin, &prev, &line);
		if (st == LDNS_STATUS_SYNTAX_EMPTY || st == LDNS_STATUS_SYNTAX_TTL ||
		    st == LDNS_STATUS_SYNTAX_ORIGIN || st == LDNS_STATUS_SYNTAX_INCLUDE)
			continue;
		if (st != LDNS_STATUS_OK) {
			err = errbuf_set(errbuf, errlen, DANEMSG_ERR_DNS_CONFIG,
					 "trust anchor file %s, line %d: %s", path,
					 record_end_line(f, line),
					 ldns_get_errorstr_by_id(st));
		} else if ((ldns_rr_get_type(rr) == LDNS_RR_TYPE_DS ||
			    ldns_rr_get_type(rr) == LDNS_RR_TYPE_DNSKEY) &&
			   ldns_rr_list_push_rr(into, rr)) {
			rr = NULL;
			n++;
		}
		ldns_rr_free(rr);
	}
	ldns_rdf_deep_free(origin);
	ldns_rdf_deep_free(prev);
	fclose(f);
	if (!err && !n)
		err = errbuf_set(errbuf, errlen, DANEMSG_ERR_DNS_CONFIG,
				 "trust anchor file %s holds no DS or DNSKEY record", path);
	if (added)
		*added = n;
	return err;
}

danemsg_err danemsg_trust_anchor_load(const char *const *files, danemsg_trust_anchor **out,
				      char *errbuf, size_t errlen)
{
	danemsg_trust_anchor *ta;
	danemsg_err err = DANEMSG_OK;

	if (errbuf && errlen)
		errbuf[0] = '\0';
	if (!files || !*files || !out)
		return errbuf_set(errbuf, errlen, DANEMSG_ERR_INVALID_ARG, "no trust anchor file");
	*out = NULL;
	ta = calloc(1, sizeof(*ta));
	if (!ta || !(ta->rrs = ldns_rr_list_new())) {
		free(ta);
		return DANEMSG_ERR_NOMEM;
	}
	for (; !err && *files; files++)
		err = chain_anchor_read_file(*files, ta->rrs, NULL, errbuf, errlen);
	if (err) {
		danemsg_trust_anchor_free(ta);
		return err;
	}
	*out = ta;
	return DANEMSG_OK;
}

void danemsg_trust_anchor_free(danemsg_trust_anchor *ta)
{
	if (!ta)
		return;
	ldns_rr_list_deep_free(ta->rrs);
	free(ta);
}

/* ---- parsing ---- */

/* Reads one record at *pos; it must be written exactly as ldns writes it back
 * (uncompressed, so nothing points elsewhere), class IN. */
static danemsg_err parse_record(struct chain_check *c, const uint8_t *wire, size_t len,
				size_t *pos, ldns_rr **out)
{
	size_t start = *pos, again_len = 0;
	uint8_t *again = NULL;
	const ldns_rr_descriptor *desc;
	ldns_status st = ldns_wire2rr(out, wire, len, pos, LDNS_SECTION_ANSWER);
	int same;

	if (st == LDNS_STATUS_PACKET_OVERFLOW || st == LDNS_STATUS_WIRE_RDATA_ERR)
		return refuse(c, DANEMSG_CHAIN_TRUNCATED, "the data ends inside the record at "
			      "offset %zu", start);
	if (st != LDNS_STATUS_OK)
		return refuse(c, DANEMSG_CHAIN_MALFORMED, "record at offset %zu: %s", start,
			      ldns_get_errorstr_by_id(st));
	if (ldns_rr2wire(&again, *out, LDNS_SECTION_ANSWER, &again_len) != LDNS_STATUS_OK) {
		free(again);
		return refuse(c, DANEMSG_CHAIN_MALFORMED, "record at offset %zu", start);
	}
	same = again_len == *pos - start && !memcmp(again, wire + start, again_len);
	free(again);
	if (!same || ldns_rr_get_class(*out) != LDNS_RR_CLASS_IN)
		return refuse(c, DANEMSG_CHAIN_MALFORMED, "record at offset %zu is compressed, "
			      "not of class IN, or not in canonical wire format", start);
	/* An empty RDATA parses (as in an UPDATE) but has none of the fields read later. */
	desc = ldns_rr_descript((uint16_t)ldns_rr_get_type(*out));
	if (desc && ldns_rr_rd_count(*out) < ldns_rr_descriptor_minimum(desc))
		return refuse(c, DANEMSG_CHAIN_MALFORMED, "record at offset %zu lacks fields",
			      start);
	return DANEMSG_OK;
}

static danemsg_err parse_chain(struct chain_check *c, const uint8_t *wire, size_t len)
{
	size_t pos = 0;

	if (len > DANEMSG_CHAIN_MAX_BYTES)
		return refuse(c, DANEMSG_CHAIN_TOO_LARGE, "%zu bytes, over %u", len,
			      DANEMSG_CHAIN_MAX_BYTES);
	if (!len)
		return refuse(c, DANEMSG_CHAIN_MALFORMED, "empty");
	while (pos < len) {
		ldns_rr *rr = NULL;
		danemsg_err err;
		if (ldns_rr_list_rr_count(c->rrs) >= DANEMSG_CHAIN_MAX_RECORDS)
			return refuse(c, DANEMSG_CHAIN_TOO_LARGE, "over %u records",
				      DANEMSG_CHAIN_MAX_RECORDS);
		err = parse_record(c, wire, len, &pos, &rr);
		if (!err && !ldns_rr_list_push_rr(c->rrs, rr))
			err = DANEMSG_ERR_NOMEM;
		if (err) {
			ldns_rr_free(rr);
			return err;
		}
	}
	return DANEMSG_OK;
}

/* ---- verification ---- */

static int same_name(const ldns_rdf *a, const ldns_rdf *b)
{
	return ldns_dname_compare(a, b) == 0;
}

/* The records of an RRset (owner, type) of the chain, or the RRSIGs that cover it
 * (sigs nonzero), made by signer if not NULL. A list that borrows the records. */
static ldns_rr_list *select_records(const ldns_rr_list *rrs, const ldns_rdf *owner,
				    ldns_rr_type type, int sigs, const ldns_rdf *signer)
{
	ldns_rr_list *out = ldns_rr_list_new();
	for (size_t i = 0; out && i < ldns_rr_list_rr_count(rrs); i++) {
		ldns_rr *rr = ldns_rr_list_rr(rrs, i);
		if (!same_name(ldns_rr_owner(rr), owner))
			continue;
		if (!sigs ? ldns_rr_get_type(rr) != type :
			    ldns_rr_get_type(rr) != LDNS_RR_TYPE_RRSIG ||
			    ldns_rr_rd_count(rr) != 9 ||
			    ldns_rdf2rr_type(ldns_rr_rrsig_typecovered(rr)) != type ||
			    (signer && !same_name(ldns_rr_rrsig_signame(rr), signer)))
			continue;
		ldns_rr_list_push_rr(out, rr);
	}
	return out;
}

/* Verifies rrset with the RRSIGs of sigs and the keys of keys, at c->at. */
static danemsg_err check_signatures(struct chain_check *c, ldns_rr_list *rrset,
				    ldns_rr_list *sigs, ldns_rr_list *keys, const char *what)
{
	ldns_status st;
	size_t n = ldns_rr_list_rr_count(sigs);

	if (!n || !ldns_rr_list_rr_count(rrset))
		return refuse(c, DANEMSG_CHAIN_INCOMPLETE, "no RRSIG for %s", what);
	if (n > DANEMSG_CHAIN_MAX_SIGS || ldns_rr_list_rr_count(keys) > DANEMSG_CHAIN_MAX_KEYS)
		return refuse(c, DANEMSG_CHAIN_TOO_LARGE, "over %u RRSIGs or %u keys for %s",
			      DANEMSG_CHAIN_MAX_SIGS, DANEMSG_CHAIN_MAX_KEYS, what);
	/* ldns accepts any RRSIG that verifies, a wildcard expansion too (fewer labels than
	 * the owner), which would need a proof that no closer name exists: every RRSIG of
	 * the set must cover the owner itself, not only the first. */
	for (size_t i = 0; i < n; i++)
		if (ldns_rdf2native_int8(ldns_rr_rrsig_labels(ldns_rr_list_rr(sigs, i))) !=
		    ldns_dname_label_count(ldns_rr_owner(ldns_rr_list_rr(rrset, 0))))
			return refuse(c, DANEMSG_CHAIN_INCOMPLETE, "an RRSIG of %s is a wildcard "
				      "expansion, without denial proof", what);
	st = ldns_verify_time(rrset, sigs, keys, c->at, NULL);
	if (st == LDNS_STATUS_OK)
		return DANEMSG_OK;
	if (st == LDNS_STATUS_CRYPTO_SIG_EXPIRED || st == LDNS_STATUS_CRYPTO_SIG_NOT_INCEPTED)
		return refuse(c, DANEMSG_CHAIN_EXPIRED, "the RRSIG of %s is not valid at %lld (%s)",
			      what, (long long)c->at, ldns_get_errorstr_by_id(st));
	return refuse(c, DANEMSG_CHAIN_BAD_SIGNATURE, "%s: %s", what,
		      ldns_get_errorstr_by_id(st));
}

/* Does DNSKEY key match one of the DS or DNSKEY records in trusted (owner compared)? */
static int key_is_trusted(const ldns_rr *key, const ldns_rr_list *trusted)
{
	uint16_t flags = ldns_rdf2native_int16(ldns_rr_dnskey_flags(key));
	if (!(flags & DNSKEY_FLAG_ZONE) || (flags & DNSKEY_FLAG_REVOKE))
		return 0;
	for (size_t i = 0; i < ldns_rr_list_rr_count(trusted); i++) {
		const ldns_rr *t = ldns_rr_list_rr(trusted, i);
		if (!same_name(ldns_rr_owner(t), ldns_rr_owner(key)))
			continue;
		if (ldns_rr_get_type(t) == LDNS_RR_TYPE_DNSKEY ? ldns_rr_compare(t, key) == 0
							       : ldns_rr_compare_ds(t, key))
			return 1;
	}
	return 0;
}

/* The keys of a DNSKEY set that a DS or anchor in trusted vouches for. */
static ldns_rr_list *trusted_keys(const ldns_rr_list *dnskeys, const ldns_rr_list *trusted)
{
	ldns_rr_list *out = ldns_rr_list_new();
	for (size_t i = 0; out && i < ldns_rr_list_rr_count(dnskeys); i++)
		if (key_is_trusted(ldns_rr_list_rr(dnskeys, i), trusted))
			ldns_rr_list_push_rr(out, ldns_rr_list_rr(dnskeys, i));
	return out;
}

static int is_anchored(const struct chain_check *c, const ldns_rdf *zone)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(c->ta->rrs); i++)
		if (same_name(ldns_rr_owner(ldns_rr_list_rr(c->ta->rrs, i)), zone))
			return 1;
	return 0;
}

static danemsg_err zone_keys(struct chain_check *c, const ldns_rdf *zone, unsigned depth,
			     ldns_rr_list **keys);

/* The DS RRset of zone, verified with its parent's keys: what vouches for zone's keys. */
static danemsg_err delegation(struct chain_check *c, const ldns_rdf *zone, unsigned depth,
			      ldns_rr_list **ds)
{
	ldns_rr_list *sigs = NULL, *parent_keys = NULL;
	char *zname = ldns_rdf2str(zone);
	danemsg_err err = DANEMSG_OK;

	*ds = select_records(c->rrs, zone, LDNS_RR_TYPE_DS, 0, NULL);
	sigs = select_records(c->rrs, zone, LDNS_RR_TYPE_DS, 1, NULL);
	if (!*ds || !sigs || !zname)
		err = DANEMSG_ERR_NOMEM;
	else if (ldns_dname_label_count(zone) == 0 || depth + 1 >= DANEMSG_CHAIN_MAX_ZONES)
		err = refuse(c, DANEMSG_CHAIN_NO_ANCHOR, "%s: no trust anchor up to here", zname);
	else if (!ldns_rr_list_rr_count(*ds) || !ldns_rr_list_rr_count(sigs))
		err = refuse(c, DANEMSG_CHAIN_INCOMPLETE, "no DS RRset or RRSIG for %s", zname);
	if (!err) {
		/* The parent is the DS's signer, which must be an ancestor of zone. */
		const ldns_rdf *parent = ldns_rr_rrsig_signame(ldns_rr_list_rr(sigs, 0));
		ldns_rr_list *by_parent = select_records(c->rrs, zone, LDNS_RR_TYPE_DS, 1, parent);
		if (!by_parent)
			err = DANEMSG_ERR_NOMEM;
		else if (!ldns_dname_is_subdomain(zone, parent))
			err = refuse(c, DANEMSG_CHAIN_MALFORMED, "the DS of %s is signed by a zone "
				     "not above it", zname);
		if (!err)
			err = zone_keys(c, parent, depth + 1, &parent_keys);
		if (!err)
			err = check_signatures(c, *ds, by_parent, parent_keys, "a DS RRset");
		ldns_rr_list_free(by_parent);
	}
	ldns_rr_list_free(sigs);
	ldns_rr_list_free(parent_keys);
	free(zname);
	return err;
}

/* zone's DNSKEY RRset, verified from a trust anchor down: *keys borrows its records. */
static danemsg_err zone_keys(struct chain_check *c, const ldns_rdf *zone, unsigned depth,
			     ldns_rr_list **keys)
{
	ldns_rr_list *dnskeys = select_records(c->rrs, zone, LDNS_RR_TYPE_DNSKEY, 0, NULL);
	ldns_rr_list *sigs = select_records(c->rrs, zone, LDNS_RR_TYPE_DNSKEY, 1, zone);
	ldns_rr_list *ds = NULL, *vouched = NULL;
	char *zname = ldns_rdf2str(zone);
	danemsg_err err = DANEMSG_OK;

	*keys = NULL;
	if (!dnskeys || !sigs || !zname)
		err = DANEMSG_ERR_NOMEM;
	else if (!ldns_rr_list_rr_count(dnskeys))
		err = refuse(c, DANEMSG_CHAIN_INCOMPLETE, "no DNSKEY RRset for %s", zname);
	else if (ldns_rr_list_rr_count(dnskeys) > DANEMSG_CHAIN_MAX_KEYS)
		err = refuse(c, DANEMSG_CHAIN_TOO_LARGE, "over %u DNSKEYs for %s",
			     DANEMSG_CHAIN_MAX_KEYS, zname);
	else if (!is_anchored(c, zone))
		err = delegation(c, zone, depth, &ds);
	if (!err) {
		vouched = trusted_keys(dnskeys, ds ? ds : c->ta->rrs);
		if (!vouched)
			err = DANEMSG_ERR_NOMEM;
		else if (!ldns_rr_list_rr_count(vouched))
			err = refuse(c, DANEMSG_CHAIN_NO_ANCHOR, "no DNSKEY of %s matches %s",
				     zname, ds ? "its DS" : "the trust anchor");
	}
	if (!err)
		err = check_signatures(c, dnskeys, sigs, vouched, "a DNSKEY RRset");
	if (!err) {
		*keys = dnskeys;
		dnskeys = NULL;
	}
	ldns_rr_list_free(dnskeys);
	ldns_rr_list_free(sigs);
	ldns_rr_list_free(ds);
	ldns_rr_list_free(vouched);
	free(zname);
	return err;
}

/* The TLSA RRset of owner, its RRSIGs made by the zone above it, checked up to the anchor. */
static danemsg_err check_tlsa(struct chain_check *c, const ldns_rdf *owner, ldns_rr_list **tlsa)
{
	ldns_rr_list *sigs = select_records(c->rrs, owner, LDNS_RR_TYPE_TLSA, 1, NULL);
	ldns_rr_list *by_zone = NULL, *keys = NULL;
	danemsg_err err = DANEMSG_OK;
	const ldns_rdf *zone;

	*tlsa = select_records(c->rrs, owner, LDNS_RR_TYPE_TLSA, 0, NULL);
	if (!*tlsa || !sigs)
		err = DANEMSG_ERR_NOMEM;
	else if (!ldns_rr_list_rr_count(*tlsa))
		err = refuse(c, DANEMSG_CHAIN_WRONG_NAME, "no TLSA records for the sender");
	else if (!ldns_rr_list_rr_count(sigs))
		err = refuse(c, DANEMSG_CHAIN_INCOMPLETE, "no RRSIG for the TLSA RRset");
	if (err)
		goto done;
	zone = ldns_rr_rrsig_signame(ldns_rr_list_rr(sigs, 0));
	if (!ldns_dname_is_subdomain(owner, zone) && !same_name(owner, zone)) {
		err = refuse(c, DANEMSG_CHAIN_MALFORMED, "the TLSA RRset is signed by a zone not "
			     "above it");
		goto done;
	}
	by_zone = select_records(c->rrs, owner, LDNS_RR_TYPE_TLSA, 1, zone);
	err = by_zone ? zone_keys(c, zone, 0, &keys) : DANEMSG_ERR_NOMEM;
	if (!err)
		err = check_signatures(c, *tlsa, by_zone, keys, "the TLSA RRset");
done:
	ldns_rr_list_free(sigs);
	ldns_rr_list_free(by_zone);
	ldns_rr_list_free(keys);
	return err;
}

/* The identity the verified TLSA RRset gives: DNSSEC secure. */
static danemsg_err identity_from_tlsa(const char *canon, const ldns_rr_list *tlsa,
				      danemsg_identity **out)
{
	size_t n = ldns_rr_list_rr_count(tlsa);
	char *rdata[DANEMSG_CHAIN_MAX_RECORDS] = {0};
	int lens[DANEMSG_CHAIN_MAX_RECORDS];
	ldns_buffer *buf = ldns_buffer_new(512);
	danemsg_identity *id = identity_new(canon);
	danemsg_err err = id && buf ? DANEMSG_OK : DANEMSG_ERR_NOMEM;

	for (size_t i = 0; !err && i < n; i++) {
		ldns_buffer_clear(buf);
		if (ldns_rr_rdata2buffer_wire(buf, ldns_rr_list_rr(tlsa, i)) != LDNS_STATUS_OK ||
		    !(rdata[i] = malloc(ldns_buffer_position(buf) + 1)))
			err = DANEMSG_ERR_NOMEM;
		else {
			lens[i] = (int)ldns_buffer_position(buf);
			memcpy(rdata[i], ldns_buffer_begin(buf), (size_t)lens[i]);
		}
	}
	if (!err)
		err = identity_set_records(id, rdata, lens, n);
	for (size_t i = 0; i < n; i++)
		free(rdata[i]);
	ldns_buffer_free(buf);
	if (err) {
		danemsg_identity_unref(id);
		return err;
	}
	id->dnssec = DANEMSG_DNSSEC_SECURE;
	id->status = DANEMSG_ERR_NO_USABLE_RECORD;
	for (size_t i = 0; i < id->n_records; i++)
		if (id->records[i].usable)
			id->status = DANEMSG_OK;
	identity_set_why(id, id->status ? "no record can be used (see each record's reason)"
					: "from the DNSSEC chain the message carries");
	*out = id;
	return DANEMSG_OK;
}

danemsg_err danemsg_chain_verify(const uint8_t *chain, size_t len, const char *name,
				 const danemsg_trust_anchor *ta, int64_t at,
				 danemsg_identity **out, danemsg_chain_reason *reason,
				 char *errbuf, size_t errlen)
{
	struct chain_check c = {NULL, ta, (time_t)at, DANEMSG_CHAIN_OK, errbuf, errlen};
	char canon[258];
	ldns_rdf *owner = NULL;
	ldns_rr_list *tlsa = NULL;
	danemsg_err err;

	if (errbuf && errlen)
		errbuf[0] = '\0';
	if (reason)
		*reason = DANEMSG_CHAIN_OK;
	if (out)
		*out = NULL;
	if ((!chain && len) || !name || !ta || !out ||
	    dname_canonical(name, canon, sizeof(canon)))
		return errbuf_set(errbuf, errlen, DANEMSG_ERR_INVALID_ARG, "invalid argument");
	c.rrs = ldns_rr_list_new();
	owner = ldns_dname_new_frm_str(canon);
	err = c.rrs && owner ? parse_chain(&c, chain, len) : DANEMSG_ERR_NOMEM;
	if (!err)
		err = check_tlsa(&c, owner, &tlsa);
	if (!err)
		err = identity_from_tlsa(canon, tlsa, out);
	if (reason)
		*reason = c.reason;
	ldns_rr_list_free(tlsa);
	ldns_rr_list_deep_free(c.rrs);
	ldns_rdf_deep_free(owner);
	return err;
}

/* ---- collecting ---- */

/* Appends to out the RRset (owner, type) of an answer and the RRSIGs that cover it. */
static danemsg_err take_rrset(const ldns_pkt *pkt, const ldns_rdf *owner, ldns_rr_type type,
			      ldns_buffer *out, const ldns_rdf **signer)
{
	const ldns_rr_list *answer = ldns_pkt_answer(pkt);
	size_t found = 0, sigs = 0;

	for (size_t i = 0; i < ldns_rr_list_rr_count(answer); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(answer, i);
		int is_sig = ldns_rr_get_type(rr) == LDNS_RR_TYPE_RRSIG;
		if (!same_name(ldns_rr_owner(rr), owner) ||
		    (is_sig ? ldns_rdf2rr_type(ldns_rr_rrsig_typecovered(rr)) != type
			    : ldns_rr_get_type(rr) != type))
			continue;
		if (ldns_rr2buffer_wire(out, rr, LDNS_SECTION_ANSWER) != LDNS_STATUS_OK)
			return DANEMSG_ERR_NOMEM;
		if (is_sig && !sigs++)
			*signer = ldns_rr_rrsig_signame(rr);
		found += !is_sig;
	}
	return found && sigs ? DANEMSG_OK : DANEMSG_ERR_DNS_NOT_FOUND;
}

/* Queries (owner, type) and appends its RRset and RRSIGs; *pkt keeps them alive. */
static danemsg_err collect_rrset(danemsg_resolver *r, const ldns_rdf *owner,
				 ldns_rr_type type, ldns_buffer *out, ldns_pkt **pkt,
				 const ldns_rdf **signer, char *errbuf, size_t errlen)
{
	char *text = ldns_rdf2str(owner);
	danemsg_err err = text ? resolver_query_packet(r, text, type, pkt, errbuf, errlen)
			       : DANEMSG_ERR_NOMEM;
	if (!err && (err = take_rrset(*pkt, owner, type, out, signer)))
		errbuf_set(errbuf, errlen, err, "%s: the answer holds no signed RRset of type %d "
			   "(an alias?)", text, (int)type);
	free(text);
	return err;
}

/* TLSA of name, then DNSKEY of each zone and DS of each cut, up to an anchored zone. */
static danemsg_err collect_wire(danemsg_resolver *r, const ldns_rdf *owner, ldns_buffer *out,
				char *errbuf, size_t errlen)
{
	const danemsg_trust_anchor *ta = resolver_trust_anchor(r);
	struct chain_check c = {NULL, ta, 0, DANEMSG_CHAIN_OK, errbuf, errlen};
	ldns_pkt *pkts[2 * DANEMSG_CHAIN_MAX_ZONES + 1] = {0};
	const ldns_rdf *zone = NULL, *parent = NULL;
	size_t n = 0;
	danemsg_err err;

	err = collect_rrset(r, owner, LDNS_RR_TYPE_TLSA, out, &pkts[n++], &zone, errbuf, errlen);
	for (unsigned depth = 0; !err; depth++) {
		err = collect_rrset(r, zone, LDNS_RR_TYPE_DNSKEY, out, &pkts[n++], &parent,
				    errbuf, errlen);
		if (err || is_anchored(&c, zone))
			break;
		if (ldns_dname_label_count(zone) == 0 || depth + 1 >= DANEMSG_CHAIN_MAX_ZONES) {
			err = errbuf_set(errbuf, errlen, DANEMSG_ERR_DNS_CONFIG, "no trust anchor "
					 "of the resolver is above the sender's zone");
			break;
		}
		err = collect_rrset(r, zone, LDNS_RR_TYPE_DS, out, &pkts[n++], &parent, errbuf,
				    errlen);
		zone = parent;
	}
	for (size_t i = 0; i < n; i++)
		ldns_pkt_free(pkts[i]);
	return err;
}

danemsg_err danemsg_chain_collect(danemsg_resolver *r, const char *name, uint8_t **out,
				  size_t *out_len, char *errbuf, size_t errlen)
{
	char canon[258];
	ldns_rdf *owner = NULL;
	ldns_buffer *buf = NULL;
	danemsg_identity *check = NULL;
	danemsg_err err;

	if (errbuf && errlen)
		errbuf[0] = '\0';
	if (!r || !name || !out || !out_len || dname_canonical(name, canon, sizeof(canon)))
		return errbuf_set(errbuf, errlen, DANEMSG_ERR_INVALID_ARG, "invalid argument");
	*out = NULL;
	*out_len = 0;
	owner = ldns_dname_new_frm_str(canon);
	buf = ldns_buffer_new(1024);
	err = owner && buf ? collect_wire(r, owner, buf, errbuf, errlen) : DANEMSG_ERR_NOMEM;
	/* Checked as the receiver will, now: what does not verify is not sent. */
	if (!err)
		err = danemsg_chain_verify(ldns_buffer_begin(buf), ldns_buffer_position(buf), canon,
					   resolver_trust_anchor(r), (int64_t)time(NULL), &check,
					   NULL, errbuf, errlen);
	danemsg_identity_unref(check);
	if (!err && !(*out = malloc(ldns_buffer_position(buf))))
		err = DANEMSG_ERR_NOMEM;
	if (!err) {
		*out_len = ldns_buffer_position(buf);
		memcpy(*out, ldns_buffer_begin(buf), *out_len);
	}
	ldns_buffer_free(buf);
	ldns_rdf_deep_free(owner);
	return err;
}

/* ---- in the envelope ---- */

danemsg_err chain_header_add(danemsg_resolver *r, const char *name, json_t *header,
			     char *errbuf, size_t errlen)
{
	uint8_t *wire = NULL;
	size_t len = 0;
	danemsg_err err = danemsg_chain_collect(r, name, &wire, &len, errbuf, errlen);

	if (!err && json_object_set_new(header, CHAIN_HEADER, jose_b64url_json(wire, len)))
		err = DANEMSG_ERR_NOMEM;
	if (err && errbuf && errlen && !errbuf[0])
		errbuf_set(errbuf, errlen, err, "DNSSEC chain of %s: %s", name,
			   danemsg_strerror(err));
	free(wire);
	return err;
}

danemsg_err chain_sender_identity(danemsg_resolver *r, const danemsg_policy *policy,
				  const json_t *header, const char *sender, int64_t iat,
				  int64_t now, danemsg_identity **id, char *errbuf,
				  size_t errlen)
{
	const json_t *carried = json_object_get(header, CHAIN_HEADER);
	const char *text = json_string_value(carried);
	int64_t at = policy->chain_at == DANEMSG_CHAIN_AT_IAT ? iat : now;
	const danemsg_trust_anchor *ta = policy->chain_anchor ? policy->chain_anchor
							      : r ? resolver_trust_anchor(r) : NULL;
	uint8_t *wire = NULL;
	size_t len = 0;
	danemsg_identity *verified = NULL;
	danemsg_err err;

	*id = NULL;
	if (!ta || (!carried && r))
		return DANEMSG_OK;   /* the resolver decides alone */
	if (!carried)
		return errbuf_set(errbuf, errlen, DANEMSG_ERR_UNKNOWN_SENDER, "the message "
				  "carries no DNSSEC chain for %s, and there is no DNS to ask",
				  sender);
	if (!text || strlen(text) > jose_b64url_encoded_len(DANEMSG_CHAIN_MAX_BYTES))
		return errbuf_set(errbuf, errlen, text ? DANEMSG_ERR_TOO_LARGE
				  : DANEMSG_ERR_MALFORMED,
				  "the DNSSEC chain (%s) is not a base64url string of at most %u "
				  "bytes", CHAIN_HEADER, DANEMSG_CHAIN_MAX_BYTES);
	if (at <= 0)
		return errbuf_set(errbuf, errlen, DANEMSG_ERR_MALFORMED, "no iat to check the "
				  "DNSSEC chain at");
	err = jose_b64url_decode_alloc(text, strlen(text), &wire, &len);
	if (err)
		errbuf_set(errbuf, errlen, err, "the DNSSEC chain (%s) is not base64url",
			   CHAIN_HEADER);
	else
		err = danemsg_chain_verify(wire, len, sender, ta, at, &verified,
					   NULL, errbuf, errlen);
	free(wire);
	if (!err && !r)
		*id = verified;
	else
		danemsg_identity_unref(verified);
	if (!err && !r && verified->status)
		return errbuf_set(errbuf, errlen, DANEMSG_ERR_UNKNOWN_SENDER, "sender %s: the TLSA "
				  "records of its DNSSEC chain hold no usable key", sender);
	return err;
}

danemsg_err danemsg_policy_set_chain_anchor(danemsg_policy *policy,
					    const danemsg_trust_anchor *ta,
					    danemsg_chain_time at)
{
	if (!policy || (at != DANEMSG_CHAIN_AT_NOW && at != DANEMSG_CHAIN_AT_IAT))
		return DANEMSG_ERR_INVALID_ARG;
	policy->chain_anchor = ta;
	policy->chain_at = at;
	return DANEMSG_OK;
}

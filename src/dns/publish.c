/* Publishing TLSA records by DNS UPDATE (RFC 2136) signed with TSIG (RFC 8945), using ldns. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ldns/ldns.h>

#include <danemsg/publish.h>

#include "abi.h"
#include "error_internal.h"
#include "tlsa_internal.h"
#include "transport.h"
#include "tsig_internal.h"

#define TSIG_FUDGE 300              /* seconds, as nsupdate and knsupdate */
#define PUBLISH_MAX_RECORDS 64
/* The first version of the caller's options ends here (abi.h). */
#define PUBLISH_OPTIONS_SIZE_V1 ABI_SIZE_THROUGH(danemsg_publish_options, timeout_ms)
#define TLSA_DATA_MAX (65535 - 3)

/* RFC 8945 TSIG errors, carried in the TSIG record's error field. */
#define TSIG_BADSIG 16
#define TSIG_BADKEY 17
#define TSIG_BADTIME 18
#define TSIG_BADTRUNC 22

/* Fields of a TSIG record as ldns splits its RDATA. */
enum {
	TSIG_RDF_ALGORITHM = 0,
	TSIG_RDF_TIME = 1,
	TSIG_RDF_MAC = 3,
	TSIG_RDF_ERROR = 5,
	TSIG_RDF_OTHER = 6,
};

static const char *tsig_error_name(unsigned err)
{
	switch (err) {
	case 0: return "NOERROR";
	case TSIG_BADSIG: return "BADSIG";
	case TSIG_BADKEY: return "BADKEY";
	case TSIG_BADTIME: return "BADTIME";
	case TSIG_BADTRUNC: return "BADTRUNC";
	default: return transport_rcode_name(err);
	}
}

/* Updates. */

void danemsg_publish_options_init(danemsg_publish_options *opt)
{
	if (!opt)
		return;
	memset(opt, 0, sizeof(*opt));
	opt->struct_size = sizeof(*opt);
	opt->mode = DANEMSG_PUBLISH_REPLACE;
	opt->ttl = 300;
	opt->timeout_ms = 5000;
}

/* An update RR for TLSA at owner: with rec NULL no RDATA (deletes an RRset). */
static ldns_rr *update_rr(const ldns_rdf *owner, ldns_rr_class klass, uint32_t ttl,
			  const danemsg_tlsa *rec)
{
	ldns_rr *rr = ldns_rr_new();
	ldns_rdf *o = ldns_rdf_clone(owner);
	if (!rr || !o) {
		ldns_rr_free(rr);
		ldns_rdf_deep_free(o);
		return NULL;
	}
	ldns_rr_set_owner(rr, o);
	ldns_rr_set_type(rr, LDNS_RR_TYPE_TLSA);
	ldns_rr_set_class(rr, klass);
	ldns_rr_set_ttl(rr, ttl);
	if (rec) {
		ldns_rdf *f[4] = {
			ldns_native2rdf_int8(LDNS_RDF_TYPE_INT8, rec->usage),
			ldns_native2rdf_int8(LDNS_RDF_TYPE_INT8, rec->selector),
			ldns_native2rdf_int8(LDNS_RDF_TYPE_INT8, rec->matching_type),
			ldns_rdf_new_frm_data(LDNS_RDF_TYPE_HEX, rec->data_len, rec->data),
		};
		int ok = 1;
		for (size_t i = 0; i < 4; i++) {
			if (!f[i] || !ldns_rr_push_rdf(rr, f[i])) {
				ok = 0;
				ldns_rdf_deep_free(f[i]);
			}
		}
		if (!ok) {
			ldns_rr_free(rr);
			return NULL;
		}
	}
	return rr;
}

static danemsg_err update_list(const danemsg_publish_options *opt, const ldns_rdf *owner,
			       const danemsg_tlsa *recs, size_t n, ldns_rr_list **out)
{
	ldns_rr_list *list = ldns_rr_list_new();
	int delete_rrset = opt->mode == DANEMSG_PUBLISH_REPLACE ||
			   (opt->mode == DANEMSG_PUBLISH_REMOVE && n == 0);
	ldns_rr *rr = NULL;

	*out = NULL;
	if (!list)
		return DANEMSG_ERR_NOMEM;
	/* RFC 2136 2.5.2: class ANY, TTL 0, no RDATA deletes an RRset. */
	if (delete_rrset) {
		rr = update_rr(owner, LDNS_RR_CLASS_ANY, 0, NULL);
		if (!rr || !ldns_rr_list_push_rr(list, rr))
			goto nomem;
	}
	for (size_t i = 0; i < n; i++) {
		/* 2.5.4: class NONE, TTL 0 deletes one RR; 2.5.1: class IN adds one. */
		if (opt->mode == DANEMSG_PUBLISH_REMOVE)
			rr = update_rr(owner, LDNS_RR_CLASS_NONE, 0, &recs[i]);
		else
			rr = update_rr(owner, LDNS_RR_CLASS_IN, opt->ttl, &recs[i]);
		if (!rr || !ldns_rr_list_push_rr(list, rr))
			goto nomem;
	}
	*out = list;
	return DANEMSG_OK;
nomem:
	ldns_rr_free(rr);
	ldns_rr_list_deep_free(list);
	return DANEMSG_ERR_NOMEM;
}

/* Checks a TSIG-signed answer; returns NULL when it verifies, else why not. */
static const char *tsig_check_answer(ldns_pkt *answer, const uint8_t *wire, size_t wire_len,
				     const danemsg_tsig_key *key, const ldns_rdf *query_mac)
{
	const ldns_rr *tsig = ldns_pkt_tsig(answer);
	ldns_rdf *name, *alg;
	const ldns_rdf *time_rdf;
	int same;
	uint64_t signed_at = 0;
	time_t now = time(NULL);

	if (!tsig)
		return "the answer is not TSIG-signed";
	if (ldns_rr_rd_count(tsig) <= TSIG_RDF_OTHER)
		return "the answer's TSIG record is malformed";
	name = ldns_dname_new_frm_str(key->name);
	alg = ldns_dname_new_frm_str(key->ldns_algorithm);
	same = name && alg && !ldns_dname_compare(ldns_rr_owner(tsig), name) &&
	       !ldns_dname_compare(ldns_rr_rdf(tsig, TSIG_RDF_ALGORITHM), alg);
	ldns_rdf_deep_free(name);
	ldns_rdf_deep_free(alg);
	if (!same)
		return "the answer is signed with another TSIG key or algorithm";
	if (!ldns_pkt_tsig_verify(answer, wire, wire_len, key->name, key->secret, query_mac))
		return "the answer's TSIG MAC does not verify";
	/* ldns checks the MAC only; RFC 8945 5.4 also bounds the time. */
	time_rdf = ldns_rr_rdf(tsig, TSIG_RDF_TIME);
	if (ldns_rdf_size(time_rdf) != 6)
		return "the answer's TSIG time is malformed";
	for (size_t i = 0; i < 6; i++)
		signed_at = signed_at << 8 | ldns_rdf_data(time_rdf)[i];
	if ((now >= 0 && signed_at + TSIG_FUDGE < (uint64_t)now) ||
	    signed_at > (uint64_t)now + TSIG_FUDGE)
		return "the answer's TSIG time is outside the fudge (clock skew or replay)";
	return NULL;
}

static unsigned tsig_error_of(const ldns_pkt *answer)
{
	const ldns_rr *tsig = ldns_pkt_tsig(answer);
	if (!tsig || ldns_rr_rd_count(tsig) <= TSIG_RDF_ERROR ||
	    ldns_rdf_size(ldns_rr_rdf(tsig, TSIG_RDF_ERROR)) != 2)
		return 0;
	return ldns_rdf2native_int16(ldns_rr_rdf(tsig, TSIG_RDF_ERROR));
}

/* The server's clock from a BADTIME answer's other data (RFC 8945 5.2.3), or -1. */
static int64_t tsig_server_time(const ldns_pkt *answer)
{
	const ldns_rr *tsig = ldns_pkt_tsig(answer);
	const ldns_rdf *other;
	int64_t t = 0;
	if (!tsig || ldns_rr_rd_count(tsig) <= TSIG_RDF_OTHER)
		return -1;
	other = ldns_rr_rdf(tsig, TSIG_RDF_OTHER);
	/* INT16_DATA: a 2-octet length, then the data (6 octets of time). */
	if (ldns_rdf_size(other) != 8)
		return -1;
	for (size_t i = 2; i < 8; i++)
		t = t << 8 | ldns_rdf_data(other)[i];
	return t;
}

static danemsg_err explain_refusal(const ldns_pkt *answer, const danemsg_tsig_key *key,
				   const char *name, const char *zone, char *errbuf,
				   size_t errbuf_len)
{
	unsigned rcode = ldns_pkt_get_rcode(answer), terr = tsig_error_of(answer);
	const char *keyname = key ? key->name : "(none)";
	char why[1024];

	switch (terr) {
	case TSIG_BADSIG:
		snprintf(why, sizeof(why), "TSIG key not accepted: BADSIG, the secret of key '%s' "
			 "is not the server's", keyname);
		break;
	case TSIG_BADKEY:
		snprintf(why, sizeof(why), "TSIG key not accepted: BADKEY, the server does not "
			 "know key '%s' (%s) or does not allow it for zone %s", keyname,
			 key ? key->algorithm : "", zone);
		break;
	case TSIG_BADTIME: {
		int64_t server_time = tsig_server_time(answer);
		snprintf(why, sizeof(why), "TSIG key not accepted: BADTIME, our clock is %lld s "
			 "off the server's (more than the %d s fudge): fix the clock",
			 server_time < 0 ? 0LL : (long long)(time(NULL) - server_time), TSIG_FUDGE);
		break;
	}
	case 0:
		switch (rcode) {
		case LDNS_RCODE_NOTAUTH:
			if (key)
				snprintf(why, sizeof(why), "the server is not authoritative for "
					 "zone %s, or key '%s' is not allowed to update it", zone,
					 keyname);
			else
				snprintf(why, sizeof(why), "the update is not signed and the "
					 "server requires a TSIG key for zone %s", zone);
			break;
		case LDNS_RCODE_REFUSED:
			snprintf(why, sizeof(why), "the server's policy does not allow this "
				 "update: check its ACL for zone %s and key '%s'", zone, keyname);
			break;
		case LDNS_RCODE_NOTZONE:
			snprintf(why, sizeof(why), "%s is not inside zone %s", name, zone);
			break;
		case LDNS_RCODE_SERVFAIL:
			snprintf(why, sizeof(why), "the server failed to apply the update to zone "
				 "%s; see its log", zone);
			break;
		case LDNS_RCODE_FORMERR:
			snprintf(why, sizeof(why), "the server could not parse the update");
			break;
		case LDNS_RCODE_NOTIMPL:
			snprintf(why, sizeof(why), "the server does not accept DNS UPDATE");
			break;
		default:
			snprintf(why, sizeof(why), "zone %s", zone);
		}
		break;
	default:
		snprintf(why, sizeof(why), "TSIG error %s", tsig_error_name(terr));
	}
	return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_UPDATE_REFUSED,
			  "server refused the update: %s (%s)", transport_rcode_name(rcode), why);
}

static danemsg_err publish_check_args(const danemsg_publish_options *opt, const char *name,
				      const danemsg_tlsa *recs, size_t n, char *errbuf,
				      size_t errbuf_len)
{
	if (!opt || !name || (n && !recs))
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_INVALID_ARG,
				  "publish: missing options, name or records");
	if (!transport_server_valid(&opt->server))
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_INVALID_ARG,
				  "publish: no DNS server to send the update to");
	if (opt->mode != DANEMSG_PUBLISH_REPLACE && opt->mode != DANEMSG_PUBLISH_ADD &&
	    opt->mode != DANEMSG_PUBLISH_REMOVE)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_INVALID_ARG,
				  "publish: unknown mode");
	if (n == 0 && opt->mode != DANEMSG_PUBLISH_REMOVE)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_INVALID_ARG, "publish: no "
				  "records to publish (use remove mode to delete the RRset)");
	if (n > PUBLISH_MAX_RECORDS)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_INVALID_ARG,
				  "publish: %zu records, at most %d", n, PUBLISH_MAX_RECORDS);
	if (opt->ttl > 0x7fffffffu)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_INVALID_ARG,
				  "publish: TTL %u over 2^31-1", opt->ttl);
	for (size_t i = 0; i < n; i++)
		if (!recs[i].data || recs[i].data_len == 0 || recs[i].data_len > TLSA_DATA_MAX)
			return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_INVALID_ARG,
					  "publish: record %zu has no data or too much", i);
	return DANEMSG_OK;
}

/* Builds, signs and sends the update; interprets the answer. */
static danemsg_err publish_send(const danemsg_publish_options *opt, const ldns_rdf *owner,
				const ldns_rdf *zone, const char *namestr, const char *zonestr,
				const danemsg_tlsa *recs, size_t n, char *errbuf,
				size_t errbuf_len)
{
	ldns_rr_list *updates;
	ldns_pkt *pkt, *answer = NULL;
	ldns_rdf *zone_copy, *query_mac = NULL;
	uint8_t *wire = NULL;
	size_t wire_len = 0;
	const char *why;
	danemsg_err err;

	err = update_list(opt, owner, recs, n, &updates);
	if (err)
		return err;
	zone_copy = ldns_rdf_clone(zone);
	/* ldns takes zone_copy and clones the update list. */
	pkt = zone_copy ? ldns_update_pkt_new(zone_copy, LDNS_RR_CLASS_IN, NULL, updates, NULL)
			: NULL;
	ldns_rr_list_deep_free(updates);
	if (!pkt) {
		ldns_rdf_deep_free(zone_copy);
		return DANEMSG_ERR_NOMEM;
	}
	ldns_pkt_set_rd(pkt, false); /* ldns sets RD; RFC 2136 says the bit is zero */
	transport_set_unpredictable_id(pkt);
	if (opt->key) {
		if (ldns_pkt_tsig_sign(pkt, opt->key->name, opt->key->secret, TSIG_FUDGE,
				       opt->key->ldns_algorithm, NULL) != LDNS_STATUS_OK) {
			ldns_pkt_free(pkt);
			return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_CRYPTO,
					  "cannot sign the update with TSIG key '%s'",
					  opt->key->name);
		}
		query_mac = ldns_rr_rdf(ldns_pkt_tsig(pkt), TSIG_RDF_MAC);
	}
	err = transport_exchange(&opt->server, opt->timeout_ms ? opt->timeout_ms : 5000, pkt,
				 &wire, &wire_len, &answer, errbuf, errbuf_len);
	if (err)
		goto out;
	if (ldns_pkt_get_rcode(answer) != LDNS_RCODE_NOERROR || tsig_error_of(answer)) {
		/* RFC 8945 5.3.2: BADSIG and BADKEY answers are unsigned; a forged
		 * refusal can only make us report failure, never success. */
		err = explain_refusal(answer, opt->key, namestr, zonestr, errbuf, errbuf_len);
		goto out;
	}
	if (opt->key && (why = tsig_check_answer(answer, wire, wire_len, opt->key, query_mac))) {
		err = errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_BAD_SIGNATURE, "the server's "
				 "answer cannot be trusted: %s; whether zone %s was updated "
				 "is unknown", why, zonestr);
		goto out;
	}
out:
	transport_exchange_free(wire, answer);
	ldns_pkt_free(pkt);
	return err;
}

static danemsg_err publish_tlsa(const danemsg_publish_options *opt, const char *name,
				const danemsg_tlsa *recs, size_t n, char *errbuf,
				size_t errbuf_len)
{
	ldns_rdf *owner = NULL, *zone = NULL;
	char namestr[LDNS_MAX_DOMAINLEN + 2] = "?", zonestr[LDNS_MAX_DOMAINLEN + 2] = "?";
	danemsg_err err;

	err = publish_check_args(opt, name, recs, n, errbuf, errbuf_len);
	if (err)
		return err;
	if (!(owner = transport_dname_parse(name)))
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_INVALID_ARG,
				  "'%.300s' is not a DNS name", name);
	if (opt->zone) {
		if (!(zone = transport_dname_parse(opt->zone))) {
			err = errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_INVALID_ARG,
					 "zone '%.300s' is not a DNS name", opt->zone);
			goto out;
		}
	} else {
		err = transport_find_zone(&opt->server, owner,
					  opt->timeout_ms ? opt->timeout_ms : 5000, &zone, errbuf,
					  errbuf_len);
		if (err)
			goto out;
	}
	transport_dname_format(owner, namestr, sizeof(namestr));
	transport_dname_format(zone, zonestr, sizeof(zonestr));
	if (ldns_dname_compare(owner, zone) != 0 && !ldns_dname_is_subdomain(owner, zone)) {
		err = errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_INVALID_ARG,
				 "%s is not inside zone %s", namestr, zonestr);
		goto out;
	}
	err = publish_send(opt, owner, zone, namestr, zonestr, recs, n, errbuf, errbuf_len);
out:
	ldns_rdf_deep_free(owner);
	ldns_rdf_deep_free(zone);
	return err;
}

/* The caller's options and records, in this library's layout (abi.h), then the update. */
danemsg_err danemsg_publish_tlsa(const danemsg_publish_options *opt, const char *name,
				 const danemsg_tlsa *recs, size_t n,
				 char *errbuf, size_t errbuf_len)
{
	danemsg_publish_options options;
	danemsg_tlsa records[PUBLISH_MAX_RECORDS];
	danemsg_err err;

	if (!opt || !name || (n && !recs))
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_INVALID_ARG,
				  "publish: missing options, name or records");
	if (n > PUBLISH_MAX_RECORDS)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_INVALID_ARG,
				  "publish: %zu records, at most %d", n, PUBLISH_MAX_RECORDS);
	danemsg_publish_options_init(&options);
	if ((err = abi_struct_in(&options, sizeof(options), opt, PUBLISH_OPTIONS_SIZE_V1,
				 "danemsg_publish_options", errbuf, errbuf_len)) ||
	    (err = tlsa_array_copy(recs, n, records, errbuf, errbuf_len)))
		return err;
	return publish_tlsa(&options, name, n ? records : NULL, n, errbuf, errbuf_len);
}

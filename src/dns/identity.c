/* Identities: the outcome of one TLSA lookup, immutable once published to the cache. */
#include <stdlib.h>
#include <string.h>

#include "identity_internal.h"

const char *danemsg_dnssec_name(danemsg_dnssec status)
{
	switch (status) {
	case DANEMSG_DNSSEC_SECURE: return "secure";
	case DANEMSG_DNSSEC_INSECURE: return "insecure";
	case DANEMSG_DNSSEC_BOGUS: return "bogus";
	default: return "unknown";
	}
}

danemsg_identity *identity_new(const char *name)
{
	danemsg_identity *id = calloc(1, sizeof(*id));
	if (!id)
		return NULL;
	id->name = strdup(name);
	if (!id->name) {
		free(id);
		return NULL;
	}
	id->refs = 1;
	id->status = DANEMSG_ERR_DNS_TEMPORARY;
	id->dnssec = DANEMSG_DNSSEC_UNKNOWN;
	return id;
}

danemsg_err identity_set_records(danemsg_identity *id, char **rdata, int *len, size_t n)
{
	id->records = calloc(n ? n : 1, sizeof(*id->records));
	if (!id->records)
		return DANEMSG_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		danemsg_tlsa *rec = &id->records[id->n_records];
		danemsg_err err;

		danemsg_tlsa_init(rec);
		err = danemsg_tlsa_parse((const uint8_t *)rdata[i], len[i] < 0 ? 0 : (size_t)len[i],
					 rec);
		if (err == DANEMSG_ERR_NOMEM)
			return err;
		if (err != DANEMSG_OK)   /* too short to be a TLSA record: visible as unusable */
			rec->unusable_reason = "record shorter than 3 octets";
		id->n_records++;
	}
	return DANEMSG_OK;
}

void identity_set_why(danemsg_identity *id, const char *why)
{
	free(id->why);
	id->why = why ? strdup(why) : NULL;
}

danemsg_identity *danemsg_identity_ref(danemsg_identity *id)
{
	if (id)
		__atomic_add_fetch(&id->refs, 1, __ATOMIC_RELAXED);
	return id;
}

void danemsg_identity_unref(danemsg_identity *id)
{
	if (!id || __atomic_sub_fetch(&id->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	for (size_t i = 0; i < id->n_records; i++)
		danemsg_tlsa_clear(&id->records[i]);
	free(id->records);
	X509_STORE_free(id->pkix);
	sk_X509_pop_free(id->pkixcd_cas, X509_free);
	keycache_unref(id->keys);
	free(id->why);
	free(id->name);
	free(id);
}

const char *danemsg_identity_name(const danemsg_identity *id)
{
	return id ? id->name : NULL;
}

danemsg_err danemsg_identity_status(const danemsg_identity *id)
{
	return id ? id->status : DANEMSG_ERR_INVALID_ARG;
}

danemsg_dnssec danemsg_identity_dnssec(const danemsg_identity *id)
{
	return id ? id->dnssec : DANEMSG_DNSSEC_UNKNOWN;
}

const char *danemsg_identity_why(const danemsg_identity *id)
{
	return id ? id->why : NULL;
}

uint32_t danemsg_identity_ttl(const danemsg_identity *id)
{
	return id ? id->ttl : 0;
}

int danemsg_identity_insecure_allowed(const danemsg_identity *id)
{
	return id ? id->insecure_allowed : 0;
}

size_t danemsg_identity_record_count(const danemsg_identity *id)
{
	return id ? id->n_records : 0;
}

const danemsg_tlsa *danemsg_identity_record(const danemsg_identity *id, size_t i)
{
	return id && i < id->n_records ? &id->records[i] : NULL;
}

STACK_OF(X509) *danemsg_identity_pkix_cd_cas(const danemsg_identity *id)
{
	return id ? id->pkixcd_cas : NULL;
}

danemsg_err danemsg_identity_authenticate_cert(const danemsg_identity *id, X509 *ee,
					       STACK_OF(X509) *chain, size_t *matched)
{
	if (!id || !ee)
		return DANEMSG_ERR_INVALID_ARG;
	if (id->status != DANEMSG_OK)
		return id->status;
	return danemsg_tlsa_match_cert_pkix(id->records, id->n_records, id->name, ee, chain,
					    id->pkix, matched);
}

danemsg_err danemsg_identity_authenticate_pkey(const danemsg_identity *id, EVP_PKEY *pkey,
					       size_t *matched)
{
	if (!id || !pkey)
		return DANEMSG_ERR_INVALID_ARG;
	if (id->status != DANEMSG_OK)
		return id->status;
	return danemsg_tlsa_match_pkey(id->records, id->n_records, pkey, matched);
}

danemsg_err identity_record_pkey(const danemsg_identity *id, const danemsg_tlsa *rec,
				 EVP_PKEY **out)
{
	return keycache_get(id->keys, rec, out);
}

danemsg_err danemsg_identity_record_pkey(const danemsg_identity *id, size_t i, EVP_PKEY **out)
{
	if (out)
		*out = NULL;
	if (!id || !out)
		return DANEMSG_ERR_INVALID_ARG;
	if (i >= id->n_records)
		return DANEMSG_ERR_NOT_FOUND;
	return identity_record_pkey(id, &id->records[i], out);
}

int identity_record_key_trusted(const danemsg_identity *id, const danemsg_tlsa *rec)
{
	X509 *cert = NULL;
	int trusted;

	if (rec->usage == DANEMSG_TLSA_PKIX_TA)
		return 0;
	if (rec->usage != DANEMSG_TLSA_PKIX_EE)
		return 1;
	/* Rare (a Web PKI certificate in DNS): parsed again for the path validation. */
	trusted = rec->has_cert && danemsg_tlsa_cert(rec, &cert) == DANEMSG_OK &&
		  danemsg_tlsa_match_cert_pkix(rec, 1, id->name, cert, NULL, id->pkix,
					       NULL) == DANEMSG_OK;
	X509_free(cert);
	return trusted;
}

/* May rec's key be tried on jws, as identity_verify_jws() says? The cheap tests first. */
static int verify_candidate(const danemsg_identity *id, const danemsg_tlsa *rec,
			    const char *x5t, int own_key)
{
	if (!rec->usable || !rec->spki_len)
		return 0;
	if (own_key && rec->usage != DANEMSG_TLSA_DANE_EE)
		return 0;
	if (x5t && rec->has_cert && strcmp(rec->x5t_s256, x5t))
		return 0;
	return identity_record_key_trusted(id, rec);
}

danemsg_err identity_verify_jws(const danemsg_identity *id, const jose_jws *jws, const char *x5t,
				int own_key, EVP_PKEY **key, const danemsg_tlsa **rec)
{
	int candidates = 0;

	*key = NULL;
	*rec = NULL;
	for (size_t i = 0; i < id->n_records; i++) {
		const danemsg_tlsa *r = &id->records[i];
		EVP_PKEY *k = NULL;
		if (!verify_candidate(id, r, x5t, own_key) ||
		    identity_record_pkey(id, r, &k) || jose_alg_check_key(jws->alg, k) ||
		    (own_key && jose_sig_alg_for_key(k) != jws->alg)) {
			EVP_PKEY_free(k);
			continue;
		}
		candidates++;
		if (!jose_jws_verify(jws, k)) {
			*key = k;
			*rec = r;
			return DANEMSG_OK;
		}
		EVP_PKEY_free(k);
	}
	return candidates ? DANEMSG_ERR_BAD_SIGNATURE : DANEMSG_ERR_UNKNOWN_SENDER;
}

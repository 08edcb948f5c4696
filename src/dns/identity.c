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

int identity_record_key_trusted(const danemsg_identity *id, const danemsg_tlsa *rec)
{
	if (rec->usage == DANEMSG_TLSA_PKIX_TA)
		return 0;
	if (rec->usage != DANEMSG_TLSA_PKIX_EE)
		return 1;
	return rec->cert && danemsg_tlsa_match_cert_pkix(rec, 1, id->name, rec->cert, NULL,
							 id->pkix, NULL) == DANEMSG_OK;
}

danemsg_err identity_verify_jws(const danemsg_identity *id, const jose_jws *jws, const char *x5t,
				int own_key, EVP_PKEY **key, X509 **cert)
{
	int candidates = 0;

	*key = NULL;
	*cert = NULL;
	for (size_t i = 0; i < id->n_records; i++) {
		const danemsg_tlsa *rec = &id->records[i];
		char rec_x5t[JOSE_THUMBPRINT_SIZE];
		if (!rec->usable || !rec->pkey || jose_alg_check_key(jws->alg, rec->pkey) ||
		    !identity_record_key_trusted(id, rec))
			continue;
		if (own_key && (rec->usage != DANEMSG_TLSA_DANE_EE ||
				jose_sig_alg_for_key(rec->pkey) != jws->alg))
			continue;
		if (x5t && rec->cert && (jose_x5t_s256(rec->cert, rec_x5t) || strcmp(rec_x5t, x5t)))
			continue;
		candidates++;
		if (!jose_jws_verify(jws, rec->pkey)) {
			*key = rec->pkey;
			*cert = rec->cert;
			return DANEMSG_OK;
		}
	}
	return candidates ? DANEMSG_ERR_BAD_SIGNATURE : DANEMSG_ERR_UNKNOWN_SENDER;
}

/* DNS over TCP to one server: its address, one query and its answer, zone discovery. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <ldns/ldns.h>
#include <openssl/rand.h>

#include <danemsg/publish.h>

#include "error_internal.h"
#include "transport.h"

#define DNS_TCP_MESSAGE_MAX 65535

ldns_rdf *transport_dname_parse(const char *name)
{
	ldns_rdf *rdf, *root;
	if (!name || !*name || strlen(name) > LDNS_MAX_DOMAINLEN + 1)
		return NULL;
	for (const char *p = name; *p; p++)
		if (isspace((unsigned char)*p) || !isprint((unsigned char)*p))
			return NULL;
	rdf = ldns_dname_new_frm_str(name);
	if (!rdf)
		return NULL;
	if (!ldns_dname_absolute(rdf)) {
		root = ldns_dname_new_frm_str(".");
		if (!root || ldns_dname_cat(rdf, root) != LDNS_STATUS_OK) {
			ldns_rdf_deep_free(root);
			ldns_rdf_deep_free(rdf);
			return NULL;
		}
		ldns_rdf_deep_free(root);
	}
	if (ldns_rdf_size(rdf) > LDNS_MAX_DOMAINLEN) {
		ldns_rdf_deep_free(rdf);
		return NULL;
	}
	ldns_dname2canonical(rdf);
	return rdf;
}

danemsg_err transport_dname_format(const ldns_rdf *rdf, char *buf, size_t buflen)
{
	char *s = ldns_rdf2str(rdf);
	danemsg_err err = DANEMSG_OK;
	if (!s)
		return DANEMSG_ERR_NOMEM;
	if (strlen(s) >= buflen)
		err = DANEMSG_ERR_BUFFER_TOO_SMALL;
	else
		memcpy(buf, s, strlen(s) + 1);
	free(s);
	return err;
}

/* Servers. */

danemsg_err danemsg_dns_server_parse(const char *spec, danemsg_dns_server *out)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *at, *hend;
	unsigned long port = 53;

	if (!spec || !out)
		return DANEMSG_ERR_INVALID_ARG;
	memset(out, 0, sizeof(*out));
	at = strrchr(spec, '@');
	hend = at ? at : spec + strlen(spec);
	if (at) {
		char *end;
		if (!isdigit((unsigned char)at[1]) || strlen(at + 1) > 5)
			return DANEMSG_ERR_MALFORMED;
		errno = 0;
		port = strtoul(at + 1, &end, 10);
		if (*end || errno || port == 0 || port > 65535)
			return DANEMSG_ERR_MALFORMED;
	}
	if (hend > spec && *spec == '[' && hend[-1] == ']')
		spec++, hend--;
	if (hend <= spec || (size_t)(hend - spec) >= sizeof(host))
		return DANEMSG_ERR_MALFORMED;
	memcpy(host, spec, (size_t)(hend - spec));
	host[hend - spec] = '\0';
	if (inet_pton(AF_INET, host, out->addr) == 1)
		out->family = AF_INET;
	else if (inet_pton(AF_INET6, host, out->addr) == 1)
		out->family = AF_INET6;
	else
		return DANEMSG_ERR_MALFORMED;
	out->port = (uint16_t)port;
	return DANEMSG_OK;
}

danemsg_err danemsg_dns_server_format(const danemsg_dns_server *server, char *buf, size_t buflen)
{
	char host[INET6_ADDRSTRLEN];
	int n;
	if (!server || !buf || (server->family != AF_INET && server->family != AF_INET6))
		return DANEMSG_ERR_INVALID_ARG;
	if (!inet_ntop(server->family, server->addr, host, sizeof(host)))
		return DANEMSG_ERR_INVALID_ARG;
	n = snprintf(buf, buflen, "%s@%u", host, (unsigned)server->port);
	if (n < 0 || (size_t)n >= buflen)
		return DANEMSG_ERR_BUFFER_TOO_SMALL;
	return DANEMSG_OK;
}

int transport_server_valid(const danemsg_dns_server *s)
{
	return s && (s->family == AF_INET || s->family == AF_INET6) && s->port != 0;
}

static socklen_t server_sockaddr(const danemsg_dns_server *s, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (s->family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		in->sin_family = AF_INET;
		in->sin_port = htons(s->port);
		memcpy(&in->sin_addr, s->addr, 4);
		return sizeof(*in);
	}
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(s->port);
	memcpy(&in6->sin6_addr, s->addr, 16);
	return sizeof(*in6);
}

const char *transport_rcode_name(unsigned rcode)
{
	static const char *const names[] = {
		"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
		"YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE",
	};
	return rcode < sizeof(names) / sizeof(names[0]) ? names[rcode] : "unknown RCODE";
}

void transport_set_unpredictable_id(ldns_pkt *pkt)
{
	uint16_t id;
	if (RAND_bytes((unsigned char *)&id, sizeof(id)) != 1)
		ldns_pkt_set_random_id(pkt);
	else
		ldns_pkt_set_id(pkt, id);
}

static const char *network_why(int saved_errno, ldns_status st)
{
	switch (saved_errno) {
	case 0: return ldns_get_errorstr_by_id(st);
	case ECONNREFUSED: return "connection refused (nothing listens there)";
	case EAGAIN:
	case EINPROGRESS:
	case ETIMEDOUT: return "timed out";
	default: return strerror(saved_errno);
	}
}

danemsg_err transport_exchange(const danemsg_dns_server *server, uint32_t timeout_ms,
			       const ldns_pkt *query, uint8_t **wire, size_t *wire_len,
			       ldns_pkt **answer, char *errbuf, size_t errbuf_len)
{
	struct sockaddr_storage ss;
	socklen_t sslen = server_sockaddr(server, &ss);
	struct timeval tv = {(time_t)(timeout_ms / 1000), (suseconds_t)(timeout_ms % 1000) * 1000};
	char where[64] = "?";
	ldns_buffer *qb = ldns_buffer_new(LDNS_MIN_BUFLEN);
	ldns_status st;
	int saved_errno;

	*wire = NULL;
	*answer = NULL;
	danemsg_dns_server_format(server, where, sizeof(where));
	if (!qb)
		return DANEMSG_ERR_NOMEM;
	if (ldns_pkt2buffer_wire(qb, query) != LDNS_STATUS_OK) {
		ldns_buffer_free(qb);
		return DANEMSG_ERR_NOMEM;
	}
	if (ldns_buffer_position(qb) > DNS_TCP_MESSAGE_MAX) {
		size_t size = ldns_buffer_position(qb);
		ldns_buffer_free(qb);
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_TOO_LARGE,
				  "the message is %zu octets, more than DNS can carry (%d)", size,
				  DNS_TCP_MESSAGE_MAX);
	}
	errno = 0;
	st = ldns_tcp_send(wire, qb, &ss, sslen, tv, wire_len);
	saved_errno = errno;
	ldns_buffer_free(qb);
	if (st != LDNS_STATUS_OK || !*wire || *wire_len == 0) {
		free(*wire);
		*wire = NULL;
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_DNS_TEMPORARY,
				  "no answer from DNS server %s: %s", where,
				  network_why(saved_errno, st));
	}
	if (ldns_wire2pkt(answer, *wire, *wire_len) != LDNS_STATUS_OK) {
		*answer = NULL;
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_MALFORMED,
				  "the answer of DNS server %s does not parse", where);
	}
	if (ldns_pkt_id(*answer) != ldns_pkt_id(query) || !ldns_pkt_qr(*answer) ||
	    ldns_pkt_get_opcode(*answer) != ldns_pkt_get_opcode(query))
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_MALFORMED,
				  "the answer of DNS server %s does not answer our message", where);
	return DANEMSG_OK;
}

void transport_exchange_free(uint8_t *wire, ldns_pkt *answer)
{
	free(wire);
	ldns_pkt_free(answer);
}

/* Zone discovery. */

danemsg_err transport_find_zone(const danemsg_dns_server *server, const ldns_rdf *name,
				uint32_t timeout_ms, ldns_rdf **zone, char *errbuf,
				size_t errbuf_len)
{
	ldns_pkt *query, *answer = NULL;
	uint8_t *wire = NULL;
	size_t wire_len = 0;
	const ldns_rr *soa = NULL;
	danemsg_err err;
	ldns_rdf *qname = ldns_rdf_clone(name);
	char namestr[LDNS_MAX_DOMAINLEN + 2] = "?", where[64] = "?";

	*zone = NULL;
	transport_dname_format(name, namestr, sizeof(namestr));
	danemsg_dns_server_format(server, where, sizeof(where));
	if (!qname)
		return DANEMSG_ERR_NOMEM;
	query = ldns_pkt_query_new(qname, LDNS_RR_TYPE_SOA, LDNS_RR_CLASS_IN, 0);
	if (!query) {
		ldns_rdf_deep_free(qname);
		return DANEMSG_ERR_NOMEM;
	}
	transport_set_unpredictable_id(query);
	err = transport_exchange(server, timeout_ms, query, &wire, &wire_len, &answer, errbuf,
				 errbuf_len);
	ldns_pkt_free(query);
	if (err) {
		transport_exchange_free(wire, answer);
		return err;
	}
	ldns_pkt_rcode rcode = ldns_pkt_get_rcode(answer);
	if (rcode == LDNS_RCODE_NOERROR || rcode == LDNS_RCODE_NXDOMAIN) {
		const ldns_rr_list *sections[] = {ldns_pkt_answer(answer),
						  ldns_pkt_authority(answer)};
		for (size_t s = 0; s < 2 && !soa; s++)
			for (size_t i = 0; i < ldns_rr_list_rr_count(sections[s]); i++) {
				const ldns_rr *rr = ldns_rr_list_rr(sections[s], i);
				if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA) {
					soa = rr;
					break;
				}
			}
	}
	if (rcode == LDNS_RCODE_SERVFAIL)
		err = errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_DNS_TEMPORARY,
				 "cannot find the zone of %s: DNS server %s answered SERVFAIL",
				 namestr, where);
	else if (rcode != LDNS_RCODE_NOERROR && rcode != LDNS_RCODE_NXDOMAIN)
		err = errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_UPDATE_REFUSED, "cannot find the "
				 "zone of %s: DNS server %s answered %s (it holds no "
				 "zone for that name: send the update to the zone's primary)",
				 namestr, where, transport_rcode_name(rcode));
	else if (!soa)
		err = errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_UPDATE_REFUSED,
				 "cannot find the zone of %s: DNS server %s answered without a SOA "
				 "record (a referral: the name is in a zone that server does not "
				 "hold)", namestr, where);
	else if (ldns_dname_compare(ldns_rr_owner(soa), name) != 0 &&
		 !ldns_dname_is_subdomain(name, ldns_rr_owner(soa)))
		err = errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_MALFORMED, "cannot find the zone "
				 "of %s: DNS server %s answered with the SOA of an "
				 "unrelated zone", namestr, where);
	else if (!(*zone = ldns_rdf_clone(ldns_rr_owner(soa))))
		err = DANEMSG_ERR_NOMEM;
	else
		ldns_dname2canonical(*zone);
	transport_exchange_free(wire, answer);
	return err;
}

danemsg_err danemsg_dns_find_zone(const danemsg_dns_server *server, const char *name,
				  uint32_t timeout_ms, char *zone, size_t zone_len,
				  char *errbuf, size_t errbuf_len)
{
	ldns_rdf *name_rdf, *zone_rdf;
	danemsg_err err;

	if (zone && zone_len)
		zone[0] = '\0';
	if (!transport_server_valid(server) || !name || !zone || !zone_len)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_INVALID_ARG,
				  "zone discovery: missing server, name or zone buffer");
	if (!(name_rdf = transport_dname_parse(name)))
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_INVALID_ARG,
				  "'%.300s' is not a DNS name", name);
	err = transport_find_zone(server, name_rdf, timeout_ms ? timeout_ms : 5000, &zone_rdf,
				  errbuf, errbuf_len);
	ldns_rdf_deep_free(name_rdf);
	if (err)
		return err;
	err = transport_dname_format(zone_rdf, zone, zone_len);
	ldns_rdf_deep_free(zone_rdf);
	return err;
}

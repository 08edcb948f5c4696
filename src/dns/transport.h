/* Private: DNS over TCP to one server, shared by zone discovery and UPDATE (publish.c). */
#ifndef DANEMSG_TRANSPORT_H
#define DANEMSG_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include <ldns/ldns.h>

#include <danemsg/publish.h>

/* Parses a DNS name into an absolute, lower-case ldns dname; NULL if it is not one. */
ldns_rdf *transport_dname_parse(const char *name);
/* Writes dname's presentation form to buf; _BUFFER_TOO_SMALL if it does not fit. */
danemsg_err transport_dname_format(const ldns_rdf *rdf, char *buf, size_t buflen);

/* 1 when s names an IPv4 or IPv6 address and a port. */
int transport_server_valid(const danemsg_dns_server *s);
/* The mnemonic of a DNS RCODE ("REFUSED"), "unknown RCODE" past NOTZONE. */
const char *transport_rcode_name(unsigned rcode);
/* A random message ID: unpredictable, so that off-path answers are hard to forge. */
void transport_set_unpredictable_id(ldns_pkt *pkt);

/*
 * One exchange over TCP: sends query, returns the answer's wire form and the parsed
 * packet after checking that it answers query (ID, QR, opcode). The caller frees both
 * with transport_exchange_free, also on failure.
 */
danemsg_err transport_exchange(const danemsg_dns_server *server, uint32_t timeout_ms,
			       const ldns_pkt *query, uint8_t **wire, size_t *wire_len,
			       ldns_pkt **answer, char *errbuf, size_t errbuf_len);
void transport_exchange_free(uint8_t *wire, ldns_pkt *answer);

/* The zone that holds name, from the SOA the server answers with; *zone is the caller's. */
danemsg_err transport_find_zone(const danemsg_dns_server *server, const ldns_rdf *name,
				uint32_t timeout_ms, ldns_rdf **zone, char *errbuf,
				size_t errbuf_len);

#endif

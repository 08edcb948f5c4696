/* Publishing TLSA records by DNS UPDATE (RFC 2136) signed with TSIG (RFC 8945), using ldns. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ldns/ldns.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <danemsg/publish.h>

#include "abi.h"
#include "error_internal.h"
#include "publish_internal.h"
#include "tlsa_internal.h"

#define TSIG_FUDGE 300              /* seconds, as nsupdate and knsupdate */
#define TSIG_SECRET_MAX 1024        /* base64 characters (768 octets of key) */
#define KEY_FILE_MAX (64 * 1024)
#define PUBLISH_MAX_RECORDS 64
/* The first version of the caller's options ends here (abi.h). */
#define PUBLISH_OPTIONS_SIZE_V1 ABI_SIZE_THROUGH(danemsg_publish_options, timeout_ms)
#define TLSA_DATA_MAX (65535 - 3)
#define DNS_TCP_MESSAGE_MAX 65535

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

struct danemsg_tsig_key {
	char name[LDNS_MAX_DOMAINLEN + 2];  /* absolute, lower case */
	const char *algorithm;              /* our name, "hmac-sha256" */
	const char *ldns_algorithm;         /* the name ldns and the wire use */
	char *secret;                       /* base64, wiped on free */
};

struct tsig_algorithm {
	const char *name;
	const char *wire_name;
};

static const struct tsig_algorithm tsig_algorithms[] = {
	/* ldns 1.8 signs with no others (hmac-sha224 and -sha384 fail there). */
	{"hmac-sha256", "hmac-sha256."},
	{"hmac-sha512", "hmac-sha512."},
	{"hmac-sha1", "hmac-sha1."},
	{"hmac-md5", "hmac-md5.sig-alg.reg.int."},
};

static const struct tsig_algorithm *tsig_algorithm_find(const char *name, size_t len)
{
	/* Accept "hmac-sha256", "hmac-sha256." and "hmac-md5.sig-alg.reg.int[.]". */
	if (len && name[len - 1] == '.')
		len--;
	for (size_t i = 0; i < sizeof(tsig_algorithms) / sizeof(tsig_algorithms[0]); i++) {
		const struct tsig_algorithm *a = &tsig_algorithms[i];
		size_t wire_len = strlen(a->wire_name) - 1;
		if ((strlen(a->name) == len && !strncasecmp(a->name, name, len)) ||
		    (wire_len == len && !strncasecmp(a->wire_name, name, len)))
			return a;
	}
	return NULL;
}

/* Strict base64 (RFC 4648, padded): what servers accept as a TSIG secret. */
static int base64_valid(const char *s, size_t len)
{
	size_t pad = 0;
	if (len == 0 || len % 4)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			     (c >= '0' && c <= '9') || c == '+' || c == '/'))
			return 0;
	}
	return pad <= 2 && len - pad > 1;
}

/* Parses a DNS name into an absolute, lower-case ldns dname; NULL if it is not one. */
static ldns_rdf *dname_parse(const char *name)
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

/* Writes dname's presentation form to buf. */
static danemsg_err dname_format(const ldns_rdf *rdf, char *buf, size_t buflen)
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

static danemsg_err tsig_key_new(const char *alg, size_t alg_len, const char *name, size_t name_len,
				const char *secret, size_t secret_len, danemsg_tsig_key **out,
				char *errbuf, size_t errbuf_len)
{
	const struct tsig_algorithm *a = tsig_algorithm_find(alg, alg_len);
	danemsg_tsig_key *key;
	char namebuf[LDNS_MAX_DOMAINLEN + 2];
	ldns_rdf *name_rdf;
	danemsg_err err;

	if (!a)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_UNSUPPORTED,
				  "TSIG key: algorithm '%.*s' is not supported (use hmac-sha256, "
				  "hmac-sha512, hmac-sha1 or hmac-md5)",
				  (int)(alg_len > 40 ? 40 : alg_len), alg);
	if (name_len == 0)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_MALFORMED,
				  "TSIG key: empty key name");
	if (name_len >= sizeof(namebuf))
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_MALFORMED,
				  "TSIG key: key name is longer than a DNS name can be");
	memcpy(namebuf, name, name_len);
	namebuf[name_len] = '\0';
	if (secret_len == 0)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_MALFORMED,
				  "TSIG key: empty secret");
	if (secret_len > TSIG_SECRET_MAX || !base64_valid(secret, secret_len))
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_MALFORMED,
				  "TSIG key: the secret of key '%.255s' is not valid base64%s",
				  namebuf, secret_len > TSIG_SECRET_MAX ? " (too long)" : "");
	name_rdf = dname_parse(namebuf);
	if (!name_rdf || ldns_dname_label_count(name_rdf) == 0) {
		ldns_rdf_deep_free(name_rdf);
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_MALFORMED,
				  "TSIG key: key name '%.255s' is not a DNS name", namebuf);
	}

	key = calloc(1, sizeof(*key));
	if (!key || !(key->secret = malloc(secret_len + 1))) {
		free(key);
		ldns_rdf_deep_free(name_rdf);
		return DANEMSG_ERR_NOMEM;
	}
	memcpy(key->secret, secret, secret_len);
	key->secret[secret_len] = '\0';
	key->algorithm = a->name;
	key->ldns_algorithm = a->wire_name;
	err = dname_format(name_rdf, key->name, sizeof(key->name));
	ldns_rdf_deep_free(name_rdf);
	if (err) {
		danemsg_tsig_key_free(key);
		return err;
	}
	*out = key;
	return DANEMSG_OK;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Parses [ALG:]NAME:SECRET from s[0..len), surrounding blanks ignored. */
static danemsg_err tsig_spec_parse(const char *s, size_t len, danemsg_tsig_key **out,
				   char *errbuf, size_t errbuf_len)
{
	const char *first, *last, *end;
	size_t colons = 0;

	while (len && is_blank(*s))
		s++, len--;
	while (len && is_blank(s[len - 1]))
		len--;
	end = s + len;
	for (const char *p = s; p < end; p++)
		colons += *p == ':';
	if (colons == 0)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_MALFORMED,
				  "TSIG key: expected [ALG:]KEYNAME:SECRET, found no ':'");
	if (colons > 2)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_MALFORMED,
				  "TSIG key: expected [ALG:]KEYNAME:SECRET, found %zu ':'", colons);
	first = memchr(s, ':', len);
	last = first;
	while (colons == 2 && *++last != ':')
		;
	if (colons == 1)
		return tsig_key_new("hmac-sha256", 11, s, (size_t)(first - s), first + 1,
				    (size_t)(end - first - 1), out, errbuf, errbuf_len);
	if (first == s)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_MALFORMED,
				  "TSIG key: empty algorithm before the first ':'");
	return tsig_key_new(s, (size_t)(first - s), first + 1, (size_t)(last - first - 1),
			    last + 1, (size_t)(end - last - 1), out, errbuf, errbuf_len);
}

danemsg_err danemsg_tsig_key_parse(const char *spec, danemsg_tsig_key **out,
				   char *errbuf, size_t errbuf_len)
{
	if (out)
		*out = NULL;
	if (!spec || !out)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_INVALID_ARG,
				  "TSIG key: no key given");
	return tsig_spec_parse(spec, strlen(spec), out, errbuf, errbuf_len);
}

void danemsg_tsig_key_free(danemsg_tsig_key *key)
{
	if (!key)
		return;
	if (key->secret) {
		OPENSSL_cleanse(key->secret, strlen(key->secret));
		free(key->secret);
	}
	free(key);
}

const char *danemsg_tsig_key_name(const danemsg_tsig_key *key)
{
	return key ? key->name : NULL;
}

const char *danemsg_tsig_key_algorithm(const danemsg_tsig_key *key)
{
	return key ? key->algorithm : NULL;
}

/*
 * Key files. A tiny tokenizer serves the BIND form: words, quoted strings and
 * the punctuation { } ;, with #, // and C comments skipped.
 */
struct tokenizer {
	const char *p, *end;
};

struct token {
	const char *s;
	size_t len;
};

static int token_next(struct tokenizer *tz, struct token *tok)
{
	for (;;) {
		while (tz->p < tz->end && is_blank(*tz->p))
			tz->p++;
		if (tz->p >= tz->end)
			return 0;
		if (*tz->p == '#' || (*tz->p == '/' && tz->p + 1 < tz->end && tz->p[1] == '/')) {
			while (tz->p < tz->end && *tz->p != '\n')
				tz->p++;
		} else if (*tz->p == '/' && tz->p + 1 < tz->end && tz->p[1] == '*') {
			const char *close = NULL;
			for (const char *q = tz->p + 2; q + 1 < tz->end; q++)
				if (q[0] == '*' && q[1] == '/') {
					close = q;
					break;
				}
			tz->p = close ? close + 2 : tz->end;
		} else {
			break;
		}
	}
	if (*tz->p == '"') {
		const char *close = memchr(tz->p + 1, '"', (size_t)(tz->end - tz->p - 1));
		if (!close)
			return -1;
		tok->s = tz->p + 1;
		tok->len = (size_t)(close - tz->p - 1);
		tz->p = close + 1;
		return 1;
	}
	tok->s = tz->p;
	if (*tz->p == '{' || *tz->p == '}' || *tz->p == ';') {
		tok->len = 1;
		tz->p++;
		return 1;
	}
	while (tz->p < tz->end && !is_blank(*tz->p) && !strchr("{};\"", *tz->p))
		tz->p++;
	tok->len = (size_t)(tz->p - tok->s);
	return 1;
}

static int token_is(const struct token *tok, const char *word)
{
	return tok->len == strlen(word) && !strncasecmp(tok->s, word, tok->len);
}

/* key "NAME" { algorithm ALG; secret "SECRET"; }; */
static danemsg_err key_file_parse_bind(const char *text, size_t len, danemsg_tsig_key **out,
				       char *errbuf, size_t errbuf_len)
{
	struct tokenizer tz = {text, text + len};
	struct token tok, name, alg = {NULL, 0}, secret = {NULL, 0};

	if (token_next(&tz, &tok) != 1 || !token_is(&tok, "key") ||
	    token_next(&tz, &name) != 1 || token_next(&tz, &tok) != 1 || !token_is(&tok, "{"))
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_MALFORMED,
				  "TSIG key file: expected 'key \"NAME\" {'");
	for (;;) {
		struct token stmt, value, semi;
		int r = token_next(&tz, &stmt);
		if (r != 1)
			return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_MALFORMED,
					  "TSIG key file: unterminated key statement");
		if (token_is(&stmt, "}"))
			break;
		if (token_next(&tz, &value) != 1 || token_next(&tz, &semi) != 1 ||
		    !token_is(&semi, ";"))
			return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_MALFORMED,
					  "TSIG key file: expected 'algorithm ALG;' and "
					  "'secret \"...\";'");
		if (token_is(&stmt, "algorithm"))
			alg = value;
		else if (token_is(&stmt, "secret"))
			secret = value;
	}
	if (!alg.s)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_MALFORMED,
				  "TSIG key file: key statement has no algorithm");
	if (!secret.s)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_MALFORMED,
				  "TSIG key file: key statement has no secret");
	return tsig_key_new(alg.s, alg.len, name.s, name.len, secret.s, secret.len, out,
			    errbuf, errbuf_len);
}

/* The value after "field:" on a YAML line (quotes stripped), or NULL. */
static const char *yaml_field(const char *line, const char *end, const char *field, size_t *len)
{
	size_t flen = strlen(field);
	const char *v;
	while (line < end && (is_blank(*line) || *line == '-'))
		line++;
	if ((size_t)(end - line) <= flen || strncmp(line, field, flen) || line[flen] != ':')
		return NULL;
	v = line + flen + 1;
	while (v < end && is_blank(*v))
		v++;
	while (end > v && is_blank(end[-1]))
		end--;
	if (end - v >= 2 && (*v == '"' || *v == '\'') && end[-1] == *v)
		v++, end--;
	*len = (size_t)(end - v);
	return v;
}

/* knot: key:\n  - id: NAME\n    algorithm: ALG\n    secret: SECRET (the first key). */
static danemsg_err key_file_parse_knot(const char *text, size_t len, danemsg_tsig_key **out,
				       char *errbuf, size_t errbuf_len)
{
	const char *end = text + len, *line = text;
	const char *id = NULL, *alg = NULL, *secret = NULL;
	size_t id_len = 0, alg_len = 0, secret_len = 0;

	while (line < end) {
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		const char *stop = eol ? eol : end;
		const char *hash = memchr(line, '#', (size_t)(stop - line));
		const char *v;
		size_t vlen;
		if (hash)
			stop = hash;
		if ((v = yaml_field(line, stop, "id", &vlen))) {
			if (id)
				break;
			id = v, id_len = vlen;
		} else if (id && (v = yaml_field(line, stop, "algorithm", &vlen))) {
			alg = v, alg_len = vlen;
		} else if (id && (v = yaml_field(line, stop, "secret", &vlen))) {
			secret = v, secret_len = vlen;
		}
		line = eol ? eol + 1 : end;
	}
	if (!id)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_MALFORMED,
				  "TSIG key file: no '- id: NAME' under 'key:'");
	if (!alg)
		alg = "hmac-sha256", alg_len = 11;
	if (!secret)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_MALFORMED,
				  "TSIG key file: key has no 'secret:'");
	return tsig_key_new(alg, alg_len, id, id_len, secret, secret_len, out, errbuf, errbuf_len);
}

/* Which form a key file is in: by its first word after comments. */
danemsg_err publish_tsig_key_from_text(const char *text, size_t len, danemsg_tsig_key **out,
				       char *errbuf, size_t errbuf_len)
{
	struct tokenizer tz = {text, text + len};
	struct token tok;
	const char *eol;

	if (token_next(&tz, &tok) != 1)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_MALFORMED,
				  "TSIG key file: no key in the file");
	if (token_is(&tok, "key:"))
		return key_file_parse_knot(tok.s, (size_t)(text + len - tok.s), out, errbuf,
					   errbuf_len);
	if (token_is(&tok, "key"))
		return key_file_parse_bind(tok.s, (size_t)(text + len - tok.s), out, errbuf,
					   errbuf_len);
	eol = memchr(tok.s, '\n', (size_t)(text + len - tok.s));
	return tsig_spec_parse(tok.s, (size_t)((eol ? eol : text + len) - tok.s), out, errbuf,
			       errbuf_len);
}

danemsg_err danemsg_tsig_key_load(const char *path, danemsg_tsig_key **out,
				  char *errbuf, size_t errbuf_len)
{
	char *text;
	size_t len = 0;
	struct stat st;
	danemsg_err err;
	int fd;

	if (out)
		*out = NULL;
	if (!path || !out)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_INVALID_ARG,
				  "TSIG key file: none given");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errbuf_set(errbuf, errbuf_len,
				  errno == ENOENT ? DANEMSG_ERR_NOT_FOUND : DANEMSG_ERR_IO,
				  "TSIG key file %s: %s", path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > KEY_FILE_MAX) {
		close(fd);
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_IO,
				  "TSIG key file %s: not a regular file of at most %d octets", path,
				  KEY_FILE_MAX);
	}
	text = malloc(KEY_FILE_MAX + 1);
	if (!text) {
		close(fd);
		return DANEMSG_ERR_NOMEM;
	}
	for (;;) {
		ssize_t r = read(fd, text + len, KEY_FILE_MAX + 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
		if (len > KEY_FILE_MAX)
			break;
	}
	close(fd);
	if (len > KEY_FILE_MAX)
		err = errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_IO,
				 "TSIG key file %s: over %d octets", path, KEY_FILE_MAX);
	else
		err = publish_tsig_key_from_text(text, len, out, errbuf, errbuf_len);
	OPENSSL_cleanse(text, len);
	free(text);
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

/* Reads a decimal 0..255 after optional blanks; NULL if there is none. */
static const char *parse_octet(const char *p, uint8_t *out)
{
	unsigned v = 0;
	while (*p == ' ' || *p == '\t')
		p++;
	if (!isdigit((unsigned char)*p))
		return NULL;
	for (; isdigit((unsigned char)*p); p++)
		if ((v = v * 10 + (unsigned)(*p - '0')) > 255)
			return NULL;
	*out = (uint8_t)v;
	return p;
}

danemsg_err danemsg_tlsa_rdata_from_text(const char *text, uint8_t *buf, size_t buflen,
					 size_t *outlen)
{
	uint8_t field[3];
	const char *p = text;
	size_t digits = 0;
	if (!text || !outlen || (!buf && buflen))
		return DANEMSG_ERR_INVALID_ARG;
	for (int i = 0; i < 3; i++)
		if (!(p = parse_octet(p, &field[i])) || (*p != ' ' && *p != '\t'))
			return DANEMSG_ERR_MALFORMED;
	for (const char *q = p; *q; q++) {
		if (*q == ' ' || *q == '\t')
			continue;
		if (!isxdigit((unsigned char)*q))
			return DANEMSG_ERR_MALFORMED;
		if (++digits > 2 * TLSA_DATA_MAX)
			return DANEMSG_ERR_TOO_LARGE;
	}
	if (digits == 0 || digits % 2)
		return DANEMSG_ERR_MALFORMED;
	*outlen = 3 + digits / 2;
	if (buflen < *outlen)
		return DANEMSG_ERR_BUFFER_TOO_SMALL;
	memcpy(buf, field, 3);
	digits = 0;
	for (; *p; p++) {
		int v = OPENSSL_hexchar2int((unsigned char)*p);
		if (v < 0)
			continue;       /* a blank: anything else was refused above */
		buf[3 + digits / 2] = digits % 2 ? (uint8_t)(buf[3 + digits / 2] | v) :
				      (uint8_t)(v << 4);
		digits++;
	}
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

static int server_valid(const danemsg_dns_server *s)
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

static const char *rcode_name(unsigned rcode)
{
	static const char *const names[] = {
		"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
		"YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE",
	};
	return rcode < sizeof(names) / sizeof(names[0]) ? names[rcode] : "unknown RCODE";
}

static const char *tsig_error_name(unsigned err)
{
	switch (err) {
	case 0: return "NOERROR";
	case TSIG_BADSIG: return "BADSIG";
	case TSIG_BADKEY: return "BADKEY";
	case TSIG_BADTIME: return "BADTIME";
	case TSIG_BADTRUNC: return "BADTRUNC";
	default: return rcode_name(err);
	}
}

/* A random message ID: unpredictable, so that off-path answers are hard to forge. */
static void pkt_set_unpredictable_id(ldns_pkt *pkt)
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

/*
 * One exchange over TCP: sends query, returns the answer's wire form and the
 * parsed packet after checking that it answers query (ID, QR, opcode).
 */
static danemsg_err dns_exchange(const danemsg_dns_server *server, uint32_t timeout_ms,
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

static void exchange_free(uint8_t *wire, ldns_pkt *answer)
{
	free(wire);
	ldns_pkt_free(answer);
}

/* Zone discovery. */

static danemsg_err find_zone_rdf(const danemsg_dns_server *server, const ldns_rdf *name,
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
	dname_format(name, namestr, sizeof(namestr));
	danemsg_dns_server_format(server, where, sizeof(where));
	if (!qname)
		return DANEMSG_ERR_NOMEM;
	query = ldns_pkt_query_new(qname, LDNS_RR_TYPE_SOA, LDNS_RR_CLASS_IN, 0);
	if (!query) {
		ldns_rdf_deep_free(qname);
		return DANEMSG_ERR_NOMEM;
	}
	pkt_set_unpredictable_id(query);
	err = dns_exchange(server, timeout_ms, query, &wire, &wire_len, &answer, errbuf,
			   errbuf_len);
	ldns_pkt_free(query);
	if (err) {
		exchange_free(wire, answer);
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
				 namestr, where, rcode_name(rcode));
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
	exchange_free(wire, answer);
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
	if (!server_valid(server) || !name || !zone || !zone_len)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_INVALID_ARG,
				  "zone discovery: missing server, name or zone buffer");
	if (!(name_rdf = dname_parse(name)))
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_INVALID_ARG,
				  "'%.300s' is not a DNS name", name);
	err = find_zone_rdf(server, name_rdf, timeout_ms ? timeout_ms : 5000, &zone_rdf, errbuf,
			    errbuf_len);
	ldns_rdf_deep_free(name_rdf);
	if (err)
		return err;
	err = dname_format(zone_rdf, zone, zone_len);
	ldns_rdf_deep_free(zone_rdf);
	return err;
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
			  "server refused the update: %s (%s)", rcode_name(rcode), why);
}

static danemsg_err publish_check_args(const danemsg_publish_options *opt, const char *name,
				      const danemsg_tlsa *recs, size_t n, char *errbuf,
				      size_t errbuf_len)
{
	if (!opt || !name || (n && !recs))
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_INVALID_ARG,
				  "publish: missing options, name or records");
	if (!server_valid(&opt->server))
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
	pkt_set_unpredictable_id(pkt);
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
	err = dns_exchange(&opt->server, opt->timeout_ms ? opt->timeout_ms : 5000, pkt, &wire,
			   &wire_len, &answer, errbuf, errbuf_len);
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
	exchange_free(wire, answer);
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
	if (!(owner = dname_parse(name)))
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_INVALID_ARG,
				  "'%.300s' is not a DNS name", name);
	if (opt->zone) {
		if (!(zone = dname_parse(opt->zone))) {
			err = errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_INVALID_ARG,
					 "zone '%.300s' is not a DNS name", opt->zone);
			goto out;
		}
	} else {
		err = find_zone_rdf(&opt->server, owner,
				    opt->timeout_ms ? opt->timeout_ms : 5000, &zone, errbuf,
				    errbuf_len);
		if (err)
			goto out;
	}
	dname_format(owner, namestr, sizeof(namestr));
	dname_format(zone, zonestr, sizeof(zonestr));
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

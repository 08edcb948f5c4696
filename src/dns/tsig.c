/* TSIG keys (RFC 8945): specs ([ALG:]NAME:SECRET) and key files (BIND, knot, knsupdate). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ldns/ldns.h>
#include <openssl/crypto.h>

#include <danemsg/publish.h>

#include "base64.h"
#include "error_internal.h"
#include "transport.h"
#include "tsig_internal.h"

#define TSIG_SECRET_MAX 1024        /* base64 characters (768 octets of key) */
#define KEY_FILE_MAX (64 * 1024)

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
	if (secret_len > TSIG_SECRET_MAX || !util_base64_valid(secret, secret_len))
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_MALFORMED,
				  "TSIG key: the secret of key '%.255s' is not valid base64%s",
				  namebuf, secret_len > TSIG_SECRET_MAX ? " (too long)" : "");
	name_rdf = transport_dname_parse(namebuf);
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
	err = transport_dname_format(name_rdf, key->name, sizeof(key->name));
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
danemsg_err tsig_key_from_text(const char *text, size_t len, danemsg_tsig_key **out,
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
		err = tsig_key_from_text(text, len, out, errbuf, errbuf_len);
	OPENSSL_cleanse(text, len);
	free(text);
	return err;
}

/* Input, keys and message output shared by the message subcommands. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "cli.h"
#include "message_io.h"

int cli_read_input(const char *path, size_t max, uint8_t **out, size_t *len)
{
	int use_stdin = !path || !strcmp(path, "-");
	FILE *f = use_stdin ? stdin : fopen(path, "rb");
	size_t cap = 4096, n = 0;
	uint8_t *buf;

	*out = NULL;
	*len = 0;
	if (!f) {
		cli_error("%s: %s", path, strerror(errno));
		return EXIT_FAILURE_;
	}
	buf = malloc(cap + 1);
	while (buf) {
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (n > max) {
			cli_error("input is over the limit of %zu bytes", max);
			free(buf);
			if (!use_stdin)
				fclose(f);
			return cli_exit_code(DANEMSG_ERR_TOO_LARGE);
		}
		if (got == 0)
			break;
		if (n == cap) {
			uint8_t *grown = realloc(buf, cap * 2 + 1);
			if (!grown) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = grown;
			cap *= 2;
		}
	}
	if (!use_stdin)
		fclose(f);
	if (!buf) {
		cli_error("out of memory");
		return EXIT_FAILURE_;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return EXIT_OK_;
}

int cli_write_output(const char *path, const void *data, size_t len)
{
	int use_stdout = !path || !strcmp(path, "-");
	FILE *f = use_stdout ? stdout : fopen(path, "wb");
	int ok;
	if (!f) {
		cli_error("%s: %s", path, strerror(errno));
		return EXIT_FAILURE_;
	}
	ok = fwrite(data, 1, len, f) == len;
	ok = (use_stdout ? fflush(f) == 0 : fclose(f) == 0) && ok;
	if (!ok) {
		cli_error("%s: write failed", use_stdout ? "standard output" : path);
		return EXIT_FAILURE_;
	}
	return EXIT_OK_;
}

int cli_load_keyring(const char *dir, const char *name, danemsg_credential **keys,
		     size_t *n_keys)
{
	static const danemsg_credential_slot slots[CLI_MAX_KEYS] = {
		DANEMSG_SLOT_CURRENT, DANEMSG_SLOT_NEXT, DANEMSG_SLOT_OLD};
	char errbuf[512];
	*n_keys = 0;
	for (size_t i = 0; i < CLI_MAX_KEYS; i++) {
		danemsg_err err = danemsg_credential_load_slot(dir, name, slots[i],
							       &keys[*n_keys], errbuf,
							       sizeof(errbuf));
		if (!err) {
			(*n_keys)++;
		} else if (i == 0 || err != DANEMSG_ERR_NOT_FOUND) {
			cli_error("%s: %s", name, errbuf[0] ? errbuf : danemsg_strerror(err));
			cli_identity_hint(err, dir, name);
			cli_free_keyring(keys, *n_keys);
			*n_keys = 0;
			return cli_exit_code(err);
		}
	}
	return EXIT_OK_;
}

void cli_free_keyring(danemsg_credential **keys, size_t n_keys)
{
	for (size_t i = 0; i < n_keys; i++)
		danemsg_credential_free(keys[i]);
}

/* Text when the payload is UTF-8 without NUL, else base64. */
static void add_payload(json_t *o, const uint8_t *p, size_t len)
{
	json_t *text = memchr(p, 0, len) ? NULL : json_stringn((const char *)p, len);
	if (text) {
		json_object_set_new(o, "payload", text);
		return;
	}
	char *b64 = malloc(4 * ((len + 2) / 3) + 1);
	if (b64) {
		EVP_EncodeBlock((unsigned char *)b64, p, (int)len);
		json_object_set_new(o, "payload_base64", json_string(b64));
		free(b64);
	}
}

json_t *cli_message_json(const danemsg_message *m)
{
	json_t *o = json_object(), *to = json_array();
	size_t len;
	const uint8_t *payload = danemsg_message_payload(m, &len);

	for (size_t i = 0; i < danemsg_message_recipient_count(m); i++)
		json_array_append_new(to, json_string(danemsg_message_recipient(m, i)));
	json_object_set_new(o, "from", json_string(danemsg_message_from(m)));
	json_object_set_new(o, "to", to);
	add_payload(o, payload, len);
	json_object_set_new(o, "dnssec", json_string(danemsg_dnssec_name(
						 danemsg_message_dnssec(m))));
	json_object_set_new(o, "insecure_allowed",
			    json_boolean(danemsg_message_insecure_allowed(m)));
	json_object_set_new(o, "format", json_string(danemsg_message_format(m) ==
						     DANEMSG_FORMAT_COMPAT ? "compat" : "native"));
	json_object_set_new(o, "iat", danemsg_message_iat(m) ?
					      json_integer(danemsg_message_iat(m)) : json_null());
	json_object_set_new(o, "exp", danemsg_message_exp(m) ?
					      json_integer(danemsg_message_exp(m)) : json_null());
	json_object_set_new(o, "jti", json_string(danemsg_message_id(m)));
	json_object_set_new(o, "alg", json_string(danemsg_message_sig_alg(m)));
	json_object_set_new(o, "enc", json_string(danemsg_message_enc_alg(m)));
	json_object_set_new(o, "sender_key_sha256",
			    json_string(danemsg_message_sender_key_sha256(m)));
	return o;
}

/* The length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong forms, no
 * surrogates, at most U+10FFFF) and its code point; 0 when there is none. */
static size_t utf8_sequence(const uint8_t *p, size_t len, uint32_t *cp)
{
	size_t n = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc0 ? 2 : 0;
	static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
	uint32_t v;
	if (!n || p[0] > 0xf4 || n > len)
		return 0;
	v = p[0] & (0x7f >> n);
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (p[i] & 0x3f);
	}
	if (v < min[n] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return n;
}

/* Code points that move or end a line, or reorder what follows, on a terminal. */
static int invisible_control(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x61c || cp == 0x200e || cp == 0x200f ||
	       (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

char *cli_escape_text(const uint8_t *p, size_t len, size_t *out_len)
{
	static const char hex[] = "0123456789abcdef";
	char *out = malloc(4 * len + 1), *w = out;
	uint32_t cp;
	size_t n;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += n) {
		n = 1;
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\') {
			*w++ = (char)p[i];
		} else if (p[i] == '\\' || p[i] == '\n' || p[i] == '\t' || p[i] == '\r') {
			*w++ = '\\';
			*w++ = p[i] == '\n' ? 'n' : p[i] == '\t' ? 't' : p[i] == '\r' ? 'r' : '\\';
		} else if (p[i] >= 0x80 && (n = utf8_sequence(p + i, len - i, &cp)) &&
			   !invisible_control(cp)) {
			memcpy(w, p + i, n);
			w += n;
		} else if (n > 1) {   /* \uXXXX: at most 6 characters for its 2 or 3 bytes */
			*w++ = '\\';
			*w++ = 'u';
			for (int shift = 12; shift >= 0; shift -= 4)
				*w++ = hex[(cp >> shift) & 15];
		} else {
			n = 1;
			*w++ = '\\';
			*w++ = 'x';
			*w++ = hex[p[i] >> 4];
			*w++ = hex[p[i] & 15];
		}
	}
	*w = '\0';
	*out_len = (size_t)(w - out);
	return out;
}

/* DNS names in text: one validator, so that what a message, a command line, a locator or
 * a policy calls a name is the same everywhere. */
#include <string.h>

#include "dname.h"

/* A label's byte, as ASCII: never isalnum(), whose answer for bytes over 127 depends on
 * the locale (a Latin-1 locale takes 0xE9 for a letter). */
static int label_byte(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* The length of name without its trailing dot when it is a name, else 0. */
static size_t dname_length(const char *name)
{
	size_t len = strnlen(name, DNAME_TEXT_MAX + 2), label = 0;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > DNAME_TEXT_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (name[i] == '.') {
			if (label == 0)   /* a leading or a double dot */
				return 0;
			label = 0;
		} else if (!label_byte(name[i]) || ++label > 63) {
			return 0;
		}
	}
	return label ? len : 0;   /* "a..": an empty last label */
}

danemsg_err dname_normalize(const char *name, int trailing_dot, char *buf, size_t buflen)
{
	size_t len;

	if (!name || !buf || !(len = dname_length(name)))
		return DANEMSG_ERR_INVALID_ARG;
	if (buflen < len + (trailing_dot != 0) + 1)
		return DANEMSG_ERR_BUFFER_TOO_SMALL;
	for (size_t i = 0; i < len; i++)
		buf[i] = lower(name[i]);
	if (trailing_dot)
		buf[len++] = '.';
	buf[len] = '\0';
	return DANEMSG_OK;
}

danemsg_err dname_canonical(const char *name, char *buf, size_t buflen)
{
	return dname_normalize(name, 1, buf, buflen);
}

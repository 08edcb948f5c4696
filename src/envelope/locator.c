/* x5u locators: "dns://NAME?type=TLSA" and the forms the reference system reads. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <danemsg.h>

#include "dname.h"

#define SCHEME "dns:"
#define QUERY "?type=TLSA"

danemsg_err danemsg_locator_parse(const char *locator, size_t len, char *name, size_t name_len)
{
	char text[300];
	const char *start, *end, *slash;

	if (!locator || !name)
		return DANEMSG_ERR_INVALID_ARG;
	if (len < sizeof(SCHEME) || len >= sizeof(text) || memchr(locator, '\0', len))
		return DANEMSG_ERR_MALFORMED;
	memcpy(text, locator, len);
	text[len] = '\0';
	if (strncasecmp(text, SCHEME, strlen(SCHEME)))
		return DANEMSG_ERR_MALFORMED;
	start = text + strlen(SCHEME);
	end = text + len;
	/* An optional query, which can only ask for TLSA (what the reference writes). */
	const char *q = strchr(start, '?');
	if (q) {
		if (strcasecmp(q, QUERY) && strcasecmp(q, "?class=IN;type=TLSA") &&
		    strcasecmp(q, "?type=TLSA;class=IN"))
			return DANEMSG_ERR_MALFORMED;
		end = q;
	}
	/* "dns://authority/name": the name is the last path part, as the reference reads it. */
	if (end - start >= 2 && start[0] == '/' && start[1] == '/') {
		start += 2;
		for (slash = end; slash > start && slash[-1] != '/'; slash--)
			;
		start = slash;
	}
	if (start >= end || memchr(start, '/', (size_t)(end - start)) ||
	    memchr(start, '%', (size_t)(end - start)))
		return DANEMSG_ERR_MALFORMED;
	text[end - text] = '\0';
	switch (dname_canonical(start, name, name_len)) {
	case DANEMSG_OK: return DANEMSG_OK;
	case DANEMSG_ERR_BUFFER_TOO_SMALL: return DANEMSG_ERR_BUFFER_TOO_SMALL;
	default: return DANEMSG_ERR_MALFORMED;
	}
}

danemsg_err danemsg_locator_format(const char *name, char *buf, size_t buflen)
{
	char canon[258];
	int n;
	if (!name || !buf)
		return DANEMSG_ERR_INVALID_ARG;
	if (dname_canonical(name, canon, sizeof(canon)))
		return DANEMSG_ERR_INVALID_ARG;
	canon[strlen(canon) - 1] = '\0';   /* the reference writes names without the dot */
	n = snprintf(buf, buflen, "dns://%s" QUERY, canon);
	return n < 0 || (size_t)n >= buflen ? DANEMSG_ERR_BUFFER_TOO_SMALL : DANEMSG_OK;
}

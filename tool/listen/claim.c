/* The replay key's value in the NATS bucket: format and strict parser (claim.h). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "claim.h"

#define AT_MAX (INT64_C(1) << 40)

static int member_ok(const char *m, size_t len)
{
	if (len != CLAIM_MEMBER_LEN)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((m[i] >= '0' && m[i] <= '9') || (m[i] >= 'a' && m[i] <= 'f')))
			return 0;
	return 1;
}

int claim_format(const struct claim *c, char *out, size_t len)
{
	int n;
	if ((c->state != 'C' && c->state != 'D' && c->state != 'R') ||
	    !member_ok(c->member, strlen(c->member)) || c->seq == 0 ||
	    c->seq > (uint64_t)INT64_MAX || c->at < 0 || c->at > AT_MAX)
		return -1;
	n = snprintf(out, len, "v1 %c %s %" PRIu64 " %" PRId64, c->state, c->member, c->seq,
		     c->at);
	return n > 0 && (size_t)n < len ? n : -1;
}

/* A decimal number of at most 19 digits, no leading zero (but "0"), up to max. */
static int number(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (len == 0 || len > 19 || (len > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

int claim_parse(const void *data, size_t len, struct claim *c)
{
	const char *p = data, *end = p + len, *field[5];
	size_t flen[5], k = 0;
	uint64_t at;

	if (!data || len == 0 || len >= CLAIM_TEXT_MAX)
		return -1;
	while (k < 5) {   /* five fields, one space between each */
		const char *sp = memchr(p, ' ', (size_t)(end - p));
		field[k] = p;
		flen[k] = (size_t)((sp ? sp : end) - p);
		k++;
		if (!sp)
			break;
		p = sp + 1;
	}
	if (k != 5 || field[4] + flen[4] != end)
		return -1;
	if (flen[0] != 2 || memcmp(field[0], "v1", 2) || flen[1] != 1 ||
	    !strchr("CDR", field[1][0]) || !field[1][0] || !member_ok(field[2], flen[2]) ||
	    number(field[3], flen[3], (uint64_t)INT64_MAX, &c->seq) || c->seq == 0 ||
	    number(field[4], flen[4], (uint64_t)AT_MAX, &at))
		return -1;
	c->state = field[1][0];
	memcpy(c->member, field[2], CLAIM_MEMBER_LEN);
	c->member[CLAIM_MEMBER_LEN] = '\0';
	c->at = (int64_t)at;
	return 0;
}

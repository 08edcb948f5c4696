/* The plugin's topic rules (docs/broker-auth.md, "What an identity may do"): which topics
 * fit the topic template. Topics come from clients: fuzz/fuzz_acl_topic.c. */
#include <stdio.h>
#include <string.h>

#include <danemsg.h>

#include "acl_topic.h"

#define TOPIC_MAX 1024

enum var { LITERAL, VAR_TO, VAR_TO_PATH, VAR_FROM };

/* Which variable starts at t, and its length in the template (1 for a literal). */
static enum var var_at(const char *t, size_t *len)
{
	static const struct { const char *text; enum var v; } vars[] = {
		{"{to}", VAR_TO}, {"{to_path}", VAR_TO_PATH}, {"{from}", VAR_FROM},
	};
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		*len = strlen(vars[i].text);
		if (!strncmp(t, vars[i].text, *len))
			return vars[i].v;
	}
	*len = 1;
	return LITERAL;
}

/* How much of topic a variable takes: a name, up to the template's next character; a
 * path, as many levels as leave the template's remaining levels (rest) to the rest. */
static size_t var_extent(enum var v, const char *rest, const char *topic)
{
	size_t levels = 0, n;
	if (v != VAR_TO_PATH)
		return *rest ? strcspn(topic, (char[]){*rest, '\0'}) : strlen(topic);
	for (const char *r = rest; *r; r++)
		levels += *r == '/';
	for (n = strlen(topic); n > 0 && levels > 0; n--)
		levels -= topic[n - 1] == '/';
	return levels ? 0 : n;
}

int acl_topic_fits(const char *tmpl, const char *topic, const char *to, const char *from,
		   char *to_out, size_t to_out_len)
{
	while (*tmpl) {
		char raw[DANEMSG_CREDENTIAL_NAME_MAX], name[DANEMSG_CREDENTIAL_NAME_MAX];
		size_t n, tlen;
		enum var v = var_at(tmpl, &tlen);
		const char *want = v == VAR_FROM ? from : to;
		danemsg_err err;

		if (v == LITERAL) {
			if (*topic++ != *tmpl++)
				return 0;
			continue;
		}
		tmpl += tlen;
		n = var_extent(v, tmpl, topic);
		if (n == 0 || n >= sizeof(raw) ||
		    strcspn(topic, v == VAR_TO_PATH ? "+#" : "+#/") < n)
			return 0;
		memcpy(raw, topic, n);
		raw[n] = '\0';
		err = v == VAR_TO_PATH ? danemsg_credential_name_from_path(raw, name, sizeof(name))
				       : danemsg_credential_name_normalize(raw, name, sizeof(name));
		if (err || (want && strcmp(name, want)))
			return 0;
		if (v != VAR_FROM && to_out &&
		    (size_t)snprintf(to_out, to_out_len, "%s", name) >= to_out_len)
			return 0;
		topic += n;
	}
	return *topic == '\0';
}

int acl_template_ok(const char *tmpl)
{
	int recipients = 0;
	for (const char *t = tmpl; *t;) {
		size_t len;
		enum var v = var_at(t, &len);
		t += len;
		if (v == VAR_TO_PATH && *t && *t != '/')
			return 0;
		recipients += v == VAR_TO || v == VAR_TO_PATH;
	}
	return recipients >= 1;
}

int acl_own_subscription(const char *tmpl, const char *user, const char *topic)
{
	char want[TOPIC_MAX], user_path[DANEMSG_CREDENTIAL_NAME_MAX];
	size_t n = 0;

	if (danemsg_credential_name_to_path(user, user_path, sizeof(user_path)))
		return 0;
	for (const char *t = tmpl; *t && n + 256 < sizeof(want);) {
		size_t len;
		enum var v = var_at(t, &len);
		if (v == LITERAL)
			want[n++] = *t;
		else if (v == VAR_FROM)
			want[n++] = '+';
		else
			n += (size_t)snprintf(want + n, sizeof(want) - n, "%s",
					      v == VAR_TO ? user : user_path);
		t += len;
	}
	want[n] = '\0';
	if (!strncmp(topic, "$share/", 7) && strchr(topic + 7, '/'))   /* shared: the group */
		topic = strchr(topic + 7, '/') + 1;
	return !strcmp(topic, want) || acl_topic_fits(tmpl, topic, user, NULL, NULL, 0);
}

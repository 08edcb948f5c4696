/* The plugin's topic rules (docs/broker-auth.md, "What an identity may do"): which topics
 * fit the topic template. Topics come from clients: fuzz/fuzz_acl_topic.c. */
#include <stdio.h>
#include <string.h>

#include <danemsg.h>

#include "acl_topic.h"

#define TOPIC_MAX 1024

int acl_topic_fits(const char *tmpl, const char *topic, const char *to, const char *from,
		   char *to_out, size_t to_out_len)
{
	while (*tmpl) {
		int is_to = !strncmp(tmpl, "{to}", 4), is_from = !strncmp(tmpl, "{from}", 6);
		const char *want = is_to ? to : from;
		char raw[DANEMSG_CREDENTIAL_NAME_MAX], name[DANEMSG_CREDENTIAL_NAME_MAX];
		size_t n;

		if (!is_to && !is_from) {
			if (*topic++ != *tmpl++)
				return 0;
			continue;
		}
		tmpl += is_to ? 4 : 6;
		n = *tmpl ? strcspn(topic, (char[]){*tmpl, '\0'}) : strlen(topic);
		if (n == 0 || n >= sizeof(raw) || strcspn(topic, "+#/") < n)
			return 0;
		memcpy(raw, topic, n);
		raw[n] = '\0';
		if (danemsg_credential_name_normalize(raw, name, sizeof(name)))
			return 0;
		if (want && strcmp(name, want))
			return 0;
		if (is_to && to_out &&
		    (size_t)snprintf(to_out, to_out_len, "%s", name) >= to_out_len)
			return 0;
		topic += n;
	}
	return *topic == '\0';
}

int acl_own_subscription(const char *tmpl, const char *user, const char *topic)
{
	char want[TOPIC_MAX];
	size_t n = 0;

	for (const char *t = tmpl; *t && n + 256 < sizeof(want);) {
		if (!strncmp(t, "{to}", 4)) {
			n += (size_t)snprintf(want + n, sizeof(want) - n, "%s", user);
			t += 4;
		} else if (!strncmp(t, "{from}", 6)) {
			want[n++] = '+';
			t += 6;
		} else {
			want[n++] = *t++;
		}
	}
	want[n] = '\0';
	if (!strncmp(topic, "$share/", 7) && strchr(topic + 7, '/'))   /* shared: the group */
		topic = strchr(topic + 7, '/') + 1;
	return !strcmp(topic, want) || acl_topic_fits(tmpl, topic, user, NULL, NULL, 0);
}

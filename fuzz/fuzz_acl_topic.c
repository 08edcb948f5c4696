/*
 * libFuzzer target for the broker plugin's topic rules (plugin/acl_topic.c): topics and
 * user names come from MQTT clients. Input: "USER\nTOPIC" with the first byte choosing a
 * template. Invariants: a name a topic yields is a normalized DNS name that fits again
 * when asked for by name, and whose path turns back into it; a topic allowed as one's own
 * subscription holds no '#', and no '+' unless the template has {from}.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <danemsg.h>

#include "acl_topic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int ok)
{
	if (!ok)
		abort();
}

static const char *const templates[] = {
	"{to}", "danemsg/{to}", "{to}/{from}", "in/{from}/{to}/x", "{to}.{from}",
	"danemsg/{to_path}", "{to_path}/{from}", "in/{from}/{to_path}/x", "{to_path}",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[2048], to[DANEMSG_CREDENTIAL_NAME_MAX], again[DANEMSG_CREDENTIAL_NAME_MAX];
	char user[DANEMSG_CREDENTIAL_NAME_MAX], path[DANEMSG_CREDENTIAL_NAME_MAX];
	const char *tmpl, *topic, *t;
	char *nl;

	if (size < 1 || size >= sizeof(text))
		return 0;
	tmpl = templates[data[0] % (sizeof(templates) / sizeof(templates[0]))];
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	if (!(nl = strchr(text, '\n')))
		return 0;
	*nl = '\0';
	topic = nl + 1;
	if (acl_topic_fits(tmpl, topic, NULL, NULL, to, sizeof(to))) {
		require(!danemsg_credential_name_normalize(to, again, sizeof(again)) &&
			!strcmp(to, again));
		require(acl_topic_fits(tmpl, topic, to, NULL, NULL, 0));
		require(!danemsg_credential_name_to_path(to, path, sizeof(path)) &&
			!danemsg_credential_name_from_path(path, again, sizeof(again)) &&
			!strcmp(to, again));
		require(!strchr(topic, '#') && !strchr(topic, '+'));
	}
	if (danemsg_credential_name_normalize(text, user, sizeof(user)))
		return 0;
	if (acl_own_subscription(tmpl, user, topic)) {
		t = strncmp(topic, "$share/", 7) || !strchr(topic + 7, '/') ? topic
							: strchr(topic + 7, '/') + 1;
		require(!strchr(t, '#'));
		require(strstr(tmpl, "{from}") || !strchr(t, '+'));
	}
	return 0;
}

/* The plugin's topic rules: templates with {to} or {to_path}, and {from}. */
#ifndef DANEMSG_PLUGIN_ACL_TOPIC_H
#define DANEMSG_PLUGIN_ACL_TOPIC_H

#include <stddef.h>

/*
 * Does topic fit the template tmpl, {to} or {to_path} being to (NULL: any identity's
 * name, written normalized to to_out, which may be NULL) and {from} being from (NULL: any
 * name)? Names are taken up to the template's next character, must be DNS names
 * (normalized compare with to and from, which must be normalized) and hold no wildcard or
 * '/'; a {to_path} takes whole levels (all but as many as the template has after it) and
 * must be a name's path (danemsg_credential_name_to_path). 1 or 0.
 */
int acl_topic_fits(const char *tmpl, const char *topic, const char *to, const char *from,
		   char *to_out, size_t to_out_len);

/* A usable template: a {to} or {to_path}, and a {to_path} only before a '/' or at the end.
 * 1 or 0. */
int acl_template_ok(const char *tmpl);

/* Is topic (or $share/GROUP/topic) the one user subscribes to: {to} user ({to_path} its
 * path), {from} '+' or
 * one sender's name? user normalized. 1 or 0. */
int acl_own_subscription(const char *tmpl, const char *user, const char *topic);

#endif

/* Private: the receive policy, read by the envelope. */
#ifndef DANEMSG_POLICY_INTERNAL_H
#define DANEMSG_POLICY_INTERNAL_H

#include <stdio.h>

#include <danemsg.h>

struct danemsg_policy {
	size_t max_size;
	uint32_t max_age, max_skew;
	int accept_compat;
	char **allowed;              /* canonical names; ".suffix." for wildcards */
	size_t n_allowed;
	danemsg_replay_ops replay;
	danemsg_replay_cache *own_replay;
	const danemsg_trust_anchor *chain_anchor;   /* verify carried DNSSEC chains */
	danemsg_chain_time chain_at;
};

/* Reads a replay cache file's text (for danemsg_replay_cache_load and the fuzz target):
 * DANEMSG_ERR_MALFORMED with the 1-based line in *bad_line when it does not parse. */
danemsg_err replay_cache_parse(danemsg_replay_cache *c, const char *text, size_t len,
			       int64_t now, size_t *bad_line);
/* DANEMSG_OK when ops has a layout this library knows (its version), else
 * DANEMSG_ERR_UNSUPPORTED with the reason in errbuf (may be NULL). */
danemsg_err replay_ops_check(const danemsg_replay_ops *ops, char *errbuf, size_t errbuf_len);
/* Writes the cache in that format: 1, or 0 when writing failed. */
int replay_cache_write(danemsg_replay_cache *c, FILE *f);

#endif

/* Private: the receive policy, read by the envelope. */
#ifndef DANEMSG_POLICY_INTERNAL_H
#define DANEMSG_POLICY_INTERNAL_H

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

#endif

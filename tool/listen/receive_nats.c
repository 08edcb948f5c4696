/*
 * listen on NATS JetStream (receive_nats.h; the protocol is in docs/messaging.md, "NATS
 * JetStream: one identity, several listeners"). Per message, in a worker:
 *   1. fetched from the durable pull consumer (at most NATS_FETCH_BATCH at once);
 *   2. opened; as its last check danemsg_open asks the group's replay check, which
 *      claims the key hash(recipient, sender, id) in the bucket with an atomic create
 *      ("C", this member, the stream sequence);
 *   3. delivered, the engine told "in progress" (and the claim refreshed) every third of
 *      the ack wait meanwhile;
 *   4. the claim turned into "D" (compare-and-set on its revision), the journal written,
 *      the message acknowledged.
 * A copy that finds "D" for its own sequence was delivered already (acknowledged, not
 * delivered again); for another sequence, or "C" of another sequence, it is a replay. A
 * copy that finds "C" of its own sequence by a member that has not refreshed it for an
 * ack wait takes the claim over (that member died or is cut off): the one case where a
 * message can be delivered twice, when the member died after delivering and before "D".
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nats/nats.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "claim.h"
#include "cli.h"
#include "deliver.h"
#include "receive_nats.h"
#include "spool.h"
#include "transport_nats.h"

#define MAX_NATS_WORKERS 64
#define SKEW_S 60                    /* the freshness window's allowance for clocks */
#define MARK_TRIES 50                /* "D" and the ack: tried ~10 s through a failover */
#define KEY_HEX 64

/* The outcome of the replay check for the copy in hand. */
enum outcome {
	OUT_NONE = 0,
	OUT_CLAIMED,      /* ours now */
	OUT_TAKEN_OVER,   /* ours now, from a member that stopped refreshing its claim */
	OUT_DELIVERED,    /* this very copy was delivered by the group */
	OUT_REPLAY,       /* another copy of the message was (or is being) delivered */
	OUT_BUSY,         /* another member holds it, or the bucket cannot be reached */
};

struct slot {                        /* a worker's message in hand, for the keeper */
	natsMsg *msg;
	char key[KEY_HEX + 1];
	uint64_t rev, seq;
	int claimed;
	int64_t since;
};

struct current {                     /* the copy a worker is opening */
	struct nats_receiver *r;
	size_t w;
	uint64_t seq;
	enum outcome outcome;
	struct claim seen;               /* the claim found, for messages */
};

struct worker_arg {
	struct nats_receiver *r;
	size_t w;
};

struct nats_receiver {
	struct nats_host h;
	struct worker_arg args[MAX_NATS_WORKERS];
	natsConnection *nc;
	jsCtx *js;
	kvStore *kv;
	char subject[NATS_SUBJECT_MAX], durable[64], member[CLAIM_MEMBER_LEN + 1];
	natsSubscription *subs[MAX_NATS_WORKERS];
	pthread_t threads[MAX_NATS_WORKERS], keeper;
	int started[MAX_NATS_WORKERS], keeper_started;
	pthread_mutex_t lock;            /* slots */
	struct slot slots[MAX_NATS_WORKERS];
};

static _Thread_local struct current *cur;

static int64_t real_s(void)
{
	return (int64_t)time(NULL);
}

static void pause_ms(long ms)
{
	struct timespec t = {ms / 1000, (ms % 1000) * 1000000};
	nanosleep(&t, NULL);
}

/* The replay key: SHA-256 of recipient, sender and id, NUL-separated, in hex. */
static void replay_key(const char *me, const char *sender, const char *id, char key[65])
{
	unsigned char md[32];
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (!c || !EVP_DigestInit_ex(c, EVP_sha256(), NULL) ||
	    !EVP_DigestUpdate(c, me, strlen(me) + 1) ||
	    !EVP_DigestUpdate(c, sender, strlen(sender) + 1) ||
	    !EVP_DigestUpdate(c, id, strlen(id)) || !EVP_DigestFinal_ex(c, md, NULL))
		memset(md, 0, sizeof(md));
	EVP_MD_CTX_free(c);
	danemsg_hex_encode(md, sizeof(md), key, 65);
}

static int claim_text(const struct nats_receiver *r, char state, uint64_t seq, char *out)
{
	struct claim c = {.state = state, .seq = seq, .at = real_s()};
	memcpy(c.member, r->member, sizeof(c.member));
	return claim_format(&c, out, CLAIM_TEXT_MAX);
}

/* Replaces the claim at revision *rev with state: 0 and the new revision, or -1. */
static int claim_set(struct nats_receiver *r, const char *key, char state, uint64_t seq,
		     uint64_t *rev)
{
	char text[CLAIM_TEXT_MAX];
	uint64_t next = 0;
	int n = claim_text(r, state, seq, text);
	if (n < 0 || kvStore_Update(&next, r->kv, key, text, n, *rev) != NATS_OK)
		return -1;
	*rev = next;
	return 0;
}

/* The claim someone holds on key, read back: 0 (c, its revision), 1 none, -1 cannot tell
 * (unreachable, or a value that does not parse: refused as a replay, see the caller). */
static int claim_read(struct nats_receiver *r, const char *key, struct claim *c,
		      uint64_t *rev)
{
	kvEntry *e = NULL;
	natsStatus s = kvStore_Get(&e, r->kv, key);
	int rc;
	if (s == NATS_NOT_FOUND)
		return 1;
	if (s != NATS_OK)
		return -1;
	rc = claim_parse(kvEntry_Value(e), (size_t)kvEntry_ValueLen(e), c) ? -2 : 0;
	*rev = kvEntry_Revision(e);
	kvEntry_Destroy(e);
	return rc;
}

/* What a claim found on the key means for the copy in hand (see the file's comment). */
static enum outcome judge(const struct nats_receiver *r, const struct claim *c, uint64_t seq,
			  int64_t now)
{
	if (c->state == 'D')
		return c->seq == seq ? OUT_DELIVERED : OUT_REPLAY;
	if (c->state == 'R')
		return OUT_CLAIMED;   /* given back: anyone's */
	if (c->seq != seq)
		return OUT_REPLAY;
	if (!strcmp(c->member, r->member))
		return OUT_CLAIMED;
	if (now - c->at < (int64_t)r->h.ack_wait)
		return OUT_BUSY;
	return OUT_TAKEN_OVER;
}

/* Claims key for the copy in hand: 0 (its revision in *rev), or the outcome that says why
 * not (cur->outcome set). */
static int claim(struct nats_receiver *r, const char *key, uint64_t *rev)
{
	char text[CLAIM_TEXT_MAX];
	int n = claim_text(r, 'C', cur->seq, text);

	for (int tries = 0; n > 0 && tries < 3; tries++) {
		int found;
		if (kvStore_Create(rev, r->kv, key, text, n) == NATS_OK) {
			cur->outcome = OUT_CLAIMED;
			return 0;
		}
		found = claim_read(r, key, &cur->seen, rev);
		if (found == 1)
			continue;   /* gone meanwhile (TTL): create again */
		if (found == -1)
			break;
		if (found == -2) {
			r->h.log("the replay bucket holds a value for %s that does not parse: "
				 "taken as a replay", key);
			cur->outcome = OUT_REPLAY;
			return -1;
		}
		cur->outcome = judge(r, &cur->seen, cur->seq, real_s());
		if (cur->outcome != OUT_CLAIMED && cur->outcome != OUT_TAKEN_OVER)
			return -1;
		if (claim_set(r, key, 'C', cur->seq, rev) == 0)
			return 0;
	}
	cur->outcome = OUT_BUSY;   /* lost a race, or the bucket is out of reach: later */
	return -1;
}

/* danemsg_replay_ops.check_and_add for the group (see the file's comment). */
static danemsg_err group_check(void *ctx, const char *sender, const char *id,
			       int64_t expires_at, int64_t now)
{
	struct nats_receiver *r = ctx;
	struct slot *sl;
	char key[KEY_HEX + 1];
	uint64_t rev = 0;

	(void)expires_at;   /* the bucket's TTL covers every message we accept */
	(void)now;
	if (!cur || cur->r != r)
		return DANEMSG_ERR_INVALID_ARG;
	replay_key(r->h.me, sender, id, key);
	if (claim(r, key, &rev))
		return cur->outcome == OUT_BUSY ? DANEMSG_ERR_BROKER : DANEMSG_ERR_REPLAYED;
	sl = &r->slots[cur->w];
	pthread_mutex_lock(&r->lock);
	memcpy(sl->key, key, sizeof(key));
	sl->rev = rev;
	sl->claimed = 1;
	pthread_mutex_unlock(&r->lock);
	return DANEMSG_OK;
}

danemsg_replay_ops nats_receiver_replay_ops(struct nats_receiver *r)
{
	danemsg_replay_ops ops = {DANEMSG_REPLAY_OPS_VERSION, group_check, r};
	return ops;
}

/* ---- a worker's messages ---- */

/* The copy's number in the journal and the quarantine's names (a stream sequence is
 * 64-bit; the journal keeps 31 bits of it, enough to tell a redelivery from a replay). */
static int seq_mid(uint64_t seq)
{
	return (int)(seq & 0x7fffffff);
}

static void ack(struct nats_receiver *r, natsMsg *msg)
{
	for (int i = 0; i < MARK_TRIES; i++) {
		if (natsMsg_AckSync(msg, NULL, NULL) == NATS_OK)
			return;
		pause_ms(200);
	}
	r->h.log("cannot acknowledge a message (the engine will offer it again; it is "
		 "known as delivered or refused)");
}

/* Gives the claim back ("R": anyone may take it) after a temporary failure. */
static void release(struct nats_receiver *r, size_t w)
{
	struct slot *sl = &r->slots[w];
	pthread_mutex_lock(&r->lock);
	if (sl->claimed && claim_set(r, sl->key, 'R', sl->seq, &sl->rev))
		r->h.log("cannot release the claim on %.12s (it lapses after %lu s)", sl->key,
			 r->h.ack_wait);
	sl->claimed = 0;
	pthread_mutex_unlock(&r->lock);
}

/* Not now: the engine offers it again after delay_ns (to any member). */
static void later(struct nats_receiver *r, size_t w, natsMsg *msg, int64_t delay_ns)
{
	release(r, w);
	if (natsMsg_NakWithDelay(msg, delay_ns / 1000000, NULL) != NATS_OK)
		r->h.log("cannot give a message back (the engine offers it again after %lu s)",
			 r->h.ack_wait);
}

/* Delivered: the claim becomes "D" (compare-and-set: a member that took it over is
 * seen), then the journal, then the acknowledgement. */
static void finish(struct nats_receiver *r, size_t w, natsMsg *msg, const danemsg_message *m,
		   const uint8_t sha[32], int64_t received_ns)
{
	struct slot *sl = &r->slots[w];
	int marked = -1;

	pthread_mutex_lock(&r->lock);
	for (int i = 0; i < MARK_TRIES && marked; i++) {
		struct claim c;
		uint64_t rev;
		if (!(marked = claim_set(r, sl->key, 'D', sl->seq, &sl->rev)))
			break;
		if (claim_read(r, sl->key, &c, &rev) == 0 && strcmp(c.member, r->member)) {
			r->h.log("WARNING: delivered stream message %" PRIu64 ", but member %s "
				 "took it over meanwhile (we were cut off for %lu s): it may be "
				 "delivered twice", sl->seq, c.member, r->h.ack_wait);
			break;
		}
		pthread_mutex_unlock(&r->lock);
		pause_ms(200);
		pthread_mutex_lock(&r->lock);
	}
	if (marked)
		r->h.log("WARNING: delivered stream message %" PRIu64 ", and cannot record it in "
			 "the replay bucket", sl->seq);
	sl->claimed = 0;
	pthread_mutex_unlock(&r->lock);
	r->h.delivered(r->h.ctx, m, sha, seq_mid(sl->seq), received_ns);
	ack(r, msg);
}

/* The replay check refused the copy, or another member holds it. */
static void not_opened(struct nats_receiver *r, size_t w, natsMsg *msg, const char *name,
		       const uint8_t *data, size_t len, const struct current *c)
{
	char detail[300];
	if (c->outcome == OUT_BUSY) {
		r->h.log("stream message %" PRIu64 " is %s: again in %lu s", c->seq,
			 c->seen.state == 'C' ? "being delivered by another member" :
			 "not claimable now (the replay bucket cannot be reached)",
			 r->h.ack_wait);
		later(r, w, msg, (int64_t)r->h.ack_wait * 1000000000);
		return;
	}
	if (c->outcome == OUT_DELIVERED) {
		r->h.log("duplicate: stream message %" PRIu64 " was delivered by member %s "
			 "already: acknowledged", c->seq, c->seen.member);
	} else {
		snprintf(detail, sizeof(detail), "the message was delivered (or is being "
			 "delivered) as stream message %" PRIu64 " by member %s; this copy is "
			 "stream message %" PRIu64, c->seen.seq, c->seen.member, c->seq);
		r->h.refuse(r->h.ctx, name, data, len, "replayed", detail);
	}
	ack(r, msg);
}

/* A failure: temporary ones again later (until the attempts run out), others final. */
static void failed(struct nats_receiver *r, size_t w, natsMsg *msg, const char *name,
		   const uint8_t *data, size_t len, unsigned limit, uint64_t attempts,
		   const char *what, const char *why)
{
	char detail[700];
	if (limit && attempts < limit) {
		int64_t delay = r->h.retry_delay_ns((unsigned)attempts - 1);
		r->h.log("retry in %lld s: %s: %s (stream message %s)",
			 (long long)((delay + 500000000) / 1000000000), what, why, name);
		later(r, w, msg, delay);
		return;
	}
	release(r, w);
	if (limit)
		snprintf(detail, sizeof(detail), "gave up after %" PRIu64 " attempts: %s",
			 attempts, why);
	else
		snprintf(detail, sizeof(detail), "%s", why);
	r->h.refuse(r->h.ctx, name, data, len, what, detail);
	ack(r, msg);
}

/* The time the stream stored it (Unix ns), unless that is not believable: now. */
static int64_t stored_ns(const jsMsgMetaData *meta)
{
	int64_t now_ns = real_s() * 1000000000;
	if (meta->Timestamp <= 0 || meta->Timestamp > now_ns + (int64_t)SKEW_S * 1000000000)
		return now_ns;
	return meta->Timestamp;
}

static void handle(struct nats_receiver *r, size_t w, natsMsg *msg)
{
	const uint8_t *data = (const uint8_t *)natsMsg_GetData(msg);
	int data_len = natsMsg_GetDataLength(msg), dmid, rc;
	size_t len = data_len > 0 ? (size_t)data_len : 0;
	struct current c = {.r = r, .w = w};
	struct slot *sl = &r->slots[w];
	char name[SPOOL_NAME_MAX], errbuf[600] = "", why[400] = "", detail[200];
	jsMsgMetaData *meta = NULL;
	danemsg_message *m = NULL;
	int64_t received_ns;
	uint8_t sha[32];
	danemsg_err err;

	if (natsMsg_GetMetaData(&meta, msg) != NATS_OK) {
		r->h.log("a message that is not from the stream (no metadata): dropped");
		natsMsg_Term(msg, NULL);
		return;
	}
	c.seq = meta->Sequence.Stream;
	received_ns = stored_ns(meta);
	SHA256(data ? data : (const uint8_t *)"", len, sha);
	spool_name(sha, seq_mid(c.seq), name);
	if (len > r->h.max_size) {
		snprintf(detail, sizeof(detail), "%zu bytes, over the limit of %lu", len,
			 r->h.max_size);
		r->h.refuse(r->h.ctx, name, NULL, len, "too-large", detail);
		ack(r, msg);
	} else if (r->h.was_delivered(r->h.ctx, sha, &dmid)) {
		if (dmid == seq_mid(c.seq)) {
			r->h.log("duplicate: stream message %" PRIu64 " was delivered here "
				 "already: acknowledged", c.seq);
		} else {
			snprintf(detail, sizeof(detail), "the same bytes were delivered before (as "
				 "stream message %d; this copy is %d)", dmid, seq_mid(c.seq));
			r->h.refuse(r->h.ctx, name, data, len, "replayed", detail);
		}
		ack(r, msg);
	} else {
		pthread_mutex_lock(&r->lock);
		sl->msg = msg;
		sl->seq = c.seq;
		sl->since = real_s();
		sl->claimed = 0;
		pthread_mutex_unlock(&r->lock);
		cur = &c;
		err = r->h.open(r->h.ctx, w, data, len, received_ns / 1000000000, &m, errbuf,
				sizeof(errbuf));
		cur = NULL;
		if (err && (c.outcome == OUT_BUSY || c.outcome == OUT_DELIVERED ||
			    c.outcome == OUT_REPLAY)) {
			not_opened(r, w, msg, name, data, len, &c);
		} else if (err) {
			failed(r, w, msg, name, data, len, r->h.retry_limit(r->h.ctx, err),
			       meta->NumDelivered, danemsg_err_name(err),
			       errbuf[0] ? errbuf : danemsg_strerror(err));
		} else {
			if (c.outcome == OUT_TAKEN_OVER)
				r->h.log("took stream message %" PRIu64 " over from member "
					 "%s, whose claim was not refreshed for %lu s (if it "
					 "died after delivering, this is a second delivery)",
					 c.seq, c.seen.member, r->h.ack_wait);
			rc = r->h.deliver(r->h.ctx, m, why, sizeof(why));
			if (rc == DELIVER_GONE) {
				later(r, w, msg, 0);
				r->h.gone(r->h.ctx, why);
			} else if (rc) {
				failed(r, w, msg, name, data, len,
				       r->h.retry_limit(r->h.ctx, DANEMSG_ERR_IO),
				       meta->NumDelivered, "not delivered", why);
			} else {
				finish(r, w, msg, m, sha, received_ns);
			}
		}
		pthread_mutex_lock(&r->lock);
		sl->msg = NULL;
		sl->claimed = 0;
		pthread_mutex_unlock(&r->lock);
	}
	danemsg_message_free(m);
	jsMsgMetaData_Destroy(meta);
}

static void *worker_main(void *arg)
{
	struct worker_arg *a = arg;
	struct nats_receiver *r = a->r;
	natsStatus last = NATS_OK;

	while (!atomic_load(r->h.stopping)) {
		natsMsgList list = {0};
		natsStatus s = natsSubscription_Fetch(&list, r->subs[a->w], NATS_FETCH_BATCH,
						      1000, NULL);
		if (s != NATS_OK && s != NATS_TIMEOUT) {
			if (s != last)
				r->h.log("NATS: cannot fetch: %s (trying again)", nats_why(s));
			last = s;
			pause_ms(500);
			continue;
		}
		last = NATS_OK;
		for (int i = 0; i < list.Count; i++) {
			if (atomic_load(r->h.stopping))
				natsMsg_Nak(list.Msgs[i], NULL);   /* to another member now */
			else
				handle(r, a->w, list.Msgs[i]);
		}
		natsMsgList_Destroy(&list);
	}
	return NULL;
}

/* Every third of the ack wait: "in progress" for messages in hand that long, and their
 * claims refreshed, so that no other member takes over a delivery that runs. */
static void *keeper_main(void *arg)
{
	struct nats_receiver *r = arg;
	int64_t every = r->h.ack_wait / 3 ? (int64_t)r->h.ack_wait / 3 : 1;
	while (!atomic_load(r->h.stopping)) {
		int64_t now = real_s();
		for (int i = 0; i < 10 * every && !atomic_load(r->h.stopping); i++)
			pause_ms(100);
		pthread_mutex_lock(&r->lock);
		for (size_t w = 0; w < r->h.n_workers; w++) {
			struct slot *sl = &r->slots[w];
			if (!sl->msg || now - sl->since < every)
				continue;
			natsMsg_InProgress(sl->msg, NULL);
			if (sl->claimed && claim_set(r, sl->key, 'C', sl->seq, &sl->rev))
				r->h.log("cannot refresh the claim on stream message %" PRIu64,
					 sl->seq);
		}
		pthread_mutex_unlock(&r->lock);
	}
	return NULL;
}

/* ---- set-up ---- */

/* The bucket: created when absent; its TTL must cover every message we accept: a copy
 * stored at P is accepted when its iat is at most --max-age (+ skew) before P, and the
 * stream keeps it NATS_STREAM_MAX_AGE_S, so its key must live that long. */
static int open_bucket(struct nats_receiver *r, size_t n_brokers)
{
	int64_t ttl = ((int64_t)r->h.max_age + SKEW_S + NATS_STREAM_MAX_AGE_S) * 1000000000;
	kvStatus *st = NULL;
	kvConfig cfg;
	natsStatus s = js_KeyValue(&r->kv, r->js, NATS_REPLAY_BUCKET);

	if (s == NATS_NOT_FOUND) {
		kvConfig_Init(&cfg);
		cfg.Bucket = NATS_REPLAY_BUCKET;
		cfg.History = 1;
		cfg.TTL = ttl;
		/* the server counts the headers of a conditional put too */
		cfg.MaxValueSize = 512;
		cfg.StorageType = js_FileStorage;
		cfg.Replicas = n_brokers < 3 ? (int)n_brokers : 3;
		s = js_CreateKeyValue(&r->kv, r->js, &cfg);
		if (s != NATS_OK)   /* another member created it meanwhile */
			s = js_KeyValue(&r->kv, r->js, NATS_REPLAY_BUCKET);
	}
	if (s == NATS_OK)
		s = kvStore_Status(&st, r->kv);
	if (s != NATS_OK) {
		cli_error("NATS: the replay bucket %s: %s", NATS_REPLAY_BUCKET, nats_why(s));
		return EXIT_BROKER;
	}
	if (kvStatus_TTL(st) != 0 && kvStatus_TTL(st) < ttl) {
		cli_error("NATS: the replay bucket %s forgets keys after %" PRId64 " s, less "
			  "than --max-age + 7 days (%" PRId64 " s): a replay could get through",
			  NATS_REPLAY_BUCKET, kvStatus_TTL(st) / 1000000000, ttl / 1000000000);
		kvStatus_Destroy(st);
		return EXIT_USAGE;
	}
	kvStatus_Destroy(st);
	return EXIT_OK_;
}

static int subscribe(struct nats_receiver *r, const char *stream)
{
	for (size_t w = 0; w < r->h.n_workers; w++) {
		jsSubOptions so;
		jsErrCode jerr = 0;
		natsStatus s;
		jsSubOptions_Init(&so);
		so.Stream = stream;
		so.Config.Durable = r->durable;
		so.Config.AckPolicy = js_AckExplicit;
		so.Config.AckWait = (int64_t)r->h.ack_wait * 1000000000;
		so.Config.MaxDeliver = -1;   /* we count attempts (--retry-max) */
		so.Config.MaxAckPending = 1000;
		s = js_PullSubscribe(&r->subs[w], r->js, r->subject, r->durable, NULL, &so,
				     &jerr);
		if (s != NATS_OK) {
			cli_error("NATS: cannot consume %s from stream %s (consumer %s): %s",
				  r->subject, stream, r->durable, nats_why(s));
			return EXIT_BROKER;
		}
	}
	return EXIT_OK_;
}

/* Connection, stream, bucket and subscriptions: 0, or an exit code (reported). */
static int attach(struct nats_receiver *r, const struct cli_mqtt_opts *o,
		  const struct cli_broker *brokers, size_t n, const char *stream)
{
	int rc;
	if ((rc = nats_connect(o, brokers, n, 1, &r->nc, &r->js)) ||
	    (rc = nats_stream_ensure(r->js, stream, n, 1l << 20)) ||
	    (rc = open_bucket(r, n)) || (rc = subscribe(r, stream)))
		return rc;
	return EXIT_OK_;
}

static void detach(struct nats_receiver *r)
{
	for (size_t w = 0; w < MAX_NATS_WORKERS; w++) {
		natsSubscription_Destroy(r->subs[w]);
		r->subs[w] = NULL;
	}
	kvStore_Destroy(r->kv);
	jsCtx_Destroy(r->js);
	natsConnection_Destroy(r->nc);
	r->kv = NULL;
	r->js = NULL;
	r->nc = NULL;
}

int nats_receiver_new(const struct cli_mqtt_opts *o, const struct cli_broker *brokers,
		      size_t n, const char *stream, const char *subject,
		      const struct nats_host *host, struct nats_receiver **out)
{
	struct nats_receiver *r = calloc(1, sizeof(*r));
	unsigned char rnd[CLAIM_MEMBER_LEN / 2], md[32];
	unsigned delay = 1;
	char hex[65];
	int rc;

	*out = NULL;
	if (!r || host->n_workers > MAX_NATS_WORKERS) {
		free(r);
		return EXIT_FAILURE_;
	}
	r->h = *host;
	pthread_mutex_init(&r->lock, NULL);
	snprintf(r->subject, sizeof(r->subject), "%s", subject);
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		nats_receiver_free(r);
		return EXIT_FAILURE_;
	}
	danemsg_hex_encode(rnd, sizeof(rnd), r->member, sizeof(r->member));
	/* the consumer's name: the subject's digest (a subject's '.' cannot be in it) */
	SHA256((const unsigned char *)subject, strlen(subject), md);
	danemsg_hex_encode(md, 16, hex, sizeof(hex));
	snprintf(r->durable, sizeof(r->durable), "danemsg-%.32s", hex);
	/* an unreachable cluster (or one electing leaders) is waited for, never fatal */
	while ((rc = attach(r, o, brokers, n, stream)) == EXIT_BROKER &&
	       !atomic_load(r->h.stopping)) {
		detach(r);
		r->h.log("NATS: not ready; trying again in %u s", delay);
		for (unsigned i = 0; i < delay * 10 && !atomic_load(r->h.stopping); i++)
			pause_ms(100);
		delay = delay * 2 > 30 ? 30 : delay * 2;
	}
	if (rc) {
		nats_receiver_free(r);
		return rc;
	}
	r->h.log("NATS: member %s of consumer %s on stream %s (subject %s)", r->member,
		 r->durable, stream, subject);
	*out = r;
	return EXIT_OK_;
}

int nats_receiver_start(struct nats_receiver *r)
{
	for (size_t w = 0; w < r->h.n_workers; w++) {
		r->args[w].r = r;
		r->args[w].w = w;
		if (pthread_create(&r->threads[w], NULL, worker_main, &r->args[w])) {
			cli_error("cannot start a worker thread");
			return -1;
		}
		r->started[w] = 1;
	}
	if (pthread_create(&r->keeper, NULL, keeper_main, r)) {
		cli_error("cannot start a thread");
		return -1;
	}
	r->keeper_started = 1;
	r->h.ready(r->h.ctx);
	return 0;
}

void nats_receiver_join(struct nats_receiver *r)
{
	for (size_t w = 0; w < r->h.n_workers; w++)
		if (r->started[w])
			pthread_join(r->threads[w], NULL);
	if (r->keeper_started)
		pthread_join(r->keeper, NULL);
	memset(r->started, 0, sizeof(r->started));
	r->keeper_started = 0;
}

int nats_receiver_connected(struct nats_receiver *r)
{
	return r && natsConnection_Status(r->nc) == NATS_CONN_STATUS_CONNECTED;
}

void nats_receiver_free(struct nats_receiver *r)
{
	if (!r)
		return;
	detach(r);
	pthread_mutex_destroy(&r->lock);
	free(r);
	nats_CloseAndWait(5000);
}

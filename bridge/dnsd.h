/* DNS answered by atbridge itself through the module's resolver, so that no
 * module link is spent on DNS. A cache honours a TTL; identical questions in
 * flight share one module lookup.
 */
#ifndef ATB_DNSD_H
#define ATB_DNSD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dnsd;
struct ev_loop;
struct modem;

struct dnsd_config {
	unsigned ttl_s;       /* cache lifetime of an answer, and the TTL we give */
	unsigned timeout_ms;  /* no answer from the module by then: SERVFAIL */
	unsigned cache_size;  /* names cached at most */
	unsigned max_waiting; /* queries waiting for the module at most */
};

struct dnsd_stats {
	uint64_t queries, cache_hits, lookups, refused, formerr, nxdomain, servfail, dropped;
};

/* Where an answer goes: called once per query, with the whole response.
 * arg and token identify the asker (e.g. a flow table and a flow id); the
 * asker may be gone by then, which the callee must tolerate. */
typedef void (*dnsd_reply_fn)(void *arg, uint32_t token, const uint8_t *resp, size_t len);

struct dnsd *dnsd_new(struct ev_loop *loop, const struct dnsd_config *cfg);
void dnsd_set_modem(struct dnsd *d, struct modem *m);
/* Drops every waiting query unanswered. */
void dnsd_free(struct dnsd *d);

/* Answers one query message (UDP payload or one TCP-framed message). */
void dnsd_query(struct dnsd *d, const uint8_t *msg, size_t len, dnsd_reply_fn reply, void *arg,
                uint32_t token);

/* From the modem's resolved() event. */
void dnsd_on_resolved(struct dnsd *d, int req, bool ok, const uint32_t *ips, size_t n);
/* The data link went down: every lookup in flight fails. */
void dnsd_link_down(struct dnsd *d);

void dnsd_get_stats(const struct dnsd *d, struct dnsd_stats *out);

#endif

#include "dnsd.h"

#include <ev.h>
#include <stdlib.h>
#include <string.h>

#include "dns_codec.h"
#include "log.h"
#include "modem.h"

#define QUERY_MAX 512
#define NEGATIVE_TTL_MAX 30

struct waiter {
	struct waiter *next;
	dnsd_reply_fn fn;
	uint32_t token;
	uint16_t len;
	uint8_t msg[QUERY_MAX];
};

enum entry_state { E_FREE = 0, E_PENDING, E_OK, E_NX };

struct entry {
	enum entry_state st;
	char name[DNS_NAME_MAX + 1];
	uint32_t ips[MODEM_RESOLVE_MAX];
	size_t n;
	int req;
	ev_tstamp t;          /* pending: started; answered: expires */
	struct waiter *waiters;
};

static struct {
	struct ev_loop *loop;
	struct dnsd_config cfg;
	struct modem *modem;
	struct entry *cache;
	unsigned waiting;
	ev_timer tick;
	struct dnsd_stats st;
} D;

static void answer(const struct dns_query *q, enum dns_rcode rcode, const uint32_t *ips,
                   size_t n, uint32_t ttl, dnsd_reply_fn fn, uint32_t token)
{
	uint8_t out[QUERY_MAX + 16 * MODEM_RESOLVE_MAX];
	size_t len = dns_build_response(q, rcode, ips, n, ttl, out, sizeof(out));

	switch (rcode) {
	case DNS_REFUSED: D.st.refused++; break;
	case DNS_FORMERR: D.st.formerr++; break;
	case DNS_NXDOMAIN: D.st.nxdomain++; break;
	case DNS_SERVFAIL: D.st.servfail++; break;
	default: break;
	}
	if (len)
		fn(token, out, len);
}

/* Answers every waiter of e from its current state and frees them. */
static void answer_waiters(struct entry *e, enum dns_rcode rcode)
{
	uint32_t ttl = 0;

	if (e->st == E_OK || e->st == E_NX) {
		double left = e->t - ev_now(D.loop);

		ttl = left > 0 ? (uint32_t)left : 0;
	}
	while (e->waiters) {
		struct waiter *w = e->waiters;
		struct dns_query q;

		e->waiters = w->next;
		D.waiting--;
		if (dns_parse_query(w->msg, w->len, &q) == DNS_NOERROR)
			answer(&q, rcode, e->ips, e->n, ttl, w->fn, w->token);
		free(w);
	}
}

static struct entry *find(const char *name)
{
	for (unsigned i = 0; i < D.cfg.cache_size; i++)
		if (D.cache[i].st != E_FREE && !strcmp(D.cache[i].name, name))
			return &D.cache[i];
	return NULL;
}

/* A free slot, else the answered entry that expires first. */
static struct entry *slot_for_new(void)
{
	struct entry *victim = NULL;

	for (unsigned i = 0; i < D.cfg.cache_size; i++) {
		struct entry *e = &D.cache[i];

		if (e->st == E_FREE)
			return e;
		if (e->st != E_PENDING && (!victim || e->t < victim->t))
			victim = e;
	}
	if (victim)
		memset(victim, 0, sizeof(*victim));
	return victim;
}

static bool add_waiter(struct entry *e, const uint8_t *msg, size_t len, dnsd_reply_fn fn,
                       uint32_t token)
{
	struct waiter *w;

	if (D.waiting >= D.cfg.max_waiting || !(w = malloc(sizeof(*w))))
		return false;
	w->fn = fn;
	w->token = token;
	w->len = (uint16_t)len;
	memcpy(w->msg, msg, len);
	w->next = e->waiters;
	e->waiters = w;
	D.waiting++;
	return true;
}

void dnsd_query(const uint8_t *msg, size_t len, dnsd_reply_fn fn, uint32_t token)
{
	struct dns_query q;
	struct entry *e;
	int rc;

	D.st.queries++;
	if (len > QUERY_MAX) {
		D.st.dropped++;
		return;
	}
	rc = dns_parse_query(msg, len, &q);
	if (rc < 0) {
		D.st.dropped++;
		return;
	}
	if (rc != DNS_NOERROR) {
		answer(&q, (enum dns_rcode)rc, NULL, 0, 0, fn, token);
		return;
	}
	if (q.qtype == DNS_TYPE_AAAA) {
		/* no IPv6 through the module: an empty answer sends programs to A at once */
		answer(&q, DNS_NOERROR, NULL, 0, D.cfg.ttl_s, fn, token);
		return;
	}
	if (q.qtype != DNS_TYPE_A) {
		answer(&q, DNS_NOTIMP, NULL, 0, 0, fn, token);
		return;
	}
	e = find(q.name);
	if (e && e->st != E_PENDING && e->t <= ev_now(D.loop)) {
		memset(e, 0, sizeof(*e)); /* expired */
		e = NULL;
	}
	if (e && e->st == E_OK) {
		D.st.cache_hits++;
		answer(&q, DNS_NOERROR, e->ips, e->n, (uint32_t)(e->t - ev_now(D.loop)), fn, token);
		return;
	}
	if (e && e->st == E_NX) {
		D.st.cache_hits++;
		answer(&q, DNS_NXDOMAIN, NULL, 0, 0, fn, token);
		return;
	}
	if (e) { /* pending: share the lookup in flight */
		if (!add_waiter(e, msg, len, fn, token))
			answer(&q, DNS_SERVFAIL, NULL, 0, 0, fn, token);
		return;
	}
	e = slot_for_new();
	if (!e || !D.modem) {
		answer(&q, DNS_SERVFAIL, NULL, 0, 0, fn, token);
		return;
	}
	e->req = modem_resolve(D.modem, q.name);
	if (e->req < 0) {
		/* a name no module command can carry: refused, not a failure */
		enum dns_rcode rc = e->req == MODEM_NAME_REFUSED ? DNS_REFUSED : DNS_SERVFAIL;
		memset(e, 0, sizeof(*e));
		answer(&q, rc, NULL, 0, 0, fn, token);
		return;
	}
	D.st.lookups++;
	e->st = E_PENDING;
	strcpy(e->name, q.name);
	e->t = ev_now(D.loop);
	if (!add_waiter(e, msg, len, fn, token))
		answer(&q, DNS_SERVFAIL, NULL, 0, 0, fn, token);
	log_debug("dns: looking up %s through the module", q.name);
}

void dnsd_on_resolved(int req, bool ok, const uint32_t *ips, size_t n)
{
	for (unsigned i = 0; i < D.cfg.cache_size; i++) {
		struct entry *e = &D.cache[i];
		unsigned ttl = D.cfg.ttl_s;

		if (e->st != E_PENDING || e->req != req)
			continue;
		if (ok && n > 0) {
			e->st = E_OK;
			e->n = n > MODEM_RESOLVE_MAX ? MODEM_RESOLVE_MAX : n;
			memcpy(e->ips, ips, e->n * sizeof(*ips));
		} else {
			e->st = E_NX;
			if (ttl > NEGATIVE_TTL_MAX)
				ttl = NEGATIVE_TTL_MAX;
		}
		e->t = ev_now(D.loop) + ttl;
		answer_waiters(e, e->st == E_OK ? DNS_NOERROR : DNS_NXDOMAIN);
		if (ttl == 0)
			memset(e, 0, sizeof(*e));
		return;
	}
}

static void fail_pending(bool only_timed_out)
{
	ev_tstamp now = ev_now(D.loop);

	for (unsigned i = 0; i < D.cfg.cache_size; i++) {
		struct entry *e = &D.cache[i];

		if (e->st != E_PENDING)
			continue;
		if (only_timed_out && now - e->t < D.cfg.timeout_ms / 1000.0)
			continue;
		log_debug("dns: no answer for %s from the module", e->name);
		answer_waiters(e, DNS_SERVFAIL);
		memset(e, 0, sizeof(*e));
	}
}

void dnsd_link_down(void)
{
	fail_pending(false);
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	fail_pending(true);
}

int dnsd_init(struct ev_loop *loop, const struct dnsd_config *cfg)
{
	memset(&D, 0, sizeof(D));
	D.loop = loop;
	D.cfg = *cfg;
	D.cache = calloc(cfg->cache_size, sizeof(*D.cache));
	if (!D.cache)
		return -1;
	ev_timer_init(&D.tick, on_tick, 0.25, 0.25);
	ev_timer_start(loop, &D.tick);
	return 0;
}

void dnsd_set_modem(struct modem *m)
{
	D.modem = m;
}

void dnsd_shutdown(void)
{
	if (!D.cache)
		return;
	for (unsigned i = 0; i < D.cfg.cache_size; i++) {
		while (D.cache[i].waiters) {
			struct waiter *w = D.cache[i].waiters;

			D.cache[i].waiters = w->next;
			free(w);
		}
	}
	ev_timer_stop(D.loop, &D.tick);
	free(D.cache);
	D.cache = NULL;
}

void dnsd_get_stats(struct dnsd_stats *out)
{
	*out = D.st;
}

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
	void *arg;
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

struct dnsd {
	struct ev_loop *loop;
	struct dnsd_config cfg;
	struct modem *modem;
	struct entry *cache;
	unsigned waiting;
	ev_timer tick;
	struct dnsd_stats st;
};

/* Where one answer goes. */
struct asker {
	dnsd_reply_fn fn;
	void *arg;
	uint32_t token;
};

static void answer(struct dnsd *d, const struct dns_query *q, enum dns_rcode rcode,
                   const uint32_t *ips, size_t n, uint32_t ttl, const struct asker *to)
{
	uint8_t out[QUERY_MAX + 16 * MODEM_RESOLVE_MAX];
	size_t len = dns_build_response(q, rcode, ips, n, ttl, out, sizeof(out));

	switch (rcode) {
	case DNS_REFUSED: d->st.refused++; break;
	case DNS_FORMERR: d->st.formerr++; break;
	case DNS_NXDOMAIN: d->st.nxdomain++; break;
	case DNS_SERVFAIL: d->st.servfail++; break;
	default: break;
	}
	if (len)
		to->fn(to->arg, to->token, out, len);
}

/* Answers every waiter of e from its current state and frees them. */
static void answer_waiters(struct dnsd *d, struct entry *e, enum dns_rcode rcode)
{
	uint32_t ttl = 0;

	if (e->st == E_OK || e->st == E_NX) {
		double left = e->t - ev_now(d->loop);

		ttl = left > 0 ? (uint32_t)left : 0;
	}
	while (e->waiters) {
		struct waiter *w = e->waiters;
		struct dns_query q;

		e->waiters = w->next;
		d->waiting--;
		if (dns_parse_query(w->msg, w->len, &q) == DNS_NOERROR)
			answer(d, &q, rcode, e->ips, e->n, ttl, &(struct asker){w->fn, w->arg, w->token});
		free(w);
	}
}

static struct entry *find(struct dnsd *d, const char *name)
{
	for (unsigned i = 0; i < d->cfg.cache_size; i++)
		if (d->cache[i].st != E_FREE && !strcmp(d->cache[i].name, name))
			return &d->cache[i];
	return NULL;
}

/* A free slot, else the answered entry that expires first. */
static struct entry *slot_for_new(struct dnsd *d)
{
	struct entry *victim = NULL;

	for (unsigned i = 0; i < d->cfg.cache_size; i++) {
		struct entry *e = &d->cache[i];

		if (e->st == E_FREE)
			return e;
		if (e->st != E_PENDING && (!victim || e->t < victim->t))
			victim = e;
	}
	if (victim)
		memset(victim, 0, sizeof(*victim));
	return victim;
}

static bool add_waiter(struct dnsd *d, struct entry *e, const uint8_t *msg, size_t len,
                       const struct asker *to)
{
	struct waiter *w;

	if (d->waiting >= d->cfg.max_waiting || !(w = malloc(sizeof(*w))))
		return false;
	w->fn = to->fn;
	w->arg = to->arg;
	w->token = to->token;
	w->len = (uint16_t)len;
	memcpy(w->msg, msg, len);
	w->next = e->waiters;
	e->waiters = w;
	d->waiting++;
	return true;
}

void dnsd_query(struct dnsd *d, const uint8_t *msg, size_t len, dnsd_reply_fn fn, void *arg,
                uint32_t token)
{
	const struct asker to = {fn, arg, token};
	struct dns_query q;
	struct entry *e;
	int rc;

	d->st.queries++;
	if (len > QUERY_MAX) {
		d->st.dropped++;
		return;
	}
	rc = dns_parse_query(msg, len, &q);
	if (rc < 0) {
		d->st.dropped++;
		return;
	}
	if (rc != DNS_NOERROR) {
		answer(d, &q, (enum dns_rcode)rc, NULL, 0, 0, &to);
		return;
	}
	if (q.qtype == DNS_TYPE_AAAA) {
		/* no IPv6 through the module: an empty answer sends programs to A at once */
		answer(d, &q, DNS_NOERROR, NULL, 0, d->cfg.ttl_s, &to);
		return;
	}
	if (q.qtype != DNS_TYPE_A) {
		answer(d, &q, DNS_NOTIMP, NULL, 0, 0, &to);
		return;
	}
	e = find(d, q.name);
	if (e && e->st != E_PENDING && e->t <= ev_now(d->loop)) {
		memset(e, 0, sizeof(*e)); /* expired */
		e = NULL;
	}
	if (e && e->st == E_OK) {
		d->st.cache_hits++;
		answer(d, &q, DNS_NOERROR, e->ips, e->n, (uint32_t)(e->t - ev_now(d->loop)), &to);
		return;
	}
	if (e && e->st == E_NX) {
		d->st.cache_hits++;
		answer(d, &q, DNS_NXDOMAIN, NULL, 0, 0, &to);
		return;
	}
	if (e) { /* pending: share the lookup in flight */
		if (!add_waiter(d, e, msg, len, &to))
			answer(d, &q, DNS_SERVFAIL, NULL, 0, 0, &to);
		return;
	}
	e = slot_for_new(d);
	if (!e || !d->modem) {
		answer(d, &q, DNS_SERVFAIL, NULL, 0, 0, &to);
		return;
	}
	e->req = modem_resolve(d->modem, q.name);
	if (e->req < 0) {
		/* a name no module command can carry: refused, not a failure */
		enum dns_rcode rc = e->req == MODEM_NAME_REFUSED ? DNS_REFUSED : DNS_SERVFAIL;
		memset(e, 0, sizeof(*e));
		answer(d, &q, rc, NULL, 0, 0, &to);
		return;
	}
	d->st.lookups++;
	e->st = E_PENDING;
	strcpy(e->name, q.name);
	e->t = ev_now(d->loop);
	if (!add_waiter(d, e, msg, len, &to))
		answer(d, &q, DNS_SERVFAIL, NULL, 0, 0, &to);
	log_debug("dns: looking up %s through the module", q.name);
}

void dnsd_on_resolved(struct dnsd *d, int req, bool ok, const uint32_t *ips, size_t n)
{
	for (unsigned i = 0; i < d->cfg.cache_size; i++) {
		struct entry *e = &d->cache[i];
		unsigned ttl = d->cfg.ttl_s;

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
		e->t = ev_now(d->loop) + ttl;
		answer_waiters(d, e, e->st == E_OK ? DNS_NOERROR : DNS_NXDOMAIN);
		if (ttl == 0)
			memset(e, 0, sizeof(*e));
		return;
	}
}

static void fail_pending(struct dnsd *d, bool only_timed_out)
{
	ev_tstamp now = ev_now(d->loop);

	for (unsigned i = 0; i < d->cfg.cache_size; i++) {
		struct entry *e = &d->cache[i];

		if (e->st != E_PENDING)
			continue;
		if (only_timed_out && now - e->t < d->cfg.timeout_ms / 1000.0)
			continue;
		log_debug("dns: no answer for %s from the module", e->name);
		answer_waiters(d, e, DNS_SERVFAIL);
		memset(e, 0, sizeof(*e));
	}
}

void dnsd_link_down(struct dnsd *d)
{
	fail_pending(d, false);
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	fail_pending(w->data, true);
}

struct dnsd *dnsd_new(struct ev_loop *loop, const struct dnsd_config *cfg)
{
	struct dnsd *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->loop = loop;
	d->cfg = *cfg;
	d->cache = calloc(cfg->cache_size ? cfg->cache_size : 1, sizeof(*d->cache));
	if (!d->cache) {
		free(d);
		return NULL;
	}
	ev_timer_init(&d->tick, on_tick, 0.25, 0.25);
	d->tick.data = d;
	ev_timer_start(loop, &d->tick);
	return d;
}

void dnsd_set_modem(struct dnsd *d, struct modem *m)
{
	d->modem = m;
}

void dnsd_free(struct dnsd *d)
{
	if (!d)
		return;
	for (unsigned i = 0; i < d->cfg.cache_size; i++) {
		while (d->cache[i].waiters) {
			struct waiter *w = d->cache[i].waiters;

			d->cache[i].waiters = w->next;
			free(w);
		}
	}
	ev_timer_stop(d->loop, &d->tick);
	free(d->cache);
	free(d);
}

void dnsd_get_stats(const struct dnsd *d, struct dnsd_stats *out)
{
	*out = d->st;
}

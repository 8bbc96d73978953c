/* UDP flows over module UDP links.
 *
 * A flow asks for a link on its first datagram; while the link opens, up to
 * QUEUE_MAX datagrams wait (more are dropped and counted: UDP may lose
 * datagrams, it may not grow without bound). When every link is busy, the
 * least recently used idle UDP link is recycled before anyone waits: UDP has
 * no connection to break. Idle flows are expired by lwip_port
 * (udp_idle_timeout_ms), which frees their link.
 */
#include "uflow.h"

#include <arpa/inet.h>
#include <ev.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "log.h"

#define QUEUE_MAX 8
#define DGRAM_MAX 1460 /* AT+CIPSEND takes at most 1460 bytes (manual 8.2.3, app note 6.3) */
#define DOWN_WINDOW (4 * 1472)

enum uflow_state { U_FREE = 0, U_WAIT, U_CONNECTING, U_OPEN, U_CLOSING };

struct dgram {
	uint16_t len;
	uint8_t data[];
};

struct uflow {
	struct uflow_table *ut;
	enum uflow_state st;
	uint32_t id;
	struct nat_tuple t;
	int link;
	ev_tstamp last;
	struct dgram *q[QUEUE_MAX];
	unsigned nq;
	bool nat_gone; /* lwip_port already forgot the flow */
};

struct uflow_table {
	struct bridge *b;
	struct uflow_config cfg;
	struct uflow *flows;
	struct uflow_stats st;
};

static const struct link_ops uflow_link_ops;

static struct uflow *by_id(struct uflow_table *ut, uint32_t id)
{
	for (unsigned i = 0; i < ut->cfg.max_flows; i++)
		if (ut->flows[i].st != U_FREE && ut->flows[i].id == id)
			return &ut->flows[i];
	return NULL;
}

static void drop_queue(struct uflow *f)
{
	for (unsigned i = 0; i < f->nq; i++)
		free(f->q[i]);
	f->nq = 0;
}

static void uflow_free(struct uflow *f)
{
	struct uflow_table *ut = f->ut;

	drop_queue(f);
	if (f->link >= 0)
		links_release(&ut->b->links, f->link, f);
	if (!f->nat_gone)
		lwip_port_udp_close(ut->b->stack, f->id);
	memset(f, 0, sizeof(*f));
	f->ut = ut;
	f->link = -1;
	ut->st.open--;
}

/* Sends queued datagrams while the modem takes them whole. */
static void flush_queue(struct uflow *f)
{
	while (f->nq > 0 && f->st == U_OPEN) {
		struct dgram *d = f->q[0];

		if (modem_send(f->ut->b->modem, f->link, d->data, d->len) != d->len)
			return;
		free(d);
		memmove(f->q, f->q + 1, (f->nq - 1) * sizeof(f->q[0]));
		f->nq--;
		f->ut->st.datagrams_up++;
	}
}

/* Module links UDP flows may hold at once: half the module's by default,
 * so a UDP flood cannot starve TCP. */
static unsigned uflow_link_cap(const struct uflow_table *ut)
{
	struct modem *m = ut->b->modem;
	int links = m ? modem_max_links(m) : 0;
	unsigned half = links > 1 ? (unsigned)links / 2 : 1;

	return ut->cfg.max_links ? ut->cfg.max_links : half;
}

static bool try_connect(struct uflow *f)
{
	struct bridge *b = f->ut->b;
	int link;

	if (!b->modem || !modem_is_up(b->modem) || modem_free_links(b->modem) <= 0)
		return false;
	if (links_count(&b->links, &uflow_link_ops) >= uflow_link_cap(f->ut))
		return false; /* the rest are TCP's: a UDP flood must not starve it */
	link = modem_open(b->modem, MODEM_UDP, f->t.dst_ip, ntohs(f->t.dst_port));
	if (link < 0)
		return false;
	if (!links_claim(&b->links, link, &uflow_link_ops, f)) {
		log_err("modem returned link %d, which is beyond %d or in use", link, LINKS_MAX);
		modem_close(b->modem, link);
		return false;
	}
	f->link = link;
	f->st = U_CONNECTING;
	return true;
}

static void dns_reply(void *arg, uint32_t token, const uint8_t *resp, size_t len)
{
	struct uflow_table *ut = arg;

	/* the flow may be gone by now: lwip_port then refuses quietly */
	lwip_port_udp_send(ut->b->stack, token, resp, len);
}

void uflow_on_recv(struct uflow_table *ut, uint32_t flow_id, const struct nat_tuple *t,
                   const uint8_t *data, size_t len)
{
	struct modem *m = ut->b->modem;
	struct uflow *f;
	struct dgram *d;

	if (ut->cfg.intercept_dns && ntohs(t->dst_port) == 53) {
		ut->st.dns_queries++;
		dnsd_query(ut->b->dns, data, len, dns_reply, ut, flow_id);
		return;
	}
	if (len > DGRAM_MAX) {
		ut->st.dropped_too_big++;
		return;
	}
	f = by_id(ut, flow_id);
	if (!f) {
		for (unsigned i = 0; i < ut->cfg.max_flows; i++) {
			if (ut->flows[i].st == U_FREE) {
				f = &ut->flows[i];
				break;
			}
		}
		if (!f) {
			ut->st.dropped_table_full++;
			return;
		}
		memset(f, 0, sizeof(*f));
		f->ut = ut;
		f->st = U_WAIT;
		f->id = flow_id;
		f->t = *t;
		f->link = -1;
		ut->st.open++;
	}
	f->last = ev_now(ut->b->loop);
	if (f->st == U_OPEN && f->nq == 0 && modem_send(m, f->link, data, len) == len) {
		ut->st.datagrams_up++;
		return;
	}
	if (f->nq >= QUEUE_MAX || !(d = malloc(sizeof(*d) + len))) {
		ut->st.dropped_queue_full++;
		return;
	}
	d->len = (uint16_t)len;
	memcpy(d->data, data, len);
	f->q[f->nq++] = d;
	if (f->st == U_WAIT && !try_connect(f))
		uflow_recycle_idle_link(ut);
}

void uflow_on_expired(struct uflow_table *ut, uint32_t flow_id)
{
	struct uflow *f = by_id(ut, flow_id);

	if (!f)
		return;
	f->nat_gone = true;
	if (f->link >= 0 && (f->st == U_OPEN || f->st == U_CONNECTING)) {
		f->st = U_CLOSING;
		drop_queue(f);
		modem_close(ut->b->modem, f->link);
		return;
	}
	if (f->st != U_CLOSING)
		uflow_free(f);
}

bool uflow_recycle_idle_link(struct uflow_table *ut)
{
	struct uflow *victim = NULL;

	for (unsigned i = 0; i < ut->cfg.max_flows; i++) {
		struct uflow *f = &ut->flows[i];

		if (f->st == U_OPEN && f->nq == 0 && (!victim || f->last < victim->last))
			victim = f;
	}
	if (!victim)
		return false;
	log_debug("udp: recycling the idle link %d of flow %u", victim->link, victim->id);
	ut->st.links_recycled++;
	victim->st = U_CLOSING;
	modem_close(ut->b->modem, victim->link);
	return true;
}

void uflow_admit_waiting(struct uflow_table *ut)
{
	struct uflow *oldest;

	do {
		oldest = NULL;
		for (unsigned i = 0; i < ut->cfg.max_flows; i++) {
			struct uflow *f = &ut->flows[i];

			if (f->st == U_WAIT && (!oldest || f->last < oldest->last))
				oldest = f;
		}
	} while (oldest && try_connect(oldest));
}

/* --- module link events (through the bridge's link-owner table) ------- */

static void uflow_link_connected(void *owner, int link, bool ok)
{
	struct uflow *f = owner;
	struct modem *m = f->ut->b->modem;

	if (!ok) {
		/* nothing to tell the client: UDP; its datagrams are dropped */
		log_debug("udp: flow %u: module could not open a UDP link", f->id);
		f->link = -1;
		uflow_free(f);
		return;
	}
	if (f->st == U_CLOSING) {
		modem_close(m, link);
		return;
	}
	f->st = U_OPEN;
	modem_recv_window(m, link, DOWN_WINDOW);
	flush_queue(f);
}

static void uflow_link_data(void *owner, int link, const uint8_t *buf, size_t len)
{
	struct uflow *f = owner;

	f->last = ev_now(f->ut->b->loop);
	if (lwip_port_udp_send(f->ut->b->stack, f->id, buf, len) == 0)
		f->ut->st.datagrams_down++;
	modem_recv_window(f->ut->b->modem, link, DOWN_WINDOW);
}

static void uflow_link_sent(void *owner, int link, size_t len, bool ok)
{
	(void)link;
	(void)len;
	(void)ok;
	flush_queue(owner);
}

static void uflow_link_closed(void *owner, int link, bool lost)
{
	struct uflow *f = owner;

	(void)link;
	(void)lost; /* UDP promises nothing a lost link could break */
	f->link = -1;
	uflow_free(f);
}

static const struct link_ops uflow_link_ops = {
	.kind = "udp",
	.connected = uflow_link_connected,
	.data = uflow_link_data,
	.sent = uflow_link_sent,
	.closed = uflow_link_closed,
};

void uflow_link_down(struct uflow_table *ut)
{
	for (unsigned i = 0; i < ut->cfg.max_flows; i++) {
		struct uflow *f = &ut->flows[i];

		if (f->st == U_FREE)
			continue;
		f->link = -1;
		uflow_free(f);
	}
}

struct uflow_table *uflow_table_new(struct bridge *b, const struct uflow_config *cfg)
{
	struct uflow_table *ut = calloc(1, sizeof(*ut));

	if (!ut)
		return NULL;
	ut->b = b;
	ut->cfg = *cfg;
	ut->flows = calloc(cfg->max_flows ? cfg->max_flows : 1, sizeof(*ut->flows));
	if (!ut->flows) {
		free(ut);
		return NULL;
	}
	for (unsigned i = 0; i < cfg->max_flows; i++) {
		ut->flows[i].ut = ut;
		ut->flows[i].link = -1;
	}
	return ut;
}

void uflow_table_free(struct uflow_table *ut)
{
	if (!ut)
		return;
	for (unsigned i = 0; i < ut->cfg.max_flows; i++)
		drop_queue(&ut->flows[i]);
	free(ut->flows);
	free(ut);
}

void uflow_get_stats(const struct uflow_table *ut, struct uflow_stats *out)
{
	*out = ut->st;
}

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

#include "dnsd.h"
#include "log.h"
#include "modem.h"

#define QUEUE_MAX 8
#define MAX_LINKS 16
#define DGRAM_MAX 1460 /* AT+CIPSEND takes at most 1460 bytes (manual 8.2.3, app note 6.3) */
#define DOWN_WINDOW (4 * 1472)

enum uflow_state { U_FREE = 0, U_WAIT, U_CONNECTING, U_OPEN, U_CLOSING };

struct dgram {
	uint16_t len;
	uint8_t data[];
};

struct uflow {
	enum uflow_state st;
	uint32_t id;
	struct nat_tuple t;
	int link;
	ev_tstamp last;
	struct dgram *q[QUEUE_MAX];
	unsigned nq;
	bool nat_gone; /* lwip_port already forgot the flow */
};

static struct {
	struct ev_loop *loop;
	struct uflow_config cfg;
	struct modem *modem;
	struct uflow *flows;
	struct uflow *by_link[MAX_LINKS];
	struct uflow_stats st;
} U;

static struct uflow *by_id(uint32_t id)
{
	for (unsigned i = 0; i < U.cfg.max_flows; i++)
		if (U.flows[i].st != U_FREE && U.flows[i].id == id)
			return &U.flows[i];
	return NULL;
}

static struct uflow *by_link(int link)
{
	return link >= 0 && link < MAX_LINKS ? U.by_link[link] : NULL;
}

static void drop_queue(struct uflow *f)
{
	for (unsigned i = 0; i < f->nq; i++)
		free(f->q[i]);
	f->nq = 0;
}

static void uflow_free(struct uflow *f)
{
	drop_queue(f);
	if (f->link >= 0 && f->link < MAX_LINKS && U.by_link[f->link] == f)
		U.by_link[f->link] = NULL;
	if (!f->nat_gone)
		lwip_port_udp_close(f->id);
	memset(f, 0, sizeof(*f));
	f->link = -1;
	U.st.open--;
}

/* Sends queued datagrams while the modem takes them whole. */
static void flush_queue(struct uflow *f)
{
	while (f->nq > 0 && f->st == U_OPEN) {
		struct dgram *d = f->q[0];

		if (modem_send(U.modem, f->link, d->data, d->len) != d->len)
			return;
		free(d);
		memmove(f->q, f->q + 1, (f->nq - 1) * sizeof(f->q[0]));
		f->nq--;
		U.st.datagrams_up++;
	}
}

static unsigned links_held(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < MAX_LINKS; i++)
		n += U.by_link[i] != NULL;
	return n;
}

unsigned uflow_link_cap(void)
{
	int links = U.modem ? modem_max_links(U.modem) : 0;
	unsigned half = links > 1 ? (unsigned)links / 2 : 1;

	return U.cfg.max_links ? U.cfg.max_links : half;
}

static bool try_connect(struct uflow *f)
{
	int link;

	if (!U.modem || !modem_is_up(U.modem) || modem_free_links(U.modem) <= 0)
		return false;
	if (links_held() >= uflow_link_cap())
		return false; /* the rest are TCP's: a UDP flood must not starve it */
	link = modem_open(U.modem, MODEM_UDP, f->t.dst_ip, ntohs(f->t.dst_port));
	if (link < 0 || link >= MAX_LINKS) {
		if (link >= 0)
			modem_close(U.modem, link);
		return false;
	}
	f->link = link;
	U.by_link[link] = f;
	f->st = U_CONNECTING;
	return true;
}

static void dns_reply(uint32_t token, const uint8_t *resp, size_t len)
{
	/* the flow may be gone by now: lwip_port then refuses quietly */
	lwip_port_udp_send(token, resp, len);
}

void uflow_on_recv(void *ctx, uint32_t flow_id, const struct nat_tuple *t, const uint8_t *data,
                 size_t len)
{
	struct uflow *f;
	struct dgram *d;

	(void)ctx;
	if (U.cfg.intercept_dns && ntohs(t->dst_port) == 53) {
		U.st.dns_queries++;
		dnsd_query(data, len, dns_reply, flow_id);
		return;
	}
	if (len > DGRAM_MAX) {
		U.st.dropped_too_big++;
		return;
	}
	f = by_id(flow_id);
	if (!f) {
		for (unsigned i = 0; i < U.cfg.max_flows; i++) {
			if (U.flows[i].st == U_FREE) {
				f = &U.flows[i];
				break;
			}
		}
		if (!f) {
			U.st.dropped_table_full++;
			return;
		}
		memset(f, 0, sizeof(*f));
		f->st = U_WAIT;
		f->id = flow_id;
		f->t = *t;
		f->link = -1;
		U.st.open++;
	}
	f->last = ev_now(U.loop);
	if (f->st == U_OPEN && f->nq == 0 && modem_send(U.modem, f->link, data, len) == len) {
		U.st.datagrams_up++;
		return;
	}
	if (f->nq >= QUEUE_MAX || !(d = malloc(sizeof(*d) + len))) {
		U.st.dropped_queue_full++;
		return;
	}
	d->len = (uint16_t)len;
	memcpy(d->data, data, len);
	f->q[f->nq++] = d;
	if (f->st == U_WAIT && !try_connect(f))
		uflow_recycle_idle_link();
}

void uflow_on_expired(void *ctx, uint32_t flow_id)
{
	struct uflow *f = by_id(flow_id);

	(void)ctx;
	if (!f)
		return;
	f->nat_gone = true;
	if (f->link >= 0 && (f->st == U_OPEN || f->st == U_CONNECTING)) {
		f->st = U_CLOSING;
		drop_queue(f);
		modem_close(U.modem, f->link);
		return;
	}
	if (f->st != U_CLOSING)
		uflow_free(f);
}

bool uflow_recycle_idle_link(void)
{
	struct uflow *victim = NULL;

	for (unsigned i = 0; i < U.cfg.max_flows; i++) {
		struct uflow *f = &U.flows[i];

		if (f->st == U_OPEN && f->nq == 0 && (!victim || f->last < victim->last))
			victim = f;
	}
	if (!victim)
		return false;
	log_debug("udp: recycling the idle link %d of flow %u", victim->link, victim->id);
	U.st.links_recycled++;
	victim->st = U_CLOSING;
	modem_close(U.modem, victim->link);
	return true;
}

void uflow_admit_waiting(void)
{
	struct uflow *oldest;

	do {
		oldest = NULL;
		for (unsigned i = 0; i < U.cfg.max_flows; i++) {
			struct uflow *f = &U.flows[i];

			if (f->st == U_WAIT && (!oldest || f->last < oldest->last))
				oldest = f;
		}
	} while (oldest && try_connect(oldest));
}

bool uflow_owns_link(int link)
{
	return by_link(link) != NULL;
}

void uflow_link_connected(int link, bool ok)
{
	struct uflow *f = by_link(link);

	if (!f)
		return;
	if (!ok) {
		/* nothing to tell the client: UDP; its datagrams are dropped */
		log_debug("udp: flow %u: module could not open a UDP link", f->id);
		U.by_link[link] = NULL;
		f->link = -1;
		uflow_free(f);
		return;
	}
	if (f->st == U_CLOSING) {
		modem_close(U.modem, link);
		return;
	}
	f->st = U_OPEN;
	modem_recv_window(U.modem, link, DOWN_WINDOW);
	flush_queue(f);
}

void uflow_link_data(int link, const uint8_t *buf, size_t len)
{
	struct uflow *f = by_link(link);

	if (!f)
		return;
	f->last = ev_now(U.loop);
	if (lwip_port_udp_send(f->id, buf, len) == 0)
		U.st.datagrams_down++;
	modem_recv_window(U.modem, link, DOWN_WINDOW);
}

void uflow_link_sent(int link)
{
	struct uflow *f = by_link(link);

	if (f)
		flush_queue(f);
}

void uflow_link_closed(int link)
{
	struct uflow *f = by_link(link);

	if (!f)
		return;
	U.by_link[link] = NULL;
	f->link = -1;
	uflow_free(f);
}

void uflow_link_down(void)
{
	for (unsigned i = 0; i < U.cfg.max_flows; i++) {
		struct uflow *f = &U.flows[i];

		if (f->st == U_FREE)
			continue;
		f->link = -1;
		uflow_free(f);
	}
	memset(U.by_link, 0, sizeof(U.by_link));
}

int uflow_init(struct ev_loop *loop, const struct uflow_config *cfg)
{
	memset(&U, 0, sizeof(U));
	U.loop = loop;
	U.cfg = *cfg;
	U.flows = calloc(cfg->max_flows ? cfg->max_flows : 1, sizeof(*U.flows));
	if (!U.flows)
		return -1;
	for (unsigned i = 0; i < cfg->max_flows; i++)
		U.flows[i].link = -1;
	return 0;
}

void uflow_set_modem(struct modem *m)
{
	U.modem = m;
}

void uflow_shutdown(void)
{
	if (!U.flows)
		return;
	for (unsigned i = 0; i < U.cfg.max_flows; i++)
		drop_queue(&U.flows[i]);
	free(U.flows);
	U.flows = NULL;
}

void uflow_get_stats(struct uflow_stats *out)
{
	*out = U.st;
}

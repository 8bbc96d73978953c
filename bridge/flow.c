/* The flow table and the byte pump between lwIP pcbs and module links.
 *
 * Backpressure, both ways, visible at the call sites:
 *  - upload: bytes from the client stay in f->up (lwIP pbufs) until the
 *    modem takes them; tcp_recved() is called only when the modem reports
 *    them accepted by the module (flow_link_sent), so the client's window
 *    closes while the serial line is the bottleneck;
 *  - download: the modem reads from the module only up to the window given
 *    with modem_recv_window(), which is the pcb's free send buffer.
 * Nothing here queues without a bound: f->up is bounded by the TCP window
 * lwIP advertises, the admission queue by queue_len.
 */
#include "flow.h"

#include <arpa/inet.h>
#include <ev.h>
#include <lwip/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "log.h"

enum flow_state {
	FLOW_FREE = 0,
	FLOW_QUEUED,      /* waiting for a module link */
	FLOW_CONNECTING,  /* module link opening */
	FLOW_ADMITTED,    /* SYN let through, waiting for lwIP's accept */
	FLOW_OPEN,        /* pumping */
	FLOW_CLOSING,     /* client gone, waiting for the module link to close */
};

struct flow {
	struct flow_table *ft;
	enum flow_state state;
	uint32_t id;
	struct nat_tuple t;
	int link;
	struct tcp_pcb *pcb;
	struct pbuf *up;       /* client bytes not yet taken by the modem */
	bool client_fin;
	bool link_closed;
	bool link_failed;      /* the module lost bytes of this flow: RST, not FIN */
	bool abandoned;        /* client gave up while the link was connecting */
	bool local_dns;        /* DNS over TCP answered by atbridge, no module link */
	uint8_t *dns_buf;      /* local_dns: the query being read (length-prefixed) */
	size_t dns_len;
	ev_tstamp since;       /* entered the current state */
	ev_tstamp created;
	ev_tstamp active;      /* a byte last moved either way, or the client's FIN */
	ev_tstamp down_at;     /* the module last delivered bytes (or opened) */
	bool reclaiming;       /* half-closed and quiet: its link is being closed */
	struct flow *qnext;
	uint64_t bytes_up, bytes_down;
};

#define ADMITTED_TIMEOUT 30.0

struct flow_table {
	struct bridge *b;
	struct flow_config cfg;
	struct flow *flows;
	struct flow *qhead, *qtail;
	ev_timer tick;
	struct flow_stats st;
};

static const struct link_ops flow_link_ops;

static const char *tuple_str(const struct nat_tuple *t, char *buf, size_t len)
{
	char s[INET_ADDRSTRLEN], d[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &t->src_ip, s, sizeof(s));
	inet_ntop(AF_INET, &t->dst_ip, d, sizeof(d));
	snprintf(buf, len, "%s:%u -> %s:%u", s, ntohs(t->src_port), d, ntohs(t->dst_port));
	return buf;
}

static struct flow *flow_by_id(struct flow_table *ft, uint32_t id)
{
	for (unsigned i = 0; i < ft->cfg.max_flows; i++)
		if (ft->flows[i].state != FLOW_FREE && ft->flows[i].id == id)
			return &ft->flows[i];
	return NULL;
}

static void flow_free(struct flow *f)
{
	struct flow_table *ft = f->ft;

	if (f->up)
		pbuf_free(f->up);
	free(f->dns_buf);
	if (f->link >= 0)
		links_release(&ft->b->links, f->link, f);
	memset(f, 0, sizeof(*f));
	f->ft = ft;
	f->link = -1;
	ft->st.open--;
}

static void queue_remove(struct flow *f)
{
	struct flow_table *ft = f->ft;

	for (struct flow **pp = &ft->qhead; *pp; pp = &(*pp)->qnext) {
		if (*pp == f) {
			*pp = f->qnext;
			f->qnext = NULL;
			ft->st.queued--;
			break;
		}
	}
	ft->qtail = NULL;
	for (struct flow *q = ft->qhead; q; q = q->qnext)
		ft->qtail = q;
}

static void flow_refuse(struct flow *f)
{
	lwip_port_tcp_refuse(f->ft->b->stack, f->id);
	f->ft->st.refused++;
	flow_free(f);
}

/* Module links TCP flows may hold at once: all but one by default, so a
 * UDP flow always finds one. */
static unsigned tcp_link_cap(const struct flow_table *ft)
{
	int links = modem_max_links(ft->b->modem);

	if (ft->cfg.max_links)
		return ft->cfg.max_links;
	return links > 1 ? (unsigned)links - 1 : 1; /* one stays UDP's */
}

static unsigned tcp_links_held(const struct flow_table *ft)
{
	return links_count(&ft->b->links, &flow_link_ops);
}

static unsigned links_of(const struct flow_table *ft, uint32_t src);

/* Starts the module connection of a flow. Returns false when no link is free. */
static bool flow_connect(struct flow *f)
{
	struct bridge *b = f->ft->b;
	int link;

	if (tcp_links_held(f->ft) >= tcp_link_cap(f->ft))
		return false;
	if (f->ft->cfg.links_per_source &&
	    links_of(f->ft, f->t.src_ip) >= f->ft->cfg.links_per_source)
		return false;
	link = modem_open(b->modem, MODEM_TCP, f->t.dst_ip, ntohs(f->t.dst_port));
	if (link < 0)
		return false;
	if (!links_claim(&b->links, link, &flow_link_ops, f)) {
		log_err("modem returned link %d, which is beyond %d or in use", link, LINKS_MAX);
		modem_close(b->modem, link);
		return false;
	}
	f->link = link;
	f->state = FLOW_CONNECTING;
	f->since = ev_now(b->loop);
	return true;
}

/* Module links held (or being opened) by flows from client address src. */
static unsigned links_of(const struct flow_table *ft, uint32_t src)
{
	unsigned n = 0;

	for (unsigned i = 0; i < ft->cfg.max_flows; i++) {
		const struct flow *f = &ft->flows[i];

		n += f->state != FLOW_FREE && f->state != FLOW_QUEUED && f->link >= 0 &&
		     f->t.src_ip == src;
	}
	return n;
}

static unsigned queued_of(const struct flow_table *ft, uint32_t src)
{
	unsigned n = 0;

	for (const struct flow *q = ft->qhead; q; q = q->qnext)
		n += q->t.src_ip == src;
	return n;
}

/* The next flow to get a link: the oldest of the client address holding
 * the fewest links, so that one host's burst cannot keep another waiting
 * for more than one link's turn. */
static struct flow *next_waiting(const struct flow_table *ft)
{
	struct flow *best = NULL;
	unsigned best_links = 0;

	for (struct flow *q = ft->qhead; q; q = q->qnext) {
		bool seen = false;

		for (struct flow *p = ft->qhead; p != q && !seen; p = p->qnext)
			seen = p->t.src_ip == q->t.src_ip;
		if (seen)
			continue; /* only the oldest of each address competes */
		unsigned n = links_of(ft, q->t.src_ip);
		if (!best || n < best_links) {
			best = q;
			best_links = n;
		}
	}
	return best;
}

void flow_admit_waiting(struct flow_table *ft)
{
	struct modem *m = ft->b->modem;

	while (ft->qhead && m && modem_is_up(m) && modem_free_links(m) > 0 &&
	       tcp_links_held(ft) < tcp_link_cap(ft)) {
		struct flow *f = next_waiting(ft);

		/* the address with the fewest links is at its bound: all are */
		if (ft->cfg.links_per_source && links_of(ft, f->t.src_ip) >= ft->cfg.links_per_source)
			break;
		queue_remove(f);
		if (!flow_connect(f)) {
			/* the modem said it had a link and then refused: give up on this one */
			flow_refuse(f);
		}
	}
}

unsigned flow_queued(const struct flow_table *ft)
{
	return ft->st.queued;
}

static void abort_pcb(struct flow *f);

/* The client sent FIN and the server has been quiet: the module cannot
 * half-close, so the link is closed here; its closed() ends the client's
 * side with FIN once what the module held was delivered. */
static void reclaim_halfclosed(struct flow *f)
{
	struct flow_table *ft = f->ft;

	log_debug("flow %u: half-closed and quiet for %.0f s; closing module link %d", f->id,
	          ev_now(ft->b->loop) - f->active, f->link);
	f->reclaiming = true;
	ft->st.reclaimed_halfclosed++;
	modem_close(ft->b->modem, f->link);
}

static bool open_with_link(const struct flow *f)
{
	return f->state == FLOW_OPEN && f->link >= 0 && !f->link_closed && !f->reclaiming;
}

/* A SYN waits for a link: the half-closed flow quiet the longest (at least
 * HALFCLOSE_MIN_QUIET) gives way at once; failing that, with
 * idle_reclaim_s, the flow idle both ways the longest past it is reset. */
#define HALFCLOSE_MIN_QUIET 1.0
static void reclaim_for_waiting(struct flow_table *ft, ev_tstamp now)
{
	struct flow *half = NULL, *idle = NULL;

	for (unsigned i = 0; i < ft->cfg.max_flows; i++) {
		struct flow *f = &ft->flows[i];

		if (!open_with_link(f))
			continue;
		if (f->client_fin && !f->up && now - f->active >= HALFCLOSE_MIN_QUIET &&
		    (!half || f->active < half->active))
			half = f;
		if (ft->cfg.idle_reclaim_s && now - f->active >= ft->cfg.idle_reclaim_s &&
		    (!idle || f->active < idle->active))
			idle = f;
	}
	if (half) {
		reclaim_halfclosed(half);
		return;
	}
	if (idle) {
		log_info("flow %u: idle for %.0f s while a connection waits for a link; resetting it",
		         idle->id, now - idle->active);
		ft->st.reclaimed_idle++;
		abort_pcb(idle);
		if (idle->up) {
			pbuf_free(idle->up);
			idle->up = NULL;
		}
		idle->state = FLOW_CLOSING;
		modem_close(ft->b->modem, idle->link);
	}
}

void flow_on_tcp_syn(struct flow_table *ft, uint32_t flow_id, const struct nat_tuple *t)
{
	struct modem *m = ft->b->modem;
	struct flow *f = NULL;
	char buf[96];

	for (unsigned i = 0; i < ft->cfg.max_flows; i++) {
		if (ft->flows[i].state == FLOW_FREE) {
			f = &ft->flows[i];
			break;
		}
	}
	if (!f || !m || !modem_is_up(m)) {
		log_debug("refusing %s: %s", tuple_str(t, buf, sizeof(buf)),
		          f ? "module link down" : "flow table full");
		lwip_port_tcp_refuse(ft->b->stack, flow_id);
		ft->st.refused++;
		if (f)
			ft->st.refused_link_down++;
		else
			ft->st.refused_table_full++;
		return;
	}
	memset(f, 0, sizeof(*f));
	f->ft = ft;
	f->id = flow_id;
	f->t = *t;
	f->link = -1;
	f->since = f->created = f->active = ev_now(ft->b->loop);
	ft->st.open++;
	log_debug("flow %u: SYN %s", flow_id, tuple_str(t, buf, sizeof(buf)));
	if (ft->cfg.intercept_dns && ntohs(t->dst_port) == 53) {
		/* answered here through the module's resolver: no link needed */
		f->local_dns = true;
		f->state = FLOW_ADMITTED;
		lwip_port_tcp_admit(ft->b->stack, flow_id);
		return;
	}
	if (!ft->qhead && flow_connect(f))
		return;
	/* every link busy: an idle UDP link goes first, UDP has nothing to break */
	uflow_recycle_idle_link(ft->b->udp);
	if (ft->st.queued >= ft->cfg.queue_len) {
		log_debug("flow %u: admission queue full", flow_id);
		ft->st.refused_queue_full++;
		flow_refuse(f);
		return;
	}
	if (ft->cfg.queue_per_source && queued_of(ft, t->src_ip) >= ft->cfg.queue_per_source) {
		log_debug("flow %u: %u connections of this client wait already", flow_id,
		          ft->cfg.queue_per_source);
		ft->st.refused_source_cap++;
		flow_refuse(f);
		return;
	}
	reclaim_for_waiting(ft, ev_now(ft->b->loop));
	f->state = FLOW_QUEUED;
	if (ft->qtail)
		ft->qtail->qnext = f;
	else
		ft->qhead = f;
	ft->qtail = f;
	ft->st.queued++;
}

void flow_on_tcp_abandoned(struct flow_table *ft, uint32_t flow_id)
{
	struct flow *f = flow_by_id(ft, flow_id);

	if (!f)
		return;
	log_debug("flow %u: client gave up before the connection opened", flow_id);
	switch (f->state) {
	case FLOW_QUEUED:
		queue_remove(f);
		flow_free(f);
		break;
	case FLOW_CONNECTING:
		f->abandoned = true;
		break;
	case FLOW_ADMITTED:
		if (f->local_dns) {
			flow_free(f);
			break;
		}
		f->state = FLOW_CLOSING;
		modem_close(ft->b->modem, f->link);
		break;
	default:
		break;
	}
}

/* --- the byte pump ------------------------------------------------------ */

static void update_window(struct flow *f)
{
	size_t win = 0;

	if (f->link < 0 || f->link_closed)
		return;
	if (f->pcb && f->state == FLOW_OPEN &&
	    tcp_sndqueuelen(f->pcb) + 4 < TCP_SND_QUEUELEN)
		win = tcp_sndbuf(f->pcb);
	modem_recv_window(f->ft->b->modem, f->link, win);
}

static void pump_up(struct flow *f)
{
	struct modem *m = f->ft->b->modem;
	uint8_t buf[1460];

	while (f->up && f->link >= 0 && !f->link_closed) {
		size_t space = modem_send_space(m, f->link);
		size_t n = f->up->tot_len;
		size_t taken;

		if (space == 0)
			break;
		if (n > space)
			n = space;
		if (n > sizeof(buf))
			n = sizeof(buf);
		pbuf_copy_partial(f->up, buf, (u16_t)n, 0);
		taken = modem_send(m, f->link, buf, n);
		if (taken == 0)
			break;
		f->up = pbuf_free_header(f->up, (u16_t)taken);
		f->bytes_up += taken;
		f->ft->st.bytes_up += taken;
	}
}

static void detach_pcb(struct flow *f)
{
	if (!f->pcb)
		return;
	tcp_arg(f->pcb, NULL);
	tcp_recv(f->pcb, NULL);
	tcp_sent(f->pcb, NULL);
	tcp_err(f->pcb, NULL);
	f->pcb = NULL;
}

/* Closes the client side gracefully: queued bytes go out, then FIN. */
static void close_pcb(struct flow *f)
{
	struct tcp_pcb *pcb = f->pcb;

	if (!pcb)
		return;
	detach_pcb(f);
	if (tcp_close(pcb) != ERR_OK)
		tcp_abort(pcb);
}

static void abort_pcb(struct flow *f)
{
	struct tcp_pcb *pcb = f->pcb;

	if (!pcb)
		return;
	detach_pcb(f);
	tcp_abort(pcb);
}

/* --- DNS over TCP, answered locally ------------------------------------ */

#define DNS_TCP_MAX 512

static void local_dns_reply(void *arg, uint32_t token, const uint8_t *resp, size_t len)
{
	struct flow *f = flow_by_id(arg, token);
	uint8_t hdr[2] = {(uint8_t)(len >> 8), (uint8_t)len};

	if (!f || !f->pcb || !f->local_dns || tcp_sndbuf(f->pcb) < len + 2)
		return;
	tcp_write(f->pcb, hdr, 2, TCP_WRITE_FLAG_COPY | TCP_WRITE_FLAG_MORE);
	tcp_write(f->pcb, resp, (u16_t)len, TCP_WRITE_FLAG_COPY);
	tcp_output(f->pcb);
}

/* Reads length-prefixed queries (RFC 1035 4.2.2) and answers each. */
static err_t local_dns_recv(struct flow *f, struct pbuf *p)
{
	struct tcp_pcb *pcb = f->pcb;
	u16_t tot = p->tot_len;

	if (!f->dns_buf && !(f->dns_buf = malloc(DNS_TCP_MAX + 2))) {
		pbuf_free(p);
		close_pcb(f);
		flow_free(f);
		return ERR_OK;
	}
	for (u16_t off = 0; off < tot;) {
		size_t want = f->dns_len < 2 ? 2 : 2 + ((size_t)f->dns_buf[0] << 8 | f->dns_buf[1]);
		u16_t n = (u16_t)(want - f->dns_len < (size_t)(tot - off) ? want - f->dns_len : (size_t)(tot - off));

		if (want > DNS_TCP_MAX + 2) { /* longer than any query we answer */
			pbuf_free(p);
			close_pcb(f);
			flow_free(f);
			return ERR_OK;
		}
		pbuf_copy_partial(p, f->dns_buf + f->dns_len, n, off);
		f->dns_len += n;
		off += n;
		if (f->dns_len >= 2 && f->dns_len == want && want > 2) {
			f->dns_len = 0;
			dnsd_query(f->ft->b->dns, f->dns_buf + 2, want - 2, local_dns_reply, f->ft, f->id);
		}
	}
	tcp_recved(pcb, tot);
	pbuf_free(p);
	return ERR_OK;
}

static err_t on_pcb_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	struct flow *f = arg;

	(void)pcb;
	(void)err;
	if (!f) {
		if (p)
			pbuf_free(p);
		return ERR_OK;
	}
	if (!p) {
		/* Client shut down writing. The module cannot half-close a link, so
		 * the link stays open and the reply keeps flowing until the remote
		 * closes. */
		f->client_fin = true;
		f->active = ev_now(f->ft->b->loop);
		log_debug("flow %u: client FIN", f->id);
		if (f->local_dns) {
			close_pcb(f);
			flow_free(f);
		}
		return ERR_OK;
	}
	if (f->local_dns)
		return local_dns_recv(f, p);
	f->active = ev_now(f->ft->b->loop);
	if (f->up)
		pbuf_cat(f->up, p);
	else
		f->up = p;
	pump_up(f);
	return ERR_OK;
}

static err_t on_pcb_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
	struct flow *f = arg;

	(void)pcb;
	(void)len;
	if (f)
		update_window(f);
	return ERR_OK;
}

static void on_pcb_err(void *arg, err_t err)
{
	struct flow *f = arg;

	if (!f)
		return;
	/* lwIP already freed the pcb (client RST or abort). */
	f->pcb = NULL;
	log_debug("flow %u: client connection gone (%d)", f->id, (int)err);
	if (f->up) {
		pbuf_free(f->up);
		f->up = NULL;
	}
	if (f->link >= 0 && !f->link_closed) {
		f->state = FLOW_CLOSING;
		modem_close(f->ft->b->modem, f->link);
		return;
	}
	flow_free(f);
}

void flow_on_tcp_accepted(struct flow_table *ft, uint32_t flow_id, struct tcp_pcb *pcb)
{
	struct flow *f = flow_by_id(ft, flow_id);

	if (!f || f->state != FLOW_ADMITTED) {
		tcp_abort(pcb);
		return;
	}
	f->pcb = pcb;
	f->state = FLOW_OPEN;
	f->since = ev_now(ft->b->loop);
	tcp_arg(pcb, f);
	tcp_recv(pcb, on_pcb_recv);
	tcp_sent(pcb, on_pcb_sent);
	tcp_err(pcb, on_pcb_err);
	tcp_nagle_disable(pcb);
	ft->st.accepted++;
	if (f->local_dns)
		return;
	if (f->link_closed) {
		/* A FIN only for a stream known to be whole. */
		if (f->link_failed)
			abort_pcb(f);
		else
			close_pcb(f);
		flow_free(f);
		return;
	}
	update_window(f);
}

/* --- module link events (through the bridge's link-owner table) ------- */

void flow_link_down(struct flow_table *ft)
{
	for (unsigned i = 0; i < ft->cfg.max_flows; i++) {
		struct flow *f = &ft->flows[i];

		if (f->state == FLOW_FREE || f->local_dns)
			continue;
		f->link = -1;
		if (f->state == FLOW_QUEUED)
			continue; /* keeps waiting for the link to come back */
		if (f->state == FLOW_CONNECTING) {
			if (f->abandoned)
				flow_free(f);
			else
				flow_refuse(f);
			continue;
		}
		if (f->state == FLOW_ADMITTED) {
			/* lwIP has the SYN; the accept callback will find no flow and abort */
			flow_free(f);
			continue;
		}
		abort_pcb(f);
		ft->st.reset_by_link_loss++;
		flow_free(f);
	}
}

static void flow_link_connected(void *owner, int link, bool ok)
{
	struct flow *f = owner;

	if (!ok) {
		f->link = -1;
		log_debug("flow %u: module connect failed", f->id);
		if (f->abandoned)
			flow_free(f);
		else
			flow_refuse(f);
		return;
	}
	if (f->abandoned) {
		f->state = FLOW_CLOSING;
		modem_close(f->ft->b->modem, link);
		return;
	}
	log_debug("flow %u: module link %d connected", f->id, link);
	f->state = FLOW_ADMITTED;
	f->since = ev_now(f->ft->b->loop);
	lwip_port_tcp_admit(f->ft->b->stack, f->id);
}

static void flow_link_data(void *owner, int link, const uint8_t *buf, size_t len)
{
	struct flow *f = owner;
	err_t err;

	if (!f->pcb) {
		log_debug("link %d: %zu bytes with no client to take them, dropped", link, len);
		return;
	}
	while (len > 0) {
		u16_t n = len > 0xffff ? 0xffff : (u16_t)len;

		err = tcp_write(f->pcb, buf, n, TCP_WRITE_FLAG_COPY);
		if (err != ERR_OK) {
			log_err("flow %u: lwIP refused %zu bytes (%d): resetting the flow", f->id, len,
			        (int)err);
			abort_pcb(f);
			f->state = FLOW_CLOSING;
			modem_close(f->ft->b->modem, link);
			return;
		}
		buf += n;
		len -= n;
		f->bytes_down += n;
		f->ft->st.bytes_down += n;
	}
	f->active = ev_now(f->ft->b->loop);
	tcp_output(f->pcb);
	update_window(f);
}

static void flow_link_sent(void *owner, int link, size_t len, bool ok)
{
	struct flow *f = owner;

	(void)link;
	if (!ok) {
		f->link_failed = true;
		return;
	}
	while (f->pcb && len > 0) {
		u16_t n = len > 0xffff ? 0xffff : (u16_t)len;

		tcp_recved(f->pcb, n);
		len -= n;
	}
	pump_up(f);
}

static void flow_link_closed(void *owner, int link, bool lost)
{
	struct flow *f = owner;

	if (lost) {
		f->link_failed = true;
		log_info("flow %u: module link %d lost bytes; resetting the flow", f->id, link);
	} else {
		log_debug("flow %u: module link %d closed", f->id, link);
	}
	f->link = -1;
	f->link_closed = true;
	switch (f->state) {
	case FLOW_OPEN:
		if (f->up) {
			pbuf_free(f->up);
			f->up = NULL;
		}
		/* A FIN would tell the client the stream is complete. */
		if (f->link_failed)
			abort_pcb(f);
		else
			close_pcb(f);
		flow_free(f);
		break;
	case FLOW_ADMITTED:
		/* accept is still to come; it closes the pcb at once */
		break;
	case FLOW_CONNECTING:
		if (f->abandoned)
			flow_free(f);
		else
			flow_refuse(f);
		break;
	default:
		flow_free(f);
		break;
	}
}

static const struct link_ops flow_link_ops = {
	.kind = "tcp",
	.connected = flow_link_connected,
	.data = flow_link_data,
	.sent = flow_link_sent,
	.closed = flow_link_closed,
};

/* --- housekeeping ------------------------------------------------------- */

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct flow_table *ft = w->data;
	ev_tstamp now = ev_now(loop);
	double wait = ft->cfg.queue_wait_ms / 1000.0;

	(void)revents;
	while (ft->qhead && now - ft->qhead->since > wait) {
		struct flow *f = ft->qhead;

		queue_remove(f);
		ft->st.queue_timeouts++;
		log_debug("flow %u: no module link within %u ms", f->id, ft->cfg.queue_wait_ms);
		flow_refuse(f);
	}
	for (unsigned i = 0; i < ft->cfg.max_flows; i++) {
		struct flow *f = &ft->flows[i];

		if (f->state == FLOW_ADMITTED && now - f->since > ADMITTED_TIMEOUT) {
			if (f->local_dns) {
				flow_free(f);
				continue;
			}
			f->state = FLOW_CLOSING;
			modem_close(ft->b->modem, f->link);
		}
		if (ft->cfg.halfclose_s && open_with_link(f) && f->client_fin && !f->up &&
		    now - f->active >= ft->cfg.halfclose_s)
			reclaim_halfclosed(f);
	}
	if (ft->qhead && ft->b->modem &&
	    (modem_free_links(ft->b->modem) == 0 || tcp_links_held(ft) >= tcp_link_cap(ft)))
		reclaim_for_waiting(ft, now);
}

struct flow_table *flow_table_new(struct bridge *b, const struct flow_config *cfg)
{
	struct flow_table *ft = calloc(1, sizeof(*ft));

	if (!ft)
		return NULL;
	ft->b = b;
	ft->cfg = *cfg;
	ft->flows = calloc(cfg->max_flows ? cfg->max_flows : 1, sizeof(*ft->flows));
	if (!ft->flows) {
		free(ft);
		return NULL;
	}
	for (unsigned i = 0; i < cfg->max_flows; i++) {
		ft->flows[i].ft = ft;
		ft->flows[i].link = -1;
	}
	ev_timer_init(&ft->tick, on_tick, 1.0, 1.0);
	ft->tick.data = ft;
	ev_timer_start(b->loop, &ft->tick);
	return ft;
}

void flow_table_free(struct flow_table *ft)
{
	if (!ft)
		return;
	for (unsigned i = 0; i < ft->cfg.max_flows; i++) {
		struct flow *f = &ft->flows[i];

		if (f->state == FLOW_FREE)
			continue;
		abort_pcb(f);
		if (f->up)
			pbuf_free(f->up);
		free(f->dns_buf);
	}
	ev_timer_stop(ft->b->loop, &ft->tick);
	free(ft->flows);
	free(ft);
}

void flow_get_stats(const struct flow_table *ft, struct flow_stats *out)
{
	*out = ft->st;
}

void flow_foreach(const struct flow_table *ft, void (*fn)(void *arg, const struct flow_info *fi),
                  void *arg)
{
	static const char *const names[] = {
		[FLOW_FREE] = "free", [FLOW_QUEUED] = "queued", [FLOW_CONNECTING] = "connecting",
		[FLOW_ADMITTED] = "accepting", [FLOW_OPEN] = "open", [FLOW_CLOSING] = "closing",
	};

	for (unsigned i = 0; i < ft->cfg.max_flows; i++) {
		const struct flow *f = &ft->flows[i];
		struct flow_info fi;

		if (f->state == FLOW_FREE)
			continue;
		fi.t = f->t;
		fi.state = f->local_dns ? "dns" : names[f->state];
		fi.link = f->link;
		fi.bytes_up = f->bytes_up;
		fi.bytes_down = f->bytes_down;
		fi.age_s = ev_now(ft->b->loop) - f->created;
		fn(arg, &fi);
	}
}

/* The flow table and the byte pump between lwIP pcbs and module links.
 *
 * Backpressure, both ways, visible at the call sites:
 *  - upload: bytes from the client stay in f->up (lwIP pbufs) until the
 *    modem takes them; tcp_recved() is called only when the modem reports
 *    them accepted by the module (flow_modem_sent), so the client's window
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

#include "dnsd.h"
#include "log.h"
#include "ping.h"
#include "uflow.h"

enum flow_state {
	FLOW_FREE = 0,
	FLOW_QUEUED,      /* waiting for a module link */
	FLOW_CONNECTING,  /* module link opening */
	FLOW_ADMITTED,    /* SYN let through, waiting for lwIP's accept */
	FLOW_OPEN,        /* pumping */
	FLOW_CLOSING,     /* client gone, waiting for the module link to close */
};

struct flow {
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

#define MAX_LINKS 16
#define ADMITTED_TIMEOUT 30.0

static struct {
	struct ev_loop *loop;
	struct flow_config cfg;
	struct modem *modem;
	struct flow *flows;
	struct flow *by_link[MAX_LINKS];
	struct flow *qhead, *qtail;
	ev_timer tick;
	struct flow_stats st;
} F;

static const char *tuple_str(const struct nat_tuple *t, char *buf, size_t len)
{
	char s[INET_ADDRSTRLEN], d[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &t->src_ip, s, sizeof(s));
	inet_ntop(AF_INET, &t->dst_ip, d, sizeof(d));
	snprintf(buf, len, "%s:%u -> %s:%u", s, ntohs(t->src_port), d, ntohs(t->dst_port));
	return buf;
}

static struct flow *flow_by_id(uint32_t id)
{
	for (unsigned i = 0; i < F.cfg.max_flows; i++)
		if (F.flows[i].state != FLOW_FREE && F.flows[i].id == id)
			return &F.flows[i];
	return NULL;
}

static struct flow *flow_by_link(int link)
{
	return link >= 0 && link < MAX_LINKS ? F.by_link[link] : NULL;
}

static void flow_free(struct flow *f)
{
	if (f->up)
		pbuf_free(f->up);
	free(f->dns_buf);
	if (f->link >= 0 && f->link < MAX_LINKS && F.by_link[f->link] == f)
		F.by_link[f->link] = NULL;
	memset(f, 0, sizeof(*f));
	f->link = -1;
	F.st.open--;
}

static void queue_remove(struct flow *f)
{
	for (struct flow **pp = &F.qhead; *pp; pp = &(*pp)->qnext) {
		if (*pp == f) {
			*pp = f->qnext;
			f->qnext = NULL;
			F.st.queued--;
			break;
		}
	}
	F.qtail = NULL;
	for (struct flow *q = F.qhead; q; q = q->qnext)
		F.qtail = q;
}

static void flow_refuse(struct flow *f)
{
	lwip_port_tcp_refuse(f->id);
	F.st.refused++;
	flow_free(f);
}

/* Starts the module connection of a flow. Returns false when no link is free. */
static unsigned tcp_link_cap(void)
{
	int links = modem_max_links(F.modem);

	if (F.cfg.max_links)
		return F.cfg.max_links;
	return links > 1 ? (unsigned)links - 1 : 1; /* one stays UDP's */
}

static unsigned tcp_links_held(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < MAX_LINKS; i++)
		n += F.by_link[i] != NULL;
	return n;
}

static unsigned links_of(uint32_t src);

static bool flow_connect(struct flow *f)
{
	if (tcp_links_held() >= tcp_link_cap())
		return false;
	if (F.cfg.links_per_source && links_of(f->t.src_ip) >= F.cfg.links_per_source)
		return false;
	int link = modem_open(F.modem, MODEM_TCP, f->t.dst_ip, ntohs(f->t.dst_port));

	if (link < 0)
		return false;
	if (link >= MAX_LINKS) {
		log_err("modem returned link %d, beyond %d", link, MAX_LINKS);
		modem_close(F.modem, link);
		return false;
	}
	f->link = link;
	F.by_link[link] = f;
	f->state = FLOW_CONNECTING;
	f->since = ev_now(F.loop);
	return true;
}

/* A link may be free: TCP flows waiting in the queue first (they hold a
 * client's SYN), then UDP flows. */
/* Module links held (or being opened) by flows from client address src. */
static unsigned links_of(uint32_t src)
{
	unsigned n = 0;

	for (unsigned i = 0; i < F.cfg.max_flows; i++) {
		const struct flow *f = &F.flows[i];

		n += f->state != FLOW_FREE && f->state != FLOW_QUEUED && f->link >= 0 &&
		     f->t.src_ip == src;
	}
	return n;
}

static unsigned queued_of(uint32_t src)
{
	unsigned n = 0;

	for (const struct flow *q = F.qhead; q; q = q->qnext)
		n += q->t.src_ip == src;
	return n;
}

/* The next flow to get a link: the oldest of the client address holding
 * the fewest links, so that one host's burst cannot keep another waiting
 * for more than one link's turn. */
static struct flow *next_waiting(void)
{
	struct flow *best = NULL;
	unsigned best_links = 0;

	for (struct flow *q = F.qhead; q; q = q->qnext) {
		bool seen = false;

		for (struct flow *p = F.qhead; p != q && !seen; p = p->qnext)
			seen = p->t.src_ip == q->t.src_ip;
		if (seen)
			continue; /* only the oldest of each address competes */
		unsigned n = links_of(q->t.src_ip);
		if (!best || n < best_links) {
			best = q;
			best_links = n;
		}
	}
	return best;
}

static void admit_waiting(void)
{
	while (F.qhead && modem_is_up(F.modem) && modem_free_links(F.modem) > 0 &&
	       tcp_links_held() < tcp_link_cap()) {
		struct flow *f = next_waiting();

		/* the address with the fewest links is at its bound: all are */
		if (F.cfg.links_per_source && links_of(f->t.src_ip) >= F.cfg.links_per_source)
			break;
		queue_remove(f);
		if (!flow_connect(f)) {
			/* the modem said it had a link and then refused: give up on this one */
			flow_refuse(f);
		}
	}
	if (!F.qhead)
		uflow_admit_waiting();
}

static void abort_pcb(struct flow *f);

/* The client sent FIN and the server has been quiet: the module cannot
 * half-close, so the link is closed here; its closed() ends the client's
 * side with FIN once what the module held was delivered. */
static void reclaim_halfclosed(struct flow *f)
{
	log_debug("flow %u: half-closed and quiet for %.0f s; closing module link %d", f->id,
	          ev_now(F.loop) - f->active, f->link);
	f->reclaiming = true;
	F.st.reclaimed_halfclosed++;
	modem_close(F.modem, f->link);
}

static bool open_with_link(const struct flow *f)
{
	return f->state == FLOW_OPEN && f->link >= 0 && !f->link_closed && !f->reclaiming;
}

/* A SYN waits for a link: the half-closed flow quiet the longest (at least
 * HALFCLOSE_MIN_QUIET) gives way at once; failing that, with
 * idle_reclaim_s, the flow idle both ways the longest past it is reset. */
#define HALFCLOSE_MIN_QUIET 1.0
static void reclaim_for_waiting(ev_tstamp now)
{
	struct flow *half = NULL, *idle = NULL;

	for (unsigned i = 0; i < F.cfg.max_flows; i++) {
		struct flow *f = &F.flows[i];

		if (!open_with_link(f))
			continue;
		if (f->client_fin && !f->up && now - f->active >= HALFCLOSE_MIN_QUIET &&
		    (!half || f->active < half->active))
			half = f;
		if (F.cfg.idle_reclaim_s && now - f->active >= F.cfg.idle_reclaim_s &&
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
		F.st.reclaimed_idle++;
		abort_pcb(idle);
		if (idle->up) {
			pbuf_free(idle->up);
			idle->up = NULL;
		}
		idle->state = FLOW_CLOSING;
		modem_close(F.modem, idle->link);
	}
}

void flow_on_tcp_syn(void *ctx, uint32_t flow_id, const struct nat_tuple *t)
{
	struct flow *f = NULL;
	char buf[96];

	(void)ctx;
	for (unsigned i = 0; i < F.cfg.max_flows; i++) {
		if (F.flows[i].state == FLOW_FREE) {
			f = &F.flows[i];
			break;
		}
	}
	if (!f || !F.modem || !modem_is_up(F.modem)) {
		log_debug("refusing %s: %s", tuple_str(t, buf, sizeof(buf)),
		          f ? "module link down" : "flow table full");
		lwip_port_tcp_refuse(flow_id);
		F.st.refused++;
		if (f)
			F.st.refused_link_down++;
		else
			F.st.refused_table_full++;
		return;
	}
	memset(f, 0, sizeof(*f));
	f->id = flow_id;
	f->t = *t;
	f->link = -1;
	f->since = f->created = f->active = ev_now(F.loop);
	F.st.open++;
	log_debug("flow %u: SYN %s", flow_id, tuple_str(t, buf, sizeof(buf)));
	if (F.cfg.intercept_dns && ntohs(t->dst_port) == 53) {
		/* answered here through the module's resolver: no link needed */
		f->local_dns = true;
		f->state = FLOW_ADMITTED;
		lwip_port_tcp_admit(flow_id);
		return;
	}
	if (!F.qhead && flow_connect(f))
		return;
	/* every link busy: an idle UDP link goes first, UDP has nothing to break */
	uflow_recycle_idle_link();
	if (F.st.queued >= F.cfg.queue_len) {
		log_debug("flow %u: admission queue full", flow_id);
		F.st.refused_queue_full++;
		flow_refuse(f);
		return;
	}
	if (F.cfg.queue_per_source && queued_of(t->src_ip) >= F.cfg.queue_per_source) {
		log_debug("flow %u: %u connections of this client wait already", flow_id,
		          F.cfg.queue_per_source);
		F.st.refused_source_cap++;
		flow_refuse(f);
		return;
	}
	reclaim_for_waiting(ev_now(F.loop));
	f->state = FLOW_QUEUED;
	if (F.qtail)
		F.qtail->qnext = f;
	else
		F.qhead = f;
	F.qtail = f;
	F.st.queued++;
}

void flow_on_tcp_abandoned(void *ctx, uint32_t flow_id)
{
	struct flow *f = flow_by_id(flow_id);

	(void)ctx;
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
		modem_close(F.modem, f->link);
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
	modem_recv_window(F.modem, f->link, win);
}

static void pump_up(struct flow *f)
{
	uint8_t buf[1460];

	while (f->up && f->link >= 0 && !f->link_closed) {
		size_t space = modem_send_space(F.modem, f->link);
		size_t n = f->up->tot_len;
		size_t taken;

		if (space == 0)
			break;
		if (n > space)
			n = space;
		if (n > sizeof(buf))
			n = sizeof(buf);
		pbuf_copy_partial(f->up, buf, (u16_t)n, 0);
		taken = modem_send(F.modem, f->link, buf, n);
		if (taken == 0)
			break;
		f->up = pbuf_free_header(f->up, (u16_t)taken);
		f->bytes_up += taken;
		F.st.bytes_up += taken;
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

static void local_dns_reply(uint32_t token, const uint8_t *resp, size_t len)
{
	struct flow *f = flow_by_id(token);
	uint8_t hdr[2] = {(uint8_t)(len >> 8), (uint8_t)len};

	if (!f || !f->pcb || !f->local_dns || tcp_sndbuf(f->pcb) < len + 2)
		return;
	tcp_write(f->pcb, hdr, 2, TCP_WRITE_FLAG_COPY | TCP_WRITE_FLAG_MORE);
	tcp_write(f->pcb, resp, (u16_t)len, TCP_WRITE_FLAG_COPY);
	tcp_output(f->pcb);
}

static void close_pcb(struct flow *f);

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
			dnsd_query(f->dns_buf + 2, want - 2, local_dns_reply, f->id);
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
		f->active = ev_now(F.loop);
		log_debug("flow %u: client FIN", f->id);
		if (f->local_dns) {
			close_pcb(f);
			flow_free(f);
		}
		return ERR_OK;
	}
	if (f->local_dns)
		return local_dns_recv(f, p);
	f->active = ev_now(F.loop);
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
		modem_close(F.modem, f->link);
		return;
	}
	flow_free(f);
}

void flow_on_tcp_accepted(void *ctx, uint32_t flow_id, struct tcp_pcb *pcb)
{
	struct flow *f = flow_by_id(flow_id);

	(void)ctx;
	if (!f || f->state != FLOW_ADMITTED) {
		tcp_abort(pcb);
		return;
	}
	f->pcb = pcb;
	f->state = FLOW_OPEN;
	f->since = ev_now(F.loop);
	tcp_arg(pcb, f);
	tcp_recv(pcb, on_pcb_recv);
	tcp_sent(pcb, on_pcb_sent);
	tcp_err(pcb, on_pcb_err);
	tcp_nagle_disable(pcb);
	F.st.accepted++;
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

/* --- modem events ------------------------------------------------------- */

static void flow_modem_link_state(void *ctx, bool up, const char *local_ip)
{
	(void)ctx;
	if (up) {
		log_info("module data link up, local address %s", local_ip ? local_ip : "?");
		admit_waiting();
		return;
	}
	log_info("module data link down: resetting every flow");
	memset(F.by_link, 0, sizeof(F.by_link));
	uflow_link_down();
	dnsd_link_down();
	ping_link_down();
	for (unsigned i = 0; i < F.cfg.max_flows; i++) {
		struct flow *f = &F.flows[i];

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
		F.st.reset_by_link_loss++;
		flow_free(f);
	}
}

static void flow_modem_connected(void *ctx, int link, bool ok)
{
	struct flow *f = flow_by_link(link);

	(void)ctx;
	if (!f && uflow_owns_link(link)) {
		uflow_link_connected(link, ok);
		if (!ok)
			admit_waiting();
		return;
	}
	if (!f) {
		if (ok)
			modem_close(F.modem, link);
		return;
	}
	if (!ok) {
		F.by_link[link] = NULL;
		f->link = -1;
		log_debug("flow %u: module connect failed", f->id);
		if (f->abandoned)
			flow_free(f);
		else
			flow_refuse(f);
		admit_waiting();
		return;
	}
	if (f->abandoned) {
		f->state = FLOW_CLOSING;
		modem_close(F.modem, link);
		return;
	}
	log_debug("flow %u: module link %d connected", f->id, link);
	f->state = FLOW_ADMITTED;
	f->since = ev_now(F.loop);
	lwip_port_tcp_admit(f->id);
}

static void flow_modem_data(void *ctx, int link, const uint8_t *buf, size_t len)
{
	struct flow *f = flow_by_link(link);
	err_t err;

	(void)ctx;
	if (!f && uflow_owns_link(link)) {
		uflow_link_data(link, buf, len);
		return;
	}
	if (!f || !f->pcb) {
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
			modem_close(F.modem, link);
			return;
		}
		buf += n;
		len -= n;
		f->bytes_down += n;
		F.st.bytes_down += n;
	}
	f->active = ev_now(F.loop);
	tcp_output(f->pcb);
	update_window(f);
}

static void flow_modem_sent(void *ctx, int link, size_t len, bool ok)
{
	struct flow *f = flow_by_link(link);

	(void)ctx;
	if (!f && uflow_owns_link(link)) {
		uflow_link_sent(link);
		return;
	}
	if (f && !ok)
		f->link_failed = true;
	if (!f || !ok)
		return;
	while (f->pcb && len > 0) {
		u16_t n = len > 0xffff ? 0xffff : (u16_t)len;

		tcp_recved(f->pcb, n);
		len -= n;
	}
	pump_up(f);
}

static void flow_modem_closed(void *ctx, int link, bool lost)
{
	struct flow *f = flow_by_link(link);

	(void)ctx;
	if (!f && uflow_owns_link(link)) {
		uflow_link_closed(link);
		admit_waiting();
		return;
	}
	if (link >= 0 && link < MAX_LINKS)
		F.by_link[link] = NULL;
	if (f) {
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
	admit_waiting();
}

static void flow_modem_resolved(void *ctx, int req, bool ok, const uint32_t *ips, size_t n)
{
	(void)ctx;
	dnsd_on_resolved(req, ok, ips, n);
}

static void flow_modem_ping_reply(void *ctx, int req, bool ok, unsigned rtt_ms)
{
	(void)ctx;
	ping_on_reply(req, ok, rtt_ms);
}

const struct modem_events flow_modem_events = {
	.link_state = flow_modem_link_state,
	.connected = flow_modem_connected,
	.data = flow_modem_data,
	.sent = flow_modem_sent,
	.closed = flow_modem_closed,
	.resolved = flow_modem_resolved,
	.ping_reply = flow_modem_ping_reply,
};

/* --- housekeeping ------------------------------------------------------- */

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	ev_tstamp now = ev_now(loop);
	double wait = F.cfg.queue_wait_ms / 1000.0;

	(void)w;
	(void)revents;
	while (F.qhead && now - F.qhead->since > wait) {
		struct flow *f = F.qhead;

		queue_remove(f);
		F.st.queue_timeouts++;
		log_debug("flow %u: no module link within %u ms", f->id, F.cfg.queue_wait_ms);
		flow_refuse(f);
	}
	for (unsigned i = 0; i < F.cfg.max_flows; i++) {
		struct flow *f = &F.flows[i];

		if (f->state == FLOW_ADMITTED && now - f->since > ADMITTED_TIMEOUT) {
			if (f->local_dns) {
				flow_free(f);
				continue;
			}
			f->state = FLOW_CLOSING;
			modem_close(F.modem, f->link);
		}
		if (F.cfg.halfclose_s && open_with_link(f) && f->client_fin && !f->up &&
		    now - f->active >= F.cfg.halfclose_s)
			reclaim_halfclosed(f);
	}
	if (F.qhead && (modem_free_links(F.modem) == 0 || tcp_links_held() >= tcp_link_cap()))
		reclaim_for_waiting(now);
}

int flow_init(struct ev_loop *loop, const struct flow_config *cfg)
{
	memset(&F, 0, sizeof(F));
	F.loop = loop;
	F.cfg = *cfg;
	F.flows = calloc(cfg->max_flows, sizeof(*F.flows));
	if (!F.flows)
		return -1;
	for (unsigned i = 0; i < cfg->max_flows; i++)
		F.flows[i].link = -1;
	ev_timer_init(&F.tick, on_tick, 1.0, 1.0);
	ev_timer_start(loop, &F.tick);
	return 0;
}

void flow_set_modem(struct modem *m)
{
	F.modem = m;
}

void flow_shutdown(void)
{
	if (!F.flows)
		return;
	for (unsigned i = 0; i < F.cfg.max_flows; i++) {
		struct flow *f = &F.flows[i];

		if (f->state == FLOW_FREE)
			continue;
		abort_pcb(f);
		if (f->up)
			pbuf_free(f->up);
	}
	ev_timer_stop(F.loop, &F.tick);
	free(F.flows);
	F.flows = NULL;
}

void flow_get_stats(struct flow_stats *out)
{
	*out = F.st;
}

void flow_foreach(void (*fn)(void *arg, const struct flow_info *fi), void *arg)
{
	static const char *const names[] = {
		[FLOW_FREE] = "free", [FLOW_QUEUED] = "queued", [FLOW_CONNECTING] = "connecting",
		[FLOW_ADMITTED] = "accepting", [FLOW_OPEN] = "open", [FLOW_CLOSING] = "closing",
	};

	for (unsigned i = 0; F.flows && i < F.cfg.max_flows; i++) {
		const struct flow *f = &F.flows[i];
		struct flow_info fi;

		if (f->state == FLOW_FREE)
			continue;
		fi.t = f->t;
		fi.state = f->local_dns ? "dns" : names[f->state];
		fi.link = f->link;
		fi.bytes_up = f->bytes_up;
		fi.bytes_down = f->bytes_down;
		fi.age_s = ev_now(F.loop) - f->created;
		fn(arg, &fi);
	}
}

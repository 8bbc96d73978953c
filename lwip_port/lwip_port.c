/* lwIP on the loop thread and the netif over the tun.
 *
 * Data path, top to bottom:
 *   tun -> lwip_port_input: pkt_parse, NAT lookup, held-SYN logic,
 *          nat_rewrite_inbound on a pbuf copy -> ip_input (lwIP)
 *   tun ICMP echo -> pkt_parse_echo -> icmp_echo (the bridge);
 *          lwip_port_icmp_echo_reply -> cb->output (tun), lwIP never sees it
 *   tun IPv6 -> ip6_classify -> RST / rate-limited ICMPv6 error -> cb->output
 *   lwIP -> netif_output: flatten, nat_rewrite_outbound -> cb->output (tun)
 *   lwIP listener accept -> tcp_accepted (the bridge owns the pcb)
 *   lwIP udp_pcb recv -> udp_recv; lwip_port_udp_send -> udp_sendto (lwIP)
 *   loop timer -> sys_check_timeouts + sweep (hold timeouts, pcb liveness)
 *
 * lwIP is initialised with sys_init() + lwip_init(), never tcpip_init(): no
 * tcpip thread exists, so sys_check_core_locking() never asserts and every
 * lwIP call happens on the loop thread without a lock.
 */
#include "lwip_port.h"

#include <ev.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "lwip/init.h"
#include "lwip/ip.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/sys.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "lwip/udp.h"

#include "ip6.h"
#include "log.h"
#include "nat.h"
#include "packet.h"

#define TIMER_INTERVAL_S 0.05
#define SWEEP_EVERY_MS   250
#define TW_LINGER_MS     2000
#define PENDING_MAX      256

struct lwip_port {
	struct ev_loop *loop;
	ev_timer timer;
	struct lwip_port_config cfg;
	struct lwip_port_callbacks cb;
	void *ctx;
	struct netif netif;
	struct tcp_pcb *listener;
	struct udp_pcb *udp;
	struct nat nat;
	struct lwip_port_counters cnt;
	uint32_t last_sweep_ms;
	unsigned depth;                   /* inside ip_input or lwIP timers */
	struct pbuf *pending[PENDING_MAX]; /* input deferred while depth > 0 */
	unsigned pending_head, pending_len;
	uint8_t outbuf[65535];
	uint8_t udpbuf[65535];
	uint8_t echobuf[20 + PKT_ICMP_HDR + LWIP_PORT_ECHO_MAX];
	uint8_t ip6buf[IP6_ERR_MAX];
	struct ip6_ratelimit ip6_rl;
};

static uint32_t now_ms(void)
{
	return sys_now();
}

static void emit(struct lwip_port *lp, const uint8_t *pkt, size_t len)
{
	lp->cnt.packets_out++;
	if (lp->cb.output)
		lp->cb.output(lp->ctx, pkt, len);
}

static void abandon(struct lwip_port *lp, struct nat_entry *e)
{
	uint32_t id = nat_flow_id(&lp->nat, e);

	nat_release(&lp->nat, e);
	if (lp->cb.tcp_abandoned)
		lp->cb.tcp_abandoned(lp->ctx, id);
}

/* Answers the client's SYN of a held entry with RST+ACK (refused). */
static void refuse_held(struct lwip_port *lp, const struct nat_entry *e)
{
	struct pkt_view v;
	uint8_t rst[PKT_RST_LEN];

	if (!e->syn || pkt_parse(e->syn, e->syn_len, &v) != PKT_OK)
		return;
	emit(lp, rst, pkt_build_rst(rst, v.dst, v.src, v.dport, v.sport, 0, v.seq + 1,
	                            TCPF_RST | TCPF_ACK));
}

/* ---- lwIP side ---------------------------------------------------------- */

static err_t netif_output(struct netif *netif, struct pbuf *p, const ip4_addr_t *nexthop)
{
	struct lwip_port *lp = netif->state;
	u16_t len;

	(void)nexthop;
	len = pbuf_copy_partial(p, lp->outbuf, sizeof lp->outbuf, 0);
	if (len != p->tot_len || !nat_rewrite_outbound(&lp->nat, lp->outbuf, len))
		return ERR_OK; /* nobody to deliver to: the flow is gone */
	emit(lp, lp->outbuf, len);
	return ERR_OK;
}

static err_t netif_output_ip6(struct netif *netif, struct pbuf *p, const ip6_addr_t *a)
{
	(void)netif;
	(void)p;
	(void)a;
	return ERR_OK;
}

static err_t netif_setup(struct netif *netif)
{
	struct lwip_port *lp = netif->state;

	netif->name[0] = 'a';
	netif->name[1] = 't';
	netif->mtu = lp->cfg.mtu;
	netif->output = netif_output;
	netif->output_ip6 = netif_output_ip6;
	netif->flags = 0; /* point to point: no ARP, no broadcast */
	return ERR_OK;
}

static struct nat_entry *entry_of_pcb(struct lwip_port *lp, const struct tcp_pcb *pcb)
{
	if (pcb->local_port != LWIP_PORT_LISTEN_PORT || !IP_IS_V4(&pcb->remote_ip) ||
	    ip_2_ip4(&pcb->local_ip)->addr != lp->cfg.netif_ip)
		return NULL;
	return nat_by_pseudo(&lp->nat, ip_2_ip4(&pcb->remote_ip)->addr,
	                     lwip_htons(pcb->remote_port));
}

static bool pcb_is_active(const struct tcp_pcb *pcb)
{
	for (const struct tcp_pcb *p = tcp_active_pcbs; p; p = p->next)
		if (p == pcb)
			return true;
	return false;
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
	struct lwip_port *lp = arg;
	struct nat_entry *e;

	if (err != ERR_OK || !pcb)
		return ERR_VAL;
	e = entry_of_pcb(lp, pcb);
	if (!e || e->state != NAT_ADMITTED) {
		tcp_abort(pcb);
		return ERR_ABRT;
	}
	nat_set_state(e, NAT_ACCEPTED, now_ms());
	tcp_arg(pcb, NULL);
	if (lp->cb.tcp_accepted)
		(*lp->cb.tcp_accepted)(lp->ctx, nat_flow_id(&lp->nat, e), pcb);
	/* The bridge may have aborted (or RST-closed) the pcb inside the
	 * callback; lwIP must then hear ERR_ABRT and not touch it again. */
	return pcb_is_active(pcb) ? ERR_OK : ERR_ABRT;
}

/* lwIP's tcp_input is not reentrant (it keeps the segment being processed
 * in globals), yet the bridge's lwIP callbacks may well call us back, e.lp->
 * admitting a queued flow from tcp_err. Input that arrives while lwIP is
 * busy is queued and fed as soon as the outer call returns. */
static void drain_pending(struct lwip_port *lp)
{
	while (lp->pending_len) {
		struct pbuf *p = lp->pending[lp->pending_head];

		lp->pending_head = (lp->pending_head + 1) % PENDING_MAX;
		lp->pending_len--;
		if (lp->netif.input(p, &lp->netif) != ERR_OK)
			pbuf_free(p);
	}
}

static void lwip_input(struct lwip_port *lp, struct pbuf *p)
{
	if (lp->depth) {
		if (lp->pending_len == PENDING_MAX) {
			pbuf_free(p);
			return;
		}
		lp->pending[(lp->pending_head + lp->pending_len) % PENDING_MAX] = p;
		lp->pending_len++;
		return;
	}
	lp->depth++;
	if (lp->netif.input(p, &lp->netif) != ERR_OK)
		pbuf_free(p);
	drain_pending(lp);
	lp->depth--;
}

static void feed_lwip(struct lwip_port *lp, const struct nat_entry *e, const uint8_t *pkt,
                      const struct pkt_view *v)
{
	struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)v->len, PBUF_RAM);

	if (!p)
		return;
	memcpy(p->payload, pkt, v->len);
	nat_rewrite_inbound(&lp->nat, e, p->payload, v);
	lwip_input(lp, p);
}

static void on_udp_recv(void *arg, struct udp_pcb *pcb, struct pbuf *p,
                        const ip_addr_t *addr, u16_t port)
{
	struct lwip_port *lp = arg;
	struct nat_entry *e = NULL;
	const uint8_t *data;

	(void)pcb;
	if (IP_IS_V4(addr))
		e = nat_by_pseudo(&lp->nat, ip_2_ip4(addr)->addr, lwip_htons(port));
	if (!e || e->state != NAT_UDP || !lp->cb.udp_recv) {
		pbuf_free(p);
		return;
	}
	if (p->len == p->tot_len) {
		data = p->payload;
	} else {
		pbuf_copy_partial(p, lp->udpbuf, sizeof lp->udpbuf, 0);
		data = lp->udpbuf;
	}
	lp->cb.udp_recv(lp->ctx, nat_flow_id(&lp->nat, e), &e->t, data, p->tot_len);
	pbuf_free(p);
}

/* ---- liveness sweep ------------------------------------------------------ */

static void sweep_pcbs(struct lwip_port *lp, uint32_t now)
{
	struct tcp_pcb *pcb, *next;
	struct nat_entry *e;

	for (pcb = tcp_active_pcbs; pcb; pcb = pcb->next) {
		e = entry_of_pcb(lp, pcb);
		if (e && (e->state == NAT_ADMITTED || e->state == NAT_ACCEPTED))
			e->seen = true;
	}
	for (pcb = tcp_tw_pcbs; pcb; pcb = next) {
		next = pcb->next;
		if (pcb->local_port != LWIP_PORT_LISTEN_PORT)
			continue;
		e = entry_of_pcb(lp, pcb);
		if (e && e->state != NAT_TIME_WAIT && e->state != NAT_HELD)
			nat_set_state(e, NAT_TIME_WAIT, now);
		if (e && e->state == NAT_TIME_WAIT && (uint32_t)(now - e->since_ms) < TW_LINGER_MS)
			e->seen = true;
		else if (!e || e->state == NAT_TIME_WAIT)
			tcp_abort(pcb); /* frees a TIME_WAIT pcb, sends nothing */
	}
}

static void sweep(struct lwip_port *lp)
{
	uint32_t now = now_ms();

	for (uint32_t i = 0; i < lp->nat.cap; i++)
		lp->nat.e[i].seen = false;
	sweep_pcbs(lp, now);
	for (uint32_t i = 0; i < lp->nat.cap; i++) {
		struct nat_entry *e = &lp->nat.e[i];

		switch (e->state) {
		case NAT_HELD:
			if ((uint32_t)(now - e->since_ms) >= lp->cfg.hold_timeout_ms) {
				refuse_held(lp, e);
				abandon(lp, e);
			}
			break;
		case NAT_ADMITTED:
			if (!e->seen)
				abandon(lp, e);
			break;
		case NAT_ACCEPTED:
		case NAT_TIME_WAIT:
			if (!e->seen)
				nat_release(&lp->nat, e);
			break;
		case NAT_UDP:
			if ((uint32_t)(now - e->since_ms) >= lp->cfg.udp_idle_timeout_ms) {
				uint32_t id = nat_flow_id(&lp->nat, e);

				nat_release(&lp->nat, e);
				if (lp->cb.udp_expired)
					lp->cb.udp_expired(lp->ctx, id);
			}
			break;
		}
	}
}

void lwip_port_poll(struct lwip_port *lp)
{
	uint32_t now = sys_now();

	if (lp->depth)
		return;
	lp->depth++;
	sys_check_timeouts();
	drain_pending(lp);
	lp->depth--;
	if ((uint32_t)(now - lp->last_sweep_ms) >= SWEEP_EVERY_MS) {
		lp->last_sweep_ms = now;
		sweep(lp);
	}
}

void lwip_port_sweep(struct lwip_port *lp)
{
	sweep(lp);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	lwip_port_poll(w->data);
}

/* ---- tun side ------------------------------------------------------------ */

static void new_flow(struct lwip_port *lp, const uint8_t *pkt, const struct pkt_view *v,
                     const struct nat_tuple *t)
{
	uint8_t rst[PKT_RST_LEN];
	struct nat_entry *e;

	if (v->flags & TCPF_RST)
		return;
	if ((v->flags & (TCPF_SYN | TCPF_ACK | TCPF_FIN)) != TCPF_SYN) {
		emit(lp, rst, pkt_build_rst_reply(rst, v)); /* stale flow: die fast */
		return;
	}
	e = nat_alloc(&lp->nat, t, now_ms());
	if (e && !(e->syn = malloc(v->len))) {
		nat_release(&lp->nat, e);
		e = NULL;
	}
	if (!e) {
		lp->cnt.table_full++;
		emit(lp, rst, pkt_build_rst_reply(rst, v));
		return;
	}
	memcpy(e->syn, pkt, v->len);
	e->syn_len = v->len;
	if (lp->cb.tcp_syn)
		lp->cb.tcp_syn(lp->ctx, nat_flow_id(&lp->nat, e), t); /* may admit/refuse at once */
}

static void input_udp(struct lwip_port *lp, const uint8_t *pkt, const struct pkt_view *v,
                      const struct nat_tuple *t)
{
	struct nat_entry *e;

	if (!lp->cb.udp_recv) {
		lp->cnt.unsupported++;
		return;
	}
	e = nat_lookup(&lp->nat, t);
	if (!e) {
		e = nat_alloc(&lp->nat, t, now_ms());
		if (!e) {
			lp->cnt.table_full++;
			return;
		}
		nat_set_state(e, NAT_UDP, now_ms());
	}
	e->since_ms = now_ms();
	feed_lwip(lp, e, pkt, v);
}

static void input_icmp(struct lwip_port *lp, const uint8_t *pkt, size_t len)
{
	struct lwip_port_echo e;

	switch (pkt_parse_echo(pkt, len, &e)) {
	case PKT_OK:
		break;
	case PKT_MALFORMED:
		lp->cnt.malformed++;
		return;
	case PKT_UNSUPPORTED:
		lp->cnt.unsupported++;
		return;
	}
	if (e.len > lwip_port_echo_max(lp)) {
		lp->cnt.icmp_echo_too_big++;
		return;
	}
	lp->cb.icmp_echo(lp->ctx, &e);
}

/* IPv6 is not carried: answer so the client gives up on it at once. */
static void input_ip6(struct lwip_port *lp, const uint8_t *pkt, size_t len)
{
	struct ip6_view v;
	size_t cap = lp->cfg.mtu < sizeof lp->ip6buf ? lp->cfg.mtu : sizeof lp->ip6buf;

	switch (ip6_classify(pkt, len, &v)) {
	case IP6_MALFORMED:
		lp->cnt.malformed++;
		return;
	case IP6_DROP:
		lp->cnt.ip6_dropped++;
		return;
	case IP6_RST:
		lp->cnt.ip6_rst++;
		emit(lp, lp->ip6buf, ip6_build_rst(lp->ip6buf, pkt, &v));
		return;
	case IP6_UNREACH:
		if (!ip6_rate_take(&lp->ip6_rl, now_ms())) {
			lp->cnt.ip6_rate_limited++;
			return;
		}
		lp->cnt.ip6_unreach++;
		emit(lp, lp->ip6buf, ip6_build_unreach(lp->ip6buf, cap, pkt, &v));
		return;
	}
}

void lwip_port_input(struct lwip_port *lp, const uint8_t *pkt, size_t len)
{
	struct pkt_view v;
	struct nat_tuple t;
	struct nat_entry *e;

	if (!lp)
		return;
	lp->cnt.packets_in++;
	if (len && (pkt[0] >> 4) == 6) {
		input_ip6(lp, pkt, len);
		return;
	}
	switch (pkt_parse(pkt, len, &v)) {
	case PKT_OK:
		break;
	case PKT_MALFORMED:
		lp->cnt.malformed++;
		return;
	case PKT_UNSUPPORTED:
		/* v.proto is set whenever the IP header was sound */
		if (v.proto == IPPROTO_ICMP && lp->cb.icmp_echo)
			input_icmp(lp, pkt, len);
		else
			lp->cnt.unsupported++;
		return;
	}
	t = (struct nat_tuple){ .src_ip = v.src, .dst_ip = v.dst, .src_port = v.sport,
	                        .dst_port = v.dport, .proto = v.proto };
	if (v.proto == IPPROTO_UDP) {
		input_udp(lp, pkt, &v, &t);
		return;
	}
	e = nat_lookup(&lp->nat, &t);
	if (e && e->state == NAT_TIME_WAIT &&
	    (v.flags & (TCPF_SYN | TCPF_ACK | TCPF_RST)) == TCPF_SYN) {
		nat_release(&lp->nat, e); /* port reused: the old pcb dies at the sweep */
		e = NULL;
	}
	if (!e) {
		new_flow(lp, pkt, &v, &t);
		return;
	}
	if (e->state == NAT_HELD) {
		if (v.flags & TCPF_RST)
			abandon(lp, e);
		return; /* retransmitted SYNs (and anything else) absorbed */
	}
	feed_lwip(lp, e, pkt, &v);
}

void lwip_port_tcp_admit(struct lwip_port *lp, uint32_t flow_id)
{
	struct nat_entry *e = nat_by_flow_id(&lp->nat, flow_id);
	struct pkt_view v;
	uint8_t *syn;

	if (!e || e->state != NAT_HELD)
		return;
	syn = e->syn;
	e->syn = NULL;
	nat_set_state(e, NAT_ADMITTED, now_ms());
	if (pkt_parse(syn, e->syn_len, &v) == PKT_OK)
		feed_lwip(lp, e, syn, &v);
	free(syn);
}

void lwip_port_tcp_refuse(struct lwip_port *lp, uint32_t flow_id)
{
	struct nat_entry *e = nat_by_flow_id(&lp->nat, flow_id);

	if (!e || e->state != NAT_HELD)
		return;
	refuse_held(lp, e);
	nat_release(&lp->nat, e);
}

int lwip_port_udp_send(struct lwip_port *lp, uint32_t flow_id, const void *data, size_t len)
{
	struct nat_entry *e = nat_by_flow_id(&lp->nat, flow_id);
	struct pbuf *p;
	ip_addr_t to;
	err_t err;

	if (!e || e->state != NAT_UDP || len + 28 > lp->cfg.mtu)
		return -1;
	p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)len, PBUF_RAM);
	if (!p)
		return -1;
	memcpy(p->payload, data, len);
	ip_addr_set_ip4_u32_val(to, nat_pseudo_ip(&lp->nat, e));
	e->since_ms = now_ms();
	err = udp_sendto(lp->udp, p, &to, lwip_ntohs(e->pseudo_port));
	pbuf_free(p);
	return err == ERR_OK ? 0 : -1;
}

void lwip_port_udp_close(struct lwip_port *lp, uint32_t flow_id)
{
	struct nat_entry *e = nat_by_flow_id(&lp->nat, flow_id);

	if (e && e->state == NAT_UDP)
		nat_release(&lp->nat, e);
}

size_t lwip_port_echo_max(const struct lwip_port *lp)
{
	size_t m = lp->cfg.mtu > 28 ? (size_t)lp->cfg.mtu - 28 : 0;

	return m < LWIP_PORT_ECHO_MAX ? m : LWIP_PORT_ECHO_MAX;
}

int lwip_port_icmp_echo_reply(struct lwip_port *lp, const struct lwip_port_echo *e)
{
	if (!e || (e->len && !e->data))
		return -1;
	if (e->len > lwip_port_echo_max(lp)) {
		lp->cnt.icmp_reply_too_big++;
		return -1;
	}
	/* echobuf, not outbuf: this may run inside icmp_echo, and neither
	 * buffer is held across calls, but keep the two paths apart. */
	emit(lp, lp->echobuf, pkt_build_echo_reply(lp->echobuf, e));
	return 0;
}

void lwip_port_get_counters(const struct lwip_port *lp, struct lwip_port_counters *out)
{
	*out = lp->cnt;
	out->flows = lp->nat.used;
}

/* ---- init / shutdown ------------------------------------------------------ */

static int start_listener(struct lwip_port *lp)
{
	ip_addr_t local = IPADDR4_INIT(lp->cfg.netif_ip);
	struct tcp_pcb *pcb = tcp_new_ip_type(IPADDR_TYPE_V4);

	if (!pcb)
		return -1;
	if (tcp_bind(pcb, &local, LWIP_PORT_LISTEN_PORT) != ERR_OK) {
		tcp_abort(pcb);
		return -1;
	}
	lp->listener = tcp_listen(pcb);
	if (!lp->listener) {
		tcp_abort(pcb);
		return -1;
	}
	tcp_arg(lp->listener, lp);
	tcp_accept(lp->listener, on_accept);

	lp->udp = udp_new_ip_type(IPADDR_TYPE_V4);
	if (!lp->udp || udp_bind(lp->udp, &local, LWIP_PORT_LISTEN_PORT) != ERR_OK) {
		if (lp->udp)
			udp_remove(lp->udp);
		lp->udp = NULL;
		tcp_close(lp->listener);
		lp->listener = NULL;
		return -1;
	}
	udp_recv(lp->udp, on_udp_recv, lp);
	return 0;
}

struct lwip_port *lwip_port_new(struct ev_loop *loop, const struct lwip_port_config *cfg,
                                const struct lwip_port_callbacks *cb, void *ctx)
{
	static bool lwip_ready; /* lwIP's own state is the process's */
	struct lwip_port *lp;
	ip4_addr_t ip, mask, gw;
	uint32_t h = ntohl(cfg->netif_ip);

	if (h == 0 || (h & NAT_PSEUDO_MASK) == NAT_PSEUDO_NET || h >= 0xe0000000u) {
		log_err("lwip_port: netif address must not be 0, multicast or in 100.64.0.0/10 (used for pseudo addresses)");
		return NULL;
	}
	if (cfg->mtu < 576) {
		log_err("lwip_port: mtu %u is below 576", cfg->mtu);
		return NULL;
	}
	lp = calloc(1, sizeof(*lp));
	if (!lp)
		return NULL;
	lp->cfg = *cfg;
	if (!lp->cfg.udp_idle_timeout_ms)
		lp->cfg.udp_idle_timeout_ms = 60000;
	lp->cb = *cb;
	lp->ctx = ctx;
	if (nat_init(&lp->nat, cfg->max_flows, cfg->netif_ip, htons(LWIP_PORT_LISTEN_PORT)) < 0) {
		log_err("lwip_port: cannot allocate a NAT table of %u flows (1..%u)",
		        cfg->max_flows, NAT_MAX_FLOWS);
		free(lp);
		return NULL;
	}
	nat_set_caps(&lp->nat, cfg->nat_tcp, cfg->nat_udp);
	if (!lwip_ready) {
		sys_init();
		lwip_init();
		lwip_ready = true;
	}
	ip.addr = cfg->netif_ip;
	mask.addr = 0xffffffffu;
	gw.addr = 0;
	if (!netif_add(&lp->netif, &ip, &mask, &gw, lp, netif_setup, ip_input)) {
		log_err("lwip_port: netif_add failed");
		nat_destroy(&lp->nat);
		free(lp);
		return NULL;
	}
	netif_set_default(&lp->netif);
	netif_set_up(&lp->netif);
	netif_set_link_up(&lp->netif);
	if (start_listener(lp) < 0) {
		log_err("lwip_port: cannot bind the TCP listener and UDP pcb on the netif address");
		netif_remove(&lp->netif);
		nat_destroy(&lp->nat);
		free(lp);
		return NULL;
	}
	lp->loop = loop;
	if (loop) {
		ev_timer_init(&lp->timer, on_timer, TIMER_INTERVAL_S, TIMER_INTERVAL_S);
		lp->timer.data = lp;
		ev_timer_start(loop, &lp->timer);
	}
	lp->last_sweep_ms = sys_now();
	ip6_rate_init(&lp->ip6_rl, sys_now());
	return lp;
}

static struct tcp_pcb *first_of_ours(const struct lwip_port *lp, struct tcp_pcb *list)
{
	for (; list; list = list->next)
		if (list->local_port == LWIP_PORT_LISTEN_PORT && IP_IS_V4(&list->local_ip) &&
		    ip_2_ip4(&list->local_ip)->addr == lp->cfg.netif_ip)
			return list;
	return NULL;
}

void lwip_port_free(struct lwip_port *lp)
{
	struct tcp_pcb *pcb;

	if (!lp)
		return;
	if (lp->loop)
		ev_timer_stop(lp->loop, &lp->timer);
	/* tcp_abort runs the bridge's err callbacks, which may free other pcbs:
	 * restart from the list head after every abort. */
	while ((pcb = first_of_ours(lp, tcp_active_pcbs)))
		tcp_abort(pcb);
	while ((pcb = first_of_ours(lp, tcp_tw_pcbs)))
		tcp_abort(pcb);
	tcp_close(lp->listener);
	lp->listener = NULL;
	udp_remove(lp->udp);
	lp->udp = NULL;
	while (lp->pending_len) {
		pbuf_free(lp->pending[lp->pending_head]);
		lp->pending_head = (lp->pending_head + 1) % PENDING_MAX;
		lp->pending_len--;
	}
	netif_set_down(&lp->netif);
	netif_remove(&lp->netif);
	nat_destroy(&lp->nat);
	free(lp);
}

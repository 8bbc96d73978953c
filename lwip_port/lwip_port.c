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
#include <stdio.h>
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
#include "nat.h"
#include "packet.h"

#define TIMER_INTERVAL_S 0.05
#define SWEEP_EVERY_MS   250
#define TW_LINGER_MS     2000
#define PENDING_MAX      256

static struct {
	bool up;
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
} g;

static uint32_t now_ms(void)
{
	return sys_now();
}

static void emit(const uint8_t *pkt, size_t len)
{
	g.cnt.packets_out++;
	if (g.cb.output)
		g.cb.output(g.ctx, pkt, len);
}

static void abandon(struct nat_entry *e)
{
	uint32_t id = nat_flow_id(&g.nat, e);

	nat_release(&g.nat, e);
	if (g.cb.tcp_abandoned)
		g.cb.tcp_abandoned(g.ctx, id);
}

/* Answers the client's SYN of a held entry with RST+ACK (refused). */
static void refuse_held(const struct nat_entry *e)
{
	struct pkt_view v;
	uint8_t rst[PKT_RST_LEN];

	if (!e->syn || pkt_parse(e->syn, e->syn_len, &v) != PKT_OK)
		return;
	emit(rst, pkt_build_rst(rst, v.dst, v.src, v.dport, v.sport, 0, v.seq + 1,
	                        TCPF_RST | TCPF_ACK));
}

/* ---- lwIP side ---------------------------------------------------------- */

static err_t netif_output(struct netif *netif, struct pbuf *p, const ip4_addr_t *nexthop)
{
	u16_t len;

	(void)netif;
	(void)nexthop;
	len = pbuf_copy_partial(p, g.outbuf, sizeof g.outbuf, 0);
	if (len != p->tot_len || !nat_rewrite_outbound(&g.nat, g.outbuf, len))
		return ERR_OK; /* nobody to deliver to: the flow is gone */
	emit(g.outbuf, len);
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
	netif->name[0] = 'a';
	netif->name[1] = 't';
	netif->mtu = g.cfg.mtu;
	netif->output = netif_output;
	netif->output_ip6 = netif_output_ip6;
	netif->flags = 0; /* point to point: no ARP, no broadcast */
	return ERR_OK;
}

static struct nat_entry *entry_of_pcb(const struct tcp_pcb *pcb)
{
	if (pcb->local_port != LWIP_PORT_LISTEN_PORT || !IP_IS_V4(&pcb->remote_ip) ||
	    ip_2_ip4(&pcb->local_ip)->addr != g.cfg.netif_ip)
		return NULL;
	return nat_by_pseudo(&g.nat, ip_2_ip4(&pcb->remote_ip)->addr,
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
	struct nat_entry *e;

	(void)arg;
	if (err != ERR_OK || !pcb)
		return ERR_VAL;
	e = entry_of_pcb(pcb);
	if (!e || e->state != NAT_ADMITTED) {
		tcp_abort(pcb);
		return ERR_ABRT;
	}
	nat_set_state(e, NAT_ACCEPTED, now_ms());
	tcp_arg(pcb, NULL);
	if (g.cb.tcp_accepted)
		(*g.cb.tcp_accepted)(g.ctx, nat_flow_id(&g.nat, e), pcb);
	/* The bridge may have aborted (or RST-closed) the pcb inside the
	 * callback; lwIP must then hear ERR_ABRT and not touch it again. */
	return pcb_is_active(pcb) ? ERR_OK : ERR_ABRT;
}

/* lwIP's tcp_input is not reentrant (it keeps the segment being processed
 * in globals), yet the bridge's lwIP callbacks may well call us back, e.g.
 * admitting a queued flow from tcp_err. Input that arrives while lwIP is
 * busy is queued and fed as soon as the outer call returns. */
static void drain_pending(void)
{
	while (g.pending_len) {
		struct pbuf *p = g.pending[g.pending_head];

		g.pending_head = (g.pending_head + 1) % PENDING_MAX;
		g.pending_len--;
		if (g.netif.input(p, &g.netif) != ERR_OK)
			pbuf_free(p);
	}
}

static void lwip_input(struct pbuf *p)
{
	if (g.depth) {
		if (g.pending_len == PENDING_MAX) {
			pbuf_free(p);
			return;
		}
		g.pending[(g.pending_head + g.pending_len) % PENDING_MAX] = p;
		g.pending_len++;
		return;
	}
	g.depth++;
	if (g.netif.input(p, &g.netif) != ERR_OK)
		pbuf_free(p);
	drain_pending();
	g.depth--;
}

static void feed_lwip(const struct nat_entry *e, const uint8_t *pkt, const struct pkt_view *v)
{
	struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)v->len, PBUF_RAM);

	if (!p)
		return;
	memcpy(p->payload, pkt, v->len);
	nat_rewrite_inbound(&g.nat, e, p->payload, v);
	lwip_input(p);
}

static void on_udp_recv(void *arg, struct udp_pcb *pcb, struct pbuf *p,
                        const ip_addr_t *addr, u16_t port)
{
	struct nat_entry *e = NULL;
	const uint8_t *data;

	(void)arg;
	(void)pcb;
	if (IP_IS_V4(addr))
		e = nat_by_pseudo(&g.nat, ip_2_ip4(addr)->addr, lwip_htons(port));
	if (!e || e->state != NAT_UDP || !g.cb.udp_recv) {
		pbuf_free(p);
		return;
	}
	if (p->len == p->tot_len) {
		data = p->payload;
	} else {
		pbuf_copy_partial(p, g.udpbuf, sizeof g.udpbuf, 0);
		data = g.udpbuf;
	}
	g.cb.udp_recv(g.ctx, nat_flow_id(&g.nat, e), &e->t, data, p->tot_len);
	pbuf_free(p);
}

/* ---- liveness sweep ------------------------------------------------------ */

static void sweep_pcbs(uint32_t now)
{
	struct tcp_pcb *pcb, *next;
	struct nat_entry *e;

	for (pcb = tcp_active_pcbs; pcb; pcb = pcb->next) {
		e = entry_of_pcb(pcb);
		if (e && (e->state == NAT_ADMITTED || e->state == NAT_ACCEPTED))
			e->seen = true;
	}
	for (pcb = tcp_tw_pcbs; pcb; pcb = next) {
		next = pcb->next;
		if (pcb->local_port != LWIP_PORT_LISTEN_PORT)
			continue;
		e = entry_of_pcb(pcb);
		if (e && e->state != NAT_TIME_WAIT && e->state != NAT_HELD)
			nat_set_state(e, NAT_TIME_WAIT, now);
		if (e && e->state == NAT_TIME_WAIT && (uint32_t)(now - e->since_ms) < TW_LINGER_MS)
			e->seen = true;
		else if (!e || e->state == NAT_TIME_WAIT)
			tcp_abort(pcb); /* frees a TIME_WAIT pcb, sends nothing */
	}
}

static void sweep(void)
{
	uint32_t now = now_ms();

	for (uint32_t i = 0; i < g.nat.cap; i++)
		g.nat.e[i].seen = false;
	sweep_pcbs(now);
	for (uint32_t i = 0; i < g.nat.cap; i++) {
		struct nat_entry *e = &g.nat.e[i];

		switch (e->state) {
		case NAT_HELD:
			if ((uint32_t)(now - e->since_ms) >= g.cfg.hold_timeout_ms) {
				refuse_held(e);
				abandon(e);
			}
			break;
		case NAT_ADMITTED:
			if (!e->seen)
				abandon(e);
			break;
		case NAT_ACCEPTED:
		case NAT_TIME_WAIT:
			if (!e->seen)
				nat_release(&g.nat, e);
			break;
		case NAT_UDP:
			if ((uint32_t)(now - e->since_ms) >= g.cfg.udp_idle_timeout_ms) {
				uint32_t id = nat_flow_id(&g.nat, e);

				nat_release(&g.nat, e);
				if (g.cb.udp_expired)
					g.cb.udp_expired(g.ctx, id);
			}
			break;
		}
	}
}

void lwip_port_poll(void)
{
	uint32_t now = sys_now();

	if (g.depth)
		return;
	g.depth++;
	sys_check_timeouts();
	drain_pending();
	g.depth--;
	if ((uint32_t)(now - g.last_sweep_ms) >= SWEEP_EVERY_MS) {
		g.last_sweep_ms = now;
		sweep();
	}
}

void lwip_port_sweep(void)
{
	sweep();
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	lwip_port_poll();
}

/* ---- tun side ------------------------------------------------------------ */

static void new_flow(const uint8_t *pkt, const struct pkt_view *v, const struct nat_tuple *t)
{
	uint8_t rst[PKT_RST_LEN];
	struct nat_entry *e;

	if (v->flags & TCPF_RST)
		return;
	if ((v->flags & (TCPF_SYN | TCPF_ACK | TCPF_FIN)) != TCPF_SYN) {
		emit(rst, pkt_build_rst_reply(rst, v)); /* stale flow: die fast */
		return;
	}
	e = nat_alloc(&g.nat, t, now_ms());
	if (e && !(e->syn = malloc(v->len))) {
		nat_release(&g.nat, e);
		e = NULL;
	}
	if (!e) {
		g.cnt.table_full++;
		emit(rst, pkt_build_rst_reply(rst, v));
		return;
	}
	memcpy(e->syn, pkt, v->len);
	e->syn_len = v->len;
	if (g.cb.tcp_syn)
		g.cb.tcp_syn(g.ctx, nat_flow_id(&g.nat, e), t); /* may admit/refuse at once */
}

static void input_udp(const uint8_t *pkt, const struct pkt_view *v, const struct nat_tuple *t)
{
	struct nat_entry *e;

	if (!g.cb.udp_recv) {
		g.cnt.unsupported++;
		return;
	}
	e = nat_lookup(&g.nat, t);
	if (!e) {
		e = nat_alloc(&g.nat, t, now_ms());
		if (!e) {
			g.cnt.table_full++;
			return;
		}
		nat_set_state(e, NAT_UDP, now_ms());
	}
	e->since_ms = now_ms();
	feed_lwip(e, pkt, v);
}

static void input_icmp(const uint8_t *pkt, size_t len)
{
	struct lwip_port_echo e;

	switch (pkt_parse_echo(pkt, len, &e)) {
	case PKT_OK:
		break;
	case PKT_MALFORMED:
		g.cnt.malformed++;
		return;
	case PKT_UNSUPPORTED:
		g.cnt.unsupported++;
		return;
	}
	if (e.len > lwip_port_echo_max()) {
		g.cnt.icmp_echo_too_big++;
		return;
	}
	g.cb.icmp_echo(g.ctx, &e);
}

/* IPv6 is not carried: answer so the client gives up on it at once. */
static void input_ip6(const uint8_t *pkt, size_t len)
{
	struct ip6_view v;
	size_t cap = g.cfg.mtu < sizeof g.ip6buf ? g.cfg.mtu : sizeof g.ip6buf;

	switch (ip6_classify(pkt, len, &v)) {
	case IP6_MALFORMED:
		g.cnt.malformed++;
		return;
	case IP6_DROP:
		g.cnt.ip6_dropped++;
		return;
	case IP6_RST:
		g.cnt.ip6_rst++;
		emit(g.ip6buf, ip6_build_rst(g.ip6buf, pkt, &v));
		return;
	case IP6_UNREACH:
		if (!ip6_rate_take(&g.ip6_rl, now_ms())) {
			g.cnt.ip6_rate_limited++;
			return;
		}
		g.cnt.ip6_unreach++;
		emit(g.ip6buf, ip6_build_unreach(g.ip6buf, cap, pkt, &v));
		return;
	}
}

void lwip_port_input(const uint8_t *pkt, size_t len)
{
	struct pkt_view v;
	struct nat_tuple t;
	struct nat_entry *e;

	if (!g.up)
		return;
	g.cnt.packets_in++;
	if (len && (pkt[0] >> 4) == 6) {
		input_ip6(pkt, len);
		return;
	}
	switch (pkt_parse(pkt, len, &v)) {
	case PKT_OK:
		break;
	case PKT_MALFORMED:
		g.cnt.malformed++;
		return;
	case PKT_UNSUPPORTED:
		/* v.proto is set whenever the IP header was sound */
		if (v.proto == IPPROTO_ICMP && g.cb.icmp_echo)
			input_icmp(pkt, len);
		else
			g.cnt.unsupported++;
		return;
	}
	t = (struct nat_tuple){ .src_ip = v.src, .dst_ip = v.dst, .src_port = v.sport,
	                        .dst_port = v.dport, .proto = v.proto };
	if (v.proto == IPPROTO_UDP) {
		input_udp(pkt, &v, &t);
		return;
	}
	e = nat_lookup(&g.nat, &t);
	if (e && e->state == NAT_TIME_WAIT &&
	    (v.flags & (TCPF_SYN | TCPF_ACK | TCPF_RST)) == TCPF_SYN) {
		nat_release(&g.nat, e); /* port reused: the old pcb dies at the sweep */
		e = NULL;
	}
	if (!e) {
		new_flow(pkt, &v, &t);
		return;
	}
	if (e->state == NAT_HELD) {
		if (v.flags & TCPF_RST)
			abandon(e);
		return; /* retransmitted SYNs (and anything else) absorbed */
	}
	feed_lwip(e, pkt, &v);
}

void lwip_port_tcp_admit(uint32_t flow_id)
{
	struct nat_entry *e = nat_by_flow_id(&g.nat, flow_id);
	struct pkt_view v;
	uint8_t *syn;

	if (!g.up || !e || e->state != NAT_HELD)
		return;
	syn = e->syn;
	e->syn = NULL;
	nat_set_state(e, NAT_ADMITTED, now_ms());
	if (pkt_parse(syn, e->syn_len, &v) == PKT_OK)
		feed_lwip(e, syn, &v);
	free(syn);
}

void lwip_port_tcp_refuse(uint32_t flow_id)
{
	struct nat_entry *e = nat_by_flow_id(&g.nat, flow_id);

	if (!g.up || !e || e->state != NAT_HELD)
		return;
	refuse_held(e);
	nat_release(&g.nat, e);
}

int lwip_port_udp_send(uint32_t flow_id, const void *data, size_t len)
{
	struct nat_entry *e = nat_by_flow_id(&g.nat, flow_id);
	struct pbuf *p;
	ip_addr_t to;
	err_t err;

	if (!g.up || !e || e->state != NAT_UDP || len + 28 > g.cfg.mtu)
		return -1;
	p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)len, PBUF_RAM);
	if (!p)
		return -1;
	memcpy(p->payload, data, len);
	ip_addr_set_ip4_u32_val(to, nat_pseudo_ip(&g.nat, e));
	e->since_ms = now_ms();
	err = udp_sendto(g.udp, p, &to, lwip_ntohs(e->pseudo_port));
	pbuf_free(p);
	return err == ERR_OK ? 0 : -1;
}

void lwip_port_udp_close(uint32_t flow_id)
{
	struct nat_entry *e = nat_by_flow_id(&g.nat, flow_id);

	if (g.up && e && e->state == NAT_UDP)
		nat_release(&g.nat, e);
}

size_t lwip_port_echo_max(void)
{
	size_t m = g.cfg.mtu > 28 ? (size_t)g.cfg.mtu - 28 : 0;

	return m < LWIP_PORT_ECHO_MAX ? m : LWIP_PORT_ECHO_MAX;
}

int lwip_port_icmp_echo_reply(const struct lwip_port_echo *e)
{
	if (!g.up || !e || (e->len && !e->data))
		return -1;
	if (e->len > lwip_port_echo_max()) {
		g.cnt.icmp_reply_too_big++;
		return -1;
	}
	/* echobuf, not outbuf: this may run inside icmp_echo, and neither
	 * buffer is held across calls, but keep the two paths apart. */
	emit(g.echobuf, pkt_build_echo_reply(g.echobuf, e));
	return 0;
}

void lwip_port_get_counters(struct lwip_port_counters *out)
{
	*out = g.cnt;
	out->flows = g.nat.used;
}

/* ---- init / shutdown ------------------------------------------------------ */

static int start_listener(void)
{
	ip_addr_t local = IPADDR4_INIT(g.cfg.netif_ip);
	struct tcp_pcb *pcb = tcp_new_ip_type(IPADDR_TYPE_V4);

	if (!pcb)
		return -1;
	if (tcp_bind(pcb, &local, LWIP_PORT_LISTEN_PORT) != ERR_OK) {
		tcp_abort(pcb);
		return -1;
	}
	g.listener = tcp_listen(pcb);
	if (!g.listener) {
		tcp_abort(pcb);
		return -1;
	}
	tcp_accept(g.listener, on_accept);

	g.udp = udp_new_ip_type(IPADDR_TYPE_V4);
	if (!g.udp || udp_bind(g.udp, &local, LWIP_PORT_LISTEN_PORT) != ERR_OK) {
		if (g.udp)
			udp_remove(g.udp);
		g.udp = NULL;
		tcp_close(g.listener);
		g.listener = NULL;
		return -1;
	}
	udp_recv(g.udp, on_udp_recv, NULL);
	return 0;
}

int lwip_port_init(struct ev_loop *loop, const struct lwip_port_config *cfg,
                   const struct lwip_port_callbacks *cb, void *ctx)
{
	static bool lwip_ready;
	ip4_addr_t ip, mask, gw;
	uint32_t h = ntohl(cfg->netif_ip);

	if (g.up)
		return -1;
	if (h == 0 || (h & NAT_PSEUDO_MASK) == NAT_PSEUDO_NET || h >= 0xe0000000u) {
		fprintf(stderr, "lwip_port: netif address must not be 0, multicast or in 100.64.0.0/10 (used for pseudo addresses)\n");
		return -1;
	}
	if (cfg->mtu < 576) {
		fprintf(stderr, "lwip_port: mtu %u is below 576\n", cfg->mtu);
		return -1;
	}
	memset(&g.cnt, 0, sizeof g.cnt);
	g.cfg = *cfg;
	if (!g.cfg.udp_idle_timeout_ms)
		g.cfg.udp_idle_timeout_ms = 60000;
	g.cb = *cb;
	g.ctx = ctx;
	if (nat_init(&g.nat, cfg->max_flows, cfg->netif_ip, htons(LWIP_PORT_LISTEN_PORT)) < 0) {
		fprintf(stderr, "lwip_port: cannot allocate a NAT table of %u flows (1..%u)\n",
		        cfg->max_flows, NAT_MAX_FLOWS);
		return -1;
	}
	nat_set_caps(&g.nat, cfg->nat_tcp, cfg->nat_udp);
	if (!lwip_ready) {
		sys_init();
		lwip_init();
		lwip_ready = true;
	}
	ip.addr = cfg->netif_ip;
	mask.addr = 0xffffffffu;
	gw.addr = 0;
	if (!netif_add(&g.netif, &ip, &mask, &gw, NULL, netif_setup, ip_input)) {
		fprintf(stderr, "lwip_port: netif_add failed\n");
		nat_destroy(&g.nat);
		return -1;
	}
	netif_set_default(&g.netif);
	netif_set_up(&g.netif);
	netif_set_link_up(&g.netif);
	if (start_listener() < 0) {
		fprintf(stderr, "lwip_port: cannot bind the TCP listener and UDP pcb on the netif address\n");
		netif_remove(&g.netif);
		nat_destroy(&g.nat);
		return -1;
	}
	g.loop = loop;
	if (loop) {
		ev_timer_init(&g.timer, on_timer, TIMER_INTERVAL_S, TIMER_INTERVAL_S);
		ev_timer_start(loop, &g.timer);
	}
	g.last_sweep_ms = sys_now();
	ip6_rate_init(&g.ip6_rl, sys_now());
	g.up = true;
	return 0;
}

static struct tcp_pcb *first_of_ours(struct tcp_pcb *list)
{
	for (; list; list = list->next)
		if (list->local_port == LWIP_PORT_LISTEN_PORT)
			return list;
	return NULL;
}

void lwip_port_shutdown(void)
{
	struct tcp_pcb *pcb;

	if (!g.up)
		return;
	if (g.loop)
		ev_timer_stop(g.loop, &g.timer);
	/* tcp_abort runs the bridge's err callbacks, which may free other pcbs:
	 * restart from the list head after every abort. */
	while ((pcb = first_of_ours(tcp_active_pcbs)))
		tcp_abort(pcb);
	while ((pcb = first_of_ours(tcp_tw_pcbs)))
		tcp_abort(pcb);
	tcp_close(g.listener);
	g.listener = NULL;
	udp_remove(g.udp);
	g.udp = NULL;
	while (g.pending_len) {
		pbuf_free(g.pending[g.pending_head]);
		g.pending_head = (g.pending_head + 1) % PENDING_MAX;
		g.pending_len--;
	}
	netif_set_down(&g.netif);
	netif_remove(&g.netif);
	nat_destroy(&g.nat);
	g.up = false;
	g.loop = NULL;
}

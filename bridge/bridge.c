/* The bridge's two doors: lwip_port's callbacks in, the modem's events in.
 * Each event goes to the one component it is for; link events go to the
 * link's owner through the link-owner table. */
#include "bridge.h"

#include <string.h>

#include "log.h"
#include "ping.h"

/* --- from lwip_port ----------------------------------------------------- */

static void on_tcp_syn(void *ctx, uint32_t flow_id, const struct nat_tuple *t)
{
	struct bridge *b = ctx;

	flow_on_tcp_syn(b->tcp, flow_id, t);
}

static void on_tcp_accepted(void *ctx, uint32_t flow_id, struct tcp_pcb *pcb)
{
	struct bridge *b = ctx;

	flow_on_tcp_accepted(b->tcp, flow_id, pcb);
}

static void on_tcp_abandoned(void *ctx, uint32_t flow_id)
{
	struct bridge *b = ctx;

	flow_on_tcp_abandoned(b->tcp, flow_id);
}

static void on_udp_recv(void *ctx, uint32_t flow_id, const struct nat_tuple *t, const uint8_t *data,
                        size_t len)
{
	struct bridge *b = ctx;

	uflow_on_recv(b->udp, flow_id, t, data, len);
}

static void on_udp_expired(void *ctx, uint32_t flow_id)
{
	struct bridge *b = ctx;

	uflow_on_expired(b->udp, flow_id);
}

static void on_icmp_echo(void *ctx, const struct lwip_port_echo *e)
{
	struct bridge *b = ctx;

	ping_on_echo(b->ping, e);
}

static void on_output(void *ctx, const uint8_t *pkt, size_t len)
{
	struct bridge *b = ctx;

	if (b->output)
		b->output(b->ctx, pkt, len);
}

static const struct lwip_port_callbacks stack_callbacks = {
	.tcp_syn = on_tcp_syn,
	.tcp_accepted = on_tcp_accepted,
	.tcp_abandoned = on_tcp_abandoned,
	.output = on_output,
	.udp_recv = on_udp_recv,
	.udp_expired = on_udp_expired,
	.icmp_echo = on_icmp_echo,
};

/* --- from the modem ----------------------------------------------------- */

/* A module link may be free: queued TCP flows first (each holds a
 * client's SYN), then waiting UDP flows. */
static void bridge_admit_waiting(struct bridge *b)
{
	flow_admit_waiting(b->tcp);
	if (flow_queued(b->tcp) == 0)
		uflow_admit_waiting(b->udp);
}

static void on_link_state(void *ctx, bool up, const char *local_ip)
{
	struct bridge *b = ctx;

	if (up) {
		log_info("module data link up, local address %s", local_ip ? local_ip : "?");
		bridge_admit_waiting(b);
	} else {
		log_info("module data link down: resetting every flow");
		links_clear(&b->links);
		inbound_link_down(b->in);
		uflow_link_down(b->udp);
		dnsd_link_down(b->dns);
		ping_link_down(b->ping);
		flow_link_down(b->tcp);
	}
	if (b->link_changed)
		b->link_changed(b->ctx, up, local_ip);
}

static void on_connected(void *ctx, int link, bool ok)
{
	struct bridge *b = ctx;
	/* a failed connect frees the id: the owner may be given another */
	struct link_slot s = ok ? links_get(&b->links, link) : links_take(&b->links, link);

	if (s.ops)
		s.ops->connected(s.owner, link, ok);
	else if (ok)
		modem_close(b->modem, link); /* nobody waits for it any more */
	if (!ok)
		bridge_admit_waiting(b);
}

static void on_data(void *ctx, int link, const uint8_t *buf, size_t len)
{
	struct bridge *b = ctx;
	struct link_slot s = links_get(&b->links, link);

	if (s.ops)
		s.ops->data(s.owner, link, buf, len);
	else
		log_debug("link %d: %zu bytes with no flow to take them, dropped", link, len);
}

static void on_sent(void *ctx, int link, size_t len, bool ok)
{
	struct bridge *b = ctx;
	struct link_slot s = links_get(&b->links, link);

	if (s.ops)
		s.ops->sent(s.owner, link, len, ok);
}

static void on_closed(void *ctx, int link, bool lost)
{
	struct bridge *b = ctx;
	struct link_slot s = links_take(&b->links, link);

	if (s.ops)
		s.ops->closed(s.owner, link, lost);
	bridge_admit_waiting(b);
}

static void on_resolved(void *ctx, int req, bool ok, const uint32_t *ips, size_t n)
{
	struct bridge *b = ctx;

	dnsd_on_resolved(b->dns, req, ok, ips, n);
}

static void on_ping_reply(void *ctx, int req, bool ok, unsigned rtt_ms)
{
	struct bridge *b = ctx;

	ping_on_reply(b->ping, req, ok, rtt_ms);
}

static void on_listening(void *ctx, uint16_t port, bool ok)
{
	struct bridge *b = ctx;

	inbound_on_listening(b->in, port, ok);
}

static void on_accepted(void *ctx, int link, uint16_t port, uint32_t peer_ip, uint16_t peer_port)
{
	struct bridge *b = ctx;

	inbound_on_accepted(b->in, link, port, peer_ip, peer_port);
}

const struct modem_events bridge_modem_events = {
	.link_state = on_link_state,
	.connected = on_connected,
	.data = on_data,
	.sent = on_sent,
	.closed = on_closed,
	.resolved = on_resolved,
	.ping_reply = on_ping_reply,
	.listening = on_listening,
	.accepted = on_accepted,
};

/* --- life --------------------------------------------------------------- */

static void free_components(struct bridge *b)
{
	flow_table_free(b->tcp);
	uflow_table_free(b->udp);
	dnsd_free(b->dns);
	ping_free(b->ping);
	inbound_free(b->in);
	b->in = NULL;
	b->tcp = NULL;
	b->udp = NULL;
	b->dns = NULL;
	b->ping = NULL;
}

int bridge_init(struct bridge *b, struct ev_loop *loop, const struct bridge_config *cfg)
{
	memset(b, 0, sizeof(*b));
	b->loop = loop;
	b->output = cfg->output;
	b->link_changed = cfg->link_changed;
	b->ctx = cfg->ctx;
	b->stack = lwip_port_new(loop, &cfg->stack, &stack_callbacks, b);
	if (!b->stack)
		return -1;
	b->tcp = flow_table_new(b, &cfg->tcp);
	b->udp = uflow_table_new(b, &cfg->udp);
	b->dns = dnsd_new(loop, &cfg->dns);
	b->ping = ping_new(loop, b->stack);
	b->in = inbound_new(b, &cfg->in);
	if (!b->tcp || !b->udp || !b->dns || !b->ping || !b->in) {
		bridge_shutdown(b);
		return -1;
	}
	return 0;
}

void bridge_set_modem(struct bridge *b, struct modem *m)
{
	b->modem = m;
	dnsd_set_modem(b->dns, m);
	ping_set_modem(b->ping, m);
	inbound_set_modem(b->in);
}

void bridge_shutdown(struct bridge *b)
{
	if (!b->stack)
		return;
	free_components(b);
	lwip_port_free(b->stack);
	b->stack = NULL;
}

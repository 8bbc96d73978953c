#include "fake_modem.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ev.h>
#include <string.h>

#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"
#include "packet.h"
#include "testpkt.h"

struct fake_modem fake;
struct icmp_capture icmp_out;

struct bridge bridge;
static struct ev_loop *loop;
#define CLIENTS_MAX 8
static struct client *clients[CLIENTS_MAX];

/* --- modem.h, as the bridge sees it ------------------------------------- */

static struct fake_link *link_of(int link)
{
	assert_true(link >= 0 && link < fake.max_links);
	assert_true(fake.link[link].used);
	return &fake.link[link];
}

bool modem_is_up(const struct modem *m)
{
	assert_ptr_equal(m, (const struct modem *)&fake);
	return fake.up;
}

int modem_max_links(const struct modem *m)
{
	(void)m;
	return fake.max_links;
}

int modem_free_links(const struct modem *m)
{
	int n = 0;

	(void)m;
	for (int i = 0; i < fake.max_links; i++)
		n += !fake.link[i].used;
	return n;
}

int modem_open(struct modem *m, enum modem_proto proto, uint32_t ip, uint16_t port)
{
	assert_ptr_equal(m, (struct modem *)&fake);
	if (!fake.up)
		return -1;
	for (int i = 0; i < fake.max_links; i++) {
		if (!fake.link[i].used) {
			memset(&fake.link[i], 0, sizeof(fake.link[i]));
			fake.link[i] = (struct fake_link){.used = true, .proto = proto, .ip = ip, .port = port};
			fake.opens++;
			return i;
		}
	}
	return -1;
}

size_t modem_send_space(const struct modem *m, int link)
{
	struct fake_link *l = link_of(link);

	(void)m;
	return l->unacked < fake.space ? fake.space - l->unacked : 0;
}

size_t modem_send(struct modem *m, int link, const uint8_t *buf, size_t len)
{
	struct fake_link *l = link_of(link);
	size_t n = modem_send_space(m, link);

	assert_false(l->close_asked);
	if (l->proto == MODEM_UDP) {
		if (len > n)
			return 0; /* a datagram is taken whole or not at all */
		assert_true(l->ndgrams < FAKE_DGRAMS);
		l->dgram_len[l->ndgrams++] = len;
		n = len;
	} else {
		if (n > fake.take_max)
			n = fake.take_max;
		if (n > len)
			n = len;
	}
	assert_true(l->up_len + n <= sizeof(l->up));
	memcpy(l->up + l->up_len, buf, n);
	l->up_len += n;
	l->unacked += n;
	return n;
}

void modem_recv_window(struct modem *m, int link, size_t window)
{
	struct fake_link *l = link_of(link);

	(void)m;
	l->window = window;
	l->windows_set++;
}

void modem_close(struct modem *m, int link)
{
	(void)m;
	link_of(link)->close_asked = true;
	fake.closes++;
}

int modem_resolve(struct modem *m, const char *name)
{
	(void)m;
	(void)name;
	return fake.resolves++;
}

int modem_max_listeners(const struct modem *m)
{
	(void)m;
	return 1;
}

bool modem_listen(struct modem *m, uint16_t port)
{
	(void)m;
	if (fake.n_listen >= sizeof(fake.listen) / sizeof(fake.listen[0]))
		return false;
	fake.listen[fake.n_listen++] = port;
	return true;
}

int modem_ping(struct modem *m, uint32_t ip, unsigned timeout_ms)
{
	(void)m;
	(void)ip;
	(void)timeout_ms;
	return fake.pings++;
}

/* --- the module's side -------------------------------------------------- */

void fake_connected(int link, bool ok)
{
	link_of(link);
	if (!ok)
		fake.link[link].used = false;
	bridge_modem_events.connected(fake.b, link, ok);
}

void fake_accept(int link, size_t n)
{
	struct fake_link *l = link_of(link);

	if (n == 0)
		n = l->unacked;
	assert_true(n <= l->unacked);
	l->unacked -= n;
	bridge_modem_events.sent(fake.b, link, n, true);
}

void fake_send_failed(int link)
{
	link_of(link);
	bridge_modem_events.sent(fake.b, link, 0, false);
}

void fake_data(int link, const void *buf, size_t len)
{
	struct fake_link *l = link_of(link);

	/* the modem layer never delivers more than the bridge's window */
	assert_true(len <= l->window);
	l->window -= len;
	bridge_modem_events.data(fake.b, link, buf, len);
}

void fake_accepted(int link, uint16_t port)
{
	assert_true(link >= 0 && link < fake.max_links && !fake.link[link].used);
	memset(&fake.link[link], 0, sizeof(fake.link[link]));
	fake.link[link].used = true;
	fake.link[link].proto = MODEM_TCP;
	bridge_modem_events.accepted(fake.b, link, port, tp_ip("198.51.100.99"), 40000);
}

void harness_run(void)
{
	for (int i = 0; i < 20; i++)
		ev_run(loop, EVRUN_NOWAIT);
}

void fake_closed(int link, bool lost)
{
	link_of(link)->used = false;
	bridge_modem_events.closed(fake.b, link, lost);
}

/* --- the client's side -------------------------------------------------- */

static struct client *client_of(uint16_t port)
{
	for (int i = 0; i < CLIENTS_MAX; i++)
		if (clients[i] && clients[i]->sport == port)
			return clients[i];
	return NULL;
}

static void on_tcp_out(struct client *c, const uint8_t *pkt, const struct pkt_view *v)
{
	size_t n = v->len - v->payload_off;

	c->segments++;
	if (v->flags & TCPF_RST) {
		c->rst = true;
		return;
	}
	if (v->flags & TCPF_SYN) {
		c->synack = true;
		c->rcv_nxt = v->seq + 1;
		return;
	}
	if (n && v->seq == c->rcv_nxt) { /* in order only, as a client takes it */
		assert_true(c->rx_len + n <= sizeof(c->rx));
		memcpy(c->rx + c->rx_len, pkt + v->payload_off, n);
		c->rx_len += n;
		c->rcv_nxt += (uint32_t)n;
	}
	if ((v->flags & TCPF_FIN) && v->seq + n == c->rcv_nxt) {
		c->fin = true;
		c->rcv_nxt++;
	}
}

static void on_output(void *ctx, const uint8_t *pkt, size_t len)
{
	struct pkt_view v;
	struct client *c;

	(void)ctx;
	if (len >= 20 && pkt[9] == 1) { /* ICMP */
		assert_true(len <= sizeof(icmp_out.pkt));
		memcpy(icmp_out.pkt, pkt, len);
		icmp_out.len = len;
		icmp_out.n++;
		return;
	}
	assert_int_equal(pkt_parse(pkt, len, &v), PKT_OK); /* checksums too */
	assert_int_equal(v.dst, tp_ip(CLIENT));
	c = client_of(ntohs(v.dport));
	if (!c)
		return;
	if (v.proto == 6) {
		on_tcp_out(c, pkt, &v);
	} else if (v.proto == 17) {
		size_t n = v.len - v.payload_off;

		c->datagrams++;
		c->dgram_src = v.src;
		c->dgram_sport = ntohs(v.sport);
		memcpy(c->rx, pkt + v.payload_off, n);
		c->rx_len = n;
	}
}

void client_init(struct client *c, uint16_t sport)
{
	memset(c, 0, sizeof(*c));
	c->sport = sport;
	c->snd_nxt = 1000u * sport;
	for (int i = 0; i < CLIENTS_MAX; i++) {
		if (!clients[i]) {
			clients[i] = c;
			return;
		}
	}
	fail_msg("too many clients");
}

static void client_segment(struct client *c, uint8_t flags, const void *data, size_t len)
{
	static const uint8_t mss_ws[] = {2, 4, 0x05, 0xb4, 1, 3, 3, 7};
	static uint8_t pkt[2048];
	bool syn = flags & TCPF_SYN;
	size_t n;

	assert_true(len <= 1460);
	n = tp_build_tcp(pkt, &(struct tp_tcp){
		.src = CLIENT, .dst = SERVER, .sport = c->sport, .dport = 80,
		.seq = c->snd_nxt, .ack = syn ? 0 : c->rcv_nxt, .flags = flags, .win = 0xffff,
		.opts = syn ? mss_ws : NULL, .optlen = syn ? sizeof(mss_ws) : 0,
		.data = data, .len = len});
	c->snd_nxt += (uint32_t)len + (syn ? 1 : 0) + ((flags & TCPF_FIN) ? 1 : 0);
	lwip_port_input(bridge.stack, pkt, n);
}

void client_syn(struct client *c)
{
	client_segment(c, TCPF_SYN, NULL, 0);
}

void client_ack(struct client *c)
{
	client_segment(c, TCPF_ACK, NULL, 0);
}

void client_send(struct client *c, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len > 0) {
		size_t n = len > 1460 ? 1460 : len;

		client_segment(c, TCPF_ACK | TCPF_PSH, p, n);
		p += n;
		len -= n;
	}
}

void client_fin(struct client *c)
{
	client_segment(c, TCPF_ACK | TCPF_FIN, NULL, 0);
}

void client_open(struct client *c, int link)
{
	int opens = fake.opens;

	client_syn(c);
	assert_int_equal(fake.opens, opens + 1);
	assert_true(fake.link[link].used);
	assert_int_equal(fake.link[link].proto, MODEM_TCP);
	assert_int_equal(fake.link[link].ip, tp_ip(SERVER));
	assert_int_equal(fake.link[link].port, 80);
	assert_false(c->synack); /* the SYN is held until the module connected */
	fake_connected(link, true);
	assert_true(c->synack);
	client_ack(c);
}

void client_udp(struct client *c, uint16_t dport, const void *data, size_t len)
{
	static uint8_t pkt[2048];
	size_t n = tp_build_udp(pkt, &(struct tp_udp){
		.src = CLIENT, .dst = SERVER, .sport = c->sport, .dport = dport,
		.data = data, .len = len});

	lwip_port_input(bridge.stack, pkt, n);
}

void client_ping(uint16_t id, uint16_t seq, const void *data, size_t len)
{
	static uint8_t pkt[1600];
	size_t n = tp_build_echo(pkt, &(struct tp_echo){
		.src = CLIENT, .dst = SERVER, .type = 8, .id = id, .seq = seq,
		.data = data, .len = len});

	lwip_port_input(bridge.stack, pkt, n);
}

void pattern(uint8_t *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 7 + seed + (i >> 8));
}

struct tcp_pcb *only_pcb(void)
{
	struct tcp_pcb *pcb = tcp_active_pcbs;

	assert_non_null(pcb);
	assert_null(pcb->next);
	return pcb;
}

/* --- set-up ------------------------------------------------------------- */

void harness_setup(unsigned max_links, unsigned queue_len)
{
	harness_setup_caps(max_links, queue_len, max_links, max_links);
}

struct inbound_config harness_inbound;

void harness_setup_caps(unsigned max_links, unsigned queue_len, unsigned tcp_links,
                        unsigned udp_links)
{
	struct bridge_config bc = {
		.stack = {
			.netif_ip = tp_ip("192.0.0.1"),
			.mtu = 1500,
			.max_flows = 16,
			.hold_timeout_ms = 5000,
			.udp_idle_timeout_ms = 5000,
		},
		.tcp = {.max_flows = 8, .queue_len = queue_len, .queue_wait_ms = 5000,
		        .intercept_dns = true, .max_links = tcp_links},
		.udp = {.max_flows = 4, .intercept_dns = true, .max_links = udp_links},
		.dns = {.ttl_s = 10, .timeout_ms = 1000, .cache_size = 4, .max_waiting = 4},
		.output = on_output,
		.in = harness_inbound,
	};

	assert_true(max_links <= FAKE_LINKS);
	memset(&fake, 0, sizeof(fake));
	memset(clients, 0, sizeof(clients));
	memset(&icmp_out, 0, sizeof(icmp_out));
	fake.max_links = (int)max_links;
	fake.space = SIZE_MAX;
	fake.take_max = SIZE_MAX;
	loop = ev_loop_new(0);
	assert_non_null(loop);
	assert_int_equal(bridge_init(&bridge, loop, &bc), 0);
	bridge_set_modem(&bridge, (struct modem *)&fake);
	fake.b = &bridge;
	fake.up = true;
	bridge_modem_events.link_state(&bridge, true, "203.0.113.9");
}

void harness_teardown(void)
{
	bridge_shutdown(&bridge);
	ev_loop_destroy(loop);
}

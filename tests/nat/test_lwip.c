/* The whole TCP path through stock lwIP, without a tun: crafted client
 * packets in through lwip_port_input, lwIP's answers out through
 * cb->output, the bridge side played by this test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <arpa/inet.h>

#include <ev.h>

#include "lwip/priv/tcp_priv.h"
#include "lwip/sys.h"
#include "lwip/tcp.h"

#include "lwip_port.h"
#include "packet.h"
#include "test_lwip_icmp_ip6.h"
#include "testpkt.h"

/* the port under test */
static struct lwip_port *lp;

#define CLIENT "10.0.0.2"
#define SERVER "198.51.100.7"
#define MAX_OUT 32

static struct {
	int syns, accepted, abandoned;
	uint32_t last_syn_id, last_abandoned_id;
	struct nat_tuple last_tuple;
	struct tcp_pcb *pcb;
	uint32_t accepted_id;
	bool abort_in_accept, admit_in_syn, refuse_in_syn;
	uint32_t admit_in_accept, admit_in_err; /* flow ids + 1, 0 = none */
	char rx[256];
	size_t rx_len;
	int errs;
	int udp_rx, udp_expired;
	uint32_t udp_id;
	struct nat_tuple udp_tuple;
	char udp_data[64];
	size_t udp_len;
	uint8_t out[MAX_OUT][2048];
	size_t out_len[MAX_OUT];
	int nout;
} T;

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	(void)arg;
	(void)err;
	if (!p)
		return ERR_OK;
	T.rx_len += pbuf_copy_partial(p, T.rx + T.rx_len, (u16_t)(sizeof T.rx - T.rx_len), 0);
	tcp_recved(pcb, p->tot_len);
	pbuf_free(p);
	return ERR_OK;
}

static void on_err(void *arg, err_t err)
{
	(void)arg;
	(void)err;
	T.errs++;
	T.pcb = NULL;
	if (T.admit_in_err)
		lwip_port_tcp_admit(lp, T.admit_in_err - 1);
}

static void cb_syn(void *ctx, uint32_t id, const struct nat_tuple *t)
{
	(void)ctx;
	T.syns++;
	T.last_syn_id = id;
	T.last_tuple = *t;
	if (T.admit_in_syn)
		lwip_port_tcp_admit(lp, id);
	if (T.refuse_in_syn)
		lwip_port_tcp_refuse(lp, id);
}

static void cb_accepted(void *ctx, uint32_t id, struct tcp_pcb *pcb)
{
	(void)ctx;
	T.accepted++;
	T.accepted_id = id;
	if (T.admit_in_accept)
		lwip_port_tcp_admit(lp, T.admit_in_accept - 1);
	if (T.abort_in_accept) {
		tcp_abort(pcb);
		return;
	}
	T.pcb = pcb;
	tcp_recv(pcb, on_recv);
	tcp_err(pcb, on_err);
}

static void cb_abandoned(void *ctx, uint32_t id)
{
	(void)ctx;
	T.abandoned++;
	T.last_abandoned_id = id;
}

static void cb_output(void *ctx, const uint8_t *pkt, size_t len)
{
	(void)ctx;
	assert_true(len <= sizeof T.out[0]);
	assert_true(T.nout < MAX_OUT);
	memcpy(T.out[T.nout], pkt, len);
	T.out_len[T.nout++] = len;
}

static void cb_udp_recv(void *ctx, uint32_t id, const struct nat_tuple *t,
                        const uint8_t *data, size_t len)
{
	(void)ctx;
	T.udp_rx++;
	T.udp_id = id;
	T.udp_tuple = *t;
	T.udp_len = len < sizeof T.udp_data ? len : sizeof T.udp_data;
	memcpy(T.udp_data, data, T.udp_len);
}

static void cb_udp_expired(void *ctx, uint32_t id)
{
	(void)ctx;
	(void)id;
	T.udp_expired++;
}

static const struct lwip_port_callbacks cbs_udp = {
	.tcp_syn = cb_syn,
	.tcp_accepted = cb_accepted,
	.tcp_abandoned = cb_abandoned,
	.output = cb_output,
	.udp_recv = cb_udp_recv,
	.udp_expired = cb_udp_expired,
};

static const struct lwip_port_callbacks cbs = {
	.tcp_syn = cb_syn,
	.tcp_accepted = cb_accepted,
	.tcp_abandoned = cb_abandoned,
	.output = cb_output,
};

static int setup_with(const struct lwip_port_callbacks *cb)
{
	struct lwip_port_config cfg = {
		.netif_ip = tp_ip("192.0.0.1"),
		.mtu = 1500,
		.max_flows = 4,
		.hold_timeout_ms = 200,
		.udp_idle_timeout_ms = 150,
		.nat_tcp = 4, /* the whole table: these tests bound it, not a share */
		.nat_udp = 4,
	};

	memset(&T, 0, sizeof T);
	lp = lwip_port_new(NULL, &cfg, cb, NULL);
	return lp ? 0 : -1;
}

static int setup(void **state)
{
	(void)state;
	return setup_with(&cbs);
}

static int setup_udp(void **state)
{
	(void)state;
	return setup_with(&cbs_udp);
}

static int teardown(void **state)
{
	(void)state;
	lwip_port_free(lp);
	return 0;
}

static void send_tcp(uint16_t sport, uint32_t seq, uint32_t ack, uint8_t flags,
                     const char *data)
{
	static const uint8_t mss_ws[] = { 2, 4, 0x05, 0xb4, 1, 3, 3, 7 };
	uint8_t pkt[2048];
	bool syn = flags & TCPF_SYN;
	size_t len = tp_build_tcp(pkt, &(struct tp_tcp){
		.src = CLIENT, .dst = SERVER, .sport = sport, .dport = 80,
		.seq = seq, .ack = ack, .flags = flags,
		.opts = syn ? mss_ws : NULL, .optlen = syn ? sizeof mss_ws : 0,
		.data = data, .len = data ? strlen(data) : 0 });
	lwip_port_input(lp, pkt, len);
}

/* Checks output n is a valid packet from SERVER:80 to CLIENT:dport and returns its view. */
static struct pkt_view out_view(int n, uint16_t dport)
{
	struct pkt_view v;

	assert_true(n < T.nout);
	assert_int_equal(pkt_parse(T.out[n], T.out_len[n], &v), PKT_OK); /* checksums */
	assert_int_equal(v.src, tp_ip(SERVER));
	assert_int_equal(v.dst, tp_ip(CLIENT));
	assert_int_equal(ntohs(v.sport), 80);
	assert_int_equal(ntohs(v.dport), dport);
	return v;
}

static void test_no_tcpip_thread_core_lock(void **state)
{
	(void)state;
	/* Would assert (abort) if the Debian build insisted on a tcpip thread. */
	sys_check_core_locking();
	sys_check_core_locking();
}

static void test_admit_handshake_data(void **state)
{
	struct lwip_port_counters c;
	struct pkt_view v;
	const uint32_t isn = 0x11223344;

	(void)state;
	send_tcp(40000, isn, 0, TCPF_SYN, NULL);
	assert_int_equal(T.syns, 1);
	assert_int_equal(T.nout, 0);
	assert_int_equal(T.last_tuple.src_ip, tp_ip(CLIENT));
	assert_int_equal(T.last_tuple.dst_ip, tp_ip(SERVER));
	assert_int_equal(ntohs(T.last_tuple.src_port), 40000);
	assert_int_equal(ntohs(T.last_tuple.dst_port), 80);
	/* retransmitted SYN absorbed */
	send_tcp(40000, isn, 0, TCPF_SYN, NULL);
	assert_int_equal(T.syns, 1);
	assert_int_equal(T.nout, 0);
	lwip_port_get_counters(lp, &c);
	assert_int_equal(c.flows, 1);

	lwip_port_tcp_admit(lp, T.last_syn_id);
	assert_int_equal(T.nout, 1);
	v = out_view(0, 40000);
	assert_int_equal(v.flags, TCPF_SYN | TCPF_ACK);
	assert_int_equal(v.ack, isn + 1);
	uint32_t srv_isn = v.seq;

	/* a retransmitted SYN now reaches lwIP, which repeats its SYN-ACK */
	send_tcp(40000, isn, 0, TCPF_SYN, NULL);
	assert_int_equal(T.syns, 1);

	send_tcp(40000, isn + 1, srv_isn + 1, TCPF_ACK, NULL);
	assert_int_equal(T.accepted, 1);
	assert_non_null(T.pcb);
	assert_int_equal(T.accepted_id, T.last_syn_id);

	send_tcp(40000, isn + 1, srv_isn + 1, TCPF_ACK | TCPF_PSH, "hello");
	assert_int_equal(T.rx_len, 5);
	assert_memory_equal(T.rx, "hello", 5);

	/* bridge -> client */
	int before = T.nout;
	assert_int_equal(tcp_write(T.pcb, "world", 5, TCP_WRITE_FLAG_COPY), ERR_OK);
	assert_int_equal(tcp_output(T.pcb), ERR_OK);
	assert_true(T.nout > before);
	v = out_view(T.nout - 1, 40000);
	assert_int_equal(v.len - v.payload_off, 5);
	assert_memory_equal(T.out[T.nout - 1] + v.payload_off, "world", 5);
	assert_int_equal(v.seq, srv_isn + 1);

	/* client resets: lwIP drops the pcb, the sweep frees the entry */
	send_tcp(40000, isn + 6, 0, TCPF_RST, NULL);
	assert_int_equal(T.errs, 1);
	lwip_port_sweep(lp);
	lwip_port_get_counters(lp, &c);
	assert_int_equal(c.flows, 0);
	assert_int_equal(T.abandoned, 0);
	/* late packet of the dead flow: NAT answers RST itself */
	before = T.nout;
	send_tcp(40000, isn + 6, srv_isn + 6, TCPF_ACK, NULL);
	assert_int_equal(T.nout, before + 1);
	v = out_view(before, 40000);
	assert_int_equal(v.flags, TCPF_RST);
	assert_int_equal(v.seq, srv_isn + 6);
}

static void test_refuse(void **state)
{
	struct lwip_port_counters c;
	struct pkt_view v;

	(void)state;
	send_tcp(40001, 1000, 0, TCPF_SYN, NULL);
	assert_int_equal(T.syns, 1);
	lwip_port_tcp_refuse(lp, T.last_syn_id);
	assert_int_equal(T.nout, 1);
	v = out_view(0, 40001);
	assert_int_equal(v.flags, TCPF_RST | TCPF_ACK);
	assert_int_equal(v.seq, 0);
	assert_int_equal(v.ack, 1001);
	lwip_port_get_counters(lp, &c);
	assert_int_equal(c.flows, 0);
	/* stale id: ignored */
	lwip_port_tcp_refuse(lp, T.last_syn_id);
	lwip_port_tcp_admit(lp, T.last_syn_id);
	assert_int_equal(T.nout, 1);
}

static void test_refuse_and_admit_inside_syn_callback(void **state)
{
	struct pkt_view v;

	(void)state;
	T.refuse_in_syn = true;
	send_tcp(40002, 7, 0, TCPF_SYN, NULL);
	assert_int_equal(T.nout, 1);
	v = out_view(0, 40002);
	assert_int_equal(v.flags, TCPF_RST | TCPF_ACK);
	T.refuse_in_syn = false;
	T.admit_in_syn = true;
	send_tcp(40003, 7, 0, TCPF_SYN, NULL);
	assert_int_equal(T.nout, 2);
	v = out_view(1, 40003);
	assert_int_equal(v.flags, TCPF_SYN | TCPF_ACK);
}

static void test_unknown_flows(void **state)
{
	struct pkt_view v;

	(void)state;
	send_tcp(40010, 50, 0, TCPF_RST, NULL);            /* dropped */
	assert_int_equal(T.nout, 0);
	send_tcp(40010, 50, 0, TCPF_FIN, NULL);            /* no ACK: seq 0, ack = seq+len */
	v = out_view(0, 40010);
	assert_int_equal(v.flags, TCPF_RST | TCPF_ACK);
	assert_int_equal(v.ack, 51);
	send_tcp(40010, 50, 999, TCPF_ACK, "xyz");         /* ACK: seq = their ack */
	v = out_view(1, 40010);
	assert_int_equal(v.flags, TCPF_RST);
	assert_int_equal(v.seq, 999);
	assert_int_equal(T.syns, 0);
}

static void test_table_full(void **state)
{
	struct lwip_port_counters c;
	struct pkt_view v;

	(void)state;
	for (int i = 0; i < 4; i++)
		send_tcp((uint16_t)(41000 + i), 1, 0, TCPF_SYN, NULL);
	assert_int_equal(T.syns, 4);
	assert_int_equal(T.nout, 0);
	send_tcp(41004, 77, 0, TCPF_SYN, NULL);
	assert_int_equal(T.syns, 4);
	v = out_view(0, 41004);
	assert_int_equal(v.flags, TCPF_RST | TCPF_ACK);
	assert_int_equal(v.ack, 78);
	lwip_port_get_counters(lp, &c);
	assert_int_equal(c.table_full, 1);
	assert_int_equal(c.flows, 4);
}

static void test_hold_timeout(void **state)
{
	struct lwip_port_counters c;
	struct pkt_view v;

	(void)state;
	send_tcp(42000, 500, 0, TCPF_SYN, NULL);
	uint32_t id = T.last_syn_id;
	lwip_port_sweep(lp);
	assert_int_equal(T.abandoned, 0);
	usleep(250 * 1000);
	lwip_port_sweep(lp);
	assert_int_equal(T.abandoned, 1);
	assert_int_equal(T.last_abandoned_id, id);
	v = out_view(0, 42000);
	assert_int_equal(v.flags, TCPF_RST | TCPF_ACK);
	assert_int_equal(v.ack, 501);
	lwip_port_get_counters(lp, &c);
	assert_int_equal(c.flows, 0);
}

static void test_client_rst_while_held(void **state)
{
	struct lwip_port_counters c;

	(void)state;
	send_tcp(42001, 500, 0, TCPF_SYN, NULL);
	send_tcp(42001, 501, 0, TCPF_RST, NULL);
	assert_int_equal(T.abandoned, 1);
	assert_int_equal(T.last_abandoned_id, T.last_syn_id);
	lwip_port_get_counters(lp, &c);
	assert_int_equal(c.flows, 0);
	assert_int_equal(T.nout, 0);
}

static void test_abort_inside_accepted(void **state)
{
	struct lwip_port_counters c;
	struct pkt_view v;

	(void)state;
	T.abort_in_accept = true;
	send_tcp(43000, 10, 0, TCPF_SYN, NULL);
	lwip_port_tcp_admit(lp, T.last_syn_id);
	v = out_view(0, 43000);
	send_tcp(43000, 11, v.seq + 1, TCPF_ACK, NULL);
	assert_int_equal(T.accepted, 1);
	/* lwIP sent RST for the aborted pcb through the NAT */
	v = out_view(T.nout - 1, 43000);
	assert_true(v.flags & TCPF_RST);
	lwip_port_sweep(lp);
	lwip_port_get_counters(lp, &c);
	assert_int_equal(c.flows, 0);
}

static void test_admitted_never_completes(void **state)
{
	struct lwip_port_counters c;

	(void)state;
	send_tcp(43001, 10, 0, TCPF_SYN, NULL);
	lwip_port_tcp_admit(lp, T.last_syn_id);
	lwip_port_sweep(lp);
	assert_int_equal(T.abandoned, 0); /* SYN_RCVD pcb alive */
	send_tcp(43001, 11, 0, TCPF_RST, NULL); /* client gives up */
	lwip_port_sweep(lp);
	assert_int_equal(T.abandoned, 1);
	lwip_port_get_counters(lp, &c);
	assert_int_equal(c.flows, 0);
}

/* Graceful close by the bridge: FIN out, client FIN in, TIME_WAIT lingers
 * briefly and is then reclaimed together with the entry. */
static void test_close_time_wait(void **state)
{
	struct lwip_port_counters c;
	struct pkt_view v;

	(void)state;
	send_tcp(44000, 100, 0, TCPF_SYN, NULL);
	lwip_port_tcp_admit(lp, T.last_syn_id);
	v = out_view(0, 44000);
	uint32_t s = v.seq + 1;
	send_tcp(44000, 101, s, TCPF_ACK, NULL);
	assert_non_null(T.pcb);
	tcp_arg(T.pcb, NULL);
	tcp_recv(T.pcb, NULL);
	tcp_err(T.pcb, NULL);
	assert_int_equal(tcp_close(T.pcb), ERR_OK);
	T.pcb = NULL;
	v = out_view(T.nout - 1, 44000);
	assert_true(v.flags & TCPF_FIN);
	send_tcp(44000, 101, s + 1, TCPF_ACK | TCPF_FIN, NULL);
	lwip_port_sweep(lp);
	lwip_port_get_counters(lp, &c);
	assert_int_equal(c.flows, 1); /* lingering in TIME_WAIT */
	/* the same port reused at once starts a fresh flow */
	send_tcp(44000, 9000, 0, TCPF_SYN, NULL);
	assert_int_equal(T.syns, 2);
	lwip_port_tcp_admit(lp, T.last_syn_id);
	v = out_view(T.nout - 1, 44000);
	assert_int_equal(v.flags, TCPF_SYN | TCPF_ACK);
	assert_int_equal(v.ack, 9001);
	lwip_port_sweep(lp); /* old TIME_WAIT pcb has no entry now: reclaimed */
	lwip_port_get_counters(lp, &c);
	assert_int_equal(c.flows, 1);
}

static void test_garbage_counted(void **state)
{
	struct lwip_port_counters c;
	uint8_t pkt[100] = { 0x60 };

	(void)state;
	lwip_port_input(lp, pkt, 40); /* IPv6 announcing a hop-by-hop header it lacks */
	{	/* ICMP without an icmp_echo callback is unsupported */
		uint8_t echo[64];
		size_t n = tp_build_echo(echo, &(struct tp_echo){ .src = CLIENT,
			.dst = SERVER, .type = 8, .id = 1, .seq = 1, .data = "x", .len = 1 });
		lwip_port_input(lp, echo, n);
	}
	lwip_port_input(lp, pkt, 0);
	pkt[0] = 0x45;
	lwip_port_input(lp, pkt, 10);
	lwip_port_input(lp, pkt, 100);
	srand(99);
	for (int i = 0; i < 100000; i++) {
		size_t n = (size_t)rand() % sizeof pkt;
		uint8_t *h = malloc(n ? n : 1);
		for (size_t k = 0; k < n; k++)
			h[k] = (uint8_t)rand();
		if (n)
			h[0] = (uint8_t)(0x40 | (h[0] & 0x0f));
		lwip_port_input(lp, h, n);
		free(h);
	}
	lwip_port_get_counters(lp, &c);
	assert_int_equal(c.unsupported + c.malformed, c.packets_in);
	assert_true(c.unsupported >= 1);
	assert_int_equal(T.syns, 0);
}

/* The bridge admits another flow from inside lwIP callbacks (tcp_accepted,
 * tcp_err): the nested input must be deferred, not run inside tcp_input. */
static void test_admit_from_lwip_callbacks(void **state)
{
	struct pkt_view v;

	(void)state;
	send_tcp(45000, 10, 0, TCPF_SYN, NULL);
	uint32_t a = T.last_syn_id;
	send_tcp(45001, 20, 0, TCPF_SYN, NULL);
	uint32_t b = T.last_syn_id;
	send_tcp(45002, 30, 0, TCPF_SYN, NULL);
	uint32_t c = T.last_syn_id;

	lwip_port_tcp_admit(lp, a);
	v = out_view(0, 45000);
	T.admit_in_accept = b + 1;
	send_tcp(45000, 11, v.seq + 1, TCPF_ACK, NULL);
	assert_int_equal(T.accepted, 1);
	v = out_view(T.nout - 1, 45001); /* b's SYN-ACK came out after accept returned */
	assert_int_equal(v.flags, TCPF_SYN | TCPF_ACK);
	assert_int_equal(v.ack, 21);
	T.admit_in_accept = 0;

	T.admit_in_err = c + 1;
	send_tcp(45000, 11, 0, TCPF_RST, NULL); /* a dies: tcp_err admits c */
	assert_int_equal(T.errs, 1);
	v = out_view(T.nout - 1, 45002);
	assert_int_equal(v.flags, TCPF_SYN | TCPF_ACK);
	assert_int_equal(v.ack, 31);
}

/* A TIME_WAIT pcb keeps its entry for a short linger (a retransmitted FIN
 * still gets its ACK), then both are reclaimed. */
static void test_time_wait_linger(void **state)
{
	struct lwip_port_counters c;
	struct pkt_view v;
	int n;

	(void)state;
	send_tcp(46000, 100, 0, TCPF_SYN, NULL);
	lwip_port_tcp_admit(lp, T.last_syn_id);
	v = out_view(0, 46000);
	uint32_t s = v.seq + 1;
	send_tcp(46000, 101, s, TCPF_ACK, NULL);
	tcp_err(T.pcb, NULL);
	tcp_recv(T.pcb, NULL);
	assert_int_equal(tcp_close(T.pcb), ERR_OK);
	send_tcp(46000, 101, s + 1, TCPF_ACK | TCPF_FIN, NULL);
	lwip_port_sweep(lp);
	n = T.nout;
	send_tcp(46000, 101, s + 1, TCPF_ACK | TCPF_FIN, NULL); /* retransmitted FIN */
	assert_int_equal(T.nout, n + 1);
	v = out_view(n, 46000);
	assert_int_equal(v.flags, TCPF_ACK);
	assert_int_equal(v.ack, 102);
	usleep(2100 * 1000);
	lwip_port_sweep(lp);
	lwip_port_get_counters(lp, &c);
	assert_int_equal(c.flows, 0);
	for (struct tcp_pcb *p = tcp_tw_pcbs; p; p = p->next)
		assert_int_not_equal(p->local_port, LWIP_PORT_LISTEN_PORT);
}

static void stop_loop(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

/* With a real loop, the port's own timer runs lwIP timers and the sweep. */
static void test_ev_timer_drives_sweep(void **state)
{
	struct lwip_port_config cfg = {
		.netif_ip = tp_ip("192.0.0.1"), .mtu = 1500, .max_flows = 4, .hold_timeout_ms = 100,
	};
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	ev_timer stop;

	(void)state;
	memset(&T, 0, sizeof T);
	lp = lwip_port_new(loop, &cfg, &cbs, NULL);
	assert_non_null(lp);
	send_tcp(47000, 1, 0, TCPF_SYN, NULL);
	ev_timer_init(&stop, stop_loop, 0.6, 0);
	ev_timer_start(loop, &stop);
	ev_run(loop, 0);
	assert_int_equal(T.abandoned, 1);
	lwip_port_free(lp);
	ev_loop_destroy(loop);
}

static void send_udp(uint16_t sport, const char *data, int no_csum)
{
	uint8_t pkt[512];
	size_t len = tp_build_udp(pkt, &(struct tp_udp){ .src = CLIENT, .dst = SERVER,
		.sport = sport, .dport = 53, .data = data, .len = strlen(data), .no_csum = no_csum });

	lwip_port_input(lp, pkt, len);
}

static void test_udp_unsupported_without_callback(void **state)
{
	struct lwip_port_counters c;

	(void)state;
	send_udp(5000, "q", 0);
	lwip_port_get_counters(lp, &c);
	assert_int_equal(c.unsupported, 1);
	assert_int_equal(c.flows, 0);
}

static void test_udp_round_trip_and_expiry(void **state)
{
	struct lwip_port_counters c;
	struct pkt_view v;

	(void)state;
	send_udp(5000, "question", 0);
	assert_int_equal(T.udp_rx, 1);
	assert_int_equal(T.udp_len, 8);
	assert_memory_equal(T.udp_data, "question", 8);
	assert_int_equal(T.udp_tuple.proto, 17);
	assert_int_equal(T.udp_tuple.dst_ip, tp_ip(SERVER));
	assert_int_equal(ntohs(T.udp_tuple.dst_port), 53);
	assert_int_equal(ntohs(T.udp_tuple.src_port), 5000);
	uint32_t id = T.udp_id;
	send_udp(5000, "again", 1); /* no checksum, same flow */
	assert_int_equal(T.udp_rx, 2);
	assert_int_equal(T.udp_id, id);
	send_udp(5001, "other", 0);
	assert_int_not_equal(T.udp_id, id);
	lwip_port_get_counters(lp, &c);
	assert_int_equal(c.flows, 2);

	assert_int_equal(lwip_port_udp_send(lp, id, "answer", 6), 0);
	assert_int_equal(T.nout, 1);
	assert_int_equal(pkt_parse(T.out[0], T.out_len[0], &v), PKT_OK);
	assert_int_equal(v.proto, 17);
	assert_int_equal(v.src, tp_ip(SERVER));
	assert_int_equal(ntohs(v.sport), 53);
	assert_int_equal(v.dst, tp_ip(CLIENT));
	assert_int_equal(ntohs(v.dport), 5000);
	assert_int_equal(v.len - v.payload_off, 6);
	assert_memory_equal(T.out[0] + v.payload_off, "answer", 6);
	{
		char big[1500] = { 0 };
		assert_int_equal(lwip_port_udp_send(lp, id, big, sizeof big), -1);
	}

	lwip_port_udp_close(lp, T.udp_id); /* 5001 closed by the bridge */
	assert_int_equal(lwip_port_udp_send(lp, T.udp_id, "x", 1), -1);
	usleep(200 * 1000);
	lwip_port_sweep(lp);
	assert_int_equal(T.udp_expired, 1);
	assert_int_equal(lwip_port_udp_send(lp, id, "late", 4), -1);
	lwip_port_get_counters(lp, &c);
	assert_int_equal(c.flows, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_tcpip_thread_core_lock),
		cmocka_unit_test_setup_teardown(test_admit_handshake_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_and_admit_inside_syn_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_flows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_table_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hold_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_rst_while_held, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abort_inside_accepted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_admitted_never_completes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_time_wait, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_admit_from_lwip_callbacks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_time_wait_linger, setup, teardown),
		cmocka_unit_test(test_ev_timer_drives_sweep),
		cmocka_unit_test_setup_teardown(test_udp_unsupported_without_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_udp_round_trip_and_expiry, setup_udp, teardown),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);

	return failed + test_lwip_icmp_ip6_run();
}

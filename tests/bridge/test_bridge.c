/* bridge/bridge.c's dispatch: modem events that are not a flow's link
 * (resolved, ping_reply) reach DNS and ping, neither of which takes a
 * module link; a link whose client left while it opened is closed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "fake_modem.h"
#include "packet.h"
#include "testpkt.h"

static int setup(void **state)
{
	(void)state;
	harness_setup(2, 1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	harness_teardown();
	return 0;
}

/* An A query for name, id 0x1234. */
static size_t dns_query(uint8_t *out, const char *name)
{
	size_t off = 12;

	memset(out, 0, 12);
	out[0] = 0x12;
	out[1] = 0x34;
	out[2] = 0x01; /* RD */
	out[5] = 1;    /* QDCOUNT */
	while (*name) {
		const char *dot = strchr(name, '.');
		size_t l = dot ? (size_t)(dot - name) : strlen(name);

		out[off++] = (uint8_t)l;
		memcpy(out + off, name, l);
		off += l;
		name += l + (dot ? 1 : 0);
	}
	out[off++] = 0;
	out[off++] = 0;
	out[off++] = 1; /* A */
	out[off++] = 0;
	out[off++] = 1; /* IN */
	return off;
}

/* A UDP query to port 53 is answered through the module's resolver, from
 * the address it was sent to, without a module link. */
static void test_dns_through_resolver(void **state)
{
	static const uint8_t ip[4] = {203, 0, 113, 5};
	uint32_t addr;
	uint8_t q[64];
	size_t n = dns_query(q, "example.org");
	struct client c;

	(void)state;
	client_init(&c, 5300);
	client_udp(&c, 53, q, n);
	assert_int_equal(fake.resolves, 1);
	assert_int_equal(fake.opens, 0);
	assert_int_equal(c.datagrams, 0);

	memcpy(&addr, ip, 4);
	bridge_modem_events.resolved(fake.b, 0, true, &addr, 1);
	assert_int_equal(c.datagrams, 1);
	assert_int_equal(c.dgram_src, tp_ip(SERVER));
	assert_int_equal(c.dgram_sport, 53);
	assert_int_equal(c.rx[0], 0x12); /* the query's id */
	assert_int_equal(c.rx[1], 0x34);
	assert_int_equal(c.rx[3] & 0xf, 0); /* NOERROR */
	assert_int_equal(c.rx[7], 1);       /* one answer */
	assert_memory_equal(c.rx + c.rx_len - 4, ip, 4);
}

/* An echo request becomes one module ping; the reply goes back only when
 * the module's ping succeeded. */
static void test_ping_through_module(void **state)
{
	uint32_t server = tp_ip(SERVER);

	(void)state;
	client_ping(7, 1, "abcd", 4);
	assert_int_equal(fake.pings, 1);
	assert_int_equal(fake.opens, 0);
	assert_int_equal(icmp_out.n, 0);
	bridge_modem_events.ping_reply(fake.b, 0, true, 42);
	assert_int_equal(icmp_out.n, 1);
	assert_int_equal(icmp_out.len, 20 + 8 + 4);
	assert_int_equal(icmp_out.pkt[20], 0); /* echo reply */
	assert_int_equal(tp_rd16(icmp_out.pkt + 24), 7);
	assert_int_equal(tp_rd16(icmp_out.pkt + 26), 1);
	assert_memory_equal(icmp_out.pkt + 28, "abcd", 4);
	assert_memory_equal(icmp_out.pkt + 12, &server, 4); /* from the address pinged */

	client_ping(7, 2, "efgh", 4);
	assert_int_equal(fake.pings, 2);
	bridge_modem_events.ping_reply(fake.b, 1, false, 0);
	assert_int_equal(icmp_out.n, 1);
}

/* The client gives up while the module connects: the link that opens
 * after all is closed, not leaked, and the client is not answered. */
static void test_abandoned_while_connecting(void **state)
{
	struct client c;
	uint8_t pkt[128];
	size_t n;

	(void)state;
	client_init(&c, 40100);
	client_syn(&c);
	n = tp_build_tcp(pkt, &(struct tp_tcp){
		.src = CLIENT, .dst = SERVER, .sport = c.sport, .dport = 80,
		.seq = c.snd_nxt, .flags = TCPF_RST});
	lwip_port_input(fake.b->stack, pkt, n);
	assert_false(fake.link[0].close_asked);
	fake_connected(0, true);
	assert_true(fake.link[0].close_asked);
	assert_false(c.synack);
	fake_closed(0, false);
	assert_false(c.rst);
	/* the link is free for the next flow */
	client_init(&c, 40101);
	client_open(&c, 0);
}

/* By default TCP holds all links but one, which stays UDP's: the counts
 * come from the link-owner table. */
static void test_default_link_split(void **state)
{
	struct client a, b, c, u;

	(void)state;
	harness_teardown();
	harness_setup_caps(3, 2, 0, 0);
	client_init(&a, 40200);
	client_init(&b, 40201);
	client_init(&c, 40202);
	client_init(&u, 5400);
	client_open(&a, 0);
	client_open(&b, 1);
	client_syn(&c); /* a link is free, but it is UDP's */
	assert_int_equal(fake.opens, 2);
	assert_int_equal(c.segments, 0);
	client_udp(&u, 7000, "u", 1);
	assert_int_equal(fake.opens, 3);
	assert_int_equal(fake.link[2].proto, MODEM_UDP);
	fake_closed(0, false); /* a TCP link freed: the waiting SYN takes it */
	assert_int_equal(fake.opens, 4);
	assert_int_equal(fake.link[0].proto, MODEM_TCP);
	fake_connected(0, true);
	assert_true(c.synack);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dns_through_resolver, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ping_through_module, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abandoned_while_connecting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_default_link_split, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* bridge/uflow.c (UDP flows) against the scripted fake modem, with the real
 * lwip_port in between. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "fake_modem.h"
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

static void udp_stats(struct uflow_stats *st)
{
	uflow_get_stats(fake.b->udp, st);
}

/* Datagrams wait while the link opens and go out whole, in order, once it
 * is open; the module is given a window to read into. */
static void test_queue_then_flush_in_order(void **state)
{
	struct client c;
	char msg[16];

	(void)state;
	client_init(&c, 5001);
	for (int i = 0; i < 3; i++) {
		snprintf(msg, sizeof(msg), "datagram %d", i);
		client_udp(&c, 7000, msg, strlen(msg));
	}
	assert_int_equal(fake.opens, 1);
	assert_int_equal(fake.link[0].proto, MODEM_UDP);
	assert_int_equal(fake.link[0].ip, tp_ip(SERVER));
	assert_int_equal(fake.link[0].port, 7000);
	assert_int_equal(fake.link[0].ndgrams, 0);
	fake_connected(0, true);
	assert_int_equal(fake.link[0].ndgrams, 3);
	assert_int_equal(fake.link[0].up_len, 3 * 10);
	assert_memory_equal(fake.link[0].up, "datagram 0datagram 1datagram 2", 30);
	assert_true(fake.link[0].window > 0);
}

/* The module has no room for a datagram: it waits whole, and goes out
 * when the module accepted what it held; order kept, nothing lost. */
static void test_backpressure(void **state)
{
	struct client c;
	struct uflow_stats st;

	(void)state;
	client_init(&c, 5002);
	client_udp(&c, 7000, "first", 5);
	fake_connected(0, true);
	fake.space = 8;
	client_udp(&c, 7000, "second", 6); /* 5 + 6 > 8: waits */
	client_udp(&c, 7000, "3rd", 3);    /* would fit, but must not overtake */
	assert_int_equal(fake.link[0].ndgrams, 1);
	fake_accept(0, 0);
	assert_int_equal(fake.link[0].ndgrams, 2);
	fake_accept(0, 0);
	assert_int_equal(fake.link[0].ndgrams, 3);
	assert_int_equal(fake.link[0].dgram_len[1], 6);
	assert_int_equal(fake.link[0].dgram_len[2], 3);
	assert_memory_equal(fake.link[0].up, "firstsecond3rd", 14);
	udp_stats(&st);
	assert_int_equal(st.datagrams_up, 3);
	assert_int_equal(st.dropped_queue_full, 0);
}

/* The wait queue is bounded: past it datagrams are dropped and counted. */
static void test_queue_bound(void **state)
{
	struct client c;
	struct uflow_stats st;
	uint8_t d[1];

	(void)state;
	client_init(&c, 5003);
	for (int i = 0; i < 10; i++) {
		d[0] = (uint8_t)i;
		client_udp(&c, 7000, d, 1);
	}
	fake_connected(0, true);
	assert_int_equal(fake.link[0].ndgrams, 8);
	for (int i = 0; i < 8; i++)
		assert_int_equal(fake.link[0].up[i], i);
	udp_stats(&st);
	assert_int_equal(st.dropped_queue_full, 2);
}

/* Bytes read from the link reach the client as one datagram from the
 * address and port it sent to. */
static void test_reply_to_client(void **state)
{
	struct client c;

	(void)state;
	client_init(&c, 5004);
	client_udp(&c, 7000, "ping", 4);
	fake_connected(0, true);
	fake_data(0, "pong", 4);
	assert_int_equal(c.datagrams, 1);
	assert_int_equal(c.rx_len, 4);
	assert_memory_equal(c.rx, "pong", 4);
	assert_int_equal(c.dgram_src, tp_ip(SERVER));
	assert_int_equal(c.dgram_sport, 7000);
	/* the window is given again for the next read */
	assert_true(fake.link[0].window > 0);
}

/* The module closes the link: the flow is gone, and the next datagram of
 * the same client opens a new link. */
static void test_closed_then_reopen(void **state)
{
	struct client c;

	(void)state;
	client_init(&c, 5005);
	client_udp(&c, 7000, "a", 1);
	fake_connected(0, true);
	fake_closed(0, true);
	client_udp(&c, 7000, "b", 1);
	assert_int_equal(fake.opens, 2);
	fake_connected(0, true);
	assert_int_equal(fake.link[0].ndgrams, 1);
	assert_memory_equal(fake.link[0].up, "b", 1);
}

/* A failed open frees the link for a UDP flow waiting for one. */
static void test_failed_open_admits_waiting(void **state)
{
	struct client a, b, w;

	(void)state;
	client_init(&a, 5006);
	client_init(&b, 5007);
	client_init(&w, 5008);
	client_udp(&a, 7000, "a", 1);
	client_udp(&b, 7001, "b", 1);
	client_udp(&w, 7002, "w", 1); /* no link, none idle to recycle: waits */
	assert_int_equal(fake.opens, 2);
	fake_connected(1, false);
	assert_int_equal(fake.opens, 3);
	assert_int_equal(fake.link[1].port, 7002);
	fake_connected(1, true);
	assert_int_equal(fake.link[1].ndgrams, 1);
	assert_memory_equal(fake.link[1].up, "w", 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_queue_then_flush_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backpressure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_to_client, setup, teardown),
		cmocka_unit_test_setup_teardown(test_closed_then_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_open_admits_waiting, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

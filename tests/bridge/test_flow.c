/* bridge/flow.c (TCP flows) against the scripted fake modem, with the real
 * lwip_port and lwIP in between: what the client sees is what a client on
 * the tun would see. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"

#include "fake_modem.h"

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

/* Upload: the module takes less than offered (a bounded amount per link,
 * and less than that per call); nothing is lost, the order is kept, and
 * the client's window is given back only for bytes the module accepted. */
static void test_upload_backpressure(void **state)
{
	static uint8_t data[4380];
	struct client c;
	struct tcp_pcb *pcb;

	(void)state;
	pattern(data, sizeof(data), 1);
	fake.space = 1000;
	fake.take_max = 333;
	client_init(&c, 40000);
	client_open(&c, 0);
	pcb = only_pcb();
	assert_int_equal(pcb->rcv_wnd, TCP_WND);

	client_send(&c, data, sizeof(data));
	/* the module holds 1000 unaccepted bytes at most: that is all it got */
	assert_int_equal(fake.link[0].up_len, 1000);
	assert_memory_equal(fake.link[0].up, data, 1000);
	/* nothing acknowledged to lwIP: the client's window shrank by all of it */
	assert_int_equal(pcb->rcv_wnd, TCP_WND - sizeof(data));

	fake_accept(0, 400);
	assert_int_equal(pcb->rcv_wnd, TCP_WND - sizeof(data) + 400);
	assert_int_equal(fake.link[0].up_len, 1400);
	while (fake.link[0].unacked)
		fake_accept(0, 0);
	assert_int_equal(fake.link[0].up_len, sizeof(data));
	assert_memory_equal(fake.link[0].up, data, sizeof(data));
	assert_int_equal(pcb->rcv_wnd, TCP_WND);
	assert_false(fake.link[0].close_asked);
	assert_false(c.rst);
}

/* Download: the module may read only what the client's send buffer takes;
 * the window reopens when the client acknowledges. */
static void test_download_window(void **state)
{
	static uint8_t data[3000];
	struct client c;
	size_t full;

	(void)state;
	pattern(data, sizeof(data), 2);
	client_init(&c, 40001);
	client_open(&c, 0);
	full = fake.link[0].window;
	assert_int_equal(full, TCP_SND_BUF);

	fake_data(0, data, 1000);
	fake_data(0, data + 1000, 2000);
	assert_int_equal(c.rx_len, sizeof(data));
	assert_memory_equal(c.rx, data, sizeof(data));
	/* unacknowledged bytes still hold the send buffer */
	assert_int_equal(fake.link[0].window, full - sizeof(data));
	client_ack(&c);
	assert_int_equal(fake.link[0].window, full);
}

/* The client shuts down writing: the module cannot half-close a link, so
 * the link stays open and the reply still reaches the client; the remote's
 * clean close then ends the stream with FIN. */
static void test_half_close(void **state)
{
	struct client c;

	(void)state;
	client_init(&c, 40002);
	client_open(&c, 0);
	client_send(&c, "GET / HTTP/1.0\r\n\r\n", 18);
	client_fin(&c);
	assert_int_equal(fake.link[0].up_len, 18);
	assert_memory_equal(fake.link[0].up, "GET / HTTP/1.0\r\n\r\n", 18);
	assert_false(fake.link[0].close_asked);
	assert_false(c.fin);

	fake_accept(0, 0);
	fake_data(0, "HTTP/1.0 200 OK\r\n\r\nhello", 24);
	assert_int_equal(c.rx_len, 24);
	assert_memory_equal(c.rx, "HTTP/1.0 200 OK\r\n\r\nhello", 24);
	assert_false(c.fin);

	fake_closed(0, false);
	assert_true(c.fin);
	assert_false(c.rst);
	assert_int_equal(c.rx_len, 24);
}

/* A link that lost bytes must not end like a whole stream: RST, not FIN. */
static void test_rst_on_loss(void **state)
{
	struct client c;

	(void)state;
	client_init(&c, 40003);
	client_open(&c, 0);
	fake_data(0, "partial", 7);
	assert_int_equal(c.rx_len, 7);
	fake_closed(0, true);
	assert_true(c.rst);
	assert_false(c.fin);
}

/* A send the module failed marks the stream broken even when the close
 * that follows looks clean. */
static void test_rst_after_failed_send(void **state)
{
	struct client c;

	(void)state;
	client_init(&c, 40004);
	client_open(&c, 0);
	client_send(&c, "abc", 3);
	fake_send_failed(0);
	fake_closed(0, false);
	assert_true(c.rst);
	assert_false(c.fin);
}

/* A clean close after every byte: FIN after all of the data. */
static void test_fin_after_all_data(void **state)
{
	static uint8_t data[5000];
	struct client c;

	(void)state;
	pattern(data, sizeof(data), 3);
	client_init(&c, 40005);
	client_open(&c, 0);
	fake_data(0, data, sizeof(data));
	client_ack(&c); /* lwIP's first flight is smaller than 5000 bytes */
	fake_closed(0, false);
	client_ack(&c);
	assert_int_equal(c.rx_len, sizeof(data));
	assert_memory_equal(c.rx, data, sizeof(data));
	assert_true(c.fin);
	assert_false(c.rst);
}

/* Every link taken: the next SYN waits in the queue (held, unanswered),
 * one more is refused at once, and a freed link goes to the waiting one. */
static void test_queue_when_links_taken(void **state)
{
	struct client a, b, q, r;

	(void)state;
	client_init(&a, 40010);
	client_init(&b, 40011);
	client_init(&q, 40012);
	client_init(&r, 40013);
	client_open(&a, 0);
	client_open(&b, 1);

	client_syn(&q);
	assert_int_equal(fake.opens, 2);
	assert_int_equal(q.segments, 0); /* held: no SYN-ACK, no RST */
	client_syn(&r);                  /* queue_len 1: full */
	assert_true(r.rst);
	assert_int_equal(fake.opens, 2);

	fake_closed(1, false);
	assert_true(b.fin);
	assert_int_equal(fake.opens, 3); /* the queued flow took the link */
	assert_true(fake.link[1].used);
	assert_false(q.synack);
	fake_connected(1, true);
	assert_true(q.synack);
	client_ack(&q);
	fake_data(1, "queued", 6);
	assert_int_equal(q.rx_len, 6);
	assert_memory_equal(q.rx, "queued", 6);
	assert_int_equal(a.rx_len, 0);
}

/* The module refuses the connection: the client sees RST, the link is
 * free for the next flow. */
static void test_connect_refused(void **state)
{
	struct client c, d;

	(void)state;
	client_init(&c, 40020);
	client_init(&d, 40021);
	client_syn(&c);
	fake_connected(0, false);
	assert_true(c.rst);
	assert_false(c.synack);
	client_open(&d, 0);
	assert_true(d.synack);
}

/* A UDP flow's idle link is given up for a TCP flow; each link event goes
 * to its current owner through the link-owner table. */
static void test_udp_link_recycled_for_tcp(void **state)
{
	struct client u, t, t2;

	(void)state;
	client_init(&u, 5000);
	client_init(&t, 40030);
	client_init(&t2, 40031);
	client_udp(&u, 7000, "dgram", 5);
	fake_connected(0, true);
	assert_int_equal(fake.link[0].proto, MODEM_UDP);
	client_open(&t2, 1);

	client_syn(&t); /* both links taken: the idle UDP link goes */
	assert_true(fake.link[0].close_asked);
	assert_int_equal(fake.opens, 2);
	fake_closed(0, false); /* UDP's link: the TCP flow may have it now */
	assert_int_equal(fake.opens, 3);
	assert_int_equal(fake.link[0].proto, MODEM_TCP);
	fake_connected(0, true);
	assert_true(t.synack);
	client_ack(&t);
	fake_data(0, "tcp", 3);
	assert_int_equal(t.rx_len, 3);
	assert_int_equal(u.datagrams, 0);
}

/* The data link goes down: open flows are reset, nothing is left owning a
 * link, and new flows connect once it is back. */
static void test_link_down_resets(void **state)
{
	struct client c, d;

	(void)state;
	client_init(&c, 40040);
	client_init(&d, 40041);
	client_open(&c, 0);
	fake.up = false;
	fake.link[0].used = false;
	bridge_modem_events.link_state(fake.b, false, NULL);
	assert_true(c.rst);
	assert_false(c.fin);
	fake.up = true;
	bridge_modem_events.link_state(fake.b, true, "203.0.113.9");
	client_open(&d, 0);
	fake_data(0, "x", 1);
	assert_int_equal(d.rx_len, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_upload_backpressure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_download_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_half_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rst_on_loss, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rst_after_failed_send, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fin_after_all_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_when_links_taken, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_udp_link_recycled_for_tcp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_down_resets, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The SIM7000 dialect through the public modem API against the scripted fake
 * module on a pty: bring-up, open, bulk send/echo/read, spacing variants,
 * lost notifications, CIPACK bound, remote close, connect failure, PDP loss. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ev.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "fake_sim7000.h"
#include "at_chan.h"
#include "modem.h"

#define BULK (100 * 1024)
#define WINDOW 8192

struct t {
	struct ev_loop *loop;
	struct fake *fake;
	struct modem *m;
	char path[128];
	int ups, downs;
	char ip[32];
	int link;
	int connected_ok, connected_fail, closed;
	int listening, accepted;
	int closed_lost;
	uint8_t *tx, *rx;
	size_t tx_len, tx_off, acked, rx_len;
	size_t window_left;
	bool failed_send;
	ev_timer guard;
	bool timed_out;
};

static void stop_loop(struct t *t)
{
	ev_break(t->loop, EVBREAK_ALL);
}

static void pump_tx(struct t *t)
{
	while (t->link >= 0 && t->tx_off < t->tx_len) {
		size_t n = modem_send(t->m, t->link, t->tx + t->tx_off, t->tx_len - t->tx_off);
		if (n == 0)
			break;
		t->tx_off += n;
	}
}

static void ev_link_state(void *ctx, bool up, const char *ip)
{
	struct t *t = ctx;
	if (up) {
		t->ups++;
		snprintf(t->ip, sizeof(t->ip), "%s", ip);
	} else {
		t->downs++;
	}
	stop_loop(t);
}

static void ev_connected(void *ctx, int link, bool ok)
{
	struct t *t = ctx;
	if (ok) {
		t->connected_ok++;
		t->link = link;
		modem_recv_window(t->m, link, WINDOW);
		t->window_left = WINDOW;
	} else {
		t->connected_fail++;
	}
	stop_loop(t);
}

static void ev_data(void *ctx, int link, const uint8_t *buf, size_t len)
{
	struct t *t = ctx;
	assert_int_equal(link, t->link);
	assert_true(len <= t->window_left);
	assert_true(t->rx_len + len <= BULK);
	memcpy(t->rx + t->rx_len, buf, len);
	t->rx_len += len;
	/* The bridge hands bytes on at once and reopens its window. */
	modem_recv_window(t->m, link, WINDOW);
	t->window_left = WINDOW;
	if (t->rx_len == t->tx_len && t->tx_len > 0)
		stop_loop(t);
}

static void ev_sent(void *ctx, int link, size_t len, bool ok)
{
	struct t *t = ctx;
	if (!ok) {
		t->failed_send = true;
		return;
	}
	assert_int_equal(link, t->link);
	t->acked += len;
	pump_tx(t);
}

static void ev_closed(void *ctx, int link, bool lost)
{
	struct t *t = ctx;
	(void)link;
	t->closed++;
	t->closed_lost += lost;
	stop_loop(t);
}

static void ev_listening(void *ctx, uint16_t port, bool ok)
{
	struct t *t = ctx;
	t->listening += ok && port == 8888;
	stop_loop(t);
}

static void ev_accepted(void *ctx, int link, uint16_t port, uint32_t ip, uint16_t peer)
{
	struct t *t = ctx;
	assert_int_equal(port, 8888);
	assert_int_equal(ip, htonl(0xc6336407));
	assert_int_equal(peer, 0); /* REMOTE IP has no port */
	t->accepted++;
	t->link = link;
	modem_recv_window(t->m, link, WINDOW);
	t->window_left = WINDOW;
	stop_loop(t);
}

static const struct modem_events events = {
	.listening = ev_listening,
	.accepted = ev_accepted,
	.link_state = ev_link_state,
	.connected = ev_connected,
	.data = ev_data,
	.sent = ev_sent,
	.closed = ev_closed,
};

static void on_guard(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)revents;
	struct t *t = w->data;
	t->timed_out = true;
	ev_break(loop, EVBREAK_ALL);
}

/* Runs the loop until a callback breaks it or `seconds` pass. */
static void run(struct t *t, double seconds)
{
	t->timed_out = false;
	ev_timer_set(&t->guard, seconds, 0.);
	ev_timer_start(t->loop, &t->guard);
	ev_run(t->loop, 0);
	ev_timer_stop(t->loop, &t->guard);
}

static unsigned cmd_timeout_ms = 2000;

static struct t *setup(const struct fake_opts *o, unsigned max_inflight, unsigned poll_ms)
{
	struct t *t = calloc(1, sizeof(*t));
	t->loop = ev_loop_new(EVFLAG_AUTO);
	t->link = -1;
	ev_timer_init(&t->guard, on_guard, 0., 0.);
	t->guard.data = t;
	t->fake = fake_new(t->loop, o, t->path, sizeof(t->path));
	assert_non_null(t->fake);
	struct modem_config cfg = {
		.device = t->path,
		.baud = 115200,
		.model = "sim7000",
		.apn = "internet.example",
		.user = "",
		.password = "",
		.cmd_timeout_ms = cmd_timeout_ms,
		.poll_interval_ms = poll_ms,
		.max_inflight = max_inflight,
	};
	t->m = modem_new(t->loop, &cfg, &events, t);
	assert_non_null(t->m);
	t->tx = malloc(BULK);
	t->rx = malloc(BULK);
	srand(7);
	for (size_t i = 0; i < BULK; i++)
		t->tx[i] = (uint8_t)rand();
	/* Make sure the nasty bytes are there, in runs. */
	for (size_t i = 0; i + 8 < BULK; i += 997)
		memcpy(t->tx + i, "\x1a\r\nOK\r\n> ", 9);
	return t;
}

static void teardown(struct t *t)
{
	modem_free(t->m);
	fake_free(t->fake);
	ev_loop_destroy(t->loop);
	free(t->tx);
	free(t->rx);
	free(t);
}

static void bring_up(struct t *t)
{
	run(t, 10);
	assert_false(t->timed_out);
	assert_int_equal(t->ups, 1);
	assert_string_equal(t->ip, "10.64.3.7");
	assert_true(modem_is_up(t->m));
	assert_int_equal(modem_max_links(t->m), 8);
	assert_int_equal(modem_free_links(t->m), 8);
}

static void open_link(struct t *t, uint16_t port)
{
	int id = modem_open(t->m, MODEM_TCP, htonl(0x7f000001), port);
	assert_true(id >= 0);
	run(t, 5);
	assert_false(t->timed_out);
}

static void echo_bulk(struct t *t)
{
	t->tx_len = BULK;
	pump_tx(t);
	run(t, 60);
	assert_false(t->timed_out);
	assert_int_equal(t->rx_len, BULK);
	assert_int_equal(t->acked, BULK);
	assert_memory_equal(t->rx, t->tx, BULK);
	struct modem_stats st;
	modem_get_stats(t->m, &st);
	assert_int_equal(st.bytes_to_module, BULK);
	assert_int_equal(st.bytes_from_module, BULK);
	assert_int_equal(st.garbage_lines, 0);
}

/* CIPSERVER (app note 3.2): asked for before bring-up reports the link up,
 * OK then SERVER OK; an accepted link ("<n>, REMOTE IP: <ip>") carries
 * 100 KB each way byte-exact through the client commands, and its remote
 * close ends it clean. */
static void test_server_accept(void **state)
{
	(void)state;
	struct fake_opts o = { .space_after_comma = true };
	struct t *t = setup(&o, 0, 1000);
	assert_true(modem_listen(t->m, 8888));
	assert_false(modem_listen(t->m, 8888)); /* asked for already */
	bring_up(t);
	run(t, 2);
	assert_int_equal(t->listening, 1);
	assert_int_equal(fake_count(t->fake, "AT+CIPSERVER"), 1);
	assert_int_equal(fake_count(t->fake, "AT+CIPSTART"), 0);
	fake_accept_link(t->fake, 3, "198.51.100.7");
	run(t, 2);
	assert_int_equal(t->accepted, 1);
	assert_int_equal(t->link, 3);
	assert_int_equal(modem_free_links(t->m), 7);
	echo_bulk(t);
	fake_remote_close(t->fake, 3);
	run(t, 5);
	assert_int_equal(t->closed, 1);
	assert_int_equal(t->closed_lost, 0);
	teardown(t);
}

/* While listening, ALREADY CONNECT for a connect waits for an accept
 * notification: the client the module gave the socket to keeps it, the
 * connect fails, no CIPCLOSE cuts the client off. */
static void test_accept_wins_socket(void **state)
{
	(void)state;
	struct fake_opts o = { .space_after_comma = true, .already_connect_0 = true };
	struct t *t = setup(&o, 0, 1000);
	assert_true(modem_listen(t->m, 8888));
	bring_up(t);
	run(t, 2);
	assert_int_equal(t->listening, 1);
	assert_int_equal(modem_open(t->m, MODEM_TCP, htonl(0x7f000001), 7), 0);
	run(t, 0.3); /* ALREADY CONNECT answered */
	assert_int_equal(t->connected_fail, 0);
	fake_accept_link(t->fake, 0, "198.51.100.7");
	run(t, 2);
	assert_int_equal(t->accepted, 1);
	assert_int_equal(t->link, 0);
	assert_int_equal(t->connected_fail, 1);
	assert_int_equal(t->connected_ok, 0);
	assert_int_equal(fake_count(t->fake, "AT+CIPCLOSE"), 0);
	teardown(t);
}

static void test_bulk_echo(void **state)
{
	(void)state;
	struct fake_opts o = { .space_after_comma = true, .urc_inside_replies = true,
	                       .cgatt_zero_polls = 2 };
	struct t *t = setup(&o, 0, 1000);
	bring_up(t);
	open_link(t, 7);
	assert_int_equal(t->connected_ok, 1);
	echo_bulk(t);
	/* Full-size chunks: 100 KiB in 1460-byte sends, not more commands. */
	assert_true(fake_count(t->fake, "AT+CIPSEND") <= BULK / 1460 + 2);
	assert_int_equal(fake_max_read_req(t->fake), 1460);
	modem_close(t->m, t->link);
	run(t, 5);
	assert_int_equal(t->closed, 1);
	assert_int_equal(modem_free_links(t->m), 8);
	teardown(t);
}

static void test_spacing_variants(void **state)
{
	(void)state;
	struct fake_opts o = { .space_after_comma = false, .data_accept_space = true };
	struct t *t = setup(&o, 0, 1000);
	bring_up(t);
	open_link(t, 7);
	assert_int_equal(t->connected_ok, 1);
	echo_bulk(t);
	teardown(t);
}

/* The manual's "+CIPRXGET: 2,<n>,<reqlength>,<cnflength>" and the app note's
 * "<read>,<left>", each while bytes arrive between CIPRXGET=4 and the read
 * after it: the reading is learnt without a wrong guess (a guess would take
 * the bytes after a short read for payload and reset the link), and then
 * reads go full size. */
static void rxget_reading_case(bool manual)
{
	struct fake_opts o = { .rxget_manual = manual, .late_halves = true };
	struct t *t = setup(&o, 0, 200);
	bring_up(t);
	open_link(t, 7);
	assert_int_equal(t->connected_ok, 1);
	/* a short echo first: 150 bytes waiting when asked, 300 at the read */
	t->tx_len = 300;
	pump_tx(t);
	run(t, 10);
	assert_false(t->timed_out);
	assert_int_equal(t->rx_len, 300);
	echo_bulk(t);
	assert_int_equal(t->closed_lost, 0);
	assert_int_equal(fake_max_read_req(t->fake), 1460);
	teardown(t);
}

static void test_rxget_manual_late(void **state)
{
	(void)state;
	rxget_reading_case(true);
}

static void test_rxget_appnote_late(void **state)
{
	(void)state;
	rxget_reading_case(false);
}

/* No +CIPRXGET: 1 ever: the safety poll (CIPRXGET=4) finds the data. */
static void test_lost_notification(void **state)
{
	(void)state;
	struct fake_opts o = { .space_after_comma = true, .lose_rxget_urc = true };
	struct t *t = setup(&o, 0, 50);
	bring_up(t);
	open_link(t, 7);
	echo_bulk(t);
	assert_true(fake_count(t->fake, "AT+CIPRXGET") > 0);
	teardown(t);
}

/* A small in-flight bound: the dialect must ask CIPACK and still finish. */
static void test_inflight_bound(void **state)
{
	(void)state;
	struct fake_opts o = { .space_after_comma = true, .ack_lag = 4000 };
	struct t *t = setup(&o, 3000, 1000);
	bring_up(t);
	open_link(t, 7);
	echo_bulk(t);
	assert_true(fake_count(t->fake, "AT+CIPACK") > 10);
	teardown(t);
}

/* Acks that stay short of half the bound for a while: the next query waits
 * the model's retry time (100 ms) each time, never goes out back to back.
 * The fake's lag lasts 50 ms, so a query after a proper wait finds it gone:
 * two queries per blocked spell. Queries back to back (an expired wait
 * timer restarted without its time) would ask dozens of times per spell.
 * About 2.5 s. */
static void test_inflight_wait(void **state)
{
	(void)state;
	struct fake_opts o = { .space_after_comma = true, .ack_lag = 4000, .ack_lag_ms = 50 };
	struct t *t = setup(&o, 3000, 1000);
	bring_up(t);
	open_link(t, 7);
	echo_bulk(t);
	unsigned sends = fake_count(t->fake, "AT+CIPSEND");
	unsigned acks = fake_count(t->fake, "AT+CIPACK");
	assert_true(acks > 10);
	assert_true(acks <= sends);
	teardown(t);
}

static void test_connect_fail(void **state)
{
	(void)state;
	struct fake_opts o = { .space_after_comma = true, .refuse_port_9 = true };
	struct t *t = setup(&o, 0, 1000);
	bring_up(t);
	open_link(t, 9);
	assert_int_equal(t->connected_fail, 1);
	assert_int_equal(t->connected_ok, 0);
	assert_int_equal(modem_free_links(t->m), 8);
	teardown(t);
}

/* Remote close with data still in the module: data first, then closed(). */
static void test_remote_close_drains(void **state)
{
	(void)state;
	struct fake_opts o = { .space_after_comma = true };
	struct t *t = setup(&o, 0, 1000);
	bring_up(t);
	open_link(t, 7);
	/* Hold reads so data piles up in the module. */
	modem_recv_window(t->m, t->link, 0);
	t->tx_len = 20000;
	pump_tx(t);
	run(t, 5); /* ends on the guard: nothing stops the loop */
	assert_int_equal(t->acked, 20000);
	assert_int_equal(t->rx_len, 0);
	fake_remote_close(t->fake, t->link);
	run(t, 0.2);
	assert_int_equal(t->closed, 0); /* window shut: must wait */
	modem_recv_window(t->m, t->link, WINDOW);
	t->tx_len = 0; /* do not stop on rx == tx */
	run(t, 5);
	assert_int_equal(t->closed, 1);
	assert_int_equal(t->closed_lost, 0); /* whole: a clean end */
	assert_int_equal(fake_count(t->fake, "AT+CIPSTATUS"), 1);
	assert_int_equal(t->rx_len, 20000);
	assert_memory_equal(t->rx, t->tx, 20000);
	teardown(t);
}

/* +PDP: DEACT ends every link, reports link down, and bring-up runs again. */
static void test_pdp_deact(void **state)
{
	(void)state;
	struct fake_opts o = { .space_after_comma = true };
	struct t *t = setup(&o, 0, 1000);
	bring_up(t);
	open_link(t, 7);
	fake_urc(t->fake, "+PDP: DEACT");
	run(t, 5);
	/* closed() for the link and link_state(false) come in one go. */
	assert_int_equal(t->closed, 1);
	assert_int_equal(t->downs, 1);
	assert_false(modem_is_up(t->m));
	assert_int_equal(modem_open(t->m, MODEM_TCP, htonl(0x7f000001), 7), -1);
	run(t, 10);
	assert_int_equal(t->ups, 2);
	assert_int_equal(fake_count(t->fake, "AT+CIPSHUT"), 2);
	teardown(t);
}

/* A failed bring-up row: the table runs again from AT after a backoff. */
static void test_bringup_retry(void **state)
{
	(void)state;
	struct fake_opts o = { .space_after_comma = true, .cstt_errors = 1 };
	struct t *t = setup(&o, 0, 1000);
	bring_up(t);
	assert_int_equal(fake_count(t->fake, "AT+CSTT"), 2);
	assert_int_equal(fake_count(t->fake, "ATE0"), 2);
	teardown(t);
}

struct two {
	int ok_link, fail_link;
	int closed_fail, closed_ok, sent_fail;
};

/* SEND FAIL ends that link only: the other link keeps echoing. */
static void test_send_fail_one_link(void **state)
{
	(void)state;
	struct fake_opts o = { .space_after_comma = true, .send_fail_link = 1 };
	struct t *t = setup(&o, 0, 1000);
	bring_up(t);
	open_link(t, 7); /* link 0 */
	int good = t->link;
	assert_int_equal(good, 0);
	int bad = modem_open(t->m, MODEM_TCP, htonl(0x7f000001), 7);
	assert_int_equal(bad, 1);
	run(t, 5);
	assert_int_equal(t->connected_ok, 2);
	t->link = good;
	uint8_t junk[100] = { 0 };
	assert_int_equal(modem_send(t->m, bad, junk, sizeof(junk)), sizeof(junk));
	/* ev_sent asserts the link; watch the failure through closed(). */
	t->link = bad;
	run(t, 5);
	assert_true(t->failed_send);
	assert_int_equal(t->closed, 1);
	t->link = good;
	t->failed_send = false;
	modem_recv_window(t->m, good, WINDOW);
	echo_bulk(t);
	assert_false(t->failed_send);
	teardown(t);
}

/* CONNECT FAIL, ERROR answers to sends and reads, and SEND FAIL on other
 * links while one link carries a bulk echo: only the failing links end;
 * the echo arrives whole and in order. */
static void test_failures_beside_a_transfer(void **state)
{
	(void)state;
	struct fake_opts o = { .space_after_comma = true, .refuse_port_9 = true, .error_link = 1,
	                       .send_fail_link = 2 };
	struct t *t = setup(&o, 0, 1000);
	uint8_t junk[100] = { 0 };
	bring_up(t);
	open_link(t, 7);
	int good = t->link;
	assert_int_equal(good, 0);
	assert_int_equal(modem_open(t->m, MODEM_TCP, htonl(0x7f000001), 7), 1); /* ERROR link */
	assert_int_equal(modem_open(t->m, MODEM_TCP, htonl(0x7f000001), 7), 2); /* SEND FAIL link */
	while (t->connected_ok < 3 && !t->timed_out)
		run(t, 5);
	modem_recv_window(t->m, 1, WINDOW);
	/* All at once: the scheduler interleaves them on the line. */
	t->link = good;
	t->tx_len = BULK;
	pump_tx(t);
	assert_true(modem_open(t->m, MODEM_TCP, htonl(0x7f000001), 9) >= 0); /* CONNECT FAIL */
	assert_int_equal(modem_send(t->m, 1, junk, sizeof(junk)), sizeof(junk));
	assert_int_equal(modem_send(t->m, 2, junk, sizeof(junk)), sizeof(junk));
	t->timed_out = false;
	while ((t->rx_len < BULK || !t->connected_fail || t->closed < 2) && !t->timed_out)
		run(t, 60);
	assert_int_equal(t->rx_len, BULK);
	assert_memory_equal(t->rx, t->tx, BULK);
	assert_int_equal(t->acked, BULK);
	assert_int_equal(t->connected_fail, 1);
	assert_true(t->failed_send);
	assert_int_equal(t->closed, 2); /* links 1 and 2; link 0 stays open */
	assert_int_equal(modem_free_links(t->m), 7);
	teardown(t);
}

/* UDP: one CIPSEND per datagram, whole or refused. */
static void test_udp_datagrams(void **state)
{
	(void)state;
	struct fake_opts o = { .space_after_comma = true };
	struct t *t = setup(&o, 0, 1000);
	bring_up(t);
	int id = modem_open(t->m, MODEM_UDP, htonl(0x7f000001), 53);
	assert_true(id >= 0);
	run(t, 5);
	assert_int_equal(t->connected_ok, 1);
	static uint8_t big[1461];
	assert_int_equal(modem_send(t->m, id, big, sizeof(big)), 0);
	assert_int_equal(modem_send(t->m, id, t->tx, 100), 100);
	assert_int_equal(modem_send(t->m, id, t->tx + 100, 1460), 1460);
	assert_int_equal(modem_send(t->m, id, t->tx + 1560, 7), 7);
	t->tx_len = 1567;
	t->tx_off = 1567;
	run(t, 5);
	assert_int_equal(t->acked, 1567);
	unsigned lens[8];
	size_t n = fake_send_lengths(t->fake, lens, 8);
	assert_int_equal(n, 3);
	assert_int_equal(lens[0], 100);
	assert_int_equal(lens[1], 1460);
	assert_int_equal(lens[2], 7);
	assert_int_equal(t->rx_len, 1567);
	assert_memory_equal(t->rx, t->tx, 1567);
	teardown(t);
}

/* ALREADY CONNECT: the module holds a link we thought free. It is closed
 * there and the connect goes again on it: no refusal, and no connect after
 * it is refused either. */
static void test_already_connect(void **state)
{
	(void)state;
	struct fake_opts o = { .space_after_comma = true, .already_connect_0 = true };
	struct t *t = setup(&o, 0, 1000);
	bring_up(t);
	open_link(t, 7);
	assert_int_equal(t->connected_fail, 0);
	assert_int_equal(t->connected_ok, 1);
	assert_int_equal(fake_count(t->fake, "AT+CIPCLOSE"), 1);
	assert_int_equal(fake_count(t->fake, "AT+CIPSTART"), 2);
	assert_int_equal(t->closed, 0);
	teardown(t);
}

/* modem_close while connecting: connected(true) then closed(). */
static void test_close_while_connecting(void **state)
{
	(void)state;
	struct fake_opts o = { .space_after_comma = true };
	struct t *t = setup(&o, 0, 1000);
	bring_up(t);
	int id = modem_open(t->m, MODEM_TCP, htonl(0x7f000001), 7);
	modem_close(t->m, id);
	assert_int_equal(modem_send_space(t->m, id), 0);
	run(t, 5);
	assert_int_equal(t->connected_ok, 1);
	run(t, 5);
	assert_int_equal(t->closed, 1);
	assert_int_equal(modem_free_links(t->m), 8);
	teardown(t);
}

/* The serial device disappears (a USB module re-enumerating) and comes back
 * under the same name: links end, link down, the port is reopened, bring-up
 * runs again. The device name is a symlink we re-point to the new pty. */
static void test_serial_reopen(void **state)
{
	(void)state;
	struct fake_opts o = { .space_after_comma = true };
	char dir[] = "/tmp/atb-reopen-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char link[64];
	snprintf(link, sizeof(link), "%s/ttyMODEM", dir);
	struct t *t = calloc(1, sizeof(*t));
	t->loop = ev_loop_new(EVFLAG_AUTO);
	t->link = -1;
	ev_timer_init(&t->guard, on_guard, 0., 0.);
	t->guard.data = t;
	t->fake = fake_new(t->loop, &o, t->path, sizeof(t->path));
	assert_int_equal(symlink(t->path, link), 0);
	struct modem_config cfg = {
		.device = link, .baud = 115200, .model = "sim7000",
		.apn = "internet", .user = "", .password = "",
		.cmd_timeout_ms = 2000, .poll_interval_ms = 1000,
	};
	t->m = modem_new(t->loop, &cfg, &events, t);
	assert_non_null(t->m);
	t->tx = calloc(1, BULK);
	t->rx = calloc(1, BULK);
	bring_up(t);
	open_link(t, 7);
	assert_int_equal(t->connected_ok, 1);

	fake_free(t->fake); /* the line goes away */
	run(t, 2);
	assert_int_equal(t->closed, 1);
	assert_int_equal(t->downs, 1);
	assert_false(modem_is_up(t->m));

	t->fake = fake_new(t->loop, &o, t->path, sizeof(t->path));
	assert_int_equal(unlink(link), 0);
	assert_int_equal(symlink(t->path, link), 0);
	run(t, 40); /* backoff up to a few seconds, then bring-up */
	assert_false(t->timed_out);
	assert_int_equal(t->ups, 2);
	assert_true(modem_is_up(t->m));
	unlink(link);
	rmdir(dir);
	teardown(t);
}

/* The module restarts ("RDY"): links end, link down, bring-up again. */
static void test_module_restart(void **state)
{
	(void)state;
	struct fake_opts o = { .space_after_comma = true };
	struct t *t = setup(&o, 0, 1000);
	bring_up(t);
	open_link(t, 7);
	fake_urc(t->fake, "RDY");
	run(t, 2);
	assert_int_equal(t->closed, 1);
	assert_int_equal(t->downs, 1);
	run(t, 10);
	assert_int_equal(t->ups, 2);
	teardown(t);
}

/* The module stops answering: the send times out, AT_SYNC_ROUNDS sync
 * checks go unanswered, every link ends at once (no flow waits for a module that
 * may never answer) and bring-up starts with a reboot request; service
 * returns once the module answers again. */
static void test_module_stalls(void **state)
{
	(void)state;
	struct fake_opts o = { .space_after_comma = true };
	struct modem_stats st;
	cmd_timeout_ms = 300;
	struct t *t = setup(&o, 0, 100);
	cmd_timeout_ms = 2000;
	bring_up(t);
	open_link(t, 7);
	fake_mute(t->fake, true);
	uint8_t x[3] = { 1, 2, 3 };
	modem_send(t->m, t->link, x, 3);
	run(t, 1.0); /* the send's timeout: its flow is told at once */
	assert_true(t->failed_send);
	assert_int_equal(t->closed, 1);
	assert_int_equal(t->closed_lost, 1); /* never a clean end */
	assert_int_equal(t->downs, 0);
	/* the send's prompt may still come (AT_ORPHAN_MS), then the rounds */
	run(t, (AT_ORPHAN_MS + AT_SYNC_ROUNDS * (AT_SYNC_GUARD_MS + 2 * AT_SYNC_STEP_MS)) / 1000.0 + 0.5);
	assert_int_equal(t->closed, 1);
	assert_int_equal(t->downs, 1);
	assert_false(modem_is_up(t->m));
	assert_int_equal(modem_open(t->m, MODEM_TCP, htonl(0x7f000001), 7), -1);
	modem_get_stats(t->m, &st);
	assert_int_equal(st.reboot_requests, 1);
	fake_mute(t->fake, false);
	run(t, 30);
	assert_int_equal(t->ups, 2);
	teardown(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bulk_echo),
		cmocka_unit_test(test_server_accept),
		cmocka_unit_test(test_accept_wins_socket),
		cmocka_unit_test(test_spacing_variants),
		cmocka_unit_test(test_lost_notification),
		cmocka_unit_test(test_rxget_manual_late),
		cmocka_unit_test(test_rxget_appnote_late),
		cmocka_unit_test(test_inflight_bound),
		cmocka_unit_test(test_inflight_wait),
		cmocka_unit_test(test_connect_fail),
		cmocka_unit_test(test_remote_close_drains),
		cmocka_unit_test(test_pdp_deact),
		cmocka_unit_test(test_bringup_retry),
		cmocka_unit_test(test_send_fail_one_link),
		cmocka_unit_test(test_failures_beside_a_transfer),
		cmocka_unit_test(test_udp_datagrams),
		cmocka_unit_test(test_already_connect),
		cmocka_unit_test(test_close_while_connecting),
		cmocka_unit_test(test_serial_reopen),
		cmocka_unit_test(test_module_restart),
		cmocka_unit_test(test_module_stalls),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

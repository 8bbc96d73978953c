/* The N11V2 dialect against a small scripted module on a socketpair, for the
 * answers the simulator does not give: the manual's own spellings (no space
 * after the colon, four spaces in +XIIC, UDPCLOSE without OK), ERROR1 for a
 * socket in use, BUFFER NOT ENOUGH, send errors, remote close, PPP loss. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <ev.h>
#include <sys/socket.h>
#include <unistd.h>

#include "modem_priv.h"

struct fake {
	int fd;
	ev_io io;
	char line[256];
	size_t len;
	size_t data_want, data_link, data_len;
	uint8_t rx[5][8192]; /* echo buffers */
	size_t rx_len[5];
	bool open[5];
	unsigned buffer_full;  /* answer BUFFER NOT ENOUGH this many times */
	bool error1_once;      /* first TCPSETUP on socket 0: ERROR1 */
	bool fail_sends_1;     /* sends on socket 1: OPERATION EXPIRED */
	unsigned udpclose, tcpsend_cmds, ipstatus;
	unsigned tcpsends, closeclient; /* server side (chapter 13) */
	bool echo;
};

struct t {
	struct ev_loop *loop;
	struct fake f;
	struct modem *m;
	int ups, downs, ok, fail, closed, closed_lost, link;
	int listening, not_listening, accepted, acc_link;
	uint32_t acc_ip;
	uint16_t acc_port, listen_port;
	size_t acc_window;
	bool stingy; /* ev_data closes the window */
	bool sent_fail;
	size_t acked, rx_len;
	uint8_t rx[8192];
	ev_timer guard;
};

static void say(struct fake *f, const char *s)
{
	assert_int_equal(write(f->fd, s, strlen(s)), (ssize_t)strlen(s));
}

static void sayf(struct fake *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sayf(struct fake *f, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	say(f, buf);
}

static void handle(struct fake *f, const char *c)
{
	int n, len;
	if (f->echo)
		sayf(f, "%s\r", c);
	if (!strcmp(c, "ATE1") || !strcmp(c, "ATE0")) {
		f->echo = c[3] == '1';
		say(f, "\r\nOK\r\n");
	} else if (!strncmp(c, "AT+ATBSYNC=", 11)) {
		say(f, "\r\nERROR\r\n");
	} else if (sscanf(c, "AT+IPSTATUS=%d", &n) == 1) {
		/* manual 8.5: no OK after it */
		f->ipstatus++;
		sayf(f, "\r\n+IPSTATUS: %d,%s\r\n", n, f->open[n] ? "CONNECT,TCP,4096" : "DISCONNECT");
	} else if (!strcmp(c, "AT+CPIN?"))
		say(f, "\r\n+CPIN: READY\r\n\r\nOK\r\n");
	else if (!strcmp(c, "AT+CGATT?"))
		say(f, "\r\n+CGATT: 1\r\n\r\nOK\r\n");
	else if (!strcmp(c, "AT+XIIC?"))
		say(f, "\r\n+XIIC:    1,10.232.165.29\r\n\r\nOK\r\n");
	else if (sscanf(c, "AT+TCPSETUP=%d", &n) == 1 || sscanf(c, "AT+UDPSETUP=%d", &n) == 1) {
		const char *kind = c[3] == 'T' ? "TCP" : "UDP";
		if (n == 0 && f->error1_once) {
			f->error1_once = false;
			f->open[0] = true;
			sayf(f, "\r\n+%sSETUP:0,ERROR1\r\n", kind);
			return;
		}
		f->open[n] = true;
		sayf(f, "\r\nOK\r\n\r\n+%sSETUP:%d,OK\r\n", kind, n);
	} else if (sscanf(c, "AT+TCPLISTEN=%d", &n) == 1) {
		say(f, "\r\n+TCPLISTEN:0,OK\r\n"); /* 13.1: no OK, no space */
	} else if (sscanf(c, "AT+TCPSENDS=%d,%d", &n, &len) == 2) {
		f->tcpsends++;
		f->data_want = f->data_len = (size_t)len;
		f->data_link = (size_t)n;
		say(f, "\r\n>");
	} else if (sscanf(c, "AT+CLOSECLIENT=%d", &n) == 1) {
		f->closeclient++;
		sayf(f, "\r\n+CLOSECLIENT: %d,remote link closed\r\n", n);
	} else if (sscanf(c, "AT+TCPSEND=%d,%d", &n, &len) == 2 || sscanf(c, "AT+UDPSEND=%d,%d", &n, &len) == 2) {
		f->tcpsend_cmds++;
		if (f->buffer_full) {
			f->buffer_full--;
			sayf(f, "\r\n+%sSEND:BUFFER NOT ENOUGH,100\r\n", c[3] == 'T' ? "TCP" : "UDP");
			return;
		}
		f->data_want = f->data_len = (size_t)len;
		f->data_link = (size_t)n;
		say(f, "\r\n>");
	} else if (sscanf(c, "AT+TCPREAD=%d,%d", &n, &len) == 2 || sscanf(c, "AT+UDPREAD=%d,%d", &n, &len) == 2) {
		size_t got = f->rx_len[n] < (size_t)len ? f->rx_len[n] : (size_t)len;
		sayf(f, "\r\n+%sREAD:%d,%zu,", c[3] == 'T' ? "TCP" : "UDP", n, got);
		assert_int_equal(write(f->fd, f->rx[n], got), (ssize_t)got);
		memmove(f->rx[n], f->rx[n] + got, f->rx_len[n] - got);
		f->rx_len[n] -= got;
		say(f, "\r\n\r\nOK\r\n");
	} else if (sscanf(c, "AT+TCPCLOSE=%d", &n) == 1) {
		f->open[n] = false;
		sayf(f, "\r\n+TCPCLOSE:%d,OK\r\n\r\nOK\r\n", n);
	} else if (sscanf(c, "AT+UDPCLOSE=%d", &n) == 1) {
		f->open[n] = false;
		f->udpclose++;
		sayf(f, "\r\n+UDPCLOSE: %d,OK\r\n", n); /* no OK, as in the manual */
	} else
		say(f, "\r\nOK\r\n");
}

static void data_done(struct fake *f)
{
	size_t n = f->data_link;
	if (n == 1 && f->fail_sends_1) {
		say(f, "\r\nOK\r\n\r\n+TCPSEND: 1, OPERATION EXPIRED\r\n");
		return;
	}
	if (f->tcpsends) {
		sayf(f, "\r\nOK\r\n\r\n+TCPSENDS: %zu,%zu\r\n", n, f->data_len);
		return;
	}
	sayf(f, "\r\nOK\r\n\r\n+TCPSEND:%zu,%zu\r\n\r\n+TCPRECV:%zu\r\n", n, f->data_len, n);
}

static void on_fake(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	struct fake *f = w->data;
	uint8_t buf[4096];
	ssize_t n = read(f->fd, buf, sizeof(buf));
	for (ssize_t i = 0; i < n; i++) {
		if (f->data_want) {
			size_t k = f->data_link;
			f->rx[k][f->rx_len[k]++] = buf[i];
			if (--f->data_want == 0)
				data_done(f);
			continue;
		}
		if (buf[i] == '\r') {
			f->line[f->len] = '\0';
			f->len = 0;
			handle(f, f->line);
		} else if (f->len < sizeof(f->line) - 1) {
			f->line[f->len++] = (char)buf[i];
		}
	}
}

/* ---- bridge side ---- */

static void ev_link_state(void *ctx, bool up, const char *ip)
{
	struct t *t = ctx;
	if (up) {
		t->ups++;
		assert_string_equal(ip, "10.232.165.29");
	} else {
		t->downs++;
	}
	ev_break(t->loop, EVBREAK_ALL);
}

static void ev_connected(void *ctx, int link, bool ok)
{
	struct t *t = ctx;
	if (ok) {
		t->ok++;
		t->link = link;
		modem_recv_window(t->m, link, 4096);
	} else {
		t->fail++;
	}
	ev_break(t->loop, EVBREAK_ALL);
}

static void ev_data(void *ctx, int link, const uint8_t *buf, size_t len)
{
	struct t *t = ctx;
	memcpy(t->rx + t->rx_len, buf, len);
	t->rx_len += len;
	modem_recv_window(t->m, link, t->stingy ? 0 : 4096);
}

static void ev_sent(void *ctx, int link, size_t len, bool ok)
{
	struct t *t = ctx;
	(void)link;
	if (ok)
		t->acked += len;
	else
		t->sent_fail = true;
}

static void ev_closed(void *ctx, int link, bool lost)
{
	struct t *t = ctx;
	t->closed_lost += lost;
	(void)link;
	t->closed++;
	ev_break(t->loop, EVBREAK_ALL);
}

static void ev_listening(void *ctx, uint16_t port, bool ok)
{
	struct t *t = ctx;
	t->listen_port = port;
	if (ok)
		t->listening++;
	else
		t->not_listening++;
	ev_break(t->loop, EVBREAK_ALL);
}

static void ev_accepted(void *ctx, int link, uint16_t port, uint32_t ip, uint16_t peer)
{
	struct t *t = ctx;
	(void)port;
	t->accepted++;
	t->acc_link = link;
	t->acc_ip = ip;
	t->acc_port = peer;
	modem_recv_window(t->m, link, t->acc_window);
}

static const struct modem_events events = {
	.link_state = ev_link_state, .connected = ev_connected, .data = ev_data,
	.sent = ev_sent, .closed = ev_closed, .listening = ev_listening, .accepted = ev_accepted,
};

static void on_guard(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

static void run(struct t *t, double s)
{
	ev_timer_set(&t->guard, s, 0.);
	ev_timer_start(t->loop, &t->guard);
	ev_run(t->loop, 0);
	ev_timer_stop(t->loop, &t->guard);
}

static struct t *setup(void)
{
	struct t *t = calloc(1, sizeof(*t));
	int sv[2];
	t->loop = ev_loop_new(EVFLAG_AUTO);
	ev_timer_init(&t->guard, on_guard, 0., 0.);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	t->f.fd = sv[1];
	ev_io_init(&t->f.io, on_fake, sv[1], EV_READ);
	t->f.io.data = &t->f;
	ev_io_start(t->loop, &t->f.io);
	struct modem_config cfg = {
		.device = "socketpair", .baud = 115200, .model = "n11v2",
		.apn = "internet", .user = "", .password = "",
		.cmd_timeout_ms = 2000, .poll_interval_ms = 1000,
	};
	t->m = modem_new_on_fd(t->loop, &cfg, &events, t, sv[0]);
	assert_non_null(t->m);
	run(t, 5);
	assert_int_equal(t->ups, 1);
	assert_int_equal(modem_max_links(t->m), 5);
	return t;
}

static void teardown(struct t *t)
{
	modem_free(t->m);
	ev_io_stop(t->loop, &t->f.io);
	close(t->f.fd);
	ev_loop_destroy(t->loop);
	free(t);
}

static int open_link(struct t *t, enum modem_proto p)
{
	int id = modem_open(t->m, p, htonl(0x7f000001), 7);
	assert_true(id >= 0);
	run(t, 2);
	return id;
}

/* Manual spellings, an echo through TCPREAD with inline data, close. */
static void test_echo_and_close(void **state)
{
	(void)state;
	struct t *t = setup();
	int id = open_link(t, MODEM_TCP);
	assert_int_equal(t->ok, 1);
	static const uint8_t msg[] = "hello,\r\nOK\r\n> world";
	assert_int_equal(modem_send(t->m, id, msg, sizeof(msg) - 1), sizeof(msg) - 1);
	run(t, 0.3);
	assert_int_equal(t->acked, sizeof(msg) - 1);
	assert_int_equal(t->rx_len, sizeof(msg) - 1);
	assert_memory_equal(t->rx, msg, sizeof(msg) - 1);
	modem_close(t->m, id);
	run(t, 2);
	assert_int_equal(t->closed, 1);
	assert_int_equal(modem_free_links(t->m), 5);
	teardown(t);
}

/* ERROR1: the module's socket 0 is in use; it is closed there and the
 * setup goes again: the open works, nothing is refused. */
static void test_error1(void **state)
{
	(void)state;
	struct t *t = setup();
	t->f.error1_once = true;
	open_link(t, MODEM_TCP);
	assert_int_equal(t->fail, 0);
	assert_int_equal(t->ok, 1);
	assert_false(t->f.open[1]);
	assert_true(t->f.open[0]);
	assert_int_equal(t->closed, 0);
	teardown(t);
}

/* BUFFER NOT ENOUGH is waited out, not a failure. */
static void test_buffer_not_enough(void **state)
{
	(void)state;
	struct t *t = setup();
	int id = open_link(t, MODEM_TCP);
	t->f.buffer_full = 2;
	assert_int_equal(modem_send(t->m, id, (const uint8_t *)"abc", 3), 3);
	run(t, 1.5);
	assert_false(t->sent_fail);
	assert_int_equal(t->acked, 3);
	assert_int_equal(t->f.tcpsend_cmds, 3);
	teardown(t);
}

/* A send error ends that link only. */
static void test_send_error(void **state)
{
	(void)state;
	struct t *t = setup();
	open_link(t, MODEM_TCP); /* 0 */
	int bad = open_link(t, MODEM_TCP);
	assert_int_equal(bad, 1);
	t->f.fail_sends_1 = true;
	modem_send(t->m, bad, (const uint8_t *)"x", 1);
	run(t, 2);
	assert_true(t->sent_fail);
	assert_int_equal(t->closed, 1);
	assert_int_equal(t->closed_lost, 1);
	run(t, 0.5); /* the id is free once the module answered the close */
	assert_int_equal(modem_free_links(t->m), 4);
	teardown(t);
}

/* UDPCLOSE answered without OK (manual 8.x): closed on its own line. */
static void test_udp_close_without_ok(void **state)
{
	(void)state;
	struct t *t = setup();
	int id = open_link(t, MODEM_UDP);
	assert_int_equal(t->ok, 1);
	modem_close(t->m, id);
	run(t, 3);
	assert_int_equal(t->closed, 1);
	assert_int_equal(t->f.udpclose, 1);
	teardown(t);
}

/* Remote close with data still buffered, then PPP loss. */
static void test_remote_close_and_ppp_loss(void **state)
{
	(void)state;
	struct t *t = setup();
	int id = open_link(t, MODEM_TCP);
	memcpy(t->f.rx[id], "tail", 4);
	t->f.rx_len[id] = 4;
	t->f.open[id] = false;
	say(&t->f, "\r\n+TCPCLOSE:0,Link Closed\r\n");
	run(t, 2);
	assert_int_equal(t->closed, 1);
	assert_int_equal(t->closed_lost, 0); /* checked with IPSTATUS: clean */
	assert_int_equal(t->f.ipstatus, 1);
	assert_int_equal(t->rx_len, 4);
	open_link(t, MODEM_TCP);
	say(&t->f, "\r\nGPRS DISCONNECTION\r\n");
	run(t, 2);
	assert_int_equal(t->closed, 2);
	assert_int_equal(t->downs, 1);
	run(t, 5);
	assert_int_equal(t->ups, 2);
	teardown(t);
}

static void listen_and_accept(struct t *t)
{
	assert_true(modem_listen(t->m, 6800));
	run(t, 1);
	assert_int_equal(t->listening, 1);
	assert_int_equal(t->listen_port, 6800);
	assert_int_equal(modem_free_links(t->m), 4); /* the listener holds socket 0 */
	assert_int_equal(modem_busy_links(t->m), 0); /* but no flow does */
	say(&t->f, "\r\nConnect\r\nAcceptSocket=1,ClientAddr=198.51.100.7,ClientPort=40000\r\n");
	run(t, 0.2);
	assert_int_equal(t->accepted, 1);
	assert_int_equal(t->acc_link, 1);
	assert_int_equal(t->acc_ip, htonl(0xc6336407));
	assert_int_equal(t->acc_port, 40000);
	assert_int_equal(modem_free_links(t->m), 3);
	assert_int_equal(modem_busy_links(t->m), 1);
}

/* Chapter 13: a listener, an accepted link whose data is pushed
 * (+TCPRECV(S), with AT text inside the payload), TCPSENDS back, the
 * client's close reported as +CLOSELISTEN: <n> (13.2's example) ends it
 * clean; the listener's own close frees its socket and is reported. */
static void test_server_push(void **state)
{
	(void)state;
	struct t *t = setup();
	t->acc_window = 4096;
	listen_and_accept(t);
	say(&t->f, "\r\n+TCPRECV(S): 1,12,ab\r\nOK\r\n> yz\r\n");
	run(t, 0.2);
	assert_int_equal(t->rx_len, 12);
	assert_memory_equal(t->rx, "ab\r\nOK\r\n> yz", 12);
	assert_int_equal(modem_send(t->m, 1, (const uint8_t *)"reply", 5), 5);
	run(t, 0.3);
	assert_int_equal(t->f.tcpsends, 1);
	assert_int_equal(t->acked, 5);
	assert_memory_equal(t->f.rx[1], "reply", 5);
	assert_int_equal(t->f.tcpsend_cmds, 0);
	say(&t->f, "\r\n+CLOSELISTEN: 1,local link closed\r\n");
	run(t, 3);
	assert_int_equal(t->closed, 1);
	assert_int_equal(t->closed_lost, 0);
	assert_int_equal(t->f.ipstatus, 0); /* no read, no state query for pushed links */
	say(&t->f, "\r\n+CLOSELISTEN: 0,local link closed\r\n");
	run(t, 0.3);
	assert_int_equal(t->not_listening, 1);
	assert_int_equal(modem_free_links(t->m), 5);
	teardown(t);
}

/* Pushed bytes beyond the window wait in hold; more than hold ends the
 * link with loss; a local close of an accepted link is CLOSECLIENT. */
static void test_server_push_overflow(void **state)
{
	(void)state;
	struct t *t = setup();
	t->acc_window = 0;
	t->stingy = true;
	listen_and_accept(t);
	say(&t->f, "\r\n+TCPRECV(S): 1,4,abcd\r\n");
	run(t, 0.2);
	assert_int_equal(t->rx_len, 0);
	modem_recv_window(t->m, 1, 2);
	run(t, 0.2);
	assert_int_equal(t->rx_len, 2);
	/* The largest payload a line may announce (AT_PAYLOAD_MAX): with 2
	 * bytes waiting already, one more than hold (one 4096-byte chunk). */
	static char big[AT_PAYLOAD_MAX];
	memset(big, 'x', sizeof(big));
	sayf(&t->f, "\r\n+TCPRECV(S): 1,%zu,", sizeof(big));
	assert_int_equal(write(t->f.fd, big, sizeof(big)), (ssize_t)sizeof(big));
	say(&t->f, "\r\n");
	run(t, 2);
	assert_int_equal(t->closed, 1);
	assert_int_equal(t->closed_lost, 1);
	run(t, 0.5); /* the close goes out after the loss is reported */
	assert_int_equal(t->f.closeclient, 1);
	teardown(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_echo_and_close),
		cmocka_unit_test(test_error1),
		cmocka_unit_test(test_buffer_not_enough),
		cmocka_unit_test(test_send_error),
		cmocka_unit_test(test_udp_close_without_ok),
		cmocka_unit_test(test_remote_close_and_ppp_loss),
		cmocka_unit_test(test_server_push),
		cmocka_unit_test(test_server_push_overflow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

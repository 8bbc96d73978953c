/* A dialect (SIM7000 or N11V2) against atbridge-sim over a pty (no root): bring-up,
 * TCP links to echo and one-shot servers on 127.0.0.1 that the test runs,
 * 100 KB of random data (0x1A, CR LF, "OK" inside) sent and read back and
 * compared by SHA-256 and byte for byte, several links at once, a refused
 * connect and a remote close with data still buffered in the module.
 *
 * argv[1] is the simulator binary, argv[2] the model (sim7000 by default);
 * extra simulator options come from the ATB_SIM_OPTS environment variable
 * (split at spaces). With ATB_MODEL_AUTO set the modem is told model = auto
 * and must find the model itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "modem.h"
#include "sha256.h"

#define BULK (100 * 1000)
#define NLINKS 4
#define WINDOW 16384
#define SERVER_CONNS 16

static const char *sim_path;
static const char *model = "sim7000";

/* ---- a small echo / one-shot TCP server on the test's loop ---- */

struct conn {
	int fd;
	ev_io rio, wio;
	uint8_t buf[65536];
	size_t len;
	bool eof, shot;
	struct server *srv;
};

struct server {
	struct ev_loop *loop;
	int fd;
	uint16_t port;
	ev_io io;
	bool one_shot; /* write shot_len bytes, then close */
	const uint8_t *shot;
	size_t shot_len;
	struct conn conns[SERVER_CONNS];
};

static void conn_close(struct conn *c)
{
	ev_io_stop(c->srv->loop, &c->rio);
	ev_io_stop(c->srv->loop, &c->wio);
	close(c->fd);
	c->fd = -1;
}

static void conn_flush(struct conn *c)
{
	while (c->len > 0) {
		ssize_t n = write(c->fd, c->buf, c->len);
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			conn_close(c);
			return;
		}
		memmove(c->buf, c->buf + n, c->len - (size_t)n);
		c->len -= (size_t)n;
	}
	if (c->len > 0) {
		ev_io_start(c->srv->loop, &c->wio);
		ev_io_stop(c->srv->loop, &c->rio); /* backpressure */
	} else {
		ev_io_stop(c->srv->loop, &c->wio);
		if (c->eof || c->shot)
			conn_close(c);
		else
			ev_io_start(c->srv->loop, &c->rio);
	}
}

static void conn_read(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	struct conn *c = w->data;
	ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0)
		c->eof = true;
	else
		c->len += (size_t)n;
	conn_flush(c);
}

static void conn_write(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	conn_flush(w->data);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)revents;
	struct server *s = w->data;
	int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	for (int i = 0; i < SERVER_CONNS; i++) {
		struct conn *c = &s->conns[i];
		if (c->fd >= 0)
			continue;
		memset(c, 0, sizeof(*c));
		c->fd = fd;
		c->srv = s;
		ev_io_init(&c->rio, conn_read, fd, EV_READ);
		c->rio.data = c;
		ev_io_init(&c->wio, conn_write, fd, EV_WRITE);
		c->wio.data = c;
		if (s->one_shot) {
			memcpy(c->buf, s->shot, s->shot_len);
			c->len = s->shot_len;
			c->shot = true;
			conn_flush(c);
		} else {
			ev_io_start(loop, &c->rio);
		}
		return;
	}
	close(fd);
}

static void server_start(struct server *s, struct ev_loop *loop)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	s->loop = loop;
	for (int i = 0; i < SERVER_CONNS; i++)
		s->conns[i].fd = -1;
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(s->fd >= 0);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->fd, 16), 0);
	assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &al), 0);
	s->port = ntohs(a.sin_port);
	ev_io_init(&s->io, on_accept, s->fd, EV_READ);
	s->io.data = s;
	ev_io_start(loop, &s->io);
}

static void server_stop(struct server *s)
{
	ev_io_stop(s->loop, &s->io);
	close(s->fd);
	for (int i = 0; i < SERVER_CONNS; i++)
		if (s->conns[i].fd >= 0)
			conn_close(&s->conns[i]);
}

/* A port nothing listens on: bind, read the port, close. */
static uint16_t closed_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* ---- the simulator process ---- */

struct sim {
	pid_t pid;
	char pty[256];
	char dir[64], hosts[128];
};

static void sim_start(struct sim *s)
{
	int p[2];
	char *argv[32];
	int argc = 0;
	char opts[512] = "";
	snprintf(s->dir, sizeof(s->dir), "/tmp/atb-modem-test-XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	snprintf(s->hosts, sizeof(s->hosts), "%s/hosts", s->dir);
	FILE *hf = fopen(s->hosts, "w");
	assert_non_null(hf);
	fputs("echo.test 127.0.0.1\ntwo.test 127.0.0.2\ntwo.test 127.0.0.3\n", hf);
	fclose(hf);
	const char *env = getenv("ATB_SIM_OPTS");
	if (env)
		snprintf(opts, sizeof(opts), "%s", env);
	argv[argc++] = (char *)sim_path;
	argv[argc++] = "--model";
	argv[argc++] = (char *)model;
	argv[argc++] = "--hosts";
	argv[argc++] = s->hosts;
	for (char *tok = strtok(opts, " "); tok && argc < 30; tok = strtok(NULL, " "))
		argv[argc++] = tok;
	argv[argc] = NULL;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0) {
		dup2(p[1], 1);
		execv(sim_path, argv);
		_exit(127);
	}
	close(p[1]);
	size_t n = 0;
	char ch;
	while (n < sizeof(s->pty) - 1 && read(p[0], &ch, 1) == 1 && ch != '\n')
		s->pty[n++] = ch;
	s->pty[n] = '\0';
	close(p[0]);
	if (n == 0) {
		fprintf(stderr, "simulator %s did not print its pty path (not built?)\n", sim_path);
		waitpid(s->pid, NULL, 0);
		fail();
	}
}

static void sim_stop(struct sim *s)
{
	kill(s->pid, SIGTERM);
	waitpid(s->pid, NULL, 0);
	unlink(s->hosts);
	rmdir(s->dir);
}

/* ---- the bridge side ---- */

struct link_state {
	int id;
	bool connected, failed, closed;
	const uint8_t *tx;
	size_t tx_len, tx_off, acked;
	uint8_t *rx;
	size_t rx_len, rx_cap;
};

struct t {
	struct ev_loop *loop;
	struct modem *m;
	struct sim sim;
	struct server echo, shot;
	bool up;
	char ip[32];
	struct link_state links[8];
	ev_timer guard;
	bool timed_out;
	bool (*until)(struct t *t);
};

static void check_until(struct t *t)
{
	if (t->until && t->until(t))
		ev_break(t->loop, EVBREAK_ALL);
}

static void pump(struct t *t, struct link_state *l)
{
	while (l->connected && l->tx_off < l->tx_len) {
		size_t n = modem_send(t->m, l->id, l->tx + l->tx_off, l->tx_len - l->tx_off);
		if (n == 0)
			break;
		l->tx_off += n;
	}
}

static void ev_link_state(void *ctx, bool up, const char *ip)
{
	struct t *t = ctx;
	t->up = up;
	if (ip)
		snprintf(t->ip, sizeof(t->ip), "%s", ip);
	check_until(t);
}

static void ev_connected(void *ctx, int link, bool ok)
{
	struct t *t = ctx;
	struct link_state *l = &t->links[link];
	l->connected = ok;
	l->failed = !ok;
	if (ok) {
		modem_recv_window(t->m, link, WINDOW);
		pump(t, l);
	}
	check_until(t);
}

static void ev_data(void *ctx, int link, const uint8_t *buf, size_t len)
{
	struct t *t = ctx;
	struct link_state *l = &t->links[link];
	assert_true(len <= WINDOW);
	assert_true(l->rx_len + len <= l->rx_cap);
	memcpy(l->rx + l->rx_len, buf, len);
	l->rx_len += len;
	modem_recv_window(t->m, link, WINDOW);
	check_until(t);
}

static void ev_sent(void *ctx, int link, size_t len, bool ok)
{
	struct t *t = ctx;
	struct link_state *l = &t->links[link];
	assert_true(ok);
	l->acked += len;
	pump(t, l);
	check_until(t);
}

static void ev_closed(void *ctx, int link, bool lost)
{
	(void)lost;
	struct t *t = ctx;
	t->links[link].closed = true;
	t->links[link].connected = false;
	check_until(t);
}

struct query {
	int req;
	bool done, ok;
	uint32_t ips[MODEM_RESOLVE_MAX];
	size_t n;
	unsigned rtt;
};
static struct query queries[8];
static int n_queries;

static struct query *query_of(int req)
{
	for (int i = 0; i < n_queries; i++)
		if (queries[i].req == req)
			return &queries[i];
	return NULL;
}

static void ev_resolved(void *ctx, int req, bool ok, const uint32_t *ips, size_t n)
{
	struct query *q = query_of(req);
	assert_non_null(q);
	assert_false(q->done);
	q->done = true;
	q->ok = ok;
	q->n = n;
	if (n)
		memcpy(q->ips, ips, n * sizeof(ips[0]));
	check_until(ctx);
}

static void ev_ping(void *ctx, int req, bool ok, unsigned rtt)
{
	struct query *q = query_of(req);
	assert_non_null(q);
	assert_false(q->done);
	q->done = true;
	q->ok = ok;
	q->rtt = rtt;
	check_until(ctx);
}

static bool queries_done(struct t *t)
{
	(void)t;
	for (int i = 0; i < n_queries; i++)
		if (!queries[i].done)
			return false;
	return true;
}

static void add_query(int req)
{
	assert_true(req >= 0);
	assert_true(n_queries < 8);
	memset(&queries[n_queries], 0, sizeof(queries[0]));
	queries[n_queries++].req = req;
}

static const struct modem_events events = {
	.resolved = ev_resolved,
	.ping_reply = ev_ping,
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

static bool run_until(struct t *t, bool (*until)(struct t *t), double seconds)
{
	if (until(t))
		return true;
	t->until = until;
	t->timed_out = false;
	ev_timer_set(&t->guard, seconds, 0.);
	ev_timer_start(t->loop, &t->guard);
	ev_run(t->loop, 0);
	ev_timer_stop(t->loop, &t->guard);
	t->until = NULL;
	return until(t);
}

static bool is_up(struct t *t)
{
	return t->up;
}

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	t->loop = ev_loop_new(EVFLAG_AUTO);
	ev_timer_init(&t->guard, on_guard, 0., 0.);
	t->guard.data = t;
	server_start(&t->echo, t->loop);
	server_start(&t->shot, t->loop);
	t->shot.one_shot = true;
	sim_start(&t->sim);
	struct modem_config cfg = {
		.device = t->sim.pty,
		.baud = 115200,
		.model = getenv("ATB_MODEL_AUTO") ? "auto" : model,
		.apn = "internet",
		.user = "",
		.password = "",
		.cmd_timeout_ms = 5000,
		.poll_interval_ms = 500,
		.max_inflight = 16384,
	};
	t->m = modem_new(t->loop, &cfg, &events, t);
	assert_non_null(t->m);
	for (int i = 0; i < 8; i++)
		t->links[i].id = i;
	assert_true(run_until(t, is_up, 30));
	assert_true(t->ip[0] != '\0');
	/* also tells that model = auto found the right dialect */
	assert_int_equal(modem_max_links(t->m), strcmp(model, "n11v2") ? 8 : 5);
	/* modem_get_info(): what the simulator says about itself (it has no
	 * AT+COPS: the operator stays unknown) */
	const struct modem_info *mi = modem_get_info(t->m);
	bool n11 = !strcmp(model, "n11v2");
	assert_string_equal(mi->model, n11 ? "N11 V2" : "SIMCOM_SIM7000E");
	assert_string_equal(mi->firmware, n11 ? "N11_1167_SQS63002_V003" : "1351B03SIM7000E");
	assert_string_equal(mi->imei, n11 ? "355910044336974" : "869951030000001");
	assert_int_equal(mi->csq_rssi, 20);
	assert_int_equal(mi->csq_ber, n11 ? -1 : 0);
	assert_string_equal(mi->registration, "home");
	assert_string_equal(mi->dialect, n11 ? "n11v2" : "sim7000");
	assert_string_equal(mi->link_mode, "multi-link");
	assert_string_equal(mi->local_ip, t->ip);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;
	modem_free(t->m);
	sim_stop(&t->sim);
	server_stop(&t->echo);
	server_stop(&t->shot);
	ev_loop_destroy(t->loop);
	for (int i = 0; i < 8; i++)
		free(t->links[i].rx);
	free(t);
	return 0;
}

static uint8_t *random_payload(size_t n, unsigned seed)
{
	uint8_t *p = malloc(n);
	srand(seed);
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rand();
	for (size_t i = 0; i + 12 < n; i += 1009)
		memcpy(p + i, "\x1a\r\nOK\r\nERROR", 12);
	for (size_t i = 500; i + 3 < n; i += 1777)
		memcpy(p + i, "\r\n> ", 4);
	return p;
}

static bool all_echoed(struct t *t)
{
	for (int i = 0; i < 8; i++) {
		struct link_state *l = &t->links[i];
		if (l->tx_len && (l->rx_len < l->tx_len || l->acked < l->tx_len))
			return false;
	}
	return true;
}

static bool all_closed(struct t *t)
{
	for (int i = 0; i < 8; i++)
		if (t->links[i].tx_len && !t->links[i].closed)
			return false;
	return true;
}

static void echo_links(struct t *t, int nlinks, size_t per_link)
{
	uint8_t *data[8];
	for (int k = 0; k < nlinks; k++) {
		data[k] = random_payload(per_link, 100 + (unsigned)k);
		int id = modem_open(t->m, MODEM_TCP, htonl(INADDR_LOOPBACK), t->echo.port);
		assert_true(id >= 0);
		struct link_state *l = &t->links[id];
		l->tx = data[k];
		l->tx_len = per_link;
		l->rx_cap = per_link;
		l->rx = malloc(per_link);
	}
	assert_true(run_until(t, all_echoed, 120));
	for (int i = 0, k = 0; i < 8; i++) {
		struct link_state *l = &t->links[i];
		if (!l->tx_len)
			continue;
		uint8_t a[32], b[32];
		sha256(l->tx, l->tx_len, a);
		sha256(l->rx, l->rx_len, b);
		assert_memory_equal(a, b, 32);
		assert_memory_equal(l->rx, l->tx, l->tx_len);
		modem_close(t->m, i);
		k++;
	}
	assert_true(run_until(t, all_closed, 10));
	assert_int_equal(modem_free_links(t->m), modem_max_links(t->m));
	struct modem_stats st;
	modem_get_stats(t->m, &st);
	assert_int_equal(st.bytes_to_module, (uint64_t)nlinks * per_link);
	assert_int_equal(st.bytes_from_module, (uint64_t)nlinks * per_link);
	assert_int_equal(st.garbage_lines, 0);
	fprintf(stderr, "# %d link(s) x %zu bytes: line tx %llu rx %llu, %llu commands, "
	                "%llu timeouts, payload/line %.3f\n",
	        nlinks, per_link, (unsigned long long)st.line_tx, (unsigned long long)st.line_rx,
	        (unsigned long long)st.commands, (unsigned long long)st.timeouts,
	        (double)(2 * nlinks * per_link) / (double)(st.line_tx + st.line_rx));
	for (int k = 0; k < nlinks; k++)
		free(data[k]);
	for (int i = 0; i < 8; i++) {
		free(t->links[i].rx);
		memset(&t->links[i], 0, sizeof(t->links[i]));
		t->links[i].id = i;
	}
}

static void test_echo_100k(void **state)
{
	echo_links(*state, 1, BULK);
}

static void test_echo_parallel(void **state)
{
	echo_links(*state, NLINKS, BULK / NLINKS);
}

static bool any_failed(struct t *t)
{
	for (int i = 0; i < 8; i++)
		if (t->links[i].failed)
			return true;
	return false;
}

static void test_connect_refused(void **state)
{
	struct t *t = *state;
	int id = modem_open(t->m, MODEM_TCP, htonl(INADDR_LOOPBACK), closed_port());
	assert_true(id >= 0);
	assert_true(run_until(t, any_failed, 30));
	assert_false(t->links[id].connected);
	assert_int_equal(modem_free_links(t->m), modem_max_links(t->m));
}

static bool link0_closed(struct t *t)
{
	for (int i = 0; i < 8; i++)
		if (t->links[i].closed)
			return true;
	return false;
}

/* The server writes 30 000 bytes and closes at once; all of it must arrive
 * before closed(). */
static void test_remote_close_delivers_all(void **state)
{
	struct t *t = *state;
	size_t n = 30000;
	uint8_t *data = random_payload(n, 9);
	t->shot.shot = data;
	t->shot.shot_len = n;
	int id = modem_open(t->m, MODEM_TCP, htonl(INADDR_LOOPBACK), t->shot.port);
	assert_true(id >= 0);
	struct link_state *l = &t->links[id];
	l->rx = malloc(n);
	l->rx_cap = n;
	assert_true(run_until(t, link0_closed, 60));
	assert_int_equal(l->rx_len, n);
	assert_memory_equal(l->rx, data, n);
	assert_int_equal(modem_free_links(t->m), modem_max_links(t->m));
	free(data);
}

/* Names through the module's resolver, several waiting at once; a refused
 * name never reaches the line. */
static void test_resolve(void **state)
{
	struct t *t = *state;
	n_queries = 0;
	add_query(modem_resolve(t->m, "echo.test"));
	add_query(modem_resolve(t->m, "nx.test"));
	add_query(modem_resolve(t->m, "two.test"));
	assert_int_equal(modem_resolve(t->m, "bad\"name"), MODEM_NAME_REFUSED);
	assert_int_equal(modem_resolve(t->m, "a\r\nAT+CFUN=0"), MODEM_NAME_REFUSED);
	assert_true(run_until(t, queries_done, 30));
	assert_true(queries[0].ok);
	assert_int_equal(queries[0].n, 1);
	assert_int_equal(queries[0].ips[0], htonl(0x7f000001));
	assert_false(queries[1].ok);
	assert_true(queries[2].ok);
	assert_int_equal(queries[2].n, 2);
	assert_int_equal(queries[2].ips[0], htonl(0x7f000002));
	assert_int_equal(queries[2].ips[1], htonl(0x7f000003));
}

static void test_ping(void **state)
{
	struct t *t = *state;
	n_queries = 0;
	add_query(modem_ping(t->m, htonl(0x7f000001), 1000));
	add_query(modem_ping(t->m, htonl(0xc0000201), 300)); /* 192.0.2.1: unknown to the simulator */
	assert_true(run_until(t, queries_done, 30));
	assert_true(queries[0].ok);
	assert_false(queries[1].ok);
}

/* The checksum itself, against the FIPS 180-4 example vectors. */
static void test_sha256_vectors(void **state)
{
	(void)state;
	static const uint8_t abc[32] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
		0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
	};
	static const uint8_t two_blocks[32] = {
		0x24, 0x8d, 0x6a, 0x61, 0xd2, 0x06, 0x38, 0xb8, 0xe5, 0xc0, 0x26, 0x93, 0x0c, 0x3e, 0x60, 0x39,
		0xa3, 0x3c, 0xe4, 0x59, 0x64, 0xff, 0x21, 0x67, 0xf6, 0xec, 0xed, 0xd4, 0x19, 0xdb, 0x06, 0xc1,
	};
	uint8_t out[32];
	sha256((const uint8_t *)"abc", 3, out);
	assert_memory_equal(out, abc, 32);
	const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	sha256((const uint8_t *)m, strlen(m), out);
	assert_memory_equal(out, two_blocks, 32);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s PATH-TO-atbridge-sim [sim7000|n11v2]\n", argv[0]);
		return 2;
	}
	sim_path = argv[1];
	if (argc > 2)
		model = argv[2];
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_vectors),
		cmocka_unit_test_setup_teardown(test_echo_100k, setup, teardown),
		cmocka_unit_test_setup_teardown(test_echo_parallel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remote_close_delivers_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ping, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

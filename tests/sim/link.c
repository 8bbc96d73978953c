/* Host-side sockets behind the module's links, and the latency queue that
 * stands for the cellular network between them and the module's buffers. */
#include "sim.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define CONNECT_TIMEOUT 20.0
#define HOST_SNDBUF 16384
#define HOST_RCVBUF 32768

/* ---- latency queue: FIFO per due time, one libev timer ---- */
struct delayed {
	struct delayed *next;
	ev_tstamp due;
	sim_delay_fn fn;
	struct sim_link *l;
	unsigned gen;
	size_t n;
	unsigned char data[];
};

static struct delayed *dq, *dq_tail;
static ev_timer dq_timer;
static bool dq_init;

static void dq_arm(void)
{
	ev_timer_stop(S.loop, &dq_timer);
	if (!dq)
		return;
	double d = dq->due - ev_now(S.loop);
	ev_timer_set(&dq_timer, d > 0 ? d : 0., 0.);
	ev_timer_start(S.loop, &dq_timer);
}

static void dq_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w, (void)revents;
	ev_tstamp now = ev_now(loop);
	while (dq && dq->due <= now + 1e-6) {
		struct delayed *d = dq;
		dq = d->next;
		if (!dq)
			dq_tail = NULL;
		if (!d->l || d->l->gen == d->gen)
			d->fn(d->l, d->data, d->n);
		free(d);
	}
	dq_arm();
}

void sim_delay(double sec, sim_delay_fn fn, struct sim_link *l, const void *data, size_t n)
{
	if (!dq_init) {
		ev_timer_init(&dq_timer, dq_cb, 0., 0.);
		dq_init = true;
	}
	struct delayed *d = malloc(sizeof *d + n);
	if (!d)
		abort();
	d->due = ev_now(S.loop) + sec;
	d->fn = fn;
	d->l = l;
	d->gen = l ? l->gen : 0;
	d->n = n;
	if (n)
		memcpy(d->data, data, n);
	if (!dq_tail || dq_tail->due <= d->due) {
		/* the common case: same latency for everything, append */
		d->next = NULL;
		if (dq_tail)
			dq_tail->next = d;
		else
			dq = d;
		dq_tail = d;
	} else {
		struct delayed **pp = &dq;
		while (*pp && (*pp)->due <= d->due)
			pp = &(*pp)->next;
		d->next = *pp;
		*pp = d;
	}
	if (dq == d)
		dq_arm();
}

void sim_delay_flush(void)
{
	while (dq) {
		struct delayed *d = dq;
		dq = d->next;
		free(d);
	}
	dq_tail = NULL;
	if (dq_init)
		ev_timer_stop(S.loop, &dq_timer);
}

static double latency(void)
{
	return S.o.latency_ms / 1000.0;
}

/* ---- watchers ---- */
static void watch(struct sim_link *l, ev_io *w, bool *on, bool want)
{
	if (want && !*on && l->fd >= 0) {
		ev_io_start(S.loop, w);
		*on = true;
	} else if (!want && *on) {
		ev_io_stop(S.loop, w);
		*on = false;
	}
}

static size_t rx_space(struct sim_link *l)
{
	size_t used = l->rx.len + l->rx_inflight;
	return used >= (size_t)S.o.rxbuf ? 0 : (size_t)S.o.rxbuf - used;
}

static void update_rx_watch(struct sim_link *l)
{
	watch(l, &l->rio, &l->rio_on,
	      l->state == LINK_CONNECTED && !l->eof_seen && rx_space(l) > 0);
}

static void update_tx_watch(struct sim_link *l)
{
	watch(l, &l->wio, &l->wio_on, l->state == LINK_CONNECTING || l->tx.len > 0);
}

/* ---- receive path ---- */
static void rx_arrive(struct sim_link *l, const void *p, size_t n)
{
	l->rx_inflight -= n;
	sim_buf_add(&l->rx, p, n);
	if (l->udp) {
		uint32_t len = (uint32_t)n;
		sim_buf_add(&l->dgrams, &len, sizeof len);
	}
	S.model->link_event(l, LEV_RX);
}

static void eof_arrive(struct sim_link *l, const void *p, size_t n)
{
	(void)p, (void)n;
	l->eof = true;
	S.model->link_event(l, LEV_EOF);
}

static void host_eof(struct sim_link *l)
{
	if (l->eof_seen)
		return;
	l->eof_seen = true;
	update_rx_watch(l);
	sim_delay(latency(), eof_arrive, l, NULL, 0);
}

static void rio_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop, (void)revents;
	struct sim_link *l = w->data;
	unsigned char tmp[65536];
	size_t max = rx_space(l);
	if (max > sizeof tmp)
		max = sizeof tmp;
	if (max == 0) {
		update_rx_watch(l);
		return;
	}
	if (l->udp) {
		/* whole datagrams only: wait for room, drop what can never fit */
		ssize_t want = recv(l->fd, NULL, 0, MSG_PEEK | MSG_TRUNC);
		if (want > (ssize_t)sizeof tmp || want > S.o.rxbuf) {
			recv(l->fd, tmp, 0, 0);
			sim_logv("link %d: %zd-byte datagram dropped (over --rxbuf)", l->id, want);
			return;
		}
		if (want > (ssize_t)max) {
			watch(l, &l->rio, &l->rio_on, false); /* a read re-enables it */
			return;
		}
	}
	ssize_t r = recv(l->fd, tmp, max, 0);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r < 0 && l->udp && errno == ECONNREFUSED)
		return; /* ICMP port unreachable on a UDP link: keep it */
	if (r <= 0 && !l->udp) {
		host_eof(l);
		return;
	}
	if (r <= 0)
		return;
	l->rx_inflight += (size_t)r;
	sim_delay(latency(), rx_arrive, l, tmp, (size_t)r);
	update_rx_watch(l);
}

/* A read never crosses a UDP datagram boundary: one datagram (or the rest
 * of one) at a time. */
size_t sim_link_read(struct sim_link *l, void *p, size_t max)
{
	size_t n = l->rx.len < max ? l->rx.len : max;
	uint32_t head = 0;
	if (l->udp && l->dgrams.len >= sizeof head) {
		memcpy(&head, l->dgrams.data, sizeof head);
		if (n > head)
			n = head;
	}
	if (n == 0)
		return 0;
	memcpy(p, l->rx.data, n);
	sim_buf_consume(&l->rx, n);
	if (l->udp && l->dgrams.len >= sizeof head) {
		head -= (uint32_t)n;
		if (head)
			memcpy(l->dgrams.data, &head, sizeof head);
		else
			sim_buf_consume(&l->dgrams, sizeof head);
	}
	update_rx_watch(l);
	return n;
}

void sim_link_discard_rx(struct sim_link *l)
{
	l->rx.len = 0;
	l->dgrams.len = 0;
	update_rx_watch(l);
}

/* ---- transmit path ---- */
static void tx_result(struct sim_link *l, bool ok)
{
	if (l->send_ok_wait && (!ok || l->tx_written >= l->send_ok_mark)) {
		l->send_ok_wait = false;
		S.model->link_event(l, ok ? LEV_TX_DONE : LEV_TX_FAIL);
	}
}

static void tx_flush(struct sim_link *l)
{
	size_t before = l->tx.len;
	while (l->tx.len && l->fd >= 0 && !l->failed) {
		ssize_t w = send(l->fd, l->tx.data, l->tx.len, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			l->failed = true;
			l->tx.len = 0;
			tx_result(l, false);
			host_eof(l);
			break;
		}
		l->tx_written += (uint64_t)w;
		sim_buf_consume(&l->tx, (size_t)w);
	}
	if (!l->failed)
		tx_result(l, true);
	update_tx_watch(l);
	/* Room again: transparent mode stopped taking bytes from the line
	 * while the buffer was full (trans.c), and nothing else wakes it. */
	if (l->tx.len < before)
		sim_kick();
}

static void tx_arrive(struct sim_link *l, const void *p, size_t n)
{
	l->tx_inflight -= n;
	if (l->fd < 0 || l->failed) {
		tx_result(l, false);
		return;
	}
	if (l->udp) {
		/* one CIPSEND, one datagram; one lost on the host is still "sent" */
		if (send(l->fd, p, n, MSG_NOSIGNAL) < 0)
			sim_logv("link %d: UDP send failed", l->id);
		l->tx_written += n;
		tx_result(l, true);
		return;
	}
	sim_buf_add(&l->tx, p, n);
	tx_flush(l);
}

size_t sim_link_tx_free(struct sim_link *l)
{
	size_t used = l->tx.len + l->tx_inflight;
	return used >= SIM_TXBUF ? 0 : SIM_TXBUF - used;
}

void sim_link_send(struct sim_link *l, const void *p, size_t n, bool want_done)
{
	l->tx_total += n;
	if (want_done) {
		l->send_ok_mark = l->tx_written + l->tx.len + l->tx_inflight + n;
		l->send_ok_wait = true;
	}
	l->tx_inflight += n;
	sim_delay(latency(), tx_arrive, l, p, n);
}

bool sim_link_acks(struct sim_link *l, uint64_t *acked)
{
	if (l->udp) {
		*acked = 0;
		return true;
	}
	if (l->fd >= 0) {
		int outq = 0;
		if (ioctl(l->fd, SIOCOUTQ, &outq) == 0 && outq >= 0 &&
		    (uint64_t)outq <= l->tx_written)
			l->acked_last = l->tx_written - (uint64_t)outq;
	}
	*acked = l->acked_last;
	return true;
}

/* ---- connect ---- */
static void connect_ok(struct sim_link *l, const void *p, size_t n)
{
	(void)p, (void)n;
	ev_timer_stop(S.loop, &l->conn_timeout);
	l->state = LINK_CONNECTED;
	update_rx_watch(l);
	update_tx_watch(l);
	S.model->link_event(l, l->accepted ? LEV_ACCEPTED : LEV_CONNECT_OK);
}

static void connect_fail(struct sim_link *l, const void *p, size_t n)
{
	(void)p, (void)n;
	sim_link_close(l);
	S.model->link_event(l, LEV_CONNECT_FAIL);
}

static void connect_done(struct sim_link *l, bool ok)
{
	ev_timer_stop(S.loop, &l->conn_timeout);
	watch(l, &l->wio, &l->wio_on, false);
	sim_delay(latency(), ok ? connect_ok : connect_fail, l, NULL, 0);
}

static void wio_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop, (void)revents;
	struct sim_link *l = w->data;
	if (l->state == LINK_CONNECTING) {
		if (ev_is_active(&l->conn_timeout) == 0)
			return; /* result already queued */
		int err = 0;
		socklen_t len = sizeof err;
		getsockopt(l->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		connect_done(l, err == 0);
		return;
	}
	tx_flush(l);
}

static void conn_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)revents;
	struct sim_link *l = w->data;
	connect_done(l, false);
}

/* a link (re)starts: connecting, every count and flag of its last use gone */
static void link_start(struct sim_link *l, bool udp)
{
	sim_link_close(l);
	l->udp = udp;
	l->accepted = false;
	l->ever_used = true;
	l->state = LINK_CONNECTING;
	l->manual_rx = false;
	l->eof = l->eof_seen = l->failed = l->notified = false;
	l->tx_total = l->tx_written = l->acked_last = 0;
	l->send_ok_wait = false;
}

static void link_watchers(struct sim_link *l)
{
	ev_io_init(&l->rio, rio_cb, l->fd, EV_READ);
	ev_io_init(&l->wio, wio_cb, l->fd, EV_WRITE);
	l->rio.data = l->wio.data = l;
	ev_timer_init(&l->conn_timeout, conn_timeout_cb, CONNECT_TIMEOUT, 0.);
	l->conn_timeout.data = l;
}

bool sim_link_mark(int fd)
{
	/* atbridge --sim routes marked sockets around its own tun */
	unsigned mark = (unsigned)S.o.fwmark;
	return !S.o.fwmark || setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) == 0;
}

void sim_link_host_buffers(int fd)
{
	/* a module's TCP send window is small; keep the host's alike so
	 * that CIPACK and the tx buffer see a slow receiver */
	int sb = HOST_SNDBUF, rb = HOST_RCVBUF;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sb, sizeof sb);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rb, sizeof rb);
}

bool sim_link_open(struct sim_link *l, bool udp, struct in_addr a, int port, int lport)
{
	link_start(l, udp);
	memset(&l->peer, 0, sizeof l->peer);
	l->peer.sin_family = AF_INET;
	l->peer.sin_addr = a;
	l->peer.sin_port = htons((uint16_t)port);
	l->fd = socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	link_watchers(l);
	if (l->fd < 0) {
		sim_delay(latency(), connect_fail, l, NULL, 0);
		return true;
	}
	if (!sim_link_mark(l->fd)) {
		close(l->fd);
		l->fd = -1;
		sim_delay(latency(), connect_fail, l, NULL, 0);
		return true;
	}
	if (!udp)
		sim_link_host_buffers(l->fd);
	if (lport > 0) {
		int one = 1;
		setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons((uint16_t)lport) };
		bind(l->fd, (struct sockaddr *)&me, sizeof me);
	}
	ev_timer_start(S.loop, &l->conn_timeout);
	int r = connect(l->fd, (struct sockaddr *)&l->peer, sizeof l->peer);
	if (r == 0)
		connect_done(l, true);
	else if (errno == EINPROGRESS)
		watch(l, &l->wio, &l->wio_on, true);
	else
		connect_done(l, false);
	return true;
}

void sim_link_open_fail(struct sim_link *l)
{
	link_start(l, l->udp);
	sim_delay(latency(), connect_fail, l, NULL, 0);
}

/* The SYN crossed the network before the module accepted; the link's
 * notification (REMOTE IP, AcceptSocket) comes one latency after the host's
 * accept, and data only after it. */
void sim_link_adopt(struct sim_link *l, int fd, const struct sockaddr_in *peer, bool manual_rx)
{
	link_start(l, false);
	l->accepted = true;
	l->manual_rx = manual_rx;
	l->peer = *peer;
	sim_strlcpy(l->host, inet_ntoa(peer->sin_addr), sizeof l->host);
	l->fd = fd;
	link_watchers(l);
	sim_delay(latency(), connect_ok, l, NULL, 0);
}

void sim_link_remote_close(struct sim_link *l)
{
	if (l->fd >= 0) {
		watch(l, &l->rio, &l->rio_on, false);
		watch(l, &l->wio, &l->wio_on, false);
		close(l->fd);
		l->fd = -1;
	}
	l->failed = true;
	l->tx.len = 0;
	host_eof(l);
}

void sim_link_close(struct sim_link *l)
{
	if (l->fd >= 0) {
		watch(l, &l->rio, &l->rio_on, false);
		watch(l, &l->wio, &l->wio_on, false);
		close(l->fd);
	}
	if (S.loop)
		ev_timer_stop(S.loop, &l->conn_timeout);
	l->fd = -1;
	l->gen++;
	if (l->state != LINK_INITIAL)
		l->state = LINK_CLOSED;
	l->rx.len = 0;
	l->dgrams.len = 0;
	l->tx.len = 0;
	l->rx_inflight = l->tx_inflight = 0;
	l->send_ok_wait = false;
}

void sim_link_close_all(void)
{
	for (int i = 0; i < SIM_LINKS; i++)
		sim_link_close(&S.links[i]);
}

void sim_links_init(void)
{
	for (int i = 0; i < SIM_LINKS; i++) {
		struct sim_link *l = &S.links[i];
		memset(l, 0, sizeof *l);
		l->id = i;
		l->fd = -1;
		ev_timer_init(&l->conn_timeout, conn_timeout_cb, CONNECT_TIMEOUT, 0.);
		l->conn_timeout.data = l;
	}
}

/* control "wrong-link": the read is answered from another connected link
 * of the same kind that is read by command, under that link's id; with no
 * such link, under the next link id with the asked link's own data. */
struct sim_link *sim_read_link(struct sim_link *asked, int nlinks, int *hdr_id)
{
	*hdr_id = asked->id;
	if (S.wrong_link <= 0 || nlinks < 2)
		return asked;
	S.wrong_link--;
	for (int i = 0; i < nlinks; i++) {
		struct sim_link *o = &S.links[i];
		if (o != asked && o->state == LINK_CONNECTED && o->manual_rx && o->udp == asked->udp) {
			*hdr_id = i;
			sim_logv("wrong-link: read of link %d answered for link %d", asked->id, i);
			return o;
		}
	}
	*hdr_id = (asked->id + 1) % nlinks;
	sim_logv("wrong-link: read of link %d answered as link %d", asked->id, *hdr_id);
	return asked;
}

/* Inbound port forwards (inbound.h). One struct conn per accepted link:
 * a non-blocking kernel socket toward the target, a bounded buffer of
 * module bytes not yet written to it, and the module's own bounded send
 * queue for the other direction (modem_send_space). */
#include "inbound.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bridge.h"
#include "log.h"

/* Module bytes waiting for the target: the window the module gets. */
#define INBOUND_BUF 32768
#define INBOUND_CONNS MODEM_LINKS_MAX

struct fwd {
	struct inbound_forward f;
	struct inbound_fwd_stats st;
};

struct conn {
	struct inbound *in;
	struct fwd *fw;
	bool used;
	int link;       /* -1: the module's side is gone */
	int fd;
	ev_io rio, wio;
	bool connecting;
	bool target_eof;   /* the target sent FIN: the link is closing */
	bool module_done;  /* the module's side closed cleanly: flush, then close */
	uint8_t buf[INBOUND_BUF];
	size_t len;
};

struct inbound {
	struct bridge *b;
	struct fwd fwd[INBOUND_FORWARDS_MAX];
	size_t n;
	unsigned max_links;
	struct conn conns[INBOUND_CONNS];
};

static const struct link_ops conn_link_ops;

static const char *addr_str(uint32_t ip, uint16_t port, char *out, size_t len)
{
	char a[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &ip, a, sizeof(a));
	snprintf(out, len, "%s:%u", a, (unsigned)port);
	return out;
}

unsigned inbound_links_held(const struct inbound *in)
{
	unsigned n = 0;
	for (size_t i = 0; i < INBOUND_CONNS; i++)
		n += in->conns[i].used && in->conns[i].link >= 0;
	return n;
}

static unsigned link_share(const struct inbound *in)
{
	if (in->max_links)
		return in->max_links;
	int links = in->b->modem ? modem_max_links(in->b->modem) : 0;
	return links > 1 ? (unsigned)links / 2 : 0;
}

/* ---- ending a connection ---- */

static void conn_free(struct conn *c)
{
	struct inbound *in = c->in;
	ev_io_stop(in->b->loop, &c->rio);
	ev_io_stop(in->b->loop, &c->wio);
	if (c->fd >= 0)
		close(c->fd);
	if (c->link >= 0)
		links_release(&in->b->links, c->link, c);
	if (c->fw->st.active)
		c->fw->st.active--;
	c->used = false;
}

/* The stream may have lost bytes: RST to the target, the module's link
 * closed (it has no reset to give). */
static void conn_reset(struct conn *c, const char *why)
{
	log_info("forward %s: %s; resetting the connection", c->fw->f.spec, why);
	c->fw->st.reset++;
	if (c->fd >= 0) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };
		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	if (c->link >= 0 && c->in->b->modem)
		modem_close(c->in->b->modem, c->link);
	conn_free(c);
}

/* ---- target side ---- */

/* The module may send what the buffer has room for, also while the target
 * connects (a module that pushes an accepted link's data cannot be told to
 * wait, and its client talks first). */
static void set_window(struct conn *c)
{
	if (c->link >= 0)
		modem_recv_window(c->in->b->modem, c->link, INBOUND_BUF - c->len);
}

static void flush_target(struct conn *c)
{
	struct ev_loop *loop = c->in->b->loop;
	while (c->len > 0) {
		ssize_t n = send(c->fd, c->buf, c->len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			conn_reset(c, "the target stopped taking data");
			return;
		}
		memmove(c->buf, c->buf + n, c->len - (size_t)n);
		c->len -= (size_t)n;
		c->fw->st.bytes_in += (uint64_t)n;
	}
	if (c->len > 0) {
		ev_io_start(loop, &c->wio);
		set_window(c);
		return;
	}
	ev_io_stop(loop, &c->wio);
	if (c->module_done) {
		/* Everything the remote sent was delivered: FIN to the target
		 * (unread bytes from it would make the kernel send RST, which
		 * is right: they can no longer reach the remote). */
		conn_free(c);
		return;
	}
	set_window(c);
}

/* Target bytes to the module, as much as its queue takes. */
static void pump_up(struct conn *c)
{
	struct modem *m = c->in->b->modem;
	uint8_t tmp[4096];
	while (c->link >= 0 && !c->target_eof) {
		size_t space = modem_send_space(m, c->link);
		if (space == 0) {
			ev_io_stop(c->in->b->loop, &c->rio); /* sent() resumes */
			return;
		}
		ssize_t n = recv(c->fd, tmp, space < sizeof(tmp) ? space : sizeof(tmp), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			ev_io_start(c->in->b->loop, &c->rio);
			return;
		}
		if (n < 0) {
			conn_reset(c, "the target reset the connection");
			return;
		}
		if (n == 0) {
			/* The target is done: the module closes after what it
			 * queued (a remote cannot be half-closed through it). */
			c->target_eof = true;
			ev_io_stop(c->in->b->loop, &c->rio);
			modem_close(m, c->link);
			return;
		}
		size_t took = modem_send(m, c->link, tmp, (size_t)n);
		if (took != (size_t)n) {
			conn_reset(c, "the module took less than it offered");
			return;
		}
		c->fw->st.bytes_out += (uint64_t)n;
	}
}

static void on_target_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	pump_up(w->data);
}

static void connected_to_target(struct conn *c)
{
	c->connecting = false;
	ev_io_stop(c->in->b->loop, &c->wio);
	flush_target(c); /* what came while connecting */
	if (c->used)
		pump_up(c);
}

static void on_target_writable(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	struct conn *c = w->data;
	if (c->connecting) {
		int err = 0;
		socklen_t len = sizeof(err);
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err) {
			char a[32];
			log_warn("forward %s: target %s: %s; closing the module's link", c->fw->f.spec,
			         addr_str(c->fw->f.host, c->fw->f.port, a, sizeof(a)), strerror(err));
			c->fw->st.refused_target++;
			modem_close(c->in->b->modem, c->link);
			conn_free(c);
			return;
		}
		connected_to_target(c);
		return;
	}
	flush_target(c);
}

/* ---- module side (link_ops) ---- */

static void conn_connected(void *owner, int link, bool ok)
{
	(void)owner;
	(void)link;
	(void)ok; /* an accepted link is open from the start */
}

static void conn_data(void *owner, int link, const uint8_t *buf, size_t len)
{
	(void)link;
	struct conn *c = owner;
	if (len > INBOUND_BUF - c->len) {
		conn_reset(c, "the module sent beyond the window");
		return;
	}
	memcpy(c->buf + c->len, buf, len);
	c->len += len;
	if (!c->connecting)
		flush_target(c);
}

static void conn_sent(void *owner, int link, size_t len, bool ok)
{
	(void)link;
	(void)len;
	struct conn *c = owner;
	if (!ok) {
		conn_reset(c, "the module lost bytes on the link");
		return;
	}
	if (!c->connecting && !c->target_eof)
		pump_up(c);
}

static void conn_closed(void *owner, int link, bool lost)
{
	(void)link;
	struct conn *c = owner;
	c->link = -1; /* the slot is released already */
	if (lost) {
		conn_reset(c, "the module's link ended with loss");
		return;
	}
	if (c->connecting) {
		conn_free(c);
		return;
	}
	c->module_done = true;
	ev_io_stop(c->in->b->loop, &c->rio);
	flush_target(c);
}

static const struct link_ops conn_link_ops = {
	.kind = "inbound",
	.connected = conn_connected,
	.data = conn_data,
	.sent = conn_sent,
	.closed = conn_closed,
};

/* ---- from the modem ---- */

static struct fwd *fwd_of(struct inbound *in, uint16_t port)
{
	for (size_t i = 0; i < in->n; i++)
		if (in->fwd[i].f.module_port == port)
			return &in->fwd[i];
	return NULL;
}

void inbound_on_listening(struct inbound *in, uint16_t port, bool ok)
{
	struct fwd *fw = fwd_of(in, port);
	if (fw)
		fw->st.listening = ok;
}

static int open_target(const struct inbound_forward *f)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = f->host, .sin_port = htons(f->port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static struct conn *conn_slot(struct inbound *in)
{
	for (size_t i = 0; i < INBOUND_CONNS; i++)
		if (!in->conns[i].used)
			return &in->conns[i];
	return NULL;
}

void inbound_on_accepted(struct inbound *in, int link, uint16_t port, uint32_t peer_ip, uint16_t peer_port)
{
	struct modem *m = in->b->modem;
	struct fwd *fw = fwd_of(in, port);
	char peer[32];
	addr_str(peer_ip, peer_port, peer, sizeof(peer));
	if (!fw && in->n == 1)
		fw = &in->fwd[0]; /* the module did not say which port: it has one */
	if (!fw) {
		log_warn("module accepted %s on port %u, which no forward names; closing it", peer, (unsigned)port);
		modem_close(m, link);
		return;
	}
	fw->st.accepted++;
	struct conn *c = conn_slot(in);
	if (!c || inbound_links_held(in) >= link_share(in)) {
		log_warn("forward %s: %s refused: inbound connections hold their share of links (%u)", fw->f.spec,
		         peer, link_share(in));
		fw->st.refused_share++;
		modem_close(m, link);
		return;
	}
	int fd = open_target(&fw->f);
	if (fd < 0) {
		log_warn("forward %s: %s: target: %s; closing the module's link", fw->f.spec, peer, strerror(errno));
		fw->st.refused_target++;
		modem_close(m, link);
		return;
	}
	if (!links_claim(&in->b->links, link, &conn_link_ops, c)) {
		log_err("forward %s: module link %d is held by another flow; closing it", fw->f.spec, link);
		close(fd);
		modem_close(m, link);
		return;
	}
	*c = (struct conn){ .in = in, .fw = fw, .used = true, .link = link, .fd = fd, .connecting = true };
	ev_io_init(&c->rio, on_target_readable, fd, EV_READ);
	ev_io_init(&c->wio, on_target_writable, fd, EV_WRITE);
	c->rio.data = c->wio.data = c;
	ev_io_start(in->b->loop, &c->wio);
	fw->st.active++;
	set_window(c);
	log_info("forward %s: connection from %s on module link %d", fw->f.spec, peer, link);
}

void inbound_link_down(struct inbound *in)
{
	for (size_t i = 0; i < INBOUND_CONNS; i++) {
		struct conn *c = &in->conns[i];
		if (!c->used)
			continue;
		c->link = -1; /* every link is gone already */
		conn_reset(c, "the data link went down");
	}
	for (size_t i = 0; i < in->n; i++)
		in->fwd[i].st.listening = false;
}

/* ---- life ---- */

struct inbound *inbound_new(struct bridge *b, const struct inbound_config *cfg)
{
	struct inbound *in = calloc(1, sizeof(*in));
	if (!in)
		return NULL;
	in->b = b;
	in->n = cfg->n < INBOUND_FORWARDS_MAX ? cfg->n : INBOUND_FORWARDS_MAX;
	in->max_links = cfg->max_links;
	for (size_t i = 0; i < in->n; i++) {
		in->fwd[i].f = cfg->fwd[i];
		in->fwd[i].st.spec = in->fwd[i].f.spec;
	}
	return in;
}

void inbound_free(struct inbound *in)
{
	if (!in)
		return;
	for (size_t i = 0; i < INBOUND_CONNS; i++)
		if (in->conns[i].used)
			conn_reset(&in->conns[i], "atbridge is stopping");
	free(in);
}

void inbound_set_modem(struct inbound *in)
{
	for (size_t i = 0; i < in->n; i++)
		if (!modem_listen(in->b->modem, in->fwd[i].f.module_port))
			log_err("forward %s: the module cannot be asked to listen on port %u", in->fwd[i].f.spec,
			        (unsigned)in->fwd[i].f.module_port);
}

size_t inbound_forwards(const struct inbound *in)
{
	return in->n;
}

void inbound_get_stats(const struct inbound *in, size_t i, struct inbound_fwd_stats *out)
{
	*out = in->fwd[i].st;
}

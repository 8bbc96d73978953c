/* The multi-link engine's server side: the ports the module listens on
 * (SIM7000 AT+CIPSERVER, N11V2 AT+TCPLISTEN) and the links it accepts on
 * them. An accepted link is an ordinary link from then on, with the
 * module's own commands where they differ (N11V2 TCPSENDS, TCPACKS,
 * CLOSECLIENT) and, where the module pushes an accepted link's data
 * (N11V2 +TCPRECV(S)), no reads: the pushed bytes go to the bridge as
 * they come, within its window and one chunk of hold, and a link that
 * would overflow that ends with loss.
 *
 * Listening follows the data link: after every bring-up the engine asks
 * for each port of m->listen_ports before the bridge hears that the link
 * is up (the SIM7000 manual allows CIPSERVER in multi-IP mode only in "IP
 * STATUS", before any connection), and a listen that fails or a listener
 * the module drops is asked for again after MLINK_LISTEN_RETRY_S.
 */
#include <ev.h>
#include <string.h>

#include "log.h"
#include "mlink_priv.h"

#define MLINK_LISTEN_RETRY_S 10.0
/* How long a listen's confirming notification may take (SIM7000: OK, then
 * "SERVER OK"). */
#define MLINK_LISTEN_WAIT_S 10.0

int mlink_max_listeners(const struct modem *m)
{
	const struct mlink_model *mo = ML(m)->mo;
	return mo->listen.build ? mo->listeners : 0;
}

bool mlink_listening(const struct modem *m)
{
	const struct mlink *s = ML(m);
	for (int i = 0; i < MODEM_LISTEN_MAX; i++)
		if (s->lis[i].st != LS_OFF)
			return true;
	return false;
}

int mlink_listen_sockets(const struct modem *m)
{
	const struct mlink *s = ML(m);
	int n = 0;
	for (int i = 0; i < s->mo->links; i++)
		n += s->links[i].state == ML_LISTEN;
	return n;
}

static void report(struct modem *m, uint16_t port, bool ok)
{
	if (m->ev.listening)
		m->ev.listening(m->ctx, port, ok);
}

static void release_sock(struct mlink *s, struct mlink_listener *li)
{
	if (li->sock >= 0 && li->sock < s->mo->links && s->links[li->sock].state == ML_LISTEN)
		mlink_link_reset(&s->links[li->sock]);
	li->sock = -1;
}

/* A listener is gone or was refused: tell the bridge, try again later. */
static void listener_failed(struct modem *m, struct mlink_listener *li, const char *why)
{
	struct mlink *s = ML(m);
	uint16_t port = li->port;
	log_warn("%s: listening on port %u: %s; trying again in %.0f s", s->mo->name, (unsigned)port, why,
	         MLINK_LISTEN_RETRY_S);
	release_sock(s, li);
	li->st = LS_OFF;
	ev_timer_stop(m->loop, &s->listen_timer);
	ev_timer_set(&s->listen_timer, MLINK_LISTEN_RETRY_S, 0.);
	ev_timer_start(m->loop, &s->listen_timer);
	report(m, port, false);
}

static struct mlink_listener *listener_of(struct mlink *s, uint16_t port)
{
	for (int i = 0; i < MODEM_LISTEN_MAX; i++)
		if (s->lis[i].port == port && s->lis[i].st != LS_OFF)
			return &s->lis[i];
	return NULL;
}

static void listener_up(struct modem *m, struct mlink_listener *li, int sock)
{
	struct mlink *s = ML(m);
	li->st = LS_ON;
	li->sock = -1;
	if (sock >= 0 && sock < s->mo->links) {
		/* The listener holds a socket in the module's table: no
		 * connect may go out on it. */
		if (s->links[sock].state == ML_FREE) {
			struct mlink_link *l = &s->links[sock];
			mlink_link_reset(l);
			l->state = ML_LISTEN;
			l->connect_reported = l->silent_close = true;
			li->sock = sock;
		} else {
			log_warn("%s: the listener on port %u took socket %d, which holds a link here",
			         s->mo->name, (unsigned)li->port, sock);
		}
	}
	log_info("%s: listening on port %u", s->mo->name, (unsigned)li->port);
	report(m, li->port, true);
}

static void on_listen_done(void *ctx, const struct at_cmd *cmd, enum at_result res, const char *final_line)
{
	struct modem *m = ctx;
	struct mlink *s = ML(m);
	if ((cmd->tag >> 16) != (s->gen & 0xffffu))
		return; /* asked before the data context was lost */
	struct mlink_listener *li = listener_of(s, (uint16_t)(cmd->tag & 0xffffu));
	if (!li || li->st != LS_ASKED)
		return;
	int sock = -1;
	int r = res == AT_RES_OK ? s->mo->listen_result(final_line, &sock) : -1;
	if (r > 0) {
		listener_up(m, li, sock);
	} else if (r == 0) {
		li->st = LS_WAIT;
		ev_timer_stop(m->loop, &s->listen_timer);
		ev_timer_set(&s->listen_timer, MLINK_LISTEN_WAIT_S, 0.);
		ev_timer_start(m->loop, &s->listen_timer);
	} else {
		listener_failed(m, li, res == AT_RES_TIMEOUT ? "no answer" : final_line);
	}
}

static void ask(struct modem *m, struct mlink_listener *li)
{
	struct mlink *s = ML(m);
	struct at_cmd cmd = { 0 };
	struct mlink_req r = { .port = li->port };
	if (!s->mo->listen.build(cmd.text, sizeof(cmd.text), &r))
		return;
	cmd.final = s->mo->listen.final;
	cmd.flags = s->mo->listen.flags;
	cmd.ctx = m;
	cmd.tag = ((s->gen & 0xffffu) << 16) | li->port;
	cmd.timeout_ms = m->cfg.cmd_timeout_ms;
	cmd.done = on_listen_done;
	li->st = LS_ASKED;
	if (!at_chan_submit(m->chan, &cmd))
		listener_failed(m, li, "the command queue is full");
}

/* Asks for every port not listened on yet that the module has room for. */
static void listen_all(struct modem *m)
{
	struct mlink *s = ML(m);
	if (!m->up || !s->mo->listen.build)
		return;
	int held = 0;
	for (int i = 0; i < MODEM_LISTEN_MAX; i++)
		held += s->lis[i].st != LS_OFF;
	for (size_t k = 0; k < m->n_listen; k++) {
		uint16_t port = m->listen_ports[k];
		if (listener_of(s, port))
			continue;
		if (held >= s->mo->listeners) {
			log_err("%s: cannot listen on port %u: the module listens on %d port%s at once",
			        s->mo->name, (unsigned)port, s->mo->listeners, s->mo->listeners == 1 ? "" : "s");
			report(m, port, false);
			continue;
		}
		for (int i = 0; i < MODEM_LISTEN_MAX; i++) {
			if (s->lis[i].st == LS_OFF) {
				s->lis[i] = (struct mlink_listener){ .port = port, .sock = -1 };
				held++;
				ask(m, &s->lis[i]);
				break;
			}
		}
	}
}

void mlink_listen(struct modem *m, uint16_t port)
{
	(void)port;
	listen_all(m);
}

void mlink_listen_start(struct modem *m)
{
	ev_timer_stop(m->loop, &ML(m)->listen_timer);
	listen_all(m);
}

void mlink_listen_down(struct modem *m)
{
	struct mlink *s = ML(m);
	ev_timer_stop(m->loop, &s->listen_timer);
	for (int i = 0; i < MODEM_LISTEN_MAX; i++)
		s->lis[i] = (struct mlink_listener){ .sock = -1 };
	s->push_link = -1;
}

/* A confirmation that did not come, or a retry that is due. */
static void on_listen_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct modem *m = w->data;
	struct mlink *s = ML(m);
	for (int i = 0; i < MODEM_LISTEN_MAX; i++)
		if (s->lis[i].st == LS_WAIT)
			listener_failed(m, &s->lis[i], "the module did not confirm it");
	listen_all(m);
}

/* ---- accepted links ---- */

static uint16_t accepted_port(const struct mlink *s)
{
	/* Every module here listens on one port: the one that is on. */
	for (int i = 0; i < MODEM_LISTEN_MAX; i++)
		if (s->lis[i].st == LS_ON || s->lis[i].st == LS_WAIT)
			return s->lis[i].port;
	return 0;
}

static void accepted(struct modem *m, int id, const char *line)
{
	struct mlink *s = ML(m);
	struct mlink_link *l = &s->links[id];
	uint32_t ip = 0;
	uint16_t peer = 0;
	if (l->state == ML_CONNECTING) {
		/* The module gave this socket to a client before our connect on
		 * it was read: the client has it, the connect fails (its answer
		 * finds the link no longer connecting). */
		log_warn("%s link %d: accepted a connection on the socket of a connect under way",
		         s->mo->name, id);
		bool reported = l->connect_reported;
		mlink_link_reset(l);
		l->state = ML_OPEN; /* taken before the bridge may open again */
		if (!reported && m->ev.connected)
			m->ev.connected(m->ctx, id, false);
	} else if (l->state != ML_FREE) {
		log_warn("%s link %d: accepted a connection on a socket that holds a link here", s->mo->name, id);
		mlink_link_fail(l, "the module gave its socket to an accepted connection");
		return;
	}
	mlink_link_reset(l);
	l->state = ML_OPEN;
	l->proto = MODEM_TCP;
	l->inbound = true;
	l->push = s->mo->push_in;
	l->connect_reported = true;
	if (s->mo->accept_peer)
		s->mo->accept_peer(line, &ip, &peer);
	if (m->ev.accepted)
		m->ev.accepted(m->ctx, id, accepted_port(s), ip, peer);
	else
		mlink_link_fail(l, "nobody takes accepted connections");
	at_chan_kick(m->chan);
}

void mlink_push_payload(void *ctx, const uint8_t *data, size_t len)
{
	struct modem *m = ctx;
	struct mlink *s = ML(m);
	int id = s->push_link;
	s->push_link = -1;
	if (id < 0)
		return;
	struct mlink_link *l = &s->links[id];
	if (l->state != ML_OPEN || !l->push)
		return;
	m->bytes_from_module += len;
	size_t room = sizeof(l->hold) - l->hold_len;
	size_t now = l->hold_len ? 0 : len < l->window ? len : l->window;
	if (len - now > room) {
		mlink_link_fail(l, "the module pushed more than the bridge can take");
		return;
	}
	/* Bytes beyond the window, and any behind bytes that wait already,
	 * wait in hold for the window to reopen. */
	memcpy(l->hold + l->hold_len, data + now, len - now);
	l->hold_len += len - now;
	l->window -= now;
	if (l->hold_len && l->window)
		ev_timer_start(m->loop, &s->hold_timer);
	if (now && m->ev.data)
		m->ev.data(m->ctx, l->id, data, now);
}

/* The line of an ME_PUSH: which link the bytes after it are for. */
static void push_line(struct modem *m, int id)
{
	struct mlink *s = ML(m);
	s->push_link = -1;
	if (id < 0 || id >= s->mo->links)
		return;
	struct mlink_link *l = &s->links[id];
	if (l->state == ML_OPEN && l->push)
		s->push_link = id;
	else if (l->state != ML_FREE && l->state != ML_LISTEN)
		mlink_link_fail(l, "the module pushed data for a link that does not take pushes");
}

/* A close naming a listener's socket is the listener's (N11V2
 * +CLOSELISTEN: <sock>,...); true when it was. */
static bool listener_sock_closed(struct modem *m, int id)
{
	struct mlink *s = ML(m);
	for (int i = 0; i < MODEM_LISTEN_MAX; i++) {
		if (s->lis[i].st != LS_OFF && s->lis[i].sock == id && id >= 0) {
			listener_failed(m, &s->lis[i], "the module closed the listener");
			return true;
		}
	}
	return false;
}

bool mlink_listen_event(struct modem *m, enum mlink_event ev, int id, const char *line)
{
	struct mlink *s = ML(m);
	switch (ev) {
	case ME_LISTENING:
		/* also before the command's OK */
		for (int i = 0; i < MODEM_LISTEN_MAX; i++)
			if (s->lis[i].st == LS_WAIT || s->lis[i].st == LS_ASKED) {
				ev_timer_stop(m->loop, &s->listen_timer);
				listener_up(m, &s->lis[i], -1);
			}
		return true;
	case ME_LISTEN_CLOSED:
		for (int i = 0; i < MODEM_LISTEN_MAX; i++)
			if (s->lis[i].st != LS_OFF && m->up)
				listener_failed(m, &s->lis[i], line);
		return true;
	case ME_ACCEPTED:
		if (m->up && id >= 0 && id < s->mo->links)
			accepted(m, id, line);
		return true;
	case ME_PUSH:
		push_line(m, id);
		return true;
	case ME_CLOSED:
		return listener_sock_closed(m, id);
	default:
		return false;
	}
}

void mlink_listen_init(struct modem *m)
{
	struct mlink *s = ML(m);
	ev_timer_init(&s->listen_timer, on_listen_timer, 0., 0.);
	s->listen_timer.data = m;
	s->push_link = -1;
	for (int i = 0; i < MODEM_LISTEN_MAX; i++)
		s->lis[i].sock = -1;
}

void mlink_listen_stop(struct modem *m)
{
	ev_timer_stop(m->loop, &ML(m)->listen_timer);
}

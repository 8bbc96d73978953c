/* The multi-link engine (mlink.h): links, the data path and the scheduler.
 *
 * Data commands are not queued: the channel calls mlink_idle() whenever the
 * line is free, and the scheduler there picks the next send or read
 * round-robin over (link, direction) slots. Control commands (open,
 * bring-up) go through the channel's queue. What each command looks like
 * and how its answer reads comes from the module's struct mlink_model.
 */
#include <ev.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "at_cmd.h"
#include "log.h"
#include "mlink_priv.h"

static uint32_t make_tag(const struct modem *m, int link)
{
	return (ML(m)->gen << 4) | (uint32_t)link;
}

struct mlink_link *mlink_tag_link(struct modem *m, uint32_t tag)
{
	struct mlink *s = ML(m);
	if ((tag >> 4) != (s->gen & 0x0fffffffu) || (int)(tag & 0xf) >= s->mo->links)
		return NULL;
	return &s->links[tag & 0xf];
}

/* ---- link life cycle ---- */

static void start_close(struct mlink_link *l);
static void link_reclaim(struct mlink_link *l);

void mlink_link_reset(struct mlink_link *l)
{
	struct modem *m = l->m;
	int id = l->id;
	ev_timer_stop(m->loop, &l->connect_timer);
	ev_timer saved = l->connect_timer;
	memset(l, 0, sizeof(*l));
	l->connect_timer = saved;
	l->m = m;
	l->id = id;
}

void mlink_link_closed(struct mlink_link *l)
{
	struct modem *m = l->m;
	bool silent = l->silent_close, lost = l->lost;
	mlink_link_reset(l);
	if (!silent && m->ev.closed)
		m->ev.closed(m->ctx, l->id, lost);
}

void mlink_link_fail(struct mlink_link *l, const char *why)
{
	if (l->state != ML_OPEN && l->state != ML_DRAINING && l->state != ML_CLOSING)
		return;
	if (!l->lost)
		log_warn("%s link %d: %s; resetting its flow", MO(l)->name, l->id, why);
	l->lost = true;
	l->fin_check = l->fin_sync = false;
	/* The client hears of it now (RST), not when the module has closed
	 * the link, which may take a sync check after a stall; the id stays
	 * taken until the module's close is answered. */
	if (!l->silent_close && l->connect_reported) {
		struct modem *m = l->m;
		l->silent_close = true;
		if (m->ev.closed)
			m->ev.closed(m->ctx, l->id, true);
	}
	if (l->state != ML_CLOSING || !l->close_wanted)
		start_close(l);
}

static void link_connect_failed(struct mlink_link *l)
{
	struct modem *m = l->m;
	mlink_link_reset(l);
	if (m->ev.connected)
		m->ev.connected(m->ctx, l->id, false);
}

/* The module may still complete a connect we gave up on: close it quietly
 * before the id is handed out again. */
static void link_abandon(struct mlink_link *l)
{
	struct modem *m = l->m;
	ev_timer_stop(m->loop, &l->connect_timer);
	if (m->ev.connected && !l->connect_reported)
		m->ev.connected(m->ctx, l->id, false);
	l->connect_reported = true;
	l->silent_close = true;
	start_close(l);
}

void mlink_on_connect_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct mlink_link *l = w->data;
	if (l->state == ML_CONNECTING && l->accept_waited && !l->reclaim && !l->reclaimed)
		link_reclaim(l); /* no accept came: the socket is a stale one */
	else if (l->state == ML_CONNECTING)
		link_abandon(l);
}

static void start_close(struct mlink_link *l)
{
	l->state = ML_CLOSING;
	l->close_wanted = true;
	l->tx_len = 0;
	l->n_dgram = 0;
	at_chan_kick(l->m->chan);
}

/* The module says the socket is in use there: its table and ours
 * disagree. Close it there and try the connect once more on the same link,
 * instead of refusing every connect on this id until someone reconnects. */
static void link_reclaim(struct mlink_link *l)
{
	if (l->reclaimed) {
		link_abandon(l);
		return;
	}
	if (!l->accept_waited && mlink_listening(l->m)) {
		/* A connection the module accepted may hold the socket, its
		 * notification still on the way: closing the socket there would
		 * cut that client off. Give the notification a moment. */
		l->accept_waited = true;
		ev_timer_stop(l->m->loop, &l->connect_timer);
		ev_timer_set(&l->connect_timer, MLINK_ACCEPT_WAIT_S, 0.);
		ev_timer_start(l->m->loop, &l->connect_timer);
		return;
	}
	if (l->accept_waited) { /* the wait took the connect's timer */
		ev_timer_set(&l->connect_timer, MO(l)->connect_timeout, 0.);
		ev_timer_start(l->m->loop, &l->connect_timer);
	}
	log_warn("%s link %d: in use in the module; closing it there and connecting again",
	         MO(l)->name, l->id);
	l->reclaim = true;
	l->state = ML_CLOSING;
	l->close_wanted = true;
	at_chan_kick(l->m->chan);
}

/* ---- issuing data commands ---- */

bool mlink_issue(struct mlink_link *l, const struct mlink_cmd *how, const struct mlink_req *r,
                 struct at_cmd *cmd)
{
	struct modem *m = l->m;
	if (!how->build || !how->build(cmd->text, sizeof(cmd->text), r))
		return false;
	cmd->final = how->final;
	cmd->flags = how->flags;
	cmd->ctx = m;
	cmd->tag = make_tag(m, l->id);
	if (!cmd->timeout_ms)
		cmd->timeout_ms = m->cfg.cmd_timeout_ms;
	l->busy = true;
	if (!at_chan_submit(m->chan, cmd)) {
		l->busy = false;
		return false;
	}
	return true;
}

struct mlink_link *mlink_done(struct modem *m, const struct at_cmd *cmd)
{
	struct mlink_link *l = mlink_tag_link(m, cmd->tag);
	if (l)
		l->busy = false;
	return l;
}

struct mlink_req mlink_req_of(const struct mlink_link *l, size_t len)
{
	return (struct mlink_req){ .id = (unsigned)l->id, .proto = l->proto, .len = len, .ip = l->ip,
		                   .port = l->port };
}

/* ---- open and close ---- */

static bool issue_open(struct mlink_link *l);

static void on_close_done(void *ctx, const struct at_cmd *cmd, enum at_result res, const char *final_line)
{
	(void)res;
	(void)final_line;
	struct modem *m = ctx;
	struct mlink_link *l = mlink_done(m, cmd);
	if (!l)
		return;
	if (l->reclaim) {
		/* The module held this socket: closed now, the connect goes again. */
		l->reclaim = false;
		l->reclaimed = true;
		l->close_wanted = false;
		l->silent_close = false;
		l->lost = false;
		l->state = ML_CONNECTING;
		if (!issue_open(l))
			link_connect_failed(l);
		return;
	}
	mlink_link_closed(l);
}

static bool issue_close(struct mlink_link *l)
{
	struct at_cmd cmd = { 0 };
	struct mlink_req r = mlink_req_of(l, 0);
	/* Closing drops what the module still holds for us: the stream did not
	 * end whole (a reclaimed half-closed link gets RST, not FIN). */
	if (l->readable && (l->state == ML_OPEN || l->state == ML_DRAINING))
		l->lost = true;
	l->state = ML_CLOSING;
	cmd.done = on_close_done;
	return mlink_issue(l, mlink_cmd_in(l, &MO(l)->close, &MO(l)->close_in), &r, &cmd);
}

static void on_open_done(void *ctx, const struct at_cmd *cmd, enum at_result res, const char *final_line)
{
	struct modem *m = ctx;
	struct mlink_link *l = mlink_done(m, cmd);
	if (!l)
		return;
	if (l->state != ML_CONNECTING)
		return;
	if (res == AT_RES_ERROR && MO(l)->open_in_use(final_line))
		link_reclaim(l);
	else if (res == AT_RES_ERROR)
		link_connect_failed(l);
	else if (res != AT_RES_OK)
		link_abandon(l);
	/* OK: the outcome arrives as a notification (ME_CONNECT_*). */
}

static bool issue_open(struct mlink_link *l)
{
	struct at_cmd cmd = { 0 };
	struct mlink_req r = mlink_req_of(l, 0);
	cmd.done = on_open_done;
	return mlink_issue(l, &MO(l)->open, &r, &cmd);
}

void mlink_connect_result(struct mlink_link *l, enum mlink_event ev)
{
	struct modem *m = l->m;
	if (l->state != ML_CONNECTING)
		return;
	ev_timer_stop(m->loop, &l->connect_timer);
	if (ev == ME_CONNECT_OK) {
		l->state = ML_OPEN;
		l->connect_reported = true;
		if (l->close_wanted)
			start_close(l);
		if (m->ev.connected)
			m->ev.connected(m->ctx, l->id, true);
		at_chan_kick(m->chan);
	} else if (ev == ME_IN_USE) {
		link_reclaim(l);
	} else {
		link_connect_failed(l);
	}
}

/* ---- a remote close, checked before it is reported clean ---- */

void mlink_remote_closed(struct mlink_link *l)
{
	if (l->state == ML_CONNECTING) {
		link_connect_failed(l);
	} else if (l->state == ML_OPEN) {
		/* Deliver what the module still holds, then check the module's
		 * view and the channel before a clean close. Without a query, a
		 * last read finds what is left; pushed data came before the
		 * close. */
		l->state = ML_DRAINING;
		l->ack_blocked = false;
		if (!MO(l)->query.build && !l->push)
			l->readable = true;
		if (l->push && !l->hold_len && !l->busy)
			mlink_drained(l);
		at_chan_kick(l->m->chan);
	}
}

void mlink_readable(struct mlink_link *l)
{
	if (l->state == ML_OPEN || l->state == ML_DRAINING) {
		l->readable = true;
		l->avail_known = false;
		l->poll_backoff = l->poll_skip = 0;
		at_chan_kick(l->m->chan);
	}
}

static void status_answer(struct mlink *s, const struct at_cmd *cmd, const char *line)
{
	int open = s->mo->status_open(line, MLINK_TAG_LINK(cmd));
	if (open >= 0)
		s->status = open;
}

static void on_status_line(void *ctx, const struct at_cmd *cmd, const char *line)
{
	status_answer(ML((struct modem *)ctx), cmd, line);
}

static void on_status_done(void *ctx, const struct at_cmd *cmd, enum at_result res, const char *final_line)
{
	struct modem *m = ctx;
	struct mlink_link *l = mlink_done(m, cmd);
	if (!l)
		return;
	if (l->state != ML_DRAINING || !l->fin_check)
		return;
	l->fin_check = false;
	if (res == AT_RES_TIMEOUT) {
		mlink_link_fail(l, "its state could not be read");
		return;
	}
	if (res == AT_RES_OK)
		status_answer(ML(m), cmd, final_line);
	if (res == AT_RES_OK && ML(m)->status == 1) {
		/* A close the module does not stand by: the link goes on. */
		log_warn("%s link %d: reported closed but the module has it open; keeping it",
		         MO(l)->name, l->id);
		l->state = ML_OPEN;
		l->readable = true;
		at_chan_kick(m->chan);
		return;
	}
	l->fin_sync = true;
	at_chan_request_sync(m->chan);
}

static bool issue_status(struct mlink_link *l)
{
	struct at_cmd cmd = { 0 };
	struct mlink_req r = mlink_req_of(l, 0);
	ML(l->m)->status = 0;
	cmd.line = on_status_line;
	cmd.done = on_status_done;
	return mlink_issue(l, &MO(l)->status, &r, &cmd);
}

/* Everything the module held after a remote close was delivered. */
void mlink_drained(struct mlink_link *l)
{
	if (l->fin_check || l->fin_sync)
		return;
	if (l->tx_len > 0) {
		/* Bytes the client sent never reached the remote. */
		mlink_link_fail(l, "closed by the remote with upload bytes still queued");
		return;
	}
	if (l->push) {
		/* Pushed links have no read and no state query: what the module
		 * said before the sync check is all it pushed. */
		l->fin_sync = true;
		at_chan_request_sync(l->m->chan);
		return;
	}
	l->fin_check = true;
	at_chan_kick(l->m->chan);
}

/* ---- the scheduler ---- */

/* Sending side of one link: data, then ack queries, then a pending close.
 * In the full-size pass a TCP send waits until a whole chunk is queued, but
 * only briefly (MLINK_COALESCE_S). */
static bool schedule_tx(struct mlink_link *l, bool full_only)
{
	if (l->state == ML_OPEN && l->tx_len > 0 && !l->ack_blocked && !l->tx_wait &&
	    (!full_only || l->proto == MODEM_UDP || l->tx_len >= MO(l)->chunk ||
	     ev_now(l->m->loop) - l->tx_since >= MLINK_COALESCE_S))
		return mlink_issue_send(l);
	if (l->state == ML_OPEN && l->ack_query_due)
		return mlink_issue_ack_query(l);
	if (l->close_wanted && l->tx_len == 0 &&
	    (l->state == ML_OPEN || l->state == ML_CLOSING || l->state == ML_DRAINING))
		return issue_close(l);
	return false;
}

/* Receiving side: reads while the module holds data and the bridge has room;
 * the safety poll for quiet links; the last look after a remote close. In the
 * full-size pass a read waits for a window of a whole chunk, unless it would
 * take all the module holds anyway. */
static bool schedule_rx(struct mlink_link *l, bool full_only)
{
	struct mlink *s = ML(l->m);
	if (l->state != ML_OPEN && l->state != ML_DRAINING)
		return false;
	if (l->state == ML_DRAINING && l->close_wanted)
		return false;
	if (l->push)
		return false; /* its data comes by itself */
	if (l->state == ML_DRAINING && l->fin_check)
		return issue_status(l);
	if (l->fin_sync)
		return false;
	if (l->hold_len)
		return false; /* the hold timer delivers it first */
	if (l->readable && l->window > 0 && !(l->avail_known && l->avail_by_query) && mlink_undecided(s))
		return mlink_issue_read(l, true); /* how much waits: tells the readings apart */
	if (l->readable && l->window > 0 &&
	    (!full_only || l->window >= s->mo->chunk || (l->avail_known && l->avail <= l->window)))
		return mlink_issue_read(l, false);
	if (l->state == ML_DRAINING && !l->readable)
		return mlink_issue_read(l, true);
	if (l->poll_due && l->window > 0)
		return mlink_issue_read(l, true);
	return false;
}

/* Round-robin over (link, direction) slots. The first pass takes only
 * full-size work; when there is none, the line would idle, so the second
 * pass sends and reads what there is. */
void mlink_idle(void *ctx)
{
	struct modem *m = ctx;
	struct mlink *s = ML(m);
	unsigned slots = 2 * (unsigned)s->mo->links;
	if (!m->up || at_chan_busy(m->chan))
		return;
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned k = 1; k <= slots; k++) {
			unsigned slot = (s->rr + k) % slots;
			struct mlink_link *l = &s->links[slot / 2];
			if (l->state == ML_FREE || l->state == ML_CONNECTING || l->busy)
				continue;
			bool issued = (slot % 2 == 0) ? schedule_tx(l, pass == 0) : schedule_rx(l, pass == 0);
			if (issued) {
				s->rr = slot;
				return;
			}
		}
	}
}

/* ---- timers ---- */

void mlink_on_poll(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct modem *m = w->data;
	struct mlink *s = ML(m);
	bool any = false;
	for (int i = 0; i < s->mo->links; i++) {
		struct mlink_link *l = &s->links[i];
		if (l->state != ML_OPEN || l->readable || l->window == 0 || l->push)
			continue;
		if (l->poll_skip > 0) {
			l->poll_skip--;
			continue;
		}
		l->poll_due = any = true;
	}
	if (any)
		at_chan_kick(m->chan);
}

/* Starts the retry_s wait unless it runs. Set each time: a libev timer that
 * expired keeps what was left of its time (zero or less), so starting it
 * again bare would fire at once, and a link whose acks stay above the
 * bound would query back to back. */
void mlink_wait_arm(struct modem *m)
{
	struct mlink *s = ML(m);
	if (ev_is_active(&s->wait_timer))
		return;
	ev_timer_set(&s->wait_timer, s->mo->retry_s, 0.);
	ev_timer_start(m->loop, &s->wait_timer);
}

/* After retry_s: sends refused for a full buffer go again, blocked links
 * ask for acks again. */
void mlink_on_wait(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct modem *m = w->data;
	struct mlink *s = ML(m);
	for (int i = 0; i < s->mo->links; i++) {
		struct mlink_link *l = &s->links[i];
		l->tx_wait = false;
		if (l->ack_blocked)
			l->ack_query_due = true;
	}
	at_chan_kick(m->chan);
}

/* ---- the socket interface ---- */

static int mlink_free_links(const struct modem *m)
{
	const struct mlink *s = ML(m);
	int n = 0;
	for (int i = 0; i < s->mo->links; i++)
		n += s->links[i].state == ML_FREE;
	return n;
}

static int mlink_open(struct modem *m, enum modem_proto proto, uint32_t ip, uint16_t port)
{
	struct mlink *s = ML(m);
	struct mlink_link *l = NULL;
	for (int i = 0; i < s->mo->links && !l; i++)
		if (s->links[i].state == ML_FREE)
			l = &s->links[i];
	if (!l)
		return -1;
	mlink_link_reset(l);
	l->state = ML_CONNECTING;
	l->proto = proto;
	l->ip = ip;
	l->port = port;
	if (!issue_open(l)) {
		l->state = ML_FREE;
		return -1;
	}
	ev_timer_set(&l->connect_timer, s->mo->connect_timeout, 0.);
	ev_timer_start(m->loop, &l->connect_timer);
	return l->id;
}

static size_t mlink_send_space(const struct modem *m, int link)
{
	const struct mlink *s = ML(m);
	if (link < 0 || link >= s->mo->links)
		return 0;
	const struct mlink_link *l = &s->links[link];
	if ((l->state != ML_OPEN && l->state != ML_CONNECTING) || l->close_wanted)
		return 0;
	if (l->proto == MODEM_UDP && l->n_dgram >= MLINK_UDP_QUEUE)
		return 0;
	size_t cap = MLINK_TX_QUEUE + s->mo->chunk;
	size_t space = l->tx_len < cap ? cap - l->tx_len : 0;
	if (l->proto == MODEM_UDP && space > s->mo->chunk)
		space = s->mo->chunk;
	return space;
}

static size_t mlink_send(struct modem *m, int link, const uint8_t *buf, size_t len)
{
	size_t space = mlink_send_space(m, link);
	if (space == 0)
		return 0;
	struct mlink_link *l = &ML(m)->links[link];
	if (l->proto == MODEM_UDP) {
		if (len == 0 || len > space)
			return 0;
		l->dgram[l->n_dgram++] = (uint16_t)len;
	} else if (len > space) {
		len = space;
	}
	if (l->tx_len == 0 && len)
		l->tx_since = ev_now(m->loop);
	memcpy(l->tx + l->tx_len, buf, len);
	l->tx_len += len;
	if (len)
		at_chan_kick(m->chan);
	return len;
}

static void mlink_recv_window(struct modem *m, int link, size_t window)
{
	struct mlink *s = ML(m);
	if (link < 0 || link >= s->mo->links)
		return;
	struct mlink_link *l = &s->links[link];
	if (l->state == ML_FREE)
		return;
	bool opened = l->window == 0 && window > 0;
	l->window = window;
	if (l->hold_len && window)
		ev_timer_start(m->loop, &s->hold_timer);
	if (opened)
		at_chan_kick(m->chan);
}

static void mlink_close(struct modem *m, int link)
{
	struct mlink *s = ML(m);
	if (link < 0 || link >= s->mo->links)
		return;
	struct mlink_link *l = &s->links[link];
	if (l->state == ML_FREE || l->state == ML_LISTEN || l->close_wanted)
		return;
	l->close_wanted = true;
	at_chan_kick(m->chan);
}

static int mlink_ping(struct modem *m, uint32_t ip, unsigned timeout_ms)
{
	const struct mlink_queries *q = ML(m)->mo->queries;
	return q && q->ping ? q->ping(m, ip, timeout_ms) : -1;
}

void *mlink_queries_state(const struct modem *m)
{
	return ML(m)->q;
}

/* ---- setup ---- */

static bool mlink_create(struct modem *m)
{
	const struct mlink_model *mo = m->module->multi;
	struct mlink *s = calloc(1, sizeof(*s));
	if (!s)
		return false;
	m->d = s;
	s->mo = mo;
	s->rx.hint = SIZE_MAX;
	for (int i = 0; i < MODEM_LINKS_MAX; i++) {
		s->links[i].m = m;
		s->links[i].id = i;
		ev_timer_init(&s->links[i].connect_timer, mlink_on_connect_timeout, 0., 0.);
		s->links[i].connect_timer.data = &s->links[i];
	}
	ev_timer_init(&s->hold_timer, mlink_on_hold, 0., 0.);
	ev_timer_init(&s->poll_timer, mlink_on_poll, 0., m->cfg.poll_interval_ms / 1000.0);
	ev_timer_init(&s->wait_timer, mlink_on_wait, mo->retry_s, 0.);
	s->hold_timer.data = s->poll_timer.data = s->wait_timer.data = m;
	mlink_bringup_init(m);
	mlink_resolve_init(m);
	mlink_listen_init(m);
	if (mo->queries && mo->queries->create && !(s->q = mo->queries->create(m))) {
		free(s);
		m->d = NULL;
		return false;
	}
	return true;
}

static void mlink_destroy(struct modem *m)
{
	struct mlink *s = ML(m);
	if (!s)
		return;
	for (int i = 0; i < MODEM_LINKS_MAX; i++)
		ev_timer_stop(m->loop, &s->links[i].connect_timer);
	ev_timer_stop(m->loop, &s->retry_timer);
	ev_timer_stop(m->loop, &s->poll_timer);
	ev_timer_stop(m->loop, &s->wait_timer);
	ev_timer_stop(m->loop, &s->hold_timer);
	mlink_resolve_stop(m);
	mlink_listen_stop(m);
	if (s->mo->queries && s->mo->queries->destroy)
		s->mo->queries->destroy(m);
	free(s);
	m->d = NULL;
}

static bool mlink_reconnect(struct modem *m)
{
	log_warn("%s: reconnect asked for; data link down, bringing it up again", ML(m)->mo->name);
	mlink_link_down_all(m);
	mlink_bringup_start(m);
	return true;
}

const struct modem_dialect mlink_dialect = {
	.name = "multi-link",
	.create = mlink_create,
	.destroy = mlink_destroy,
	.attach = mlink_bringup_attach,
	.hooks = &mlink_hooks,
	.start = mlink_bringup_start,
	.free_links = mlink_free_links,
	.open = mlink_open,
	.send = mlink_send,
	.send_space = mlink_send_space,
	.recv_window = mlink_recv_window,
	.close = mlink_close,
	.resolve = mlink_resolve,
	.ping = mlink_ping,
	.max_listeners = mlink_max_listeners,
	.listen_sockets = mlink_listen_sockets,
	.listen = mlink_listen,
	.reboots = true,
	.reconnect = mlink_reconnect,
};

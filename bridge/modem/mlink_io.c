/* The multi-link engine's data path (mlink.h): sends and their
 * acceptance, the in-flight bound, reads with their headers and payloads,
 * and bytes held back for a window that shrank. The scheduler in mlink.c
 * decides when each command goes out. */
#include <ev.h>
#include <stdint.h>
#include <string.h>

#include "log.h"
#include "mlink_priv.h"

/* ---- sends ---- */

static void send_failed(struct mlink_link *l, size_t len, enum at_result res)
{
	struct modem *m = l->m;
	l->tx_len = 0;
	l->n_dgram = 0;
	if (m->ev.sent)
		m->ev.sent(m->ctx, l->id, len, false);
	mlink_link_fail(l, res == AT_RES_TIMEOUT ? "a send timed out" : "a send failed");
}

static void on_send_done(void *ctx, const struct at_cmd *cmd, enum at_result res, const char *final_line)
{
	struct modem *m = ctx;
	struct mlink_link *l = mlink_done(m, cmd);
	if (!l)
		return;
	if (l->state != ML_OPEN)
		return; /* closing: the rest of tx was dropped */
	if (res == AT_RES_ERROR && MO(l)->send_full && MO(l)->send_full(final_line)) {
		/* The module's buffer is full: try again a little later. */
		l->tx_wait = true;
		mlink_wait_arm(m);
		return;
	}
	if (res != AT_RES_OK) {
		send_failed(l, cmd->data_len, res);
		return;
	}
	size_t accepted = cmd->data_len;
	if (l->proto == MODEM_TCP) {
		accepted = MO(l)->send_accepted(cmd, final_line);
		if (accepted > cmd->data_len)
			accepted = cmd->data_len;
	}
	if (l->proto == MODEM_UDP && l->n_dgram > 0) {
		memmove(l->dgram, l->dgram + 1, (l->n_dgram - 1) * sizeof(l->dgram[0]));
		l->n_dgram--;
	}
	if (accepted > l->tx_len)
		accepted = l->tx_len;
	memmove(l->tx, l->tx + accepted, l->tx_len - accepted);
	l->tx_len -= accepted;
	m->bytes_to_module += accepted;
	if (l->proto == MODEM_TCP && m->cfg.max_inflight) {
		l->inflight += accepted;
		if (l->inflight > m->cfg.max_inflight)
			l->ack_blocked = l->ack_query_due = true;
	}
	if (m->ev.sent)
		m->ev.sent(m->ctx, l->id, accepted, true);
}

bool mlink_issue_send(struct mlink_link *l)
{
	struct at_cmd cmd = { 0 };
	size_t len = l->proto == MODEM_UDP ? l->dgram[0] : l->tx_len;
	if (len > MO(l)->chunk)
		len = MO(l)->chunk;
	struct mlink_req r = mlink_req_of(l, len);
	cmd.data = l->tx;
	cmd.data_len = len;
	cmd.done = on_send_done;
	return mlink_issue(l, mlink_cmd_in(l, &MO(l)->send, &MO(l)->send_in), &r, &cmd);
}

/* ---- the in-flight bound ---- */

static void ack_answer(struct mlink_link *l, const char *line)
{
	struct modem *m = l->m;
	size_t inflight;
	if (!MO(l)->ack_inflight(line, (unsigned)l->id, &inflight))
		return;
	l->inflight = inflight;
	/* Hysteresis: resume only below half the bound, so that a link hovering
	 * at the bound does not query after every send. */
	if (l->inflight <= m->cfg.max_inflight / 2)
		l->ack_blocked = false;
}

static void on_ack_line(void *ctx, const struct at_cmd *cmd, const char *line)
{
	struct mlink_link *l = mlink_tag_link(ctx, cmd->tag);
	if (l)
		ack_answer(l, line);
}

static void on_ack_done(void *ctx, const struct at_cmd *cmd, enum at_result res, const char *final_line)
{
	struct modem *m = ctx;
	struct mlink_link *l = mlink_done(m, cmd);
	if (!l)
		return;
	if (res == AT_RES_OK) {
		ack_answer(l, final_line); /* where the answer's own line ends it */
	} else if (l->state == ML_OPEN) {
		/* No answer about acks: stop bounding rather than stall. */
		l->ack_blocked = false;
		l->inflight = 0;
	}
	if (l->ack_blocked)
		mlink_wait_arm(m);
}

bool mlink_issue_ack_query(struct mlink_link *l)
{
	struct at_cmd cmd = { 0 };
	struct mlink_req r = mlink_req_of(l, 0);
	l->ack_query_due = false;
	cmd.line = on_ack_line;
	cmd.done = on_ack_done;
	return mlink_issue(l, mlink_cmd_in(l, &MO(l)->ack, &MO(l)->ack_in), &r, &cmd);
}

/* ---- reads ---- */

/* The module's read headers do not yet show how they read (SIM7000
 * CIPRXGET=2, docs/modems.md): reads are sized from a query's answer. */
bool mlink_undecided(const struct mlink *s)
{
	return s->mo->query.build && s->rx.reading == 0;
}

static void on_read_line(void *ctx, const struct at_cmd *cmd, const char *line)
{
	struct modem *m = ctx;
	struct mlink *s = ML(m);
	struct mlink_head h;
	unsigned id;
	size_t rest;
	/* A late answer to a read that timed out names another link: its
	 * payload must not be taken for this one. */
	int reading = s->mo->read_head(&s->rx, line, &h);
	if (reading >= 0 && h.id == MLINK_TAG_LINK(cmd)) {
		if (s->rx.reading == 0)
			s->rx.reading = reading;
		s->rx_header = true;
		s->rx_len = h.len;
		s->rx_remaining = h.rest;
		s->rx_rest_known = h.rest_known;
	} else if (s->mo->query_head && s->mo->query_head(line, &id, &rest) && id == MLINK_TAG_LINK(cmd)) {
		s->rx_header = true;
		s->rx_len = 0;
		s->rx_remaining = rest;
		s->rx_rest_known = true;
	}
}

static void on_read_payload(void *ctx, const struct at_cmd *cmd, const uint8_t *data, size_t len)
{
	struct modem *m = ctx;
	struct mlink *s = ML(m);
	struct mlink_link *l = mlink_tag_link(m, cmd->tag);
	if (!l || !s->rx_header)
		return;
	if (len > s->rx.req || len != s->rx_len) {
		/* More than asked for, or not what the header announced: the
		 * stream can no longer be trusted. */
		s->rx_bad = true;
		mlink_link_fail(l, "a read returned more than it asked for");
		return;
	}
	if (l->state != ML_OPEN && l->state != ML_DRAINING)
		return; /* ended (and reported) while the read was on the line */
	m->bytes_from_module += len;
	/* The bridge may have shrunk its window while the read was on the
	 * line: what does not fit waits in hold (at most one read's worth). */
	size_t now = len < l->window ? len : l->window;
	memcpy(l->hold, data + now, len - now);
	l->hold_len = len - now;
	l->window -= now;
	if (now && m->ev.data)
		m->ev.data(m->ctx, l->id, data, now);
}

/* Hands held bytes to the bridge once its window reopened (from a timer,
 * never from inside a call of the bridge). */
void mlink_on_hold(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct modem *m = w->data;
	struct mlink *s = ML(m);
	for (int i = 0; i < s->mo->links; i++) {
		struct mlink_link *l = &s->links[i];
		if (!l->hold_len || !l->window || (l->state != ML_OPEN && l->state != ML_DRAINING))
			continue;
		uint8_t buf[MLINK_CHUNK_MAX];
		size_t now = l->hold_len < l->window ? l->hold_len : l->window;
		memcpy(buf, l->hold, now);
		memmove(l->hold, l->hold + now, l->hold_len - now);
		l->hold_len -= now;
		l->window -= now;
		if (m->ev.data)
			m->ev.data(m->ctx, l->id, buf, now);
		if (l->state == ML_DRAINING && !l->readable && !l->hold_len && !l->busy)
			mlink_drained(l);
	}
	at_chan_kick(m->chan);
}

static void read_answered(struct mlink_link *l)
{
	struct mlink *s = ML(l->m);
	l->read_errors = 0;
	/* Without a "remaining" field, a full answer means there may be more. */
	l->readable = s->rx_rest_known ? s->rx_remaining > 0 : s->rx_len > 0 && s->rx_len >= s->rx.req;
	l->avail = s->rx_remaining;
	l->avail_known = s->rx_rest_known;
	l->avail_by_query = s->rx.req == 0;
	if (s->rx_len > 0 || s->rx_remaining > 0) {
		l->poll_backoff = 0;
		l->poll_skip = 0;
	} else if (l->poll_backoff < MLINK_POLL_BACKOFF_MAX) {
		l->poll_backoff = l->poll_backoff ? l->poll_backoff * 2 : 1;
		l->poll_skip = l->poll_backoff;
	}
}

static void on_read_done(void *ctx, const struct at_cmd *cmd, enum at_result res, const char *final_line)
{
	(void)final_line;
	struct modem *m = ctx;
	struct mlink *s = ML(m);
	struct mlink_link *l = mlink_tag_link(m, cmd->tag);
	bool header = s->rx_header, bad = s->rx_bad;
	s->rx_header = false;
	s->rx_bad = false;
	if (!l)
		return;
	l->busy = false;
	if (bad)
		return;
	bool live = l->state == ML_OPEN || l->state == ML_DRAINING;
	if (cmd->tainted && live) {
		/* Something that fit no command came inside this read's answer:
		 * what was delivered may not be the link's next bytes. */
		mlink_link_fail(l, "a read's answer was interrupted by a stray line");
		return;
	}
	if (res == AT_RES_OK && header) {
		read_answered(l);
	} else {
		l->readable = false;
		/* A link the module keeps refusing to read is gone there. */
		if (res == AT_RES_ERROR && ++l->read_errors >= 3 && l->state == ML_OPEN) {
			mlink_link_fail(l, "the module refuses to read it");
			return;
		}
		/* A data read given up on may have taken bytes out of the
		 * module that never reached us: the stream has a hole, so the
		 * link ends rather than go on with data missing. */
		if (res == AT_RES_TIMEOUT && live) {
			mlink_link_fail(l, "a read timed out");
			return;
		}
		if (res == AT_RES_OK && !header && live) {
			mlink_link_fail(l, "a read was answered without its header");
			return;
		}
	}
	if (l->state == ML_DRAINING && !l->readable && !l->hold_len)
		mlink_drained(l);
}

bool mlink_issue_read(struct mlink_link *l, bool query_only)
{
	struct mlink *s = ML(l->m);
	const struct mlink_model *mo = s->mo;
	struct at_cmd cmd = { 0 };
	size_t want = l->window < mo->chunk ? l->window : mo->chunk;
	if (!mo->query.build)
		query_only = false; /* a read is the only way to ask */
	if (!query_only && mlink_undecided(s) && l->proto != MODEM_UDP) {
		/* No more than the hint, less than half of it where that
		 * settles the reading (sim7000.c, rxget_decode). */
		if (!l->avail_known || !l->avail_by_query || !l->avail)
			query_only = true;
		else if (l->avail >= 3 && want > (l->avail - 1) / 2)
			want = (l->avail - 1) / 2;
		else if (want > l->avail)
			want = l->avail;
	}
	struct mlink_req r = mlink_req_of(l, query_only ? 0 : want);
	s->rx_header = false;
	s->rx_bad = false;
	s->rx.req = query_only ? 0 : want;
	s->rx.dgram = l->proto == MODEM_UDP;
	s->rx.hint = l->avail_known && l->avail_by_query ? l->avail : SIZE_MAX;
	cmd.line = on_read_line;
	cmd.payload = on_read_payload;
	cmd.done = on_read_done;
	l->poll_due = false;
	return mlink_issue(l, query_only ? &mo->query : &mo->read, &r, &cmd);
}

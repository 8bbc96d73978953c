/* SIM7000 multi-link dialect: CIPMUX=1, manual receive (CIPRXGET=1), quick
 * send (CIPQSEND=1) with an in-flight bound from CIPACK. Eight links; the
 * link id is the module's connection number.
 *
 * Data commands are not queued: the channel calls sim7000_idle() whenever the
 * line is free, and the scheduler there picks the next send or read
 * round-robin over (link, direction) slots. Control commands (CIPSTART,
 * bring-up) go through the channel's queue.
 */
#include <ev.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at_cmd.h"
#include "sim7000.h"

static uint32_t make_tag(const struct modem *m, int link)
{
	return (S(m)->gen << 4) | (uint32_t)link;
}

static struct sim7000_link *tag_link(struct modem *m, uint32_t tag)
{
	if ((tag >> 4) != (S(m)->gen & 0x0fffffffu))
		return NULL;
	return &S(m)->links[tag & 0xf];
}

/* ---- link life cycle ---- */

static void drained(struct sim7000_link *l);

void sim7000_link_reset(struct sim7000_link *l)
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

static void link_closed(struct sim7000_link *l)
{
	struct modem *m = l->m;
	bool silent = l->silent_close, lost = l->lost;
	sim7000_link_reset(l);
	if (!silent && m->ev.closed)
		m->ev.closed(m->ctx, l->id, lost);
}

static void start_close(struct sim7000_link *l);

void sim7000_link_fail(struct sim7000_link *l, const char *why)
{
	if (l->state != LINK_OPEN && l->state != LINK_DRAINING && l->state != LINK_CLOSING)
		return;
	if (!l->lost)
		fprintf(stderr, "atbridge: sim7000 link %d: %s; resetting its flow\n", l->id, why);
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
	if (l->state != LINK_CLOSING || !l->close_wanted)
		start_close(l);
}

static void link_connect_failed(struct sim7000_link *l)
{
	struct modem *m = l->m;
	sim7000_link_reset(l);
	if (m->ev.connected)
		m->ev.connected(m->ctx, l->id, false);
}

/* The module may still complete a connect we gave up on: close it quietly
 * before the id is handed out again. */
static void link_abandon(struct sim7000_link *l)
{
	struct modem *m = l->m;
	ev_timer_stop(m->loop, &l->connect_timer);
	if (m->ev.connected && !l->connect_reported)
		m->ev.connected(m->ctx, l->id, false);
	l->connect_reported = true;
	l->state = LINK_CLOSING;
	l->silent_close = true;
	l->close_wanted = true;
	l->tx_len = 0;
	l->n_dgram = 0;
	at_chan_kick(m->chan);
}

static void on_connect_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct sim7000_link *l = w->data;
	if (l->state == LINK_CONNECTING)
		link_abandon(l);
}

/* ---- command completion ---- */

static enum at_final link_final(const struct at_cmd *cmd, const char *line, const char *word,
                                enum at_final kind)
{
	int n;
	const char *rest = at_skip_link_prefix(line, &n);
	if (rest && n == (int)(cmd->tag & 0xf) && !strcmp(rest, word))
		return kind;
	return AT_NOT_FINAL;
}

/* "DATA ACCEPT:<n>,<len>" (quick send) or "<n>, SEND OK|FAIL", for this
 * link and no more than was sent. */
static enum at_final send_final(const struct at_cmd *cmd, const char *line)
{
	unsigned v[2];
	/* "DATA ACCEPT:<n>,<len>" (app note), "DATA ACCEPT: <len>" (the
	 * manual's single-link form, also seen with a link id elsewhere) */
	if (!strncmp(line, "DATA ACCEPT:", 12)) {
		if (at_parse_uints(line + 12, v, 2))
			return v[0] == (cmd->tag & 0xf) && v[1] <= cmd->data_len ? AT_FINAL_OK : AT_NOT_FINAL;
		return at_parse_uints(line + 12, v, 1) && !strchr(line + 12, ',') && v[0] <= cmd->data_len
		               ? AT_FINAL_OK
		               : AT_NOT_FINAL;
	}
	enum at_final f = link_final(cmd, line, "SEND OK", AT_FINAL_OK);
	return f != AT_NOT_FINAL ? f : link_final(cmd, line, "SEND FAIL", AT_FINAL_ERROR);
}

/* "+CIPRXGET: 2,<n>,<len>,<rest>" or "+CIPRXGET: 4,<n>,<rest>" for this
 * link: the distinctive line of a read (what follows it is payload, OK).
 * A header that names another link is not this read's. */
static enum at_final read_final(const struct at_cmd *cmd, const char *line)
{
	unsigned v[3];
	bool mode2 = !strncmp(cmd->text, "AT+CIPRXGET=2,", 14);
	if (mode2 && !strncmp(line, "+CIPRXGET: 2,", 13) && at_parse_uints(line + 13, v, 3) &&
	    v[0] == (cmd->tag & 0xf))
		return AT_PART;
	if (!mode2 && !strncmp(line, "+CIPRXGET: 4,", 13) && at_parse_uints(line + 13, v, 2) &&
	    v[0] == (cmd->tag & 0xf))
		return AT_PART;
	return AT_NOT_FINAL;
}

/* "+CIPACK: <txlen>,<acklen>,<nacklen>" */
static enum at_final ack_final(const struct at_cmd *cmd, const char *line)
{
	(void)cmd;
	unsigned v[3];
	return !strncmp(line, "+CIPACK:", 8) && at_parse_uints(line + 8, v, 3) ? AT_PART : AT_NOT_FINAL;
}

static enum at_final close_final(const struct at_cmd *cmd, const char *line)
{
	return link_final(cmd, line, "CLOSE OK", AT_FINAL_OK);
}

static void send_failed(struct sim7000_link *l, size_t len, enum at_result res)
{
	struct modem *m = l->m;
	l->tx_len = 0;
	l->n_dgram = 0;
	if (m->ev.sent)
		m->ev.sent(m->ctx, l->id, len, false);
	sim7000_link_fail(l, res == AT_RES_TIMEOUT ? "a send timed out" : "a send failed");
}

static void on_send_done(void *ctx, const struct at_cmd *cmd, enum at_result res, const char *final_line)
{
	struct modem *m = ctx;
	struct sim7000_link *l = tag_link(m, cmd->tag);
	if (!l)
		return;
	l->busy = false;
	if (l->state != LINK_OPEN)
		return; /* closing: the rest of tx was dropped */
	if (res != AT_RES_OK) {
		send_failed(l, cmd->data_len, res);
		return;
	}
	size_t accepted = cmd->data_len;
	unsigned v[2];
	if (!strncmp(final_line, "DATA ACCEPT:", 12) && l->proto == MODEM_TCP) {
		if (at_parse_uints(final_line + 12, v, 2) && v[1] <= cmd->data_len)
			accepted = v[1];
		else if (!strchr(final_line + 12, ',') && at_parse_uints(final_line + 12, v, 1) &&
		         v[0] <= cmd->data_len)
			accepted = v[0];
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
		if (l->inflight > m->cfg.max_inflight) {
			l->ack_blocked = true;
			l->ack_query_due = true;
		}
	}
	if (m->ev.sent)
		m->ev.sent(m->ctx, l->id, accepted, true);
}

static void on_ack_line(void *ctx, const struct at_cmd *cmd, const char *line)
{
	struct modem *m = ctx;
	struct sim7000_link *l = tag_link(m, cmd->tag);
	unsigned v[3];
	if (!l || strncmp(line, "+CIPACK:", 8) || !at_parse_uints(line + 8, v, 3))
		return;
	l->inflight = v[2];
	/* Hysteresis: resume only below half the bound, so that a link hovering
	 * at the bound does not query CIPACK after every send. */
	if (l->inflight <= m->cfg.max_inflight / 2)
		l->ack_blocked = false;
}

static void on_ack_done(void *ctx, const struct at_cmd *cmd, enum at_result res, const char *final_line)
{
	(void)final_line;
	struct modem *m = ctx;
	struct sim7000_link *l = tag_link(m, cmd->tag);
	if (!l)
		return;
	l->busy = false;
	if (res != AT_RES_OK && l->state == LINK_OPEN) {
		/* No answer about acks: stop bounding rather than stall. */
		l->ack_blocked = false;
		l->inflight = 0;
	}
	if (l->ack_blocked)
		ev_timer_start(m->loop, &S(m)->ack_timer);
}

/* "+CIPRXGET: 2,<id>,<a>,<b>": how many bytes follow, and how many are
 * left (rest_known false: the module did not say). The app note's example
 * (AT+CIPRXGET=2,1460 answered "+CIPRXGET: 2,11,0" and 11 bytes) reads a as
 * the bytes that follow and b as those left; the manual's format line names
 * them <reqlength>,<cnflength>: the length asked for, then the bytes that
 * follow. Until the module has shown which it plays, a read asks for no more
 * than CIPRXGET=4 said was waiting (hint), and bytes never leave the module's
 * buffer but through our reads, so at least <asked> wait:
 *   manual:   "2,<asked>,<asked>"
 *   app note: "2,<asked>,<waiting - asked>"
 * Both put <asked> bytes after the header; only "<asked>,<asked>" leaves the
 * reading open, and a read asking for less than half the hint closes it
 * (the app note's b would then exceed <asked>). A header neither reading can
 * give is refused (-1): the read's answer is then garbage and taints it.
 * A UDP read cannot ask for less (it would cut a datagram): it asks 1460,
 * and "1460,<k>" with k below is the manual's for sure when more than 1460+k
 * waited; otherwise it is guessed, without settling anything: the manual's
 * when fewer than 1460 waited at the query, the app note's (a datagram of
 * exactly 1460) when more did. A wrong guess costs that datagram, through
 * the taint. */
static int rxget_decode(int reading, size_t asked, size_t hint, bool dgram, const unsigned v[3],
                        size_t *len, size_t *rest, bool *rest_known)
{
	if (reading == RXGET_UNKNOWN && asked) {
		if (v[1] < asked || v[2] > asked)
			reading = RXGET_APPNOTE;
		else if (dgram && hint != SIZE_MAX && hint > asked + v[2])
			reading = RXGET_MANUAL;
		else if (dgram) {
			bool manual = hint == SIZE_MAX || hint < asked;
			*len = manual ? v[2] : v[1];
			*rest_known = !manual;
			*rest = manual ? 0 : v[2];
			return RXGET_UNKNOWN;
		} else if (hint == SIZE_MAX || hint < asked)
			return -1; /* undecided reads ask no more than the hint */
		else if (v[2] < asked)
			reading = RXGET_APPNOTE;
		else if (2 * (size_t)asked < hint)
			reading = RXGET_MANUAL;
		else {
			*len = asked;
			*rest_known = false;
			*rest = 0;
			return RXGET_UNKNOWN;
		}
	}
	if (reading == RXGET_MANUAL) {
		*len = v[2];
		*rest = 0;
		*rest_known = false;
	} else {
		*len = v[1];
		*rest = v[2];
		*rest_known = true;
	}
	return reading == RXGET_UNKNOWN ? RXGET_APPNOTE : reading;
}

/* A read's header, for link id; returns the reading it shows (RXGET_UNKNOWN
 * while it shows neither), -1 when it is not a header the read can have. */
static int rxget_header(const struct sim7000 *s, const char *line, unsigned *id, size_t *len, size_t *rest,
                        bool *rest_known)
{
	unsigned v[3];
	if (strncmp(line, "+CIPRXGET: 2,", 13) || !at_parse_uints(line + 13, v, 3))
		return -1;
	*id = v[0];
	return rxget_decode(s->rxget_reading, s->rx_req, s->rx_hint, s->rx_dgram, v, len, rest, rest_known);
}

static void on_read_line(void *ctx, const struct at_cmd *cmd, const char *line)
{
	struct modem *m = ctx;
	struct sim7000 *s = S(m);
	unsigned v[4], id;
	size_t len, rest;
	bool known;
	/* A late answer to a read that timed out names another link: its
	 * payload must not be taken for this one. */
	int reading = rxget_header(s, line, &id, &len, &rest, &known);
	if (reading >= 0 && id == (cmd->tag & 0xf)) {
		if (s->rxget_reading == RXGET_UNKNOWN)
			s->rxget_reading = reading;
		s->rx_header = true;
		s->rx_len = len;
		s->rx_remaining = rest;
		s->rx_rest_known = known;
	} else if (!strncmp(line, "+CIPRXGET: 4,", 13) && at_parse_uints(line + 13, v + 1, 2) &&
	           v[1] == (cmd->tag & 0xf)) {
		s->rx_header = true;
		s->rx_len = 0;
		s->rx_remaining = v[2];
		s->rx_rest_known = true;
	}
}

static void on_read_payload(void *ctx, const struct at_cmd *cmd, const uint8_t *data, size_t len)
{
	struct modem *m = ctx;
	struct sim7000 *s = S(m);
	struct sim7000_link *l = tag_link(m, cmd->tag);
	if (!l || !s->rx_header)
		return;
	if (len > s->rx_req || len != s->rx_len) {
		/* More than asked for, or not what the header announced: the
		 * stream can no longer be trusted. */
		s->rx_bad = true;
		sim7000_link_fail(l, "a read returned more than it asked for");
		return;
	}
	if (l->state != LINK_OPEN && l->state != LINK_DRAINING)
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
static void on_hold_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct modem *m = w->data;
	for (int i = 0; i < SIM7000_LINKS; i++) {
		struct sim7000_link *l = &S(m)->links[i];
		if (!l->hold_len || !l->window || (l->state != LINK_OPEN && l->state != LINK_DRAINING))
			continue;
		uint8_t buf[SIM7000_CHUNK];
		size_t now = l->hold_len < l->window ? l->hold_len : l->window;
		memcpy(buf, l->hold, now);
		memmove(l->hold, l->hold + now, l->hold_len - now);
		l->hold_len -= now;
		l->window -= now;
		if (m->ev.data)
			m->ev.data(m->ctx, l->id, buf, now);
		if (l->state == LINK_DRAINING && !l->readable && !l->hold_len && !l->busy)
			drained(l);
	}
	at_chan_kick(m->chan);
}

static void on_read_done(void *ctx, const struct at_cmd *cmd, enum at_result res, const char *final_line)
{
	(void)final_line;
	struct modem *m = ctx;
	struct sim7000 *s = S(m);
	struct sim7000_link *l = tag_link(m, cmd->tag);
	bool header = s->rx_header, bad = s->rx_bad;
	s->rx_header = false;
	s->rx_bad = false;
	if (!l)
		return;
	l->busy = false;
	if (bad)
		return;
	if (cmd->tainted && (l->state == LINK_OPEN || l->state == LINK_DRAINING)) {
		/* Something that fit no command came inside this read's answer:
		 * what was delivered may not be the link's next bytes. */
		sim7000_link_fail(l, "a read's answer was interrupted by a stray line");
		return;
	}
	if (res == AT_RES_OK && header) {
		l->read_errors = 0;
		l->readable = s->rx_rest_known ? s->rx_remaining > 0 : s->rx_len > 0 && s->rx_len >= s->rx_req;
		l->avail = s->rx_remaining;
		l->avail_known = s->rx_rest_known;
		l->avail_by_query = s->rx_req == 0;
		if (s->rx_len > 0 || s->rx_remaining > 0) {
			l->poll_backoff = 0;
			l->poll_skip = 0;
		} else if (l->poll_backoff < SIM7000_POLL_BACKOFF_MAX) {
			l->poll_backoff = l->poll_backoff ? l->poll_backoff * 2 : 1;
			l->poll_skip = l->poll_backoff;
		}
	} else {
		l->readable = false;
		/* A link the module keeps refusing to read is gone there. */
		if (res == AT_RES_ERROR && ++l->read_errors >= 3 && l->state == LINK_OPEN) {
			sim7000_link_fail(l, "the module refuses to read it");
			return;
		}
		/* A data read given up on may have taken bytes out of the
		 * module that never reached us: the stream has a hole, so the
		 * link ends rather than go on with data missing. */
		if (res == AT_RES_TIMEOUT && (l->state == LINK_OPEN || l->state == LINK_DRAINING)) {
			sim7000_link_fail(l, "a read timed out");
			return;
		}
		if (res == AT_RES_OK && !header && (l->state == LINK_OPEN || l->state == LINK_DRAINING)) {
			sim7000_link_fail(l, "a read was answered without its header");
			return;
		}
	}
	if (l->state == LINK_DRAINING && !l->readable && !l->hold_len)
		drained(l);
}

static bool issue_start(struct modem *m, struct sim7000_link *l);

static void on_close_done(void *ctx, const struct at_cmd *cmd, enum at_result res, const char *final_line)
{
	(void)res;
	(void)final_line;
	struct modem *m = ctx;
	struct sim7000_link *l = tag_link(m, cmd->tag);
	if (!l)
		return;
	l->busy = false;
	if (l->reclaim) {
		/* The module held this link: closed now, the connect goes again. */
		l->reclaim = false;
		l->reclaimed = true;
		l->close_wanted = false;
		l->silent_close = false;
		l->lost = false;
		l->state = LINK_CONNECTING;
		if (!issue_start(m, l))
			link_connect_failed(l);
		return;
	}
	link_closed(l);
}

/* The module says the link is in use there (ERROR to CIPSTART, "<n>,
 * ALREADY CONNECT"): its table and ours disagree. Close it there and try
 * the connect once more on the same link, instead of refusing every
 * connect on this id until someone reconnects. */
static void link_reclaim(struct sim7000_link *l)
{
	struct modem *m = l->m;
	if (l->reclaimed) {
		link_abandon(l);
		return;
	}
	fprintf(stderr, "atbridge: sim7000 link %d: in use in the module; closing it there and connecting again\n",
	        l->id);
	l->reclaim = true;
	l->state = LINK_CLOSING;
	l->close_wanted = true;
	at_chan_kick(m->chan);
}

static void on_start_done(void *ctx, const struct at_cmd *cmd, enum at_result res, const char *final_line)
{
	(void)final_line;
	struct modem *m = ctx;
	struct sim7000_link *l = tag_link(m, cmd->tag);
	if (!l)
		return;
	l->busy = false;
	if (l->state != LINK_CONNECTING)
		return;
	if (res == AT_RES_ERROR)
		link_reclaim(l);
	else if (res != AT_RES_OK)
		link_abandon(l);
	/* OK: the outcome arrives as "<n>, CONNECT OK|FAIL". */
}

/* ---- a remote close, checked before it is reported clean ---- */

/* "+CIPSTATUS: <n>,<bearer>,"TCP","<ip>","<port>","<state>"" for this link */
static enum at_final status_final(const struct at_cmd *cmd, const char *line)
{
	int n;
	if (strncmp(line, "+CIPSTATUS: ", 12) || !at_skip_link_prefix(line + 12, &n) ||
	    n != (int)(cmd->tag & 0xf))
		return AT_NOT_FINAL;
	return AT_PART;
}

static void on_status_line(void *ctx, const struct at_cmd *cmd, const char *line)
{
	(void)cmd;
	struct sim7000 *s = S((struct modem *)ctx);
	const char *end = strrchr(line, '"');
	const char *start = NULL;
	s->status[0] = '\0';
	if (end && end > line) {
		start = end - 1;
		while (start > line && *start != '"')
			start--;
	}
	if (start && *start == '"' && (size_t)(end - start - 1) < sizeof(s->status)) {
		/* the state, without the padding some firmware puts inside the
		 * quotes (" CONNECTED ") */
		start++;
		while (start < end && *start == ' ')
			start++;
		while (end > start && end[-1] == ' ')
			end--;
		memcpy(s->status, start, (size_t)(end - start));
		s->status[end - start] = '\0';
	}
}

static void on_status_done(void *ctx, const struct at_cmd *cmd, enum at_result res, const char *final_line)
{
	(void)final_line;
	struct modem *m = ctx;
	struct sim7000_link *l = tag_link(m, cmd->tag);
	if (!l)
		return;
	l->busy = false;
	if (l->state != LINK_DRAINING || !l->fin_check)
		return;
	l->fin_check = false;
	if (res == AT_RES_TIMEOUT) {
		sim7000_link_fail(l, "its state could not be read");
		return;
	}
	if (res == AT_RES_OK && (!strcmp(S(m)->status, "CONNECTED") || !strcmp(S(m)->status, "CONNECTING"))) {
		/* A CLOSED the module does not stand by: the link goes on. */
		fprintf(stderr, "atbridge: sim7000 link %d: reported closed but the module has it %s; keeping it\n",
		        l->id, S(m)->status);
		l->state = LINK_OPEN;
		l->readable = true;
		at_chan_kick(m->chan);
		return;
	}
	l->fin_sync = true;
	at_chan_request_sync(m->chan);
}

/* Everything the module held after a remote close was delivered. */
static void drained(struct sim7000_link *l)
{
	if (l->fin_check || l->fin_sync)
		return;
	if (l->tx_len > 0) {
		/* Bytes the client sent never reached the remote. */
		sim7000_link_fail(l, "closed by the remote with upload bytes still queued");
		return;
	}
	l->fin_check = true;
	at_chan_kick(l->m->chan);
}

/* ---- issuing data commands ---- */

static bool issue(struct modem *m, struct sim7000_link *l, struct at_cmd *cmd)
{
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

static bool issue_send(struct modem *m, struct sim7000_link *l)
{
	struct at_cmd cmd = { 0 };
	size_t len = l->proto == MODEM_UDP ? l->dgram[0] : l->tx_len;
	if (len > SIM7000_CHUNK)
		len = SIM7000_CHUNK;
	if (!at_cmd_format(cmd.text, sizeof(cmd.text), "AT+CIPSEND=%u,%u", (unsigned)l->id, (unsigned)len))
		return false;
	cmd.data = l->tx;
	cmd.data_len = len;
	cmd.final = send_final;
	cmd.flags = AT_F_STRICT;
	cmd.done = on_send_done;
	return issue(m, l, &cmd);
}

static bool issue_read(struct modem *m, struct sim7000_link *l, bool query_only)
{
	struct at_cmd cmd = { 0 };
	size_t want = l->window < SIM7000_CHUNK ? l->window : SIM7000_CHUNK;
	if (!query_only && S(m)->rxget_reading == RXGET_UNKNOWN && l->proto != MODEM_UDP) {
		/* rxget_decode: no more than the hint, less than half of it
		 * where that settles the reading */
		if (!l->avail_known || !l->avail_by_query || !l->avail)
			query_only = true;
		else if (l->avail >= 3 && want > (l->avail - 1) / 2)
			want = (l->avail - 1) / 2;
		else if (want > l->avail)
			want = l->avail;
	}
	bool ok = query_only
	                  ? at_cmd_format(cmd.text, sizeof(cmd.text), "AT+CIPRXGET=4,%u", (unsigned)l->id)
	                  : at_cmd_format(cmd.text, sizeof(cmd.text), "AT+CIPRXGET=2,%u,%u",
	                                  (unsigned)l->id, (unsigned)want);
	if (!ok)
		return false;
	S(m)->rx_header = false;
	S(m)->rx_bad = false;
	S(m)->rx_req = query_only ? 0 : want;
	S(m)->rx_dgram = l->proto == MODEM_UDP;
	S(m)->rx_hint = l->avail_known && l->avail_by_query ? l->avail : SIZE_MAX;
	cmd.final = read_final;
	cmd.flags = AT_F_STRICT;
	cmd.line = on_read_line;
	cmd.payload = on_read_payload;
	cmd.done = on_read_done;
	l->poll_due = false;
	return issue(m, l, &cmd);
}

static bool issue_ack_query(struct modem *m, struct sim7000_link *l)
{
	struct at_cmd cmd = { 0 };
	if (!at_cmd_format(cmd.text, sizeof(cmd.text), "AT+CIPACK=%u", (unsigned)l->id))
		return false;
	l->ack_query_due = false;
	cmd.final = ack_final;
	cmd.flags = AT_F_STRICT;
	cmd.line = on_ack_line;
	cmd.done = on_ack_done;
	return issue(m, l, &cmd);
}

static bool issue_close(struct modem *m, struct sim7000_link *l)
{
	struct at_cmd cmd = { 0 };
	if (!at_cmd_format(cmd.text, sizeof(cmd.text), "AT+CIPCLOSE=%u,1", (unsigned)l->id))
		return false;
	l->state = LINK_CLOSING;
	cmd.final = close_final;
	cmd.flags = AT_F_STRICT;
	cmd.done = on_close_done;
	return issue(m, l, &cmd);
}

static bool issue_status(struct modem *m, struct sim7000_link *l)
{
	struct at_cmd cmd = { 0 };
	if (!at_cmd_format(cmd.text, sizeof(cmd.text), "AT+CIPSTATUS=%u", (unsigned)l->id))
		return false;
	S(m)->status[0] = '\0';
	cmd.final = status_final;
	cmd.flags = AT_F_STRICT;
	cmd.line = on_status_line;
	cmd.done = on_status_done;
	return issue(m, l, &cmd);
}

static bool issue_start(struct modem *m, struct sim7000_link *l)
{
	struct at_cmd cmd = { 0 };
	if (!at_cmd_format(cmd.text, sizeof(cmd.text), "AT+CIPSTART=%u,%q,\"%a\",%u", (unsigned)l->id,
	                   l->proto == MODEM_UDP ? "UDP" : "TCP", l->ip, (unsigned)l->port))
		return false;
	cmd.done = on_start_done;
	return issue(m, l, &cmd);
}

static void start_close(struct sim7000_link *l)
{
	l->state = LINK_CLOSING;
	l->close_wanted = true;
	l->tx_len = 0;
	l->n_dgram = 0;
	at_chan_kick(l->m->chan);
}

/* Sending side of one link: data, then ack queries, then a pending close.
 * In the full-size pass a TCP send waits until a whole chunk is queued, but
 * only briefly (SIM7000_COALESCE_S): a short request must not starve behind
 * other links' full-size reads. */
#define SIM7000_COALESCE_S 0.01
static bool schedule_tx(struct modem *m, struct sim7000_link *l, bool full_only)
{
	if (l->state == LINK_OPEN && l->tx_len > 0 && !l->ack_blocked &&
	    (!full_only || l->proto == MODEM_UDP || l->tx_len >= SIM7000_CHUNK ||
	     ev_now(m->loop) - l->tx_since >= SIM7000_COALESCE_S))
		return issue_send(m, l);
	if (l->state == LINK_OPEN && l->ack_query_due)
		return issue_ack_query(m, l);
	if (l->close_wanted && l->tx_len == 0 &&
	    (l->state == LINK_OPEN || l->state == LINK_CLOSING || l->state == LINK_DRAINING))
		return issue_close(m, l);
	return false;
}

/* Receiving side: reads while the module holds data and the bridge has room;
 * the safety poll for quiet links; the last look after a remote close. In the
 * full-size pass a read waits for a window of a whole chunk, unless it would
 * take all the module holds anyway. */
static bool schedule_rx(struct modem *m, struct sim7000_link *l, bool full_only)
{
	if (l->state != LINK_OPEN && l->state != LINK_DRAINING)
		return false;
	if (l->state == LINK_DRAINING && l->close_wanted)
		return false;
	if (l->state == LINK_DRAINING && l->fin_check)
		return issue_status(m, l);
	if (l->fin_sync)
		return false;
	if (l->hold_len)
		return false; /* the hold timer delivers it first */
	if (l->readable && l->window > 0 && !(l->avail_known && l->avail_by_query) &&
	    S(m)->rxget_reading == RXGET_UNKNOWN)
		return issue_read(m, l, true); /* how much waits: tells the readings apart */
	if (l->readable && l->window > 0 &&
	    (!full_only || l->window >= SIM7000_CHUNK || (l->avail_known && l->avail <= l->window)))
		return issue_read(m, l, false);
	if (l->state == LINK_DRAINING && !l->readable)
		return issue_read(m, l, true);
	if (l->poll_due && l->window > 0)
		return issue_read(m, l, true);
	return false;
}

/* Round-robin over (link, direction) slots. The first pass takes only
 * full-size work; when there is none, the line would idle, so the second
 * pass sends and reads what there is. */
static void sim7000_idle(void *ctx)
{
	struct modem *m = ctx;
	struct sim7000 *s = S(m);
	if (!m->up || at_chan_busy(m->chan))
		return;
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned k = 1; k <= 2 * SIM7000_LINKS; k++) {
			unsigned slot = (s->rr + k) % (2 * SIM7000_LINKS);
			struct sim7000_link *l = &s->links[slot / 2];
			if (l->state == LINK_FREE || l->state == LINK_CONNECTING || l->busy)
				continue;
			bool issued = (slot % 2 == 0) ? schedule_tx(m, l, pass == 0)
			                              : schedule_rx(m, l, pass == 0);
			if (issued) {
				s->rr = slot;
				return;
			}
		}
	}
}

/* ---- URCs ---- */

static void on_rxget_urc(void *ctx, const char *line)
{
	struct modem *m = ctx;
	unsigned id;
	/* "+CIPRXGET: 1,<id>[,<ip>:<port>]" */
	if (!m->up || strncmp(line, "+CIPRXGET: 1,", 13) || !at_parse_uints(line + 13, &id, 1) ||
	    id >= SIM7000_LINKS)
		return;
	struct sim7000_link *l = &S(m)->links[id];
	if (l->state == LINK_OPEN || l->state == LINK_DRAINING) {
		l->readable = true;
		l->avail_known = false;
		l->poll_backoff = l->poll_skip = 0;
		at_chan_kick(m->chan);
	}
}

/* "+PDP: DEACT" (network released the context): start over. */
static void on_pdp_deact(void *ctx, const char *line)
{
	struct modem *m = ctx;
	if (!m->up)
		return;
	fprintf(stderr, "atbridge: sim7000: %s; data link down, bringing it up again\n", line);
	sim7000_link_down_all(m);
	sim7000_bringup_start(m);
}

static bool sim7000_reconnect(struct modem *m)
{
	fprintf(stderr, "atbridge: sim7000: reconnect asked for; data link down, bringing it up again\n");
	sim7000_link_down_all(m);
	sim7000_bringup_start(m);
	return true;
}

/* The resync probes went unanswered: every link ends now (no flow waits
 * for a module that may never answer), and bring-up starts with a reboot
 * request. */
static void sim7000_stalled(void *ctx)
{
	struct modem *m = ctx;
	modem_recover_module_dead(m);
	if (!m->up)
		return; /* bring-up is retrying by itself */
	fprintf(stderr, "atbridge: sim7000: the module stopped answering; data link down\n");
	sim7000_link_down_all(m);
	sim7000_bringup_start(m);
}

/* "RDY" or an echoed probe: the module restarted and lost every setting,
 * whatever we were doing (also in the middle of bring-up). */
static void sim7000_restarted(struct modem *m, const char *why)
{
	fprintf(stderr, "atbridge: sim7000: the module restarted (%s); bringing it up again\n", why);
	modem_recover_module_restarted(m);
	if (m->up)
		sim7000_link_down_all(m);
	/* What was on the line died with the module: do not wait for its
	 * timeout (a connect sent during the boot silence held bring-up 5 s). */
	at_chan_abort_current(m->chan);
	sim7000_bringup_start(m);
}

static void on_rdy(void *ctx, const char *line)
{
	(void)line;
	sim7000_restarted(ctx, "RDY");
}

static void sim7000_rebooted(void *ctx)
{
	sim7000_restarted(ctx, "echo on");
}

static void on_connect_result(struct sim7000_link *l, const char *what)
{
	struct modem *m = l->m;
	if (l->state != LINK_CONNECTING)
		return;
	ev_timer_stop(m->loop, &l->connect_timer);
	if (!strcmp(what, "CONNECT OK")) {
		l->state = LINK_OPEN;
		l->connect_reported = true;
		if (l->close_wanted) {
			start_close(l);
		}
		if (m->ev.connected)
			m->ev.connected(m->ctx, l->id, true);
		at_chan_kick(m->chan);
	} else if (!strcmp(what, "ALREADY CONNECT")) {
		/* A socket we believed free is in use in the module: it may lead
		 * anywhere, so close it there and connect again. */
		link_reclaim(l);
	} else {
		link_connect_failed(l);
	}
}

static bool sim7000_urc(void *ctx, const char *line)
{
	struct modem *m = ctx;
	int id;
	const char *rest = at_skip_link_prefix(line, &id);
	if (!rest || id >= SIM7000_LINKS)
		return false;
	struct sim7000_link *l = &S(m)->links[id];
	if (!strcmp(rest, "CONNECT OK") || !strcmp(rest, "CONNECT FAIL") ||
	    !strcmp(rest, "ALREADY CONNECT")) {
		on_connect_result(l, rest);
		return true;
	}
	if (!strcmp(rest, "CLOSED")) {
		if (l->state == LINK_CONNECTING) {
			link_connect_failed(l);
		} else if (l->state == LINK_OPEN) {
			/* Deliver what the module still holds, then check the
			 * module's view and the channel before a clean close. */
			l->state = LINK_DRAINING;
			l->ack_blocked = false;
			at_chan_kick(m->chan);
		}
		return true;
	}
	return false;
}

/* A line that fits no command: an answer that went astray. The link it
 * names can no longer be trusted. */
static void sim7000_stray(void *ctx, const char *line)
{
	struct modem *m = ctx;
	unsigned v[2];
	int id = -1;
	const char *rest;
	fprintf(stderr, "atbridge: sim7000: out-of-sync answer \"%.60s\"\n", line);
	if ((!strncmp(line, "+CIPRXGET: 2,", 13) || !strncmp(line, "+CIPRXGET: 4,", 13)) &&
	    at_parse_uints(line + 13, v, 1))
		id = (int)v[0];
	else if (!strncmp(line, "DATA ACCEPT:", 12) && at_parse_uints(line + 12, v, 2))
		id = (int)v[0];
	else if ((rest = at_skip_link_prefix(line, &id)) == NULL ||
	         (strcmp(rest, "SEND OK") && strcmp(rest, "SEND FAIL")))
		id = -1;
	if (id >= 0 && id < SIM7000_LINKS && m->up)
		sim7000_link_fail(&S(m)->links[id], "an answer for it came out of turn");
}

/* The channel is in sync: remote closes that waited for proof end clean. */
static void sim7000_synced(void *ctx)
{
	struct modem *m = ctx;
	for (int i = 0; i < SIM7000_LINKS; i++) {
		struct sim7000_link *l = &S(m)->links[i];
		if (!l->fin_sync || l->state != LINK_DRAINING || l->busy)
			continue;
		l->fin_sync = false;
		if (l->readable || l->hold_len)
			at_chan_kick(m->chan); /* more came meanwhile: drain it, check again */
		else
			link_closed(l);
	}
}

static size_t sim7000_payload_len(void *ctx, const char *line)
{
	struct modem *m = ctx;
	unsigned id;
	size_t len, rest;
	bool known;
	/* "+CIPRXGET: 2,<id>,<a>,<b>[,<ip>:<port>]" */
	if (!m->d || rxget_header(S(m), line, &id, &len, &rest, &known) < 0)
		return 0;
	return len;
}

static const struct at_chan_hooks sim7000_hooks = {
	.payload_len = sim7000_payload_len,
	.urc = sim7000_urc,
	.idle = sim7000_idle,
	.io_error = sim7000_io_error,
	.stalled = sim7000_stalled,
	.rebooted = sim7000_rebooted,
	.stray = sim7000_stray,
	.synced = sim7000_synced,
};

/* ---- timers ---- */

static void on_poll(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct modem *m = w->data;
	bool any = false;
	for (int i = 0; i < SIM7000_LINKS; i++) {
		struct sim7000_link *l = &S(m)->links[i];
		if (l->state != LINK_OPEN || l->readable || l->window == 0)
			continue;
		if (l->poll_skip > 0) {
			l->poll_skip--;
			continue;
		}
		l->poll_due = true;
		any = true;
	}
	if (any)
		at_chan_kick(m->chan);
}

static void on_ack_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct modem *m = w->data;
	for (int i = 0; i < SIM7000_LINKS; i++)
		if (S(m)->links[i].ack_blocked)
			S(m)->links[i].ack_query_due = true;
	at_chan_kick(m->chan);
}

/* ---- the socket interface ---- */

static int sim7000_free_links(const struct modem *m)
{
	int n = 0;
	for (int i = 0; i < SIM7000_LINKS; i++)
		n += S(m)->links[i].state == LINK_FREE;
	return n;
}

static int sim7000_open(struct modem *m, enum modem_proto proto, uint32_t ip, uint16_t port)
{
	struct sim7000 *s = S(m);
	struct sim7000_link *l = NULL;
	for (int i = 0; i < SIM7000_LINKS && !l; i++)
		if (s->links[i].state == LINK_FREE)
			l = &s->links[i];
	if (!l)
		return -1;
	sim7000_link_reset(l);
	l->state = LINK_CONNECTING;
	l->proto = proto;
	l->ip = ip;
	l->port = port;
	if (!issue_start(m, l)) {
		l->state = LINK_FREE;
		return -1;
	}
	ev_timer_set(&l->connect_timer, SIM7000_CONNECT_TIMEOUT, 0.);
	ev_timer_start(m->loop, &l->connect_timer);
	return l->id;
}

static size_t sim7000_send_space(const struct modem *m, int link)
{
	const struct sim7000_link *l = &S(m)->links[link];
	if (l->state != LINK_OPEN && l->state != LINK_CONNECTING)
		return 0;
	if (l->close_wanted)
		return 0;
	if (l->proto == MODEM_UDP && l->n_dgram >= SIM7000_UDP_QUEUE)
		return 0;
	size_t space = SIM7000_TX_CAP - l->tx_len;
	if (l->proto == MODEM_UDP && space > SIM7000_CHUNK)
		space = SIM7000_CHUNK;
	return space;
}

static size_t sim7000_send(struct modem *m, int link, const uint8_t *buf, size_t len)
{
	struct sim7000_link *l = &S(m)->links[link];
	size_t space = sim7000_send_space(m, link);
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

static void sim7000_recv_window(struct modem *m, int link, size_t window)
{
	struct sim7000_link *l = &S(m)->links[link];
	if (l->state == LINK_FREE)
		return;
	bool opened = l->window == 0 && window > 0;
	l->window = window;
	if (l->hold_len && window)
		ev_timer_start(m->loop, &S(m)->hold_timer);
	if (opened)
		at_chan_kick(m->chan);
}

static void sim7000_close(struct modem *m, int link)
{
	struct sim7000_link *l = &S(m)->links[link];
	if (l->state == LINK_FREE || l->close_wanted)
		return;
	l->close_wanted = true;
	at_chan_kick(m->chan);
}

/* ---- setup ---- */

static bool sim7000_create(struct modem *m)
{
	struct sim7000 *s = calloc(1, sizeof(*s));
	if (!s)
		return false;
	m->d = s;
	for (int i = 0; i < SIM7000_LINKS; i++) {
		s->links[i].m = m;
		s->links[i].id = i;
		ev_timer_init(&s->links[i].connect_timer, on_connect_timeout, 0., 0.);
		s->links[i].connect_timer.data = &s->links[i];
	}
	ev_timer_init(&s->hold_timer, on_hold_timer, 0., 0.);
	s->hold_timer.data = m;
	sim7000_bringup_init(m);
	sim7000_query_init(m);
	ev_timer_init(&s->poll_timer, on_poll, 0., m->cfg.poll_interval_ms / 1000.0);
	s->poll_timer.data = m;
	ev_timer_init(&s->ack_timer, on_ack_retry, SIM7000_ACK_RETRY, 0.);
	s->ack_timer.data = m;
	return true;
}

static void sim7000_destroy(struct modem *m)
{
	struct sim7000 *s = S(m);
	if (!s)
		return;
	for (int i = 0; i < SIM7000_LINKS; i++)
		ev_timer_stop(m->loop, &s->links[i].connect_timer);
	ev_timer_stop(m->loop, &s->retry_timer);
	sim7000_query_destroy(m);
	ev_timer_stop(m->loop, &s->poll_timer);
	ev_timer_stop(m->loop, &s->ack_timer);
	ev_timer_stop(m->loop, &s->hold_timer);
	free(s);
	m->d = NULL;
}

static void sim7000_attach(struct modem *m)
{
	at_chan_on_urc(m->chan, "+CIPRXGET: 1", on_rxget_urc, NULL, m);
	at_chan_on_urc(m->chan, "+PDP: DEACT", on_pdp_deact, NULL, m);
	at_chan_on_urc(m->chan, "RDY", on_rdy, NULL, m);
	sim7000_query_attach(m);
	sim7000_bringup_attach(m);
}

static void sim7000_start(struct modem *m)
{
	sim7000_bringup_start(m);
}

const struct modem_dialect sim7000_dialect = {
	.name = "sim7000",
	.max_links = SIM7000_LINKS,
	.create = sim7000_create,
	.destroy = sim7000_destroy,
	.attach = sim7000_attach,
	.hooks = &sim7000_hooks,
	.start = sim7000_start,
	.free_links = sim7000_free_links,
	.open = sim7000_open,
	.send = sim7000_send,
	.send_space = sim7000_send_space,
	.recv_window = sim7000_recv_window,
	.close = sim7000_close,
	.resolve = sim7000_resolve,
	.ping = sim7000_ping,
	/* manual 3.2.19: "AT+CFUN=1,1 can be used to reset module purposely" */
	.reboot_cmd = "AT+CFUN=1,1",
	.reconnect = sim7000_reconnect,
};

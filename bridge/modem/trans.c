/* The transparent-link engine: one link (id 0) at a time, carried in the
 * module's data mode, where every byte on the line is payload.
 *
 * Entering data mode: the open command (CIPSTART, TCPTRANS) is sent with the
 * channel armed, so the bytes right after "CONNECT" go to on_rx().
 * Leaving it:
 *  - the module ends it (remote close, context lost): it writes a known
 *    line ("CLOSED") and goes back to command mode. Such a line is only
 *    taken as the end when it is the last thing on the line for a quiet
 *    while; it is then parsed as a URC. Bytes that may be the start of such
 *    a line wait (QUIET_PART) before they are delivered.
 *  - the bridge ends it (modem_close): queued data goes out, then silence
 *    for the guard time (plus what the line still holds), "+++", silence,
 *    "OK", then the close command.
 * A payload "+++" never escapes: the bridge tracks the '+' run since the
 * last guard-long silence and never lets a write end on the third '+' of
 * such a run (trans_guard_limit); that '+' waits for the next byte.
 * No command can be sent in data mode: a resolve waits (up to
 * RESOLVE_WAIT) until the link is given back; ping is not offered. */
#include "trans.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at_cmd.h"
#include "log.h"

#define TX_CAP 8192
#define RX_CAP 16384
#define RX_READ 4096           /* at_chan reads this much at once */
#define CONNECT_TIMEOUT 80.0   /* the manual's 75 s, and some */
#define QUIET_FULL 0.2         /* a complete end line, then silence: data mode is over */
#define QUIET_PART 0.03        /* the start of one, then silence: it was payload */
#define RESOLVE_QUEUE 4
#define RESOLVE_TIMEOUT 30.0
#define RESOLVE_WAIT 10.0      /* a resolve waiting for the line held by a link */
#define BACKOFF_MAX 30.0
#define ESCAPE_TRIES 2

enum tstate {
	TS_IDLE = 0,
	TS_OPENING,    /* open command sent (or waiting for the resolver) */
	TS_DATA,       /* data mode */
	TS_ESC_WAIT,   /* silence before "+++" */
	TS_ESC_SENT,   /* "+++" written, waiting for OK */
	TS_CLOSING,    /* close command in flight */
	TS_DRAIN,      /* remote closed in data mode: delivering what is left */
};

struct trans {
	const struct trans_model *mo;
	enum tstate st;
	enum modem_proto proto;
	bool busy;          /* link 0 handed out, until closed()/connected(false) */
	bool open_pending;  /* open command waits for the resolver */
	bool close_wanted, connect_reported, delivering, pumping;
	bool silent; /* the bridge was already told: no event at the end */
	bool lost;   /* the stream may have lost or gained bytes: closed() says so */
	char open_text[AT_CMD_TEXT_MAX];
	uint8_t tx[TX_CAP];
	size_t tx_len;
	uint8_t rx[RX_CAP];
	size_t rx_len, rx_hold, window;
	/* escape guard */
	double guard; /* s */
	ev_tstamp last_tx, backlog_t;
	double backlog; /* bytes the line may still hold */
	int plus_run;
	unsigned esc_tries;
	ev_timer quiet_timer, esc_timer, connect_timer, retry_timer, resolve_timer, sent_timer;
	size_t sent_pending;
	double backoff;
	bool chan_dead;
	/* resolver */
	struct {
		int req;
		char name[254];
	} rq[RESOLVE_QUEUE];
	size_t n_rq;
	bool rq_busy;
	uint32_t ips[MODEM_RESOLVE_MAX];
	size_t n_ips;
};

static struct trans *T(const struct modem *m)
{
	return m->d;
}

static void pump(struct modem *m);
static void deliver(struct modem *m);
static void leave_data(struct modem *m, const uint8_t *tail, size_t k);
static size_t restart_at(const struct trans *t, size_t from);
static void restarted(struct modem *m, size_t at);
static void start_escape(struct modem *m);
static void resolve_next(struct modem *m);
static void bringup_start(struct modem *m);

/* ---- the +++ rule ---- */

size_t trans_guard_limit(int run, const uint8_t *buf, size_t n)
{
	if (run < 0)
		return n;
	for (size_t i = 0; i < n; i++) {
		if (buf[i] != '+')
			return n;
		if (++run == 3)
			return i + 1 == n ? n - 1 : n;
	}
	return n;
}

int trans_guard_run(int run, const uint8_t *buf, size_t n)
{
	for (size_t i = 0; i < n && run >= 0; i++)
		run = buf[i] == '+' && run < 3 ? run + 1 : -1;
	return run;
}

static double line_rate(const struct modem *m)
{
	return (m->cfg.baud ? m->cfg.baud : 115200) / 10.0;
}

/* Seconds until the line has carried everything written so far. */
static double line_delay(struct modem *m)
{
	struct trans *t = T(m);
	ev_tstamp now = ev_now(m->loop);
	double left = t->backlog - (now - t->backlog_t) * line_rate(m);
	if (left < 0)
		left = 0;
	left += (double)(AT_DATA_MAX - at_chan_out_space(m->chan));
	return left / line_rate(m);
}

static void line_wrote(struct modem *m, size_t n)
{
	struct trans *t = T(m);
	ev_tstamp now = ev_now(m->loop);
	double left = t->backlog - (now - t->backlog_t) * line_rate(m);
	t->backlog = (left > 0 ? left : 0) + (double)n;
	t->backlog_t = now;
	t->last_tx = now;
}

/* ---- link life ---- */

static void stop_link_timers(struct modem *m)
{
	struct trans *t = T(m);
	ev_timer_stop(m->loop, &t->quiet_timer);
	ev_timer_stop(m->loop, &t->esc_timer);
	ev_timer_stop(m->loop, &t->connect_timer);
	ev_timer_stop(m->loop, &t->sent_timer);
	t->sent_pending = 0;
}

/* Back to command mode with the link gone; tells the bridge. */
static void link_finished(struct modem *m)
{
	struct trans *t = T(m);
	bool reported = t->connect_reported, busy = t->busy && !t->silent, lost = t->lost;
	stop_link_timers(m);
	if (m->chan) {
		if (at_chan_in_data_mode(m->chan))
			at_chan_data_mode(m->chan, NULL, NULL);
		at_chan_arm_data(m->chan, false);
		at_chan_pause_rx(m->chan, false);
	}
	t->st = TS_IDLE;
	t->busy = t->open_pending = t->close_wanted = t->connect_reported = t->silent = false;
	t->lost = false;
	t->tx_len = t->rx_len = t->rx_hold = t->window = 0;
	t->esc_tries = 0;
	if (busy) {
		if (!reported) {
			if (m->ev.connected)
				m->ev.connected(m->ctx, 0, false);
		} else if (m->ev.closed) {
			m->ev.closed(m->ctx, 0, lost);
		}
	}
	if (m->chan && m->up)
		resolve_next(m);
}

static void close_done(void *ctx, const struct at_cmd *cmd, enum at_result res, const char *final_line)
{
	(void)cmd;
	(void)final_line;
	struct modem *m = ctx;
	/* ERROR: the link was already gone (a remote close crossed ours). */
	if (res != AT_RES_CANCELLED && T(m)->st == TS_CLOSING)
		link_finished(m);
}

static void send_close(struct modem *m)
{
	struct trans *t = T(m);
	struct at_cmd cmd = { .timeout_ms = 10000, .final = t->mo->close_final, .done = close_done, .ctx = m,
	                      .flags = AT_F_TRAIL_OK };
	snprintf(cmd.text, sizeof(cmd.text), "%s", t->mo->close_cmd);
	t->st = TS_CLOSING;
	if (!at_chan_submit(m->chan, &cmd))
		link_finished(m);
}

static void link_down_all(struct modem *m)
{
	bool was_up = m->up;
	m->up = false;
	struct trans *t = T(m);
	if (m->chan)
		at_chan_cancel_queued(m->chan);
	t->lost = true; /* cut off: never a clean end */
	link_finished(m);
	for (size_t i = 0; i < t->n_rq; i++)
		if (m->ev.resolved)
			m->ev.resolved(m->ctx, t->rq[i].req, false, NULL, 0);
	t->n_rq = 0;
	t->rq_busy = false;
	ev_timer_stop(m->loop, &t->resolve_timer);
	if (was_up && m->ev.link_state)
		m->ev.link_state(m->ctx, false, NULL);
}

/* ---- data mode: receive ---- */

#define TAIL_MAX 128 /* result lines that may follow an end line */

/* What a module prints as it comes up, after its restart line (RDY,
 * +PBREADY): part of the banner, not payload. */
static bool boot_line(const char *line)
{
	static const char *const prefixes[] = { "+CFUN:", "+CPIN:", "SMS Ready", "Call Ready", NULL };
	for (const char *const *p = prefixes; *p; p++)
		if (!strncmp(line, *p, strlen(*p)))
			return true;
	return false;
}

/* The module's own lines after an end line: complete "\r\n<line>\r\n"
 * blocks, each a result code (a stray OK, ERROR) or another end line, and
 * perhaps the start of one more. Payload that merely contains an end line
 * is followed by other bytes. */
static bool result_lines(const struct trans *t, const uint8_t *p, size_t n, bool *complete)
{
	*complete = true;
	while (n > 0) {
		if (n < 2 || p[0] != '\r' || p[1] != '\n') {
			*complete = false;
			return n == 1 && p[0] == '\r';
		}
		const uint8_t *end = NULL;
		for (size_t i = 2; i + 1 < n; i++)
			if (p[i] == '\r' && p[i + 1] == '\n') {
				end = p + i;
				break;
			}
		if (!end) {
			*complete = false;
			for (size_t i = 2; i < n; i++)
				if (p[i] < 0x20 && p[i] != '\r')
					return false;
			return n - 2 < 64;
		}
		char line[64];
		size_t len = (size_t)(end - p - 2);
		if (len >= sizeof(line))
			return false;
		memcpy(line, p + 2, len);
		line[len] = '\0';
		bool known = at_final_generic(line) != AT_NOT_FINAL || t->mo->classify(line) != TL_NONE ||
		             boot_line(line);
		if (!known)
			return false;
		n -= len + 4;
		p = end + 2;
	}
	return true;
}

/* Longest tail of rx that may end data mode: a whole end line, perhaps
 * followed by the module's result lines (a stray result right after a
 * remote close), or the start of an end line. */
static size_t marker_tail(const struct trans *t, bool *whole)
{
	size_t best = 0;
	*whole = false;
	for (const char *const *mk = t->mo->markers; *mk; mk++) {
		size_t len = strlen(*mk);
		size_t from = t->rx_len > TAIL_MAX + len ? t->rx_len - TAIL_MAX - len : 0;
		for (size_t at = from; at + len < t->rx_len; at++) {
			bool complete;
			if (!memcmp(t->rx + at, *mk, len) &&
			    result_lines(t, t->rx + at + len, t->rx_len - at - len, &complete)) {
				if (t->rx_len - at > best) {
					best = t->rx_len - at;
					*whole = complete;
				}
				break;
			}
		}
		for (size_t k = len < t->rx_len ? len : t->rx_len; k > best; k--) {
			if (!memcmp(t->rx + t->rx_len - k, *mk, k)) {
				best = k;
				*whole = k == len;
				break;
			}
		}
	}
	return best;
}

/* A remote close reported together with the loss of the context or a
 * restart ("+TCPTRANS: Link Closed" then "GPRS DISCONNECTION"), or a
 * restart alone, was not the remote's: the stream was cut. */
static bool tail_lost(const struct trans *t, const uint8_t *tail, size_t k)
{
	for (size_t i = 0; i + 2 < k; i++) {
		if (tail[i] != '\n')
			continue;
		char l[64];
		size_t n = 0;
		while (i + 1 + n < k && tail[i + 1 + n] != '\r' && n + 1 < sizeof(l)) {
			l[n] = (char)tail[i + 1 + n];
			n++;
		}
		l[n] = '\0';
		enum trans_line tl = t->mo->classify(l);
		if (tl == TL_DOWN || tl == TL_REBOOT)
			return true;
	}
	return false;
}

static void on_rx_escaping(struct modem *m, const uint8_t *buf, size_t len)
{
	struct trans *t = T(m);
	/* The client is gone: payload is dropped; keep a tail to match. */
	size_t keep = 64;
	if (len >= keep) {
		memcpy(t->rx, buf + len - keep, keep);
		t->rx_len = keep;
	} else {
		if (t->rx_len + len > keep) {
			size_t drop = t->rx_len + len - keep;
			memmove(t->rx, t->rx + drop, t->rx_len - drop);
			t->rx_len -= drop;
		}
		memcpy(t->rx + t->rx_len, buf, len);
		t->rx_len += len;
	}
	static const char ok[] = "\r\nOK\r\n";
	if (t->st == TS_ESC_SENT && t->rx_len >= 6 && !memcmp(t->rx + t->rx_len - 6, ok, 6)) {
		ev_timer_stop(m->loop, &t->esc_timer);
		at_chan_data_mode(m->chan, NULL, NULL);
		t->rx_len = 0;
		send_close(m);
		return;
	}
	bool whole;
	if (marker_tail(t, &whole) && whole) {
		/* the remote closed first: same path as in data mode */
		t->rx_hold = 0;
		ev_timer_stop(m->loop, &t->esc_timer);
		ev_timer_set(&t->quiet_timer, QUIET_FULL, 0.);
		ev_timer_start(m->loop, &t->quiet_timer);
	}
}

static void on_rx(void *ctx, const uint8_t *buf, size_t len)
{
	struct modem *m = ctx;
	struct trans *t = T(m);
	if (t->st == TS_ESC_WAIT || t->st == TS_ESC_SENT) {
		on_rx_escaping(m, buf, len);
		return;
	}
	if (t->rx_len + len > RX_CAP) {
		/* cannot happen: reading pauses with RX_READ left */
		log_warn("transparent receive buffer full, %zu bytes lost", len);
		len = RX_CAP - t->rx_len;
	}
	memcpy(t->rx + t->rx_len, buf, len);
	t->rx_len += len;
	size_t boot = restart_at(t, t->rx_len - len);
	if (boot < t->rx_len) {
		restarted(m, boot);
		return;
	}
	bool whole;
	t->rx_hold = marker_tail(t, &whole);
	/* UDP: a read is (most likely) one datagram; what waits, waits whole,
	 * or the client would get it in two pieces. */
	if (t->rx_hold && t->proto == MODEM_UDP)
		t->rx_hold = t->rx_len;
	if (t->rx_hold && whole && !t->lost && tail_lost(t, t->rx + t->rx_len - t->rx_hold, t->rx_hold)) {
		/* Restarted, or its context lost: nothing written from now on
		 * is data any more; what still waits to go out is dropped. */
		t->lost = true;
		at_chan_drop_out(m->chan);
	}
	if (t->rx_hold) {
		ev_timer_stop(m->loop, &t->quiet_timer);
		ev_timer_set(&t->quiet_timer, whole ? QUIET_FULL : QUIET_PART + 40.0 / line_rate(m), 0.);
		ev_timer_start(m->loop, &t->quiet_timer);
	} else {
		ev_timer_stop(m->loop, &t->quiet_timer);
	}
	deliver(m);
	if (RX_CAP - t->rx_len < RX_READ)
		at_chan_pause_rx(m->chan, true);
	if (!t->rx_hold)
		pump(m); /* writing may have waited for an end line in doubt */
}

/* The line was quiet after a possible end line. */
static void on_quiet(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct modem *m = w->data;
	struct trans *t = T(m);
	bool whole;
	size_t k = marker_tail(t, &whole);
	if (!k || !whole) {
		t->rx_hold = 0;
		deliver(m);
		pump(m); /* writing waited while the end line was in doubt */
		return;
	}
	/* Data mode is over: the lines go to the parser (the end line as a
	 * URC, a result after it as a stray). */
	uint8_t line[TAIL_MAX + 64];
	if (k > sizeof(line))
		k = sizeof(line);
	memcpy(line, t->rx + t->rx_len - k, k);
	if (tail_lost(t, line, k))
		t->lost = true;
	t->rx_len -= k;
	leave_data(m, line, k);
}

/* The module's own bytes from here on (tail, k bytes, already taken off
 * rx) go to the parser. */
static void leave_data(struct modem *m, const uint8_t *tail, size_t k)
{
	struct trans *t = T(m);
	t->rx_hold = 0;
	if (t->st == TS_ESC_WAIT || t->st == TS_ESC_SENT)
		t->rx_len = 0; /* closing anyway: nothing to deliver */
	ev_timer_stop(m->loop, &t->esc_timer);
	ev_timer_stop(m->loop, &t->quiet_timer);
	t->st = TS_DRAIN;
	at_chan_data_mode(m->chan, NULL, NULL);
	at_chan_pause_rx(m->chan, false);
	at_chan_feed(m->chan, tail, k);
}

/* The start of the module's restart banner in what came last (from, on):
 * the module is in command mode from there, whatever follows (its echo of
 * our bytes, its answers to them). Returns its offset, or rx_len. */
static size_t restart_at(const struct trans *t, size_t from)
{
	for (const char *const *b = t->mo->restarts; b && *b; b++) {
		size_t len = strlen(*b);
		for (size_t at = from > len ? from - len : 0; at + len <= t->rx_len; at++)
			if (!memcmp(t->rx + at, *b, len))
				return at;
	}
	return t->rx_len;
}

/* The module restarted under the link: the stream is cut, and what is not
 * yet on the line would reach its command interpreter. */
static void restarted(struct modem *m, size_t at)
{
	struct trans *t = T(m);
	t->lost = true;
	at_chan_drop_out(m->chan);
	t->tx_len = 0;
	size_t k = t->rx_len - at;
	uint8_t tail[RX_CAP];
	memcpy(tail, t->rx + at, k);
	t->rx_len = 0; /* a cut stream: its last bytes are not delivered */
	log_warn("the module restarted under the transparent link");
	leave_data(m, tail, k);
}

static void deliver(struct modem *m)
{
	struct trans *t = T(m);
	if (t->delivering)
		return;
	t->delivering = true;
	while (t->busy && t->window > 0 && t->rx_len > t->rx_hold) {
		uint8_t chunk[RX_READ];
		size_t n = t->rx_len - t->rx_hold;
		if (n > t->window)
			n = t->window;
		if (n > sizeof(chunk))
			n = sizeof(chunk);
		memcpy(chunk, t->rx, n);
		memmove(t->rx, t->rx + n, t->rx_len - n);
		t->rx_len -= n;
		t->window -= n;
		m->bytes_from_module += n;
		if (m->ev.data)
			m->ev.data(m->ctx, 0, chunk, n);
	}
	t->delivering = false;
	if (t->st == TS_DATA && RX_CAP - t->rx_len >= RX_READ)
		at_chan_pause_rx(m->chan, false);
	if (t->st == TS_DRAIN && t->rx_len == 0 && t->busy && T(m)->connect_reported &&
	    !at_chan_in_data_mode(m->chan))
		link_finished(m);
}

/* ---- data mode: send ---- */

static void on_writable(void *ctx)
{
	pump(ctx);
}

static void on_sent_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct modem *m = w->data;
	struct trans *t = T(m);
	size_t n = t->sent_pending;
	t->sent_pending = 0;
	if (n && t->busy && m->ev.sent)
		m->ev.sent(m->ctx, 0, n, true);
}

static const struct at_chan_data_ops data_ops = {
	.rx = on_rx,
	.writable = on_writable,
};

static void pump(struct modem *m)
{
	struct trans *t = T(m);
	if (t->st != TS_DATA || t->pumping)
		return;
	/* The module may have left data mode (what it wrote last may be its
	 * end line): nothing more is written until that is settled, or the
	 * bytes would reach its command interpreter. */
	if (t->rx_hold)
		return;
	t->pumping = true;
	/* What the module wrote last first: a restart or an end line seen
	 * now stops the payload before it is written. */
	at_chan_poll_rx(m->chan);
	if (t->st != TS_DATA || t->rx_hold) {
		t->pumping = false;
		return;
	}
	bool held = false;
	while (t->tx_len > 0) {
		size_t n = at_chan_out_space(m->chan);
		if (n == 0)
			break;
		if (n > t->tx_len)
			n = t->tx_len;
		ev_tstamp now = ev_now(m->loop);
		if (t->plus_run < 0 && now - t->last_tx >= 0.9 * t->guard)
			t->plus_run = 0; /* a '+' now would follow a guard-long silence */
		n = trans_guard_limit(t->plus_run, t->tx, n);
		if (n == 0) {
			held = true; /* a third '+' waits for the byte after it */
			break;
		}
		at_chan_write_raw(m->chan, t->tx, n);
		line_wrote(m, n);
		t->plus_run = trans_guard_run(t->plus_run, t->tx, n);
		memmove(t->tx, t->tx + n, t->tx_len - n);
		t->tx_len -= n;
		m->bytes_to_module += n;
		/* Reported from the loop, never inside modem_send(): the bridge
		 * would send again before it took the bytes off its queue. */
		t->sent_pending += n;
		ev_timer_start(m->loop, &t->sent_timer);
	}
	t->pumping = false;
	if (t->st == TS_DATA && t->close_wanted && (t->tx_len == 0 || held))
		start_escape(m);
}

/* ---- leaving data mode ourselves ---- */

static void esc_wait(struct modem *m, double extra)
{
	struct trans *t = T(m);
	t->st = TS_ESC_WAIT;
	t->rx_len = t->rx_hold = 0;
	ev_timer_stop(m->loop, &t->quiet_timer);
	ev_timer_stop(m->loop, &t->esc_timer);
	ev_timer_set(&t->esc_timer, line_delay(m) + 1.1 * t->guard + extra, 0.);
	ev_timer_start(m->loop, &t->esc_timer);
	at_chan_pause_rx(m->chan, false);
}

static void start_escape(struct modem *m)
{
	struct trans *t = T(m);
	if (t->tx_len > 0) {
		/* Only a held third '+' can be left: written now, the module
		 * escapes on its own after the guard time (it takes those three
		 * '+' as the escape: docs/modems.md). */
		at_chan_write_raw(m->chan, t->tx, t->tx_len);
		line_wrote(m, t->tx_len);
		t->tx_len = 0;
		t->st = TS_ESC_SENT;
		t->rx_len = 0;
		ev_timer_set(&t->esc_timer, line_delay(m) + 1.2 * t->guard + 2.0, 0.);
		ev_timer_start(m->loop, &t->esc_timer);
		return;
	}
	esc_wait(m, 0.05);
}

static void on_esc_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct modem *m = w->data;
	struct trans *t = T(m);
	if (t->st == TS_ESC_WAIT) {
		double d = line_delay(m);
		if (d > 0.001 || ev_now(m->loop) - t->last_tx < t->guard) {
			ev_timer_set(&t->esc_timer, d + 1.1 * t->guard, 0.);
			ev_timer_start(m->loop, &t->esc_timer);
			return;
		}
		at_chan_write_raw(m->chan, "+++", 3);
		line_wrote(m, 3);
		t->st = TS_ESC_SENT;
		ev_timer_set(&t->esc_timer, 1.2 * t->guard + 1.0 + line_delay(m), 0.);
		ev_timer_start(m->loop, &t->esc_timer);
		return;
	}
	if (t->st != TS_ESC_SENT)
		return;
	if (++t->esc_tries < ESCAPE_TRIES) {
		log_warn("%s: no OK after +++; trying again", t->mo->name);
		esc_wait(m, 0.);
		return;
	}
	log_warn("%s: the module does not leave data mode; starting over",
	         t->mo->name);
	link_down_all(m);
	bringup_start(m);
}

/* ---- command-mode lines ---- */

static void entered_data_mode(struct modem *m)
{
	struct trans *t = T(m);
	ev_timer_stop(m->loop, &t->connect_timer);
	at_chan_data_mode(m->chan, &data_ops, m);
	t->st = TS_DATA;
	t->last_tx = ev_now(m->loop);
	t->backlog = 0;
	t->backlog_t = t->last_tx;
	t->plus_run = -1;
	if (!t->connect_reported) {
		t->connect_reported = true;
		if (m->ev.connected)
			m->ev.connected(m->ctx, 0, true);
	}
	if (T(m)->st == TS_DATA)
		pump(m);
}

static void resolve_line(struct modem *m, const char *line, enum trans_dns r);

static bool trans_urc(void *ctx, const char *line)
{
	struct modem *m = ctx;
	struct trans *t = T(m);
	if (t->rq_busy) {
		enum trans_dns r = t->mo->resolve_line(line, t->ips, &t->n_ips);
		if (r != TD_NONE) {
			resolve_line(m, line, r);
			return true;
		}
	}
	switch (t->mo->classify(line)) {
	case TL_CONNECT:
		if (t->st == TS_OPENING && !t->open_pending)
			entered_data_mode(m);
		return true;
	case TL_FAIL:
		if (t->st == TS_OPENING && !t->open_pending)
			link_finished(m);
		return true;
	case TL_CLOSED:
		/* Bytes of the client's that never went out did not reach the
		 * remote: not a clean end. */
		if (t->tx_len > 0 && !t->close_wanted)
			t->lost = true;
		if (t->st == TS_DRAIN && t->rx_len > 0)
			return true; /* deliver() finishes once the rest is out */
		if (t->st == TS_DATA || t->st == TS_DRAIN || t->st == TS_ESC_WAIT || t->st == TS_ESC_SENT) {
			t->st = TS_DRAIN;
			link_finished(m);
		}
		/* TS_CLOSING: the close command's answer finishes */
		return true;
	case TL_DOWN:
		if (m->up) {
			log_warn("%s: data context lost (%s); bringing it up again",
			         t->mo->name, line);
			link_down_all(m);
			bringup_start(m);
		}
		return true;
	case TL_REBOOT:
		if (m->up || t->busy) {
			log_warn("%s: the module restarted (%s); bringing it up again",
			         t->mo->name, line);
			link_down_all(m);
			bringup_start(m);
		}
		return true;
	default:
		return false;
	}
}

static void trans_io_error(void *ctx)
{
	struct modem *m = ctx;
	log_err("serial line %s failed; will reopen", m->cfg.device);
	T(m)->chan_dead = true;
	at_script_stop(m->script);
	link_down_all(m);
	bringup_start(m);
}

static void trans_stalled(void *ctx)
{
	struct modem *m = ctx;
	log_warn("%s: the module stopped answering; starting over", T(m)->mo->name);
	link_down_all(m);
	bringup_start(m);
}

const struct at_chan_hooks trans_hooks = {
	.urc = trans_urc,
	.io_error = trans_io_error,
	.stalled = trans_stalled,
};

/* ---- opening ---- */

static void open_done(void *ctx, const struct at_cmd *cmd, enum at_result res, const char *final_line)
{
	(void)cmd;
	(void)final_line;
	struct modem *m = ctx;
	struct trans *t = T(m);
	if (t->st != TS_OPENING || res == AT_RES_OK || res == AT_RES_CANCELLED)
		return; /* OK: CONNECT (or a failure line) follows */
	link_finished(m);
}

static void submit_open(struct modem *m)
{
	struct trans *t = T(m);
	struct at_cmd cmd = { .timeout_ms = 10000, .final = t->mo->open_final, .done = open_done, .ctx = m };
	snprintf(cmd.text, sizeof(cmd.text), "%s", t->open_text);
	t->open_pending = false;
	at_chan_arm_data(m->chan, true);
	if (!at_chan_submit(m->chan, &cmd))
		link_finished(m);
}

static void on_connect_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct modem *m = w->data;
	struct trans *t = T(m);
	if (t->st != TS_OPENING)
		return;
	log_warn("%s: no answer to the open in %.0f s; closing", t->mo->name,
	         CONNECT_TIMEOUT);
	/* connected(false) now; the id stays in use (silently) until the
	 * close command is answered. */
	if (!t->connect_reported && m->ev.connected)
		m->ev.connected(m->ctx, 0, false);
	t->connect_reported = true;
	t->silent = true;
	at_chan_arm_data(m->chan, false);
	send_close(m);
}

int trans_open(struct modem *m, enum modem_proto proto, uint32_t ip, uint16_t port)
{
	struct trans *t = T(m);
	if (t->busy || t->st != TS_IDLE || !m->chan)
		return -1;
	if (!t->mo->open_cmd(t->open_text, sizeof(t->open_text), proto, ip, port))
		return -1;
	t->busy = true;
	t->proto = proto;
	t->st = TS_OPENING;
	t->connect_reported = t->close_wanted = false;
	t->tx_len = t->rx_len = t->rx_hold = t->window = 0;
	ev_timer_set(&t->connect_timer, CONNECT_TIMEOUT, 0.);
	ev_timer_start(m->loop, &t->connect_timer);
	if (t->rq_busy)
		t->open_pending = true; /* after the resolver's answer */
	else
		submit_open(m);
	return 0;
}

/* ---- the socket interface ---- */

int trans_free_links(const struct modem *m)
{
	return m->up && !T(m)->busy && T(m)->st == TS_IDLE ? 1 : 0;
}

size_t trans_send_space(const struct modem *m, int link)
{
	const struct trans *t = T(m);
	if (link != 0 || !t->busy || t->close_wanted || (t->st != TS_DATA && t->st != TS_OPENING))
		return 0;
	return TX_CAP - t->tx_len;
}

size_t trans_send(struct modem *m, int link, const uint8_t *buf, size_t len)
{
	struct trans *t = T(m);
	size_t room = trans_send_space(m, link);
	if (t->proto == MODEM_UDP && len > room)
		return 0;
	if (len > room)
		len = room;
	memcpy(t->tx + t->tx_len, buf, len);
	t->tx_len += len;
	pump(m);
	return len;
}

void trans_recv_window(struct modem *m, int link, size_t window)
{
	struct trans *t = T(m);
	if (link != 0 || !t->busy)
		return;
	t->window = window;
	deliver(m);
}

void trans_close(struct modem *m, int link)
{
	struct trans *t = T(m);
	if (link != 0 || !t->busy || t->close_wanted)
		return;
	t->close_wanted = true;
	switch (t->st) {
	case TS_DATA:
		pump(m); /* queued bytes first, then the escape */
		break;
	case TS_DRAIN:
		t->rx_len = 0;
		if (!at_chan_in_data_mode(m->chan))
			link_finished(m);
		break;
	case TS_OPENING:
		if (t->open_pending)
			link_finished(m); /* connected(false) */
		/* else: once CONNECT comes, data mode is left at once */
		break;
	default:
		break;
	}
}

/* ---- resolver: only while no link is in use; waits for the line ---- */

static void resolve_finish(struct modem *m, bool ok)
{
	struct trans *t = T(m);
	ev_timer_stop(m->loop, &t->resolve_timer);
	int req = t->rq[0].req;
	uint32_t ips[MODEM_RESOLVE_MAX];
	size_t n = t->n_ips;
	t->n_ips = 0;
	memcpy(ips, t->ips, sizeof(ips));
	memmove(&t->rq[0], &t->rq[1], (t->n_rq - 1) * sizeof(t->rq[0]));
	t->n_rq--;
	t->rq_busy = false;
	t->n_ips = 0;
	if (m->ev.resolved)
		m->ev.resolved(m->ctx, req, ok && n > 0, ips, ok ? n : 0);
	if (t->open_pending && t->st == TS_OPENING)
		submit_open(m);
	else
		resolve_next(m);
}

static void resolve_line(struct modem *m, const char *line, enum trans_dns r)
{
	(void)line;
	if (r == TD_DONE || r == TD_FAIL)
		resolve_finish(m, r == TD_DONE);
}

static void resolve_cmd_done(void *ctx, const struct at_cmd *cmd, enum at_result res, const char *final_line)
{
	(void)cmd;
	(void)final_line;
	struct modem *m = ctx;
	if (res != AT_RES_OK && T(m)->rq_busy)
		resolve_finish(m, false);
}

static void on_resolve_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct modem *m = w->data;
	struct trans *t = T(m);
	if (t->n_rq == 0)
		return;
	t->rq_busy = true; /* in flight, or waited too long for the line */
	resolve_finish(m, false);
}

static void resolve_next(struct modem *m)
{
	struct trans *t = T(m);
	while (!t->rq_busy && t->n_rq > 0) {
		if (!m->up) {
			t->rq_busy = true;
			t->n_ips = 0;
			resolve_finish(m, false);
			continue;
		}
		if (t->busy) {
			/* No command in data mode: wait until the link is given
			 * back (link_finished), at most RESOLVE_WAIT. */
			if (!ev_is_active(&t->resolve_timer)) {
				ev_timer_set(&t->resolve_timer, RESOLVE_WAIT, 0.);
				ev_timer_start(m->loop, &t->resolve_timer);
			}
			return;
		}
		struct at_cmd cmd = { .timeout_ms = 10000, .done = resolve_cmd_done, .ctx = m };
		if (!t->mo->resolve_cmd(cmd.text, sizeof(cmd.text), t->rq[0].name) ||
		    !at_chan_submit(m->chan, &cmd)) {
			t->rq_busy = true;
			resolve_finish(m, false);
			continue;
		}
		t->rq_busy = true;
		t->n_ips = 0;
		ev_timer_stop(m->loop, &t->resolve_timer);
		ev_timer_set(&t->resolve_timer, RESOLVE_TIMEOUT, 0.);
		ev_timer_start(m->loop, &t->resolve_timer);
	}
}

int trans_resolve(struct modem *m, const char *name)
{
	struct trans *t = T(m);
	if (t->n_rq >= RESOLVE_QUEUE || !at_cmd_hostname_ok(name))
		return -1;
	int req = modem_next_req(m);
	t->rq[t->n_rq].req = req;
	snprintf(t->rq[t->n_rq].name, sizeof(t->rq[0].name), "%s", name);
	t->n_rq++;
	resolve_next(m);
	return req;
}

int trans_ping(struct modem *m, uint32_t ip, unsigned timeout_ms)
{
	(void)m;
	(void)ip;
	(void)timeout_ms;
	return -1; /* not offered on transparent links (docs/modems.md) */
}

/* ---- bring-up ---- */

static void on_bringup_done(void *ctx, bool ok, size_t failed_row)
{
	struct modem *m = ctx;
	struct trans *t = T(m);
	if (!ok) {
		const struct at_script_row *row = &t->mo->bringup->rows[failed_row];
		log_warn("%s bring-up failed at %s; retrying in %.0f s", t->mo->name,
		         row->cmd ? row->cmd : row->label ? row->label : "a built command", t->backoff);
		ev_timer_set(&t->retry_timer, t->backoff, 0.);
		ev_timer_start(m->loop, &t->retry_timer);
		t->backoff = t->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : t->backoff * 2;
		return;
	}
	t->backoff = 1.0;
	m->up = true;
	modem_info_log(m);
	if (m->ev.link_state)
		m->ev.link_state(m->ctx, true, m->local_ip);
	resolve_next(m);
}

static void bringup_run(struct modem *m)
{
	struct trans *t = T(m);
	if (t->chan_dead) {
		if (!modem_reopen(m)) {
			on_bringup_done(m, false, 0);
			return;
		}
		t->chan_dead = false;
	}
	at_script_start(m->script, t->mo->bringup);
}

static void on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	bringup_run(w->data);
}

static void bringup_start(struct modem *m)
{
	struct trans *t = T(m);
	ev_timer_stop(m->loop, &t->retry_timer);
	/* Never from inside the channel's own callbacks: the script may be
	 * the one calling, and a dead channel is reopened. */
	ev_timer_set(&t->retry_timer, t->chan_dead ? t->backoff : 0., 0.);
	ev_timer_start(m->loop, &t->retry_timer);
}

/* Only while no flow holds the link: with link 0 handed out the line may be
 * in data mode, where a command would be payload. */
bool trans_reconnect(struct modem *m)
{
	struct trans *t = T(m);
	if (t->busy || (m->chan && (at_chan_in_data_mode(m->chan) || at_chan_busy(m->chan))))
		return false;
	log_warn("%s: reconnect asked for; data link down, bringing it up again",
	         t->mo->name);
	link_down_all(m);
	bringup_start(m);
	return true;
}

void trans_start(struct modem *m)
{
	bringup_run(m);
}

void trans_attach(struct modem *m)
{
	m->script = at_script_run_new(m->loop, m->chan, on_bringup_done, m);
}

bool trans_create(struct modem *m, const struct trans_model *mo)
{
	struct trans *t = calloc(1, sizeof(*t));
	if (!t)
		return false;
	t->mo = mo;
	t->backoff = 1.0;
	t->guard = (m->cfg.guard_ms ? m->cfg.guard_ms : 1000) / 1000.0;
	t->plus_run = -1;
	ev_timer_init(&t->quiet_timer, on_quiet, 0., 0.);
	ev_timer_init(&t->esc_timer, on_esc_timer, 0., 0.);
	ev_timer_init(&t->connect_timer, on_connect_timeout, 0., 0.);
	ev_timer_init(&t->retry_timer, on_retry, 0., 0.);
	ev_timer_init(&t->resolve_timer, on_resolve_timeout, 0., 0.);
	ev_timer_init(&t->sent_timer, on_sent_timer, 0., 0.);
	t->sent_timer.data = m;
	t->quiet_timer.data = t->esc_timer.data = t->connect_timer.data = m;
	t->retry_timer.data = t->resolve_timer.data = m;
	m->d = t;
	return true;
}

void trans_destroy(struct modem *m)
{
	struct trans *t = T(m);
	if (!t)
		return;
	stop_link_timers(m);
	ev_timer_stop(m->loop, &t->retry_timer);
	ev_timer_stop(m->loop, &t->resolve_timer);
	free(t);
	m->d = NULL;
}

bool trans_build_ifc(void *ctx, char *out, size_t cap)
{
	struct modem *m = ctx;
	snprintf(out, cap, "%s", m->cfg.flow_control == MODEM_FC_RTSCTS ? "AT+IFC=2,2" : T(m)->mo->ifc_off);
	return true;
}

static bool trans_create_module(struct modem *m)
{
	return trans_create(m, m->module->trans);
}

const struct modem_dialect trans_dialect = {
	.name = "transparent",
	.create = trans_create_module,
	.destroy = trans_destroy,
	.attach = trans_attach,
	.hooks = &trans_hooks,
	.start = trans_start,
	.free_links = trans_free_links,
	.open = trans_open,
	.send = trans_send,
	.send_space = trans_send_space,
	.recv_window = trans_recv_window,
	.close = trans_close,
	.resolve = trans_resolve,
	.ping = trans_ping,
	.reconnect = trans_reconnect,
};

#include "at_chan.h"

#include <errno.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "log.h"

struct at_urc {
	char prefix[32];
	size_t prefix_len;
	void (*line)(void *ctx, const char *line);
	void (*payload)(void *ctx, const uint8_t *data, size_t len);
	void *ctx;
};

enum payload_dest { DEST_NONE, DEST_CMD, DEST_URC };

/* The sync check's steps (docs/architecture.md, "Staying in sync"). */
enum sync_step { SYNC_NONE, SYNC_GUARD, SYNC_ECHO_ON, SYNC_NONCE, SYNC_NONCE_FINAL, SYNC_ECHO_OFF };

struct at_chan {
	struct ev_loop *loop;
	int fd;
	const struct at_chan_hooks *hooks;
	void *ctx;
	ev_io rio, wio;
	ev_timer timer;
	ev_timer payload_timer; /* a payload that stopped arriving */
	ev_timer sync_timer;    /* the sync check's guard and step deadlines */
	ev_timer trail_timer;   /* the wait for a trailing OK */
	unsigned baud;
	bool dead;

	struct at_parser parser;

	struct at_cmd queue[AT_QUEUE_MAX];
	size_t q_head, q_len;
	struct at_cmd cur;
	bool in_flight, prompt_seen;
	bool part_seen; /* the command's AT_PART line arrived */
	uint64_t garbage_at_part; /* parser.garbage_lines when it did */
	bool tainted;   /* a stray arrived after it */
	unsigned timeouts_in_row;
	/* a bare OK that an AT_F_TRAIL_OK command may still send */
	bool trail_ok;
	/* the sync check */
	bool resync_on, sync_wanted, echo_by_us, echo_seen;
	/* A send that timed out before its prompt: the module may still give
	 * the prompt and then take exactly this many bytes as data (a sized
	 * send has no cancel). Nothing else is written until the prompt came
	 * (then these bytes, its own data, complete the data phase), the send
	 * was refused, or AT_ORPHAN_MS passed. */
	/* A bare error to a strict command before anything of its answer: a
	 * stray one looks the same, so it stands only if nothing of the
	 * command's own answer follows within AT_ERROR_WAIT_MS. */
	bool err_pending;
	char err_line[64];
	ev_timer err_timer;
	uint8_t orphan[AT_DATA_MAX];
	size_t orphan_len;
	double orphan_since;
	enum sync_step sync;
	unsigned sync_rounds;
	unsigned nonce;
	char nonce_text[40];
	double sync_started;
	double sync_guard, sync_step; /* s */

	struct at_urc urcs[AT_URC_MAX];
	size_t n_urcs;
	enum payload_dest payload_dest;
	size_t payload_urc;

	uint8_t out[AT_OUT_MAX];
	size_t out_off, out_len;

	struct at_chan_stats stats;

	/* data mode (transparent links) */
	const struct at_chan_data_ops *data_ops;
	void *data_ctx;
	bool data_armed, rx_paused;
};

static void start_next(struct at_chan *c);

/* ---- output ---- */

static void flush_out(struct at_chan *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			ev_io_start(c->loop, &c->wio);
			return;
		}
		if (n <= 0) {
			/* The line is gone; drop output, the command will time out. */
			c->out_off = c->out_len = 0;
			ev_io_stop(c->loop, &c->wio);
			return;
		}
		c->out_off += (size_t)n;
		c->stats.line_tx += (uint64_t)n;
	}
	c->out_off = c->out_len = 0;
	ev_io_stop(c->loop, &c->wio);
}

static void out_append(struct at_chan *c, const void *buf, size_t len)
{
	if (c->out_off > 0 && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_len + len > AT_OUT_MAX && c->out_off > 0) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (c->out_len + len > AT_OUT_MAX) {
		/* Cannot happen with one command in flight (text + one chunk). */
		log_warn("AT output buffer full, dropping %zu bytes", len);
		return;
	}
	memcpy(c->out + c->out_len, buf, len);
	c->out_len += len;
	flush_out(c);
}

/* A command line and its CR (after lead) in one write: a write is a system
 * call, and every data command pays for it. */
static void write_line(struct at_chan *c, const char *lead, const char *text)
{
	char line[2 + AT_CMD_TEXT_MAX + 1];
	size_t a = strlen(lead), n = strlen(text);
	if (a + n + 1 > sizeof(line)) {
		out_append(c, lead, a);
		out_append(c, text, n);
		out_append(c, "\r", 1);
		return;
	}
	memcpy(line, lead, a);
	memcpy(line + a, text, n);
	line[a + n] = '\r';
	out_append(c, line, a + n + 1);
}

void at_chan_write_raw(struct at_chan *c, const void *buf, size_t len)
{
	out_append(c, buf, len);
}

static void on_writable(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	struct at_chan *c = w->data;
	flush_out(c);
	if (c->data_ops && c->data_ops->writable)
		c->data_ops->writable(c->data_ctx);
}

/* ---- data mode ---- */

void at_chan_arm_data(struct at_chan *c, bool armed)
{
	c->data_armed = armed;
}

void at_chan_data_mode(struct at_chan *c, const struct at_chan_data_ops *ops, void *ctx)
{
	c->data_ops = ops;
	c->data_ctx = ctx;
	c->data_armed = false;
	at_parser_reset(&c->parser);
}

bool at_chan_in_data_mode(const struct at_chan *c)
{
	return c->data_ops != NULL;
}

size_t at_chan_out_space(const struct at_chan *c)
{
	size_t used = c->out_len - c->out_off;
	return used < AT_DATA_MAX ? AT_DATA_MAX - used : 0;
}

void at_chan_pause_rx(struct at_chan *c, bool pause)
{
	c->rx_paused = pause;
	if (pause || c->dead)
		ev_io_stop(c->loop, &c->rio);
	else
		ev_io_start(c->loop, &c->rio);
}

void at_chan_feed(struct at_chan *c, const uint8_t *buf, size_t len)
{
	at_parser_feed(&c->parser, buf, len);
}

/* Input in data mode, or armed for it. False: parse it as usual. */
static bool data_rx(struct at_chan *c, const uint8_t *buf, size_t len)
{
	if (!c->data_ops && !c->data_armed)
		return false;
	size_t i = 0;
	while (!c->data_ops && i < len)
		at_parser_feed(&c->parser, buf + i++, 1);
	if (c->data_ops && i < len)
		c->data_ops->rx(c->data_ctx, buf + i, len - i);
	return true;
}

/* ---- command lifecycle ---- */

static void sync_begin(struct at_chan *c, bool guard);

static void complete(struct at_chan *c, enum at_result res, const char *final_line)
{
	struct at_cmd cmd = c->cur;
	ev_timer_stop(c->loop, &c->timer);
	/* a garbled line inside the answer (bytes no reading accounts for)
	 * taints it like a stray line */
	cmd.tainted = c->tainted || (c->part_seen && (c->cur.flags & AT_F_STRICT) &&
	                             c->parser.garbage_lines != c->garbage_at_part);
	c->err_pending = false;
	ev_timer_stop(c->loop, &c->err_timer);
	c->in_flight = false;
	c->prompt_seen = false;
	c->part_seen = false;
	c->tainted = false;
	c->parser.prompt_armed = c->orphan_len > 0;
	c->payload_dest = DEST_NONE;
	if (res == AT_RES_ERROR)
		c->stats.errors++;
	if (res != AT_RES_TIMEOUT)
		c->timeouts_in_row = 0;
	if (cmd.done)
		cmd.done(cmd.ctx, &cmd, res, final_line);
	start_next(c);
}

static void command_timed_out(struct at_chan *c)
{
	c->stats.timeouts++;
	/* Whatever was half received belongs to the answer given up on; a
	 * payload cut by a module restart must not swallow its boot lines. */
	at_parser_reset(&c->parser);
	/* A send that never saw its prompt may still get one, and then the
	 * module takes the next data_len bytes as data, whatever they are:
	 * keep its data to complete it (see orphan) and write nothing else. */
	if (c->cur.data_len > 0 && !c->prompt_seen && c->cur.data_len <= sizeof(c->orphan)) {
		memcpy(c->orphan, c->cur.data, c->cur.data_len);
		c->orphan_len = c->cur.data_len;
		c->orphan_since = ev_now(c->loop);
		c->parser.prompt_armed = true;
	}
	ev_timer_stop(c->loop, &c->payload_timer);
	if (c->resync_on && c->hooks->stalled) {
		/* Nothing is written until the sync check has shown where the
		 * stream stands: every answer from now on may be a late one. */
		sync_begin(c, true);
		complete(c, AT_RES_TIMEOUT, "");
		return;
	}
	bool stalled = ++c->timeouts_in_row >= AT_STALL_TIMEOUTS;
	if (stalled)
		c->timeouts_in_row = 0;
	complete(c, AT_RES_TIMEOUT, "");
	if (stalled && c->hooks->stalled)
		c->hooks->stalled(c->ctx);
}

static void on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct at_chan *c = w->data;
	if (c->in_flight)
		command_timed_out(c);
}

/* The payload announced by the last line did not arrive in time: drop it
 * and give up on the command it belonged to. */
static void on_payload_stalled(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct at_chan *c = w->data;
	if (!c->parser.in_payload)
		return;
	c->parser.garbage_lines++;
	at_parser_reset(&c->parser);
	c->payload_dest = DEST_NONE;
	if (c->in_flight)
		command_timed_out(c);
	else if (c->resync_on && c->sync == SYNC_NONE)
		sync_begin(c, true);
}

static void payload_deadline(struct at_chan *c, size_t want)
{
	double s = AT_PAYLOAD_SLACK_MS / 1000.0 + 3.0 * (double)want * 10.0 / (double)c->baud;
	ev_timer_stop(c->loop, &c->payload_timer);
	ev_timer_set(&c->payload_timer, s, 0.);
	ev_timer_start(c->loop, &c->payload_timer);
}

/* ---- the sync check ----
 *
 * A late answer can imitate any answer whose text is fixed ("OK", a read
 * header seen before), so the check ends only on a line that no earlier
 * command could have produced: the echo of a nonce line, AT+ATBSYNC=<n> with
 * n new for this process. The module answers lines in order, so every byte
 * after that echo comes from the nonce line or later. Before the check the
 * line must be silent for a guard time (after a timeout), so that what the
 * module had queued drains first; lines seen meanwhile are stale and go to
 * the stray hook (a read answer among them costs its link). */

static double line_time(const struct at_chan *c, size_t bytes)
{
	return (double)bytes * 10.0 / (double)c->baud;
}

static void sync_arm(struct at_chan *c, double s)
{
	ev_timer_stop(c->loop, &c->sync_timer);
	ev_timer_set(&c->sync_timer, s, 0.);
	ev_timer_start(c->loop, &c->sync_timer);
}

static void sync_write(struct at_chan *c, enum sync_step step, const char *lead, const char *text)
{
	c->sync = step;
	write_line(c, lead, text);
	c->stats.commands++;
	sync_arm(c, c->sync_step + line_time(c, strlen(text) + 64));
}

static void sync_echo_on(struct at_chan *c)
{
	/* CR first: ends whatever half command line the module may hold. */
	sync_write(c, SYNC_ECHO_ON, "\r", "ATE1");
}

static void sync_begin(struct at_chan *c, bool guard)
{
	if (c->orphan_len)
		guard = true; /* nothing is written while a prompt may come */
	if (c->sync != SYNC_NONE && !guard)
		return;
	if (c->sync == SYNC_NONE)
		c->sync_rounds = 0;
	c->sync_wanted = false;
	ev_timer_stop(c->loop, &c->trail_timer);
	if (!guard) {
		sync_echo_on(c);
		return;
	}
	c->sync = SYNC_GUARD;
	c->sync_started = ev_now(c->loop);
	sync_arm(c, c->sync_guard);
}

static void sync_done(struct at_chan *c)
{
	ev_timer_stop(c->loop, &c->sync_timer);
	c->sync = SYNC_NONE;
	c->echo_by_us = false;
	c->timeouts_in_row = 0;
	c->stats.sync_checks++;
	if (c->hooks->synced)
		c->hooks->synced(c->ctx);
	start_next(c);
}

/* A step's deadline passed: the round failed. */
static void sync_round_failed(struct at_chan *c)
{
	if (++c->sync_rounds < AT_SYNC_ROUNDS) {
		c->sync = SYNC_GUARD;
		c->sync_started = ev_now(c->loop);
		sync_arm(c, c->sync_guard);
		return;
	}
	c->sync = SYNC_NONE;
	c->timeouts_in_row = 0;
	if (c->hooks->stalled)
		c->hooks->stalled(c->ctx);
	start_next(c);
}

static void on_sync_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct at_chan *c = w->data;
	switch (c->sync) {
	case SYNC_GUARD:
		if (c->orphan_len && ev_now(c->loop) - c->orphan_since < AT_ORPHAN_MS / 1000.0) {
			sync_arm(c, c->sync_guard); /* the prompt may still come */
			break;
		}
		c->orphan_len = 0;
		c->parser.prompt_armed = false;
		sync_echo_on(c);
		break;
	case SYNC_ECHO_ON:
		/* No word to ATE1: go on, the nonce decides. */
		c->echo_by_us = true;
		c->nonce++;
		snprintf(c->nonce_text, sizeof(c->nonce_text), "AT+ATBSYNC=%u", c->nonce);
		sync_write(c, SYNC_NONCE, "", c->nonce_text);
		break;
	case SYNC_NONCE:
	case SYNC_NONCE_FINAL:
	case SYNC_ECHO_OFF:
		sync_round_failed(c);
		break;
	case SYNC_NONE:
		break;
	}
}

/* Input during the guard time keeps the line from being silent. */
static void sync_saw_input(struct at_chan *c)
{
	if (c->sync != SYNC_GUARD)
		return;
	if (ev_now(c->loop) - c->sync_started < AT_SYNC_GUARD_MAX_MS / 1000.0 * c->sync_guard /
	                                                 (AT_SYNC_GUARD_MS / 1000.0))
		sync_arm(c, c->sync_guard);
}

static bool is_final_word(const char *line)
{
	enum at_final f = at_final_generic(line);
	return f == AT_FINAL_OK || f == AT_FINAL_ERROR;
}

static bool dispatch_urc(struct at_chan *c, const char *line);

static void stray(struct at_chan *c, const char *line)
{
	c->stats.strays++;
	if (c->hooks->stray)
		c->hooks->stray(c->ctx, line);
}

/* A line while the sync check runs. */
static void sync_line(struct at_chan *c, const char *line)
{
	if (c->orphan_len && at_final_generic(line) == AT_FINAL_ERROR) {
		c->orphan_len = 0; /* the send was refused: no prompt to come */
		c->parser.prompt_armed = false;
	}
	if (c->trail_ok && !strcmp(line, "OK")) {
		c->trail_ok = false; /* the last command's, before the check began */
		return;
	}
	c->trail_ok = false;
	switch (c->sync) {
	case SYNC_ECHO_ON:
		if (!strcmp(line, "ATE1")) {
			if (!c->echo_by_us && c->hooks->rebooted) {
				/* Echo was on and we had not turned it on: the
				 * module started afresh. */
				ev_timer_stop(c->loop, &c->sync_timer);
				c->sync = SYNC_NONE;
				c->echo_by_us = true; /* ATE1 was taken */
				c->hooks->rebooted(c->ctx);
				start_next(c);
			}
			return;
		}
		if (is_final_word(line)) {
			/* Possibly stale, possibly ATE1's: the nonce decides. */
			c->echo_by_us = true;
			c->nonce++;
			snprintf(c->nonce_text, sizeof(c->nonce_text), "AT+ATBSYNC=%u", c->nonce);
			sync_write(c, SYNC_NONCE, "", c->nonce_text);
			return;
		}
		break;
	case SYNC_NONCE:
		if (!strcmp(line, c->nonce_text)) {
			c->sync = SYNC_NONCE_FINAL;
			return;
		}
		break;
	case SYNC_NONCE_FINAL:
		/* The nonce line is no command: only an error answers it, so a
		 * stale OK between its echo and its answer is skipped. */
		if (at_final_generic(line) == AT_FINAL_ERROR) {
			c->echo_seen = false;
			sync_write(c, SYNC_ECHO_OFF, "", "ATE0");
			return;
		}
		break;
	case SYNC_ECHO_OFF:
		/* Echo is on: ATE0's own echo comes before its OK. */
		if (!strcmp(line, "ATE0")) {
			c->echo_seen = true;
			return;
		}
		if (c->echo_seen && is_final_word(line)) {
			sync_done(c);
			return;
		}
		break;
	default:
		break;
	}
	if (!dispatch_urc(c, line))
		stray(c, line);
}

void at_chan_set_resync(struct at_chan *c, bool on)
{
	c->resync_on = on;
	if (!on) {
		ev_timer_stop(c->loop, &c->sync_timer);
		c->sync = SYNC_NONE;
		c->sync_wanted = false;
	}
}

bool at_chan_resyncing(const struct at_chan *c)
{
	return c->sync != SYNC_NONE;
}

void at_chan_request_sync(struct at_chan *c)
{
	if (!c->resync_on || c->dead)
		return;
	c->sync_wanted = true;
	if (!c->in_flight && c->sync == SYNC_NONE)
		start_next(c);
}

void at_chan_set_sync_times(struct at_chan *c, unsigned guard_ms, unsigned step_ms)
{
	c->sync_guard = guard_ms / 1000.0;
	c->sync_step = step_ms / 1000.0;
}

void at_chan_set_line_rate(struct at_chan *c, unsigned baud)
{
	c->baud = baud ? baud : 115200;
}

void at_chan_abort_current(struct at_chan *c)
{
	if (c->in_flight)
		complete(c, AT_RES_CANCELLED, "");
}

static void start(struct at_chan *c, const struct at_cmd *cmd)
{
	c->cur = *cmd;
	c->in_flight = true;
	c->prompt_seen = false;
	c->part_seen = false;
	c->tainted = false;
	c->parser.prompt_armed = cmd->data_len > 0;
	c->stats.commands++;
	ev_timer_set(&c->timer, (cmd->timeout_ms ? cmd->timeout_ms : 5000) / 1000.0, 0.);
	ev_timer_start(c->loop, &c->timer);
	write_line(c, "", cmd->text);
}

static void on_err_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct at_chan *c = w->data;
	char line[sizeof(c->err_line)];
	if (!c->err_pending || !c->in_flight)
		return;
	memcpy(line, c->err_line, sizeof(line));
	complete(c, AT_RES_ERROR, line);
}

static void on_trail_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct at_chan *c = w->data;
	c->trail_ok = false;
	start_next(c);
}

/* A command whose answer may begin with a bare OK cannot go out while an
 * earlier command may still send its trailing OK: that OK would be taken
 * for the new command's. */
static bool may_start_with_ok(const struct at_cmd *cmd)
{
	return !(cmd->flags & AT_F_STRICT) && cmd->data_len == 0;
}

static void start_next(struct at_chan *c)
{
	if (c->in_flight || c->dead || c->sync != SYNC_NONE)
		return;
	if (c->sync_wanted && c->resync_on) {
		/* ATE1's answer is a bare OK: not while one is still owed */
		if (c->trail_ok) {
			if (!ev_is_active(&c->trail_timer)) {
				ev_timer_set(&c->trail_timer, AT_TRAIL_OK_MS / 1000.0, 0.);
				ev_timer_start(c->loop, &c->trail_timer);
			}
			return;
		}
		sync_begin(c, false);
		return;
	}
	if (c->q_len > 0) {
		struct at_cmd *next = &c->queue[c->q_head];
		if (c->trail_ok && may_start_with_ok(next)) {
			if (!ev_is_active(&c->trail_timer)) {
				ev_timer_set(&c->trail_timer, AT_TRAIL_OK_MS / 1000.0, 0.);
				ev_timer_start(c->loop, &c->trail_timer);
			}
			return;
		}
		struct at_cmd cmd = *next;
		c->q_head = (c->q_head + 1) % AT_QUEUE_MAX;
		c->q_len--;
		start(c, &cmd);
		return;
	}
	if (c->hooks->idle)
		c->hooks->idle(c->ctx);
}

bool at_chan_submit(struct at_chan *c, const struct at_cmd *cmd)
{
	if (c->q_len >= AT_QUEUE_MAX)
		return false;
	c->queue[(c->q_head + c->q_len) % AT_QUEUE_MAX] = *cmd;
	c->q_len++;
	if (!c->in_flight)
		start_next(c);
	return true;
}

void at_chan_cancel_queued(struct at_chan *c)
{
	while (c->q_len > 0) {
		struct at_cmd cmd = c->queue[c->q_head];
		c->q_head = (c->q_head + 1) % AT_QUEUE_MAX;
		c->q_len--;
		if (cmd.done)
			cmd.done(cmd.ctx, &cmd, AT_RES_CANCELLED, "");
	}
}

void at_chan_kick(struct at_chan *c)
{
	if (!c->in_flight)
		start_next(c);
}

bool at_chan_busy(const struct at_chan *c)
{
	return c->in_flight;
}

size_t at_chan_queued(const struct at_chan *c)
{
	return c->q_len;
}

/* ---- input ---- */

const char *at_skip_link_prefix(const char *line, int *n)
{
	int v = 0;
	const char *p = line;
	if (*p < '0' || *p > '9')
		return NULL;
	while (*p >= '0' && *p <= '9') {
		v = v * 10 + (*p - '0');
		if (v > 999)
			return NULL;
		p++;
	}
	if (*p != ',')
		return NULL;
	p++;
	if (*p == ' ')
		p++;
	if (n)
		*n = v;
	return p;
}

bool at_parse_uints(const char *s, unsigned *out, int n)
{
	for (int i = 0; i < n; i++) {
		while (*s == ' ')
			s++;
		if (*s < '0' || *s > '9')
			return false;
		unsigned long v = strtoul(s, (char **)&s, 10);
		if (v > 1000000000ul)
			return false;
		out[i] = (unsigned)v;
		while (*s == ' ')
			s++;
		if (i + 1 < n) {
			if (*s != ',')
				return false;
			s++;
		}
	}
	return true;
}

enum at_final at_final_generic(const char *line)
{
	if (!strcmp(line, "OK") || !strcmp(line, "SHUT OK"))
		return AT_FINAL_OK;
	if (!strcmp(line, "ERROR") || !strncmp(line, "+CME ERROR", 10) ||
	    !strncmp(line, "+CMS ERROR", 10))
		return AT_FINAL_ERROR;
	/* The "<n>, CLOSE OK" forms name a link: the dialect's per-command
	 * matcher checks the number, so another link's line is not taken. */
	if (!strcmp(line, "CLOSE OK") || !strcmp(line, "SEND OK"))
		return AT_FINAL_OK;
	if (!strcmp(line, "SEND FAIL"))
		return AT_FINAL_ERROR;
	return AT_NOT_FINAL;
}

static bool dispatch_urc(struct at_chan *c, const char *line)
{
	for (size_t i = 0; i < c->n_urcs; i++) {
		struct at_urc *u = &c->urcs[i];
		if (!strncmp(line, u->prefix, u->prefix_len)) {
			c->payload_dest = DEST_URC;
			c->payload_urc = i;
			u->line(u->ctx, line);
			return true;
		}
	}
	if (c->hooks->urc && c->hooks->urc(c->ctx, line))
		return true;
	return false;
}

/* A line that fits nothing: counted, reported, and no command is written
 * again before a sync check. A stray after the command's distinctive line
 * taints what the command delivered. */
static void lost_sync(struct at_chan *c, const char *line)
{
	if (c->in_flight && c->part_seen)
		c->tainted = true;
	stray(c, line);
	if (c->resync_on) {
		c->sync_wanted = true;
		if (!c->in_flight)
			start_next(c);
	}
}

/* What a line means for the command in flight. */
static enum at_final classify(struct at_chan *c, const char *line)
{
	const struct at_cmd *cmd = &c->cur;
	enum at_final f = cmd->final ? cmd->final(cmd, line) : AT_NOT_FINAL;
	enum at_final g = at_final_generic(line);
	if (!(cmd->flags & AT_F_STRICT)) {
		/* a bare error before anything else of the answer may be a
		 * stray one: it stands only if no OK follows (see err_timer) */
		if (f == AT_NOT_FINAL && g == AT_FINAL_ERROR && !c->part_seen && !c->prompt_seen)
			return AT_BARE_ERROR;
		return f != AT_NOT_FINAL ? f : g;
	}
	if (f == AT_FINAL_ERROR)
		return AT_FINAL_ERROR;
	if (g == AT_FINAL_ERROR)
		return c->part_seen || c->prompt_seen ? AT_FINAL_ERROR : AT_BARE_ERROR;
	if (cmd->data_len > 0 && !c->prompt_seen)
		return AT_NOT_FINAL; /* before the prompt only an error fits */
	if (f != AT_NOT_FINAL)
		return f;
	if (g == AT_FINAL_OK && c->part_seen && !strcmp(line, "OK"))
		return AT_FINAL_OK;
	return AT_NOT_FINAL;
}

static size_t on_line(void *ctx, const char *line, size_t len)
{
	struct at_chan *c = ctx;
	(void)len;
	c->payload_dest = DEST_NONE;
	/* Announced payload is always consumed, whoever it was meant for:
	 * parsed as lines it could imitate anything. */
	size_t want = c->hooks->payload_len ? c->hooks->payload_len(c->ctx, line) : 0;

	if (c->sync != SYNC_NONE && !c->in_flight) {
		sync_line(c, line);
	} else if (c->in_flight && !strcmp(line, c->cur.text)) {
		/* Echo, until ATE0 takes effect. With the data link up echo is
		 * off: an echo says the module started afresh, and the sync
		 * check (its ATE1 echoed) will report it. */
		want = 0;
		if (c->resync_on)
			c->sync_wanted = true;
	} else if (c->in_flight) {
		enum at_final f = classify(c, line);
		if (f == AT_BARE_ERROR) {
			if (!c->err_pending) {
				c->err_pending = true;
				snprintf(c->err_line, sizeof(c->err_line), "%s", line);
				ev_timer_set(&c->err_timer, AT_ERROR_WAIT_MS / 1000.0, 0.);
				ev_timer_start(c->loop, &c->err_timer);
			} else {
				lost_sync(c, line); /* a second one: a repeat */
			}
			return 0;
		}
		if (c->err_pending && f != AT_NOT_FINAL) {
			/* the command's own answer after all: the error was stray */
			c->err_pending = false;
			ev_timer_stop(c->loop, &c->err_timer);
			lost_sync(c, c->err_line);
		}
		if (f == AT_FINAL_OK || f == AT_FINAL_ERROR) {
			/* Set before complete(): the next command starts in it. */
			c->trail_ok = f == AT_FINAL_OK && (c->cur.flags & AT_F_TRAIL_OK) && strcmp(line, "OK");
			complete(c, f == AT_FINAL_OK ? AT_RES_OK : AT_RES_ERROR, line);
			return 0;
		}
		if (f == AT_INTERMEDIATE)
			return 0;
		if (f == AT_PART) {
			c->part_seen = true;
			c->garbage_at_part = c->parser.garbage_lines;
			c->trail_ok = false;
			c->payload_dest = DEST_CMD;
			if (c->cur.line)
				c->cur.line(c->cur.ctx, &c->cur, line);
		} else if (dispatch_urc(c, line)) {
			want = c->payload_dest == DEST_URC ? want : 0;
		} else if (c->trail_ok && !strcmp(line, "OK")) {
			c->trail_ok = false; /* the last command's OK */
		} else if (c->cur.flags & AT_F_STRICT) {
			lost_sync(c, line);
		} else {
			c->part_seen = true; /* an answer line: an error after it is the answer's */
			c->payload_dest = DEST_CMD;
			if (c->cur.line)
				c->cur.line(c->cur.ctx, &c->cur, line);
		}
	} else if (dispatch_urc(c, line)) {
		want = c->payload_dest == DEST_URC ? want : 0;
	} else if (c->trail_ok && !strcmp(line, "OK")) {
		c->trail_ok = false;
		ev_timer_stop(c->loop, &c->trail_timer);
		start_next(c);
	} else {
		lost_sync(c, line); /* an answer nobody asked for */
	}
	if (want > 0)
		payload_deadline(c, want);
	return want;
}

static void on_prompt(void *ctx)
{
	struct at_chan *c = ctx;
	if (!c->in_flight && c->orphan_len) {
		/* The prompt of a send given up on: its own data completes the
		 * module's data phase (its link has ended with loss already;
		 * the remote gets the stream's right next bytes). */
		out_append(c, c->orphan, c->orphan_len);
		c->orphan_len = 0;
		c->parser.prompt_armed = false;
		lost_sync(c, ">");
		return;
	}
	if (!c->in_flight || c->prompt_seen || c->cur.data_len == 0) {
		/* A prompt no send is waiting for: the module wants data we will
		 * not give. ESC cancels the send it thinks it is in. */
		static const uint8_t esc = 0x1b;
		out_append(c, &esc, 1);
		lost_sync(c, ">");
		return;
	}
	c->prompt_seen = true;
	if (c->err_pending) {
		/* the send's own prompt after all: the error was stray */
		c->err_pending = false;
		ev_timer_stop(c->loop, &c->err_timer);
		lost_sync(c, c->err_line);
	}
	out_append(c, c->cur.data, c->cur.data_len);
}

static void on_payload(void *ctx, const uint8_t *data, size_t len)
{
	struct at_chan *c = ctx;
	if (c->payload_dest == DEST_CMD && c->in_flight && c->cur.payload)
		c->cur.payload(c->cur.ctx, &c->cur, data, len);
	else if (c->payload_dest == DEST_URC && c->urcs[c->payload_urc].payload)
		c->urcs[c->payload_urc].payload(c->urcs[c->payload_urc].ctx, data, len);
	c->payload_dest = DEST_NONE;
}

static size_t on_inline(void *ctx, const char *line, size_t len)
{
	struct at_chan *c = ctx;
	(void)len;
	size_t want = c->hooks->inline_payload_len ? c->hooks->inline_payload_len(c->ctx, line) : 0;
	if (want > 0)
		payload_deadline(c, want);
	return want;
}

static const struct at_parser_ops parser_ops = {
	.on_line = on_line,
	.on_prompt = on_prompt,
	.on_payload = on_payload,
	.inline_payload = on_inline,
};

static void on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)revents;
	struct at_chan *c = w->data;
	uint8_t buf[4096]; /* what a pty gives at most per read */
	ssize_t n = read(c->fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		ev_io_stop(loop, &c->rio);
		c->dead = true;
		if (c->hooks->io_error)
			c->hooks->io_error(c->ctx);
		return;
	}
	c->stats.line_rx += (uint64_t)n;
	sync_saw_input(c);
	if (data_rx(c, buf, (size_t)n))
		return;
	at_parser_feed(&c->parser, buf, (size_t)n);
	if (!c->parser.in_payload)
		ev_timer_stop(loop, &c->payload_timer);
}

/* Takes what has arrived, now: data mode reads the line before it writes,
 * so that what the module said last (an end line, a restart) is seen
 * before more payload goes out. */
void at_chan_poll_rx(struct at_chan *c)
{
	if (!c->rx_paused && !c->dead)
		on_readable(c->loop, &c->rio, EV_READ);
}

/* Drops what is not yet on the line: ours, and the kernel's. */
void at_chan_drop_out(struct at_chan *c)
{
	c->out_off = c->out_len = 0;
	ev_io_stop(c->loop, &c->wio);
	tcflush(c->fd, TCOFLUSH);
}

/* ---- setup ---- */

bool at_chan_on_urc(struct at_chan *c, const char *prefix,
                    void (*line)(void *ctx, const char *line),
                    void (*payload)(void *ctx, const uint8_t *data, size_t len), void *ctx)
{
	size_t n = strlen(prefix);
	if (c->n_urcs >= AT_URC_MAX || n == 0 || n >= sizeof(c->urcs[0].prefix))
		return false;
	struct at_urc *u = &c->urcs[c->n_urcs++];
	memcpy(u->prefix, prefix, n + 1);
	u->prefix_len = n;
	u->line = line;
	u->payload = payload;
	u->ctx = ctx;
	return true;
}

struct at_chan *at_chan_new(struct ev_loop *loop, int fd, const struct at_chan_hooks *hooks, void *ctx)
{
	struct at_chan *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->loop = loop;
	c->fd = fd;
	c->hooks = hooks;
	c->ctx = ctx;
	at_parser_init(&c->parser, &parser_ops, c);
	ev_io_init(&c->rio, on_readable, fd, EV_READ);
	c->rio.data = c;
	ev_io_init(&c->wio, on_writable, fd, EV_WRITE);
	c->wio.data = c;
	ev_timer_init(&c->timer, on_timeout, 0., 0.);
	c->timer.data = c;
	ev_timer_init(&c->payload_timer, on_payload_stalled, 0., 0.);
	c->payload_timer.data = c;
	ev_timer_init(&c->sync_timer, on_sync_timer, 0., 0.);
	c->sync_timer.data = c;
	ev_timer_init(&c->trail_timer, on_trail_timer, 0., 0.);
	c->trail_timer.data = c;
	ev_timer_init(&c->err_timer, on_err_timer, 0., 0.);
	c->err_timer.data = c;
	c->baud = 115200;
	c->sync_guard = AT_SYNC_GUARD_MS / 1000.0;
	c->sync_step = AT_SYNC_STEP_MS / 1000.0;
	ev_io_start(loop, &c->rio);
	return c;
}

void at_chan_set_hooks(struct at_chan *c, const struct at_chan_hooks *hooks, void *ctx)
{
	c->hooks = hooks;
	c->ctx = ctx;
}

void at_chan_free(struct at_chan *c)
{
	if (!c)
		return;
	ev_io_stop(c->loop, &c->rio);
	ev_io_stop(c->loop, &c->wio);
	ev_timer_stop(c->loop, &c->timer);
	ev_timer_stop(c->loop, &c->payload_timer);
	ev_timer_stop(c->loop, &c->sync_timer);
	ev_timer_stop(c->loop, &c->trail_timer);
	ev_timer_stop(c->loop, &c->err_timer);
	free(c);
}

void at_chan_get_stats(const struct at_chan *c, struct at_chan_stats *out)
{
	*out = c->stats;
	out->garbage_lines = c->parser.garbage_lines;
}

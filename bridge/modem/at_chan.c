#include "at_chan.h"

#include <errno.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct at_urc {
	char prefix[32];
	size_t prefix_len;
	void (*line)(void *ctx, const char *line);
	void (*payload)(void *ctx, const uint8_t *data, size_t len);
	void *ctx;
};

enum payload_dest { DEST_NONE, DEST_CMD, DEST_URC };

struct at_chan {
	struct ev_loop *loop;
	int fd;
	const struct at_chan_hooks *hooks;
	void *ctx;
	ev_io rio, wio;
	ev_timer timer;
	ev_timer payload_timer; /* a payload that stopped arriving */
	unsigned baud;
	bool dead;

	struct at_parser parser;

	struct at_cmd queue[AT_QUEUE_MAX];
	size_t q_head, q_len;
	struct at_cmd cur;
	bool in_flight, prompt_seen;
	unsigned timeouts_in_row;
	/* resync (see at_chan_set_resync) */
	bool resync_on, resyncing, probing, probe_echo;
	unsigned probes;

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
		fprintf(stderr, "atbridge: AT output buffer full, dropping %zu bytes\n", len);
		return;
	}
	memcpy(c->out + c->out_len, buf, len);
	c->out_len += len;
	flush_out(c);
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
	return AT_OUT_MAX - (c->out_len - c->out_off);
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

static void complete(struct at_chan *c, enum at_result res, const char *final_line)
{
	struct at_cmd cmd = c->cur;
	ev_timer_stop(c->loop, &c->timer);
	c->in_flight = false;
	c->prompt_seen = false;
	c->parser.prompt_armed = false;
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
	/* A send that never saw its prompt may still be waiting for data:
	 * ESC cancels it so the next command is not taken as payload. */
	if (c->cur.data_len > 0 && !c->prompt_seen) {
		static const uint8_t esc = 0x1b;
		out_append(c, &esc, 1);
	}
	/* Whatever was half received belongs to the answer given up on; a
	 * payload cut by a module restart must not swallow its boot lines. */
	at_parser_reset(&c->parser);
	ev_timer_stop(c->loop, &c->payload_timer);
	if (c->resync_on && c->hooks->stalled) {
		/* The queue waits while probes find out what happened
		 * (start_next sends them); probe_done decides. */
		if (!c->resyncing) {
			c->resyncing = true;
			c->probes = 0;
		}
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
}

static void payload_deadline(struct at_chan *c, size_t want)
{
	double s = AT_PAYLOAD_SLACK_MS / 1000.0 + 3.0 * (double)want * 10.0 / (double)c->baud;
	ev_timer_stop(c->loop, &c->payload_timer);
	ev_timer_set(&c->payload_timer, s, 0.);
	ev_timer_start(c->loop, &c->payload_timer);
}

/* ---- resync ---- */

static void probe_done(void *ctx, const struct at_cmd *cmd, enum at_result res, const char *final_line)
{
	(void)cmd;
	(void)final_line;
	struct at_chan *c = ctx;
	bool echo = c->probe_echo;
	c->probing = false;
	c->probe_echo = false;
	if (!c->resyncing)
		return; /* resync was turned off meanwhile */
	if (res == AT_RES_TIMEOUT && ++c->probes < AT_RESYNC_PROBES)
		return; /* start_next sends the next probe */
	c->resyncing = false;
	c->timeouts_in_row = 0;
	/* The hooks may submit: in_flight is already false here. */
	if (res == AT_RES_TIMEOUT) {
		c->hooks->stalled(c->ctx);
	} else if (echo && c->hooks->rebooted) {
		c->hooks->rebooted(c->ctx);
	}
	/* OK or ERROR without echo: the module answers; the queue goes on. */
}

static void start(struct at_chan *c, const struct at_cmd *cmd);

static void start_probe(struct at_chan *c)
{
	struct at_cmd probe = { .text = "AT", .timeout_ms = AT_RESYNC_TIMEOUT_MS, .done = probe_done };
	probe.ctx = c;
	c->probing = true;
	c->probe_echo = false;
	/* CR first: ends whatever half command line the module may hold. */
	out_append(c, "\r", 1);
	start(c, &probe);
}

void at_chan_set_resync(struct at_chan *c, bool on)
{
	c->resync_on = on;
	if (!on)
		c->resyncing = false;
}

bool at_chan_resyncing(const struct at_chan *c)
{
	return c->resyncing;
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
	c->parser.prompt_armed = cmd->data_len > 0;
	c->stats.commands++;
	ev_timer_set(&c->timer, (cmd->timeout_ms ? cmd->timeout_ms : 5000) / 1000.0, 0.);
	ev_timer_start(c->loop, &c->timer);
	out_append(c, cmd->text, strlen(cmd->text));
	out_append(c, "\r", 1);
}

static void start_next(struct at_chan *c)
{
	if (c->in_flight || c->dead)
		return;
	if (c->resyncing) {
		start_probe(c);
		return;
	}
	if (c->q_len > 0) {
		struct at_cmd cmd = c->queue[c->q_head];
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
	if (!strncmp(line, "DATA ACCEPT:", 12))
		return AT_FINAL_OK;
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

static size_t on_line(void *ctx, const char *line, size_t len)
{
	struct at_chan *c = ctx;
	(void)len;
	c->payload_dest = DEST_NONE;
	size_t want = c->hooks->payload_len ? c->hooks->payload_len(c->ctx, line) : 0;

	if (c->in_flight) {
		if (!strcmp(line, c->cur.text)) {
			if (c->probing)
				c->probe_echo = true;
			return 0; /* echo, until ATE0 takes effect */
		}
		enum at_final f = c->cur.final ? c->cur.final(&c->cur, line) : AT_NOT_FINAL;
		if (f == AT_NOT_FINAL)
			f = at_final_generic(line);
		if (f == AT_FINAL_OK || f == AT_FINAL_ERROR) {
			complete(c, f == AT_FINAL_OK ? AT_RES_OK : AT_RES_ERROR, line);
			return 0;
		}
	}
	if (dispatch_urc(c, line)) {
		want = c->payload_dest == DEST_URC ? want : 0;
	} else if (c->in_flight) {
		c->payload_dest = DEST_CMD;
		if (c->cur.line)
			c->cur.line(c->cur.ctx, &c->cur, line);
		/* The handler may have been the last word (it cannot complete
		 * the command itself), payload follows for this command. */
	} else {
		want = 0; /* unsolicited line nobody asked for */
	}
	if (want > 0)
		payload_deadline(c, want);
	return want;
}

static void on_prompt(void *ctx)
{
	struct at_chan *c = ctx;
	if (!c->in_flight || c->prompt_seen || c->cur.data_len == 0)
		return;
	c->prompt_seen = true;
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
	uint8_t buf[4096];
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
	if (data_rx(c, buf, (size_t)n))
		return;
	at_parser_feed(&c->parser, buf, (size_t)n);
	if (!c->parser.in_payload)
		ev_timer_stop(loop, &c->payload_timer);
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
	c->baud = 115200;
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
	free(c);
}

void at_chan_get_stats(const struct at_chan *c, struct at_chan_stats *out)
{
	*out = c->stats;
	out->garbage_lines = c->parser.garbage_lines;
}

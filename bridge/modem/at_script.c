#include "at_script.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct at_script_run {
	struct ev_loop *loop;
	struct at_chan *chan;
	void (*done)(void *ctx, bool ok, size_t failed_row);
	void *ctx;
	const struct at_script *script;
	size_t row;
	unsigned attempt;
	bool running, seen_expect;
	uint32_t gen; /* commands of a stopped run are ignored */
	ev_timer delay;
};

static void run_row(struct at_script_run *r);

static void finish(struct at_script_run *r, bool ok)
{
	r->running = false;
	r->gen++;
	r->done(r->ctx, ok, r->row);
}

static void next_row(struct at_script_run *r)
{
	r->row++;
	r->attempt = 0;
	if (r->row >= r->script->n_rows)
		finish(r, true);
	else
		run_row(r);
}

static void row_failed(struct at_script_run *r)
{
	const struct at_script_row *row = &r->script->rows[r->row];
	unsigned tries = row->tries ? row->tries : 1;
	if (r->attempt < tries) {
		ev_timer_set(&r->delay, row->retry_delay_ms / 1000.0, 0.);
		ev_timer_start(r->loop, &r->delay);
		return;
	}
	if (row->on_fail == AT_ON_FAIL_NEXT)
		next_row(r);
	else
		finish(r, false);
}

static bool row_matches(const struct at_script_row *row, const char *line)
{
	if (row->match)
		return row->match(line);
	return row->expect && !strncmp(line, row->expect, strlen(row->expect));
}

static bool row_expects(const struct at_script_row *row)
{
	return row->expect || row->match;
}

static void on_line(void *ctx, const struct at_cmd *cmd, const char *line)
{
	struct at_script_run *r = ctx;
	if (cmd->tag != r->gen || !r->running)
		return;
	const struct at_script_row *row = &r->script->rows[r->row];
	if (row->capture_lines && row->capture)
		row->capture(r->ctx, line);
	if (row_expects(row) && !r->seen_expect && row_matches(row, line)) {
		r->seen_expect = true;
		if (row->capture && !row->capture_lines)
			row->capture(r->ctx, line);
	}
}

static void on_done(void *ctx, const struct at_cmd *cmd, enum at_result res, const char *final_line)
{
	struct at_script_run *r = ctx;
	if (cmd->tag != r->gen || !r->running)
		return;
	const struct at_script_row *row = &r->script->rows[r->row];
	if (res == AT_RES_OK && row_expects(row) && !r->seen_expect && row_matches(row, final_line))
		r->seen_expect = true;
	if (res != AT_RES_OK || (row_expects(row) && !r->seen_expect)) {
		row_failed(r);
		return;
	}
	if (!row_expects(row) && row->capture && !row->capture_lines)
		row->capture(r->ctx, final_line);
	next_row(r);
}

static void run_row(struct at_script_run *r)
{
	const struct at_script_row *row = &r->script->rows[r->row];
	struct at_cmd cmd = { 0 };
	if (row->skip && row->skip(r->ctx)) {
		next_row(r);
		return;
	}
	if (row->build) {
		if (!row->build(r->ctx, cmd.text, sizeof(cmd.text))) {
			finish(r, false);
			return;
		}
	} else {
		snprintf(cmd.text, sizeof(cmd.text), "%s", row->cmd);
	}
	cmd.timeout_ms = row->timeout_ms;
	cmd.final = row->final;
	cmd.line = on_line;
	cmd.done = on_done;
	cmd.ctx = r;
	cmd.tag = r->gen;
	r->attempt++;
	r->seen_expect = false;
	if (!at_chan_submit(r->chan, &cmd))
		row_failed(r);
}

static void on_delay(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct at_script_run *r = w->data;
	if (r->running)
		run_row(r);
}

struct at_script_run *at_script_run_new(struct ev_loop *loop, struct at_chan *chan,
                                        void (*done)(void *ctx, bool ok, size_t failed_row),
                                        void *ctx)
{
	struct at_script_run *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->loop = loop;
	r->chan = chan;
	r->done = done;
	r->ctx = ctx;
	ev_timer_init(&r->delay, on_delay, 0., 0.);
	r->delay.data = r;
	return r;
}

void at_script_run_free(struct at_script_run *r)
{
	if (!r)
		return;
	ev_timer_stop(r->loop, &r->delay);
	free(r);
}

void at_script_start(struct at_script_run *r, const struct at_script *script)
{
	at_script_stop(r);
	r->script = script;
	r->row = 0;
	r->attempt = 0;
	r->running = true;
	if (script->n_rows == 0)
		finish(r, true);
	else
		run_row(r);
}

void at_script_stop(struct at_script_run *r)
{
	ev_timer_stop(r->loop, &r->delay);
	if (r->running)
		r->gen++;
	r->running = false;
}

bool at_script_running(const struct at_script_run *r)
{
	return r->running;
}

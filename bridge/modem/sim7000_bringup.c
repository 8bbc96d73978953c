/* SIM7000 bring-up and recovery: the bring-up table, the retry with
 * backoff, and what happens when the data context or the serial line is lost.
 */
#include <ev.h>
#include <stdio.h>
#include <string.h>

#include "at_cmd.h"
#include "sim7000.h"

static bool build_cstt(void *ctx, char *out, size_t cap)
{
	struct modem *m = ctx;
	return at_cmd_format(out, cap, "AT+CSTT=%q,%q,%q", m->cfg.apn, m->cfg.user, m->cfg.password);
}

static enum at_final cifsr_final(const struct at_cmd *cmd, const char *line)
{
	(void)cmd;
	unsigned a, b, c, d;
	char extra;
	if (sscanf(line, "%u.%u.%u.%u%c", &a, &b, &c, &d, &extra) == 4 && a < 256 && b < 256 &&
	    c < 256 && d < 256)
		return AT_FINAL_OK;
	return AT_NOT_FINAL;
}

static void capture_ip(void *ctx, const char *line)
{
	struct modem *m = ctx;
	snprintf(m->local_ip, sizeof(m->local_ip), "%s", line);
}

static const struct at_script_row sim7000_bringup_rows[] = {
	{ .cmd = "AT", .timeout_ms = 1000, .tries = 10, .retry_delay_ms = 1000 },
	{ .cmd = "ATE0", .timeout_ms = 2000, .tries = 3, .retry_delay_ms = 500 },
	{ .cmd = "AT+CMEE=1", .timeout_ms = 2000, .tries = 2, .retry_delay_ms = 500 },
	MODEM_PIN_ROWS,
	{ .cmd = "AT+CGATT?", .expect = "+CGATT: 1", .timeout_ms = 5000, .tries = 60,
	  .retry_delay_ms = 1000 },
	MODEM_INFO_ROWS_SIM7000,
	{ .cmd = "AT+CIPSHUT", .expect = "SHUT OK", .timeout_ms = 65000, .tries = 2,
	  .retry_delay_ms = 1000 },
	{ .cmd = "AT+CIPMUX=1", .timeout_ms = 2000 },
	{ .cmd = "AT+CIPRXGET=1", .timeout_ms = 2000 },
	{ .cmd = "AT+CIPQSEND=1", .timeout_ms = 2000 },
	{ .build = build_cstt, .timeout_ms = 5000 },
	{ .cmd = "AT+CIICR", .timeout_ms = 85000 },
	{ .cmd = "AT+CIFSR", .final = cifsr_final, .timeout_ms = 5000, .capture = capture_ip },
};

static const struct at_script sim7000_bringup = {
	.name = "sim7000 bring-up",
	.rows = sim7000_bringup_rows,
	.n_rows = sizeof(sim7000_bringup_rows) / sizeof(sim7000_bringup_rows[0]),
};

static void retry_later(struct modem *m, const char *what, bool silent)
{
	struct sim7000 *s = S(m);
	double wait = modem_recover_failed(m, silent);
	fprintf(stderr, "atbridge: sim7000 bring-up failed at %s; retrying in %.1f s\n", what, wait);
	ev_timer_set(&s->retry_timer, wait, 0.);
	ev_timer_start(m->loop, &s->retry_timer);
}

static void on_bringup_done(void *ctx, bool ok, size_t failed_row)
{
	struct modem *m = ctx;
	struct sim7000 *s = S(m);
	if (!ok) {
		const struct at_script_row *row = &sim7000_bringup_rows[failed_row];
		/* No answer to the sync row: the module is silent, and the next
		 * attempt starts by asking it to restart. */
		retry_later(m, row->cmd ? row->cmd : row->label ? row->label : "AT+CSTT", failed_row == 0);
		return;
	}
	modem_recover_succeeded(m);
	m->up = true;
	at_chan_set_resync(m->chan, true);
	ev_timer_again(m->loop, &s->poll_timer);
	if (m->ev.link_state)
		m->ev.link_state(m->ctx, true, m->local_ip);
	at_chan_kick(m->chan);
}

static void script_start(struct modem *m)
{
	at_script_start(m->script, &sim7000_bringup);
}

static void bringup_run(struct modem *m)
{
	struct sim7000 *s = S(m);
	if (s->chan_dead) {
		if (!modem_reopen(m)) {
			retry_later(m, "opening the serial port", false);
			return;
		}
		s->chan_dead = false;
	}
	at_script_stop(m->script);
	modem_recover_begin(m, script_start);
}

static void on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	bringup_run(w->data);
}

/* Starts bring-up from the sync step, after the command in flight. */
void sim7000_bringup_start(struct modem *m)
{
	struct sim7000 *s = S(m);
	ev_timer_stop(m->loop, &s->retry_timer);
	if (s->chan_dead) {
		/* Never reopen from inside the channel's own callback. */
		ev_timer_set(&s->retry_timer, modem_recover_holdoff(m), 0.);
		ev_timer_start(m->loop, &s->retry_timer);
		return;
	}
	bringup_run(m);
}

/* The data context is gone: every link ends, then link_state(false). */
void sim7000_link_down_all(struct modem *m)
{
	struct sim7000 *s = S(m);
	m->up = false;
	s->gen = (s->gen + 1) & 0x0fffffffu;
	ev_timer_stop(m->loop, &s->poll_timer);
	ev_timer_stop(m->loop, &s->ack_timer);
	if (m->chan) {
		at_chan_set_resync(m->chan, false);
		at_chan_cancel_queued(m->chan);
	}
	for (int i = 0; i < SIM7000_LINKS; i++) {
		struct sim7000_link *l = &s->links[i];
		enum sim7000_link_state st = l->state;
		bool reported = l->connect_reported;
		bool silent = l->silent_close;
		sim7000_link_reset(l);
		if (st != LINK_FREE && !reported && m->ev.connected)
			m->ev.connected(m->ctx, i, false); /* also a connect being retried */
		else if (st != LINK_FREE && st != LINK_CONNECTING && !silent && m->ev.closed)
			m->ev.closed(m->ctx, i, true); /* cut off: never a clean end */
	}
	sim7000_query_fail_all(m);
	if (m->ev.link_state)
		m->ev.link_state(m->ctx, false, NULL);
}


void sim7000_io_error(void *ctx)
{
	struct modem *m = ctx;
	fprintf(stderr, "atbridge: serial line %s failed; will reopen\n", m->cfg.device);
	S(m)->chan_dead = true;
	at_script_stop(m->script);
	if (m->up)
		sim7000_link_down_all(m);
	sim7000_bringup_start(m);
}

void sim7000_bringup_init(struct modem *m)
{
	ev_timer_init(&S(m)->retry_timer, on_retry, 0., 0.);
	S(m)->retry_timer.data = m;
}

void sim7000_bringup_attach(struct modem *m)
{
	m->script = at_script_run_new(m->loop, m->chan, on_bringup_done, m);
}

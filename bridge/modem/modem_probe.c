/* model = auto: ask the module who it is (ATI, then AT+CGMM) and pick the
 * dialect from the answer, before any bring-up. */
#include <ev.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "modem_priv.h"

#define PROBE_RETRY 2.0

static const struct modem_dialect *dialect_of(const char *line)
{
	if (strcasestr(line, "SIM7000") || strcasestr(line, "SIMCOM"))
		return &sim7000_dialect;
	if (strcasestr(line, "N11") || strcasestr(line, "NEOWAY"))
		return &n11v2_dialect;
	return NULL;
}

static bool ident_line(const char *line)
{
	return dialect_of(line) != NULL;
}

static void capture_ident(void *ctx, const char *line)
{
	struct modem *m = ctx;
	if (!m->probed)
		m->probed = dialect_of(line);
}

static const struct at_script_row probe_rows[] = {
	{ .cmd = "AT", .timeout_ms = 1000, .tries = 10, .retry_delay_ms = 1000 },
	{ .cmd = "ATE0", .timeout_ms = 2000, .tries = 3, .retry_delay_ms = 500 },
	{ .cmd = "ATI", .match = ident_line, .capture = capture_ident, .timeout_ms = 2000,
	  .on_fail = AT_ON_FAIL_NEXT },
	{ .cmd = "AT+CGMM", .match = ident_line, .capture = capture_ident, .timeout_ms = 2000,
	  .on_fail = AT_ON_FAIL_NEXT },
};

static const struct at_script probe_script = {
	.name = "model probe",
	.rows = probe_rows,
	.n_rows = sizeof(probe_rows) / sizeof(probe_rows[0]),
};

static void probe_io_error(void *ctx)
{
	struct modem *m = ctx;
	fprintf(stderr, "atbridge: serial line %s failed while probing the model; will reopen\n",
	        m->cfg.device);
	m->probe_dead = true;
	at_script_stop(m->script);
	ev_timer_set(&m->probe_timer, PROBE_RETRY, 0.);
	ev_timer_start(m->loop, &m->probe_timer);
}

const struct at_chan_hooks modem_probe_hooks = {
	.io_error = probe_io_error,
};

static void on_probe_done(void *ctx, bool ok, size_t failed_row)
{
	(void)failed_row;
	struct modem *m = ctx;
	if (!ok) {
		fprintf(stderr, "atbridge: no answer from the module on %s; retrying in %.0f s\n",
		        m->cfg.device, PROBE_RETRY);
		ev_timer_set(&m->probe_timer, PROBE_RETRY, 0.);
	} else {
		if (!m->probed) {
			fprintf(stderr, "atbridge: module on %s not recognised (ATI, AT+CGMM); "
			                "assuming sim7000 (set model to override)\n", m->cfg.device);
			m->probed = &sim7000_dialect;
		}
		ev_timer_set(&m->probe_timer, 0., 0.); /* switch outside the script's callback */
	}
	ev_timer_start(m->loop, &m->probe_timer);
}

/* Either retries the probe or hands the line to the dialect found. */
static void on_probe_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct modem *m = w->data;
	if (!m->probed) {
		if (m->probe_dead) {
			if (!modem_reopen(m)) {
				ev_timer_set(&m->probe_timer, PROBE_RETRY, 0.);
				ev_timer_start(m->loop, &m->probe_timer);
				return;
			}
			m->probe_dead = false;
		}
		at_script_start(m->script, &probe_script);
		return;
	}
	const struct modem_dialect *d = m->probed;
	if (m->cfg.transparent)
		d = d == &n11v2_dialect ? &n11v2_trans_dialect : &sim7000_trans_dialect;
	at_script_run_free(m->script);
	m->script = NULL;
	if (!d->create(m)) {
		fprintf(stderr, "atbridge: out of memory starting the %s dialect\n", d->name);
		return;
	}
	m->dialect = d;
	at_chan_set_hooks(m->chan, d->hooks, m);
	d->attach(m);
	d->start(m);
}

void modem_probe_attach(struct modem *m)
{
	m->script = at_script_run_new(m->loop, m->chan, on_probe_done, m);
}

void modem_probe_init(struct modem *m)
{
	ev_timer_init(&m->probe_timer, on_probe_timer, 0., 0.);
	m->probe_timer.data = m;
}

void modem_probe_start(struct modem *m)
{
	modem_probe_attach(m);
	at_script_start(m->script, &probe_script);
}

void modem_probe_stop(struct modem *m)
{
	ev_timer_stop(m->loop, &m->probe_timer);
}

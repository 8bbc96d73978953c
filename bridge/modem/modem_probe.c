/* model = auto: ask the module who it is (ATI, then AT+CGMM) and pick the
 * dialect from the answer, before any bring-up. A module that answers but is
 * none of the supported ones stops the process (the fatal event): guessing a
 * dialect for it would only fail later in a less clear way. */
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "modem_priv.h"
#include "log.h"

#define PROBE_RETRY 2.0

static bool ident_line(const char *line)
{
	return modem_module_identify(line) != NULL;
}

/* Appends an answer line to buf (lines joined with " / "), printable ASCII
 * only and without quotes: it goes into a message. */
static void keep_answer(char *buf, size_t cap, const char *line)
{
	size_t n = strlen(buf);
	if (!line[0])
		return;
	if (n && n + 3 < cap) {
		memcpy(buf + n, " / ", 3);
		n += 3;
	}
	for (; *line && n + 1 < cap; line++)
		buf[n++] = (*line >= 0x20 && *line < 0x7f && *line != '\'') ? *line : '?';
	buf[n] = '\0';
}

static void capture_ati(void *ctx, const char *line)
{
	struct modem *m = ctx;
	keep_answer(m->probe_ati, sizeof(m->probe_ati), line);
	if (!m->probed)
		m->probed = modem_module_identify(line);
}

static void capture_cgmm(void *ctx, const char *line)
{
	struct modem *m = ctx;
	keep_answer(m->probe_cgmm, sizeof(m->probe_cgmm), line);
	if (!m->probed)
		m->probed = modem_module_identify(line);
}

static const struct at_script_row probe_rows[] = {
	MODEM_SYNC_ROWS,
	{ .cmd = "ATI", .match = ident_line, .capture = capture_ati, .capture_lines = true,
	  .timeout_ms = 2000, .on_fail = AT_ON_FAIL_NEXT },
	{ .cmd = "AT+CGMM", .match = ident_line, .capture = capture_cgmm, .capture_lines = true,
	  .timeout_ms = 2000, .on_fail = AT_ON_FAIL_NEXT },
};

static const struct at_script probe_script = {
	.name = "model probe",
	.rows = probe_rows,
	.n_rows = sizeof(probe_rows) / sizeof(probe_rows[0]),
};

static void probe_io_error(void *ctx)
{
	struct modem *m = ctx;
	log_err("serial line %s failed while probing the model; will reopen",
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
		log_warn("no answer from the module on %s; retrying in %.0f s",
		         m->cfg.device, PROBE_RETRY);
		ev_timer_set(&m->probe_timer, PROBE_RETRY, 0.);
	} else {
		if (!m->probed)
			m->probe_unknown = true; /* reported from the timer, outside the script */
		ev_timer_set(&m->probe_timer, 0., 0.); /* switch outside the script's callback */
	}
	ev_timer_start(m->loop, &m->probe_timer);
}

static void start_probe(struct modem *m)
{
	m->probe_ati[0] = m->probe_cgmm[0] = '\0';
	at_script_start(m->script, &probe_script);
}

static void report_unknown(struct modem *m)
{
	char msg[320];
	char ati[80], cgmm[80];
	if (m->probe_ati[0])
		snprintf(ati, sizeof(ati), "answered '%s'", m->probe_ati);
	else
		snprintf(ati, sizeof(ati), "gave no answer");
	if (m->probe_cgmm[0])
		snprintf(cgmm, sizeof(cgmm), "answered '%s'", m->probe_cgmm);
	else
		snprintf(cgmm, sizeof(cgmm), "gave no answer");
	snprintf(msg, sizeof(msg), "unknown module on %s: ATI %s, AT+CGMM %s; supported: %s; use --model to override",
	         m->cfg.device, ati, cgmm, modem_modules_list());
	if (m->ev.fatal) {
		m->ev.fatal(m->ctx, msg);
		return;
	}
	log_err("%s", msg);
	exit(1);
}

/* Either retries the probe or hands the line to the dialect found. */
static void on_probe_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct modem *m = w->data;
	if (m->probe_unknown) {
		report_unknown(m);
		return;
	}
	if (!m->probed) {
		if (m->probe_dead) {
			if (!modem_reopen(m)) {
				ev_timer_set(&m->probe_timer, PROBE_RETRY, 0.);
				ev_timer_start(m->loop, &m->probe_timer);
				return;
			}
			m->probe_dead = false;
		}
		start_probe(m);
		return;
	}
	m->module = m->probed;
	const struct modem_dialect *d = modem_dialect_for(m);
	at_script_run_free(m->script);
	m->script = NULL;
	if (!d->create(m)) {
		log_err("out of memory starting the %s dialect", d->name);
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
	start_probe(m);
}

void modem_probe_stop(struct modem *m)
{
	ev_timer_stop(m->loop, &m->probe_timer);
}

/* The multi-link engine's bring-up and recovery: the module's bring-up
 * table run with retry and backoff, its notifications dispatched by
 * prefix, and what happens when the data context, the module or the serial
 * line is lost. */
#include <ev.h>
#include <string.h>

#include "log.h"
#include "mlink_priv.h"

/* ---- bring-up ---- */

static void retry_later(struct modem *m, const char *what, bool silent)
{
	struct mlink *s = ML(m);
	double wait = modem_recover_failed(m, silent);
	log_warn("%s bring-up failed at %s; retrying in %.1f s", s->mo->name, what, wait);
	ev_timer_set(&s->retry_timer, wait, 0.);
	ev_timer_start(m->loop, &s->retry_timer);
}

static void on_bringup_done(void *ctx, bool ok, size_t failed_row)
{
	struct modem *m = ctx;
	struct mlink *s = ML(m);
	if (!ok) {
		const struct at_script_row *row = &s->mo->bringup->rows[failed_row];
		/* No answer to the sync row: the module is silent, and the next
		 * attempt starts by asking it to restart. */
		retry_later(m, row->cmd ? row->cmd : row->label ? row->label : "a built command",
		            failed_row == 0);
		return;
	}
	modem_recover_succeeded(m);
	m->up = true;
	at_chan_set_resync(m->chan, true);
	ev_timer_again(m->loop, &s->poll_timer);
	modem_info_log(m);
	mlink_listen_start(m); /* before any connect: see mlink_listen.c */
	if (m->ev.link_state)
		m->ev.link_state(m->ctx, true, m->local_ip);
	at_chan_kick(m->chan);
}

static void script_start(struct modem *m)
{
	at_script_start(m->script, ML(m)->mo->bringup);
}

static void bringup_run(struct modem *m)
{
	struct mlink *s = ML(m);
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
void mlink_bringup_start(struct modem *m)
{
	struct mlink *s = ML(m);
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
void mlink_link_down_all(struct modem *m)
{
	struct mlink *s = ML(m);
	m->up = false;
	s->gen = (s->gen + 1) & 0x0fffffffu;
	ev_timer_stop(m->loop, &s->poll_timer);
	ev_timer_stop(m->loop, &s->wait_timer);
	if (m->chan) {
		at_chan_set_resync(m->chan, false);
		at_chan_cancel_queued(m->chan);
	}
	for (int i = 0; i < s->mo->links; i++) {
		struct mlink_link *l = &s->links[i];
		enum mlink_state st = l->state;
		bool reported = l->connect_reported, silent = l->silent_close;
		mlink_link_reset(l);
		if (st != ML_FREE && !reported && m->ev.connected)
			m->ev.connected(m->ctx, i, false); /* also a connect being retried */
		else if (st != ML_FREE && st != ML_CONNECTING && !silent && m->ev.closed)
			m->ev.closed(m->ctx, i, true); /* cut off: never a clean end */
	}
	mlink_listen_down(m);
	mlink_resolve_fail_all(m);
	if (s->mo->queries && s->mo->queries->fail_all)
		s->mo->queries->fail_all(m);
	if (m->ev.link_state)
		m->ev.link_state(m->ctx, false, NULL);
}

/* ---- what ends the data link ---- */

static void context_lost(struct modem *m, const char *line)
{
	if (!m->up)
		return;
	log_warn("%s: %s; data link down, bringing it up again", ML(m)->mo->name, line);
	mlink_link_down_all(m);
	mlink_bringup_start(m);
}

/* The module restarted and lost every setting, whatever we were doing
 * (also in the middle of bring-up). */
static void restarted(struct modem *m, const char *why)
{
	log_warn("%s: the module restarted (%s); bringing it up again", ML(m)->mo->name, why);
	modem_recover_module_restarted(m);
	if (m->up)
		mlink_link_down_all(m);
	/* What was on the line died with the module: do not wait for its
	 * timeout (a connect sent during the boot silence held bring-up 5 s). */
	at_chan_abort_current(m->chan);
	mlink_bringup_start(m);
}

/* The resync probes went unanswered: every link ends now (no flow waits
 * for a module that may never answer), and bring-up starts with a reboot
 * request. */
static void on_stalled(void *ctx)
{
	struct modem *m = ctx;
	modem_recover_module_dead(m);
	if (!m->up)
		return; /* bring-up is retrying by itself */
	log_warn("%s: the module stopped answering; data link down", ML(m)->mo->name);
	mlink_link_down_all(m);
	mlink_bringup_start(m);
}

static void on_rebooted(void *ctx)
{
	restarted(ctx, "echo on");
}

static void on_io_error(void *ctx)
{
	struct modem *m = ctx;
	log_err("serial line %s failed; will reopen", m->cfg.device);
	ML(m)->chan_dead = true;
	at_script_stop(m->script);
	if (m->up)
		mlink_link_down_all(m);
	mlink_bringup_start(m);
}

/* ---- notifications ---- */

/* Acts on what a notification said; false when it was none. */
static bool act(struct modem *m, enum mlink_event ev, int id, const char *line)
{
	struct mlink *s = ML(m);
	bool link_ev = ev == ME_CONNECT_OK || ev == ME_CONNECT_FAIL || ev == ME_IN_USE ||
	               ev == ME_READABLE || ev == ME_CLOSED;
	if (ev == ME_NONE)
		return false;
	if (mlink_listen_event(m, ev, id, line))
		return true;
	if (link_ev && (id < 0 || id >= s->mo->links))
		return true;
	switch (ev) {
	case ME_CONNECT_OK:
	case ME_CONNECT_FAIL:
	case ME_IN_USE:
		mlink_connect_result(&s->links[id], ev);
		break;
	case ME_READABLE:
		if (m->up)
			mlink_readable(&s->links[id]);
		break;
	case ME_CLOSED:
		mlink_remote_closed(&s->links[id]);
		break;
	case ME_DOWN:
		context_lost(m, line);
		break;
	case ME_RESTART:
		restarted(m, line);
		break;
	default:
		break;
	}
	return true;
}

/* Every registered prefix comes here; the table says which parser. */
static void on_urc(void *ctx, const char *line)
{
	struct modem *m = ctx;
	const struct mlink_model *mo = ML(m)->mo;
	for (size_t i = 0; i < mo->n_urcs; i++) {
		const struct mlink_urc *u = &mo->urcs[i];
		int id = -1;
		if (!u->prefix || strncmp(line, u->prefix, strlen(u->prefix)))
			continue;
		enum mlink_event ev = u->parse ? u->parse(line, &id) : u->event;
		if (act(m, ev, id, line))
			return;
	}
}

/* Lines without a fixed prefix ("0, CLOSED"). */
static bool on_bare_urc(void *ctx, const char *line)
{
	struct modem *m = ctx;
	const struct mlink_model *mo = ML(m)->mo;
	for (size_t i = 0; i < mo->n_urcs; i++) {
		int id = -1;
		if (mo->urcs[i].prefix)
			continue;
		enum mlink_event ev = mo->urcs[i].parse(line, &id);
		if (act(m, ev, id, line))
			return true;
	}
	return false;
}

/* A line that fits no command: an answer that went astray. The link it
 * names can no longer be trusted. */
static void on_stray(void *ctx, const char *line)
{
	struct modem *m = ctx;
	struct mlink *s = ML(m);
	log_warn("%s: out-of-sync answer \"%.60s\"", s->mo->name, line);
	int id = s->mo->stray_link(line);
	if (id >= 0 && id < s->mo->links && m->up)
		mlink_link_fail(&s->links[id], "an answer for it came out of turn");
}

/* The channel is in sync: remote closes that waited for proof end clean. */
static void on_synced(void *ctx)
{
	struct modem *m = ctx;
	struct mlink *s = ML(m);
	for (int i = 0; i < s->mo->links; i++) {
		struct mlink_link *l = &s->links[i];
		if (!l->fin_sync || l->state != ML_DRAINING || l->busy)
			continue;
		l->fin_sync = false;
		if (l->readable || l->hold_len)
			at_chan_kick(m->chan); /* more came meanwhile: drain it, check again */
		else
			mlink_link_closed(l);
	}
}

static size_t on_payload_len(void *ctx, const char *line)
{
	struct modem *m = ctx;
	if (!m->d || ML(m)->mo->payload_inline)
		return 0;
	return ML(m)->mo->payload_len(&ML(m)->rx, line);
}

static size_t on_inline_len(void *ctx, const char *line)
{
	struct modem *m = ctx;
	if (!m->d || !ML(m)->mo->payload_inline)
		return 0;
	return ML(m)->mo->payload_len(&ML(m)->rx, line);
}

const struct at_chan_hooks mlink_hooks = {
	.payload_len = on_payload_len,
	.inline_payload_len = on_inline_len,
	.urc = on_bare_urc,
	.idle = mlink_idle,
	.io_error = on_io_error,
	.stalled = on_stalled,
	.rebooted = on_rebooted,
	.stray = on_stray,
	.synced = on_synced,
};

/* ---- setup ---- */

void mlink_bringup_init(struct modem *m)
{
	ev_timer_init(&ML(m)->retry_timer, on_retry, 0., 0.);
	ML(m)->retry_timer.data = m;
}

void mlink_bringup_attach(struct modem *m)
{
	const struct mlink_model *mo = ML(m)->mo;
	for (size_t i = 0; i < mo->n_urcs; i++) {
		bool again = false;
		for (size_t j = 0; j < i; j++)
			again |= mo->urcs[j].prefix && mo->urcs[i].prefix &&
			         !strcmp(mo->urcs[j].prefix, mo->urcs[i].prefix);
		if (mo->urcs[i].prefix && !again)
			at_chan_on_urc(m->chan, mo->urcs[i].prefix, on_urc, mlink_push_payload, m);
	}
	mlink_resolve_attach(m);
	if (mo->queries && mo->queries->attach)
		mo->queries->attach(m);
	m->script = at_script_run_new(m->loop, m->chan, on_bringup_done, m);
}

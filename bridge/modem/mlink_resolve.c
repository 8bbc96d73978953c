/* The multi-link engine's resolver: one name on the line at a time (a
 * module's failure answer carries no name or id to match), up to
 * MLINK_RESOLVE_QUEUE waiting. The module's table gives the command, the
 * prefix of its result lines and what a line means (the same functions
 * its transparent table uses). */
#include <ev.h>
#include <stdio.h>
#include <string.h>

#include "at_cmd.h"
#include "mlink_priv.h"

#define RESOLVE_TIMEOUT 30.0 /* neither manual gives a maximum */

static void resolve_next(struct modem *m);

static void resolve_finish(struct modem *m, bool ok)
{
	struct mlink_resolver *r = &ML(m)->res;
	ev_timer_stop(m->loop, &r->timer);
	if (!r->active || r->n == 0)
		return;
	int req = r->q[0].req;
	uint32_t ips[MODEM_RESOLVE_MAX];
	size_t n = ok ? r->n_ips : 0;
	memcpy(ips, r->ips, sizeof(ips));
	memmove(r->q, r->q + 1, (r->n - 1) * sizeof(r->q[0]));
	r->n--;
	r->active = false;
	resolve_next(m); /* before the callback, which may ask again */
	if (m->ev.resolved)
		m->ev.resolved(m->ctx, req, ok && n > 0, ips, n);
}

/* The result lines may come before the command's OK and end the request. */
static void on_resolve_done(void *ctx, const struct at_cmd *cmd, enum at_result res, const char *final_line)
{
	(void)final_line;
	struct modem *m = ctx;
	struct mlink_resolver *r = &ML(m)->res;
	if (r->active && r->n && (uint32_t)r->q[0].req == cmd->tag && res != AT_RES_OK)
		resolve_finish(m, false);
}

static void on_resolve_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	resolve_finish(w->data, false);
}

static void on_resolve_line(void *ctx, const char *line)
{
	struct modem *m = ctx;
	struct mlink_resolver *r = &ML(m)->res;
	if (!r->active)
		return;
	enum trans_dns d = ML(m)->mo->resolve_line(line, r->ips, &r->n_ips);
	if (d == TD_DONE || d == TD_FAIL)
		resolve_finish(m, d == TD_DONE);
}

static void resolve_next(struct modem *m)
{
	struct mlink_resolver *r = &ML(m)->res;
	struct at_cmd cmd = { 0 };
	if (r->active || r->n == 0 || !m->up)
		return;
	r->active = true;
	r->n_ips = 0;
	if (!ML(m)->mo->resolve_cmd(cmd.text, sizeof(cmd.text), r->q[0].name)) {
		resolve_finish(m, false);
		return;
	}
	cmd.timeout_ms = m->cfg.cmd_timeout_ms;
	cmd.done = on_resolve_done;
	cmd.ctx = m;
	cmd.tag = (uint32_t)r->q[0].req;
	if (!at_chan_submit(m->chan, &cmd)) {
		resolve_finish(m, false);
		return;
	}
	ev_timer_set(&r->timer, RESOLVE_TIMEOUT, 0.);
	ev_timer_start(m->loop, &r->timer);
}

int mlink_resolve(struct modem *m, const char *name)
{
	struct mlink_resolver *r = &ML(m)->res;
	if (!ML(m)->mo->resolve_cmd || !at_cmd_hostname_ok(name) || r->n >= MLINK_RESOLVE_QUEUE)
		return -1;
	int req = modem_next_req(m);
	r->q[r->n].req = req;
	snprintf(r->q[r->n].name, sizeof(r->q[0].name), "%s", name);
	r->n++;
	resolve_next(m);
	return req;
}

/* The data context is gone: every waiting resolve fails. */
void mlink_resolve_fail_all(struct modem *m)
{
	struct mlink_resolver *r = &ML(m)->res;
	int reqs[MLINK_RESOLVE_QUEUE];
	size_t n = r->n;
	for (size_t i = 0; i < n; i++)
		reqs[i] = r->q[i].req;
	r->n = 0;
	r->active = false;
	ev_timer_stop(m->loop, &r->timer);
	for (size_t i = 0; i < n; i++)
		if (m->ev.resolved)
			m->ev.resolved(m->ctx, reqs[i], false, NULL, 0);
}

void mlink_resolve_init(struct modem *m)
{
	ev_timer_init(&ML(m)->res.timer, on_resolve_timeout, 0., 0.);
	ML(m)->res.timer.data = m;
}

void mlink_resolve_stop(struct modem *m)
{
	ev_timer_stop(m->loop, &ML(m)->res.timer);
}

void mlink_resolve_attach(struct modem *m)
{
	if (ML(m)->mo->resolve_prefix)
		at_chan_on_urc(m->chan, ML(m)->mo->resolve_prefix, on_resolve_line, NULL, m);
}

/* N11V2 ping (AT+PING): one run on the line at a time, the rest wait in a
 * short queue. The resolver (AT+DNS) is the engine's (mlink_resolve.c)
 * with n11v2.c's lines. */
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at_cmd.h"
#include "n11v2.h"

#define N11V2_PING_TIMEOUT 20.0
#define N11V2_QUERY_QUEUE 8

struct n11v2_query {
	struct {
		int req;
		uint32_t ip;
		ev_tstamp deadline;
	} pingq[N11V2_QUERY_QUEUE];
	uint32_t ping_ip, ping_run; /* the run on the line: its address, its tag */
	ev_timer ping_deadline;
	/* a reply of the run that no echo was waiting for, kept briefly: an
	 * echo sent at the same moment (ping's own pace, 1 s, is the module's)
	 * must not lose the race against it */
	ev_tstamp spare_at;
	unsigned spare_rtt;
	ev_timer spare_timer;
	size_t n_pingq;
	bool ping_busy;
	ev_timer ping_timer;
};

static struct n11v2_query *N(const struct modem *m)
{
	return mlink_queries_state(m);
}



static void ping_next(struct modem *m);

/* AT+PING (manual 24.4) answers OK at once; its requests then go out
 * continuously and each reply comes on its own line ("Reply from <ip>: ...
 * time = <t>(ms) ...", or "Request timed out."), the run ending with "Ping
 * statistics for <ip>" and "Packets: ...". The manual offers no shorter run.
 * Each reply answers the oldest waiting echo for that address at once, so
 * echoes that arrive during a run ride on its replies; a request whose own
 * deadline passes fails alone. A new run starts once the last one ended. */

static void ping_answer(struct modem *m, size_t i, bool ok, unsigned rtt)
{
	struct n11v2_query *s = N(m);
	int req = s->pingq[i].req;
	memmove(s->pingq + i, s->pingq + i + 1, (s->n_pingq - i - 1) * sizeof(s->pingq[0]));
	s->n_pingq--;
	if (m->ev.ping_reply)
		m->ev.ping_reply(m->ctx, req, ok, ok ? rtt : 0);
}

/* The run ended (or was given up): what it could answer has been answered. */
static void ping_run_over(struct modem *m)
{
	struct n11v2_query *s = N(m);
	s->ping_busy = false;
	s->spare_at = 0;
	ev_timer_stop(m->loop, &s->ping_timer);
	ping_next(m);
}

static void on_ping_reply_urc(void *ctx, const char *line)
{
	struct modem *m = ctx;
	struct n11v2_query *s = N(m);
	const char *t = strstr(line, "time");
	unsigned rtt = 0;
	if (!s->ping_busy)
		return;
	if (t)
		sscanf(t, "time = %u", &rtt);
	for (size_t i = 0; i < s->n_pingq; i++) {
		if (s->pingq[i].ip == s->ping_ip) {
			ping_answer(m, i, true, rtt);
			return;
		}
	}
	s->spare_at = ev_now(m->loop);
	s->spare_rtt = rtt;
}

#define PING_SPARE_S 0.5

/* An echo for the run's address just after a reply nobody took. */
static void on_spare_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct modem *m = w->data;
	struct n11v2_query *s = N(m);
	for (size_t i = 0; i < s->n_pingq; i++) {
		if (s->ping_busy && s->pingq[i].ip == s->ping_ip) {
			s->spare_at = 0;
			ping_answer(m, i, true, s->spare_rtt);
			return;
		}
	}
}

static void on_ping_end_urc(void *ctx, const char *line)
{
	(void)line;
	struct modem *m = ctx;
	if (N(m)->ping_busy)
		ping_run_over(m);
}

static void on_ping_misc_urc(void *ctx, const char *line)
{
	(void)ctx;
	(void)line; /* "Request timed out.", "Ping statistics for ...": part of a run */
}

static void on_ping_done(void *ctx, const struct at_cmd *cmd, enum at_result res, const char *final_line)
{
	(void)final_line;
	struct modem *m = ctx;
	struct n11v2_query *s = N(m);
	if (!s->ping_busy || cmd->tag != s->ping_run || res == AT_RES_OK)
		return;
	/* refused: every echo for this address fails now */
	for (size_t i = 0; i < s->n_pingq;) {
		if (s->pingq[i].ip == s->ping_ip)
			ping_answer(m, i, false, 0);
		else
			i++;
	}
	ping_run_over(m);
}

/* A run that never ended (lost lines): the line is free again after this. */
static void on_ping_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	ping_run_over(w->data);
}

/* Each request's own deadline. */
static void on_ping_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct modem *m = w->data;
	struct n11v2_query *s = N(m);
	ev_tstamp now = ev_now(loop);
	for (size_t i = 0; i < s->n_pingq;) {
		if (s->pingq[i].deadline <= now)
			ping_answer(m, i, false, 0);
		else
			i++;
	}
	ev_tstamp next = 0;
	for (size_t i = 0; i < s->n_pingq; i++)
		if (!next || s->pingq[i].deadline < next)
			next = s->pingq[i].deadline;
	if (next) {
		ev_timer_set(&s->ping_deadline, next - now, 0.);
		ev_timer_start(loop, &s->ping_deadline);
	}
}

static void ping_next(struct modem *m)
{
	struct n11v2_query *s = N(m);
	if (s->ping_busy || s->n_pingq == 0 || !m->up)
		return;
	struct at_cmd cmd = { 0 };
	if (!at_cmd_format(cmd.text, sizeof(cmd.text), "AT+PING=%a", s->pingq[0].ip)) {
		ping_answer(m, 0, false, 0);
		ping_next(m);
		return;
	}
	s->ping_busy = true;
	s->ping_ip = s->pingq[0].ip;
	s->ping_run = (uint32_t)s->pingq[0].req;
	cmd.timeout_ms = m->cfg.cmd_timeout_ms;
	cmd.done = on_ping_done;
	cmd.ctx = m;
	cmd.tag = s->ping_run;
	if (!at_chan_submit(m->chan, &cmd)) {
		s->ping_busy = false;
		ping_answer(m, 0, false, 0);
		return;
	}
	/* four or five requests about a second apart, each waiting up to its
	 * own timeout: the run is over by then whatever the lines say */
	ev_timer_set(&s->ping_timer, N11V2_PING_TIMEOUT, 0.);
	ev_timer_start(m->loop, &s->ping_timer);
}

static int n11v2_ping(struct modem *m, uint32_t ip, unsigned timeout_ms)
{
	struct n11v2_query *s = N(m);
	if (s->n_pingq >= N11V2_QUERY_QUEUE)
		return -1;
	int req = modem_next_req(m);
	ev_tstamp deadline = ev_now(m->loop) + (timeout_ms ? timeout_ms : 1000) / 1000.0;
	s->pingq[s->n_pingq].req = req;
	s->pingq[s->n_pingq].ip = ip;
	s->pingq[s->n_pingq].deadline = deadline;
	s->n_pingq++;
	if (s->ping_busy && ip == s->ping_ip && s->spare_at &&
	    ev_now(m->loop) - s->spare_at < PING_SPARE_S && !ev_is_active(&s->spare_timer)) {
		/* answered from the loop, never inside this call */
		ev_timer_set(&s->spare_timer, 0., 0.);
		ev_timer_start(m->loop, &s->spare_timer);
	}
	if (!ev_is_active(&s->ping_deadline) || ev_timer_remaining(m->loop, &s->ping_deadline) >
	                                                 deadline - ev_now(m->loop)) {
		ev_timer_stop(m->loop, &s->ping_deadline);
		ev_timer_set(&s->ping_deadline, deadline - ev_now(m->loop), 0.);
		ev_timer_start(m->loop, &s->ping_deadline);
	}
	ping_next(m);
	return req;
}

/* The data context is gone: every waiting query fails. */
static void queries_fail_all(struct modem *m)
{
	struct n11v2_query *s = N(m);
	while (s->n_pingq)
		ping_answer(m, 0, false, 0);
	s->ping_busy = false;
	ev_timer_stop(m->loop, &s->ping_timer);
	ev_timer_stop(m->loop, &s->ping_deadline);
}

/* ---- setup ---- */

static void *query_create(struct modem *m)
{
	struct n11v2_query *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	ev_timer_init(&s->ping_timer, on_ping_timeout, 0., 0.);
	ev_timer_init(&s->ping_deadline, on_ping_deadline, 0., 0.);
	ev_timer_init(&s->spare_timer, on_spare_timer, 0., 0.);
	s->ping_timer.data = s->ping_deadline.data = s->spare_timer.data = m;
	return s;
}

static void query_destroy(struct modem *m)
{
	struct n11v2_query *s = N(m);
	ev_timer_stop(m->loop, &s->ping_timer);
	ev_timer_stop(m->loop, &s->ping_deadline);
	ev_timer_stop(m->loop, &s->spare_timer);
	free(s);
}

static void query_attach(struct modem *m)
{
	at_chan_on_urc(m->chan, "Reply from ", on_ping_reply_urc, NULL, m);
	at_chan_on_urc(m->chan, "Packets:", on_ping_end_urc, NULL, m);
	at_chan_on_urc(m->chan, "Request timed out", on_ping_misc_urc, NULL, m);
	at_chan_on_urc(m->chan, "Ping statistics", on_ping_misc_urc, NULL, m);
}

const struct mlink_queries n11v2_queries = {
	.create = query_create,
	.destroy = query_destroy,
	.attach = query_attach,
	.fail_all = queries_fail_all,
	.ping = n11v2_ping,
};

/* SIM7000 resolver (AT+CDNSGIP) and ping (AT+CIPPING).
 *
 * CDNSGIP answers OK at once and the result later as a URC, without a
 * request id in the failure form, so one resolve is outstanding at a time
 * and the rest wait in a short queue. CIPPING answers within the command
 * (one +CIPPING line per try, then OK): it is an ordinary queued command.
 */
#include <ev.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "at_cmd.h"
#include "sim7000.h"

#define RESOLVE_TIMEOUT 30.0 /* the manual gives no maximum */
#define PING_MARGIN_MS 5000

/* ---- resolver ---- */

static void resolve_next(struct modem *m);

static void resolve_finish(struct modem *m, bool ok, const uint32_t *ips, size_t n)
{
	struct sim7000 *s = S(m);
	ev_timer_stop(m->loop, &s->resolve_timer);
	if (s->n_resolves == 0)
		return;
	int req = s->resolves[0].req;
	memmove(s->resolves, s->resolves + 1, (s->n_resolves - 1) * sizeof(s->resolves[0]));
	s->n_resolves--;
	s->resolve_active = false;
	resolve_next(m); /* before the callback, which may ask again */
	if (m->ev.resolved)
		m->ev.resolved(m->ctx, req, ok, ips, n);
}

static void on_cdnsgip_done(void *ctx, const struct at_cmd *cmd, enum at_result res,
                            const char *final_line)
{
	(void)final_line;
	struct modem *m = ctx;
	struct sim7000 *s = S(m);
	/* The URC may have come before OK and finished the request already. */
	if (!s->resolve_active || s->n_resolves == 0 || (uint32_t)s->resolves[0].req != cmd->tag)
		return;
	if (res != AT_RES_OK) {
		resolve_finish(m, false, NULL, 0);
		return;
	}
	ev_timer_set(&s->resolve_timer, RESOLVE_TIMEOUT, 0.);
	ev_timer_start(m->loop, &s->resolve_timer);
}

static void resolve_next(struct modem *m)
{
	struct sim7000 *s = S(m);
	if (s->resolve_active || s->n_resolves == 0 || !m->up)
		return;
	struct at_cmd cmd = { 0 };
	if (!at_cmd_format(cmd.text, sizeof(cmd.text), "AT+CDNSGIP=%h", s->resolves[0].name)) {
		resolve_finish(m, false, NULL, 0);
		return;
	}
	cmd.timeout_ms = m->cfg.cmd_timeout_ms;
	cmd.done = on_cdnsgip_done;
	cmd.ctx = m;
	cmd.tag = (uint32_t)s->resolves[0].req;
	s->resolve_active = true;
	if (!at_chan_submit(m->chan, &cmd))
		resolve_finish(m, false, NULL, 0);
}

static void on_resolve_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	resolve_finish(w->data, false, NULL, 0);
}

/* Next "..." field of a +CDNSGIP line: copies it to out, returns the text
 * after it, or NULL. */
static const char *next_quoted(const char *p, char *out, size_t cap)
{
	while (*p == ',' || *p == ' ')
		p++;
	if (*p != '"')
		return NULL;
	const char *end = strchr(p + 1, '"');
	if (!end || (size_t)(end - p - 1) >= cap)
		return NULL;
	memcpy(out, p + 1, (size_t)(end - p - 1));
	out[end - p - 1] = '\0';
	return end + 1;
}

/* "+CDNSGIP: 1,<name>,<IP1>[,<IP2>]" or "+CDNSGIP:0,<err>" (the manual
 * writes the failure form without a space). */
static void on_cdnsgip_urc(void *ctx, const char *line)
{
	struct modem *m = ctx;
	struct sim7000 *s = S(m);
	if (!s->resolve_active)
		return;
	const char *p = line + strlen("+CDNSGIP:");
	while (*p == ' ')
		p++;
	if (*p != '1') {
		resolve_finish(m, false, NULL, 0);
		return;
	}
	char name[256], ip[64];
	uint32_t ips[MODEM_RESOLVE_MAX];
	size_t n = 0;
	p = next_quoted(p + 1, name, sizeof(name));
	while (p && n < MODEM_RESOLVE_MAX && (p = next_quoted(p, ip, sizeof(ip)))) {
		struct in_addr a;
		if (inet_pton(AF_INET, ip, &a) == 1)
			ips[n++] = a.s_addr;
	}
	resolve_finish(m, n > 0, ips, n);
}

int sim7000_resolve(struct modem *m, const char *name)
{
	struct sim7000 *s = S(m);
	if (!at_cmd_hostname_ok(name) || s->n_resolves >= SIM7000_RESOLVE_QUEUE)
		return -1;
	int req = modem_next_req(m);
	s->resolves[s->n_resolves].req = req;
	snprintf(s->resolves[s->n_resolves].name, sizeof(s->resolves[0].name), "%s", name);
	s->n_resolves++;
	resolve_next(m);
	return req;
}

/* ---- ping ---- */

/* "+CIPPING: <replyId>,<ip>,<replyTime>,<ttl>"; replyTime 600 with ttl 255
 * means no reply in time (manual 10.2.1). */
static void on_ping_line(void *ctx, const struct at_cmd *cmd, const char *line)
{
	(void)cmd;
	struct sim7000 *s = S(ctx);
	char ip[64];
	unsigned id, rtt, ttl;
	if (strncmp(line, "+CIPPING:", 9))
		return;
	const char *p = line + 9;
	if (sscanf(p, " %u", &id) != 1 || !(p = strchr(p, ',')) ||
	    !(p = next_quoted(p, ip, sizeof(ip))) || sscanf(p, " ,%u ,%u", &rtt, &ttl) != 2)
		return;
	if (rtt == 600 && ttl == 255)
		return;
	s->ping_got = true;
	s->ping_rtt = rtt;
}

static void on_ping_done(void *ctx, const struct at_cmd *cmd, enum at_result res, const char *final_line)
{
	(void)final_line;
	struct modem *m = ctx;
	bool ok = res == AT_RES_OK && S(m)->ping_got;
	unsigned rtt = S(m)->ping_rtt;
	S(m)->ping_got = false;
	if (S(m)->pings > 0)
		S(m)->pings--;
	if (m->ev.ping_reply)
		m->ev.ping_reply(m->ctx, (int)cmd->tag, ok, ok ? rtt : 0);
}

int sim7000_ping(struct modem *m, uint32_t ip, unsigned timeout_ms)
{
	struct sim7000 *s = S(m);
	if (s->pings >= SIM7000_PING_MAX)
		return -1;
	unsigned t = (timeout_ms + 99) / 100;
	t = t < 1 ? 1 : t > 600 ? 600 : t;
	struct at_cmd cmd = { 0 };
	if (!at_cmd_format(cmd.text, sizeof(cmd.text), "AT+CIPPING=\"%a\",1,32,%u,64", ip, t))
		return -1;
	int req = modem_next_req(m);
	cmd.timeout_ms = t * 100 + PING_MARGIN_MS;
	cmd.line = on_ping_line;
	cmd.done = on_ping_done;
	cmd.ctx = m;
	cmd.tag = (uint32_t)req;
	if (!at_chan_submit(m->chan, &cmd))
		return -1;
	s->pings++;
	return req;
}

/* ---- setup ---- */

void sim7000_query_init(struct modem *m)
{
	ev_timer_init(&S(m)->resolve_timer, on_resolve_timeout, 0., 0.);
	S(m)->resolve_timer.data = m;
}

void sim7000_query_destroy(struct modem *m)
{
	ev_timer_stop(m->loop, &S(m)->resolve_timer);
}

void sim7000_query_attach(struct modem *m)
{
	at_chan_on_urc(m->chan, "+CDNSGIP:", on_cdnsgip_urc, NULL, m);
}

/* The data context is gone: every waiting resolve fails. Pings fail through
 * their commands (cancelled or answered). */
void sim7000_query_fail_all(struct modem *m)
{
	struct sim7000 *s = S(m);
	int reqs[SIM7000_RESOLVE_QUEUE];
	size_t n = s->n_resolves;
	for (size_t i = 0; i < n; i++)
		reqs[i] = s->resolves[i].req;
	s->n_resolves = 0;
	s->resolve_active = false;
	ev_timer_stop(m->loop, &s->resolve_timer);
	for (size_t i = 0; i < n; i++)
		if (m->ev.resolved)
			m->ev.resolved(m->ctx, reqs[i], false, NULL, 0);
}

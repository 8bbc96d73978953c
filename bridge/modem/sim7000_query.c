/* SIM7000 ping (AT+CIPPING): it answers within the command (one
 * +CIPPING line per try, then OK), so it is an ordinary queued command and
 * the line is busy for up to its timeout. The resolver (AT+CDNSGIP) is the
 * engine's (mlink_resolve.c) with sim7000.c's lines. */
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at_cmd.h"
#include "sim7000.h"

#define PING_MARGIN_MS 5000
#define PING_MAX 4

struct sim7000_query {
	unsigned pings;    /* queued or in flight */
	bool ping_got;     /* a reply line for the ping in flight */
	unsigned ping_rtt;
};

static struct sim7000_query *S(const struct modem *m)
{
	return mlink_queries_state(m);
}

/* ---- ping ---- */

/* "+CIPPING: <replyId>,<ip>,<replyTime>,<ttl>"; replyTime 600 with ttl 255
 * means no reply in time (manual 10.2.1). */
static void on_ping_line(void *ctx, const struct at_cmd *cmd, const char *line)
{
	(void)cmd;
	struct sim7000_query *s = S(ctx);
	char ip[64];
	unsigned id, rtt, ttl;
	if (strncmp(line, "+CIPPING:", 9))
		return;
	const char *p = line + 9;
	if (sscanf(p, " %u", &id) != 1 || !(p = strchr(p, ',')) ||
	    !(p = sim7000_next_quoted(p, ip, sizeof(ip))) || sscanf(p, " ,%u ,%u", &rtt, &ttl) != 2)
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

static int sim7000_ping(struct modem *m, uint32_t ip, unsigned timeout_ms)
{
	struct sim7000_query *s = S(m);
	if (s->pings >= PING_MAX)
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

static void *query_create(struct modem *m)
{
	(void)m;
	return calloc(1, sizeof(struct sim7000_query));
}

static void query_destroy(struct modem *m)
{
	free(S(m));
}

/* Pings fail through their commands (cancelled or answered). */
const struct mlink_queries sim7000_queries = {
	.create = query_create,
	.destroy = query_destroy,
	.ping = sim7000_ping,
};

/* Neoway N11V2 buffered dialect: PPP link by AT+XIIC, five sockets (0-4) with
 * AT+TCPSETUP/AT+UDPSETUP, buffered receive (AT+RCVMODE=0: "+TCPRECV: <n>"
 * announces data, AT+TCPREAD reads it with the data inside the answer line),
 * sends with AT+TCPSEND=<n>,<len> after a bare ">" prompt, completed by
 * "+TCPSEND: <n>,<len>" after the OK.
 *
 * Same shape as sim7000.c: control commands are queued, data commands are
 * chosen by a round-robin scheduler whenever the line is free.
 */
#include <arpa/inet.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at_cmd.h"
#include "modem_priv.h"

#define N11V2_LINKS 5
#define N11V2_CHUNK 1460
#define N11V2_TX_CAP (4096 + N11V2_CHUNK)
#define N11V2_UDP_QUEUE 8
#define N11V2_CONNECT_TIMEOUT 80.0
#define N11V2_RETRY 0.2 /* after BUFFER NOT ENOUGH, and between ack queries */
#define N11V2_POLL_BACKOFF_MAX 16
#define N11V2_DNS_TIMEOUT 30.0
#define N11V2_PING_TIMEOUT 20.0
#define N11V2_QUERY_QUEUE 8

enum n11v2_link_state { NL_FREE = 0, NL_CONNECTING, NL_OPEN, NL_CLOSING, NL_DRAINING };

struct n11v2_link {
	enum n11v2_link_state state;
	enum modem_proto proto;
	uint8_t tx[N11V2_TX_CAP];
	size_t tx_len;
	uint16_t dgram[N11V2_UDP_QUEUE];
	size_t n_dgram;
	size_t window, inflight;
	uint8_t hold[N11V2_CHUNK];
	size_t hold_len;
	bool readable, poll_due, busy, close_wanted, silent_close, connect_reported;
	bool ack_blocked, ack_query_due, tx_wait;
	bool lost;                 /* the stream may have lost or gained bytes */
	bool fin_check, fin_sync;  /* a remote close waits for IPSTATUS and a sync check */
	bool reclaim, reclaimed;   /* in use in the module: close there, connect again */
	uint32_t ip;
	uint16_t port;
	unsigned poll_skip, poll_backoff, read_errors;
	ev_timer connect_timer;
	struct modem *m;
	int id;
};

struct n11v2 {
	struct n11v2_link links[N11V2_LINKS];
	unsigned rr;
	uint32_t gen;
	bool chan_dead;
	ev_timer retry_timer, poll_timer, wait_timer, hold_timer;
	size_t rx_req, rx_len;
	bool rx_header, rx_bad;
	int ipstatus; /* the last +IPSTATUS: 1 CONNECT, 0 DISCONNECT, -1 none */
	/* one DNS query and one ping on the line at a time, the rest wait */
	struct {
		int req;
		char name[254];
	} dnsq[N11V2_QUERY_QUEUE];
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
	size_t n_dnsq, n_pingq;
	bool dns_busy, ping_busy;
	uint32_t dns_ips[MODEM_RESOLVE_MAX];
	size_t dns_n;
	ev_timer dns_timer, ping_timer;
};

static struct n11v2 *N(const struct modem *m)
{
	return m->d;
}

static void bringup_start(struct modem *m);
static void link_down_all(struct modem *m);
static void start_close(struct n11v2_link *l);
static void drained(struct n11v2_link *l);

static uint32_t make_tag(const struct modem *m, int link)
{
	return (N(m)->gen << 4) | (uint32_t)link;
}

static struct n11v2_link *tag_link(struct modem *m, uint32_t tag)
{
	if ((tag >> 4) != (N(m)->gen & 0x0fffffffu) || (tag & 0xf) >= N11V2_LINKS)
		return NULL;
	return &N(m)->links[tag & 0xf];
}

/* "+TCPSEND: 0,5", "+TCPSEND:0,5", "+ UDPREAD: 1,..." (the manual has that
 * space too): the text after the prefix and its colon, or NULL. */
static const char *after_tag(const char *line, const char *name)
{
	if (*line++ != '+')
		return NULL;
	while (*line == ' ')
		line++;
	size_t n = strlen(name);
	if (strncmp(line, name, n) || line[n] != ':')
		return NULL;
	line += n + 1;
	while (*line == ' ')
		line++;
	return line;
}

/* ---- link life cycle ---- */

static void link_reset(struct n11v2_link *l)
{
	struct modem *m = l->m;
	int id = l->id;
	ev_timer_stop(m->loop, &l->connect_timer);
	ev_timer saved = l->connect_timer;
	memset(l, 0, sizeof(*l));
	l->connect_timer = saved;
	l->m = m;
	l->id = id;
}

static void link_closed(struct n11v2_link *l)
{
	struct modem *m = l->m;
	bool silent = l->silent_close, lost = l->lost;
	link_reset(l);
	if (!silent && m->ev.closed)
		m->ev.closed(m->ctx, l->id, lost);
}

/* The stream of this link can no longer be trusted: it closes and the
 * close reports the loss. */
static void link_fail(struct n11v2_link *l, const char *why)
{
	if (l->state != NL_OPEN && l->state != NL_DRAINING && l->state != NL_CLOSING)
		return;
	if (!l->lost)
		fprintf(stderr, "atbridge: n11v2 link %d: %s; resetting its flow\n", l->id, why);
	l->lost = true;
	l->fin_check = l->fin_sync = false;
	/* The client hears of it now (RST), not when the module has closed
	 * the link, which may take a sync check after a stall; the id stays
	 * taken until the module's close is answered. */
	if (!l->silent_close && l->connect_reported) {
		struct modem *m = l->m;
		l->silent_close = true;
		if (m->ev.closed)
			m->ev.closed(m->ctx, l->id, true);
	}
	if (l->state != NL_CLOSING || !l->close_wanted)
		start_close(l);
}

static void link_connect_failed(struct n11v2_link *l)
{
	struct modem *m = l->m;
	link_reset(l);
	if (m->ev.connected)
		m->ev.connected(m->ctx, l->id, false);
}

static void link_abandon(struct n11v2_link *l)
{
	struct modem *m = l->m;
	ev_timer_stop(m->loop, &l->connect_timer);
	if (m->ev.connected && !l->connect_reported)
		m->ev.connected(m->ctx, l->id, false);
	l->connect_reported = true;
	l->silent_close = true;
	start_close(l);
}

static void on_connect_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct n11v2_link *l = w->data;
	if (l->state == NL_CONNECTING)
		link_abandon(l);
}

static void start_close(struct n11v2_link *l)
{
	l->state = NL_CLOSING;
	l->close_wanted = true;
	l->tx_len = 0;
	l->n_dgram = 0;
	at_chan_kick(l->m->chan);
}

/* ---- finals ---- */

static const char *send_name(const struct at_cmd *cmd)
{
	return strncmp(cmd->text, "AT+UDP", 6) ? "TCPSEND" : "UDPSEND";
}

/* OK comes first and is not the end; "+TCPSEND: <n>,<len>" is. Every other
 * "+TCPSEND:" answer is an error (OPERATION EXPIRED, DATA LENGTH ERROR,
 * SOCKET ID OPEN FAILED, BUFFER NOT ENOUGH,<m>, GPRS DISCONNECTION). The
 * manual also spells the command TCPSSEND/UDPSSEND: both answers count. */
static enum at_final send_final(const struct at_cmd *cmd, const char *line)
{
	if (!strcmp(line, "OK"))
		return AT_INTERMEDIATE;
	const char *rest = after_tag(line, send_name(cmd));
	if (!rest)
		rest = after_tag(line, strcmp(send_name(cmd), "TCPSEND") ? "UDPSSEND" : "TCPSSEND");
	if (!rest)
		return AT_NOT_FINAL;
	unsigned v[2];
	if (at_parse_uints(rest, v, 2))
		return v[0] == (cmd->tag & 0xf) && v[1] <= cmd->data_len ? AT_FINAL_OK : AT_NOT_FINAL;
	return AT_FINAL_ERROR;
}

static const char *read_name(const struct at_cmd *cmd)
{
	return strncmp(cmd->text, "AT+UDP", 6) ? "TCPREAD" : "UDPREAD";
}

/* "+TCPREAD: <n>,<len>,<data>" for this link: data follows, then OK. */
static enum at_final read_final(const struct at_cmd *cmd, const char *line)
{
	const char *rest = after_tag(line, read_name(cmd));
	unsigned v[2];
	if (rest && at_parse_uints(rest, v, 2) && v[0] == (cmd->tag & 0xf))
		return AT_PART;
	return AT_NOT_FINAL;
}

/* "+TCPACK: <n>,<sent>,<acked>" ends the query (manual 8.6: no OK in the
 * format line nor the examples; an OK after it is taken as its own).
 * "+TCPACK: <n>,DISCONNECT" and "+TCPACK: NO TCP LINK" are errors. */
static enum at_final ack_final(const struct at_cmd *cmd, const char *line)
{
	const char *rest = after_tag(line, "TCPACK");
	unsigned v[3];
	int n;
	if (!rest)
		return AT_NOT_FINAL;
	if (at_parse_uints(rest, v, 3))
		return v[0] == (cmd->tag & 0xf) ? AT_FINAL_OK : AT_NOT_FINAL;
	if (at_skip_link_prefix(rest, &n) && n != (int)(cmd->tag & 0xf))
		return AT_NOT_FINAL;
	return AT_FINAL_ERROR;
}

/* "+TCPCLOSE: <n>,OK" (8.4; its format line has an OK after it, its
 * example none), "+TCPCLOSE: <n>,Link Closed" for the same link (closed
 * either way), "+TCPCLOSE: ERROR". UDPCLOSE alike. */
static enum at_final close_final(const struct at_cmd *cmd, const char *line)
{
	const char *rest = after_tag(line, strncmp(cmd->text, "AT+UDP", 6) ? "TCPCLOSE" : "UDPCLOSE");
	int n;
	const char *what = rest ? at_skip_link_prefix(rest, &n) : NULL;
	if (!rest)
		return AT_NOT_FINAL;
	if (!what)
		return strstr(rest, "ERROR") ? AT_FINAL_ERROR : AT_NOT_FINAL;
	if (n != (int)(cmd->tag & 0xf))
		return AT_NOT_FINAL;
	return AT_FINAL_OK;
}

/* "+IPSTATUS: <n>,CONNECT|DISCONNECT[,...]" (8.5: no OK in the format line
 * nor the examples) or "+IPSTATUS: ERROR". */
static enum at_final ipstatus_final(const struct at_cmd *cmd, const char *line)
{
	const char *rest = after_tag(line, "IPSTATUS");
	int n;
	const char *what = rest ? at_skip_link_prefix(rest, &n) : NULL;
	if (!rest)
		return AT_NOT_FINAL;
	if (!what)
		return strstr(rest, "ERROR") ? AT_FINAL_ERROR : AT_NOT_FINAL;
	return n == (int)(cmd->tag & 0xf) ? AT_FINAL_OK : AT_NOT_FINAL;
}

/* "+TCPSETUP: <n>,OK|FAIL" comes after OK and is left to the URC handler;
 * "+TCPSETUP: ERROR" or "+TCPSETUP: <n>,ERROR1" can come instead of OK. */
static enum at_final setup_final(const struct at_cmd *cmd, const char *line)
{
	const char *rest = after_tag(line, strncmp(cmd->text, "AT+UDP", 6) ? "TCPSETUP" : "UDPSETUP");
	if (rest && strstr(rest, "ERROR"))
		return AT_FINAL_ERROR;
	return AT_NOT_FINAL;
}

/* ---- command completion ---- */

static void send_failed(struct n11v2_link *l, size_t len, enum at_result res)
{
	struct modem *m = l->m;
	if (m->ev.sent)
		m->ev.sent(m->ctx, l->id, len, false);
	link_fail(l, res == AT_RES_TIMEOUT ? "a send timed out" : "a send failed");
}

static void on_send_done(void *ctx, const struct at_cmd *cmd, enum at_result res, const char *final_line)
{
	struct modem *m = ctx;
	struct n11v2_link *l = tag_link(m, cmd->tag);
	if (!l)
		return;
	l->busy = false;
	if (l->state != NL_OPEN)
		return;
	if (res == AT_RES_ERROR && strstr(final_line, "BUFFER NOT ENOUGH")) {
		/* The module's buffer is full: try again a little later. */
		l->tx_wait = true;
		ev_timer_start(m->loop, &N(m)->wait_timer);
		return;
	}
	if (res != AT_RES_OK) {
		send_failed(l, cmd->data_len, res);
		return;
	}
	size_t accepted = cmd->data_len;
	const char *rest = after_tag(final_line, send_name(cmd));
	unsigned v[2];
	if (l->proto == MODEM_TCP && rest && at_parse_uints(rest, v, 2) && v[1] <= accepted)
		accepted = v[1];
	if (l->proto == MODEM_UDP && l->n_dgram > 0) {
		memmove(l->dgram, l->dgram + 1, (l->n_dgram - 1) * sizeof(l->dgram[0]));
		l->n_dgram--;
	}
	if (accepted > l->tx_len)
		accepted = l->tx_len;
	memmove(l->tx, l->tx + accepted, l->tx_len - accepted);
	l->tx_len -= accepted;
	m->bytes_to_module += accepted;
	if (l->proto == MODEM_TCP && m->cfg.max_inflight) {
		l->inflight += accepted;
		if (l->inflight > m->cfg.max_inflight)
			l->ack_blocked = l->ack_query_due = true;
	}
	if (m->ev.sent)
		m->ev.sent(m->ctx, l->id, accepted, true);
}

/* "+TCPACK: <n>,<data_sent>,<acked_rcv>" */
static void on_ack_line(void *ctx, const struct at_cmd *cmd, const char *line)
{
	struct modem *m = ctx;
	struct n11v2_link *l = tag_link(m, cmd->tag);
	const char *rest = after_tag(line, "TCPACK");
	unsigned v[3];
	if (!l || !rest || !at_parse_uints(rest, v, 3) || v[2] > v[1])
		return;
	l->inflight = v[1] - v[2];
	if (l->inflight < m->cfg.max_inflight)
		l->ack_blocked = false;
}

static void on_ack_done(void *ctx, const struct at_cmd *cmd, enum at_result res, const char *final_line)
{
	struct modem *m = ctx;
	struct n11v2_link *l = tag_link(m, cmd->tag);
	if (!l)
		return;
	l->busy = false;
	if (res == AT_RES_OK)
		on_ack_line(ctx, cmd, final_line); /* the "+TCPACK:" line ended it */
	else
		l->ack_blocked = false, l->inflight = 0;
	if (l->ack_blocked)
		ev_timer_start(m->loop, &N(m)->wait_timer);
}

static void on_read_line(void *ctx, const struct at_cmd *cmd, const char *line)
{
	struct modem *m = ctx;
	struct n11v2 *s = N(m);
	const char *rest = after_tag(line, read_name(cmd));
	unsigned v[2];
	if (rest && at_parse_uints(rest, v, 2) && v[0] == (cmd->tag & 0xf)) {
		s->rx_header = true;
		s->rx_len = v[1];
	}
}

static void on_read_payload(void *ctx, const struct at_cmd *cmd, const uint8_t *data, size_t len)
{
	struct modem *m = ctx;
	struct n11v2 *s = N(m);
	struct n11v2_link *l = tag_link(m, cmd->tag);
	if (!l || !s->rx_header)
		return;
	if (len > s->rx_req || len != s->rx_len) {
		s->rx_bad = true;
		link_fail(l, "a read returned more than it asked for");
		return;
	}
	if (l->state != NL_OPEN && l->state != NL_DRAINING)
		return; /* ended (and reported) while the read was on the line */
	m->bytes_from_module += len;
	size_t now = len < l->window ? len : l->window;
	memcpy(l->hold, data + now, len - now);
	l->hold_len = len - now;
	l->window -= now;
	if (now && m->ev.data)
		m->ev.data(m->ctx, l->id, data, now);
}

static void on_read_done(void *ctx, const struct at_cmd *cmd, enum at_result res, const char *final_line)
{
	(void)final_line;
	struct modem *m = ctx;
	struct n11v2 *s = N(m);
	struct n11v2_link *l = tag_link(m, cmd->tag);
	bool header = s->rx_header, bad = s->rx_bad;
	s->rx_header = false;
	s->rx_bad = false;
	if (!l)
		return;
	l->busy = false;
	if (bad)
		return;
	if (cmd->tainted && (l->state == NL_OPEN || l->state == NL_DRAINING)) {
		link_fail(l, "a read's answer was interrupted by a stray line");
		return;
	}
	if (res == AT_RES_OK && !header && (l->state == NL_OPEN || l->state == NL_DRAINING)) {
		link_fail(l, "a read was answered without its header");
		return;
	}
	if (res == AT_RES_OK && header) {
		l->read_errors = 0;
		/* No "remaining" field: a full answer means there may be more. */
		l->readable = s->rx_len > 0 && s->rx_len >= s->rx_req;
		if (s->rx_len > 0) {
			l->poll_backoff = l->poll_skip = 0;
		} else if (l->poll_backoff < N11V2_POLL_BACKOFF_MAX) {
			l->poll_backoff = l->poll_backoff ? l->poll_backoff * 2 : 1;
			l->poll_skip = l->poll_backoff;
		}
	} else {
		l->readable = false;
		if (res == AT_RES_ERROR && ++l->read_errors >= 3 && l->state == NL_OPEN) {
			link_fail(l, "the module refuses to read it");
			return;
		}
		/* A read given up on may have taken bytes out of the module
		 * that never reached us: end the link rather than leave a hole. */
		if (res == AT_RES_TIMEOUT && (l->state == NL_OPEN || l->state == NL_DRAINING)) {
			link_fail(l, "a read timed out");
			return;
		}
	}
	if (l->state == NL_DRAINING && !l->readable && !l->hold_len)
		drained(l);
}

static bool issue_setup(struct modem *m, struct n11v2_link *l);

static void on_close_done(void *ctx, const struct at_cmd *cmd, enum at_result res, const char *final_line)
{
	(void)res;
	(void)final_line;
	struct modem *m = ctx;
	struct n11v2_link *l = tag_link(m, cmd->tag);
	if (!l)
		return;
	l->busy = false;
	if (l->reclaim) {
		l->reclaim = false;
		l->reclaimed = true;
		l->close_wanted = false;
		l->silent_close = false;
		l->lost = false;
		l->state = NL_CONNECTING;
		if (!issue_setup(m, l))
			link_connect_failed(l);
		return;
	}
	link_closed(l);
}

/* The module says the socket is in use there (ERROR1): close it there and
 * set it up once more, instead of refusing every connect on this id. */
static void link_reclaim(struct n11v2_link *l)
{
	if (l->reclaimed) {
		link_abandon(l);
		return;
	}
	fprintf(stderr, "atbridge: n11v2 link %d: in use in the module; closing it there and connecting again\n",
	        l->id);
	l->reclaim = true;
	l->state = NL_CLOSING;
	l->close_wanted = true;
	at_chan_kick(l->m->chan);
}

static void on_ipstatus_done(void *ctx, const struct at_cmd *cmd, enum at_result res, const char *final_line)
{
	struct modem *m = ctx;
	struct n11v2_link *l = tag_link(m, cmd->tag);
	if (!l)
		return;
	l->busy = false;
	if (l->state != NL_DRAINING || !l->fin_check)
		return;
	l->fin_check = false;
	if (res == AT_RES_TIMEOUT) {
		link_fail(l, "its state could not be read");
		return;
	}
	const char *rest = after_tag(final_line, "IPSTATUS");
	int n;
	const char *what = rest ? at_skip_link_prefix(rest, &n) : NULL;
	if (res == AT_RES_OK && what && !strncmp(what, "CONNECT", 7) && strncmp(what, "CONNECTING", 10)) {
		fprintf(stderr, "atbridge: n11v2 link %d: reported closed but the module has it connected; keeping it\n",
		        l->id);
		l->state = NL_OPEN;
		l->readable = true;
		at_chan_kick(m->chan);
		return;
	}
	l->fin_sync = true;
	at_chan_request_sync(m->chan);
}

/* Everything the module held after a remote close was delivered. */
static void drained(struct n11v2_link *l)
{
	if (l->fin_check || l->fin_sync)
		return;
	if (l->tx_len > 0) {
		link_fail(l, "closed by the remote with upload bytes still queued");
		return;
	}
	l->fin_check = true;
	at_chan_kick(l->m->chan);
}

static void on_setup_done(void *ctx, const struct at_cmd *cmd, enum at_result res, const char *final_line)
{
	struct modem *m = ctx;
	struct n11v2_link *l = tag_link(m, cmd->tag);
	if (!l)
		return;
	l->busy = false;
	if (l->state != NL_CONNECTING)
		return;
	if (res == AT_RES_ERROR && strstr(final_line, "ERROR1"))
		link_reclaim(l); /* the module's socket is in use: close it first */
	else if (res == AT_RES_ERROR)
		link_connect_failed(l);
	else if (res != AT_RES_OK)
		link_abandon(l);
}

/* ---- issuing commands ---- */

static bool issue(struct modem *m, struct n11v2_link *l, struct at_cmd *cmd)
{
	cmd->ctx = m;
	cmd->tag = make_tag(m, l->id);
	if (!cmd->timeout_ms)
		cmd->timeout_ms = m->cfg.cmd_timeout_ms;
	l->busy = true;
	if (!at_chan_submit(m->chan, cmd)) {
		l->busy = false;
		return false;
	}
	return true;
}

static bool issue_send(struct modem *m, struct n11v2_link *l)
{
	struct at_cmd cmd = { 0 };
	size_t len = l->proto == MODEM_UDP ? l->dgram[0] : l->tx_len;
	if (len > N11V2_CHUNK)
		len = N11V2_CHUNK;
	if (!at_cmd_format(cmd.text, sizeof(cmd.text), l->proto == MODEM_UDP ? "AT+UDPSEND=%u,%u" : "AT+TCPSEND=%u,%u",
	                   (unsigned)l->id, (unsigned)len))
		return false;
	cmd.data = l->tx;
	cmd.data_len = len;
	cmd.final = send_final;
	cmd.flags = AT_F_STRICT;
	cmd.done = on_send_done;
	return issue(m, l, &cmd);
}

static bool issue_read(struct modem *m, struct n11v2_link *l)
{
	struct at_cmd cmd = { 0 };
	size_t want = l->window < N11V2_CHUNK ? l->window : N11V2_CHUNK;
	if (!at_cmd_format(cmd.text, sizeof(cmd.text), l->proto == MODEM_UDP ? "AT+UDPREAD=%u,%u" : "AT+TCPREAD=%u,%u",
	                   (unsigned)l->id, (unsigned)want))
		return false;
	N(m)->rx_header = false;
	N(m)->rx_bad = false;
	N(m)->rx_req = want;
	cmd.final = read_final;
	cmd.flags = AT_F_STRICT;
	cmd.line = on_read_line;
	cmd.payload = on_read_payload;
	cmd.done = on_read_done;
	l->poll_due = false;
	return issue(m, l, &cmd);
}

static bool issue_ack_query(struct modem *m, struct n11v2_link *l)
{
	struct at_cmd cmd = { 0 };
	if (!at_cmd_format(cmd.text, sizeof(cmd.text), "AT+TCPACK=%u", (unsigned)l->id))
		return false;
	l->ack_query_due = false;
	cmd.final = ack_final;
	cmd.flags = AT_F_STRICT | AT_F_TRAIL_OK;
	cmd.done = on_ack_done;
	return issue(m, l, &cmd);
}

static bool issue_close(struct modem *m, struct n11v2_link *l)
{
	struct at_cmd cmd = { 0 };
	if (!at_cmd_format(cmd.text, sizeof(cmd.text),
	                   l->proto == MODEM_UDP ? "AT+UDPCLOSE=%u" : "AT+TCPCLOSE=%u", (unsigned)l->id))
		return false;
	l->state = NL_CLOSING;
	cmd.final = close_final;
	cmd.flags = AT_F_STRICT | AT_F_TRAIL_OK;
	cmd.done = on_close_done;
	return issue(m, l, &cmd);
}

static bool issue_ipstatus(struct modem *m, struct n11v2_link *l)
{
	struct at_cmd cmd = { 0 };
	if (!at_cmd_format(cmd.text, sizeof(cmd.text), "AT+IPSTATUS=%u", (unsigned)l->id))
		return false;
	cmd.final = ipstatus_final;
	cmd.flags = AT_F_STRICT | AT_F_TRAIL_OK;
	cmd.done = on_ipstatus_done;
	return issue(m, l, &cmd);
}

static bool issue_setup(struct modem *m, struct n11v2_link *l)
{
	struct at_cmd cmd = { 0 };
	/* The manual writes the address unquoted: AT+TCPSETUP=0,220.199.66.56,6800 */
	if (!at_cmd_format(cmd.text, sizeof(cmd.text),
	                   l->proto == MODEM_UDP ? "AT+UDPSETUP=%u,%a,%u" : "AT+TCPSETUP=%u,%a,%u",
	                   (unsigned)l->id, l->ip, (unsigned)l->port))
		return false;
	cmd.final = setup_final;
	cmd.done = on_setup_done;
	return issue(m, l, &cmd);
}

static bool schedule_tx(struct modem *m, struct n11v2_link *l, bool full_only)
{
	if (l->state == NL_OPEN && l->tx_len > 0 && !l->ack_blocked && !l->tx_wait &&
	    (!full_only || l->proto == MODEM_UDP || l->tx_len >= N11V2_CHUNK))
		return issue_send(m, l);
	if (l->state == NL_OPEN && l->ack_query_due)
		return issue_ack_query(m, l);
	if (l->close_wanted && l->tx_len == 0 && l->state != NL_FREE && l->state != NL_CONNECTING)
		return issue_close(m, l);
	return false;
}

static bool schedule_rx(struct modem *m, struct n11v2_link *l, bool full_only)
{
	if ((l->state != NL_OPEN && l->state != NL_DRAINING) || l->close_wanted || l->hold_len)
		return false;
	if (l->state == NL_DRAINING && l->fin_check)
		return issue_ipstatus(m, l);
	if (l->fin_sync)
		return false;
	if (l->readable && l->window > 0 && (!full_only || l->window >= N11V2_CHUNK))
		return issue_read(m, l);
	if (l->poll_due && l->window > 0)
		return issue_read(m, l); /* a read is the only way to ask */
	return false;
}

static void n11v2_idle(void *ctx)
{
	struct modem *m = ctx;
	struct n11v2 *s = N(m);
	if (!m->up || at_chan_busy(m->chan))
		return;
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned k = 1; k <= 2 * N11V2_LINKS; k++) {
			unsigned slot = (s->rr + k) % (2 * N11V2_LINKS);
			struct n11v2_link *l = &s->links[slot / 2];
			if (l->state == NL_FREE || l->state == NL_CONNECTING || l->busy)
				continue;
			bool issued = slot % 2 == 0 ? schedule_tx(m, l, pass == 0) : schedule_rx(m, l, pass == 0);
			if (issued) {
				s->rr = slot;
				return;
			}
		}
	}
}

/* ---- URCs ---- */

/* "+TCPSETUP: <n>,OK" / "+TCPSETUP: <n>,FAIL" (and UDP) */
static void on_setup_urc(void *ctx, const char *line)
{
	struct modem *m = ctx;
	const char *rest = after_tag(line, "TCPSETUP");
	if (!rest)
		rest = after_tag(line, "UDPSETUP");
	int id;
	const char *what = rest ? at_skip_link_prefix(rest, &id) : NULL;
	if (!what || id >= N11V2_LINKS || !m->up)
		return;
	struct n11v2_link *l = &N(m)->links[id];
	if (l->state != NL_CONNECTING)
		return;
	ev_timer_stop(m->loop, &l->connect_timer);
	if (!strcmp(what, "OK")) {
		l->state = NL_OPEN;
		l->connect_reported = true;
		if (l->close_wanted)
			start_close(l);
		if (m->ev.connected)
			m->ev.connected(m->ctx, l->id, true);
		at_chan_kick(m->chan);
	} else if (strstr(what, "ERROR1")) {
		link_reclaim(l);
	} else {
		link_connect_failed(l);
	}
}

/* "+TCPRECV: <n>" / "+UDPRECV: <n>[,<len>]": data waits in the module. */
static void on_recv_urc(void *ctx, const char *line)
{
	struct modem *m = ctx;
	const char *rest = after_tag(line, "TCPRECV");
	if (!rest)
		rest = after_tag(line, "UDPRECV");
	unsigned id;
	if (!rest || !at_parse_uints(rest, &id, 1) || id >= N11V2_LINKS || !m->up)
		return;
	struct n11v2_link *l = &N(m)->links[id];
	if (l->state == NL_OPEN || l->state == NL_DRAINING) {
		l->readable = true;
		l->poll_backoff = l->poll_skip = 0;
		at_chan_kick(m->chan);
	}
}

/* "+TCPCLOSE: <n>,Link Closed": the remote end or the network closed it.
 * "+TCPCLOSE: <n>,OK" answers our own TCPCLOSE, which ends on OK. */
static void on_close_urc(void *ctx, const char *line)
{
	struct modem *m = ctx;
	const char *rest = after_tag(line, "TCPCLOSE");
	if (!rest)
		rest = after_tag(line, "UDPCLOSE");
	int id;
	const char *what = rest ? at_skip_link_prefix(rest, &id) : NULL;
	if (!what || id >= N11V2_LINKS || strncmp(what, "Link Closed", 11))
		return;
	struct n11v2_link *l = &N(m)->links[id];
	if (l->state == NL_CONNECTING) {
		link_connect_failed(l);
	} else if (l->state == NL_OPEN) {
		/* Deliver what is left, then check the module's view and the
		 * channel before a clean close. */
		l->state = NL_DRAINING;
		l->readable = true; /* a last read finds what is left */
		at_chan_kick(m->chan);
	}
}

/* A line that fits no command: an answer that went astray. The link it
 * names can no longer be trusted. */
static void n11v2_stray(void *ctx, const char *line)
{
	struct modem *m = ctx;
	static const char *const names[] = { "TCPREAD", "UDPREAD", "TCPSEND", "UDPSEND", "TCPSSEND", "UDPSSEND" };
	fprintf(stderr, "atbridge: n11v2: out-of-sync answer \"%.60s\"\n", line);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *rest = after_tag(line, names[i]);
		unsigned v[2];
		if (rest && at_parse_uints(rest, v, 2) && v[0] < N11V2_LINKS && m->up) {
			link_fail(&N(m)->links[v[0]], "an answer for it came out of turn");
			return;
		}
	}
}

/* The channel is in sync: remote closes that waited for proof end clean. */
static void n11v2_synced(void *ctx)
{
	struct modem *m = ctx;
	for (int i = 0; i < N11V2_LINKS; i++) {
		struct n11v2_link *l = &N(m)->links[i];
		if (!l->fin_sync || l->state != NL_DRAINING || l->busy)
			continue;
		l->fin_sync = false;
		if (l->readable || l->hold_len)
			at_chan_kick(m->chan); /* more came meanwhile: drain it, check again */
		else
			link_closed(l);
	}
}

/* "GPRS DISCONNECTION": start over. */
static void on_ppp_lost(void *ctx, const char *line)
{
	struct modem *m = ctx;
	if (!m->up)
		return;
	fprintf(stderr, "atbridge: n11v2: %s; data link down, bringing it up again\n", line);
	link_down_all(m);
	bringup_start(m);
}

static bool n11v2_reconnect(struct modem *m)
{
	fprintf(stderr, "atbridge: n11v2: reconnect asked for; data link down, bringing it up again\n");
	link_down_all(m);
	bringup_start(m);
	return true;
}

/* The resync probes went unanswered: every link ends now, and bring-up
 * starts with a reboot request. */
static void n11v2_stalled(void *ctx)
{
	struct modem *m = ctx;
	modem_recover_module_dead(m);
	if (!m->up)
		return; /* bring-up is retrying by itself */
	fprintf(stderr, "atbridge: n11v2: the module stopped answering; data link down\n");
	link_down_all(m);
	bringup_start(m);
}

/* "+PBREADY" (the manual's boot log) or an echoed probe: the module
 * restarted and lost every setting, whatever we were doing. */
static void n11v2_restarted(struct modem *m, const char *why)
{
	fprintf(stderr, "atbridge: n11v2: the module restarted (%s); bringing it up again\n", why);
	modem_recover_module_restarted(m);
	if (m->up)
		link_down_all(m);
	at_chan_abort_current(m->chan); /* it died with the module */
	bringup_start(m);
}

static void on_boot_urc(void *ctx, const char *line)
{
	n11v2_restarted(ctx, line);
}

static void n11v2_rebooted(void *ctx)
{
	n11v2_restarted(ctx, "echo on");
}

/* ---- resolver and ping ---- */

static void dns_next(struct modem *m);
static void ping_next(struct modem *m);

static void dns_finish(struct modem *m, bool ok)
{
	struct n11v2 *s = N(m);
	if (!s->dns_busy || s->n_dnsq == 0)
		return;
	int req = s->dnsq[0].req;
	uint32_t ips[MODEM_RESOLVE_MAX];
	size_t n = ok ? s->dns_n : 0;
	memcpy(ips, s->dns_ips, sizeof(ips));
	memmove(s->dnsq, s->dnsq + 1, (s->n_dnsq - 1) * sizeof(s->dnsq[0]));
	s->n_dnsq--;
	s->dns_busy = false;
	ev_timer_stop(m->loop, &s->dns_timer);
	dns_next(m); /* before the callback, which may ask again */
	if (m->ev.resolved)
		m->ev.resolved(m->ctx, req, ok && n > 0, ips, n);
}

/* "+DNS:<ip>" lines, then "+DNS:OK" or "+DNS:ERROR". */
static void on_dns_urc(void *ctx, const char *line)
{
	struct modem *m = ctx;
	struct n11v2 *s = N(m);
	const char *rest = after_tag(line, "DNS");
	struct in_addr a;
	if (!rest || !s->dns_busy)
		return;
	if (!strcmp(rest, "OK"))
		dns_finish(m, true);
	else if (inet_pton(AF_INET, rest, &a) == 1) {
		if (s->dns_n < MODEM_RESOLVE_MAX)
			s->dns_ips[s->dns_n++] = a.s_addr;
	} else
		dns_finish(m, false);
}

static void on_dns_done(void *ctx, const struct at_cmd *cmd, enum at_result res, const char *final_line)
{
	(void)final_line;
	struct modem *m = ctx;
	struct n11v2 *s = N(m);
	if (s->dns_busy && s->n_dnsq && (uint32_t)s->dnsq[0].req == cmd->tag && res != AT_RES_OK)
		dns_finish(m, false);
}

static void on_dns_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	dns_finish(w->data, false);
}

static void dns_next(struct modem *m)
{
	struct n11v2 *s = N(m);
	if (s->dns_busy || s->n_dnsq == 0 || !m->up)
		return;
	struct at_cmd cmd = { 0 };
	s->dns_busy = true;
	s->dns_n = 0;
	if (!at_cmd_format(cmd.text, sizeof(cmd.text), "AT+DNS=%h", s->dnsq[0].name)) {
		dns_finish(m, false);
		return;
	}
	cmd.timeout_ms = m->cfg.cmd_timeout_ms;
	cmd.done = on_dns_done;
	cmd.ctx = m;
	cmd.tag = (uint32_t)s->dnsq[0].req;
	if (!at_chan_submit(m->chan, &cmd)) {
		dns_finish(m, false);
		return;
	}
	ev_timer_set(&s->dns_timer, N11V2_DNS_TIMEOUT, 0.);
	ev_timer_start(m->loop, &s->dns_timer);
}

static int n11v2_resolve(struct modem *m, const char *name)
{
	struct n11v2 *s = N(m);
	if (!at_cmd_hostname_ok(name) || s->n_dnsq >= N11V2_QUERY_QUEUE)
		return -1;
	int req = modem_next_req(m);
	s->dnsq[s->n_dnsq].req = req;
	snprintf(s->dnsq[s->n_dnsq].name, sizeof(s->dnsq[0].name), "%s", name);
	s->n_dnsq++;
	dns_next(m);
	return req;
}

/* AT+PING (manual 24.4) answers OK at once; its requests then go out
 * continuously and each reply comes on its own line ("Reply from <ip>: ...
 * time = <t>(ms) ...", or "Request timed out."), the run ending with "Ping
 * statistics for <ip>" and "Packets: ...". The manual offers no shorter run.
 * Each reply answers the oldest waiting echo for that address at once, so
 * echoes that arrive during a run ride on its replies; a request whose own
 * deadline passes fails alone. A new run starts once the last one ended. */

static void ping_answer(struct modem *m, size_t i, bool ok, unsigned rtt)
{
	struct n11v2 *s = N(m);
	int req = s->pingq[i].req;
	memmove(s->pingq + i, s->pingq + i + 1, (s->n_pingq - i - 1) * sizeof(s->pingq[0]));
	s->n_pingq--;
	if (m->ev.ping_reply)
		m->ev.ping_reply(m->ctx, req, ok, ok ? rtt : 0);
}

/* The run ended (or was given up): what it could answer has been answered. */
static void ping_run_over(struct modem *m)
{
	struct n11v2 *s = N(m);
	s->ping_busy = false;
	s->spare_at = 0;
	ev_timer_stop(m->loop, &s->ping_timer);
	ping_next(m);
}

static void on_ping_reply_urc(void *ctx, const char *line)
{
	struct modem *m = ctx;
	struct n11v2 *s = N(m);
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
	struct n11v2 *s = N(m);
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
	struct n11v2 *s = N(m);
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
	struct n11v2 *s = N(m);
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
	struct n11v2 *s = N(m);
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
	struct n11v2 *s = N(m);
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
	struct n11v2 *s = N(m);
	while (s->n_dnsq) {
		s->dns_busy = true;
		dns_finish(m, false);
	}
	while (s->n_pingq)
		ping_answer(m, 0, false, 0);
	s->ping_busy = false;
	ev_timer_stop(m->loop, &s->ping_timer);
	ev_timer_stop(m->loop, &s->ping_deadline);
}

/* ---- parser hooks ---- */

/* "+TCPREAD: <n>,<len>," and "+UDPREAD: <n>,<len>,": the data starts here. */
static size_t n11v2_inline_len(void *ctx, const char *line)
{
	(void)ctx;
	const char *rest = after_tag(line, "TCPREAD");
	if (!rest)
		rest = after_tag(line, "UDPREAD");
	unsigned v[2];
	if (!rest || !at_parse_uints(rest, v, 2))
		return 0;
	const char *second = strchr(rest, ',');
	const char *third = second ? strchr(second + 1, ',') : NULL;
	if (!third || third[1] != '\0')
		return 0;
	return v[1];
}

static void n11v2_io_error(void *ctx)
{
	struct modem *m = ctx;
	fprintf(stderr, "atbridge: serial line %s failed; will reopen\n", m->cfg.device);
	N(m)->chan_dead = true;
	at_script_stop(m->script);
	if (m->up)
		link_down_all(m);
	bringup_start(m);
}

static const struct at_chan_hooks n11v2_hooks = {
	.inline_payload_len = n11v2_inline_len,
	.idle = n11v2_idle,
	.io_error = n11v2_io_error,
	.stalled = n11v2_stalled,
	.rebooted = n11v2_rebooted,
	.stray = n11v2_stray,
	.synced = n11v2_synced,
};

/* ---- bring-up ---- */

static bool build_netapn(void *ctx, char *out, size_t cap)
{
	struct modem *m = ctx;
	return at_cmd_format(out, cap, "AT+NETAPN=%q,%q,%q", m->cfg.apn, m->cfg.user, m->cfg.password);
}

/* "+XIIC:    1,10.232.165.29" (the manual: four spaces before the 1) */
static bool xiic_up(const char *line)
{
	const char *rest = after_tag(line, "XIIC");
	struct in_addr a;
	if (!rest || rest[0] != '1' || rest[1] != ',')
		return false;
	return inet_pton(AF_INET, rest + 2, &a) == 1 && a.s_addr != 0;
}

static void capture_ip(void *ctx, const char *line)
{
	struct modem *m = ctx;
	const char *rest = after_tag(line, "XIIC");
	snprintf(m->local_ip, sizeof(m->local_ip), "%s", rest ? rest + 2 : "");
}

static const struct at_script_row n11v2_bringup_rows[] = {
	{ .cmd = "AT", .timeout_ms = 1000, .tries = 10, .retry_delay_ms = 1000 },
	{ .cmd = "ATE0", .timeout_ms = 2000, .tries = 3, .retry_delay_ms = 500 },
	{ .cmd = "AT+CMEE=1", .timeout_ms = 2000, .on_fail = AT_ON_FAIL_NEXT },
	MODEM_PIN_ROWS,
	{ .cmd = "AT+CGATT?", .expect = "+CGATT: 1", .timeout_ms = 5000, .tries = 60,
	  .retry_delay_ms = 1000 },
	MODEM_INFO_ROWS_N11V2,
	/* Start from no PPP link and no sockets (may fail when none is up). */
	{ .cmd = "AT+XIIC=0", .timeout_ms = 5000, .on_fail = AT_ON_FAIL_NEXT },
	{ .cmd = "AT+RCVMODE=0,0", .timeout_ms = 2000 },
	{ .cmd = "AT+DATAFORMAT=1,1", .timeout_ms = 2000, .on_fail = AT_ON_FAIL_NEXT },
	{ .build = build_netapn, .timeout_ms = 2000 },
	{ .cmd = "AT+XIIC=1", .timeout_ms = 10000 },
	{ .cmd = "AT+XIIC?", .match = xiic_up, .capture = capture_ip, .timeout_ms = 2000,
	  .tries = 30, .retry_delay_ms = 1000 },
};

static const struct at_script n11v2_bringup = {
	.name = "n11v2 bring-up",
	.rows = n11v2_bringup_rows,
	.n_rows = sizeof(n11v2_bringup_rows) / sizeof(n11v2_bringup_rows[0]),
};

static void retry_later(struct modem *m, const char *what, bool silent)
{
	struct n11v2 *s = N(m);
	double wait = modem_recover_failed(m, silent);
	fprintf(stderr, "atbridge: n11v2 bring-up failed at %s; retrying in %.1f s\n", what, wait);
	ev_timer_set(&s->retry_timer, wait, 0.);
	ev_timer_start(m->loop, &s->retry_timer);
}

static void on_bringup_done(void *ctx, bool ok, size_t failed_row)
{
	struct modem *m = ctx;
	struct n11v2 *s = N(m);
	if (!ok) {
		const struct at_script_row *row = &n11v2_bringup_rows[failed_row];
		/* No answer to the sync row: ask for a restart next time. */
		retry_later(m, row->cmd ? row->cmd : row->label ? row->label : "AT+NETAPN", failed_row == 0);
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
	at_script_start(m->script, &n11v2_bringup);
}

static void bringup_run(struct modem *m)
{
	struct n11v2 *s = N(m);
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

static void bringup_start(struct modem *m)
{
	struct n11v2 *s = N(m);
	ev_timer_stop(m->loop, &s->retry_timer);
	if (s->chan_dead) {
		ev_timer_set(&s->retry_timer, modem_recover_holdoff(m), 0.);
		ev_timer_start(m->loop, &s->retry_timer);
		return;
	}
	bringup_run(m);
}

static void link_down_all(struct modem *m)
{
	struct n11v2 *s = N(m);
	m->up = false;
	s->gen = (s->gen + 1) & 0x0fffffffu;
	ev_timer_stop(m->loop, &s->poll_timer);
	ev_timer_stop(m->loop, &s->wait_timer);
	if (m->chan) {
		at_chan_set_resync(m->chan, false);
		at_chan_cancel_queued(m->chan);
	}
	for (int i = 0; i < N11V2_LINKS; i++) {
		struct n11v2_link *l = &s->links[i];
		enum n11v2_link_state st = l->state;
		bool reported = l->connect_reported, silent = l->silent_close;
		link_reset(l);
		if (st != NL_FREE && !reported && m->ev.connected)
			m->ev.connected(m->ctx, i, false); /* also a connect being retried */
		else if (st != NL_FREE && st != NL_CONNECTING && !silent && m->ev.closed)
			m->ev.closed(m->ctx, i, true); /* cut off: never a clean end */
	}
	queries_fail_all(m);
	if (m->ev.link_state)
		m->ev.link_state(m->ctx, false, NULL);
}

/* ---- timers ---- */

static void on_poll(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct modem *m = w->data;
	bool any = false;
	for (int i = 0; i < N11V2_LINKS; i++) {
		struct n11v2_link *l = &N(m)->links[i];
		if (l->state != NL_OPEN || l->readable || l->window == 0)
			continue;
		if (l->poll_skip > 0) {
			l->poll_skip--;
			continue;
		}
		l->poll_due = any = true;
	}
	if (any)
		at_chan_kick(m->chan);
}

static void on_wait(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct modem *m = w->data;
	for (int i = 0; i < N11V2_LINKS; i++) {
		struct n11v2_link *l = &N(m)->links[i];
		l->tx_wait = false;
		if (l->ack_blocked)
			l->ack_query_due = true;
	}
	at_chan_kick(m->chan);
}

static void on_hold_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct modem *m = w->data;
	for (int i = 0; i < N11V2_LINKS; i++) {
		struct n11v2_link *l = &N(m)->links[i];
		if (!l->hold_len || !l->window || (l->state != NL_OPEN && l->state != NL_DRAINING))
			continue;
		uint8_t buf[N11V2_CHUNK];
		size_t now = l->hold_len < l->window ? l->hold_len : l->window;
		memcpy(buf, l->hold, now);
		memmove(l->hold, l->hold + now, l->hold_len - now);
		l->hold_len -= now;
		l->window -= now;
		if (m->ev.data)
			m->ev.data(m->ctx, l->id, buf, now);
		if (l->state == NL_DRAINING && !l->readable && !l->hold_len && !l->busy)
			drained(l);
	}
	at_chan_kick(m->chan);
}

/* ---- the socket interface ---- */

static int n11v2_free_links(const struct modem *m)
{
	int n = 0;
	for (int i = 0; i < N11V2_LINKS; i++)
		n += N(m)->links[i].state == NL_FREE;
	return n;
}

static int n11v2_open(struct modem *m, enum modem_proto proto, uint32_t ip, uint16_t port)
{
	struct n11v2_link *l = NULL;
	for (int i = 0; i < N11V2_LINKS && !l; i++)
		if (N(m)->links[i].state == NL_FREE)
			l = &N(m)->links[i];
	if (!l)
		return -1;
	link_reset(l);
	l->state = NL_CONNECTING;
	l->proto = proto;
	l->ip = ip;
	l->port = port;
	if (!issue_setup(m, l)) {
		l->state = NL_FREE;
		return -1;
	}
	ev_timer_set(&l->connect_timer, N11V2_CONNECT_TIMEOUT, 0.);
	ev_timer_start(m->loop, &l->connect_timer);
	return l->id;
}

static size_t n11v2_send_space(const struct modem *m, int link)
{
	if (link >= N11V2_LINKS)
		return 0;
	const struct n11v2_link *l = &N(m)->links[link];
	if ((l->state != NL_OPEN && l->state != NL_CONNECTING) || l->close_wanted)
		return 0;
	if (l->proto == MODEM_UDP && l->n_dgram >= N11V2_UDP_QUEUE)
		return 0;
	size_t space = N11V2_TX_CAP - l->tx_len;
	if (l->proto == MODEM_UDP && space > N11V2_CHUNK)
		space = N11V2_CHUNK;
	return space;
}

static size_t n11v2_send(struct modem *m, int link, const uint8_t *buf, size_t len)
{
	size_t space = n11v2_send_space(m, link);
	if (space == 0)
		return 0;
	struct n11v2_link *l = &N(m)->links[link];
	if (l->proto == MODEM_UDP) {
		if (len == 0 || len > space)
			return 0;
		l->dgram[l->n_dgram++] = (uint16_t)len;
	} else if (len > space) {
		len = space;
	}
	memcpy(l->tx + l->tx_len, buf, len);
	l->tx_len += len;
	if (len)
		at_chan_kick(m->chan);
	return len;
}

static void n11v2_recv_window(struct modem *m, int link, size_t window)
{
	if (link >= N11V2_LINKS)
		return;
	struct n11v2_link *l = &N(m)->links[link];
	if (l->state == NL_FREE)
		return;
	bool opened = l->window == 0 && window > 0;
	l->window = window;
	if (l->hold_len && window)
		ev_timer_start(m->loop, &N(m)->hold_timer);
	if (opened)
		at_chan_kick(m->chan);
}

static void n11v2_close(struct modem *m, int link)
{
	if (link >= N11V2_LINKS)
		return;
	struct n11v2_link *l = &N(m)->links[link];
	if (l->state == NL_FREE || l->close_wanted)
		return;
	l->close_wanted = true;
	at_chan_kick(m->chan);
}

/* ---- setup ---- */

static bool n11v2_create(struct modem *m)
{
	struct n11v2 *s = calloc(1, sizeof(*s));
	if (!s)
		return false;
	m->d = s;
	for (int i = 0; i < N11V2_LINKS; i++) {
		s->links[i].m = m;
		s->links[i].id = i;
		ev_timer_init(&s->links[i].connect_timer, on_connect_timeout, 0., 0.);
		s->links[i].connect_timer.data = &s->links[i];
	}
	ev_timer_init(&s->retry_timer, on_retry, 0., 0.);
	ev_timer_init(&s->poll_timer, on_poll, 0., m->cfg.poll_interval_ms / 1000.0);
	ev_timer_init(&s->wait_timer, on_wait, N11V2_RETRY, 0.);
	ev_timer_init(&s->hold_timer, on_hold_timer, 0., 0.);
	ev_timer_init(&s->dns_timer, on_dns_timeout, 0., 0.);
	ev_timer_init(&s->ping_timer, on_ping_timeout, 0., 0.);
	ev_timer_init(&s->ping_deadline, on_ping_deadline, 0., 0.);
	s->ping_deadline.data = m;
	ev_timer_init(&s->spare_timer, on_spare_timer, 0., 0.);
	s->spare_timer.data = m;
	s->retry_timer.data = s->poll_timer.data = s->wait_timer.data = m;
	s->hold_timer.data = s->dns_timer.data = s->ping_timer.data = m;
	return true;
}

static void n11v2_destroy(struct modem *m)
{
	struct n11v2 *s = N(m);
	if (!s)
		return;
	for (int i = 0; i < N11V2_LINKS; i++)
		ev_timer_stop(m->loop, &s->links[i].connect_timer);
	ev_timer_stop(m->loop, &s->retry_timer);
	ev_timer_stop(m->loop, &s->poll_timer);
	ev_timer_stop(m->loop, &s->wait_timer);
	ev_timer_stop(m->loop, &s->hold_timer);
	ev_timer_stop(m->loop, &s->dns_timer);
	ev_timer_stop(m->loop, &s->ping_timer);
	ev_timer_stop(m->loop, &s->ping_deadline);
	ev_timer_stop(m->loop, &s->spare_timer);
	free(s);
	m->d = NULL;
}

static void n11v2_attach(struct modem *m)
{
	at_chan_on_urc(m->chan, "+TCPSETUP:", on_setup_urc, NULL, m);
	at_chan_on_urc(m->chan, "+UDPSETUP:", on_setup_urc, NULL, m);
	at_chan_on_urc(m->chan, "+TCPRECV:", on_recv_urc, NULL, m);
	at_chan_on_urc(m->chan, "+UDPRECV:", on_recv_urc, NULL, m);
	at_chan_on_urc(m->chan, "+TCPCLOSE:", on_close_urc, NULL, m);
	at_chan_on_urc(m->chan, "GPRS DISCONNECTION", on_ppp_lost, NULL, m);
	at_chan_on_urc(m->chan, "+PBREADY", on_boot_urc, NULL, m);
	at_chan_on_urc(m->chan, "+DNS:", on_dns_urc, NULL, m);
	at_chan_on_urc(m->chan, "Reply from ", on_ping_reply_urc, NULL, m);
	at_chan_on_urc(m->chan, "Packets:", on_ping_end_urc, NULL, m);
	at_chan_on_urc(m->chan, "Request timed out", on_ping_misc_urc, NULL, m);
	at_chan_on_urc(m->chan, "Ping statistics", on_ping_misc_urc, NULL, m);
	m->script = at_script_run_new(m->loop, m->chan, on_bringup_done, m);
}

static void n11v2_start(struct modem *m)
{
	bringup_start(m);
}

const struct modem_dialect n11v2_dialect = {
	.name = "n11v2",
	.max_links = N11V2_LINKS,
	.create = n11v2_create,
	.destroy = n11v2_destroy,
	.attach = n11v2_attach,
	.hooks = &n11v2_hooks,
	.start = n11v2_start,
	.free_links = n11v2_free_links,
	.open = n11v2_open,
	.send = n11v2_send,
	.send_space = n11v2_send_space,
	.recv_window = n11v2_recv_window,
	.close = n11v2_close,
	.resolve = n11v2_resolve,
	.ping = n11v2_ping,
	/* manual 3.11: <rst> 1 restarts before setting the function level; the
	 * only other documented restart (AT&W) writes the settings to flash. */
	.reboot_cmd = "AT+CFUN=1,1",
	.reconnect = n11v2_reconnect,
};

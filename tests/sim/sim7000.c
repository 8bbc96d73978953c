/* SIMCom SIM7000: AT command set (V.25ter subset, chapter 8 TCP/IP), as
 * read from the SIM7000 AT Command Manual V1.03 and the TCP/IP Application
 * Note V1.01. Interpretations are listed in docs/simulator.md. This file
 * holds the model's state, its answers to link events and sends, and its
 * table for the engine (engine.h). */
#include "sim7000.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

struct s7_state s7;

/* ---- state names ---- */
const char *s7_state_name(void)
{
	switch (s7.st) {
	case IP_INITIAL: return "IP INITIAL";
	case IP_START: return "IP START";
	case IP_CONFIG: return "IP CONFIG";
	case IP_GPRSACT: return "IP GPRSACT";
	case PDP_DEACT: return "PDP DEACT";
	case IP_STATUS: break;
	}
	if (s7.mux)
		return s7.processing ? "IP PROCESSING" : "IP STATUS";
	const struct sim_link *l = sim_link_at(0);
	switch (l->state) {
	case LINK_CONNECTING: return l->udp ? "UDP CONNECTING" : "TCP CONNECTING";
	case LINK_CONNECTED: return "CONNECT OK";
	case LINK_CLOSED: return l->udp ? "UDP CLOSED" : "TCP CLOSED";
	default: return "IP STATUS";
	}
}

/* "<ip>:<port>" of the link's remote end (CIPSRIP) */
const char *s7_peer(const struct sim_link *l)
{
	static char b[32];
	snprintf(b, sizeof b, "%s:%u", inet_ntoa(l->peer.sin_addr), ntohs(l->peer.sin_port));
	return b;
}

/* "<n>, " before link results in multi-link mode, nothing in single mode */
const char *s7_pfx(const struct sim_link *l)
{
	static char b[8];
	if (!s7.mux)
		return "";
	/* app note "0, CLOSE OK"; the manual writes "<n>,CLOSE OK" */
	snprintf(b, sizeof b, RD.linkresult ? "%d," : "%d, ", l->id);
	return b;
}

/* "<n>, SEND FAIL" and the like as the running command's final result */
static void s7_link_final(const struct sim_link *l, const char *what)
{
	char t[48];
	snprintf(t, sizeof t, "%s%s", s7_pfx(l), what);
	at_final(t);
	at_finish();
}

/* ---- transparent data mode (CIPMODE=1, single link) ---- */
static bool s7_trans_mode(void)
{
	return s7.cipmode && !s7.mux;
}

static bool s7_trans_link(const struct sim_link *l)
{
	(void)l;
	return s7_trans_mode();
}

static void s7_escaped(void)
{
	E.in = IN_CMD;
	sim_outs(AT.v1 ? "\r\nOK\r\n" : "0\r");
}

static void s7_enter_trans(void)
{
	sim_trans_enter(sim_link_at(0), s7.ccfg[3] != 0, s7_escaped);
}

static void s7_ato(void)
{
	if (!s7_trans_mode() || sim_link_at(0)->state != LINK_CONNECTED) {
		at_info(AT.v1 ? "NO CARRIER" : "3");
		return;
	}
	at_raw(AT.v1 ? "\r\nCONNECT\r\n" : "1\r", AT.v1 ? 11 : 2);
	s7_enter_trans();
	sim_kick();
}

/* ---- link events ---- */
static void s7_closed(struct sim_link *l)
{
	if (s7.wait_send == l) {
		/* the link went away while SEND OK was awaited */
		s7.wait_send = NULL;
		s7_link_final(l, "SEND FAIL");
	}
	if (s7_trans_mode()) {
		bool online = E.in == IN_TRANS;
		sim_trans_leave();
		if (online) {
			sim_outs("\r\nCLOSED\r\n");
			return;
		}
	}
	at_urc(true, "%sCLOSED", s7_pfx(l));
}

static void s7_frame(const struct sim_link *l, const unsigned char *p, size_t n, struct sim_buf *b)
{
	if (s7.srip)
		sim_buf_addf(b, "\r\nRECV FROM:%s:%u\r\n", inet_ntoa(l->peer.sin_addr),
			     ntohs(l->peer.sin_port));
	if (s7.mux)
		sim_buf_addf(b, "\r\n+RECEIVE,%d,%zu:\r\n", l->id, n);
	else if (s7.head)
		sim_buf_addf(b, s7.showtp ? "\r\n+IPD,%zu,%s:" : "\r\n+IPD,%zu:", n,
			     l->udp ? "UDP" : "TCP");
	sim_buf_add(b, p, n);
}

static void s7_announce(struct sim_link *l)
{
	char src[48] = "";
	if (s7.srip)
		snprintf(src, sizeof src, ",%s", s7_peer(l));
	if (s7.mux)
		at_urc(true, "+CIPRXGET: 1,%d%s", l->id, src);
	else
		at_urc(true, "+CIPRXGET: 1%s", src);
}

static void s7_link_connected(struct sim_link *l)
{
	if (s7_trans_mode()) {
		/* written at once: the data that follows must not overtake it */
		sim_outs(AT.v1 ? "\r\nCONNECT\r\n" : "1\r");
		s7_enter_trans();
	} else {
		at_urc(true, "%sCONNECT OK", s7_pfx(l));
	}
}

/* the lowest link that is neither connecting nor connected (app note 3.2:
 * "connection number 0 allocated") */
static struct sim_link *s7_accept_link(bool *manual_rx)
{
	*manual_rx = s7.rxget == 1;
	for (int i = 0; s7.mux && i < SIM_LINKS; i++)
		if (!sim_link_busy(sim_link_at(i)))
			return sim_link_at(i);
	return NULL;
}

static void s7_accepted(struct sim_link *l)
{
	at_urc(true, "%sREMOTE IP: %s", s7_pfx(l), inet_ntoa(l->peer.sin_addr));
}

static void s7_connect_failed(struct sim_link *l)
{
	if (!s7.mux)
		at_urc(true, "STATE: %s", s7_state_name());
	at_urc(true, "%sCONNECT FAIL", s7_pfx(l));
}

static void s7_sent(struct sim_link *l, bool ok)
{
	if (s7.wait_send != l)
		return;
	s7.wait_send = NULL;
	if (s7.sprt != 2 || !ok) {
		s7_link_final(l, ok ? "SEND OK" : "SEND FAIL");
		return;
	}
	at_finish();
}

/* ---- command helpers ---- */
bool s7_net_ready(void)
{
	return s7.st == IP_STATUS || s7.st == IP_GPRSACT;
}

static bool s7_net_lost(void)
{
	return s7.st == PDP_DEACT;      /* AT+CIPSHUT first */
}

/* link id argument in multi mode, link 0 in single mode; a = args after id */
struct sim_link *s7_link_arg(const struct at_cmd *c, int *first)
{
	long n = 0;
	*first = 0;
	if (s7.mux) {
		if (!sim_link_arg(c, 0, SIM_LINKS, &n))
			return NULL;
		*first = 1;
	}
	return sim_link_at((int)n);
}

void s7_shut_all(void)
{
	sim_links_reset(true);
	s7.processing = false;
	if (E.in == IN_TRANS)
		sim_trans_leave();
}

/* ---- CIPSEND and its data phase ---- */
static void s7_prompt(void)
{
	if (s7.sprt == 1)
		sim_prompt(AT.v1 ? "\r\n> " : "> ");
}

static size_t s7_send_room(struct sim_link *l)
{
	size_t f = l->state == LINK_CONNECTED ? sim_link_tx_free(l) : 0;
	return f > MAX_SEND ? (size_t)MAX_SEND : f;
}

static void s7_cipsend_info(const struct at_cmd *c)
{
	if (c->type == AT_TEST && s7.mux)
		at_info("+CIPSEND: (0-7),(1-%d)", MAX_SEND);
	else if (c->type == AT_TEST)
		at_info("+CIPSEND: (1-%d)", MAX_SEND);
	else if (!s7.mux)
		at_info("+CIPSEND: %zu", s7_send_room(sim_link_at(0)));
	for (int i = 0; c->type == AT_READ && s7.mux && i < SIM_LINKS; i++)
		if (sim_link_at(i)->state == LINK_CONNECTED)
			at_info("+CIPSEND: %d,%zu", i, s7_send_room(sim_link_at(i)));
	at_ok();
}

/* the link and length of AT+CIPSEND[=<n>][,<length>]; NULL: malformed */
static struct sim_link *s7_cipsend_args(const struct at_cmd *c, long *len)
{
	int first;
	*len = 0;
	if (c->type == AT_EXEC)
		return s7.mux ? NULL : sim_link_at(0);
	struct sim_link *l = s7_link_arg(c, &first);
	if (!l || c->na > first + 1 ||
	    (c->na == first + 1 && !at_int(&c->a[first], 1, 0x7fffffff, len)))
		return NULL;
	return l;
}

static void s7_cipsend(const struct at_cmd *c)
{
	if (c->type == AT_TEST || c->type == AT_READ) {
		s7_cipsend_info(c);
		return;
	}
	long len;
	struct sim_link *l = s7_cipsend_args(c, &len);
	if (!l) {
		at_error(50);
		return;
	}
	if (s7_trans_mode()) {
		at_error(3); /* transparent mode: data goes through data mode */
		return;
	}
	if (l->state != LINK_CONNECTED || l->failed || (size_t)len > MAX_SEND ||
	    (size_t)len > sim_link_tx_free(l)) {
		at_error(l->state != LINK_CONNECTED ? 3 : 50);
		return;
	}
	sim_send_begin(l, (size_t)len);
}

static void s7_send_done(struct sim_link *l, bool cancel)
{
	if (cancel) {
		at_ok();
		at_finish();
		return;
	}
	if (E.send.len > MAX_SEND || E.send.len > sim_link_tx_free(l)) {
		at_error(50);
		at_finish();
		return;
	}
	if (l->state != LINK_CONNECTED || l->failed) {
		s7_link_final(l, "SEND FAIL");
		return;
	}
	if (s7.qsend) {
		sim_link_send(l, E.send.data, E.send.len, false);
		/* app note "DATA ACCEPT:0,10"; the manual "DATA ACCEPT: <n>,<length>" */
		char t[48];
		const char *da = RD.dataaccept ? "DATA ACCEPT: " : "DATA ACCEPT:";
		if (s7.mux)
			snprintf(t, sizeof t, "%s%d,%zu", da, l->id, E.send.len);
		else
			snprintf(t, sizeof t, "%s%zu", da, E.send.len);
		at_final(t);
		at_finish();
		return;
	}
	/* CIPQSEND=0: SEND OK once the bytes are in the host TCP stack */
	S.busy = true;
	s7.wait_send = l;
	sim_link_send(l, E.send.data, E.send.len, true);
}

/* ---- module life ---- */
static void s7_reset(void)
{
	sim_trans_stop();
	s7_shut_all();
	memset(&s7, 0, sizeof s7);
	s7.st = IP_INITIAL;
	s7.sprt = 1;
	s7.cfun = 1;
	s7.ipr = 115200;
	snprintf(s7.apn, sizeof s7.apn, "CMNET");
	snprintf(s7.dns1, sizeof s7.dns1, "0.0.0.0");
	snprintf(s7.dns2, sizeof s7.dns2, "0.0.0.0");
	int ccfg[7] = { 5, 2, 1024, 1, 0, 1460, 50 };
	memcpy(s7.ccfg, ccfg, sizeof ccfg);
	int tka[4] = { 1, 7200, 600, 9 };
	memcpy(s7.tka, tka, sizeof tka);
}

static void s7_pdp_deact(void)
{
	struct sim_link *w = s7.wait_send;
	s7_shut_all();
	if (w) {
		s7.wait_send = NULL;
		s7_link_final(w, "SEND FAIL");
	}
	if (s7.st != IP_INITIAL)
		s7.st = PDP_DEACT;
	at_urc(true, "+PDP: DEACT");
}

/* ---- the model ---- */
static const struct sim_cmd cmds[] = {
	{ "+CIPSEND", s7_cipsend, true },	{ "+CPIN", sim_cpin, false },
	{ "+CGDATA", sim_cgdata, false },
	{ NULL, NULL, false },
};

static const struct sim_cmd *const tables[] = { cmds, s7_ip_cmds, s7_general_cmds, NULL };

static const struct sim_digit_cmd digits[] = {
	{ "&W", 0 }, { "&D", 2 }, { "&C", 1 }, { "Q", 0 }, { "H", 0 },
	{ "X", 4 }, { "L", 3 }, { "M", 2 }, { NULL, 0 },
};

const struct sim_model sim7000_model = {
	.name = "sim7000",
	.id = SIM_MODEL_SIM7000,
	.cmds = tables,
	.escapes = false,
	.ext = "+$^",
	.net_lost = s7_net_lost,
	.ati = "SIM7000E R1351",
	.digits = digits,
	.z_resets_cmee = true,
	.s_registers = true,
	.ato = s7_ato,
	.maxline = 559, /* manual 1.4.4: longer lines are refused with ERROR */
	.prompt = s7_prompt,
	.end_byte = 0x1a,       /* Ctrl-Z sends */
	.cancel_byte = 0x1b,    /* ESC cancels */
	.unsized_keep = MAX_SEND + 1, /* one more than a send takes: ERROR */
	.send_done = s7_send_done,
	.push_chunk = MAX_SEND,
	.trans_link = s7_trans_link,
	.frame = s7_frame,
	.announce = s7_announce,
	.closed = s7_closed,
	.connected = s7_link_connected,
	.connect_failed = s7_connect_failed,
	.sent = s7_sent,
	.accept_link = s7_accept_link,
	.accepted = s7_accepted,
	.local_ip = LOCAL_IP,
	.boot = "\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nSMS Ready\r\n",
	.reset = s7_reset,
	.pdp_deact = s7_pdp_deact,
	.dns_answer = s7_dns_answer,
};

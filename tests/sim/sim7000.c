/* SIMCom SIM7000: AT command set (V.25ter subset, chapter 8 TCP/IP), as
 * read from the SIM7000 AT Command Manual V1.03 and the TCP/IP Application
 * Note V1.01. Interpretations are listed in docs/simulator.md. */
#include "sim7000.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct s7_state s7;


struct sim_link *s7_link(int n)
{
	return &S.links[n];
}

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
	const struct sim_link *l = s7_link(0);
	switch (l->state) {
	case LINK_CONNECTING: return l->udp ? "UDP CONNECTING" : "TCP CONNECTING";
	case LINK_CONNECTED: return "CONNECT OK";
	case LINK_CLOSED: return l->udp ? "UDP CLOSED" : "TCP CLOSED";
	default: return "IP STATUS";
	}
}

/* "<n>, " before link results in multi-link mode, nothing in single mode */
/* "<ip>:<port>" of the link's remote end (CIPSRIP) */
const char *s7_peer(const struct sim_link *l)
{
	static char b[32];
	snprintf(b, sizeof b, "%s:%u", inet_ntoa(l->peer.sin_addr), ntohs(l->peer.sin_port));
	return b;
}

const char *s7_pfx(const struct sim_link *l)
{
	static char b[8];
	if (!s7.mux)
		return "";
	/* app note "0, CLOSE OK"; the manual writes "<n>,CLOSE OK" */
	snprintf(b, sizeof b, RD.linkresult ? "%d," : "%d, ", l->id);
	return b;
}

bool s7_link_open(const struct sim_link *l)
{
	return l->state == LINK_CONNECTING || l->state == LINK_CONNECTED;
}

/* ---- transparent data mode ---- */
static void escaped(void)
{
	s7.in = IN_CMD;
	sim_outs(AT.v1 ? "\r\nOK\r\n" : "0\r");
}

static void enter_trans(void)
{
	s7.in = IN_TRANS;
	sim_trans_start(s7_link(0), s7.ccfg[3] != 0, escaped);
}

static void leave_transparent(void)
{
	s7.in = IN_CMD;
	sim_trans_stop();
}

/* ---- receive side: notifications, push mode, remote close ---- */
void s7_check_closed(struct sim_link *l)
{
	if (l->state != LINK_CONNECTED || !l->eof || l->rx.len || l->rx_inflight)
		return;
	sim_link_close(l);
	if (s7.wait_send == l) {
		/* the link went away while SEND OK was awaited */
		char t[32];
		snprintf(t, sizeof t, "%sSEND FAIL", s7_pfx(l));
		s7.wait_send = NULL;
		at_final(t);
		at_finish();
	}
	if (s7.cipmode && !s7.mux) {
		bool online = s7.in == IN_TRANS;
		leave_transparent();
		if (online) {
			sim_outs("\r\nCLOSED\r\n");
			return;
		}
	}
	at_urc(true, "%sCLOSED", s7_pfx(l));
}

static void push_data(struct sim_link *l)
{
	while (l->rx.len && S.out.len + S.urcq.len + S.lateafter.len < PUSH_OUT_LIMIT) {
		unsigned char tmp[MAX_SEND];
		if (s7.cipmode && !s7.mux) {
			if (s7.in != IN_TRANS)
				return; /* escaped: data waits in the buffer until ATO */
			size_t n = sim_link_read(l, tmp, sizeof tmp);
			sim_out(tmp, n);
			continue;
		}
		size_t n = sim_link_read(l, tmp, sizeof tmp);
		struct sim_buf b = { 0 };
		if (s7.srip)
			sim_buf_addf(&b, "\r\nRECV FROM:%s:%u\r\n", inet_ntoa(l->peer.sin_addr),
				     ntohs(l->peer.sin_port));
		if (s7.mux)
			sim_buf_addf(&b, "\r\n+RECEIVE,%d,%zu:\r\n", l->id, n);
		else if (s7.head)
			sim_buf_addf(&b, s7.showtp ? "\r\n+IPD,%zu,%s:" : "\r\n+IPD,%zu:", n,
				     l->udp ? "UDP" : "TCP");
		sim_buf_add(&b, tmp, n);
		sim_urc(b.data, b.len, false);
		sim_buf_free(&b);
	}
	s7_check_closed(l);
}

static void push_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)w, (void)revents;
	for (int i = 0; i < SIM_LINKS; i++) {
		struct sim_link *l = s7_link(i);
		if (l->state == LINK_CONNECTED && !l->manual_rx && l->rx.len)
			push_data(l);
	}
}

static void link_event(struct sim_link *l, int what)
{
	switch (what) {
	case LEV_CONNECT_OK:
		if (s7.cipmode && !s7.mux) {
			/* written at once: the data that follows must not overtake it */
			sim_outs(AT.v1 ? "\r\nCONNECT\r\n" : "1\r");
			enter_trans();
		} else {
			at_urc(true, "%sCONNECT OK", s7_pfx(l));
		}
		break;
	case LEV_CONNECT_FAIL:
		if (!s7.mux)
			at_urc(true, "STATE: %s", s7_state_name());
		at_urc(true, "%sCONNECT FAIL", s7_pfx(l));
		break;
	case LEV_RX:
		if (l->manual_rx) {
			if (!l->notified && l->rx.len) {
				l->notified = true;
				char src[48] = "";
				if (s7.srip)
					snprintf(src, sizeof src, ",%s", s7_peer(l));
				if (s7.mux)
					at_urc(true, "+CIPRXGET: 1,%d%s", l->id, src);
				else
					at_urc(true, "+CIPRXGET: 1%s", src);
			}
		} else {
			push_data(l);
		}
		break;
	case LEV_EOF:
		s7_check_closed(l);
		break;
	case LEV_TX_DONE:
	case LEV_TX_FAIL:
		if (s7.wait_send == l) {
			s7.wait_send = NULL;
			if (s7.sprt != 2 || what == LEV_TX_FAIL) {
				char t[32];
				snprintf(t, sizeof t, "%s%s", s7_pfx(l), what == LEV_TX_DONE ? "SEND OK" : "SEND FAIL");
				at_final(t);
			}
			at_finish();
		}
		break;
	}
}

/* ---- command helpers ---- */
bool s7_net_ready(void)
{
	return s7.st == IP_STATUS || s7.st == IP_GPRSACT;
}

/* link id argument in multi mode, link 0 in single mode; a = args after id */
struct sim_link *s7_link_arg(const struct at_cmd *c, int *first)
{
	long n = 0;
	*first = 0;
	if (s7.mux) {
		if (c->na < 1 || !at_int(&c->a[0], 0, SIM_LINKS - 1, &n))
			return NULL;
		*first = 1;
	}
	return s7_link((int)n);
}

void s7_shut_all(void)
{
	for (int i = 0; i < SIM_LINKS; i++) {
		struct sim_link *l = s7_link(i);
		sim_link_close(l);
		l->state = LINK_INITIAL;
		l->ever_used = false;
	}
	s7.processing = false;
	if (s7.in == IN_TRANS)
		leave_transparent();
}

static void prompt_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)w, (void)revents;
	if (s7.sprt == 1)
		sim_prompt(AT.v1 ? "\r\n> " : "> ");
	s7.in = IN_DATA;
	S.busy = false;
	sim_kick();
}

void s7_cipsend(const struct at_cmd *c)
{
	int first;
	if (c->type == AT_TEST) {
		if (s7.mux)
			at_info("+CIPSEND: (0-7),(1-%d)", MAX_SEND);
		else
			at_info("+CIPSEND: (1-%d)", MAX_SEND);
		at_ok();
		return;
	}
	if (c->type == AT_READ) {
		if (s7.mux) {
			for (int i = 0; i < SIM_LINKS; i++)
				if (s7_link(i)->state == LINK_CONNECTED) {
					size_t f = sim_link_tx_free(s7_link(i));
					at_info("+CIPSEND: %d,%zu", i, f > MAX_SEND ? (size_t)MAX_SEND : f);
				}
		} else {
			size_t f = s7_link(0)->state == LINK_CONNECTED ? sim_link_tx_free(s7_link(0)) : 0;
			at_info("+CIPSEND: %zu", f > MAX_SEND ? (size_t)MAX_SEND : f);
		}
		at_ok();
		return;
	}
	struct sim_link *l;
	long len = 0;
	if (c->type == AT_EXEC) {
		if (s7.mux) {
			at_error(50);
			return;
		}
		l = s7_link(0);
	} else {
		l = s7_link_arg(c, &first);
		if (!l || c->na > first + 1 ||
		    (c->na == first + 1 && !at_int(&c->a[first], 1, 0x7fffffff, &len))) {
			at_error(50);
			return;
		}
	}
	if (s7.cipmode && !s7.mux) {
		at_error(3); /* transparent mode: data goes through data mode */
		return;
	}
	if (l->state != LINK_CONNECTED || l->failed || (size_t)len > MAX_SEND ||
	    (size_t)len > sim_link_tx_free(l)) {
		at_error(l->state != LINK_CONNECTED ? 3 : 50);
		return;
	}
	s7.send_link = l;
	s7.send_len = (size_t)len;
	s7.send.len = 0;
	AT.async = true;
	S.busy = true;
	ev_timer_set(&s7.prompt_timer, PROMPT_DELAY, 0.);
	ev_timer_start(S.loop, &s7.prompt_timer);
}

static void send_complete(bool cancel)
{
	struct sim_link *l = s7.send_link;
	s7.in = IN_CMD;
	s7.send_link = NULL;
	if (cancel) {
		at_ok();
		at_finish();
		return;
	}
	if (s7.send.len > MAX_SEND || s7.send.len > sim_link_tx_free(l)) {
		at_error(50);
		at_finish();
		return;
	}
	char t[48];
	if (l->state != LINK_CONNECTED || l->failed) {
		snprintf(t, sizeof t, "%sSEND FAIL", s7_pfx(l));
		at_final(t);
		at_finish();
		return;
	}
	if (s7.qsend) {
		sim_link_send(l, s7.send.data, s7.send.len, false);
		/* app note "DATA ACCEPT:0,10"; the manual "DATA ACCEPT: <n>,<length>" */
		const char *da = RD.dataaccept ? "DATA ACCEPT: " : "DATA ACCEPT:";
		if (s7.mux)
			snprintf(t, sizeof t, "%s%d,%zu", da, l->id, s7.send.len);
		else
			snprintf(t, sizeof t, "%s%zu", da, s7.send.len);
		at_final(t);
		at_finish();
		return;
	}
	/* CIPQSEND=0: SEND OK once the bytes are in the host TCP stack */
	S.busy = true;
	s7.wait_send = l;
	sim_link_send(l, s7.send.data, s7.send.len, true);
}

static void feed_data(void)
{
	while (S.in.len && s7.in == IN_DATA) {
		if (s7.send_len) {
			size_t want = s7.send_len - s7.send.len;
			size_t n = S.in.len < want ? S.in.len : want;
			sim_buf_add(&s7.send, S.in.data, n);
			sim_count_payload(s7.send_link, n);
			if (AT.echo)
				sim_out(S.in.data, n);
			sim_buf_consume(&S.in, n);
			if (s7.send.len == s7.send_len)
				send_complete(false);
			continue;
		}
		unsigned char b = S.in.data[0];
		sim_buf_consume(&S.in, 1);
		if (b == 0x1a) {
			send_complete(false);
		} else if (b == 0x1b) {
			send_complete(true);
		} else {
			sim_count_payload(s7.send_link, 1);
			if (AT.echo)
				sim_out(&b, 1);
			if (s7.send.len <= MAX_SEND)
				sim_buf_add(&s7.send, &b, 1);
		}
	}
}

/* ---- dispatch ---- */
struct cmd {
	const char *name;
	void (*fn)(const struct at_cmd *c);
	bool needs_context;     /* refused (operation not allowed) in PDP DEACT */
};

static void s7_cgdata(const struct at_cmd *c);

static const struct cmd cmds[] = {
	{ "+CIPMUX", s7_cipmux, false },	{ "+CSTT", s7_cstt, true },
	{ "+CIICR", s7_ciicr, true },		{ "+CIFSR", s7_cifsr, true },
	{ "+CIFSREX", s7_cifsrex, true },	{ "+CIPSTATUS", s7_cipstatus, false },
	{ "+CIPSTART", s7_cipstart, true },	{ "+CIPSEND", s7_cipsend, true },
	{ "+CIPQSEND", s7_cipqsend, false },	{ "+CIPACK", s7_cipack, true },
	{ "+CIPCLOSE", s7_cipclose, true },	{ "+CIPSHUT", s7_cipshut, false },
	{ "+CIPRXGET", s7_ciprxget, false },	{ "+CDNSGIP", s7_cdnsgip, true },
	{ "+CDNSCFG", s7_cdnscfg, false },	{ "+CIPHEAD", s7_ciphead, false },
	{ "+CIPSRIP", s7_cipsrip, false },	{ "+CIPSHOWTP", s7_cipshowtp, false },
	{ "+CIPSPRT", s7_cipsprt, false },	{ "+CIPMODE", s7_cipmode, false },
	{ "+CIPCCFG", s7_cipccfg, false },	{ "+CIPTKA", s7_ciptka, false },
	{ "+CIPOPTION", s7_cipoption, false },	{ "+CIPPING", s7_cipping, true },
	{ "+CLPORT", s7_clport, false },	{ "+CMEE", s7_cmee, false },
	{ "+CPIN", s7_cpin, false },		{ "+CGATT", s7_cgatt, false },
	{ "+CSQ", s7_csq, false },		{ "+CREG", s7_creg, false },
	{ "+CFUN", s7_cfun, false },		{ "+CGDCONT", s7_cgdcont, false },
	{ "+CGACT", s7_cgact, false },		{ "+CGMI", s7_cgmi, false },
	{ "+CGMM", s7_cgmm, false },		{ "+CGMR", s7_cgmr, false },
	{ "+GSN", s7_gsn, false },		{ "+CGSN", s7_gsn, false },
	{ "+IFC", s7_ifc, false },		{ "+IPR", s7_ipr, false },
	{ "+CGDATA", s7_cgdata, false },
};

static const struct cmd *find(const char *name)
{
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		if (!strcmp(cmds[i].name, name))
			return &cmds[i];
	return NULL;
}

static bool basic_flag(const char *rest, int *var)
{
	if (!rest[0] || (rest[0] == '0' && !rest[1]))
		*var = 0;
	else if (rest[0] == '1' && !rest[1])
		*var = 1;
	else
		return false;
	return true;
}

/* a basic command's optional single-digit parameter; answers OK if valid */
static bool digit_max(const char *rest, int max)
{
	if (rest[0] && (rest[1] || rest[0] < '0' || rest[0] > '0' + max))
		return false;
	at_ok();
	return true;
}

static void ppp_ended(void)
{
	s7.in = IN_CMD;
}

static void s7_cgdata(const struct at_cmd *c)
{
	sim_ppp_cgdata(c, ppp_ended);
}

static void dispatch_basic(const struct at_cmd *c)
{
	int v;
	switch (c->name[0]) {
	case 'D':
		/* PPP dial-up (ppp.c); no voice or CSD */
		if (!sim_ppp_dial_string(c->rest))
			break;
		sim_ppp_dial(ppp_ended);
		return;
	case 'E':
		if (!basic_flag(c->rest, &v))
			break;
		AT.echo = v;
		at_ok();
		return;
	case 'V':
		if (!basic_flag(c->rest, &v))
			break;
		AT.v1 = v;
		at_ok();
		return;
	case 'I':
		if (c->rest[0] && strcmp(c->rest, "0"))
			break;
		at_info("SIM7000E R1351");
		at_ok();
		return;
	case 'O':
		if (c->rest[0] && strcmp(c->rest, "0"))
			break;
		if (!s7.cipmode || s7.mux || s7_link(0)->state != LINK_CONNECTED) {
			at_info(AT.v1 ? "NO CARRIER" : "3");
			return;
		}
		at_raw(AT.v1 ? "\r\nCONNECT\r\n" : "1\r", AT.v1 ? 11 : 2);
		enter_trans();
		sim_kick();
		return;
	case 'Z':
		AT.echo = true;
		AT.v1 = true;
		AT.cmee = 0;
		at_ok();
		return;
	case '&':
		if (!strcmp(c->name, "&F") && digit_max(c->rest, 0)) {
			AT.echo = true;
			AT.v1 = true;
			AT.cmee = 0;
			return;
		}
		if ((!strcmp(c->name, "&W") && digit_max(c->rest, 0)) ||
		    (!strcmp(c->name, "&D") && digit_max(c->rest, 2)) ||
		    (!strcmp(c->name, "&C") && digit_max(c->rest, 1)))
			return;
		break;
	case 'Q': case 'H':
		if (digit_max(c->rest, 0))
			return;
		break;
	case 'X':
		if (digit_max(c->rest, 4))
			return;
		break;
	case 'L':
		if (digit_max(c->rest, 3))
			return;
		break;
	case 'M':
		if (digit_max(c->rest, 2))
			return;
		break;
	case 'S': {
		/* S-registers: ATSn=v is accepted, ATSn? reads 0 */
		const char *p = c->rest;
		while (*p >= '0' && *p <= '9')
			p++;
		if (p == c->rest)
			break;
		if (*p == '?' && !p[1]) {
			at_info("000");
			at_ok();
			return;
		}
		if (*p++ != '=')
			break;
		while (*p >= '0' && *p <= '9')
			p++;
		if (*p)
			break;
		at_ok();
		return;
	}
	}
	at_plain_error();
}

static void dispatch(const char *line, size_t n)
{
	struct at_cmd c;
	if (n == 2) {
		at_ok();
		return;
	}
	bool parsed = at_parse(line + 2, n - 2, &c);
	if (c.name[0] != '+' && c.name[0] != '$' && c.name[0] != '^') {
		if (parsed)
			dispatch_basic(&c);
		else
			at_plain_error();
		return;
	}
	const struct cmd *k = find(c.name);
	if (!k) {
		at_plain_error(); /* unknown command */
		return;
	}
	if (!parsed) {
		at_error(50); /* a known command with broken arguments */
		return;
	}
	if (k->needs_context && s7.st == PDP_DEACT && c.type != AT_READ && c.type != AT_TEST) {
		at_error(3); /* AT+CIPSHUT first */
		return;
	}
	k->fn(&c);
}

/* ---- model glue ---- */
static void feed(void)
{
	while (sim_feed_ok() && S.in.len) {
		size_t before = S.in.len;
		enum inmode m = s7.in;
		if (sim_ppp_online()) {
			sim_ppp_feed();
			return;
		}
		if (s7.in == IN_CMD) {
			if (!at_feed_line(dispatch))
				return;
		} else if (s7.in == IN_DATA) {
			feed_data();
		} else {
			sim_trans_feed();
		}
		if (S.in.len == before && s7.in == m)
			return;
	}
}

static void reset(void)
{
	if (!s7.timers_init) {
		ev_timer_init(&s7.prompt_timer, prompt_cb, 0., 0.);
		ev_timer_init(&s7.push_timer, push_cb, 0.01, 0.01);
		ev_timer_start(S.loop, &s7.push_timer);
		s7.timers_init = true;
	}
	sim_ppp_stop(); /* a reboot ends a PPP session */
	ev_timer_stop(S.loop, &s7.prompt_timer);
	sim_trans_stop();
	sim_buf_free(&s7.send);
	s7_shut_all();
	struct sim_buf keep = s7.send;
	ev_timer pt = s7.prompt_timer, pu = s7.push_timer;
	memset(&s7, 0, sizeof s7);
	s7.send = keep;
	s7.prompt_timer = pt;
	s7.push_timer = pu;
	s7.timers_init = true;
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
	at_reset();
	AT.maxline = 559; /* manual 1.4.4: longer lines are refused with ERROR */
}

static void boot_urcs(void)
{
	sim_outs("\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nSMS Ready\r\n");
}

static void pdp_deact(void)
{
	struct sim_link *w = s7.wait_send;
	s7_shut_all();
	if (w) {
		s7.wait_send = NULL;
		char t[32];
		snprintf(t, sizeof t, "%sSEND FAIL", s7_pfx(w));
		at_final(t);
		at_finish();
	}
	if (s7.st != IP_INITIAL)
		s7.st = PDP_DEACT;
	at_urc(true, "+PDP: DEACT");
}

static void drained(void)
{
	push_cb(S.loop, NULL, 0);
}

static bool remote_close(int n)
{
	if (n < 0 || n >= SIM_LINKS || s7_link(n)->state != LINK_CONNECTED)
		return false;
	sim_link_remote_close(s7_link(n));
	return true;
}

const struct sim_model_ops sim7000_ops = {
	.reset = reset,
	.feed = feed,
	.link_event = link_event,
	.boot_urcs = boot_urcs,
	.pdp_deact = pdp_deact,
	.remote_close = remote_close,
	.drained = drained,
};

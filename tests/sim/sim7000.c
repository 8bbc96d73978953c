/* SIMCom SIM7000: AT command set (V.25ter subset, chapter 8 TCP/IP), as
 * read from the SIM7000 AT Command Manual V1.03 and the TCP/IP Application
 * Note V1.01. Interpretations are listed in docs/simulator.md. */
#include "sim.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LOCAL_IP "10.78.245.128"
#define MAX_SEND 1460
#define PROMPT_DELAY 0.002
#define PUSH_OUT_LIMIT 4096

enum ipstate { IP_INITIAL, IP_START, IP_CONFIG, IP_GPRSACT, IP_STATUS, PDP_DEACT };
enum inmode { IN_CMD, IN_DATA, IN_TRANS };

static struct {
	enum ipstate st;
	bool processing;        /* multi-link: a CIPSTART happened (IP PROCESSING) */
	int mux, qsend, rxget, cipmode, head, srip, showtp, sprt, lport_tcp, lport_udp;
	int cfun, ifc_rx, ifc_tx, creg;
	long ipr;
	char apn[256], user[256], pwd[256];
	char dns1[256], dns2[256];
	int ccfg[7];
	int tka[4];
	int option;
	enum inmode in;
	struct sim_link *send_link;
	size_t send_len;        /* 0 = unsized (Ctrl-Z / ESC terminated) */
	struct sim_buf send;
	struct sim_link *wait_send;
	ev_timer prompt_timer, push_timer;
	bool timers_init;
} M;

static struct sim_link *L(int n)
{
	return &S.links[n];
}

/* ---- state names ---- */
static const char *link_state_name(const struct sim_link *l)
{
	switch (l->state) {
	case LINK_INITIAL: return "INITIAL";
	case LINK_CONNECTING: return "CONNECTING";
	case LINK_CONNECTED: return "CONNECTED";
	default: return "CLOSED";
	}
}

static const char *state_name(void)
{
	switch (M.st) {
	case IP_INITIAL: return "IP INITIAL";
	case IP_START: return "IP START";
	case IP_CONFIG: return "IP CONFIG";
	case IP_GPRSACT: return "IP GPRSACT";
	case PDP_DEACT: return "PDP DEACT";
	case IP_STATUS: break;
	}
	if (M.mux)
		return M.processing ? "IP PROCESSING" : "IP STATUS";
	const struct sim_link *l = L(0);
	switch (l->state) {
	case LINK_CONNECTING: return l->udp ? "UDP CONNECTING" : "TCP CONNECTING";
	case LINK_CONNECTED: return "CONNECT OK";
	case LINK_CLOSED: return l->udp ? "UDP CLOSED" : "TCP CLOSED";
	default: return "IP STATUS";
	}
}

/* "<n>, " before link results in multi-link mode, nothing in single mode */
static const char *pfx(const struct sim_link *l)
{
	static char b[8];
	if (!M.mux)
		return "";
	snprintf(b, sizeof b, "%d, ", l->id);
	return b;
}

static bool link_open(const struct sim_link *l)
{
	return l->state == LINK_CONNECTING || l->state == LINK_CONNECTED;
}

/* ---- receive side: notifications, push mode, remote close ---- */
/* ---- transparent data mode ---- */
static void escaped(void)
{
	M.in = IN_CMD;
	sim_outs(AT.v1 ? "\r\nOK\r\n" : "0\r");
}

static void enter_trans(void)
{
	M.in = IN_TRANS;
	sim_trans_start(L(0), M.ccfg[3] != 0, escaped);
}

static void leave_transparent(void)
{
	M.in = IN_CMD;
	sim_trans_stop();
}

static void check_closed(struct sim_link *l)
{
	if (l->state != LINK_CONNECTED || !l->eof || l->rx.len || l->rx_inflight)
		return;
	sim_link_close(l);
	if (M.wait_send == l) {
		M.wait_send = NULL;
		at_final(M.mux ? "SEND FAIL" : "SEND FAIL");
		at_finish();
	}
	if (M.cipmode && !M.mux) {
		bool online = M.in == IN_TRANS;
		leave_transparent();
		if (online) {
			sim_outs("\r\nCLOSED\r\n");
			return;
		}
	}
	at_urc(true, "%sCLOSED", pfx(l));
}

static void push_data(struct sim_link *l)
{
	while (l->rx.len && S.out.len + S.urcq.len < PUSH_OUT_LIMIT) {
		unsigned char tmp[MAX_SEND];
		if (M.cipmode && !M.mux) {
			if (M.in != IN_TRANS)
				return; /* escaped: data waits in the buffer until ATO */
			size_t n = sim_link_read(l, tmp, sizeof tmp);
			sim_out(tmp, n);
			continue;
		}
		size_t n = sim_link_read(l, tmp, sizeof tmp);
		struct sim_buf b = { 0 };
		if (M.srip)
			sim_buf_addf(&b, "\r\nRECV FROM:%s:%u\r\n", inet_ntoa(l->peer.sin_addr),
				     ntohs(l->peer.sin_port));
		if (M.mux)
			sim_buf_addf(&b, "\r\n+RECEIVE,%d,%zu:\r\n", l->id, n);
		else if (M.head)
			sim_buf_addf(&b, M.showtp ? "\r\n+IPD,%zu,%s:" : "\r\n+IPD,%zu:", n,
				     l->udp ? "UDP" : "TCP");
		sim_buf_add(&b, tmp, n);
		sim_urc(b.data, b.len, false);
		sim_buf_free(&b);
	}
	check_closed(l);
}

static void push_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)w, (void)revents;
	for (int i = 0; i < SIM_LINKS; i++) {
		struct sim_link *l = L(i);
		if (l->state == LINK_CONNECTED && !l->manual_rx && l->rx.len)
			push_data(l);
	}
}

static void link_event(struct sim_link *l, int what)
{
	switch (what) {
	case LEV_CONNECT_OK:
		if (M.cipmode && !M.mux) {
			/* written at once: the data that follows must not overtake it */
			sim_outs(AT.v1 ? "\r\nCONNECT\r\n" : "1\r");
			enter_trans();
		} else {
			at_urc(true, "%sCONNECT OK", pfx(l));
		}
		break;
	case LEV_CONNECT_FAIL:
		if (!M.mux)
			at_urc(true, "STATE: %s", state_name());
		at_urc(true, "%sCONNECT FAIL", pfx(l));
		break;
	case LEV_RX:
		if (l->manual_rx) {
			if (!l->notified && l->rx.len) {
				l->notified = true;
				if (M.mux)
					at_urc(true, "+CIPRXGET: 1,%d", l->id);
				else
					at_urc(true, "+CIPRXGET: 1");
			}
		} else {
			push_data(l);
		}
		break;
	case LEV_EOF:
		check_closed(l);
		break;
	case LEV_TX_DONE:
	case LEV_TX_FAIL:
		if (M.wait_send == l) {
			M.wait_send = NULL;
			if (M.sprt != 2 || what == LEV_TX_FAIL) {
				char t[32];
				snprintf(t, sizeof t, "%s%s", pfx(l), what == LEV_TX_DONE ? "SEND OK" : "SEND FAIL");
				at_final(t);
			}
			at_finish();
		}
		break;
	}
}

/* ---- command helpers ---- */
static bool net_ready(void)
{
	return M.st == IP_STATUS || M.st == IP_GPRSACT;
}

/* link id argument in multi mode, link 0 in single mode; a = args after id */
static struct sim_link *link_arg(const struct at_cmd *c, int *first)
{
	long n = 0;
	*first = 0;
	if (M.mux) {
		if (c->na < 1 || !at_int(&c->a[0], 0, SIM_LINKS - 1, &n))
			return NULL;
		*first = 1;
	}
	return L((int)n);
}

static void shut_all(void)
{
	for (int i = 0; i < SIM_LINKS; i++) {
		struct sim_link *l = L(i);
		sim_link_close(l);
		l->state = LINK_INITIAL;
		l->ever_used = false;
	}
	M.processing = false;
	if (M.in == IN_TRANS)
		leave_transparent();
}

/* ---- TCP/IP commands ---- */
static void c_cipmux(const struct at_cmd *c)
{
	long v;
	if (c->type == AT_READ) {
		at_info("+CIPMUX: %d", M.mux);
	} else if (c->type == AT_TEST) {
		at_info("+CIPMUX: (0,1)");
	} else if (c->type == AT_WRITE && c->na == 1 && at_int(&c->a[0], 0, 1, &v)) {
		if (M.st != IP_INITIAL || (v == 1 && M.cipmode)) {
			at_error(3);
			return;
		}
		M.mux = (int)v;
	} else {
		at_error(50);
		return;
	}
	at_ok();
}

static void c_cstt(const struct at_cmd *c)
{
	if (c->type == AT_READ) {
		at_info("+CSTT: \"%s\",\"%s\",\"%s\"", M.apn, M.user, M.pwd);
	} else if (c->type == AT_TEST) {
		at_info("+CSTT: \"APN\",\"USER\",\"PWD\"");
	} else {
		if (c->na > 3 || M.st != IP_INITIAL) {
			at_error(M.st != IP_INITIAL ? 3 : 50);
			return;
		}
		for (int i = 0; i < c->na; i++)
			if (strlen(c->a[i].s) > 50) {
				at_error(50);
				return;
			}
		sim_strlcpy(M.apn, c->na > 0 ? c->a[0].s : "CMNET", sizeof M.apn);
		sim_strlcpy(M.user, c->na > 1 ? c->a[1].s : "", sizeof M.user);
		sim_strlcpy(M.pwd, c->na > 2 ? c->a[2].s : "", sizeof M.pwd);
		M.st = IP_START;
	}
	at_ok();
}

static void c_ciicr(const struct at_cmd *c)
{
	if (c->type == AT_TEST) {
		at_ok();
		return;
	}
	if (c->type != AT_EXEC || M.st != IP_START || M.cfun != 1) {
		at_error(3);
		return;
	}
	M.st = IP_GPRSACT;
	at_ok();
}

static void c_cifsr(const struct at_cmd *c)
{
	if (c->type == AT_TEST) {
		at_ok();
		return;
	}
	if (c->type != AT_EXEC || !net_ready()) {
		at_error(3);
		return;
	}
	if (M.st == IP_GPRSACT)
		M.st = IP_STATUS;
	at_info(LOCAL_IP); /* the manual's only response: the address, no OK */
}

static void c_cifsrex(const struct at_cmd *c)
{
	if (c->type == AT_TEST) {
		at_ok();
		return;
	}
	if (!net_ready()) {
		at_error(3);
		return;
	}
	if (M.st == IP_GPRSACT)
		M.st = IP_STATUS;
	at_info("+CIFSREX: " LOCAL_IP);
	at_ok();
}

static void status_line(const struct sim_link *l, bool plus)
{
	char t[400];
	if (l->state == LINK_INITIAL)
		snprintf(t, sizeof t, "%s%d,,\"\",\"\",\"\",\"INITIAL\"", plus ? "+CIPSTATUS: " : "C: ", l->id);
	else
		snprintf(t, sizeof t, "%s%d,0,\"%s\",\"%s\",\"%u\",\"%s\"", plus ? "+CIPSTATUS: " : "C: ",
			 l->id, l->udp ? "UDP" : "TCP", inet_ntoa(l->peer.sin_addr),
			 ntohs(l->peer.sin_port), link_state_name(l));
	if (plus) {
		at_info("%s", t);
	} else {
		/* the table rows follow each other without blank lines */
		at_raw(t, strlen(t));
		at_raw("\r\n", 2);
	}
}

static void c_cipstatus(const struct at_cmd *c)
{
	long n;
	if (c->type == AT_TEST) {
		at_ok();
		return;
	}
	if (c->type == AT_WRITE) {
		if (!M.mux || c->na != 1 || !at_int(&c->a[0], 0, SIM_LINKS - 1, &n)) {
			at_error(50);
			return;
		}
		status_line(L((int)n), true);
		at_ok();
		return;
	}
	if (c->type != AT_EXEC) {
		at_error(50);
		return;
	}
	at_ok();
	at_info("STATE: %s", state_name());
	if (M.mux && M.processing) {
		if (AT.v1)
			at_raw("\r\n", 2);
		for (int i = 0; i < SIM_LINKS; i++)
			status_line(L(i), false);
	}
}

static void c_cipstart(const struct at_cmd *c)
{
	int first;
	if (c->type == AT_TEST) {
		if (M.mux) {
			at_info("+CIPSTART: (0-7),(\"TCP\",\"UDP\"),(\"(0-255).(0-255).(0-255).(0-255)\"),(1-65535)");
			at_info("+CIPSTART: (0-7),(\"TCP\",\"UDP\"),(\"DOMAIN NAME\"),(1-65535)");
		} else {
			at_info("+CIPSTART: (\"TCP\",\"UDP\"),(\"(0-255).(0-255).(0-255).(0-255)\"),(1-65535)");
			at_info("+CIPSTART: (\"TCP\",\"UDP\"),(\"DOMAIN NAME\"),(1-65535)");
		}
		at_ok();
		return;
	}
	struct sim_link *l = c->type == AT_WRITE ? link_arg(c, &first) : NULL;
	long port;
	if (!l || c->na != first + 3 || !at_int(&c->a[first + 2], 1, 65535, &port) ||
	    (strcasecmp(c->a[first].s, "TCP") && strcasecmp(c->a[first].s, "UDP")) ||
	    !c->a[first + 1].s[0]) {
		at_error(50);
		return;
	}
	bool ok_state = M.mux ? M.st == IP_STATUS
			      : (M.st == IP_STATUS || M.st == IP_INITIAL);
	if (!ok_state) {
		at_error(3);
		return;
	}
	if (link_open(l)) {
		char t[40];
		snprintf(t, sizeof t, "%sALREADY CONNECT", pfx(l));
		at_final(t);
		return;
	}
	if (M.st == IP_INITIAL) {
		/* single link from IP INITIAL: the module brings the context up itself */
		M.st = IP_STATUS;
	}
	bool udp = strcasecmp(c->a[first].s, "UDP") == 0;
	struct in_addr a[2];
	sim_strlcpy(l->host, c->a[first + 1].s, sizeof l->host);
	at_ok();
	M.processing = true;
	if (sim_hosts_lookup(c->a[first + 1].s, a, 1) == 0)
		sim_link_open_fail(l);
	else
		sim_link_open(l, udp, a[0], (int)port, M.mux ? 0 : (udp ? M.lport_udp : M.lport_tcp));
	l->udp = udp;
	l->manual_rx = M.rxget == 1 && !(M.cipmode && !M.mux);
}

static void prompt_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)w, (void)revents;
	if (M.sprt == 1)
		sim_outs(AT.v1 ? "\r\n> " : "> ");
	M.in = IN_DATA;
	S.busy = false;
	sim_kick();
}

static void c_cipsend(const struct at_cmd *c)
{
	int first;
	if (c->type == AT_TEST) {
		if (M.mux)
			at_info("+CIPSEND: (0-7),(1-%d)", MAX_SEND);
		else
			at_info("+CIPSEND: (1-%d)", MAX_SEND);
		at_ok();
		return;
	}
	if (c->type == AT_READ) {
		if (M.mux) {
			for (int i = 0; i < SIM_LINKS; i++)
				if (L(i)->state == LINK_CONNECTED) {
					size_t f = sim_link_tx_free(L(i));
					at_info("+CIPSEND: %d,%zu", i, f > MAX_SEND ? (size_t)MAX_SEND : f);
				}
		} else {
			size_t f = L(0)->state == LINK_CONNECTED ? sim_link_tx_free(L(0)) : 0;
			at_info("+CIPSEND: %zu", f > MAX_SEND ? (size_t)MAX_SEND : f);
		}
		at_ok();
		return;
	}
	struct sim_link *l;
	long len = 0;
	if (c->type == AT_EXEC) {
		if (M.mux) {
			at_error(50);
			return;
		}
		l = L(0);
	} else {
		l = link_arg(c, &first);
		if (!l || c->na > first + 1 ||
		    (c->na == first + 1 && !at_int(&c->a[first], 1, 0x7fffffff, &len))) {
			at_error(50);
			return;
		}
	}
	if (M.cipmode && !M.mux) {
		at_error(3); /* transparent mode: data goes through data mode */
		return;
	}
	if (l->state != LINK_CONNECTED || l->failed || (size_t)len > MAX_SEND ||
	    (size_t)len > sim_link_tx_free(l)) {
		at_error(l->state != LINK_CONNECTED ? 3 : 50);
		return;
	}
	M.send_link = l;
	M.send_len = (size_t)len;
	M.send.len = 0;
	AT.async = true;
	S.busy = true;
	ev_timer_set(&M.prompt_timer, PROMPT_DELAY, 0.);
	ev_timer_start(S.loop, &M.prompt_timer);
}

static void send_complete(bool cancel)
{
	struct sim_link *l = M.send_link;
	M.in = IN_CMD;
	M.send_link = NULL;
	if (cancel) {
		at_ok();
		at_finish();
		return;
	}
	if (M.send.len > MAX_SEND || M.send.len > sim_link_tx_free(l)) {
		at_error(50);
		at_finish();
		return;
	}
	char t[48];
	if (l->state != LINK_CONNECTED || l->failed) {
		snprintf(t, sizeof t, "%sSEND FAIL", pfx(l));
		at_final(t);
		at_finish();
		return;
	}
	if (M.qsend) {
		sim_link_send(l, M.send.data, M.send.len, false);
		if (M.mux)
			snprintf(t, sizeof t, "DATA ACCEPT:%d,%zu", l->id, M.send.len);
		else
			snprintf(t, sizeof t, "DATA ACCEPT:%zu", M.send.len);
		at_final(t);
		at_finish();
		return;
	}
	/* CIPQSEND=0: SEND OK once the bytes are in the host TCP stack */
	S.busy = true;
	M.wait_send = l;
	sim_link_send(l, M.send.data, M.send.len, true);
}

static void feed_data(void)
{
	while (S.in.len && M.in == IN_DATA) {
		if (M.send_len) {
			size_t want = M.send_len - M.send.len;
			size_t n = S.in.len < want ? S.in.len : want;
			sim_buf_add(&M.send, S.in.data, n);
			if (AT.echo)
				sim_out(S.in.data, n);
			sim_buf_consume(&S.in, n);
			if (M.send.len == M.send_len)
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
			if (AT.echo)
				sim_out(&b, 1);
			if (M.send.len <= MAX_SEND)
				sim_buf_add(&M.send, &b, 1);
		}
	}
}

static void c_cipqsend(const struct at_cmd *c)
{
	long v;
	if (c->type == AT_READ)
		at_info("+CIPQSEND: %d", M.qsend);
	else if (c->type == AT_TEST)
		at_info("+CIPQSEND: (0,1)");
	else if (c->type == AT_WRITE && c->na == 1 && at_int(&c->a[0], 0, 1, &v))
		M.qsend = (int)v;
	else {
		at_error(50);
		return;
	}
	at_ok();
}

static void c_cipack(const struct at_cmd *c)
{
	struct sim_link *l;
	long n = 0;
	if (c->type == AT_TEST) {
		at_ok();
		return;
	}
	if (M.mux ? (c->type != AT_WRITE || c->na != 1 || !at_int(&c->a[0], 0, SIM_LINKS - 1, &n))
		  : c->type != AT_EXEC) {
		at_error(50);
		return;
	}
	l = L((int)n);
	if (l->state == LINK_INITIAL) {
		at_error(3);
		return;
	}
	uint64_t acked;
	sim_link_acks(l, &acked);
	at_info("+CIPACK: %llu,%llu,%llu", (unsigned long long)l->tx_total,
		(unsigned long long)acked, (unsigned long long)(l->tx_total - acked));
	at_ok();
}

static void c_cipclose(const struct at_cmd *c)
{
	long n = 0, mode = 0;
	if (c->type == AT_TEST) {
		at_ok();
		return;
	}
	if (M.mux) {
		if (c->type != AT_WRITE || c->na < 1 || c->na > 2 ||
		    !at_int(&c->a[0], 0, SIM_LINKS - 1, &n) ||
		    (c->na == 2 && !at_int(&c->a[1], 0, 1, &mode))) {
			at_error(50);
			return;
		}
	} else if (c->type == AT_WRITE && (c->na != 1 || !at_int(&c->a[0], 0, 1, &mode))) {
		at_error(50);
		return;
	}
	struct sim_link *l = L((int)n);
	if (!link_open(l)) {
		at_plain_error();
		return;
	}
	sim_link_close(l);
	char t[32];
	snprintf(t, sizeof t, "%sCLOSE OK", pfx(l));
	at_final(t);
}

static void c_cipshut(const struct at_cmd *c)
{
	if (c->type == AT_TEST) {
		at_ok();
		return;
	}
	if (c->type != AT_EXEC) {
		at_error(50);
		return;
	}
	shut_all();
	M.st = IP_INITIAL;
	at_final("SHUT OK");
}

static void hex(const unsigned char *p, size_t n)
{
	static const char d[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		char h[2] = { d[p[i] >> 4], d[p[i] & 15] };
		at_raw(h, 2);
	}
}

static void c_ciprxget(const struct at_cmd *c)
{
	long mode, n = 0, len = 0;
	if (c->type == AT_READ) {
		at_info("+CIPRXGET: %d", M.rxget);
		at_ok();
		return;
	}
	if (c->type == AT_TEST) {
		if (M.mux)
			at_info("+CIPRXGET: (0-4),(0-7),(1-1460)");
		else
			at_info("+CIPRXGET: (0-4),(1-1460)");
		at_ok();
		return;
	}
	if (c->type != AT_WRITE || c->na < 1 || !at_int(&c->a[0], 0, 4, &mode)) {
		at_error(50);
		return;
	}
	if (mode <= 1) {
		if (c->na != 1) {
			at_error(50);
			return;
		}
		M.rxget = (int)mode;
		at_ok();
		return;
	}
	int i = 1;
	if (M.mux) {
		if (c->na < 2 || !at_int(&c->a[1], 0, SIM_LINKS - 1, &n)) {
			at_error(50);
			return;
		}
		i = 2;
	}
	long maxlen = mode == 3 ? 730 : 1460;
	if (mode == 4) {
		if (c->na > i + 1 || (c->na == i + 1 && !at_int(&c->a[i], 0, 2920, &len))) {
			at_error(50);
			return;
		}
	} else if (c->na != i + 1 || !at_int(&c->a[i], 1, maxlen, &len)) {
		at_error(50);
		return;
	}
	struct sim_link *l = L((int)n);
	if (l->state == LINK_INITIAL || !l->manual_rx) {
		at_error(3);
		return;
	}
	char idp[8] = "";
	if (M.mux)
		snprintf(idp, sizeof idp, "%ld,", n);
	if (mode == 4) {
		at_info("+CIPRXGET: 4,%s%zu", idp, l->rx.len);
		at_ok();
		return;
	}
	unsigned char tmp[1460];
	size_t got = sim_link_read(l, tmp, (size_t)len);
	if (l->rx.len == 0)
		l->notified = false;
	at_info("+CIPRXGET: %ld,%s%zu,%zu", mode, idp, got, l->rx.len);
	/* at_info ends with CR LF: the payload follows it directly */
	if (mode == 2)
		at_raw(tmp, got);
	else
		hex(tmp, got);
	at_ok();
	check_closed(l);
}

static void dns_result(struct sim_link *l, const void *p, size_t n)
{
	(void)l;
	char name[256];
	if (n >= sizeof name)
		n = sizeof name - 1;
	memcpy(name, p, n);
	name[n] = 0;
	struct in_addr a[2];
	int k = sim_hosts_lookup(name, a, 2);
	if (k == 0) {
		at_urc(true, "+CDNSGIP: 0,8");
		return;
	}
	char ip1[16], ip2[16];
	sim_strlcpy(ip1, inet_ntoa(a[0]), sizeof ip1);
	if (k == 2) {
		sim_strlcpy(ip2, inet_ntoa(a[1]), sizeof ip2);
		at_urc(true, "+CDNSGIP: 1,\"%s\",\"%s\",\"%s\"", name, ip1, ip2);
	} else {
		at_urc(true, "+CDNSGIP: 1,\"%s\",\"%s\"", name, ip1);
	}
}

static void c_cdnsgip(const struct at_cmd *c)
{
	if (c->type == AT_TEST) {
		at_ok();
		return;
	}
	if (c->type != AT_WRITE || c->na != 1 || !c->a[0].s[0]) {
		at_error(50);
		return;
	}
	if (!net_ready()) {
		at_error(3);
		return;
	}
	at_ok();
	sim_delay(S.o.latency_ms / 1000.0 * 2, dns_result, NULL, c->a[0].s, strlen(c->a[0].s));
}

static void c_cdnscfg(const struct at_cmd *c)
{
	struct in_addr a;
	if (c->type == AT_READ) {
		at_info("PrimaryDns: %s", M.dns1);
		at_info("SecondaryDns: %s", M.dns2);
	} else if (c->type == AT_TEST) {
		at_info("+CDNSCFG: (\"Primary DNS\"),(\"Secondary DNS\")");
	} else if (c->type == AT_WRITE && c->na >= 1 && c->na <= 2 &&
		   inet_pton(AF_INET, c->a[0].s, &a) == 1 &&
		   (c->na == 1 || inet_pton(AF_INET, c->a[1].s, &a) == 1)) {
		sim_strlcpy(M.dns1, c->a[0].s, sizeof M.dns1);
		sim_strlcpy(M.dns2, c->na == 2 ? c->a[1].s : "0.0.0.0", sizeof M.dns2);
	} else {
		at_error(50);
		return;
	}
	at_ok();
}

/* A numeric on/off style setting: +NAME: (lo-hi), +NAME: <v>, =<v> */
static void setting(const struct at_cmd *c, const char *name, int *var, long lo, long hi)
{
	long v;
	if (c->type == AT_READ)
		at_info("%s: %d", name, *var);
	else if (c->type == AT_TEST)
		at_info("%s: (%ld-%ld)", name, lo, hi);
	else if (c->type == AT_WRITE && c->na == 1 && at_int(&c->a[0], lo, hi, &v))
		*var = (int)v;
	else {
		at_error(50);
		return;
	}
	at_ok();
}

static void c_ciphead(const struct at_cmd *c) { setting(c, "+CIPHEAD", &M.head, 0, 1); }
static void c_cipsrip(const struct at_cmd *c) { setting(c, "+CIPSRIP", &M.srip, 0, 1); }
static void c_cipshowtp(const struct at_cmd *c) { setting(c, "+CIPSHOWTP", &M.showtp, 0, 1); }
static void c_cipsprt(const struct at_cmd *c) { setting(c, "+CIPSPRT", &M.sprt, 0, 2); }
static void c_cipoption(const struct at_cmd *c) { setting(c, "+CIPOPTION", &M.option, 0, 1); }

static void c_cipmode(const struct at_cmd *c)
{
	long v;
	if (c->type == AT_WRITE && (c->na != 1 || !at_int(&c->a[0], 0, 1, &v) ||
				    (v == 1 && M.mux) || M.st != IP_INITIAL)) {
		at_error(c->na == 1 && at_int(&c->a[0], 0, 1, &v) ? 3 : 50);
		return;
	}
	setting(c, "+CIPMODE", &M.cipmode, 0, 1);
}

static void c_clport(const struct at_cmd *c)
{
	long port;
	if (c->type == AT_READ) {
		at_info("+CLPORT: \"TCP\",%d", M.lport_tcp);
		at_info("+CLPORT: \"UDP\",%d", M.lport_udp);
	} else if (c->type == AT_TEST) {
		at_info("+CLPORT: (\"TCP\",\"UDP\"),(0-65535)");
	} else if (c->type == AT_WRITE && c->na == 2 && at_int(&c->a[1], 0, 65535, &port) &&
		   (!strcasecmp(c->a[0].s, "TCP") || !strcasecmp(c->a[0].s, "UDP"))) {
		if (!strcasecmp(c->a[0].s, "TCP"))
			M.lport_tcp = (int)port;
		else
			M.lport_udp = (int)port;
	} else {
		at_error(50);
		return;
	}
	at_ok();
}

static void c_cipccfg(const struct at_cmd *c)
{
	static const long lo[7] = { 3, 1, 1, 0, 0, 50, 20 };
	static const long hi[7] = { 8, 10, 1460, 1, 1, 1460, 1000 };
	if (c->type == AT_READ) {
		at_info("+CIPCCFG: %d,%d,%d,%d,%d,%d,%d", M.ccfg[0], M.ccfg[1], M.ccfg[2],
			M.ccfg[3], M.ccfg[4], M.ccfg[5], M.ccfg[6]);
	} else if (c->type == AT_TEST) {
		at_info("+CIPCCFG: (3-8),(1-10),(1-1460),(0,1),(0,1),(50-1460),(20-1000)");
	} else if (c->type == AT_WRITE && c->na >= 1 && c->na <= 7) {
		int v[7];
		memcpy(v, M.ccfg, sizeof v);
		for (int i = 0; i < c->na; i++) {
			long x;
			if (!c->a[i].s[0])
				continue;
			if (!at_int(&c->a[i], lo[i], hi[i], &x)) {
				at_error(50);
				return;
			}
			v[i] = (int)x;
		}
		memcpy(M.ccfg, v, sizeof v);
	} else {
		at_error(50);
		return;
	}
	at_ok();
}

static void c_ciptka(const struct at_cmd *c)
{
	static const long lo[4] = { 0, 30, 30, 1 };
	static const long hi[4] = { 1, 7200, 600, 9 };
	if (c->type == AT_READ) {
		at_info("+CIPTKA: %d,%d,%d,%d", M.tka[0], M.tka[1], M.tka[2], M.tka[3]);
	} else if (c->type == AT_TEST) {
		at_info("+CIPTKA: (0,1),(30-7200),(30-600),(1-9)");
	} else if (c->type == AT_WRITE && c->na >= 1 && c->na <= 4) {
		int v[4];
		memcpy(v, M.tka, sizeof v);
		for (int i = 0; i < c->na; i++) {
			long x;
			if (!at_int(&c->a[i], lo[i], hi[i], &x)) {
				at_error(50);
				return;
			}
			v[i] = (int)x;
		}
		memcpy(M.tka, v, sizeof v);
	} else {
		at_error(50);
		return;
	}
	at_ok();
}

static void c_cipping(const struct at_cmd *c)
{
	long count = 4, size = 32;
	if (c->type == AT_TEST) {
		at_info("+CIPPING: (\"IP address\"),(1-100),(1-1024),(1-600),(1-255)");
		at_ok();
		return;
	}
	if (c->type != AT_WRITE || c->na < 1 || c->na > 5 ||
	    (c->na > 1 && !at_int(&c->a[1], 1, 100, &count)) ||
	    (c->na > 2 && !at_int(&c->a[2], 1, 1024, &size))) {
		at_error(50);
		return;
	}
	if (!net_ready()) {
		at_error(3);
		return;
	}
	struct in_addr a[1];
	bool known = sim_hosts_lookup(c->a[0].s, a, 1) == 1 && sim_hosts_known_addr(a[0]);
	for (long i = 1; i <= count; i++) {
		if (known)
			at_info("+CIPPING: %ld,\"%s\",%ld,%d", i, inet_ntoa(a[0]),
				S.o.latency_ms * 2 / 100, 64);
		else
			at_info("+CIPPING: %ld,\"%s\",600,255", i,
				sim_hosts_lookup(c->a[0].s, a, 1) ? inet_ntoa(a[0]) : c->a[0].s);
	}
	at_ok();
}

/* ---- general commands ---- */
static void c_cmee(const struct at_cmd *c)
{
	setting(c, "+CMEE", &AT.cmee, 0, 2);
}

static void c_cpin(const struct at_cmd *c)
{
	if (c->type == AT_READ)
		at_info("+CPIN: READY");
	else if (c->type != AT_TEST) {
		at_error(3);
		return;
	}
	at_ok();
}

static void c_cgatt(const struct at_cmd *c)
{
	long v;
	if (c->type == AT_READ) {
		at_info("+CGATT: %d", M.cfun == 1 ? 1 : 0);
	} else if (c->type == AT_TEST) {
		at_info("+CGATT: (0,1)");
	} else if (c->type == AT_WRITE && c->na == 1 && at_int(&c->a[0], 0, 1, &v)) {
		if (v == 0 && M.st != IP_INITIAL) {
			shut_all();
			M.st = PDP_DEACT;
		}
	} else {
		at_error(50);
		return;
	}
	at_ok();
}

static void c_csq(const struct at_cmd *c)
{
	if (c->type == AT_TEST)
		at_info("+CSQ: (0-31,99),(0-7,99)");
	else if (c->type == AT_EXEC)
		at_info("+CSQ: %d,0", M.cfun == 1 ? 20 : 99);
	else {
		at_error(50);
		return;
	}
	at_ok();
}

static void c_creg(const struct at_cmd *c)
{
	if (c->type == AT_READ)
		at_info("+CREG: %d,%d", M.creg, M.cfun == 1 ? 1 : 0);
	else if (c->type == AT_TEST)
		at_info("+CREG: (0-2)");
	else if (c->type == AT_WRITE) {
		setting(c, "+CREG", &M.creg, 0, 2);
		return;
	} else {
		at_error(50);
		return;
	}
	at_ok();
}

static void c_cfun(const struct at_cmd *c)
{
	long v, rst = 0;
	if (c->type == AT_READ) {
		at_info("+CFUN: %d", M.cfun);
	} else if (c->type == AT_TEST) {
		at_info("+CFUN: (0,1,4,5,6,7),(0,1)");
	} else if (c->type == AT_WRITE && c->na >= 1 && c->na <= 2 && at_int(&c->a[0], 0, 7, &v) &&
		   v != 2 && v != 3 && (c->na == 1 || at_int(&c->a[1], 0, 1, &rst))) {
		if (v != 1) {
			shut_all();
			if (M.st != IP_INITIAL)
				M.st = PDP_DEACT;
		}
		M.cfun = (int)v == 1 ? 1 : (int)v;
	} else {
		at_error(50);
		return;
	}
	at_ok();
}

static void c_cgdcont(const struct at_cmd *c)
{
	long cid;
	if (c->type == AT_READ)
		at_info("+CGDCONT: 1,\"IP\",\"%s\",\"0.0.0.0\",0,0,0,0", M.apn);
	else if (c->type == AT_TEST)
		at_info("+CGDCONT: (1-24),\"IP\",,,(0-2),(0-4),(0,1),(0,1)");
	else if (c->type == AT_WRITE && c->na >= 1 && at_int(&c->a[0], 1, 24, &cid)) {
		if (cid == 1 && c->na >= 3)
			sim_strlcpy(M.apn, c->a[2].s, sizeof M.apn);
	} else {
		at_error(50);
		return;
	}
	at_ok();
}

static void c_cgact(const struct at_cmd *c)
{
	long st, cid;
	if (c->type == AT_READ)
		at_info("+CGACT: 1,%d", net_ready() ? 1 : 0);
	else if (c->type == AT_TEST)
		at_info("+CGACT: (0,1)");
	else if (c->type == AT_WRITE && c->na >= 1 && c->na <= 2 && at_int(&c->a[0], 0, 1, &st) &&
		 (c->na == 1 || at_int(&c->a[1], 1, 24, &cid))) {
		if (st == 0 && net_ready()) {
			shut_all();
			M.st = PDP_DEACT;
		}
	} else {
		at_error(50);
		return;
	}
	at_ok();
}

static void c_ident(const struct at_cmd *c, const char *text)
{
	if (c->type == AT_TEST) {
		at_ok();
		return;
	}
	if (c->type != AT_EXEC) {
		at_error(50);
		return;
	}
	at_info("%s", text);
	at_ok();
}

static void c_cgmi(const struct at_cmd *c) { c_ident(c, "SIMCOM_Ltd"); }
static void c_cgmm(const struct at_cmd *c) { c_ident(c, "SIMCOM_SIM7000E"); }
static void c_cgmr(const struct at_cmd *c) { c_ident(c, "Revision:1351B03SIM7000E"); }
static void c_gsn(const struct at_cmd *c) { c_ident(c, "869951030000001"); }

static void c_ifc(const struct at_cmd *c)
{
	long a, b = 2;
	if (c->type == AT_READ)
		at_info("+IFC: %d,%d", M.ifc_rx, M.ifc_tx);
	else if (c->type == AT_TEST)
		at_info("+IFC: (0,2),(0,2)");
	else if (c->type == AT_WRITE && c->na >= 1 && c->na <= 2 && at_int(&c->a[0], 0, 2, &a) &&
		 a != 1 && (c->na == 1 || (at_int(&c->a[1], 0, 2, &b) && b != 1))) {
		M.ifc_rx = (int)a;
		M.ifc_tx = (int)b;
	} else {
		at_error(50);
		return;
	}
	at_ok();
}

static void c_ipr(const struct at_cmd *c)
{
	static const long rates[] = { 0, 300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600,
				      115200, 230400, 921600, 2000000, 2900000, 3000000, 3200000,
				      3686400, 4000000 };
	long v;
	if (c->type == AT_READ) {
		at_info("+IPR: %ld", M.ipr);
	} else if (c->type == AT_TEST) {
		at_info("+IPR: (0,300,600,1200,2400,4800,9600,19200,38400,57600,115200,230400,921600,2000000,2900000,3000000,3200000,3686400,4000000)");
	} else if (c->type == AT_WRITE && c->na == 1 && at_int(&c->a[0], 0, 4000000, &v)) {
		bool ok = false;
		for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++)
			ok |= rates[i] == v;
		if (!ok) {
			at_error(50);
			return;
		}
		M.ipr = v; /* the pty's pace is --baud; the rate is only remembered */
	} else {
		at_error(50);
		return;
	}
	at_ok();
}

/* ---- dispatch ---- */
struct cmd {
	const char *name;
	void (*fn)(const struct at_cmd *c);
};

static const struct cmd cmds[] = {
	{ "+CIPMUX", c_cipmux },	{ "+CSTT", c_cstt },
	{ "+CIICR", c_ciicr },		{ "+CIFSR", c_cifsr },
	{ "+CIFSREX", c_cifsrex },	{ "+CIPSTATUS", c_cipstatus },
	{ "+CIPSTART", c_cipstart },	{ "+CIPSEND", c_cipsend },
	{ "+CIPQSEND", c_cipqsend },	{ "+CIPACK", c_cipack },
	{ "+CIPCLOSE", c_cipclose },	{ "+CIPSHUT", c_cipshut },
	{ "+CIPRXGET", c_ciprxget },	{ "+CDNSGIP", c_cdnsgip },
	{ "+CDNSCFG", c_cdnscfg },	{ "+CIPHEAD", c_ciphead },
	{ "+CIPSRIP", c_cipsrip },	{ "+CIPSHOWTP", c_cipshowtp },
	{ "+CIPSPRT", c_cipsprt },	{ "+CIPMODE", c_cipmode },
	{ "+CIPCCFG", c_cipccfg },	{ "+CIPTKA", c_ciptka },
	{ "+CIPOPTION", c_cipoption },	{ "+CIPPING", c_cipping },
	{ "+CLPORT", c_clport },	{ "+CMEE", c_cmee },
	{ "+CPIN", c_cpin },		{ "+CGATT", c_cgatt },
	{ "+CSQ", c_csq },		{ "+CREG", c_creg },
	{ "+CFUN", c_cfun },		{ "+CGDCONT", c_cgdcont },
	{ "+CGACT", c_cgact },		{ "+CGMI", c_cgmi },
	{ "+CGMM", c_cgmm },		{ "+CGMR", c_cgmr },
	{ "+GSN", c_gsn },		{ "+CGSN", c_gsn },
	{ "+IFC", c_ifc },		{ "+IPR", c_ipr },
};

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

static void dispatch_basic(const struct at_cmd *c)
{
	int v;
	switch (c->name[0]) {
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
		if (!M.cipmode || M.mux || L(0)->state != LINK_CONNECTED) {
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
	if (!at_parse(line + 2, n - 2, &c)) {
		/* a known command with broken arguments is a parameter error */
		at_error(50);
		return;
	}
	if (c.name[0] != '+' && c.name[0] != '$' && c.name[0] != '^') {
		dispatch_basic(&c);
		return;
	}
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		if (!strcmp(cmds[i].name, c.name)) {
			if (M.st == PDP_DEACT && cmds[i].fn != c_cipshut && cmds[i].fn != c_cipstatus &&
			    (!strncmp(c.name, "+CIP", 4) || !strcmp(c.name, "+CDNSGIP") ||
			     !strcmp(c.name, "+CSTT") || !strcmp(c.name, "+CIICR") ||
			     !strcmp(c.name, "+CIFSR")) && c.type != AT_READ && c.type != AT_TEST &&
			    strcmp(c.name, "+CIPMUX") && strcmp(c.name, "+CIPRXGET") &&
			    strcmp(c.name, "+CIPQSEND")) {
				at_error(3);
				return;
			}
			cmds[i].fn(&c);
			return;
		}
	at_plain_error(); /* unknown command */
}

/* ---- model glue ---- */
static void feed(void)
{
	while (!S.busy && !S.stalled && !S.rebooting && S.in.len) {
		size_t before = S.in.len;
		enum inmode m = M.in;
		if (M.in == IN_CMD) {
			if (!at_feed_line(dispatch))
				return;
		} else if (M.in == IN_DATA) {
			feed_data();
		} else {
			sim_trans_feed();
		}
		if (S.in.len == before && M.in == m)
			return;
	}
}

static void reset(void)
{
	if (!M.timers_init) {
		ev_timer_init(&M.prompt_timer, prompt_cb, 0., 0.);
		ev_timer_init(&M.push_timer, push_cb, 0.01, 0.01);
		ev_timer_start(S.loop, &M.push_timer);
		M.timers_init = true;
	}
	ev_timer_stop(S.loop, &M.prompt_timer);
	sim_trans_stop();
	sim_buf_free(&M.send);
	shut_all();
	struct sim_buf keep = M.send;
	ev_timer pt = M.prompt_timer, pu = M.push_timer;
	memset(&M, 0, sizeof M);
	M.send = keep;
	M.prompt_timer = pt;
	M.push_timer = pu;
	M.timers_init = true;
	M.st = IP_INITIAL;
	M.sprt = 1;
	M.cfun = 1;
	M.ipr = 115200;
	snprintf(M.apn, sizeof M.apn, "CMNET");
	snprintf(M.dns1, sizeof M.dns1, "0.0.0.0");
	snprintf(M.dns2, sizeof M.dns2, "0.0.0.0");
	int ccfg[7] = { 5, 2, 1024, 1, 0, 1460, 50 };
	memcpy(M.ccfg, ccfg, sizeof ccfg);
	int tka[4] = { 1, 7200, 600, 9 };
	memcpy(M.tka, tka, sizeof tka);
	at_reset();
}

static void boot_urcs(void)
{
	sim_outs("\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nSMS Ready\r\n");
}

static void pdp_deact(void)
{
	struct sim_link *w = M.wait_send;
	shut_all();
	if (w) {
		M.wait_send = NULL;
		char t[32];
		snprintf(t, sizeof t, "%sSEND FAIL", pfx(w));
		at_final(t);
		at_finish();
	}
	if (M.st != IP_INITIAL)
		M.st = PDP_DEACT;
	at_urc(true, "+PDP: DEACT");
}

static bool remote_close(int n)
{
	if (n < 0 || n >= SIM_LINKS || L(n)->state != LINK_CONNECTED)
		return false;
	sim_link_remote_close(L(n));
	return true;
}

const struct sim_model_ops sim7000_ops = {
	.reset = reset,
	.feed = feed,
	.link_event = link_event,
	.boot_urcs = boot_urcs,
	.pdp_deact = pdp_deact,
	.remote_close = remote_close,
};

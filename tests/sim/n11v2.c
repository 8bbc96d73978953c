/* Neoway N11V2: internal TCP/IP stack commands (chapters 5, 8, 11, 12, 24 of
 * the N11V2 AT Commands Manual V1.6). Interpretations are listed in
 * docs/simulator.md. Sockets 0..4 are links 0..4; the transparent
 * connection uses link 7. */
#include "n11v2.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct n11_state n11;


struct sim_link *n11_link(int n)
{
	return &S.links[n];
}

bool n11_connected(const struct sim_link *l)
{
	return l->state == LINK_CONNECTED;
}

bool n11_rx_hex(void)
{
	return n11.dfmt_rx == 0 || n11.recvhex == 1;
}

void n11_hex_to(struct sim_buf *b, const unsigned char *p, size_t n)
{
	static const char d[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		char h[2] = { d[p[i] >> 4], d[p[i] & 15] };
		sim_buf_add(b, h, 2);
	}
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* decodes hex text in place; returns the byte count or -1 */
long n11_unhex(unsigned char *p, size_t n)
{
	if (n % 2)
		return -1;
	for (size_t i = 0; i < n; i += 2) {
		int hi = hexval(p[i]), lo = hexval(p[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		p[i / 2] = (unsigned char)(hi << 4 | lo);
	}
	return (long)(n / 2);
}

/* ---- receive side ---- */
static void trans_closed(struct sim_link *l);

void n11_check_closed(struct sim_link *l)
{
	if (!n11_connected(l) || !l->eof || l->rx.len || l->rx_inflight)
		return;
	sim_link_close(l);
	if (l->id == TRANS_LINK) {
		trans_closed(l);
		return;
	}
	n11_link_closed_urc(l);
}

/* "+TCPCLOSE: <n>,Link Closed" (or +UDPCLOSE, or the transparent form) */
void n11_link_closed_urc(const struct sim_link *l)
{
	if (l->id == TRANS_LINK)
		at_urc(true, "%s:%sLink Closed", l->udp ? "+UDPTRANS" : "+TCPTRANS", n11_sp(F_TRANS_CLOSED));
	else if (l->udp)
		at_urc(true, "+UDPCLOSE:%s%d,Link Closed", n11_sp(F_UDPCLOSE_OK), l->id);
	else
		at_urc(true, "+TCPCLOSE:%s%d,Link Closed", n11_sp(F_TCPCLOSE), l->id);
}

static void push_data(struct sim_link *l)
{
	while (l->rx.len && S.out.len + S.urcq.len + S.lateafter.len < PUSH_OUT_LIMIT) {
		unsigned char tmp[PUSH_CHUNK];
		if (l->id == TRANS_LINK) {
			if (n11.in != IN_TRANS)
				return; /* escaped: held until ATO */
			size_t n = sim_link_read(l, tmp, sizeof tmp);
			sim_out(tmp, n);
			continue;
		}
		size_t n = sim_link_read(l, tmp, sizeof tmp);
		struct sim_buf b = { 0 };
		sim_buf_addf(&b, "\r\n%s:%s%d,%zu,", l->udp ? "+UDPRECV" : "+TCPRECV",
			     n11_sp(l->udp ? F_UDPRECV : F_TCPRECV_DATA), l->id, n);
		if (n11_rx_hex())
			n11_hex_to(&b, tmp, n);
		else
			sim_buf_add(&b, tmp, n);
		sim_buf_add(&b, "\r\n", 2);
		sim_urc(b.data, b.len, false);
		sim_buf_free(&b);
	}
	n11_check_closed(l);
}

static void push_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)w, (void)revents;
	for (int i = 0; i < SIM_LINKS; i++) {
		struct sim_link *l = n11_link(i);
		if (n11_connected(l) && !l->manual_rx && l->rx.len)
			push_data(l);
	}
}

void n11_trans_escaped(void)
{
	n11.in = IN_CMD;
	sim_outs("\r\nOK\r\n");
}

static void trans_closed(struct sim_link *l)
{
	bool online = n11.in == IN_TRANS;
	n11.in = IN_CMD;
	sim_trans_stop();
	if (online) {
		char t[64];
		snprintf(t, sizeof t, "\r\n%s:%sLink Closed\r\n", l->udp ? "+UDPTRANS" : "+TCPTRANS",
			 n11_sp(F_TRANS_CLOSED));
		sim_outs(t);
	} else {
		n11_link_closed_urc(l);
	}
}

static void link_event(struct sim_link *l, int what)
{
	const char *kind = l->udp ? "UDP" : "TCP";
	switch (what) {
	case LEV_CONNECT_OK:
		if (l->id == TRANS_LINK) {
			/* written at once: the data that follows must not overtake it */
			char t[40];
			snprintf(t, sizeof t, "\r\n+%sTRANS:%sOK\r\n", kind, n11_sp(F_TRANS_RES));
			sim_outs(t);
			n11.in = IN_TRANS;
			sim_trans_start(l, true, n11_trans_escaped);
			sim_kick();
		} else {
			at_urc(true, "+%sSETUP:%s%d,OK", kind,
			       n11_sp(l->udp ? F_UDPSETUP_RES : F_TCPSETUP_OK), l->id);
		}
		break;
	case LEV_CONNECT_FAIL:
		if (l->id == TRANS_LINK)
			at_urc(false, "+%sTRANS:%sFAIL", kind, n11_sp(F_TRANS_RES));
		else
			at_urc(true, "+%sSETUP:%s%d,FAIL", kind,
			       n11_sp(l->udp ? F_UDPSETUP_RES : F_TCPSETUP_FAIL), l->id);
		break;
	case LEV_RX:
		if (!l->manual_rx) {
			push_data(l);
		} else if (!l->notified && l->rx.len) {
			l->notified = true;
			if (l->udp)
				at_urc(true, "+UDPRECV:%s%d,%zu", n11_sp(F_UDPRECV), l->id, l->rx.len);
			else
				at_urc(true, "+TCPRECV:%s%d", n11_sp(F_TCPRECV_ANN), l->id);
		}
		break;
	case LEV_EOF:
		n11_check_closed(l);
		break;
	default:
		break;
	}
}

/* ---- helpers ---- */
bool n11_sock_arg(const struct at_cmd *c, int i, long *n)
{
	return c->na > i && at_int(&c->a[i], 0, N_SOCKS - 1, n);
}

void n11_close_all(void)
{
	for (int i = 0; i < SIM_LINKS; i++) {
		sim_link_close(n11_link(i));
		n11_link(i)->state = LINK_INITIAL;
	}
	if (n11.in == IN_TRANS)
		sim_trans_stop();
	/* A send's data phase takes its announced bytes whatever happens to
	 * the link meanwhile (manual 8.2: the module "sends data after
	 * receiving data of the specified length"), then answers an error:
	 * the rest of the data never reaches the command interpreter. */
	if (n11.in != IN_DATA)
		n11.in = IN_CMD;
}

/* drop the PPP link, reporting every open connection */
void n11_ppp_down(bool report)
{
	for (int i = 0; i < SIM_LINKS; i++) {
		struct sim_link *l = n11_link(i);
		if (report && (n11_connected(l) || l->state == LINK_CONNECTING))
			n11_link_closed_urc(l);
	}
	n11_ping_abort();
	n11_close_all();
	n11.ppp = false;
}

bool n11_resolve(const char *name, struct in_addr *a)
{
	return sim_hosts_lookup(name, a, 1) == 1;
}

/* ---- dispatch ---- */
struct cmd {
	const char *name;
	void (*fn)(const struct at_cmd *c);
};

static void ppp_ended(void)
{
	n11.in = IN_CMD;
}

static void n11_cgdata(const struct at_cmd *c)
{
	sim_ppp_cgdata(c, ppp_ended);
}

static const struct cmd cmds[] = {
	{ "+CGMM", n11_cgmm },		{ "+CGMI", n11_cgmi },
	{ "+CGMR", n11_cgmr },		{ "+GMR", n11_gmr },
	{ "+CGSN", n11_cgsn },		{ "+CIMI", n11_cimi },
	{ "+CCID", n11_ccid },		{ "+CMEE", n11_cmee },
	{ "+CSQ", n11_csq },		{ "+CREG", n11_creg },
	{ "+CGREG", n11_cgreg },		{ "+CPIN", n11_cpin },
	{ "+CFUN", n11_cfun },		{ "+CGDCONT", n11_cgdcont },
	{ "+IPR", n11_ipr },		{ "+NETAPN", n11_netapn },
	{ "+XIIC", n11_xiic },		{ "+CGATT", n11_cgatt },
	{ "+TCPSETUP", n11_tcpsetup },	{ "+UDPSETUP", n11_udpsetup },
	{ "+TCPSEND", n11_tcpsend },	{ "+TCPSSEND", n11_tcpsend },
	{ "+UDPSEND", n11_udpsend },	{ "+UDPSSEND", n11_udpsend },
	{ "+TCPREAD", n11_tcpread },	{ "+UDPREAD", n11_udpread },
	{ "+TCPCLOSE", n11_tcpclose },	{ "+UDPCLOSE", n11_udpclose },
	{ "+IPSTATUS", n11_ipstatus },	{ "+TCPACK", n11_tcpack },
	{ "+RECVMODE", n11_recvmode },	{ "+RCVMODE", n11_recvmode },
	{ "+DATAFORMAT", n11_dataformat },	{ "+TCPLPORT", n11_tcplport },
	{ "+UDPLPORT", n11_udplport },	{ "+TCPKEEPALIVE", n11_tcpkeepalive },
	{ "+TCPTRANS", n11_tcptrans },	{ "+UDPTRANS", n11_udptrans },
	{ "+TRANSCLOSE", n11_transclose },	{ "+TRANCLOSE", n11_transclose },
	{ "+DNS", n11_dns },		{ "+PING", n11_ping },
	{ "+CGDATA", n11_cgdata },
};

static bool digit_max(const char *rest, int max)
{
	if (rest[0] && (rest[1] || rest[0] < '0' || rest[0] > '0' + max))
		return false;
	at_ok();
	return true;
}

static void dispatch_basic(const struct at_cmd *c)
{
	switch (c->name[0]) {
	case 'D':
		/* PPP dial-up (ppp.c) */
		if (!sim_ppp_dial_string(c->rest))
			break;
		sim_ppp_dial(ppp_ended);
		return;
	case 'E':
		if (!c->rest[0] || ((c->rest[0] == '0' || c->rest[0] == '1') && !c->rest[1])) {
			AT.echo = c->rest[0] == '1';
			at_ok();
			return;
		}
		break;
	case 'V':
		if (!c->rest[0] || ((c->rest[0] == '0' || c->rest[0] == '1') && !c->rest[1])) {
			AT.v1 = c->rest[0] == '1';
			at_ok();
			return;
		}
		break;
	case 'I':
		if (c->rest[0] && strcmp(c->rest, "0"))
			break;
		at_info("NEOWAY\r\nN11V2\r\nREVISION V003");
		at_ok();
		return;
	case 'O':
		if (c->rest[0] && strcmp(c->rest, "0"))
			break;
		if (!n11_connected(n11_link(TRANS_LINK))) {
			at_plain_error();
			return;
		}
		at_info("CONNECT");
		n11.in = IN_TRANS;
		sim_trans_start(n11_link(TRANS_LINK), true, n11_trans_escaped);
		sim_kick();
		return;
	case 'Z':
		AT.echo = true;
		AT.v1 = true;
		at_ok();
		return;
	case 'Q':
		if (digit_max(c->rest, 1))
			return;
		break;
	case '&':
		if (!strcmp(c->name, "&F") && digit_max(c->rest, 0)) {
			AT.echo = true;
			AT.v1 = true;
			AT.cmee = 0;
			return;
		}
		if ((!strcmp(c->name, "&W") && digit_max(c->rest, 0)) ||
		    (!strcmp(c->name, "&D") && digit_max(c->rest, 2)))
			return;
		break;
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
	bool parsed = at_parse_escaped(line + 2, n - 2, &c);
	if (c.name[0] != '+' && c.name[0] != '$') {
		if (parsed)
			dispatch_basic(&c);
		else
			at_plain_error();
		return;
	}
	if (c.name[0] == '$')
		c.name[0] = '+';
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		if (!strcmp(cmds[i].name, c.name)) {
			if (parsed)
				cmds[i].fn(&c);
			else
				at_error(50); /* a known command with broken arguments */
			return;
		}
	at_plain_error(); /* unknown command */
}

/* ---- model glue ---- */
static void feed(void)
{
	while (sim_feed_ok() && S.in.len) {
		size_t before = S.in.len;
		enum inmode m = n11.in;
		if (sim_ppp_online()) {
			sim_ppp_feed();
			return;
		}
		if (n11.in == IN_CMD) {
			if (!at_feed_line(dispatch))
				return;
		} else if (n11.in == IN_DATA) {
			n11_feed_data();
		} else {
			sim_trans_feed();
		}
		if (S.in.len == before && n11.in == m)
			return;
	}
}

static void reset(void)
{
	if (!n11.timers_init) {
		ev_timer_init(&n11.prompt_timer, n11_prompt_cb, 0., 0.);
		ev_timer_init(&n11.push_timer, push_cb, 0.01, 0.01);
		ev_timer_start(S.loop, &n11.push_timer);
		n11.timers_init = true;
	}
	sim_ppp_stop(); /* a reboot ends a PPP session */
	ev_timer_stop(S.loop, &n11.prompt_timer);
	n11_ping_abort();
	n11_close_all();
	struct sim_buf keep = n11.send;
	ev_timer pt = n11.prompt_timer, pu = n11.push_timer;
	memset(&n11, 0, sizeof n11);
	n11.send = keep;
	n11.send.len = 0;
	n11.prompt_timer = pt;
	n11.push_timer = pu;
	n11.timers_init = true;
	n11.cgatt = 1;
	n11.cfun = 1;
	n11.recvmode = 1;
	n11.dfmt_tx = n11.dfmt_rx = 1;
	n11.ka[1] = 120;
	n11.ka[2] = 75;
	n11.ipr = 115200;
	for (int i = 0; i < SIM_LINKS; i++)
		n11_link(i)->ever_used = false;
	at_reset();
}

static void boot_urcs(void)
{
	sim_outs("\r\n+PBREADY\r\n");
}

static void pdp_deact(void)
{
	if (!n11.ppp)
		return;
	n11_ppp_down(true);
	at_urc(true, "GPRS DISCONNECTION");
}

static void drained(void)
{
	push_cb(S.loop, NULL, 0);
}

static bool remote_close(int n)
{
	if (n < 0 || n >= SIM_LINKS || !n11_connected(n11_link(n)))
		return false;
	sim_link_remote_close(n11_link(n));
	return true;
}

const struct sim_model_ops n11v2_ops = {
	.reset = reset,
	.feed = feed,
	.link_event = link_event,
	.boot_urcs = boot_urcs,
	.pdp_deact = pdp_deact,
	.remote_close = remote_close,
	.drained = drained,
};

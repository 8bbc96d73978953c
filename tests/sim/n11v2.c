/* Neoway N11V2: internal TCP/IP stack commands (chapters 5, 8, 11, 12, 24 of
 * the N11V2 AT Commands Manual V1.6). Interpretations are listed in
 * docs/simulator.md. Sockets 0..4 are links 0..4; the transparent
 * connection uses link 7. */
#include "sim.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define N_SOCKS 5
#define TRANS_LINK 7
#define LOCAL_IP "10.232.165.29"
#define MAX_SEND 4096
#define MAX_READ 4096
#define PUSH_CHUNK 1460
#define PROMPT_DELAY 0.002
#define PUSH_OUT_LIMIT 4096

enum inmode { IN_CMD, IN_DATA, IN_TRANS };

static struct {
	bool ppp;
	int cgatt, cfun;
	char apn[256], user[256], pwd[256];
	int recvmode, recvhex;      /* AT+RECVMODE=<n>,<mode> */
	int dfmt_tx, dfmt_rx;       /* AT+DATAFORMAT: 1 = char, 0 = hex */
	int lport_tcp[N_SOCKS], lport_udp[N_SOCKS];
	int ka[3];
	int creg, cgreg;
	long ipr;
	enum inmode in;
	struct sim_link *send_link;
	size_t send_len;            /* 0: data ends at CR */
	bool send_hex;
	char send_name[16];         /* "+TCPSEND", "+UDPSSEND"...: as typed */
	struct sim_buf send;
	bool trans_udp;
	ev_timer prompt_timer, push_timer;
	bool timers_init;
} N;

static struct sim_link *L(int n)
{
	return &S.links[n];
}

static bool connected(const struct sim_link *l)
{
	return l->state == LINK_CONNECTED;
}

static bool rx_hex(void)
{
	return N.dfmt_rx == 0 || N.recvhex == 1;
}

static void hex_to(struct sim_buf *b, const unsigned char *p, size_t n)
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
static long unhex(unsigned char *p, size_t n)
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

static void check_closed(struct sim_link *l)
{
	if (!connected(l) || !l->eof || l->rx.len || l->rx_inflight)
		return;
	sim_link_close(l);
	if (l->id == TRANS_LINK) {
		trans_closed(l);
		return;
	}
	at_urc(true, "%s: %d,Link Closed", l->udp ? "+UDPCLOSE" : "+TCPCLOSE", l->id);
}

static void push_data(struct sim_link *l)
{
	while (l->rx.len && S.out.len + S.urcq.len < PUSH_OUT_LIMIT) {
		unsigned char tmp[PUSH_CHUNK];
		if (l->id == TRANS_LINK) {
			if (N.in != IN_TRANS)
				return; /* escaped: held until ATO */
			size_t n = sim_link_read(l, tmp, sizeof tmp);
			sim_out(tmp, n);
			continue;
		}
		size_t n = sim_link_read(l, tmp, sizeof tmp);
		struct sim_buf b = { 0 };
		sim_buf_addf(&b, "\r\n%s: %d,%zu,", l->udp ? "+UDPRECV" : "+TCPRECV", l->id, n);
		if (rx_hex())
			hex_to(&b, tmp, n);
		else
			sim_buf_add(&b, tmp, n);
		sim_buf_add(&b, "\r\n", 2);
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
		if (connected(l) && !l->manual_rx && l->rx.len)
			push_data(l);
	}
}

static void trans_escaped(void)
{
	N.in = IN_CMD;
	sim_outs("\r\nOK\r\n");
}

static void trans_closed(struct sim_link *l)
{
	bool online = N.in == IN_TRANS;
	N.in = IN_CMD;
	sim_trans_stop();
	const char *t = l->udp ? "+UDPTRANS: Link Closed" : "+TCPTRANS: Link Closed";
	if (online) {
		sim_outs("\r\n");
		sim_outs(t);
		sim_outs("\r\n");
	} else {
		at_urc(true, "%s", t);
	}
}

static void link_event(struct sim_link *l, int what)
{
	const char *kind = l->udp ? "UDP" : "TCP";
	switch (what) {
	case LEV_CONNECT_OK:
		if (l->id == TRANS_LINK) {
			/* written at once: the data that follows must not overtake it */
			sim_outs(l->udp ? "\r\n+UDPTRANS: OK\r\n" : "\r\n+TCPTRANS: OK\r\n");
			N.in = IN_TRANS;
			sim_trans_start(l, true, trans_escaped);
			sim_kick();
		} else {
			at_urc(true, "+%sSETUP: %d,OK", kind, l->id);
		}
		break;
	case LEV_CONNECT_FAIL:
		if (l->id == TRANS_LINK)
			at_urc(false, "+%sTRANS: FAIL", kind);
		else
			at_urc(true, "+%sSETUP: %d,FAIL", kind, l->id);
		break;
	case LEV_RX:
		if (!l->manual_rx) {
			push_data(l);
		} else if (!l->notified && l->rx.len) {
			l->notified = true;
			if (l->udp)
				at_urc(true, "+UDPRECV: %d,%zu", l->id, l->rx.len);
			else
				at_urc(true, "+TCPRECV: %d", l->id);
		}
		break;
	case LEV_EOF:
		check_closed(l);
		break;
	default:
		break;
	}
}

/* ---- helpers ---- */
static bool sock_arg(const struct at_cmd *c, int i, long *n)
{
	return c->na > i && at_int(&c->a[i], 0, N_SOCKS - 1, n);
}

static void close_all(void)
{
	for (int i = 0; i < SIM_LINKS; i++) {
		sim_link_close(L(i));
		L(i)->state = LINK_INITIAL;
	}
	if (N.in == IN_TRANS)
		sim_trans_stop();
	N.in = IN_CMD;
}

/* drop the PPP link, reporting every open connection */
static void ppp_down(bool report)
{
	for (int i = 0; i < SIM_LINKS; i++) {
		struct sim_link *l = L(i);
		if (report && (connected(l) || l->state == LINK_CONNECTING)) {
			if (i == TRANS_LINK)
				at_urc(true, "%s", l->udp ? "+UDPTRANS: Link Closed" : "+TCPTRANS: Link Closed");
			else
				at_urc(true, "%s: %d,Link Closed", l->udp ? "+UDPCLOSE" : "+TCPCLOSE", i);
		}
	}
	close_all();
	N.ppp = false;
}

static bool resolve(const char *name, struct in_addr *a)
{
	return sim_hosts_lookup(name, a, 1) == 1;
}

/* ---- identity and general ---- */
static void info_ok(const struct at_cmd *c, const char *text)
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

static void c_cgmm(const struct at_cmd *c) { info_ok(c, "+CGMM: N11 V2"); }
static void c_cgmi(const struct at_cmd *c) { info_ok(c, "+CGMI: Neoway Corp Ltd"); }
static void c_cgmr(const struct at_cmd *c) { info_ok(c, "+CGMR: N11_1167_SQS63002_V003"); }
static void c_gmr(const struct at_cmd *c) { info_ok(c, "+GMR:N11_1167_SQS63002_V003"); }
static void c_cgsn(const struct at_cmd *c) { info_ok(c, "+CGSN:355910044336974"); }
static void c_cimi(const struct at_cmd *c) { info_ok(c, "+CIMI: 460022201575463"); }
static void c_ccid(const struct at_cmd *c) { info_ok(c, "+CCID: 89860002190810001367"); }

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

static void c_cmee(const struct at_cmd *c) { setting(c, "+CMEE", &AT.cmee, 0, 2); }

static void c_csq(const struct at_cmd *c)
{
	if (c->type == AT_TEST)
		at_info("+CSQ: (0-31,99),(0-7,99)");
	else if (c->type == AT_EXEC)
		at_info("+CSQ: %d,99", N.cfun == 1 ? 20 : 99);
	else {
		at_error(50);
		return;
	}
	at_ok();
}

static void c_creg(const struct at_cmd *c)
{
	if (c->type == AT_READ) {
		at_info("+CREG: %d,%d", N.creg, N.cfun == 1 ? 1 : 0);
		at_ok();
	} else {
		setting(c, "+CREG", &N.creg, 0, 2);
	}
}

static void c_cgreg(const struct at_cmd *c)
{
	if (c->type == AT_READ) {
		at_info("+CGREG: %d,%d", N.cgreg, N.cfun == 1 && N.cgatt ? 1 : 0);
		at_ok();
	} else {
		setting(c, "+CGREG", &N.cgreg, 0, 2);
	}
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

static void c_cfun(const struct at_cmd *c)
{
	long v, rst = 0;
	if (c->type == AT_READ) {
		at_info("+CFUN: %d", N.cfun);
	} else if (c->type == AT_TEST) {
		at_info("+CFUN: (0,1,4),(0,1)");
	} else if (c->type == AT_WRITE && c->na >= 1 && c->na <= 2 && at_int(&c->a[0], 0, 4, &v) &&
		   (v == 0 || v == 1 || v == 4) && (c->na == 1 || at_int(&c->a[1], 0, 1, &rst))) {
		if (v != 1 && N.ppp)
			ppp_down(false);
		N.cfun = (int)v;
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
		at_info("+CGDCONT: 1,\"IP\",\"%s\",\"0.0.0.0\",0,0", N.apn);
	else if (c->type == AT_TEST)
		at_info("+CGDCONT: (1-7),\"IP\",,,(0-2),(0-4)");
	else if (c->type == AT_WRITE && c->na >= 1 && at_int(&c->a[0], 1, 7, &cid)) {
		if (cid == 1 && c->na >= 3)
			sim_strlcpy(N.apn, c->a[2].s, sizeof N.apn);
	} else {
		at_error(50);
		return;
	}
	at_ok();
}

static void c_ipr(const struct at_cmd *c)
{
	long v;
	if (c->type == AT_READ)
		at_info("+IPR: %ld", N.ipr);
	else if (c->type == AT_TEST)
		at_info("+IPR: (0,1200,2400,4800,9600,19200,38400,57600,115200,230400,460800)");
	else if (c->type == AT_WRITE && c->na == 1 && at_int(&c->a[0], 0, 460800, &v))
		N.ipr = v;
	else {
		at_error(50);
		return;
	}
	at_ok();
}

/* ---- PPP / attach ---- */
static void c_netapn(const struct at_cmd *c)
{
	if (c->type == AT_READ) {
		at_info("+NETAPN:\"%s\",\"%s\",\"%s\"", N.apn, N.user, N.pwd);
	} else if (c->type == AT_WRITE && c->na == 3 && c->a[0].quoted && c->a[1].quoted &&
		   c->a[2].quoted) {
		sim_strlcpy(N.apn, c->a[0].s, sizeof N.apn);
		sim_strlcpy(N.user, c->a[1].s, sizeof N.user);
		sim_strlcpy(N.pwd, c->a[2].s, sizeof N.pwd);
	} else {
		at_plain_error(); /* "pair of quotation marks is required" */
		return;
	}
	at_ok();
}

static void c_xiic(const struct at_cmd *c)
{
	long v;
	if (c->type == AT_READ) {
		if (N.ppp)
			at_info("+XIIC:    1," LOCAL_IP);
		else
			at_info("+XIIC:    0,0.0.0.0");
		at_ok();
		return;
	}
	if (c->type != AT_WRITE || c->na != 1 || !at_int(&c->a[0], 0, 1, &v)) {
		at_error(50);
		return;
	}
	if (v == 1) {
		if (!N.cgatt || N.cfun != 1) {
			at_error(3);
			return;
		}
		N.ppp = true;
	} else if (N.ppp) {
		ppp_down(false);
	}
	at_ok();
}

static void c_cgatt(const struct at_cmd *c)
{
	long v;
	if (c->type == AT_READ) {
		at_info("+CGATT: %d", N.cgatt);
	} else if (c->type == AT_TEST) {
		at_info("+CGATT: (0,1)");
	} else if (c->type == AT_WRITE && c->na == 1 && at_int(&c->a[0], 0, 1, &v)) {
		if (v == 0 && N.ppp) {
			ppp_down(false);
			at_info("GPRS DISCONNECTION");
		}
		N.cgatt = (int)v;
	} else {
		at_error(50);
		return;
	}
	at_ok();
}

/* ---- TCP / UDP sockets ---- */
static void setup(const struct at_cmd *c, bool udp)
{
	const char *nm = udp ? "+UDPSETUP" : "+TCPSETUP";
	long n, port;
	if (c->type != AT_WRITE || c->na != 3 || !at_int(&c->a[2], 1, 65535, &port) ||
	    !c->a[1].s[0] || !sock_arg(c, 0, &n)) {
		at_info("%s: ERROR", nm);
		sim_count_error();
		return;
	}
	if (!N.ppp) {
		at_error(3);
		return;
	}
	struct sim_link *l = L((int)n);
	if (connected(l) || l->state == LINK_CONNECTING) {
		at_info("%s: %ld,ERROR1", nm, n);
		sim_count_error();
		return;
	}
	at_ok();
	struct in_addr a;
	sim_strlcpy(l->host, c->a[1].s, sizeof l->host);
	if (!resolve(c->a[1].s, &a))
		sim_link_open_fail(l);
	else
		sim_link_open(l, udp, a, (int)port, udp ? N.lport_udp[n] : N.lport_tcp[n]);
	l->udp = udp;
	l->manual_rx = N.recvmode == 0;
}

static void c_tcpsetup(const struct at_cmd *c) { setup(c, false); }
static void c_udpsetup(const struct at_cmd *c) { setup(c, true); }

static void prompt_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)w, (void)revents;
	sim_outs("\r\n>");
	N.in = IN_DATA;
	S.busy = false;
	sim_kick();
}

static void send_err(const char *name, const char *what)
{
	at_info("%s: %s", name, what);
	sim_count_error();
}

static void send_accepted(struct sim_link *l, const void *p, size_t n)
{
	sim_link_send(l, p, n, false);
	at_ok();
	at_urc(false, "%s: %d,%zu", N.send_name, l->id, n);
}

/* AT+TCPSEND / AT+TCPSSEND / AT+UDPSEND / AT+UDPSSEND */
static void do_send(const struct at_cmd *c, bool udp)
{
	long n, len = 0, mode = 0;
	sim_strlcpy(N.send_name, c->name, sizeof N.send_name);
	if (c->type != AT_WRITE || !sock_arg(c, 0, &n) || c->na > 4) {
		at_plain_error();
		return;
	}
	if (!N.ppp) {
		send_err(c->name, "GPRS DISCONNECTION");
		return;
	}
	struct sim_link *l = L((int)n);
	if (!connected(l) || l->udp != udp || l->failed) {
		send_err(c->name, "SOCKET ID OPEN FAILED");
		return;
	}
	if (c->na >= 2 && c->a[1].s[0] && !at_int(&c->a[1], 1, MAX_SEND, &len)) {
		send_err(c->name, "DATA LENGTH ERROR");
		return;
	}
	if (c->na >= 4 && !at_int(&c->a[3], 0, 1, &mode)) {
		send_err(c->name, "MODE ERROR");
		return;
	}
	if ((size_t)len > sim_link_tx_free(l)) {
		at_info("%s: BUFFER NOT ENOUGH,%zu", c->name, sim_link_tx_free(l));
		sim_count_error();
		return;
	}
	if (c->na >= 3 && c->a[2].s[0]) {
		/* command mode: the data is in the command line */
		unsigned char buf[sizeof c->a[2].s];
		size_t k = strlen(c->a[2].s);
		memcpy(buf, c->a[2].s, k);
		long got = (long)k;
		if (mode == 1 && (k > 1024 || (got = unhex(buf, k)) < 0)) {
			send_err(c->name, "DATA LENGTH ERROR");
			return;
		}
		if ((mode == 0 && k > 1024) || (len && got != len)) {
			send_err(c->name, "DATA LENGTH ERROR");
			return;
		}
		send_accepted(l, buf, (size_t)got);
		return;
	}
	/* buffer mode: ">" then the data */
	N.send_link = l;
	N.send_len = (size_t)len;
	N.send_hex = mode == 1 || N.dfmt_tx == 0;
	N.send.len = 0;
	AT.async = true;
	S.busy = true;
	ev_timer_set(&N.prompt_timer, PROMPT_DELAY, 0.);
	ev_timer_start(S.loop, &N.prompt_timer);
}

static void c_tcpsend(const struct at_cmd *c) { do_send(c, false); }
static void c_udpsend(const struct at_cmd *c) { do_send(c, true); }

static void send_complete(void)
{
	struct sim_link *l = N.send_link;
	N.in = IN_CMD;
	N.send_link = NULL;
	long n = (long)N.send.len;
	if (N.send_hex && (n = unhex(N.send.data, N.send.len)) < 0) {
		send_err(N.send_name, "DATA LENGTH ERROR");
	} else if (!connected(l) || l->failed) {
		send_err(N.send_name, "SOCKET ID OPEN FAILED");
	} else if ((size_t)n > sim_link_tx_free(l)) {
		at_info("%s: BUFFER NOT ENOUGH,%zu", N.send_name, sim_link_tx_free(l));
		sim_count_error();
	} else {
		send_accepted(l, N.send.data, (size_t)n);
	}
	at_finish();
}

static void feed_data(void)
{
	while (S.in.len && N.in == IN_DATA) {
		if (N.send_len) {
			size_t total = N.send_hex ? N.send_len * 2 : N.send_len;
			size_t want = total - N.send.len;
			size_t k = S.in.len < want ? S.in.len : want;
			sim_buf_add(&N.send, S.in.data, k);
			if (AT.echo)
				sim_out(S.in.data, k);
			sim_buf_consume(&S.in, k);
			if (N.send.len == total)
				send_complete();
			continue;
		}
		/* no length given: the data ends at CR */
		unsigned char b = S.in.data[0];
		sim_buf_consume(&S.in, 1);
		if (b == '\r') {
			send_complete();
			continue;
		}
		if (AT.echo)
			sim_out(&b, 1);
		if (N.send.len < MAX_SEND * 2)
			sim_buf_add(&N.send, &b, 1);
	}
}

static void do_read(const struct at_cmd *c, bool udp)
{
	long n, len = MAX_READ;
	if (c->type != AT_WRITE || !sock_arg(c, 0, &n) || c->na > 2 ||
	    (c->na == 2 && !at_int(&c->a[1], 1, MAX_READ, &len)) || (!udp && c->na != 2)) {
		at_error(50);
		return;
	}
	struct sim_link *l = L((int)n);
	if (l->state == LINK_INITIAL || l->udp != udp || !l->manual_rx) {
		at_error(3);
		return;
	}
	unsigned char tmp[MAX_READ];
	size_t got = sim_link_read(l, tmp, (size_t)len);
	if (l->rx.len == 0)
		l->notified = false;
	sim_buf_addf(&R, "\r\n%s: %ld,%zu,", udp ? "+UDPREAD" : "+TCPREAD", n, got);
	if (rx_hex())
		hex_to(&R, tmp, got);
	else
		at_raw(tmp, got);
	at_raw("\r\n", 2);
	at_ok();
	check_closed(l);
}

static void c_tcpread(const struct at_cmd *c) { do_read(c, false); }
static void c_udpread(const struct at_cmd *c) { do_read(c, true); }

static void do_close(const struct at_cmd *c, bool udp)
{
	const char *nm = udp ? "+UDPCLOSE" : "+TCPCLOSE";
	long n;
	if (c->type != AT_WRITE || c->na != 1 || !sock_arg(c, 0, &n) ||
	    L((int)n)->state == LINK_INITIAL || L((int)n)->udp != udp ||
	    !(connected(L((int)n)) || L((int)n)->state == LINK_CONNECTING)) {
		at_info("%s: ERROR", nm);
		sim_count_error();
		return;
	}
	sim_link_close(L((int)n));
	at_info("%s: %ld,OK", nm, n);
	at_ok();
}

static void c_tcpclose(const struct at_cmd *c) { do_close(c, false); }
static void c_udpclose(const struct at_cmd *c) { do_close(c, true); }

static void c_ipstatus(const struct at_cmd *c)
{
	long n;
	if (c->type != AT_WRITE || c->na != 1 || !sock_arg(c, 0, &n)) {
		at_info("+IPSTATUS: ERROR");
		sim_count_error();
		return;
	}
	struct sim_link *l = L((int)n);
	if (connected(l)) {
		size_t f = sim_link_tx_free(l);
		at_info("+IPSTATUS: %ld,CONNECT,%s,%zu", n, l->udp ? "UDP" : "TCP",
			f > MAX_SEND ? (size_t)MAX_SEND : f);
	} else {
		at_info("+IPSTATUS: %ld,DISCONNECT", n);
	}
	at_ok();
}

static void c_tcpack(const struct at_cmd *c)
{
	long n;
	if (c->type != AT_WRITE || c->na != 1 || !sock_arg(c, 0, &n)) {
		at_plain_error();
		return;
	}
	struct sim_link *l = L((int)n);
	if (!connected(l)) {
		at_info("+TCPACK: %ld,DISCONNECT", n);
	} else if (l->udp) {
		at_info("+TCPACK: NO TCP LINK");
	} else {
		uint64_t acked;
		sim_link_acks(l, &acked);
		at_info("+TCPACK: %ld,%llu,%llu", n, (unsigned long long)l->tx_total,
			(unsigned long long)acked);
	}
	at_ok();
}

static void c_recvmode(const struct at_cmd *c)
{
	long v, m = 0;
	if (c->type == AT_READ) {
		at_info("%s: %d,%d", c->name, N.recvmode, N.recvhex);
	} else if (c->type == AT_TEST) {
		at_info("%s: (0,1),(0,1)", c->name);
	} else if (c->type == AT_WRITE && c->na >= 1 && c->na <= 2 && at_int(&c->a[0], 0, 1, &v) &&
		   (c->na == 1 || at_int(&c->a[1], 0, 1, &m))) {
		N.recvmode = (int)v;
		N.recvhex = (int)m;
		/* "it will clear the buffer" */
		for (int i = 0; i < SIM_LINKS; i++) {
			struct sim_link *l = L(i);
			sim_link_discard_rx(l);
			l->notified = false;
			l->manual_rx = v == 0 && i != TRANS_LINK;
			check_closed(l);
		}
	} else {
		at_error(50);
		return;
	}
	at_ok();
}

static void c_dataformat(const struct at_cmd *c)
{
	long a, b;
	if (c->type == AT_READ)
		at_info("+DATAFORMAT: %d,%d", N.dfmt_tx, N.dfmt_rx);
	else if (c->type == AT_TEST)
		at_info("+DATAFORMAT: (0,1),(0,1)");
	else if (c->type == AT_WRITE && c->na == 2 && at_int(&c->a[0], 0, 1, &a) &&
		 at_int(&c->a[1], 0, 1, &b)) {
		N.dfmt_tx = (int)a;
		N.dfmt_rx = (int)b;
	} else {
		at_error(50);
		return;
	}
	at_ok();
}

static void c_lport(const struct at_cmd *c, bool udp)
{
	long n, port;
	bool ok = c->type == AT_WRITE && c->na == 2 && sock_arg(c, 0, &n) &&
		  at_int(&c->a[1], 0, 65535, &port);
	if (ok && !udp && port < 1)
		ok = false;
	if (ok && udp && port != 0 && (port < 4097 || port > 32767))
		ok = false;
	if (!ok) {
		at_info(udp ? "+UDPLPORT: Error" : "+TCPLPORT: ERROR");
		sim_count_error();
		return;
	}
	if (udp)
		N.lport_udp[n] = (int)port;
	else
		N.lport_tcp[n] = (int)port;
	at_ok();
}

static void c_tcplport(const struct at_cmd *c) { c_lport(c, false); }
static void c_udplport(const struct at_cmd *c) { c_lport(c, true); }

static void c_tcpkeepalive(const struct at_cmd *c)
{
	static const long lo[3] = { 0, 30, 1 }, hi[3] = { 1, 7200, 1800 };
	if (c->type == AT_READ) {
		at_info("+TCPKEEPALIVE: %d,%d,%d", N.ka[0], N.ka[1], N.ka[2]);
	} else if (c->type == AT_TEST) {
		at_info("+TCPKEEPALIVE: (0-1),(30-7200),(1-1800)");
	} else if (c->type == AT_WRITE && c->na >= 1 && c->na <= 3) {
		int v[3];
		memcpy(v, N.ka, sizeof v);
		for (int i = 0; i < c->na; i++) {
			long x;
			if (!at_int(&c->a[i], lo[i], hi[i], &x)) {
				at_error(50);
				return;
			}
			v[i] = (int)x;
		}
		memcpy(N.ka, v, sizeof v);
	} else {
		at_error(50);
		return;
	}
	at_ok();
}

/* ---- transparent ---- */
static void do_trans(const struct at_cmd *c, bool udp)
{
	const char *nm = udp ? "+UDPTRANS" : "+TCPTRANS";
	long port;
	struct sim_link *l = L(TRANS_LINK);
	if (connected(l) || l->state == LINK_CONNECTING || !N.ppp) {
		at_plain_error();
		return;
	}
	if (c->type != AT_WRITE || c->na != 2 || !c->a[0].s[0] || !at_int(&c->a[1], 1, 65535, &port)) {
		at_info("%s: ERROR", nm);
		sim_count_error();
		return;
	}
	at_ok();
	struct in_addr a;
	sim_strlcpy(l->host, c->a[0].s, sizeof l->host);
	if (!resolve(c->a[0].s, &a))
		sim_link_open_fail(l);
	else
		sim_link_open(l, udp, a, (int)port, 0);
	l->udp = udp;
	l->manual_rx = false;
}

static void c_tcptrans(const struct at_cmd *c) { do_trans(c, false); }
static void c_udptrans(const struct at_cmd *c) { do_trans(c, true); }

static void c_transclose(const struct at_cmd *c)
{
	struct sim_link *l = L(TRANS_LINK);
	if (c->type != AT_EXEC || !(connected(l) || l->state == LINK_CONNECTING)) {
		at_plain_error();
		return;
	}
	bool udp = l->udp;
	sim_link_close(l);
	at_info("+TRANSCLOSE: %d,OK", udp ? 1 : 0);
	at_ok();
}

/* ---- DNS and ping (chapter 24) ---- */
static void dns_result(struct sim_link *l, const void *p, size_t n)
{
	(void)l;
	char name[256];
	if (n >= sizeof name)
		n = sizeof name - 1;
	memcpy(name, p, n);
	name[n] = 0;
	struct in_addr a[4];
	int k = sim_hosts_lookup(name, a, 4);
	if (k == 0) {
		at_urc(true, "+DNS:ERROR");
		return;
	}
	for (int i = 0; i < k; i++)
		at_urc(true, "+DNS:%s", inet_ntoa(a[i]));
	at_urc(true, "+DNS:OK");
}

static void c_dns(const struct at_cmd *c)
{
	if (c->type != AT_WRITE || c->na != 1 || !c->a[0].s[0] || strlen(c->a[0].s) > 250) {
		at_error(50);
		return;
	}
	if (!N.ppp) {
		at_error(3);
		return;
	}
	at_ok();
	sim_delay(S.o.latency_ms / 1000.0 * 2, dns_result, NULL, c->a[0].s, strlen(c->a[0].s));
}

static void ping_result(struct sim_link *l, const void *p, size_t n)
{
	(void)l;
	char name[256];
	if (n >= sizeof name)
		n = sizeof name - 1;
	memcpy(name, p, n);
	name[n] = 0;
	struct in_addr a;
	bool known = resolve(name, &a);
	const char *ip = known ? inet_ntoa(a) : name;
	char ipb[256];
	sim_strlcpy(ipb, ip, sizeof ipb);
	if (known && sim_hosts_known_addr(a)) {
		long t = S.o.latency_ms * 2;
		for (int i = 0; i < 4; i++)
			at_urc(false, "Reply from %s: bytes= 36 time = %ld(ms), TTL = 255", ipb, t);
		at_urc(false, "Ping statistics for %s:", ipb);
		at_urc(false, "Packets: Sent = 4, Received = 4, Lose = 0 <0%%>, max_delay = %ld ms, "
			      "min_delay = %ld ms, average delay = %ld ms", t, t, t);
	} else {
		for (int i = 0; i < 4; i++)
			at_urc(false, "Request timed out.");
		at_urc(false, "Ping statistics for %s:", ipb);
		at_urc(false, "Packets: Sent = 4, Received = 0, Lose = 4 <100%%>");
	}
}

static void c_ping(const struct at_cmd *c)
{
	if (c->type != AT_WRITE || c->na != 1 || !c->a[0].s[0]) {
		at_error(50);
		return;
	}
	if (!N.ppp) {
		at_info("+PING: No PPP Link");
		sim_count_error();
		return;
	}
	at_ok();
	sim_delay(S.o.latency_ms / 1000.0 * 2, ping_result, NULL, c->a[0].s, strlen(c->a[0].s));
}

/* ---- dispatch ---- */
struct cmd {
	const char *name;
	void (*fn)(const struct at_cmd *c);
};

static const struct cmd cmds[] = {
	{ "+CGMM", c_cgmm },		{ "+CGMI", c_cgmi },
	{ "+CGMR", c_cgmr },		{ "+GMR", c_gmr },
	{ "+CGSN", c_cgsn },		{ "+CIMI", c_cimi },
	{ "+CCID", c_ccid },		{ "+CMEE", c_cmee },
	{ "+CSQ", c_csq },		{ "+CREG", c_creg },
	{ "+CGREG", c_cgreg },		{ "+CPIN", c_cpin },
	{ "+CFUN", c_cfun },		{ "+CGDCONT", c_cgdcont },
	{ "+IPR", c_ipr },		{ "+NETAPN", c_netapn },
	{ "+XIIC", c_xiic },		{ "+CGATT", c_cgatt },
	{ "+TCPSETUP", c_tcpsetup },	{ "+UDPSETUP", c_udpsetup },
	{ "+TCPSEND", c_tcpsend },	{ "+TCPSSEND", c_tcpsend },
	{ "+UDPSEND", c_udpsend },	{ "+UDPSSEND", c_udpsend },
	{ "+TCPREAD", c_tcpread },	{ "+UDPREAD", c_udpread },
	{ "+TCPCLOSE", c_tcpclose },	{ "+UDPCLOSE", c_udpclose },
	{ "+IPSTATUS", c_ipstatus },	{ "+TCPACK", c_tcpack },
	{ "+RECVMODE", c_recvmode },	{ "+RCVMODE", c_recvmode },
	{ "+DATAFORMAT", c_dataformat },	{ "+TCPLPORT", c_tcplport },
	{ "+UDPLPORT", c_udplport },	{ "+TCPKEEPALIVE", c_tcpkeepalive },
	{ "+TCPTRANS", c_tcptrans },	{ "+UDPTRANS", c_udptrans },
	{ "+TRANSCLOSE", c_transclose },	{ "+TRANCLOSE", c_transclose },
	{ "+DNS", c_dns },		{ "+PING", c_ping },
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
		if (!connected(L(TRANS_LINK))) {
			at_plain_error();
			return;
		}
		at_info("CONNECT");
		N.in = IN_TRANS;
		sim_trans_start(L(TRANS_LINK), true, trans_escaped);
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
	if (!at_parse_escaped(line + 2, n - 2, &c)) {
		at_error(50);
		return;
	}
	if (c.name[0] != '+' && c.name[0] != '$') {
		dispatch_basic(&c);
		return;
	}
	if (c.name[0] == '$')
		c.name[0] = '+';
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		if (!strcmp(cmds[i].name, c.name)) {
			cmds[i].fn(&c);
			return;
		}
	at_plain_error();
}

/* ---- model glue ---- */
static void feed(void)
{
	while (!S.busy && !S.stalled && !S.rebooting && S.in.len) {
		size_t before = S.in.len;
		enum inmode m = N.in;
		if (N.in == IN_CMD) {
			if (!at_feed_line(dispatch))
				return;
		} else if (N.in == IN_DATA) {
			feed_data();
		} else {
			sim_trans_feed();
		}
		if (S.in.len == before && N.in == m)
			return;
	}
}

static void reset(void)
{
	if (!N.timers_init) {
		ev_timer_init(&N.prompt_timer, prompt_cb, 0., 0.);
		ev_timer_init(&N.push_timer, push_cb, 0.01, 0.01);
		ev_timer_start(S.loop, &N.push_timer);
		N.timers_init = true;
	}
	ev_timer_stop(S.loop, &N.prompt_timer);
	close_all();
	struct sim_buf keep = N.send;
	ev_timer pt = N.prompt_timer, pu = N.push_timer;
	memset(&N, 0, sizeof N);
	N.send = keep;
	N.send.len = 0;
	N.prompt_timer = pt;
	N.push_timer = pu;
	N.timers_init = true;
	N.cgatt = 1;
	N.cfun = 1;
	N.recvmode = 1;
	N.dfmt_tx = N.dfmt_rx = 1;
	N.ka[1] = 120;
	N.ka[2] = 75;
	N.ipr = 115200;
	for (int i = 0; i < SIM_LINKS; i++)
		L(i)->ever_used = false;
	at_reset();
}

static void boot_urcs(void)
{
	sim_outs("\r\n+PBREADY\r\n");
}

static void pdp_deact(void)
{
	if (!N.ppp)
		return;
	ppp_down(true);
	at_urc(true, "GPRS DISCONNECTION");
}

static bool remote_close(int n)
{
	if (n < 0 || n >= SIM_LINKS || !connected(L(n)))
		return false;
	sim_link_remote_close(L(n));
	return true;
}

const struct sim_model_ops n11v2_ops = {
	.reset = reset,
	.feed = feed,
	.link_event = link_event,
	.boot_urcs = boot_urcs,
	.pdp_deact = pdp_deact,
	.remote_close = remote_close,
};

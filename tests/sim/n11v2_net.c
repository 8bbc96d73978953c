/* N11V2 TCP/UDP sockets, transparent mode, DNS and ping (chapters 8, 11,
 * 12, 24). */
#include "n11v2.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


/* ---- TCP / UDP sockets ---- */
static void setup(const struct at_cmd *c, bool udp)
{
	const char *nm = udp ? "+UDPSETUP" : "+TCPSETUP";
	const char *sp = n11_sp(udp ? F_UDPSETUP_ERR : F_TCPSETUP_ERR);
	long n, port;
	if (c->type != AT_WRITE || c->na != 3 || !at_int(&c->a[2], 1, 65535, &port) ||
	    !c->a[1].s[0] || !n11_sock_arg(c, 0, &n)) {
		at_info("%s:%sERROR", nm, sp);
		sim_count_error();
		return;
	}
	if (!n11.ppp) {
		at_error(3);
		return;
	}
	struct sim_link *l = sim_link_at((int)n);
	if (n11_sock_taken(n)) {
		at_info("%s:%s%ld,ERROR1", nm, sp, n);
		sim_count_error();
		return;
	}
	at_ok();
	struct in_addr a;
	sim_strlcpy(l->host, c->a[1].s, sizeof l->host);
	if (!n11_resolve(c->a[1].s, &a))
		sim_link_open_fail(l);
	else
		sim_link_open(l, udp, a, (int)port, udp ? n11.lport_udp[n] : n11.lport_tcp[n]);
	l->udp = udp;
	l->manual_rx = n11.recvmode == 0;
}

static void n11_tcpsetup(const struct at_cmd *c) { setup(c, false); }
static void n11_udpsetup(const struct at_cmd *c) { setup(c, true); }

/* the answer forms of the send that runs: to a client socket of either
 * protocol, or (AT+TCPSENDS) to a client the server accepted */
static enum n11_form send_form(bool ok)
{
	if (n11.send_server)
		return ok ? F_TCPSENDS_OK : F_TCPSENDS_ERR;
	if (n11.send_name[1] == 'U')
		return ok ? F_UDPSEND_OK : F_UDPSEND_ERR;
	return ok ? F_TCPSEND_OK : F_TCPSEND_ERR;
}

static void send_err(const char *what)
{
	at_info("%s:%s%s", n11.send_name, n11_sp(send_form(false)), what);
	sim_count_error();
}

/* the socket is no link of the send's kind (8.2 / 13.5) */
static void not_link(int n)
{
	char t[32];
	snprintf(t, sizeof t, "%d is not link", n);
	send_err(n11.send_server ? t : "SOCKET ID OPEN FAILED");
}

/* 13.5 shows only "Congestion": "+TCPSENDS: ERROR" */
static void buffer_short(struct sim_link *l)
{
	if (n11.send_server) {
		send_err("ERROR");
		return;
	}
	at_info("%s:%sBUFFER NOT ENOUGH,%zu", n11.send_name, n11_sp(F_SEND_BUF), sim_link_tx_free(l));
	sim_count_error();
}

static void send_accepted(struct sim_link *l, const void *p, size_t n)
{
	if (n > sim_link_tx_free(l)) {
		buffer_short(l);
		return;
	}
	sim_link_send(l, p, n, false);
	at_ok();
	at_urc(false, "%s:%s%d,%zu", n11.send_name, n11_sp(send_form(true)), l->id, n);
}

/* the data of a command-mode send, given in the command line */
static void send_inline(struct sim_link *l, const struct at_arg *data, long len, long mode)
{
	unsigned char buf[sizeof data->s];
	size_t k = strlen(data->s);
	memcpy(buf, data->s, k);
	long got = (long)k;
	if (mode == 1 && (k > 1024 || (got = sim_unhex(buf, k)) < 0)) {
		send_err("DATA LENGTH ERROR");
		return;
	}
	if ((mode == 0 && k > 1024) || (len && got != len)) {
		send_err("DATA LENGTH ERROR");
		return;
	}
	send_accepted(l, buf, (size_t)got);
}

/* AT+TCPSEND / AT+TCPSSEND / AT+UDPSEND / AT+UDPSSEND / AT+TCPSENDS */
static void do_send(const struct at_cmd *c, bool udp, bool server)
{
	long n, len = 0, mode = 0;
	sim_strlcpy(n11.send_name, c->name, sizeof n11.send_name);
	n11.send_server = server;
	if (c->type != AT_WRITE || !n11_sock_arg(c, 0, &n) || c->na > 4) {
		at_plain_error();
		return;
	}
	if (!n11.ppp && !server) {
		send_err("GPRS DISCONNECTION");
		return;
	}
	struct sim_link *l = sim_link_at((int)n);
	if (!n11_connected(l) || l->udp != udp || l->failed || l->accepted != server) {
		not_link((int)n);
		return;
	}
	if (c->na >= 2 && c->a[1].s[0] && !at_int(&c->a[1], 1, MAX_SEND, &len)) {
		send_err("DATA LENGTH ERROR");
		return;
	}
	if (c->na >= 4 && !at_int(&c->a[3], 0, 1, &mode)) {
		send_err("MODE ERROR");
		return;
	}
	if (c->na >= 3 && c->a[2].s[0]) {
		send_inline(l, &c->a[2], len, mode);
		return;
	}
	/* 13.5's congestion comes after the prompt; 8.2's answer before it */
	if (!server && (size_t)len > sim_link_tx_free(l)) {
		buffer_short(l);
		return;
	}
	/* buffer mode: ">" then the data */
	n11.send_hex = mode == 1 || n11.dfmt_tx == 0;
	sim_send_begin(l, (size_t)(n11.send_hex ? len * 2 : len));
}

static void n11_tcpsend(const struct at_cmd *c) { do_send(c, false, false); }
static void n11_udpsend(const struct at_cmd *c) { do_send(c, true, false); }
static void n11_tcpsends(const struct at_cmd *c) { do_send(c, false, true); }

/* the end of a buffer-mode send's data phase */
void n11_send_done(struct sim_link *l, bool cancel)
{
	(void)cancel; /* no byte cancels an N11V2 send */
	long n = (long)E.send.len;
	if (n11.send_hex && (n = sim_unhex(E.send.data, E.send.len)) < 0)
		send_err("DATA LENGTH ERROR");
	else if (!n11_connected(l) || l->failed)
		not_link(l->id);
	else
		send_accepted(l, E.send.data, (size_t)n);
	at_finish();
}

static void do_read(const struct at_cmd *c, bool udp)
{
	long n, len = MAX_READ;
	if (c->type != AT_WRITE || !n11_sock_arg(c, 0, &n) || c->na > 2 ||
	    (c->na == 2 && !at_int(&c->a[1], 1, MAX_READ, &len)) || (!udp && c->na != 2)) {
		at_error(50);
		return;
	}
	struct sim_link *l = sim_link_at((int)n);
	if (l->state == LINK_INITIAL || l->udp != udp || !l->manual_rx) {
		at_error(3);
		return;
	}
	int hid;
	struct sim_link *src = sim_read_link(l, N_SOCKS, &hid);
	unsigned char tmp[MAX_READ];
	size_t got = sim_link_read(src, tmp, (size_t)len);
	if (src->rx.len == 0)
		src->notified = false;
	sim_buf_addf(&R, "\r\n%s:%s%d,%zu,", udp ? "+UDPREAD" : "+TCPREAD",
		     n11_sp(udp ? F_UDPREAD : F_TCPREAD), hid, got);
	if (n11_rx_hex())
		sim_hex_to(&R, tmp, got);
	else
		at_raw(tmp, got);
	at_raw("\r\n", 2);
	at_ok();
	sim_check_closed(src);
}

static void n11_tcpread(const struct at_cmd *c) { do_read(c, false); }
static void n11_udpread(const struct at_cmd *c) { do_read(c, true); }

static void do_close(const struct at_cmd *c, bool udp)
{
	const char *nm = udp ? "+UDPCLOSE" : "+TCPCLOSE";
	long n;
	if (c->type != AT_WRITE || c->na != 1 || !n11_sock_arg(c, 0, &n) ||
	    sim_link_at((int)n)->state == LINK_INITIAL || sim_link_at((int)n)->udp != udp ||
	    !sim_link_busy(sim_link_at((int)n)) || sim_link_at((int)n)->accepted) {
		at_info("%s:%sERROR", nm, n11_sp(udp ? F_UDPCLOSE_ERR : F_TCPCLOSE));
		sim_count_error();
		return;
	}
	sim_link_close(sim_link_at((int)n));
	at_info("%s:%s%ld,OK", nm, n11_sp(udp ? F_UDPCLOSE_OK : F_TCPCLOSE), n);
	/* 8.4's format line has OK after it, its example none; 11.5 none at all */
	if (!(udp ? RD.udpclose : RD.tcpclose))
		at_ok();
}

static void n11_tcpclose(const struct at_cmd *c) { do_close(c, false); }
static void n11_udpclose(const struct at_cmd *c) { do_close(c, true); }

static void n11_ipstatus(const struct at_cmd *c)
{
	long n;
	if (c->type != AT_WRITE || c->na != 1 || !n11_sock_arg(c, 0, &n)) {
		at_info("+IPSTATUS:%sERROR", n11_sp(F_IPSTATUS_ERR));
		sim_count_error();
		return;
	}
	struct sim_link *l = sim_link_at((int)n);
	if (n11_connected(l)) {
		size_t f = sim_link_tx_free(l);
		at_info("+IPSTATUS:%s%ld,CONNECT,%s,%zu", n11_sp(F_IPSTATUS), n, l->udp ? "UDP" : "TCP",
			f > MAX_SEND ? (size_t)MAX_SEND : f);
	} else {
		at_info("+IPSTATUS:%s%ld,DISCONNECT", n11_sp(F_IPSTATUS), n);
	}
	/* 8.5: neither the format line nor the examples show an OK; 1.3 does */
	if (!RD.ipstatus)
		at_ok();
}

/* AT+TCPACK (8.6) and AT+TCPACKS (13.6), each for its own kind of socket:
 * a client link, or a connection the server accepted */
static void do_ack(const struct at_cmd *c, bool server)
{
	const char *nm = server ? "+TCPACKS" : "+TCPACK";
	long n;
	if (c->type != AT_WRITE || c->na != 1 || !n11_sock_arg(c, 0, &n)) {
		at_plain_error();
		return;
	}
	struct sim_link *l = sim_link_at((int)n);
	if (!n11_connected(l) || l->accepted != server) {
		at_info("%s:%s%ld,DISCONNECT", nm, n11_sp(server ? F_TCPACKS : F_TCPACK_DISC), n);
	} else if (l->udp) {
		at_info("+TCPACK:%sNO TCP LINK", n11_sp(F_TCPACK_NOTCP));
	} else {
		uint64_t acked;
		sim_link_acks(l, &acked);
		at_info("%s:%s%ld,%llu,%llu", nm, n11_sp(server ? F_TCPACKS : F_TCPACK), n,
			(unsigned long long)l->tx_total, (unsigned long long)acked);
	}
	/* 8.6, 13.6: no OK in the format lines or any example; 1.3 gives one */
	if (!(server ? RD.server : RD.tcpack))
		at_ok();
}

static void n11_tcpack(const struct at_cmd *c) { do_ack(c, false); }
static void n11_tcpacks(const struct at_cmd *c) { do_ack(c, true); }

static void n11_recvmode(const struct at_cmd *c)
{
	long v, m = 0;
	if (c->type == AT_READ) {
		at_info("%s: %d,%d", c->name, n11.recvmode, n11.recvhex);
	} else if (c->type == AT_TEST) {
		at_info("%s: (0,1),(0,1)", c->name);
	} else if (c->type == AT_WRITE && c->na >= 1 && c->na <= 2 && at_int(&c->a[0], 0, 1, &v) &&
		   (c->na == 1 || at_int(&c->a[1], 0, 1, &m))) {
		n11.recvmode = (int)v;
		n11.recvhex = (int)m;
		/* "it will clear the buffer" */
		for (int i = 0; i < SIM_LINKS; i++) {
			struct sim_link *l = sim_link_at(i);
			sim_link_discard_rx(l);
			l->notified = false;
			l->manual_rx = v == 0 && i != TRANS_LINK && !l->accepted;
			sim_check_closed(l);
		}
	} else {
		at_error(50);
		return;
	}
	at_ok();
}

static void dataformat_read(void)
{
	at_info("+DATAFORMAT: %d,%d", n11.dfmt_tx, n11.dfmt_rx);
}

static bool dataformat_write(const struct at_cmd *c)
{
	long tx, rx;
	if (c->na != 2 || !at_int(&c->a[0], 0, 1, &tx) || !at_int(&c->a[1], 0, 1, &rx))
		return false;
	n11.dfmt_tx = (int)tx;
	n11.dfmt_rx = (int)rx;
	return true;
}

static void n11_dataformat(const struct at_cmd *c)
{
	sim_param(c, dataformat_read, "+DATAFORMAT: (0,1),(0,1)", dataformat_write);
}

static void n11_lport(const struct at_cmd *c, bool udp)
{
	long n, port;
	bool ok = c->type == AT_WRITE && c->na == 2 && n11_sock_arg(c, 0, &n) &&
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
		n11.lport_udp[n] = (int)port;
	else
		n11.lport_tcp[n] = (int)port;
	at_ok();
}

static void n11_tcplport(const struct at_cmd *c) { n11_lport(c, false); }
static void n11_udplport(const struct at_cmd *c) { n11_lport(c, true); }

static void n11_tcpkeepalive(const struct at_cmd *c)
{
	static const long lo[3] = { 0, 30, 1 }, hi[3] = { 1, 7200, 1800 };
	sim_settings(c, "+TCPKEEPALIVE", "+TCPKEEPALIVE: (0-1),(30-7200),(1-1800)", n11.ka, lo, hi,
		     3, false);
}

/* ---- transparent ---- */
static void do_trans(const struct at_cmd *c, bool udp)
{
	const char *nm = udp ? "+UDPTRANS" : "+TCPTRANS";
	long port;
	struct sim_link *l = sim_link_at(TRANS_LINK);
	if (sim_link_busy(l) || !n11.ppp) {
		at_plain_error();
		return;
	}
	if (c->type != AT_WRITE || c->na != 2 || !c->a[0].s[0] || !at_int(&c->a[1], 1, 65535, &port)) {
		at_info("%s:%sERROR", nm, n11_sp(F_TRANS_ERR));
		sim_count_error();
		return;
	}
	at_ok();
	struct in_addr a;
	sim_strlcpy(l->host, c->a[0].s, sizeof l->host);
	if (!n11_resolve(c->a[0].s, &a))
		sim_link_open_fail(l);
	else
		sim_link_open(l, udp, a, (int)port, 0);
	l->udp = udp;
	l->manual_rx = false;
}

static void n11_tcptrans(const struct at_cmd *c) { do_trans(c, false); }
static void n11_udptrans(const struct at_cmd *c) { do_trans(c, true); }

static void n11_transclose(const struct at_cmd *c)
{
	struct sim_link *l = sim_link_at(TRANS_LINK);
	if (c->type != AT_EXEC || !(sim_link_busy(l))) {
		at_plain_error();
		return;
	}
	bool udp = l->udp;
	sim_link_close(l);
	at_info("+TRANSCLOSE:%s%d,OK", n11_sp(F_TRANSCLOSE), udp ? 1 : 0);
	/* 12.3: no OK in the format line or the examples; 1.3 gives one */
	if (!RD.transclose)
		at_ok();
}

/* ---- DNS and ping (chapter 24) ---- */
void n11_dns_answer(const char *name)
{
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

static void n11_dns(const struct at_cmd *c)
{
	if (c->type != AT_WRITE || c->na != 1 || !c->a[0].s[0] || strlen(c->a[0].s) > 250) {
		at_error(50);
		return;
	}
	if (!n11.ppp) {
		at_error(3);
		return;
	}
	at_ok();
	sim_dns_later(c->a[0].s);
}

/* A ping run (24.4): the requests go out continuously, one every
 * --ping-interval-ms; each answer is its own line as it comes (a reply one
 * round trip after its request, "Request timed out." one interval after
 * it), and the statistics follow the last one. Runs may overlap. */
struct ping_run {
	unsigned epoch;         /* a reboot or PPP loss ends every run */
	int i, count, got;
	bool known;
	long t;                 /* reply time, ms */
	char ip[64];
};

static unsigned ping_epoch;

void n11_ping_abort(void)
{
	ping_epoch++;
}

static double ping_interval(void)
{
	return S.o.ping_interval_ms / 1000.0;
}

static void ping_step(struct sim_link *l, const void *p, size_t n)
{
	(void)l;
	struct ping_run r;
	if (n != sizeof r)
		return;
	memcpy(&r, p, sizeof r);
	if (r.epoch != ping_epoch)
		return;
	if (r.known) {
		at_urc(false, "Reply from %s: bytes= 36 time = %ld(ms), TTL = 255", r.ip, r.t);
		r.got++;
	} else {
		at_urc(false, "Request timed out.");
	}
	if (++r.i < r.count) {
		sim_delay(ping_interval(), ping_step, NULL, &r, sizeof r);
		return;
	}
	at_urc(false, "Ping statistics for %s:", r.ip);
	if (r.got)
		at_urc(false, "Packets: Sent = %d, Received = %d, Lose = 0 <0%%>, max_delay = %ld ms, "
			      "min_delay = %ld ms, average delay = %ld ms", r.count, r.got, r.t, r.t, r.t);
	else
		at_urc(false, "Packets: Sent = %d, Received = 0, Lose = %d <100%%>", r.count, r.count);
}

static void ping_start(const char *name)
{
	struct ping_run r = { .epoch = ping_epoch, .count = RD.pingcount ? 5 : 4 };
	struct in_addr a;
	bool resolved = n11_resolve(name, &a);
	r.known = resolved && sim_hosts_known_addr(a);
	r.t = S.o.latency_ms * 2;
	sim_strlcpy(r.ip, resolved ? inet_ntoa(a) : name, sizeof r.ip);
	/* the first answer: one round trip for a reply, one interval for a timeout */
	sim_delay(r.known ? r.t / 1000.0 : ping_interval(), ping_step, NULL, &r, sizeof r);
}

static void n11_ping(const struct at_cmd *c)
{
	if (c->type != AT_WRITE || c->na != 1 || !c->a[0].s[0]) {
		at_error(50);
		return;
	}
	if (!n11.ppp) {
		at_info("+PING: No PPP Link");
		sim_count_error();
		return;
	}
	at_ok();
	ping_start(c->a[0].s);
}

const struct sim_cmd n11_net_cmds[] = {
	{ "+TCPSETUP", n11_tcpsetup, false },	{ "+UDPSETUP", n11_udpsetup, false },
	{ "+TCPSEND", n11_tcpsend, false },	{ "+TCPSSEND", n11_tcpsend, false },
	{ "+TCPSENDS", n11_tcpsends, false },
	{ "+UDPSEND", n11_udpsend, false },	{ "+UDPSSEND", n11_udpsend, false },
	{ "+TCPREAD", n11_tcpread, false },	{ "+UDPREAD", n11_udpread, false },
	{ "+TCPCLOSE", n11_tcpclose, false },	{ "+UDPCLOSE", n11_udpclose, false },
	{ "+IPSTATUS", n11_ipstatus, false },	{ "+TCPACK", n11_tcpack, false },
	{ "+TCPACKS", n11_tcpacks, false },
	{ "+RECVMODE", n11_recvmode, false },	{ "+RCVMODE", n11_recvmode, false },
	{ "+DATAFORMAT", n11_dataformat, false },	{ "+TCPLPORT", n11_tcplport, false },
	{ "+UDPLPORT", n11_udplport, false },	{ "+TCPKEEPALIVE", n11_tcpkeepalive, false },
	{ "+TCPTRANS", n11_tcptrans, false },	{ "+UDPTRANS", n11_udptrans, false },
	{ "+TRANSCLOSE", n11_transclose, false },	{ "+TRANCLOSE", n11_transclose, false },
	{ "+DNS", n11_dns, false },		{ "+PING", n11_ping, false },
	{ NULL, NULL, false },
};

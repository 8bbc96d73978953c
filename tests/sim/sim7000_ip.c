/* SIM7000 TCP/IP commands (AT command manual chapter 8). */
#include "sim7000.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *link_state_name(const struct sim_link *l)
{
	switch (l->state) {
	case LINK_INITIAL: return "INITIAL";
	case LINK_CONNECTING: return "CONNECTING";
	case LINK_CONNECTED: return "CONNECTED";
	default: return "CLOSED";
	}
}

/* ---- TCP/IP commands ---- */
static bool set_mux(int v)
{
	if (s7.st != IP_INITIAL || (v == 1 && s7.cipmode)) {
		at_error(3);
		return false;
	}
	s7.mux = v;
	return true;
}

static void s7_cipmux(const struct at_cmd *c) { sim_switch(c, "+CIPMUX", s7.mux, set_mux); }

static void s7_cstt(const struct at_cmd *c)
{
	if (c->type == AT_READ) {
		at_info("+CSTT: \"%s\",\"%s\",\"%s\"", s7.apn, s7.user, s7.pwd);
	} else if (c->type == AT_TEST) {
		at_info("+CSTT: \"APN\",\"USER\",\"PWD\"");
	} else {
		if (c->na > 3 || s7.st != IP_INITIAL) {
			at_error(s7.st != IP_INITIAL ? 3 : 50);
			return;
		}
		for (int i = 0; i < c->na; i++)
			if (strlen(c->a[i].s) > 50) {
				at_error(50);
				return;
			}
		sim_strlcpy(s7.apn, c->na > 0 ? c->a[0].s : "CMNET", sizeof s7.apn);
		sim_strlcpy(s7.user, c->na > 1 ? c->a[1].s : "", sizeof s7.user);
		sim_strlcpy(s7.pwd, c->na > 2 ? c->a[2].s : "", sizeof s7.pwd);
		s7.st = IP_START;
	}
	at_ok();
}

static void s7_ciicr(const struct at_cmd *c)
{
	if (c->type == AT_TEST) {
		at_ok();
		return;
	}
	if (c->type != AT_EXEC || s7.st != IP_START || s7.cfun != 1) {
		at_error(3);
		return;
	}
	s7.st = IP_GPRSACT;
	at_ok();
}

static void s7_cifsr(const struct at_cmd *c)
{
	if (c->type == AT_TEST) {
		at_ok();
		return;
	}
	if (c->type != AT_EXEC || !s7_net_ready()) {
		at_error(3);
		return;
	}
	if (s7.st == IP_GPRSACT)
		s7.st = IP_STATUS;
	at_info("%s", sim_local_ip()); /* the manual's only response: the address, no OK */
}

static void s7_cifsrex(const struct at_cmd *c)
{
	if (c->type == AT_TEST) {
		at_ok();
		return;
	}
	if (!s7_net_ready()) {
		at_error(3);
		return;
	}
	if (s7.st == IP_GPRSACT)
		s7.st = IP_STATUS;
	at_info("+CIFSREX: %s", sim_local_ip());
	at_ok();
}

static void status_line(const struct sim_link *l, bool plus)
{
	char t[400];
	/* app note 3.1 pads the state once: " CLOSED ", " CONNECTED " */
	const char *pad = RD.cipstatus ? " " : "";
	if (l->state == LINK_INITIAL)
		snprintf(t, sizeof t, "%s%d,,\"\",\"\",\"\",\"INITIAL\"", plus ? "+CIPSTATUS: " : "C: ", l->id);
	else
		snprintf(t, sizeof t, "%s%d,0,\"%s\",\"%s\",\"%u\",\"%s%s%s\"", plus ? "+CIPSTATUS: " : "C: ",
			 l->id, l->udp ? "UDP" : "TCP", inet_ntoa(l->peer.sin_addr),
			 ntohs(l->peer.sin_port), pad, link_state_name(l), pad);
	if (plus) {
		at_info("%s", t);
	} else {
		/* the table rows follow each other without blank lines */
		at_raw(t, strlen(t));
		at_raw("\r\n", 2);
	}
}

/* app note 3.2: the listener's row heads the table (it takes no C: row) */
static void server_line(void)
{
	if (!sim_server_on())
		return;
	char t[64];
	snprintf(t, sizeof t, "S: 0,0,\"%d\",\"LISTENING\"", sim_server_port());
	at_raw(t, strlen(t));
	at_raw("\r\n", 2);
}

static void s7_cipstatus(const struct at_cmd *c)
{
	long n;
	if (c->type == AT_TEST) {
		at_ok();
		return;
	}
	if (c->type == AT_WRITE) {
		if (!s7.mux || c->na != 1 || !at_int(&c->a[0], 0, SIM_LINKS - 1, &n)) {
			at_error(50);
			return;
		}
		status_line(sim_link_at((int)n), true);
		at_ok();
		return;
	}
	if (c->type != AT_EXEC) {
		at_error(50);
		return;
	}
	at_ok();
	at_info("STATE: %s", s7_state_name());
	if (s7.mux && s7.processing) {
		if (AT.v1)
			at_raw("\r\n", 2);
		server_line();
		for (int i = 0; i < SIM_LINKS; i++)
			status_line(sim_link_at(i), false);
	}
}

static void s7_cipstart(const struct at_cmd *c)
{
	int first;
	if (c->type == AT_TEST) {
		if (s7.mux) {
			at_info("+CIPSTART: (0-7),(\"TCP\",\"UDP\"),(\"(0-255).(0-255).(0-255).(0-255)\"),(1-65535)");
			at_info("+CIPSTART: (0-7),(\"TCP\",\"UDP\"),(\"DOMAIN NAME\"),(1-65535)");
		} else {
			at_info("+CIPSTART: (\"TCP\",\"UDP\"),(\"(0-255).(0-255).(0-255).(0-255)\"),(1-65535)");
			at_info("+CIPSTART: (\"TCP\",\"UDP\"),(\"DOMAIN NAME\"),(1-65535)");
		}
		at_ok();
		return;
	}
	struct sim_link *l = c->type == AT_WRITE ? s7_link_arg(c, &first) : NULL;
	long port;
	if (!l || c->na != first + 3 || !at_int(&c->a[first + 2], 1, 65535, &port) ||
	    (strcasecmp(c->a[first].s, "TCP") && strcasecmp(c->a[first].s, "UDP")) ||
	    !c->a[first + 1].s[0]) {
		at_error(50);
		return;
	}
	bool ok_state = s7.mux ? s7.st == IP_STATUS
			      : (s7.st == IP_STATUS || s7.st == IP_INITIAL);
	if (!ok_state) {
		at_error(3);
		return;
	}
	if (sim_link_busy(l)) {
		char t[40];
		snprintf(t, sizeof t, "%sALREADY CONNECT", s7_pfx(l));
		at_final(t);
		return;
	}
	if (s7.st == IP_INITIAL) {
		/* single link from IP INITIAL: the module brings the context up itself */
		s7.st = IP_STATUS;
	}
	bool udp = strcasecmp(c->a[first].s, "UDP") == 0;
	struct in_addr a[2];
	sim_strlcpy(l->host, c->a[first + 1].s, sizeof l->host);
	at_ok();
	s7.processing = true;
	if (sim_hosts_lookup(c->a[first + 1].s, a, 1) == 0)
		sim_link_open_fail(l);
	else
		sim_link_open(l, udp, a[0], (int)port, s7.mux ? 0 : (udp ? s7.lport_udp : s7.lport_tcp));
	l->udp = udp;
	l->manual_rx = s7.rxget == 1 && !(s7.cipmode && !s7.mux);
}

static bool set_qsend(int v)
{
	s7.qsend = v;
	return true;
}

static void s7_cipqsend(const struct at_cmd *c) { sim_switch(c, "+CIPQSEND", s7.qsend, set_qsend); }

static void s7_cipack(const struct at_cmd *c)
{
	struct sim_link *l;
	long n = 0;
	if (c->type == AT_TEST) {
		at_ok();
		return;
	}
	if (s7.mux ? (c->type != AT_WRITE || c->na != 1 || !at_int(&c->a[0], 0, SIM_LINKS - 1, &n))
		  : c->type != AT_EXEC) {
		at_error(50);
		return;
	}
	l = sim_link_at((int)n);
	if (l->state == LINK_INITIAL) {
		at_error(3);
		return;
	}
	uint64_t acked;
	sim_link_acks(l, &acked);
	/* manual "+CIPACK: 3,3,0"; app note 6.5 also "+CIPACK: 3, 3, 0" */
	at_info(RD.cipack ? "+CIPACK: %llu, %llu, %llu" : "+CIPACK: %llu,%llu,%llu",
		(unsigned long long)l->tx_total,
		(unsigned long long)acked, (unsigned long long)(l->tx_total - acked));
	at_ok();
}

static void s7_cipclose(const struct at_cmd *c)
{
	long n = 0, mode = 0;
	if (c->type == AT_TEST) {
		at_ok();
		return;
	}
	if (s7.mux) {
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
	struct sim_link *l = sim_link_at((int)n);
	if (!sim_link_busy(l)) {
		at_plain_error();
		return;
	}
	sim_link_close(l);
	char t[32];
	snprintf(t, sizeof t, "%sCLOSE OK", s7_pfx(l));
	at_final(t);
}

static void s7_cipshut(const struct at_cmd *c)
{
	if (!sim_exec_only(c))
		return;
	s7_shut_all();
	s7.st = IP_INITIAL;
	at_final("SHUT OK");
}

static void s7_ciprxget(const struct at_cmd *c)
{
	long mode, n = 0, len = 0;
	if (c->type == AT_READ) {
		at_info("+CIPRXGET: %d", s7.rxget);
		at_ok();
		return;
	}
	if (c->type == AT_TEST) {
		if (s7.mux)
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
		s7.rxget = (int)mode;
		at_ok();
		return;
	}
	int i = 1;
	if (s7.mux) {
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
	struct sim_link *l = sim_link_at((int)n);
	if (l->state == LINK_INITIAL || !l->manual_rx) {
		at_error(3);
		return;
	}
	char idp[8] = "";
	if (s7.mux)
		snprintf(idp, sizeof idp, "%ld,", n);
	if (mode == 4) {
		at_info("+CIPRXGET: 4,%s%zu", idp, l->rx.len);
		at_ok();
		return;
	}
	struct sim_link *src = l;
	int hid = (int)n;
	if (s7.mux)
		src = sim_read_link(l, SIM_LINKS, &hid);
	if (s7.mux)
		snprintf(idp, sizeof idp, "%d,", hid);
	unsigned char tmp[1460];
	size_t got = sim_link_read(src, tmp, (size_t)len);
	if (src->rx.len == 0)
		src->notified = false;
	/* app note 7.2: "2,<delivered>,<still buffered>"; the manual's
	 * parameters: "2,<reqlength>,<cnflength>" = requested, delivered */
	size_t first = RD.ciprxget ? (size_t)len : got;
	size_t second = RD.ciprxget ? got : src->rx.len;
	at_info("+CIPRXGET: %ld,%s%zu,%zu%s%s", mode, idp, first, second, s7.srip ? "," : "",
		s7.srip ? s7_peer(src) : "");
	/* at_info ends with CR LF: the payload follows it directly */
	if (mode == 2)
		at_raw(tmp, got);
	else
		sim_hex_to(&R, tmp, got);
	at_ok();
	sim_check_closed(src);
}

void s7_dns_answer(const char *name)
{
	struct in_addr a[2];
	int k = sim_hosts_lookup(name, a, 2);
	if (k == 0) {
		/* app note "+CDNSGIP: 0,8"; the manual "+CDNSGIP:0,<dns error code>" */
		at_urc(true, RD.cdnsgip ? "+CDNSGIP:0,8" : "+CDNSGIP: 0,8");
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

static void s7_cdnsgip(const struct at_cmd *c)
{
	if (c->type == AT_TEST) {
		at_ok();
		return;
	}
	if (c->type != AT_WRITE || c->na != 1 || !c->a[0].s[0]) {
		at_error(50);
		return;
	}
	if (!s7_net_ready()) {
		at_error(3);
		return;
	}
	at_ok();
	sim_dns_later(c->a[0].s);
}

static void cdnscfg_read(void)
{
	at_info("PrimaryDns: %s", s7.dns1);
	at_info("SecondaryDns: %s", s7.dns2);
}

static bool cdnscfg_write(const struct at_cmd *c)
{
	struct in_addr a;
	if (c->na < 1 || c->na > 2 || inet_pton(AF_INET, c->a[0].s, &a) != 1 ||
	    (c->na == 2 && inet_pton(AF_INET, c->a[1].s, &a) != 1))
		return false;
	sim_strlcpy(s7.dns1, c->a[0].s, sizeof s7.dns1);
	sim_strlcpy(s7.dns2, c->na == 2 ? c->a[1].s : "0.0.0.0", sizeof s7.dns2);
	return true;
}

static void s7_cdnscfg(const struct at_cmd *c)
{
	sim_param(c, cdnscfg_read, "+CDNSCFG: (\"Primary DNS\"),(\"Secondary DNS\")", cdnscfg_write);
}

static void s7_ciphead(const struct at_cmd *c) { sim_setting(c, "+CIPHEAD", &s7.head, 0, 1); }
static void s7_cipsrip(const struct at_cmd *c) { sim_setting(c, "+CIPSRIP", &s7.srip, 0, 1); }
static void s7_cipshowtp(const struct at_cmd *c) { sim_setting(c, "+CIPSHOWTP", &s7.showtp, 0, 1); }
static void s7_cipsprt(const struct at_cmd *c) { sim_setting(c, "+CIPSPRT", &s7.sprt, 0, 2); }
static void s7_cipoption(const struct at_cmd *c) { sim_setting(c, "+CIPOPTION", &s7.option, 0, 1); }

static void s7_cipmode(const struct at_cmd *c)
{
	long v;
	if (c->type == AT_WRITE && (c->na != 1 || !at_int(&c->a[0], 0, 1, &v) ||
				    (v == 1 && s7.mux) || s7.st != IP_INITIAL)) {
		at_error(c->na == 1 && at_int(&c->a[0], 0, 1, &v) ? 3 : 50);
		return;
	}
	sim_setting(c, "+CIPMODE", &s7.cipmode, 0, 1);
}

static void clport_read(void)
{
	at_info("+CLPORT: \"TCP\",%d", s7.lport_tcp);
	at_info("+CLPORT: \"UDP\",%d", s7.lport_udp);
}

static bool clport_write(const struct at_cmd *c)
{
	long port;
	if (c->na != 2 || !at_int(&c->a[1], 0, 65535, &port))
		return false;
	if (!strcasecmp(c->a[0].s, "TCP"))
		s7.lport_tcp = (int)port;
	else if (!strcasecmp(c->a[0].s, "UDP"))
		s7.lport_udp = (int)port;
	else
		return false;
	return true;
}

static void s7_clport(const struct at_cmd *c)
{
	sim_param(c, clport_read, "+CLPORT: (\"TCP\",\"UDP\"),(0-65535)", clport_write);
}

static void s7_cipccfg(const struct at_cmd *c)
{
	static const long lo[7] = { 3, 1, 1, 0, 0, 50, 20 };
	static const long hi[7] = { 8, 10, 1460, 1, 1, 1460, 1000 };
	sim_settings(c, "+CIPCCFG", "+CIPCCFG: (3-8),(1-10),(1-1460),(0,1),(0,1),(50-1460),(20-1000)",
		     s7.ccfg, lo, hi, 7, true);
}

static void s7_ciptka(const struct at_cmd *c)
{
	static const long lo[4] = { 0, 30, 30, 1 };
	static const long hi[4] = { 1, 7200, 600, 9 };
	sim_settings(c, "+CIPTKA", "+CIPTKA: (0,1),(30-7200),(30-600),(1-9)", s7.tka, lo, hi, 4,
		     false);
}

static void s7_cipping(const struct at_cmd *c)
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
	if (!s7_net_ready()) {
		at_error(3);
		return;
	}
	struct in_addr a[1];
	bool known = sim_hosts_lookup(c->a[0].s, a, 1) == 1 && sim_hosts_known_addr(a[0]);
	for (long i = 1; i <= count; i++) {
		if (known)
			/* <replyTime>: "in ms" says the manual, but a timeout is
			 * 600, its <timeout> unit (100 ms): both readings */
			at_info("+CIPPING: %ld,\"%s\",%ld,%d", i, inet_ntoa(a[0]),
				RD.cipping ? S.o.latency_ms * 2 : S.o.latency_ms * 2 / 100, 64);
		else
			at_info("+CIPPING: %ld,\"%s\",600,255", i,
				sim_hosts_lookup(c->a[0].s, a, 1) ? inet_ntoa(a[0]) : c->a[0].s);
	}
	at_ok();
}

/* AT+CIPSERVER (manual 8.2.19, app note 3.2): multi-link mode only, with
 * the context up (IP STATUS or IP PROCESSING); one port at a time */
static void cipserver_read(void)
{
	if (sim_server_on())
		at_info("+CIPSERVER: 1,%d,0,0", sim_server_port());
	else
		at_info("+CIPSERVER: 0");
}

static bool cipserver_args(const struct at_cmd *c, long *mode, long *port)
{
	*port = 0;
	if (c->na < 1 || c->na > 2 || !at_int(&c->a[0], 0, 1, mode))
		return false;
	if (c->na == 2 && !at_int(&c->a[1], 1, 65535, port))
		return false;
	return *mode == 0 || c->na == 2;
}

static void s7_cipserver(const struct at_cmd *c)
{
	long mode, port;
	if (c->type == AT_READ || c->type == AT_TEST) {
		if (c->type == AT_READ)
			cipserver_read();
		else
			at_info("+CIPSERVER: (0-CLOSE SERVER, 1-OPEN SERVER),(1-65535)");
		at_ok();
		return;
	}
	if (c->type != AT_WRITE || !cipserver_args(c, &mode, &port)) {
		at_error(50);
		return;
	}
	if (!s7.mux || s7.st != IP_STATUS || sim_server_on() == (mode == 1) ||
	    (mode == 1 && !sim_server_listen((int)port, -1))) {
		at_error(3);
		return;
	}
	if (mode == 0)
		sim_server_close();
	s7.processing = true;
	at_ok();
	at_urc(true, mode ? "SERVER OK" : "SERVER CLOSE");
}

const struct sim_cmd s7_ip_cmds[] = {
	{ "+CIPMUX", s7_cipmux, false },	{ "+CSTT", s7_cstt, true },
	{ "+CIICR", s7_ciicr, true },		{ "+CIFSR", s7_cifsr, true },
	{ "+CIFSREX", s7_cifsrex, true },	{ "+CIPSTATUS", s7_cipstatus, false },
	{ "+CIPSTART", s7_cipstart, true },	{ "+CIPQSEND", s7_cipqsend, false },
	{ "+CIPACK", s7_cipack, true },		{ "+CIPCLOSE", s7_cipclose, true },
	{ "+CIPSHUT", s7_cipshut, false },	{ "+CIPRXGET", s7_ciprxget, false },
	{ "+CDNSGIP", s7_cdnsgip, true },	{ "+CDNSCFG", s7_cdnscfg, false },
	{ "+CIPHEAD", s7_ciphead, false },	{ "+CIPSRIP", s7_cipsrip, false },
	{ "+CIPSHOWTP", s7_cipshowtp, false },	{ "+CIPSPRT", s7_cipsprt, false },
	{ "+CIPMODE", s7_cipmode, false },	{ "+CIPCCFG", s7_cipccfg, false },
	{ "+CIPTKA", s7_ciptka, false },	{ "+CIPOPTION", s7_cipoption, false },
	{ "+CIPPING", s7_cipping, true },	{ "+CLPORT", s7_clport, false },
	{ "+CIPSERVER", s7_cipserver, true },
	{ NULL, NULL, false },
};

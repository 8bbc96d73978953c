/* Neoway N11V2: internal TCP/IP stack commands (chapters 5, 8, 11, 12, 24 of
 * the N11V2 AT Commands Manual V1.6). Interpretations are listed in
 * docs/simulator.md. Sockets 0..4 are links 0..4; the transparent
 * connection uses link 7. This file holds the model's state, its answers
 * to link events and its table for the engine (engine.h). */
#include "n11v2.h"

#include <stdio.h>
#include <string.h>

struct n11_state n11;

bool n11_connected(const struct sim_link *l)
{
	return l->state == LINK_CONNECTED;
}

bool n11_rx_hex(void)
{
	return n11.dfmt_rx == 0 || n11.recvhex == 1;
}

/* ---- transparent mode (link 7) ---- */
static bool n11_trans_link(const struct sim_link *l)
{
	return l->id == TRANS_LINK;
}

void n11_trans_escaped(void)
{
	E.in = IN_CMD;
	sim_outs("\r\nOK\r\n");
}

static void n11_ato(void)
{
	if (!n11_connected(sim_link_at(TRANS_LINK))) {
		at_plain_error();
		return;
	}
	at_info("CONNECT");
	sim_trans_enter(sim_link_at(TRANS_LINK), true, n11_trans_escaped);
	sim_kick();
}

/* ---- link events ---- */
/* "+TCPCLOSE: <n>,Link Closed" (or +UDPCLOSE, or the transparent form) */
void n11_link_closed_urc(const struct sim_link *l)
{
	/* 13.2: the unsolicited form also means "the client closes the socket" */
	if (l->accepted)
		at_urc(true, "+CLOSELISTEN:%s%d,local link closed", n11_sp(F_CLOSELISTEN), l->id);
	else if (l->id == TRANS_LINK)
		at_urc(true, "%s:%sLink Closed", l->udp ? "+UDPTRANS" : "+TCPTRANS", n11_sp(F_TRANS_CLOSED));
	else if (l->udp)
		at_urc(true, "+UDPCLOSE:%s%d,Link Closed", n11_sp(F_UDPCLOSE_OK), l->id);
	else
		at_urc(true, "+TCPCLOSE:%s%d,Link Closed", n11_sp(F_TCPCLOSE), l->id);
}

static void n11_closed(struct sim_link *l)
{
	if (l->id != TRANS_LINK) {
		n11_link_closed_urc(l);
		return;
	}
	bool online = E.in == IN_TRANS;
	sim_trans_leave();
	if (online) {
		char t[64];
		snprintf(t, sizeof t, "\r\n%s:%sLink Closed\r\n", l->udp ? "+UDPTRANS" : "+TCPTRANS",
			 n11_sp(F_TRANS_CLOSED));
		sim_outs(t);
	} else {
		n11_link_closed_urc(l);
	}
}

static void n11_frame(const struct sim_link *l, const unsigned char *p, size_t n, struct sim_buf *b)
{
	if (l->accepted)
		sim_buf_addf(b, "\r\n+TCPRECV(S):%s%d,%zu,", n11_sp(F_TCPRECVS), l->id, n);
	else
		sim_buf_addf(b, "\r\n%s:%s%d,%zu,", l->udp ? "+UDPRECV" : "+TCPRECV",
			     n11_sp(l->udp ? F_UDPRECV : F_TCPRECV_DATA), l->id, n);
	if (n11_rx_hex())
		sim_hex_to(b, p, n);
	else
		sim_buf_add(b, p, n);
	sim_buf_add(b, "\r\n", 2);
}

static void n11_announce(struct sim_link *l)
{
	if (l->udp)
		at_urc(true, "+UDPRECV:%s%d,%zu", n11_sp(F_UDPRECV), l->id, l->rx.len);
	else
		at_urc(true, "+TCPRECV:%s%d", n11_sp(F_TCPRECV_ANN), l->id);
}

static void n11_link_connected(struct sim_link *l)
{
	const char *kind = l->udp ? "UDP" : "TCP";
	if (l->id != TRANS_LINK) {
		at_urc(true, "+%sSETUP:%s%d,OK", kind,
		       n11_sp(l->udp ? F_UDPSETUP_RES : F_TCPSETUP_OK), l->id);
		return;
	}
	/* written at once: the data that follows must not overtake it */
	char t[40];
	snprintf(t, sizeof t, "\r\n+%sTRANS:%sOK\r\n", kind, n11_sp(F_TRANS_RES));
	sim_outs(t);
	sim_trans_enter(l, true, n11_trans_escaped);
	sim_kick();
}

static void n11_connect_failed(struct sim_link *l)
{
	const char *kind = l->udp ? "UDP" : "TCP";
	if (l->id == TRANS_LINK)
		at_urc(false, "+%sTRANS:%sFAIL", kind, n11_sp(F_TRANS_RES));
	else
		at_urc(true, "+%sSETUP:%s%d,FAIL", kind,
		       n11_sp(l->udp ? F_UDPSETUP_RES : F_TCPSETUP_FAIL), l->id);
}

/* ---- helpers ---- */
bool n11_sock_arg(const struct at_cmd *c, int i, long *n)
{
	return sim_link_arg(c, i, N_SOCKS, n);
}

void n11_close_all(void)
{
	sim_links_reset(false);
	if (E.in == IN_TRANS)
		sim_trans_stop();
	/* A send's data phase takes its announced bytes whatever happens to
	 * the link meanwhile (manual 8.2: the module "sends data after
	 * receiving data of the specified length"), then answers an error:
	 * the rest of the data never reaches the command interpreter. */
	if (E.in != IN_DATA)
		E.in = IN_CMD;
}

/* drop the PPP link, reporting every open connection */
void n11_ppp_down(bool report)
{
	for (int i = 0; i < SIM_LINKS; i++) {
		struct sim_link *l = sim_link_at(i);
		if (report && sim_link_busy(l))
			n11_link_closed_urc(l);
		if (report && sim_server_slot() == i)
			n11_listener_lost_urc();
	}
	n11_ping_abort();
	n11_close_all();
	n11.ppp = false;
}

bool n11_resolve(const char *name, struct in_addr *a)
{
	return sim_hosts_lookup(name, a, 1) == 1;
}

static void n11_prompt(void)
{
	sim_prompt("\r\n>");
}

/* ---- module life ---- */
static void n11_reset(void)
{
	n11_ping_abort();
	n11_close_all();
	memset(&n11, 0, sizeof n11);
	n11.cgatt = 1;
	n11.cfun = 1;
	n11.recvmode = 1;
	n11.dfmt_tx = n11.dfmt_rx = 1;
	n11.ka[1] = 120;
	n11.ka[2] = 75;
	n11.ipr = 115200;
	for (int i = 0; i < SIM_LINKS; i++)
		sim_link_at(i)->ever_used = false;
}

static void n11_pdp_deact(void)
{
	if (!n11.ppp)
		return;
	n11_ppp_down(true);
	at_urc(true, "GPRS DISCONNECTION");
}

/* ---- the model ---- */
static const struct sim_cmd cmds[] = {
	{ "+CPIN", sim_cpin, false },		{ "+CGDATA", sim_cgdata, false },
	{ NULL, NULL, false },
};

static const struct sim_cmd *const tables[] = {
	cmds, n11_net_cmds, n11_server_cmds, n11_general_cmds, NULL,
};

static const struct sim_digit_cmd digits[] = {
	{ "Q", 1 }, { "&W", 0 }, { "&D", 2 }, { NULL, 0 },
};

const struct sim_model n11v2_model = {
	.name = "n11v2",
	.id = SIM_MODEL_N11V2,
	.cmds = tables,
	.escapes = true,
	.ext = "+$",
	.dollar_is_plus = true,
	.ati = "NEOWAY\r\nN11V2\r\nREVISION V003",
	.digits = digits,
	.ato = n11_ato,
	.prompt = n11_prompt,
	.end_byte = '\r',       /* no length given: the data ends at CR */
	.cancel_byte = -1,
	.unsized_keep = MAX_SEND * 2,
	.send_done = n11_send_done,
	.push_chunk = PUSH_CHUNK,
	.trans_link = n11_trans_link,
	.frame = n11_frame,
	.announce = n11_announce,
	.closed = n11_closed,
	.connected = n11_link_connected,
	.connect_failed = n11_connect_failed,
	.accept_link = n11_accept_link,
	.accepted = n11_accepted,
	.local_ip = LOCAL_IP,
	.boot = "\r\n+PBREADY\r\n",
	.reset = n11_reset,
	.pdp_deact = n11_pdp_deact,
	.dns_answer = n11_dns_answer,
};

/* N11V2 TCP server (manual chapter 13): AT+TCPLISTEN, AT+CLOSELISTEN,
 * AT+CLOSECLIENT and the accepted connections. The listener takes one of
 * sockets 0..4 and each accepted connection another; the listening socket
 * itself is server.c's. AT+TCPSENDS and AT+TCPACKS share the client
 * commands' code (n11v2_net.c); +TCPRECV(S) is n11v2.c's framing.
 * Interpretations are in docs/simulator.md. */
#include "n11v2.h"

#include <arpa/inet.h>
#include <stdio.h>

/* 1.3's "[response] OK" after a chapter 13 answer, unless --reading
 * server=no-ok (the format lines and examples show none) */
static void server_ok(void)
{
	if (!RD.server)
		at_ok();
}

static void listen_err(const char *what, enum n11_form f)
{
	at_info("+TCPLISTEN:%s%s", n11_sp(f), what);
	sim_count_error();
}

bool n11_sock_taken(long n)
{
	return sim_link_busy(sim_link_at((int)n)) || sim_server_slot() == n;
}

static bool accepted_link(long n)
{
	return sim_link_busy(sim_link_at((int)n)) && sim_link_at((int)n)->accepted;
}

/* the lowest socket neither a connection nor the listener holds, or -1 */
static int free_sock(void)
{
	for (int i = 0; i < N_SOCKS; i++)
		if (!n11_sock_taken(i))
			return i;
	return -1;
}

/* ---- accepted connections ---- */
struct sim_link *n11_accept_link(bool *manual_rx)
{
	*manual_rx = false; /* 13.4: a client's data is always pushed */
	int n = free_sock();
	return n < 0 ? NULL : sim_link_at(n);
}

/* 13.1: the manual's "Connect" above this line reads as the label of its
 * example column, not as a line of its own */
void n11_accepted(struct sim_link *l)
{
	at_urc(true, "AcceptSocket=%d,ClientAddr=%s,ClientPort=%u", l->id,
	       inet_ntoa(l->peer.sin_addr), ntohs(l->peer.sin_port));
}

void n11_listener_lost_urc(void)
{
	if (sim_server_on())
		at_urc(true, "+CLOSELISTEN:%s%d,local link closed", n11_sp(F_CLOSELISTEN),
		       sim_server_slot());
}

/* ---- commands ---- */
static void listen_write(const struct at_cmd *c)
{
	long port;
	if (c->na != 1 || !at_int(&c->a[0], 1, 65535, &port) || !n11.ppp) {
		listen_err("ERROR", F_TCPLISTEN);
		return;
	}
	if (sim_server_on()) {
		at_info("Listening...");
		sim_count_error();
		return;
	}
	int n = free_sock();
	if (n < 0) {
		listen_err("ERROR", F_TCPLISTEN);
		return;
	}
	if (!sim_server_listen((int)port, n)) {
		listen_err("bind error", F_TCPLISTEN_BIND);
		return;
	}
	at_info("+TCPLISTEN:%s%d,OK", n11_sp(F_TCPLISTEN), n);
	server_ok();
}

static void n11_tcplisten(const struct at_cmd *c)
{
	if (c->type == AT_WRITE) {
		listen_write(c);
	} else if (c->type == AT_READ) {
		at_info("+TCPLISTEN:%s%s", n11_sp(F_TCPLISTEN),
			sim_server_on() ? "listening status" : "not listening");
		server_ok();
	} else {
		at_plain_error();
	}
}

static void n11_closelisten(const struct at_cmd *c)
{
	if (c->type != AT_EXEC || !sim_server_on()) {
		at_plain_error();
		return;
	}
	int slot = sim_server_slot();
	sim_server_close();
	at_info("+CLOSELISTEN:%s%d,local link closed", n11_sp(F_CLOSELISTEN), slot);
	server_ok();
}

static void close_client(long n)
{
	sim_link_close(sim_link_at((int)n));
	at_info("+CLOSECLIENT:%s%ld,remote link closed", n11_sp(F_CLOSECLIENT), n);
}

static void n11_closeclient(const struct at_cmd *c)
{
	long n;
	if (c->type == AT_WRITE) {
		if (c->na != 1 || !n11_sock_arg(c, 0, &n) || !accepted_link(n)) {
			at_plain_error();
			return;
		}
		close_client(n);
	} else if (c->type == AT_EXEC) {
		bool any = false;
		for (n = 0; n < N_SOCKS; n++)
			if (accepted_link(n)) {
				close_client(n);
				any = true;
			}
		if (!any)
			at_info("+CLOSECLIENT:%sAll remote link closed", n11_sp(F_CLOSECLIENT));
	} else {
		at_plain_error();
		return;
	}
	server_ok();
}

const struct sim_cmd n11_server_cmds[] = {
	{ "+TCPLISTEN", n11_tcplisten, false },	{ "+CLOSELISTEN", n11_closelisten, false },
	{ "+CLOSECLIENT", n11_closeclient, false },
	{ NULL, NULL, false },
};

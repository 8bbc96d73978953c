/* N11V2 model: state shared by its files (n11v2.c: state, answers to link
 * events, the model table; n11v2_general.c: identity, general and PPP
 * commands; n11v2_net.c: sockets, transparent mode, DNS, ping). It runs on
 * the engine (engine.h). Private to tests/sim. */
#ifndef N11V2_H
#define N11V2_H

#include "engine.h"

#define N_SOCKS 5
#define TRANS_LINK 7
#define LOCAL_IP "10.232.165.29"
#define MAX_SEND 4096
#define MAX_READ 4096
#define PUSH_CHUNK 1460

struct n11_state {
	bool ppp;
	int cgatt, cfun;
	char apn[256], user[256], pwd[256];
	int recvmode, recvhex;      /* AT+RECVMODE=<n>,<mode> */
	int dfmt_tx, dfmt_rx;       /* AT+DATAFORMAT: 1 = char, 0 = hex */
	int lport_tcp[N_SOCKS], lport_udp[N_SOCKS];
	int ka[3];
	int creg, cgreg;
	long ipr;
	bool send_hex;              /* the data phase carries hex text */
	char send_name[16];         /* "+TCPSEND", "+UDPSSEND"...: as typed */
	bool send_server;           /* AT+TCPSENDS: to an accepted client */
};

extern struct n11_state n11;

/* answer forms whose colon spacing --reading spacing chooses (n11v2_forms.c) */
enum n11_form {
	F_TCPSETUP_OK, F_TCPSETUP_FAIL, F_TCPSETUP_ERR, F_UDPSETUP_RES, F_UDPSETUP_ERR,
	F_TCPSEND_OK, F_UDPSEND_OK, F_TCPSEND_ERR, F_UDPSEND_ERR, F_SEND_BUF,
	F_TCPRECV_DATA, F_TCPRECV_ANN, F_UDPRECV, F_TCPREAD, F_UDPREAD,
	F_TCPCLOSE, F_UDPCLOSE_OK, F_UDPCLOSE_ERR, F_IPSTATUS, F_IPSTATUS_ERR,
	F_TCPACK, F_TCPACK_DISC, F_TCPACK_NOTCP, F_TRANS_RES, F_TRANS_ERR,
	F_TRANS_CLOSED, F_TRANSCLOSE,
	F_TCPLISTEN, F_TCPLISTEN_BIND, F_CLOSELISTEN, F_CLOSECLIENT, F_TCPRECVS,
	F_TCPSENDS_OK, F_TCPSENDS_ERR, F_TCPACKS,
	N11_FORMS
};
/* " " or "": what follows "+XXX:" in that form under the chosen reading */
const char *n11_sp(enum n11_form f);
/* ends any AT+PING run (reboot, PPP down) */
void n11_ping_abort(void);

bool n11_connected(const struct sim_link *l);
bool n11_rx_hex(void);
void n11_link_closed_urc(const struct sim_link *l);
bool n11_sock_arg(const struct at_cmd *c, int i, long *n);
void n11_close_all(void);
void n11_ppp_down(bool report);
bool n11_resolve(const char *name, struct in_addr *a);
void n11_trans_escaped(void);
void n11_send_done(struct sim_link *l, bool cancel);
void n11_dns_answer(const char *name);

/* chapter 13, the TCP server (n11v2_server.c) */
struct sim_link *n11_accept_link(bool *manual_rx);
void n11_accepted(struct sim_link *l);
/* the socket the listener takes, reported as closed (PDP loss) */
void n11_listener_lost_urc(void);
bool n11_sock_taken(long n);   /* a connection or the listener holds it */

/* command tables, each ended by a row without a name */
extern const struct sim_cmd n11_net_cmds[];
extern const struct sim_cmd n11_general_cmds[];
extern const struct sim_cmd n11_server_cmds[];

#endif

/* SIM7000 model: state shared by its files (sim7000.c: state, answers to
 * link events, send results, the model table; sim7000_ip.c: TCP/IP
 * commands; sim7000_general.c: general commands). It runs on the engine
 * (engine.h). Private to tests/sim. */
#ifndef SIM7000_H
#define SIM7000_H

#include "engine.h"

#define LOCAL_IP "10.78.245.128"
#define MAX_SEND 1460

enum ipstate { IP_INITIAL, IP_START, IP_CONFIG, IP_GPRSACT, IP_STATUS, PDP_DEACT };

struct s7_state {
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
	struct sim_link *wait_send;     /* CIPQSEND=0: SEND OK awaited */
};

extern struct s7_state s7;

const char *s7_state_name(void);
const char *s7_pfx(const struct sim_link *l);
const char *s7_peer(const struct sim_link *l);
bool s7_net_ready(void);
struct sim_link *s7_link_arg(const struct at_cmd *c, int *first);
void s7_shut_all(void);

void s7_dns_answer(const char *name);

/* command tables, each ended by a row without a name */
extern const struct sim_cmd s7_ip_cmds[];
extern const struct sim_cmd s7_general_cmds[];

#endif

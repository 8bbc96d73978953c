/* SIM7000 general commands: error reporting, attach, radio, identity,
 * serial port settings. The logic they share with other models is in
 * general.c; what is here is the SIM7000's own. */
#include "sim7000.h"

#include <string.h>

void s7_cmee(const struct at_cmd *c) { sim_setting(c, "+CMEE", &AT.cmee, 0, 2); }
void s7_csq(const struct at_cmd *c) { sim_csq(c, s7.cfun == 1, 0); }
void s7_creg(const struct at_cmd *c) { sim_reg(c, "+CREG", &s7.creg, s7.cfun == 1 ? 1 : 0); }
void s7_cgmi(const struct at_cmd *c) { sim_ident(c, "SIMCOM_Ltd"); }
void s7_cgmm(const struct at_cmd *c) { sim_ident(c, "SIMCOM_SIM7000E"); }
void s7_cgmr(const struct at_cmd *c) { sim_ident(c, "Revision:1351B03SIM7000E"); }
void s7_gsn(const struct at_cmd *c) { sim_ident(c, "869951030000001"); }

/* the network context goes with the radio or the attachment */
static void context_lost(void)
{
	s7_shut_all();
	s7.st = PDP_DEACT;
}

void s7_cgatt(const struct at_cmd *c)
{
	long v;
	if (c->type == AT_READ) {
		at_info("+CGATT: %d", s7.cfun == 1 ? 1 : 0);
	} else if (c->type == AT_TEST) {
		at_info("+CGATT: (0,1)");
	} else if (c->type == AT_WRITE && c->na == 1 && at_int(&c->a[0], 0, 1, &v)) {
		if (v == 0 && s7.st != IP_INITIAL)
			context_lost();
	} else {
		at_error(50);
		return;
	}
	at_ok();
}

static void set_cfun(int fun)
{
	if (fun != 1) {
		s7_shut_all();
		if (s7.st != IP_INITIAL)
			s7.st = PDP_DEACT;
	}
	s7.cfun = fun;
}

void s7_cfun(const struct at_cmd *c)
{
	/* 0, 1, 4, 5, 6, 7 */
	sim_cfun(c, "+CFUN: (0,1,4,5,6,7),(0,1)", 0xf3, s7.cfun, set_cfun);
}

void s7_cgdcont(const struct at_cmd *c)
{
	sim_cgdcont(c, s7.apn, sizeof s7.apn, 24, ",0,0,0,0",
		    "+CGDCONT: (1-24),\"IP\",,,(0-2),(0-4),(0,1),(0,1)");
}

void s7_cgact(const struct at_cmd *c)
{
	long st, cid;
	if (c->type == AT_READ)
		at_info("+CGACT: 1,%d", s7_net_ready() ? 1 : 0);
	else if (c->type == AT_TEST)
		at_info("+CGACT: (0,1)");
	else if (c->type == AT_WRITE && c->na >= 1 && c->na <= 2 && at_int(&c->a[0], 0, 1, &st) &&
		 (c->na == 1 || at_int(&c->a[1], 1, 24, &cid))) {
		if (st == 0 && s7_net_ready())
			context_lost();
	} else {
		at_error(50);
		return;
	}
	at_ok();
}

void s7_ifc(const struct at_cmd *c)
{
	long a, b = 2;
	if (c->type == AT_READ)
		at_info("+IFC: %d,%d", s7.ifc_rx, s7.ifc_tx);
	else if (c->type == AT_TEST)
		at_info("+IFC: (0,2),(0,2)");
	else if (c->type == AT_WRITE && c->na >= 1 && c->na <= 2 && at_int(&c->a[0], 0, 2, &a) &&
		 a != 1 && (c->na == 1 || (at_int(&c->a[1], 0, 2, &b) && b != 1))) {
		s7.ifc_rx = (int)a;
		s7.ifc_tx = (int)b;
	} else {
		at_error(50);
		return;
	}
	at_ok();
}

void s7_ipr(const struct at_cmd *c)
{
	static const long rates[] = { 0, 300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600,
				      115200, 230400, 921600, 2000000, 2900000, 3000000, 3200000,
				      3686400, 4000000 };
	sim_ipr(c, &s7.ipr, rates, sizeof rates / sizeof rates[0], 4000000,
		"+IPR: (0,300,600,1200,2400,4800,9600,19200,38400,57600,115200,230400,921600,2000000,2900000,3000000,3200000,3686400,4000000)");
}

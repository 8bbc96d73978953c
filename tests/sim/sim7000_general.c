/* SIM7000 general commands: error reporting, attach, radio, identity,
 * serial port settings. The logic they share with other models is in
 * general.c; what is here is the SIM7000's own. */
#include "sim7000.h"

#include <string.h>

static void s7_cmee(const struct at_cmd *c) { sim_setting(c, "+CMEE", &AT.cmee, 0, 2); }
static void s7_csq(const struct at_cmd *c) { sim_csq(c, s7.cfun == 1, 0); }
static void s7_creg(const struct at_cmd *c) { sim_reg(c, "+CREG", &s7.creg, s7.cfun == 1 ? 1 : 0); }
static void s7_cgmi(const struct at_cmd *c) { sim_ident(c, "SIMCOM_Ltd"); }
static void s7_cgmm(const struct at_cmd *c) { sim_ident(c, "SIMCOM_SIM7000E"); }
static void s7_cgmr(const struct at_cmd *c) { sim_ident(c, "Revision:1351B03SIM7000E"); }
static void s7_gsn(const struct at_cmd *c) { sim_ident(c, "869951030000001"); }

/* the network context goes with the radio or the attachment */
static void context_lost(void)
{
	s7_shut_all();
	s7.st = PDP_DEACT;
}

static bool set_cgatt(int v)
{
	if (v == 0 && s7.st != IP_INITIAL)
		context_lost();
	return true;
}

static void s7_cgatt(const struct at_cmd *c)
{
	sim_switch(c, "+CGATT", s7.cfun == 1 ? 1 : 0, set_cgatt);
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

static void s7_cfun(const struct at_cmd *c)
{
	/* 0, 1, 4, 5, 6, 7 */
	sim_cfun(c, "+CFUN: (0,1,4,5,6,7),(0,1)", 0xf3, s7.cfun, set_cfun);
}

static void s7_cgdcont(const struct at_cmd *c)
{
	sim_cgdcont(c, s7.apn, sizeof s7.apn, 24, ",0,0,0,0",
		    "+CGDCONT: (1-24),\"IP\",,,(0-2),(0-4),(0,1),(0,1)");
}

static void cgact_read(void)
{
	at_info("+CGACT: 1,%d", s7_net_ready() ? 1 : 0);
}

static bool cgact_write(const struct at_cmd *c)
{
	long st, cid;
	if (c->na < 1 || c->na > 2 || !at_int(&c->a[0], 0, 1, &st) ||
	    (c->na == 2 && !at_int(&c->a[1], 1, 24, &cid)))
		return false;
	if (st == 0 && s7_net_ready())
		context_lost();
	return true;
}

static void s7_cgact(const struct at_cmd *c)
{
	sim_param(c, cgact_read, "+CGACT: (0,1)", cgact_write);
}

static void ifc_read(void)
{
	at_info("+IFC: %d,%d", s7.ifc_rx, s7.ifc_tx);
}

/* 0 (none) or 2 (RTS/CTS) each way; the second defaults to 2 */
static bool ifc_write(const struct at_cmd *c)
{
	long rx, tx = 2;
	if (c->na < 1 || c->na > 2 || !at_int(&c->a[0], 0, 2, &rx) || rx == 1 ||
	    (c->na == 2 && (!at_int(&c->a[1], 0, 2, &tx) || tx == 1)))
		return false;
	s7.ifc_rx = (int)rx;
	s7.ifc_tx = (int)tx;
	return true;
}

static void s7_ifc(const struct at_cmd *c)
{
	sim_param(c, ifc_read, "+IFC: (0,2),(0,2)", ifc_write);
}

static void s7_ipr(const struct at_cmd *c)
{
	static const long rates[] = { 0, 300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600,
				      115200, 230400, 921600, 2000000, 2900000, 3000000, 3200000,
				      3686400, 4000000 };
	sim_ipr(c, &s7.ipr, rates, sizeof rates / sizeof rates[0], 4000000,
		"+IPR: (0,300,600,1200,2400,4800,9600,19200,38400,57600,115200,230400,921600,2000000,2900000,3000000,3200000,3686400,4000000)");
}

const struct sim_cmd s7_general_cmds[] = {
	{ "+CMEE", s7_cmee, false },		{ "+CGATT", s7_cgatt, false },
	{ "+CSQ", s7_csq, false },		{ "+CREG", s7_creg, false },
	{ "+CFUN", s7_cfun, false },		{ "+CGDCONT", s7_cgdcont, false },
	{ "+CGACT", s7_cgact, false },		{ "+CGMI", s7_cgmi, false },
	{ "+CGMM", s7_cgmm, false },		{ "+CGMR", s7_cgmr, false },
	{ "+GSN", s7_gsn, false },		{ "+CGSN", s7_gsn, false },
	{ "+IFC", s7_ifc, false },		{ "+IPR", s7_ipr, false },
	{ NULL, NULL, false },
};

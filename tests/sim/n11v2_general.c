/* N11V2 identity, general and PPP/attach commands (chapters 2, 3, 5). */
#include "n11v2.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


/* ---- identity and general (the logic is general.c's) ---- */
static void n11_cgmm(const struct at_cmd *c) { sim_ident(c, "+CGMM: N11 V2"); }
static void n11_cgmi(const struct at_cmd *c) { sim_ident(c, "+CGMI: Neoway Corp Ltd"); }
static void n11_cgmr(const struct at_cmd *c) { sim_ident(c, "+CGMR: N11_1167_SQS63002_V003"); }
static void n11_gmr(const struct at_cmd *c) { sim_ident(c, "+GMR:N11_1167_SQS63002_V003"); }
static void n11_cgsn(const struct at_cmd *c) { sim_ident(c, "+CGSN:355910044336974"); }
static void n11_cimi(const struct at_cmd *c) { sim_ident(c, "+CIMI: 460022201575463"); }
static void n11_ccid(const struct at_cmd *c) { sim_ident(c, "+CCID: 89860002190810001367"); }
static void n11_cmee(const struct at_cmd *c) { sim_setting(c, "+CMEE", &AT.cmee, 0, 2); }
static void n11_csq(const struct at_cmd *c) { sim_csq(c, n11.cfun == 1, 99); }
static void n11_creg(const struct at_cmd *c) { sim_reg(c, "+CREG", &n11.creg, n11.cfun == 1 ? 1 : 0); }

static void n11_cgreg(const struct at_cmd *c)
{
	sim_reg(c, "+CGREG", &n11.cgreg, n11.cfun == 1 && n11.cgatt ? 1 : 0);
}

static void set_cfun(int fun)
{
	if (fun != 1 && n11.ppp)
		n11_ppp_down(false);
	n11.cfun = fun;
}

static void n11_cfun(const struct at_cmd *c)
{
	/* 0, 1, 4 */
	sim_cfun(c, "+CFUN: (0,1,4),(0,1)", 0x13, n11.cfun, set_cfun);
}

static void n11_cgdcont(const struct at_cmd *c)
{
	sim_cgdcont(c, n11.apn, sizeof n11.apn, 7, ",0,0", "+CGDCONT: (1-7),\"IP\",,,(0-2),(0-4)");
}

static void n11_ipr(const struct at_cmd *c)
{
	sim_ipr(c, &n11.ipr, NULL, 0, 460800,
		"+IPR: (0,1200,2400,4800,9600,19200,38400,57600,115200,230400,460800)");
}

/* ---- PPP / attach ---- */
static void n11_netapn(const struct at_cmd *c)
{
	if (c->type == AT_READ) {
		at_info("+NETAPN:\"%s\",\"%s\",\"%s\"", n11.apn, n11.user, n11.pwd);
	} else if (c->type == AT_WRITE && c->na == 3 && c->a[0].quoted && c->a[1].quoted &&
		   c->a[2].quoted) {
		sim_strlcpy(n11.apn, c->a[0].s, sizeof n11.apn);
		sim_strlcpy(n11.user, c->a[1].s, sizeof n11.user);
		sim_strlcpy(n11.pwd, c->a[2].s, sizeof n11.pwd);
	} else {
		at_plain_error(); /* "pair of quotation marks is required" */
		return;
	}
	at_ok();
}

static void n11_xiic(const struct at_cmd *c)
{
	long v;
	if (c->type == AT_READ) {
		if (n11.ppp)
			at_info("+XIIC:    1,%s", sim_local_ip());
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
		if (!n11.cgatt || n11.cfun != 1) {
			at_error(3);
			return;
		}
		n11.ppp = true;
	} else if (n11.ppp) {
		n11_ppp_down(false);
	}
	at_ok();
}

static bool set_cgatt(int v)
{
	if (v == 0 && n11.ppp) {
		n11_ppp_down(false);
		at_info("GPRS DISCONNECTION");
	}
	n11.cgatt = v;
	return true;
}

static void n11_cgatt(const struct at_cmd *c) { sim_switch(c, "+CGATT", n11.cgatt, set_cgatt); }

const struct sim_cmd n11_general_cmds[] = {
	{ "+CGMM", n11_cgmm, false },		{ "+CGMI", n11_cgmi, false },
	{ "+CGMR", n11_cgmr, false },		{ "+GMR", n11_gmr, false },
	{ "+CGSN", n11_cgsn, false },		{ "+CIMI", n11_cimi, false },
	{ "+CCID", n11_ccid, false },		{ "+CMEE", n11_cmee, false },
	{ "+CSQ", n11_csq, false },		{ "+CREG", n11_creg, false },
	{ "+CGREG", n11_cgreg, false },		{ "+CFUN", n11_cfun, false },
	{ "+CGDCONT", n11_cgdcont, false },	{ "+IPR", n11_ipr, false },
	{ "+NETAPN", n11_netapn, false },	{ "+XIIC", n11_xiic, false },
	{ "+CGATT", n11_cgatt, false },
	{ NULL, NULL, false },
};

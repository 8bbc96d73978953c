/* SIM7000 general commands: error reporting, SIM, attach, radio, identity,
 * serial port settings. */
#include "sim7000.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


/* ---- general commands ---- */
void s7_cmee(const struct at_cmd *c)
{
	s7_setting(c, "+CMEE", &AT.cmee, 0, 2);
}

void s7_cpin(const struct at_cmd *c)
{
	if (c->type == AT_READ)
		at_info("+CPIN: READY");
	else if (c->type != AT_TEST) {
		at_error(3);
		return;
	}
	at_ok();
}

void s7_cgatt(const struct at_cmd *c)
{
	long v;
	if (c->type == AT_READ) {
		at_info("+CGATT: %d", s7.cfun == 1 ? 1 : 0);
	} else if (c->type == AT_TEST) {
		at_info("+CGATT: (0,1)");
	} else if (c->type == AT_WRITE && c->na == 1 && at_int(&c->a[0], 0, 1, &v)) {
		if (v == 0 && s7.st != IP_INITIAL) {
			s7_shut_all();
			s7.st = PDP_DEACT;
		}
	} else {
		at_error(50);
		return;
	}
	at_ok();
}

void s7_csq(const struct at_cmd *c)
{
	if (c->type == AT_TEST)
		at_info("+CSQ: (0-31,99),(0-7,99)");
	else if (c->type == AT_EXEC)
		at_info("+CSQ: %d,0", s7.cfun == 1 ? 20 : 99);
	else {
		at_error(50);
		return;
	}
	at_ok();
}

void s7_creg(const struct at_cmd *c)
{
	if (c->type == AT_READ)
		at_info("+CREG: %d,%d", s7.creg, s7.cfun == 1 ? 1 : 0);
	else if (c->type == AT_TEST)
		at_info("+CREG: (0-2)");
	else if (c->type == AT_WRITE) {
		s7_setting(c, "+CREG", &s7.creg, 0, 2);
		return;
	} else {
		at_error(50);
		return;
	}
	at_ok();
}

void s7_cfun(const struct at_cmd *c)
{
	long v, rst = 0;
	if (c->type == AT_READ) {
		at_info("+CFUN: %d", s7.cfun);
	} else if (c->type == AT_TEST) {
		at_info("+CFUN: (0,1,4,5,6,7),(0,1)");
	} else if (c->type == AT_WRITE && c->na >= 1 && c->na <= 2 && at_int(&c->a[0], 0, 7, &v) &&
		   v != 2 && v != 3 && (c->na == 1 || at_int(&c->a[1], 0, 1, &rst))) {
		if (v != 1) {
			s7_shut_all();
			if (s7.st != IP_INITIAL)
				s7.st = PDP_DEACT;
		}
		s7.cfun = (int)v == 1 ? 1 : (int)v;
	} else {
		at_error(50);
		return;
	}
	at_ok();
}

void s7_cgdcont(const struct at_cmd *c)
{
	long cid;
	if (c->type == AT_READ)
		at_info("+CGDCONT: 1,\"IP\",\"%s\",\"0.0.0.0\",0,0,0,0", s7.apn);
	else if (c->type == AT_TEST)
		at_info("+CGDCONT: (1-24),\"IP\",,,(0-2),(0-4),(0,1),(0,1)");
	else if (c->type == AT_WRITE && c->na >= 1 && at_int(&c->a[0], 1, 24, &cid)) {
		if (cid == 1 && c->na >= 3)
			sim_strlcpy(s7.apn, c->a[2].s, sizeof s7.apn);
	} else {
		at_error(50);
		return;
	}
	at_ok();
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
		if (st == 0 && s7_net_ready()) {
			s7_shut_all();
			s7.st = PDP_DEACT;
		}
	} else {
		at_error(50);
		return;
	}
	at_ok();
}

static void s7_ident(const struct at_cmd *c, const char *text)
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

void s7_cgmi(const struct at_cmd *c) { s7_ident(c, "SIMCOM_Ltd"); }
void s7_cgmm(const struct at_cmd *c) { s7_ident(c, "SIMCOM_SIM7000E"); }
void s7_cgmr(const struct at_cmd *c) { s7_ident(c, "Revision:1351B03SIM7000E"); }
void s7_gsn(const struct at_cmd *c) { s7_ident(c, "869951030000001"); }

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
	long v;
	if (c->type == AT_READ) {
		at_info("+IPR: %ld", s7.ipr);
	} else if (c->type == AT_TEST) {
		at_info("+IPR: (0,300,600,1200,2400,4800,9600,19200,38400,57600,115200,230400,921600,2000000,2900000,3000000,3200000,3686400,4000000)");
	} else if (c->type == AT_WRITE && c->na == 1 && at_int(&c->a[0], 0, 4000000, &v)) {
		bool ok = false;
		for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++)
			ok |= rates[i] == v;
		if (!ok) {
			at_error(50);
			return;
		}
		s7.ipr = v; /* the pty's pace is --baud; the rate is only remembered */
	} else {
		at_error(50);
		return;
	}
	at_ok();
}

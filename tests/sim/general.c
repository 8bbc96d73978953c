/* Commands and helpers whose logic every model shares (27.007 style
 * settings, identity, SIM, signal, registration, functionality, PDP
 * context, port rate, hex data, DNS delay); the model gives the names,
 * ranges and answer texts its manual shows. */
#include "engine.h"

#include <stdio.h>
#include <string.h>

/* ---- settings ---- */
void sim_setting(const struct at_cmd *c, const char *name, int *var, long lo, long hi)
{
	long v;
	if (c->type == AT_READ)
		at_info("%s: %d", name, *var);
	else if (c->type == AT_TEST)
		at_info("%s: (%ld-%ld)", name, lo, hi);
	else if (c->type == AT_WRITE && c->na == 1 && at_int(&c->a[0], lo, hi, &v))
		*var = (int)v;
	else {
		at_error(50);
		return;
	}
	at_ok();
}

static void settings_read(const char *name, const int *vars, int n)
{
	char t[160];
	int k = snprintf(t, sizeof t, "%s: ", name);
	for (int i = 0; i < n && k > 0 && (size_t)k < sizeof t; i++)
		k += snprintf(t + k, sizeof t - (size_t)k, i ? ",%d" : "%d", vars[i]);
	at_info("%s", t);
}

/* the values change only when every argument is valid */
static bool settings_write(const struct at_cmd *c, int *vars, const long *lo, const long *hi,
			   int n, bool skip_empty)
{
	int v[AT_MAXARGS];
	if (c->na < 1 || c->na > n)
		return false;
	memcpy(v, vars, sizeof v[0] * (size_t)n);
	for (int i = 0; i < c->na; i++) {
		long x;
		if (skip_empty && !c->a[i].s[0])
			continue;
		if (!at_int(&c->a[i], lo[i], hi[i], &x))
			return false;
		v[i] = (int)x;
	}
	memcpy(vars, v, sizeof v[0] * (size_t)n);
	return true;
}

void sim_settings(const struct at_cmd *c, const char *name, const char *test, int *vars,
		  const long *lo, const long *hi, int n, bool skip_empty)
{
	if (c->type == AT_READ) {
		settings_read(name, vars, n);
	} else if (c->type == AT_TEST) {
		at_info("%s", test);
	} else if (c->type != AT_WRITE || !settings_write(c, vars, lo, hi, n, skip_empty)) {
		at_error(50);
		return;
	}
	at_ok();
}

void sim_param(const struct at_cmd *c, void (*read)(void), const char *test,
	       bool (*write)(const struct at_cmd *c))
{
	if (c->type == AT_READ) {
		read();
	} else if (c->type == AT_TEST) {
		at_info("%s", test);
	} else if (c->type != AT_WRITE || !write(c)) {
		at_error(50);
		return;
	}
	at_ok();
}

bool sim_exec_only(const struct at_cmd *c)
{
	if (c->type == AT_TEST)
		at_ok();
	else if (c->type != AT_EXEC)
		at_error(50);
	return c->type == AT_EXEC;
}

void sim_switch(const struct at_cmd *c, const char *name, int cur, bool (*set)(int v))
{
	long v;
	if (c->type == AT_READ) {
		at_info("%s: %d", name, cur);
	} else if (c->type == AT_TEST) {
		at_info("%s: (0,1)", name);
	} else if (c->type == AT_WRITE && c->na == 1 && at_int(&c->a[0], 0, 1, &v)) {
		if (!set((int)v))
			return;
	} else {
		at_error(50);
		return;
	}
	at_ok();
}

/* ---- identity, SIM, signal, registration ---- */
void sim_ident(const struct at_cmd *c, const char *text)
{
	if (!sim_exec_only(c))
		return;
	at_info("%s", text);
	at_ok();
}

void sim_cpin(const struct at_cmd *c)
{
	if (c->type == AT_READ)
		at_info("+CPIN: READY");
	else if (c->type != AT_TEST) {
		at_error(3);
		return;
	}
	at_ok();
}

void sim_csq(const struct at_cmd *c, bool radio_on, int ber)
{
	if (c->type == AT_TEST)
		at_info("+CSQ: (0-31,99),(0-7,99)");
	else if (c->type == AT_EXEC)
		at_info("+CSQ: %d,%d", radio_on ? 20 : 99, ber);
	else {
		at_error(50);
		return;
	}
	at_ok();
}

void sim_reg(const struct at_cmd *c, const char *name, int *var, int stat)
{
	if (c->type == AT_READ) {
		at_info("%s: %d,%d", name, *var, stat);
		at_ok();
	} else {
		sim_setting(c, name, var, 0, 2);
	}
}

/* ---- functionality, PDP context, port rate ---- */
void sim_cfun(const struct at_cmd *c, const char *test, unsigned valid, int cur,
	      void (*set)(int fun))
{
	long v, rst = 0;
	if (c->type == AT_READ) {
		at_info("+CFUN: %d", cur);
	} else if (c->type == AT_TEST) {
		at_info("%s", test);
	} else if (c->type == AT_WRITE && c->na >= 1 && c->na <= 2 && at_int(&c->a[0], 0, 31, &v) &&
		   (valid >> v & 1) && (c->na == 1 || at_int(&c->a[1], 0, 1, &rst))) {
		set((int)v);
	} else {
		at_error(50);
		return;
	}
	at_ok();
}

void sim_cgdcont(const struct at_cmd *c, char *apn, size_t size, long maxcid,
		 const char *read_tail, const char *test)
{
	long cid;
	if (c->type == AT_READ)
		at_info("+CGDCONT: 1,\"IP\",\"%s\",\"0.0.0.0\"%s", apn, read_tail);
	else if (c->type == AT_TEST)
		at_info("%s", test);
	else if (c->type == AT_WRITE && c->na >= 1 && at_int(&c->a[0], 1, maxcid, &cid)) {
		if (cid == 1 && c->na >= 3)
			sim_strlcpy(apn, c->a[2].s, size);
	} else {
		at_error(50);
		return;
	}
	at_ok();
}

static bool rate_listed(long v, const long *rates, size_t n)
{
	bool ok = rates == NULL;
	for (size_t i = 0; i < n; i++)
		ok |= rates[i] == v;
	return ok;
}

void sim_ipr(const struct at_cmd *c, long *ipr, const long *rates, size_t n, long max,
	     const char *test)
{
	long v;
	if (c->type == AT_READ)
		at_info("+IPR: %ld", *ipr);
	else if (c->type == AT_TEST)
		at_info("%s", test);
	else if (c->type == AT_WRITE && c->na == 1 && at_int(&c->a[0], 0, max, &v) &&
		 rate_listed(v, rates, n))
		*ipr = v; /* the pty's pace is --baud; the rate is only remembered */
	else {
		at_error(50);
		return;
	}
	at_ok();
}

/* ---- arguments and data ---- */
bool sim_link_arg(const struct at_cmd *c, int i, int nlinks, long *n)
{
	return c->na > i && at_int(&c->a[i], 0, nlinks - 1, n);
}

void sim_hex_to(struct sim_buf *b, const unsigned char *p, size_t n)
{
	static const char d[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		char h[2] = { d[p[i] >> 4], d[p[i] & 15] };
		sim_buf_add(b, h, 2);
	}
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long sim_unhex(unsigned char *p, size_t n)
{
	if (n % 2)
		return -1;
	for (size_t i = 0; i < n; i += 2) {
		int hi = hexval(p[i]), lo = hexval(p[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		p[i / 2] = (unsigned char)(hi << 4 | lo);
	}
	return (long)(n / 2);
}

/* ---- DNS ---- */
static void dns_cb(struct sim_link *l, const void *p, size_t n)
{
	(void)l;
	char name[256];
	if (n >= sizeof name)
		n = sizeof name - 1;
	memcpy(name, p, n);
	name[n] = 0;
	E.m->dns_answer(name);
}

void sim_dns_later(const char *name)
{
	sim_delay(S.o.latency_ms / 1000.0 * 2, dns_cb, NULL, name, strlen(name));
}

/* AT front end: command line assembly, echo, argument splitting and the
 * V.25ter response framing (ATV1: <CR><LF>text<CR><LF>; ATV0: numeric). */
#include "sim.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct at_state AT;
struct sim_buf R;

void at_reset(void)
{
	AT.echo = true;
	AT.v1 = true;
	AT.cmee = 0;
	AT.async = false;
	AT.discarding = false;
}

static const char *find_at(const char *line, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++)
		if ((line[i] == 'A' || line[i] == 'a') && (line[i + 1] == 'T' || line[i + 1] == 't'))
			return line + i;
	return NULL;
}

bool at_feed_line(void (*dispatch)(const char *line, size_t n))
{
	/* stray LF (from CR LF line ends) and NUL are not part of a command */
	size_t skip = 0;
	while (skip < S.in.len && (S.in.data[skip] == '\n' || S.in.data[skip] == 0))
		skip++;
	if (skip)
		sim_buf_consume(&S.in, skip);
	unsigned char *cr = memchr(S.in.data, '\r', S.in.len);
	if (!cr) {
		if (S.in.len > AT_MAXLINE) {
			sim_logv("over-long line discarded (%zu bytes so far)", S.in.len);
			S.in.len = 0;
			AT.discarding = true;
		}
		return false;
	}
	size_t n = (size_t)(cr - S.in.data);
	char line[AT_MAXLINE + 2];
	bool toolong = AT.discarding || n > AT_MAXLINE;
	if (!toolong)
		memcpy(line, S.in.data, n);
	sim_buf_consume(&S.in, n + 1);
	AT.discarding = false;
	if (toolong) {
		sim_record_command("(over-long line)", 16);
		sim_cmd_begin();
		R.len = 0;
		at_plain_error();
		at_finish();
		return true;
	}
	line[n] = 0;
	if (AT.echo) {
		sim_out(line, n);
		sim_out("\r", 1);
	}
	const char *at = find_at(line, n);
	if (!at)
		return true; /* not a command: a module ignores it */
	size_t an = n - (size_t)(at - line);
	sim_record_command(at, an);
	sim_cmd_begin();
	R.len = 0;
	AT.async = false;
	dispatch(at, an);
	if (!AT.async)
		at_finish();
	return true;
}

static void upcase(char *s)
{
	for (; *s; s++)
		*s = (char)toupper((unsigned char)*s);
}

static bool parse(const char *body, size_t n, struct at_cmd *c, bool esc)
{
	memset(c, 0, sizeof *c);
	size_t i = 0, k = 0;
	if (n == 0)
		return true;
	if (body[0] == '+' || body[0] == '$' || body[0] == '^') {
		while (i < n && body[i] != '=' && body[i] != '?' && body[i] != ';' && k < sizeof c->name - 1)
			c->name[k++] = body[i++];
	} else if (body[0] == '&') {
		c->name[k++] = body[i++];
		if (i < n)
			c->name[k++] = body[i++];
	} else {
		c->name[k++] = body[i++];
	}
	c->name[k] = 0;
	upcase(c->name);
	c->rest = body + i;
	if (i < n && body[i] == '=' && i + 1 < n && body[i + 1] == '?') {
		c->type = AT_TEST;
		return i + 2 == n;
	}
	if (i < n && body[i] == '?') {
		c->type = AT_READ;
		return i + 1 == n;
	}
	if (i >= n || body[i] != '=') {
		c->type = AT_EXEC;
		return true;
	}
	c->type = AT_WRITE;
	i++;
	for (;;) {
		if (c->na >= AT_MAXARGS)
			return false;
		struct at_arg *a = &c->a[c->na++];
		size_t m = 0;
		while (i < n && body[i] == ' ')
			i++;
		if (i < n && body[i] == '"') {
			a->quoted = true;
			i++;
			while (i < n && body[i] != '"') {
				if (m >= sizeof a->s - 1)
					return false;
				if (esc && body[i] == '\\' && i + 1 < n) {
					char e = body[i + 1];
					a->s[m++] = e == 'r' ? '\r' : e == 'n' ? '\n' : e;
					i += 2;
					continue;
				}
				a->s[m++] = body[i++];
			}
			if (i >= n)
				return false; /* unterminated string */
			i++;
			while (i < n && body[i] == ' ')
				i++;
		} else {
			while (i < n && body[i] != ',') {
				if (m >= sizeof a->s - 1 || body[i] == '"')
					return false;
				a->s[m++] = body[i++];
			}
			while (m && a->s[m - 1] == ' ')
				m--;
		}
		a->s[m] = 0;
		if (i >= n)
			return true;
		if (body[i] != ',')
			return false;
		i++;
	}
}

bool at_parse(const char *body, size_t n, struct at_cmd *c)
{
	return parse(body, n, c, false);
}

bool at_parse_escaped(const char *body, size_t n, struct at_cmd *c)
{
	return parse(body, n, c, true);
}

bool at_int(const struct at_arg *a, long lo, long hi, long *out)
{
	if (!a || !a->s[0])
		return false;
	char *end;
	long v = strtol(a->s, &end, 10);
	if (*end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

void at_info(const char *fmt, ...)
{
	char tmp[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (AT.v1)
		sim_buf_addf(&R, "\r\n%s\r\n", tmp);
	else
		sim_buf_addf(&R, "%s\r\n", tmp);
}

void at_raw(const void *p, size_t n)
{
	sim_buf_add(&R, p, n);
}

void at_final(const char *text)
{
	at_info("%s", text);
}

void at_ok(void)
{
	if (AT.v1)
		sim_buf_addf(&R, "\r\nOK\r\n");
	else
		sim_buf_addf(&R, "0\r");
}

void at_plain_error(void)
{
	sim_count_error();
	if (AT.v1)
		sim_buf_addf(&R, "\r\nERROR\r\n");
	else
		sim_buf_addf(&R, "4\r");
}

static const char *cme_text(int code)
{
	switch (code) {
	case 3: return "operation not allowed";
	case 4: return "operation not supported";
	case 10: return "SIM not inserted";
	case 50: return "Incorrect parameters";
	case 100: return "unknown";
	default: return "unknown";
	}
}

void at_error(int cme)
{
	if (AT.cmee == 0) {
		at_plain_error();
		return;
	}
	sim_count_error();
	if (AT.cmee == 1)
		at_info("+CME ERROR: %d", cme);
	else
		at_info("+CME ERROR: %s", cme_text(cme));
}

void at_finish(void)
{
	if (R.len)
		sim_out(R.data, R.len);
	R.len = 0;
	sim_cmd_end();
}

void at_urc(bool droppable, const char *fmt, ...)
{
	char tmp[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	char line[2100];
	int n = snprintf(line, sizeof line, AT.v1 ? "\r\n%s\r\n" : "%s\r\n", tmp);
	sim_urc(line, (size_t)n, droppable);
}

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

/* Length of the next command of a combined line (V.25ter 5.2.1): an
 * extended command runs to an unquoted ';'; a basic one is a letter (or
 * '&' and a letter) and its digits; an S-parameter is Sn, Sn? or Sn=m;
 * D takes the rest of the line (its dial string). */
static size_t next_command(const char *p, size_t n)
{
	size_t i = 0;
	if (p[0] == '+' || p[0] == '$' || p[0] == '^') {
		bool q = false;
		for (; i < n; i++) {
			if (q && p[i] == '\\' && i + 1 < n)
				i++;
			else if (p[i] == '"')
				q = !q;
			else if (p[i] == ';' && !q)
				break;
		}
		return i;
	}
	if (p[0] == 'D' || p[0] == 'd')
		return n; /* the dial string runs to the end of the line */
	if (p[0] == '&' && n > 1)
		i = 2;
	else
		i = 1;
	bool sreg = p[0] == 'S' || p[0] == 's';
	while (i < n && p[i] >= '0' && p[i] <= '9')
		i++;
	if (sreg && i < n && p[i] == '?')
		return i + 1;
	if (sreg && i < n && p[i] == '=') {
		i++;
		while (i < n && p[i] >= '0' && p[i] <= '9')
			i++;
	}
	return i;
}

static bool ends_with(const struct sim_buf *b, const char *t)
{
	size_t k = strlen(t);
	return b->len >= k && memcmp(b->data + b->len - k, t, k) == 0;
}

/* Runs every command of the line (after "AT"); one final result for all:
 * an intermediate OK is dropped, anything else ends the line there. */
static void run_line(const char *body, size_t n, void (*dispatch)(const char *line, size_t n))
{
	char cmd[AT_MAXLINE + 4] = "AT";
	if (n == 0) {
		dispatch(cmd, 2);
		return;
	}
	size_t i = 0;
	while (i < n) {
		size_t k = next_command(body + i, n - i);
		memcpy(cmd + 2, body + i, k);
		cmd[k + 2] = 0; /* basic commands read their parameter as a string */
		i += k;
		if (i < n && body[i] == ';')
			i++;
		dispatch(cmd, k + 2);
		if (i >= n || AT.async)
			return;
		const char *ok = AT.v1 ? "\r\nOK\r\n" : "0\r";
		if (!ends_with(&R, ok))
			return;
		R.len -= strlen(ok);
	}
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
	/* S5 (backspace, 8) edits the line: the echo above showed it as typed */
	size_t w = 0;
	for (size_t r = 0; r < n; r++) {
		if (line[r] == 8) {
			if (w)
				w--;
		} else {
			line[w++] = line[r];
		}
	}
	n = w;
	line[n] = 0;
	const char *at = find_at(line, n);
	if (!at)
		return true; /* not a command: a module ignores it */
	size_t an = n - (size_t)(at - line);
	sim_record_command(at, an);
	sim_cmd_begin();
	R.len = 0;
	AT.async = false;
	if (AT.maxline && an - 2 > AT.maxline)
		at_plain_error(); /* "none of the commands will be executed" */
	else
		run_line(at + 2, an - 2, dispatch);
	if (!AT.async)
		at_finish();
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
	size_t n = R.len;
	R.len = 0; /* the bytes stay valid until R is written to again */
	sim_cmd_finish(R.data, n);
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

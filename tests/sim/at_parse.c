/* AT command line parsing: name, type (exec, read, test, write) and the
 * comma-separated arguments, quoted or not. Pure: no I/O, no globals, so it
 * is unit tested and fuzzed on its own (test_at_parse.c, fuzz_at_parse.c). */
#include "sim.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

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


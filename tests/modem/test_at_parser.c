/* The AT parser fed byte by byte and in random (seeded) splits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "at_parser.h"

#define MAX_EVENTS 64

struct event {
	char kind; /* 'L' line, 'P' prompt, 'D' payload */
	size_t len;
	uint8_t data[AT_PAYLOAD_MAX];
};

struct rec {
	struct event ev[MAX_EVENTS];
	size_t n;
};

/* Announces a payload after "+CIPRXGET: 2,<id>,<len>,<rest>" and
 * "+TCPRECV: <id>,<len>," style lines, like a dialect would. */
static size_t on_line(void *ctx, const char *line, size_t len)
{
	struct rec *r = ctx;
	assert_true(r->n < MAX_EVENTS);
	struct event *e = &r->ev[r->n++];
	e->kind = 'L';
	e->len = len;
	memcpy(e->data, line, len);
	assert_int_equal(strlen(line), len);
	unsigned id, n, rest;
	if (sscanf(line, "+CIPRXGET: 2,%u,%u,%u", &id, &n, &rest) == 3)
		return n;
	return 0;
}

static void on_prompt(void *ctx)
{
	struct rec *r = ctx;
	assert_true(r->n < MAX_EVENTS);
	r->ev[r->n++].kind = 'P';
}

static void on_payload(void *ctx, const uint8_t *data, size_t len)
{
	struct rec *r = ctx;
	assert_true(r->n < MAX_EVENTS);
	struct event *e = &r->ev[r->n++];
	e->kind = 'D';
	e->len = len;
	memcpy(e->data, data, len);
}

/* N11V2 style: "+TCPRECV:<n>,<len>,<data>" with the data inside the line. */
static size_t on_inline(void *ctx, const char *line, size_t len)
{
	(void)ctx;
	unsigned id, n;
	char comma;
	assert_int_equal(line[len - 1], ',');
	if (sscanf(line, "+TCPRECV:%u,%u%c", &id, &n, &comma) == 3 && comma == ',' &&
	    strchr(strchr(line, ',') + 1, ',') == line + len - 1)
		return n;
	return 0;
}

static const struct at_parser_ops ops = { on_line, on_prompt, on_payload, on_inline };

static const uint8_t payload[] = "ab\r\nOK\r\nERROR\r\n> \x1a\x00zz\r\n+CIPRXGET: 1,0\r\n";
#define PAYLOAD_LEN (sizeof(payload) - 1)

/* A CIPRXGET=2 exchange with URCs before, inside (between echo and reply)
 * and after, a prompt, and junk empty lines. */
static size_t build_stream(uint8_t *out)
{
	size_t n = 0;
#define PUT(s) (memcpy(out + n, s, sizeof(s) - 1), n += sizeof(s) - 1)
	PUT("\r\n+CIPRXGET: 1,3\r\n");
	PUT("AT+CIPRXGET=2,3,1460\r\r\n"); /* echo */
	PUT("\r\n+CIPRXGET: 1,4\r\n");
	n += (size_t)sprintf((char *)out + n, "\r\n+CIPRXGET: 2,3,%zu,7\r\n", PAYLOAD_LEN);
	memcpy(out + n, payload, PAYLOAD_LEN);
	n += PAYLOAD_LEN;
	PUT("\r\nOK\r\n");
	PUT("\r\n> ");
	PUT("\r\nDATA ACCEPT:3,5\r\n");
#undef PUT
	return n;
}

static void check_events(const struct rec *r)
{
	static const char *lines[] = { "+CIPRXGET: 1,3", "AT+CIPRXGET=2,3,1460", "+CIPRXGET: 1,4" };
	assert_int_equal(r->n, 8);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(r->ev[i].kind, 'L');
		assert_int_equal(r->ev[i].len, strlen(lines[i]));
		assert_memory_equal(r->ev[i].data, lines[i], strlen(lines[i]));
	}
	assert_int_equal(r->ev[3].kind, 'L');
	assert_int_equal(r->ev[4].kind, 'D');
	assert_int_equal(r->ev[4].len, PAYLOAD_LEN);
	assert_memory_equal(r->ev[4].data, payload, PAYLOAD_LEN);
	assert_int_equal(r->ev[5].kind, 'L');
	assert_memory_equal(r->ev[5].data, "OK", 2);
	assert_int_equal(r->ev[6].kind, 'P');
	assert_int_equal(r->ev[7].kind, 'L');
	assert_memory_equal(r->ev[7].data, "DATA ACCEPT:3,5", 15);
}

static void test_whole(void **state)
{
	(void)state;
	static uint8_t buf[4096];
	static struct rec r;
	static struct at_parser p;
	memset(&r, 0, sizeof(r));
	size_t n = build_stream(buf);
	at_parser_init(&p, &ops, &r);
	at_parser_feed(&p, buf, n);
	check_events(&r);
	assert_int_equal(p.garbage_lines, 0);
}

static void test_byte_by_byte(void **state)
{
	(void)state;
	static uint8_t buf[4096];
	static struct rec r;
	static struct at_parser p;
	memset(&r, 0, sizeof(r));
	size_t n = build_stream(buf);
	at_parser_init(&p, &ops, &r);
	for (size_t i = 0; i < n; i++)
		at_parser_feed(&p, buf + i, 1);
	check_events(&r);
}

static void test_random_splits(void **state)
{
	(void)state;
	static uint8_t buf[4096];
	static struct rec r;
	static struct at_parser p;
	size_t n = build_stream(buf);
	srand(12345);
	for (int round = 0; round < 500; round++) {
		memset(&r, 0, sizeof(r));
		at_parser_init(&p, &ops, &r);
		size_t i = 0;
		while (i < n) {
			size_t k = 1 + (size_t)rand() % 40;
			if (k > n - i)
				k = n - i;
			at_parser_feed(&p, buf + i, k);
			i += k;
		}
		check_events(&r);
	}
}

static void test_overlong_and_garbage(void **state)
{
	(void)state;
	static uint8_t buf[8192];
	static struct rec r;
	static struct at_parser p;
	memset(&r, 0, sizeof(r));
	size_t n = 0;
	memset(buf, 'x', AT_LINE_MAX + 100);
	n = AT_LINE_MAX + 100;
	memcpy(buf + n, "\r\nOK\r\n", 6);
	n += 6;
	memcpy(buf + n, "\xff\xfe\x01garbage\r\n", 12);
	n += 12;
	memcpy(buf + n, "ERROR\r\n", 7);
	n += 7;
	at_parser_init(&p, &ops, &r);
	at_parser_feed(&p, buf, n);
	assert_int_equal(p.garbage_lines, 2);
	assert_int_equal(r.n, 2);
	assert_memory_equal(r.ev[0].data, "OK", 2);
	assert_memory_equal(r.ev[1].data, "ERROR", 5);
}

/* A line of exactly AT_LINE_MAX bytes is still a line. */
static void test_max_line(void **state)
{
	(void)state;
	static uint8_t buf[AT_LINE_MAX + 8];
	static struct rec r;
	static struct at_parser p;
	memset(&r, 0, sizeof(r));
	memset(buf, 'y', AT_LINE_MAX);
	memcpy(buf + AT_LINE_MAX, "\r\n", 2);
	at_parser_init(&p, &ops, &r);
	at_parser_feed(&p, buf, AT_LINE_MAX + 2);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.ev[0].len, AT_LINE_MAX);
	assert_int_equal(p.garbage_lines, 0);
}

/* A zero-length read announces no payload; the next line follows. */
static void test_empty_payload(void **state)
{
	(void)state;
	static struct rec r;
	static struct at_parser p;
	memset(&r, 0, sizeof(r));
	const char *s = "+CIPRXGET: 2,0,0,0\r\n\r\nOK\r\n";
	at_parser_init(&p, &ops, &r);
	at_parser_feed(&p, (const uint8_t *)s, strlen(s));
	assert_int_equal(r.n, 2);
	assert_memory_equal(r.ev[1].data, "OK", 2);
}

/* A payload too big to hold is skipped whole, keeping line sync. */
static void test_oversized_payload(void **state)
{
	(void)state;
	static uint8_t buf[AT_PAYLOAD_MAX * 2 + 64];
	static struct rec r;
	static struct at_parser p;
	memset(&r, 0, sizeof(r));
	size_t n = (size_t)sprintf((char *)buf, "+CIPRXGET: 2,0,%d,0\r\n", AT_PAYLOAD_MAX + 10);
	memset(buf + n, '\n', AT_PAYLOAD_MAX + 10);
	n += AT_PAYLOAD_MAX + 10;
	memcpy(buf + n, "OK\r\n", 4);
	n += 4;
	at_parser_init(&p, &ops, &r);
	at_parser_feed(&p, buf, n);
	assert_int_equal(r.n, 2);
	assert_memory_equal(r.ev[1].data, "OK", 2);
	assert_int_equal(p.garbage_lines, 1);
}

/* Data that starts after a comma inside a line, with commas, CR LF and
 * "OK" inside it, fed in random splits. */
static void test_inline_payload(void **state)
{
	(void)state;
	static struct rec r;
	static struct at_parser p;
	const char *s = "\r\n+TCPSETUP:0,OK\r\n+TCPRECV:0,12,a,b\r\nOK\r\n,\r\n\r\nOK\r\n";
	size_t n = strlen(s);
	srand(99);
	for (int round = 0; round < 200; round++) {
		memset(&r, 0, sizeof(r));
		at_parser_init(&p, &ops, &r);
		size_t i = 0;
		while (i < n) {
			size_t k = 1 + (size_t)rand() % 7;
			if (k > n - i)
				k = n - i;
			at_parser_feed(&p, (const uint8_t *)s + i, k);
			i += k;
		}
		assert_int_equal(r.n, 4);
		assert_memory_equal(r.ev[0].data, "+TCPSETUP:0,OK", 14);
		assert_int_equal(r.ev[1].kind, 'L');
		assert_int_equal(r.ev[1].len, 14);
		assert_memory_equal(r.ev[1].data, "+TCPRECV:0,12,", 14);
		assert_int_equal(r.ev[2].kind, 'D');
		assert_int_equal(r.ev[2].len, 12);
		assert_memory_equal(r.ev[2].data, "a,b\r\nOK\r\n,\r\n", 12);
		assert_memory_equal(r.ev[3].data, "OK", 2);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole),
		cmocka_unit_test(test_byte_by_byte),
		cmocka_unit_test(test_random_splits),
		cmocka_unit_test(test_overlong_and_garbage),
		cmocka_unit_test(test_max_line),
		cmocka_unit_test(test_empty_payload),
		cmocka_unit_test(test_oversized_payload),
		cmocka_unit_test(test_inline_payload),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

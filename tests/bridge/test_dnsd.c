/* bridge/dnsd.c against a fake modem resolver: cache, TTL, shared lookups,
 * NXDOMAIN, SERVFAIL on timeout, bounded waiters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ev.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dns_codec.h"
#include "dnsd.h"
#include "modem.h"

int log_verbosity;
void log_msg(int level, const char *fmt, ...)
{
	(void)level;
	(void)fmt;
}

/* fake modem */
static int n_resolve, next_req;
static char last_name[256];
int modem_resolve(struct modem *m, const char *name)
{
	(void)m;
	if (strlen(name) > MODEM_NAME_MAX)
		return MODEM_NAME_REFUSED; /* as modem.c: no command can carry it */
	n_resolve++;
	snprintf(last_name, sizeof(last_name), "%s", name);
	return next_req++;
}

/* replies */
static int n_replies;
static uint8_t last_resp[600];
static size_t last_len;
static uint32_t last_token;
static void on_reply(void *arg, uint32_t token, const uint8_t *resp, size_t len)
{
	(void)arg;
	n_replies++;
	last_token = token;
	memcpy(last_resp, resp, len);
	last_len = len;
}

static size_t make_query(uint8_t *out, const char *name, uint16_t qtype)
{
	size_t off = 12;
	const char *p = name;

	memset(out, 0, 12);
	out[0] = 0xab;
	out[5] = 1;
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);

		out[off++] = (uint8_t)l;
		memcpy(out + off, p, l);
		off += l;
		p += l + (dot ? 1 : 0);
	}
	out[off++] = 0;
	out[off++] = 0;
	out[off++] = (uint8_t)qtype;
	out[off++] = 0;
	out[off++] = 1;
	return off;
}

static int rcode(void) { return last_resp[3] & 0xf; }
static int ancount(void) { return last_resp[7]; }

static struct ev_loop *loop;
static struct dnsd *dns;

static int setup(void **state)
{
	struct dnsd_config c = {.ttl_s = 1, .timeout_ms = 200, .cache_size = 4, .max_waiting = 3};

	(void)state;
	loop = ev_loop_new(0);
	n_resolve = n_replies = next_req = 0;
	dns = dnsd_new(loop, &c);
	assert_non_null(dns);
	dnsd_set_modem(dns, (struct modem *)1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	dnsd_free(dns);
	ev_loop_destroy(loop);
	return 0;
}

static void stop_loop(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(l, EVBREAK_ALL);
}

static void run_for(double s)
{
	ev_timer t;

	ev_timer_init(&t, stop_loop, s, 0);
	ev_timer_start(loop, &t);
	ev_run(loop, 0);
	ev_timer_stop(loop, &t);
}

static void test_shared_lookup_then_cache_then_expiry(void **state)
{
	uint8_t q[300];
	size_t n = make_query(q, "www.example.test", DNS_TYPE_A);
	uint32_t ip = inet_addr("198.51.100.10");

	(void)state;
	dnsd_query(dns, q, n, on_reply, NULL, 1);
	dnsd_query(dns, q, n, on_reply, NULL, 2);
	assert_int_equal(n_resolve, 1);
	assert_string_equal(last_name, "www.example.test");
	assert_int_equal(n_replies, 0);
	dnsd_on_resolved(dns, 0, true, &ip, 1);
	assert_int_equal(n_replies, 2);
	assert_int_equal(rcode(), DNS_NOERROR);
	assert_int_equal(ancount(), 1);
	assert_memory_equal(last_resp + last_len - 4, &ip, 4);
	dnsd_query(dns, q, n, on_reply, NULL, 3); /* cached */
	assert_int_equal(n_resolve, 1);
	assert_int_equal(n_replies, 3);
	assert_int_equal(last_token, 3);
	run_for(1.2); /* TTL 1 s passes */
	dnsd_query(dns, q, n, on_reply, NULL, 4);
	assert_int_equal(n_resolve, 2);
}

static void test_nxdomain_and_timeout(void **state)
{
	uint8_t q[300];
	size_t n = make_query(q, "nosuch.test", DNS_TYPE_A);

	(void)state;
	dnsd_query(dns, q, n, on_reply, NULL, 1);
	dnsd_on_resolved(dns, 0, false, NULL, 0);
	assert_int_equal(n_replies, 1);
	assert_int_equal(rcode(), DNS_NXDOMAIN);
	n = make_query(q, "slow.test", DNS_TYPE_A);
	dnsd_query(dns, q, n, on_reply, NULL, 2);
	assert_int_equal(n_replies, 1);
	run_for(0.6);
	assert_int_equal(n_replies, 2);
	assert_int_equal(rcode(), DNS_SERVFAIL);
	dnsd_on_resolved(dns, 1, true, (uint32_t[]){1}, 1); /* too late: ignored */
	assert_int_equal(n_replies, 2);
}

static void test_waiters_bounded(void **state)
{
	uint8_t q[300];
	size_t n = make_query(q, "busy.test", DNS_TYPE_A);

	(void)state;
	for (uint32_t i = 0; i < 3; i++)
		dnsd_query(dns, q, n, on_reply, NULL, i);
	assert_int_equal(n_replies, 0);
	dnsd_query(dns, q, n, on_reply, NULL, 99);
	assert_int_equal(n_replies, 1);
	assert_int_equal(last_token, 99);
	assert_int_equal(rcode(), DNS_SERVFAIL);
}

static void test_refused_never_reaches_the_module(void **state)
{
	uint8_t q[300];
	size_t n = make_query(q, "a\"b.test", DNS_TYPE_A);

	(void)state;
	dnsd_query(dns, q, n, on_reply, NULL, 1);
	assert_int_equal(n_resolve, 0);
	assert_int_equal(rcode(), DNS_REFUSED);
	n = make_query(q, "www.example.test", DNS_TYPE_AAAA);
	dnsd_query(dns, q, n, on_reply, NULL, 2);
	assert_int_equal(n_resolve, 0);
	assert_int_equal(rcode(), DNS_NOERROR);
	assert_int_equal(ancount(), 0);
}

/* A name the module's command cannot carry: REFUSED at once, nothing
 * pending, no SERVFAIL after a timeout. */
static void test_long_name_refused_at_once(void **state)
{
	uint8_t q[300];
	char name[256];
	memset(name, 'a', 250);
	for (int i = 63; i < 250; i += 64)
		name[i] = '.';
	name[250] = '\0';
	size_t n = make_query(q, name, DNS_TYPE_A);

	(void)state;
	dnsd_query(dns, q, n, on_reply, NULL, 1);
	assert_int_equal(n_replies, 1);
	assert_int_equal(rcode(), DNS_REFUSED);
	assert_int_equal(n_resolve, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_shared_lookup_then_cache_then_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nxdomain_and_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_waiters_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_never_reaches_the_module, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_name_refused_at_once, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

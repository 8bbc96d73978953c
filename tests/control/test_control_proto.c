/* bridge/control_proto.c: strict request parsing, framing and rendering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control_proto.h"

static bool parse(const char *s, struct ctl_request *r, char *err)
{
	return ctl_parse_request(s, strlen(s), r, err, 256);
}

static void test_good_requests(void **state)
{
	struct ctl_request r;
	char err[256];

	(void)state;
	assert_true(parse("status", &r, err));
	assert_int_equal(r.cmd, CTL_STATUS);
	assert_false(r.json);
	assert_true(parse("status json", &r, err));
	assert_true(r.json);
	assert_true(parse("flows json", &r, err));
	assert_int_equal(r.cmd, CTL_FLOWS);
	assert_true(parse("metrics", &r, err));
	assert_int_equal(r.cmd, CTL_METRICS);
	assert_true(parse("reconnect", &r, err));
	assert_int_equal(r.cmd, CTL_RECONNECT);
}

static void expect_bad(const char *s, size_t len, const char *needle)
{
	struct ctl_request r;
	char err[256] = "";

	assert_false(ctl_parse_request(s, len, &r, err, sizeof(err)));
	if (!strstr(err, needle))
		fail_msg("error for '%.*s' lacks '%s': %s", (int)len, s, needle, err);
	if (strchr(err, '\n'))
		fail_msg("error has a newline: %s", err);
}

static void test_bad_requests(void **state)
{
	char longreq[400];

	(void)state;
	expect_bad("", 0, "unknown request ''");
	expect_bad("stat", 4, "unknown request 'stat'");
	expect_bad("STATUS", 6, "unknown request 'STATUS'");
	expect_bad("status ", 7, "'' after 'status'");
	expect_bad(" status", 7, "unknown request");
	expect_bad("status  json", 12, "after 'status'");
	expect_bad("status json json", 16, "after 'status'");
	expect_bad("metrics json", 12, "nothing may follow");
	expect_bad("status\r", 7, "0x0d at position 6");
	expect_bad("sta\0tus", 7, "0x00 at position 3");
	expect_bad("flows\x1b[2J", 9, "0x1b");
	expect_bad("status\xff", 7, "0xff");
	memset(longreq, 's', sizeof(longreq));
	expect_bad(longreq, sizeof(longreq), "longer than 128");
	expect_bad(longreq, CTL_REQUEST_MAX, "unknown request");
}

static void test_framing(void **state)
{
	struct sbuf s;
	const char two[] = "a\nb\n\nc\n\n";

	(void)state;
	sbuf_init(&s, 1024);
	sbuf_printf(&s, "x\n\n\n");
	ctl_end_response(&s);
	assert_int_equal(s.len, 3);
	assert_memory_equal(s.buf, "x\n\n", 3);
	sbuf_free(&s);
	assert_int_equal(ctl_response_length(two, sizeof(two) - 1), 5);
	assert_int_equal(ctl_response_length("a\nb\n", 4), 0);
	assert_int_equal(ctl_response_length("", 0), 0);

	/* Over the bound: the response becomes one error line, still framed. */
	sbuf_init(&s, 16);
	sbuf_printf(&s, "%s", "0123456789abcdefghij");
	assert_true(s.overflow);
	s.max = 1024;
	ctl_end_response(&s);
	assert_non_null(strstr(s.buf, "error: response larger"));
	assert_int_equal(ctl_response_length(s.buf, s.len), s.len);
	sbuf_free(&s);
}

static void test_status_render(void **state)
{
	struct ctl_status st = {
		.version = "0.1.0", .operator_name = "Evil\r\nop\"x", .csq_rssi = 20, .csq_ber = 0,
		.link_up = true, .ip = "10.1.2.3", .tun = "tun0", .link_uptime_s = 5,
		.bytes_up = 10, .bytes_down = 20, .flows_open = 2,
	};
	struct sbuf s;

	(void)state;
	sbuf_init(&s, 65536);
	ctl_render_status(&s, &st, false);
	assert_non_null(strstr(s.buf, "signal:        20 (-73 dBm)\n"));
	assert_non_null(strstr(s.buf, "operator:      Evil??op\"x\n"));
	assert_non_null(strstr(s.buf, "imei:          unknown\n"));
	assert_null(strstr(s.buf, "\n\n"));
	sbuf_free(&s);
	sbuf_init(&s, 65536);
	ctl_render_status(&s, &st, true);
	assert_non_null(strstr(s.buf, "\"operator\":\"Evil\\u000d\\u000aop\\\"x\""));
	assert_non_null(strstr(s.buf, "\"imei\":null"));
	assert_non_null(strstr(s.buf, "\"rssi_dbm\":-73"));
	assert_int_equal(strchr(s.buf, '\n') - s.buf, (long)s.len - 1); /* one line */
	sbuf_free(&s);
}

static void test_flows_and_metrics_render(void **state)
{
	struct ctl_flow_row rows[2] = {
		{"10.85.0.1:40000", "198.51.100.10:80", "tcp", "open", 3, 100, 2000, 1.5},
		{"10.85.0.1:40001", "203.0.113.10:443", "tcp", "queued", -1, 0, 0, 0.2},
	};
	struct ctl_metric m[3] = {
		{"link_up", "1 when up", false, 1, NULL, NULL},
		{"forward_listening", "1 when listening", false, 1, "forward", "tcp:22:127.0.0.1:22"},
		{"forward_listening", "1 when listening", false, 0, "forward", "tcp:80:10.0.0.2:80"},
	};
	struct sbuf s;

	(void)state;
	sbuf_init(&s, 65536);
	ctl_render_flows(&s, rows, 2, false);
	assert_non_null(strstr(s.buf, "PROTO CLIENT"));
	assert_non_null(strstr(s.buf, "198.51.100.10:80"));
	assert_non_null(strstr(s.buf, "queued         -"));
	sbuf_free(&s);
	sbuf_init(&s, 65536);
	ctl_render_flows(&s, rows, 2, true);
	assert_non_null(strstr(s.buf, "\"link\":null"));
	assert_non_null(strstr(s.buf, "\"destination\":\"198.51.100.10:80\""));
	assert_int_equal(s.buf[0], '[');
	sbuf_free(&s);
	sbuf_init(&s, 65536);
	ctl_render_metrics(&s, m, 1);
	assert_string_equal(s.buf, "# HELP atbridge_link_up 1 when up\n# TYPE atbridge_link_up gauge\n"
	                           "atbridge_link_up 1\n");
	sbuf_free(&s);
	sbuf_init(&s, 65536);
	ctl_render_metrics(&s, m + 1, 2); /* one HELP and TYPE, one labelled sample each */
	assert_string_equal(s.buf, "# HELP atbridge_forward_listening 1 when listening\n"
	                           "# TYPE atbridge_forward_listening gauge\n"
	                           "atbridge_forward_listening{forward=\"tcp:22:127.0.0.1:22\"} 1\n"
	                           "atbridge_forward_listening{forward=\"tcp:80:10.0.0.2:80\"} 0\n");
	sbuf_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_requests),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_framing),
		cmocka_unit_test(test_status_render),
		cmocka_unit_test(test_flows_and_metrics_render),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* config/: every bad value is refused with one line naming it, and changes nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* What bridge/main.c passes in from the module registry. */
static const char *const model_names[] = {"sim7000", "n11v2", NULL};

static int parse(struct atb_config *c, char *errbuf, size_t errlen, int argc, char **argv)
{
	FILE *err = fmemopen(errbuf, errlen, "w");
	int r;

	config_defaults(c);
	c->model_names = model_names;
	r = config_parse_args(c, argc, argv, err);
	fclose(err);
	return r;
}

#define ARGV(...) ((char *[]){"atbridge", __VA_ARGS__, NULL})
#define ARGC(...) ((int)(sizeof((char *[]){"atbridge", __VA_ARGS__}) / sizeof(char *)))
#define PARSE(c, e, ...) parse(c, e, sizeof(e), ARGC(__VA_ARGS__), ARGV(__VA_ARGS__))

static void test_defaults_run_the_simulator(void **state)
{
	struct atb_config c;
	char e[256] = "";

	(void)state;
	assert_int_equal(parse(&c, e, sizeof(e), 1, (char *[]){"atbridge", NULL}), 0);
	assert_true(c.sim);
	assert_int_equal(c.baud, 115200);
	assert_string_equal(c.tun_name, "tun0");
	assert_int_equal(ntohl(c.tun_addr), 0x0a550001);
}

static void test_real_module_options(void **state)
{
	struct atb_config c;
	char e[256] = "";

	(void)state;
	assert_int_equal(PARSE(&c, e, "--device", "/dev/ttyUSB2", "--baud", "921600", "--apn",
	                       "iot.example", "--flow-control", "rtscts", "--model", "sim7000"), 0);
	assert_false(c.sim);
	assert_string_equal(c.device, "/dev/ttyUSB2");
	assert_int_equal(c.baud, 921600);
	assert_true(c.rtscts);
	assert_string_equal(c.apn, "iot.example");
	assert_string_equal(c.model, "sim7000");
}

static void expect_error(const char *opt, const char *val, const char *needle)
{
	struct atb_config c;
	char e[512] = "";

	assert_int_equal(parse(&c, e, sizeof(e), 3, (char *[]){"atbridge", (char *)opt, (char *)val, NULL}), -1);
	if (!strstr(e, needle))
		fail_msg("message for %s %s lacks '%s': %s", opt, val, needle, e);
	if (!strchr(e, '\n') || strchr(e, '\n')[1] != '\0')
		fail_msg("message is not one line: %s", e);
}

static void test_link_mode(void **state)
{
	struct atb_config c;
	char e[256] = "";

	(void)state;
	assert_int_equal(PARSE(&c, e, "--device", "/dev/ttyUSB2"), 0);
	assert_false(c.transparent);
	assert_int_equal(c.guard_ms, 1000);
	assert_int_equal(PARSE(&c, e, "--link", "transparent", "--guard-ms", "500"), 0);
	assert_true(c.transparent);
	assert_int_equal(c.guard_ms, 500);
	expect_error("--link", "single", "not one of multi, transparent");
	expect_error("--guard-ms", "50", "--guard-ms");
}

static void test_bad_values_are_named(void **state)
{
	(void)state;
	expect_error("--baud", "115201", "'115201'");
	expect_error("--baud", "fast", "--baud");
	expect_error("--baud", "-9600", "'-9600'");
	expect_error("--mtu", "99999", "--mtu");
	expect_error("--apn", "inter\"net", "--apn");
	expect_error("--apn", "a\r\nAT+CFUN=0", "0x0d");
	expect_error("--password", "x\"", "--password");
	expect_error("--address", "10.0.0.1", "'10.0.0.1'");
	expect_error("--address", "10.0.0.1/33", "/n");
	expect_error("--model", "sim800", "sim7000, n11v2");
	expect_error("--tun", "tun0;rm", "--tun");
	expect_error("--max-flows", "0", "--max-flows");
	expect_error("--lwip-address", "10.85.0.1", "--lwip-address");
	expect_error("--bogus", "1", "unknown option");
}

/* --forward is repeatable; the file's and the command line's add up
 * (tests/config/test_config_file.c). */
static void test_forward_options(void **state)
{
	struct atb_config c;
	char e[512] = "";

	(void)state;
	assert_int_equal(PARSE(&c, e, "--forward", "tcp:2222:127.0.0.1:22", "--forward=tcp:8080:10.85.0.2:80",
	                       "--inbound-links", "2", "--forward-allow-any"), 0);
	assert_int_equal(c.n_forwards, 2);
	assert_int_equal(c.forwards[1].module_port, 8080);
	assert_int_equal(c.forwards[1].host, htonl(0x0a550002));
	assert_int_equal(c.forwards[1].port, 80);
	assert_string_equal(c.where[ATB_WHERE_FORWARD + 1], "--forward");
	assert_int_equal(c.inbound_links, 2);
	assert_true(c.forward_allow_any);
	expect_error("--forward", "udp:53:127.0.0.1:53", "--forward: 'udp:53:127.0.0.1:53': only tcp is supported");
	expect_error("--forward", "tcp:22:127.0.0.1", "is not tcp:<module-port>:<host>:<port>");
	expect_error("--forward", "tcp:22:10.85.0.254:53", "lwIP's own address");
	expect_error("--inbound-links", "x", "--inbound-links: 'x'");
	assert_int_equal(PARSE(&c, e, "--forward", "tcp:22:127.0.0.1:22", "--forward", "tcp:22:127.0.0.1:23"), -1);
	assert_non_null(strstr(e, "atbridge: --forward: 'tcp:22:127.0.0.1:23': module port 22 is forwarded "
	                          "already (--forward: 'tcp:22:127.0.0.1:22')\n"));
	assert_int_equal(c.n_forwards, 1);
}

static void test_apn_length_limit(void **state)
{
	char apn[60];
	(void)state;
	memset(apn, 'a', 51);
	apn[51] = '\0';
	expect_error("--apn", apn, "longer than 50");
}

static void test_sim_args_bounded(void **state)
{
	struct atb_config c;
	char e[512] = "";
	char *argv[2 + 2 * (ATB_MAX_SIM_ARGS + 1)];
	int argc = 0;

	(void)state;
	argv[argc++] = "atbridge";
	for (int i = 0; i <= ATB_MAX_SIM_ARGS; i++) {
		argv[argc++] = "--sim-arg";
		argv[argc++] = "--seed=1";
	}
	argv[argc] = NULL;
	assert_int_equal(parse(&c, e, sizeof(e), argc, argv), -1);
	assert_non_null(strstr(e, "one too many"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_run_the_simulator),
		cmocka_unit_test(test_real_module_options),
		cmocka_unit_test(test_link_mode),
		cmocka_unit_test(test_bad_values_are_named),
		cmocka_unit_test(test_forward_options),
		cmocka_unit_test(test_apn_length_limit),
		cmocka_unit_test(test_sim_args_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* config/: the INI file (libinih) and the command line over it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static char path[64];

static void write_file(const char *text)
{
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/atb-conf-test.%d", (int)getpid());
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Loads the file written last with extra arguments; err gets the messages. */
static int load(struct atb_config *c, char *err, size_t errlen, const char *const *extra)
{
	char *argv[32];
	int argc = 0, r;
	FILE *e = fmemopen(err, errlen, "w");

	argv[argc++] = "atbridge";
	argv[argc++] = "--config";
	argv[argc++] = path;
	for (; extra && *extra; extra++)
		argv[argc++] = (char *)*extra;
	argv[argc] = NULL;
	config_defaults(c);
	r = config_load(c, argc, argv, e);
	fclose(e);
	unlink(path);
	return r;
}

static void one_line(const char *e)
{
	const char *nl = strchr(e, '\n');

	if (!nl || nl[1] != '\0')
		fail_msg("message is not exactly one line: '%s'", e);
}

static void test_values_sections_and_comments(void **state)
{
	struct atb_config c;
	char e[512] = "";

	(void)state;
	write_file("# atbridge\n; also a comment\n\n"
	           "[module]\ndevice = /dev/ttyUSB2\nbaud=921600\nflow_control = rtscts\n"
	           "apn = iot.example\npassword = se;cr#et\npin = 1234\n"
	           "[interface]\nmtu = 1400\nno-default-route = yes\nnetns = cell\n"
	           "[operation]\nlog-level = debug\ncontrol_mode = 0660\nmetrics-file = /run/x.prom\n"
	           "[simulator]\nsim-arg = --seed=7\n");
	assert_int_equal(load(&c, e, sizeof(e), NULL), 0);
	assert_string_equal(e, "");
	assert_string_equal(c.device, "/dev/ttyUSB2");
	assert_false(c.sim);
	assert_int_equal(c.baud, 921600);
	assert_true(c.rtscts);
	assert_string_equal(c.password, "se;cr#et"); /* no inline comments */
	assert_string_equal(c.pin, "1234");
	assert_int_equal(c.mtu, 1400);
	assert_false(c.default_route);
	assert_string_equal(c.netns, "cell");
	assert_int_equal(c.verbose, 1);
	assert_int_equal(c.control_mode, 0660);
	assert_string_equal(c.metrics_file, "/run/x.prom");
	assert_int_equal(c.n_sim_args, 1);
	assert_string_equal(c.sim_args[0], "--seed=7");
	assert_true(c.config_loaded);
}

static void test_command_line_overrides_the_file(void **state)
{
	struct atb_config c;
	char e[512] = "";

	(void)state;
	write_file("device = /dev/ttyUSB2\nmtu = 1400\nlog-level = error\n");
	assert_int_equal(load(&c, e, sizeof(e),
	                      (const char *const[]){"--mtu", "1280", "--sim", "-v", NULL}), 0);
	assert_int_equal(c.mtu, 1280);
	assert_true(c.sim);
	assert_string_equal(c.device, "");
	assert_int_equal(c.verbose, 0); /* error (-1), then -v */

	write_file("sim = yes\n");
	assert_int_equal(load(&c, e, sizeof(e),
	                      (const char *const[]){"--device", "/dev/ttyACM0", NULL}), 0);
	assert_false(c.sim);
	assert_string_equal(c.device, "/dev/ttyACM0");
}

static void expect_file_error(const char *text, const char *needle1, const char *needle2)
{
	struct atb_config c;
	char e[512] = "";

	write_file(text);
	assert_int_equal(load(&c, e, sizeof(e), NULL), -1);
	one_line(e);
	if (!strstr(e, needle1) || (needle2 && !strstr(e, needle2)))
		fail_msg("message lacks '%s'/'%s': %s", needle1, needle2 ? needle2 : "", e);
	if (strncmp(e, "atbridge: /tmp/atb-conf-test.", 29) != 0)
		fail_msg("message does not name the file: %s", e);
}

static void test_bad_values_name_file_line_key_value(void **state)
{
	(void)state;
	expect_file_error("\n[interface]\nmtu = 9000\n", ":3: mtu: '9000'", "576 to 1500");
	expect_file_error("baud = 115201\n", ":1: baud: '115201'", "serial rate");
	expect_file_error("model = sim800\n", ":1: model: 'sim800'", "auto, sim7000, n11v2");
	expect_file_error("apn = a\"b\n", ":1: apn:", "not allowed");
	expect_file_error("log_level = loud\n", ":1: log-level: 'loud'", "error, info, debug");
	expect_file_error("sim = maybe\n", ":1: sim: 'maybe'", "yes, no");
	expect_file_error("control-mode = 0666\n", ":1: control-mode: '0666'", "0600, 0660");
	expect_file_error("metrics-file = rel/x\n", "metrics-file: 'rel/x'", "absolute");
	expect_file_error("# x\nmtux = 1\n", ":2: 'mtux' is not a setting", NULL);
	expect_file_error("help = 1\n", "'help' is not a setting", NULL);
	expect_file_error("config = /x\n", "'config' is not a setting", NULL);
	expect_file_error("mtu 1400\n", ":1: not a 'key = value' line", NULL);
	expect_file_error("[unclosed\n", ":1: not a 'key = value' line", NULL);
}

static void test_consistency_checked_after_the_file(void **state)
{
	struct atb_config c;
	char e[512] = "";

	(void)state;
	write_file("address = 10.85.0.1/24\nlwip-address = 10.9.0.1\n");
	assert_int_equal(load(&c, e, sizeof(e), NULL), -1);
	one_line(e);
	assert_non_null(strstr(e, "lwip-address: '10.9.0.1'"));
}

static int count_lines(const char *e)
{
	int n = 0;

	for (; *e; e++)
		n += *e == '\n';
	return n;
}

/* --check-config lists every error, not only the first: the file's in
 * order of lines, then the command line's, then those between values. */
static void test_every_error_listed(void **state)
{
	struct atb_config c;
	char e[2048] = "";
	const char *a, *b, *d, *f;

	(void)state;
	write_file("mtu = 9000\nthis is not a line\nbaud = 7\n[broken\nmtux = 1\napn = ok\n");
	assert_int_equal(load(&c, e, sizeof(e), (const char *const[]){"--max-flows", "0", NULL}), -1);
	assert_int_equal(count_lines(e), 6);
	a = strstr(e, ":1: mtu: '9000'");
	b = strstr(e, ":2: not a 'key = value' line");
	d = strstr(e, ":3: baud: '7'");
	f = strstr(e, ":4: not a 'key = value' line");
	if (!a || !b || !d || !f || !(a < b && b < d && d < f) || !strstr(e, ":5: 'mtux' is not a setting") ||
	    !strstr(e, "atbridge: --max-flows: '0'"))
		fail_msg("errors missing or out of order:\n%s", e);
	assert_string_equal(c.apn, "ok"); /* the lines after an error still count */
}

/* An error between two values names where each came from. */
static void test_cross_field_error_names_file_and_line(void **state)
{
	struct atb_config c;
	char e[1024] = "";

	(void)state;
	write_file("# x\naddress = 10.85.0.1/24\n\nlwip-address = 10.9.0.1\n");
	assert_int_equal(load(&c, e, sizeof(e), NULL), -1);
	one_line(e);
	if (!strstr(e, ":4: lwip-address: '10.9.0.1' must be another address inside 10.85.0.1/24 (") ||
	    !strstr(e, ":2: address)"))
		fail_msg("lwip-address error without both places: %s", e);

	write_file("address = 10.9.0.1/24\n");
	assert_int_equal(load(&c, e, sizeof(e), NULL), -1);
	if (!strstr(e, "--lwip-address (the default): '10.85.0.254' must be another address inside 10.9.0.1/24") ||
	    !strstr(e, ":1: address)"))
		fail_msg("default lwip-address error: %s", e);

	write_file("sim = yes\ndevice = /dev/ttyUSB2\n");
	assert_int_equal(load(&c, e, sizeof(e), NULL), -1);
	one_line(e);
	if (!strstr(e, ":1: sim: the simulator and ") || !strstr(e, ":2: device: '/dev/ttyUSB2' exclude"))
		fail_msg("sim/device error: %s", e);

	/* a refused address is one error, not two */
	write_file("address = 10.9.0.1/24\nlwip-address = nope\n");
	assert_int_equal(load(&c, e, sizeof(e), NULL), -1);
	one_line(e);
}

static void test_system_checks(void **state)
{
	struct atb_config c;
	char e[1024] = "";
	FILE *f;

	(void)state;
	write_file("run-as = atb-no-such-user\nnetns = atb-no-such-ns\n");
	config_defaults(&c);
	assert_int_equal(load(&c, e, sizeof(e), (const char *const[]){"--sim-netns", "atb-nons2", NULL}), 0);
	f = fmemopen(e, sizeof(e), "w");
	assert_int_equal(config_check_system(&c, f), 3);
	fclose(f);
	if (!strstr(e, ":1: run-as: 'atb-no-such-user': there is no such user") ||
	    !strstr(e, ":2: netns: 'atb-no-such-ns': there is no network namespace /run/netns/atb-no-such-ns") ||
	    !strstr(e, "atbridge: --sim-netns: 'atb-nons2': there is no network namespace"))
		fail_msg("system checks: %s", e);

	write_file("run-as = root\n");
	assert_int_equal(load(&c, e, sizeof(e), NULL), 0);
	f = fmemopen(e, sizeof(e), "w");
	assert_int_equal(config_check_system(&c, f), 0);
	fclose(f);
}

static void test_long_line_refused(void **state)
{
	char text[2048];

	(void)state;
	strcpy(text, "mtu = 1400\napn = ");
	memset(text + strlen(text), 'a', 1000);
	text[17 + 1000] = '\0';
	strcat(text, "\nmtu = 1280\n");
	expect_file_error(text, ":2: line longer than 198 bytes", NULL);
}

/* The longest line libinih takes whole is accepted. */
static void test_longest_line_accepted(void **state)
{
	struct atb_config c;
	char text[256], e[512] = "";

	(void)state;
	strcpy(text, "sim-path = /");
	memset(text + 12, 'a', 186);
	strcpy(text + 198, "\n");
	write_file(text);
	assert_int_equal(load(&c, e, sizeof(e), NULL), 0);
	assert_int_equal(strlen(c.sim_path), 187);
}

static void test_missing_files(void **state)
{
	struct atb_config c;
	char e[256] = "";
	FILE *f = fmemopen(e, sizeof(e), "w");

	(void)state;
	config_defaults(&c);
	assert_true(config_parse_file(&c, "/nonexistent/atbridge.conf", false, f));
	assert_false(c.config_loaded);
	assert_false(config_parse_file(&c, "/nonexistent/atbridge.conf", true, f));
	fclose(f);
	assert_non_null(strstr(e, "/nonexistent/atbridge.conf: cannot read"));
}

static void test_secrets_never_shown(void **state)
{
	struct atb_config c;
	char e[512] = "", out[4096] = "";
	FILE *f;

	(void)state;
	write_file("password = Sw0rdfish-and-then-some-more-bytes-to-exceed-fifty-bytes-total\n");
	assert_int_equal(load(&c, e, sizeof(e), NULL), -1);
	one_line(e);
	assert_null(strstr(e, "Sw0rdfish"));
	assert_non_null(strstr(e, "password"));

	write_file("pin = 12a4\n");
	assert_int_equal(load(&c, e, sizeof(e), NULL), -1);
	assert_null(strstr(e, "12a4"));
	assert_non_null(strstr(e, "4 to 8 digits"));

	{
		char e2[256] = "";
		FILE *f2 = fmemopen(e2, sizeof(e2), "w");

		config_defaults(&c);
		assert_int_equal(config_parse_args(&c, 2, (char *[]){"atbridge", "--pasword=Sw0rdfish", NULL},
		                                   f2), -1);
		fclose(f2);
		assert_null(strstr(e2, "Sw0rdfish"));
		assert_non_null(strstr(e2, "unknown option '--pasword'"));
	}

	/* A broken line: what inih takes for the key holds the secret. */
	write_file("password Sw0rdfish = \n");
	assert_int_equal(load(&c, e, sizeof(e), NULL), -1);
	one_line(e);
	assert_null(strstr(e, "Sw0rdfish"));
	assert_non_null(strstr(e, ":1: not a setting name"));

	write_file("password = Sw0rdfish\npin = 987654\n");
	assert_int_equal(load(&c, e, sizeof(e), NULL), 0);
	f = fmemopen(out, sizeof(out), "w");
	config_print(&c, f);
	fclose(f);
	assert_null(strstr(out, "Sw0rdfish"));
	assert_null(strstr(out, "987654"));
	assert_non_null(strstr(out, "# password is set"));
	assert_non_null(strstr(out, "mtu = 1500"));
}

/* What --check-config prints reads back to the same configuration. */
static void test_print_round_trip(void **state)
{
	struct atb_config a, b;
	char e[512] = "", out[4096] = "";
	FILE *f;

	(void)state;
	write_file("device = /dev/ttyUSB1\nmtu = 1300\nnetns = ns1\ndns = forward\n"
	           "no-default-route = yes\nsim-arg = --x\n");
	assert_int_equal(load(&a, e, sizeof(e), NULL), 0);
	f = fmemopen(out, sizeof(out), "w");
	config_print(&a, f);
	fclose(f);
	write_file(out);
	assert_int_equal(load(&b, e, sizeof(e), NULL), 0);
	assert_string_equal(b.device, a.device);
	assert_int_equal(b.mtu, a.mtu);
	assert_string_equal(b.netns, a.netns);
	assert_int_equal(b.dns_intercept, a.dns_intercept);
	assert_int_equal(b.default_route, a.default_route);
	assert_int_equal(b.tun_addr, a.tun_addr);
	assert_int_equal(b.n_sim_args, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values_sections_and_comments),
		cmocka_unit_test(test_command_line_overrides_the_file),
		cmocka_unit_test(test_bad_values_name_file_line_key_value),
		cmocka_unit_test(test_consistency_checked_after_the_file),
		cmocka_unit_test(test_every_error_listed),
		cmocka_unit_test(test_cross_field_error_names_file_and_line),
		cmocka_unit_test(test_system_checks),
		cmocka_unit_test(test_long_line_refused),
		cmocka_unit_test(test_longest_line_accepted),
		cmocka_unit_test(test_missing_files),
		cmocka_unit_test(test_secrets_never_shown),
		cmocka_unit_test(test_print_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

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
#include <ifaddrs.h>
#include <netinet/in.h>
#include <unistd.h>

#include "config.h"

static char path[64];

/* What bridge/main.c passes in from the module registry. */
static const char *const model_names[] = {"sim7000", "n11v2", NULL};

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
	c->model_names = model_names;
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

/* forward = ... lines and --forward add up, in order; each is normalised
 * and remembers where it came from. */
static void test_forwards_read(void **state)
{
	struct atb_config c;
	char e[512] = "";

	(void)state;
	write_file("forward = tcp:02222:127.0.0.1:0022\n[forwards]\nforward=tcp:80:10.85.0.9:8080\n"
	           "inbound-links = 2\nforward-allow-any = yes\n");
	assert_int_equal(load(&c, e, sizeof(e), (const char *const[]){"--forward", "tcp:8443:192.0.2.1:443",
	                                                               NULL}), 0);
	assert_string_equal(e, "");
	assert_int_equal(c.n_forwards, 3);
	assert_int_equal(c.forwards[0].module_port, 2222);
	assert_int_equal(c.forwards[0].host, htonl(0x7f000001));
	assert_int_equal(c.forwards[0].port, 22);
	assert_string_equal(c.forwards[0].spec, "tcp:2222:127.0.0.1:22");
	assert_string_equal(c.forwards[1].spec, "tcp:80:10.85.0.9:8080");
	assert_string_equal(c.forwards[2].spec, "tcp:8443:192.0.2.1:443");
	assert_non_null(strstr(c.where[ATB_WHERE_FORWARD + 0], ":1: forward"));
	assert_non_null(strstr(c.where[ATB_WHERE_FORWARD + 1], ":3: forward"));
	assert_string_equal(c.where[ATB_WHERE_FORWARD + 2], "--forward");
	assert_int_equal(c.inbound_links, 2);
	assert_true(c.forward_allow_any);

	write_file("");
	assert_int_equal(load(&c, e, sizeof(e), NULL), 0);
	assert_int_equal(c.n_forwards, 0); /* none by default */
	assert_int_equal(c.inbound_links, 0);
	assert_false(c.forward_allow_any);
}

/* Each bad spec is one line naming file, line, key and value, and says
 * which part is wrong. */
static void test_bad_forwards_name_file_and_line(void **state)
{
	static const struct { const char *spec, *what; } bad[] = {
		{"tcp:2222", "is not tcp:<module-port>:<host>:<port>"},
		{"tcp:2222:127.0.0.1", "is not tcp:<module-port>:<host>:<port>"},
		{"tcp:22:127.0.0.1:22:1", "is not tcp:<module-port>:<host>:<port>"},
		{"udp:53:127.0.0.1:53", "only tcp is supported, not udp"},
		{"sctp:22:127.0.0.1:22", "'sctp' is not a protocol; only tcp is supported"},
		{"tcp::127.0.0.1:22", "module port '' is not a port from 1 to 65535"},
		{"tcp:0:127.0.0.1:22", "module port '0' is not a port from 1 to 65535"},
		{"tcp:65536:127.0.0.1:22", "module port '65536' is not a port"},
		{"tcp:-1:127.0.0.1:22", "module port '-1' is not a port"},
		{"tcp:22:127.0.0.1:0", "port '0' is not a port from 1 to 65535"},
		{"tcp:22:127.0.0.1:99999", "port '99999' is not a port"},
		{"tcp:22:127.0.0.1:22junk", "port '22junk' is not a port"},
		{"tcp:22:127.0.0.1: 22", "port ' 22' is not a port"},
		{"tcp:22:localhost:22", "host 'localhost' is not an IPv4 address"},
		{"tcp:22:127.0.0.256:22", "host '127.0.0.256' is not an IPv4 address"},
		{"tcp:22::22", "host '' is not an IPv4 address"},
		{"tcp:22:0.0.0.0:22", "host '0.0.0.0' is not a unicast address"},
		{"tcp:22:255.255.255.255:22", "host '255.255.255.255' is not a unicast address"},
		{"tcp:22:224.0.0.1:22", "host '224.0.0.1' is not a unicast address"},
	};
	char text[160], needle[96];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "# forwards\nforward = %s\n", bad[i].spec);
		snprintf(needle, sizeof(needle), ":2: forward: '%s'", bad[i].spec);
		expect_file_error(text, needle, bad[i].what);
	}
	expect_file_error("forward = tcp:2222:127.0.0.1:22\nforward = tcp:2222:127.0.0.1:23\n",
	                  ":2: forward: 'tcp:2222:127.0.0.1:23': module port 2222 is forwarded already (",
	                  ":1: forward: 'tcp:2222:127.0.0.1:22')");
	expect_file_error("forward = tcp:1:127.0.0.1:1\nforward = tcp:2:127.0.0.1:2\n"
	                  "forward = tcp:3:127.0.0.1:3\nforward = tcp:4:127.0.0.1:4\n"
	                  "forward = tcp:5:127.0.0.1:5\n",
	                  ":5: forward: 'tcp:5:127.0.0.1:5' is one forward too many (at most 4)", NULL);
	expect_file_error("inbound-links = 17\n", ":1: inbound-links: '17'", "0 to 16");
	expect_file_error("forward-allow-any = maybe\n", ":1: forward-allow-any: 'maybe'", "yes, no");
	/* lwIP's own address would bring the connection back as an outbound flow */
	expect_file_error("forward = tcp:53:10.85.0.254:53\n",
	                  ":1: forward: 'tcp:53:10.85.0.254:53': 10.85.0.254 is lwIP's own address", NULL);
	expect_file_error("lwip-address = 10.85.0.9\nforward = tcp:53:10.85.0.9:53\n",
	                  ":2: forward: 'tcp:53:10.85.0.9:53': 10.85.0.9 is lwIP's own address", NULL);
}

/* A refused forward changes nothing: the ones before it stand, its slot
 * stays empty, the lines after it still count. */
static void test_bad_forward_changes_nothing(void **state)
{
	struct atb_config c;
	char e[512] = "";

	(void)state;
	write_file("forward = tcp:22:127.0.0.1:22\nforward = tcp:23:127.0.0.1:99999\n"
	           "forward = tcp:22:127.0.0.1:23\nforward = tcp:24:10.85.0.3:24\n");
	assert_int_equal(load(&c, e, sizeof(e), NULL), -1);
	assert_int_equal(count_lines(e), 2);
	assert_int_equal(c.n_forwards, 2);
	assert_string_equal(c.forwards[0].spec, "tcp:22:127.0.0.1:22");
	assert_string_equal(c.forwards[1].spec, "tcp:24:10.85.0.3:24");
	assert_int_equal(c.forwards[2].module_port, 0);
	assert_non_null(strstr(c.where[ATB_WHERE_FORWARD + 1], ":4: forward"));
	assert_string_equal(c.where[ATB_WHERE_FORWARD + 2], "");
}

/* A non-loopback IPv4 address of this host with a prefix of at most /30,
 * and another address on its subnet; false when there is none. */
static bool a_connected_subnet(uint32_t *own, uint32_t *other)
{
	struct ifaddrs *list, *i;
	bool found = false;

	if (getifaddrs(&list) < 0)
		return false;
	for (i = list; i && !found; i = i->ifa_next) {
		uint32_t a, m;

		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !i->ifa_netmask)
			continue;
		a = ntohl(((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr.s_addr);
		m = ntohl(((struct sockaddr_in *)(void *)i->ifa_netmask)->sin_addr.s_addr);
		if ((a >> 24) == 127 || (~m & 3) != 3)
			continue;
		for (uint32_t flip = 1; flip <= 3 && !found; flip++) {
			uint32_t h = (a & ~m) ^ flip; /* not the network, broadcast or own */

			if (h != 0 && h != ~m) {
				*own = htonl(a);
				*other = htonl((a & m) | h);
				found = true;
			}
		}
	}
	freeifaddrs(list);
	return found;
}

/* True when a is on no IPv4 subnet of this host (nor its address). */
static bool is_unconnected(uint32_t a)
{
	struct ifaddrs *list, *i;
	bool connected = false;

	assert_int_equal(getifaddrs(&list), 0);
	for (i = list; i; i = i->ifa_next) {
		uint32_t own, m;

		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
			continue;
		own = ((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr.s_addr;
		m = i->ifa_netmask ? ((struct sockaddr_in *)(void *)i->ifa_netmask)->sin_addr.s_addr : ~0u;
		connected |= (a & m) == (own & m);
	}
	freeifaddrs(list);
	return !connected;
}

/* A documentation address this host is not on (test machines may well be
 * on one of them: this one's eth0 was 192.0.2.2/24). */
static const char *unconnected_address(void)
{
	static const char *const candidates[] = {"192.0.2.77", "198.51.100.77", "203.0.113.77",
	                                         "100.64.77.77"};
	struct in_addr a;

	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
		assert_int_equal(inet_pton(AF_INET, candidates[i], &a), 1);
		if (is_unconnected(a.s_addr))
			return candidates[i];
	}
	fail_msg("this host is on every candidate address");
	return NULL;
}

/* Without forward-allow-any the host must be on this host's own networks;
 * the check runs with the system checks (start-up, --check-config). */
static void test_forward_hosts_checked_on_the_system(void **state)
{
	struct atb_config c;
	char e[1024] = "", text[256], want[320], own_s[INET_ADDRSTRLEN], other_s[INET_ADDRSTRLEN];
	const char *far;
	uint32_t own, other;
	FILE *f;

	(void)state;
	far = unconnected_address();
	snprintf(text, sizeof(text), "forward = tcp:1:%s:22\nforward = tcp:2:127.0.0.53:53\n"
	         "forward = tcp:3:10.85.0.1:22\nforward = tcp:4:10.85.0.200:80\n", far);
	write_file(text);
	assert_int_equal(load(&c, e, sizeof(e), NULL), 0);
	f = fmemopen(e, sizeof(e), "w");
	assert_int_equal(config_check_system(&c, f), 1);
	fclose(f);
	one_line(e);
	snprintf(want, sizeof(want), ":1: forward: 'tcp:1:%s:22': %s is outside the tun prefix "
	         "10.85.0.0/24, 127.0.0.0/8, this host's addresses and its directly connected "
	         "subnets (forward-allow-any = yes allows it)\n", far, far);
	if (!strstr(e, want))
		fail_msg("forward host check: %s", e);

	/* the same through config_load, as atbridge and --check-config run it */
	snprintf(text, sizeof(text), "address = 10.9.0.1/16\nlwip-address = 10.9.0.2\n"
	         "forward = tcp:1:10.9.7.7:22\nforward = tcp:2:%s:22\n", far);
	write_file(text);
	{
		char *argv[] = {"atbridge", "--config", path, NULL};
		FILE *ef = fmemopen(e, sizeof(e), "w");
		static const char *const names[] = {NULL};

		config_defaults(&c);
		c.model_names = names;
		c.check_system = true;
		assert_int_equal(config_load(&c, 3, argv, ef), -1);
		fclose(ef);
		unlink(path);
	}
	one_line(e);
	snprintf(want, sizeof(want), ":4: forward: 'tcp:2:%s:22': %s is outside the tun prefix 10.9.0.0/16",
	         far, far);
	if (!strstr(e, want))
		fail_msg("forward host check through config_load: %s", e);

	snprintf(text, sizeof(text), "forward = tcp:1:%s:22\nforward-allow-any = yes\n", far);
	write_file(text);
	assert_int_equal(load(&c, e, sizeof(e), NULL), 0);
	f = fmemopen(e, sizeof(e), "w");
	assert_int_equal(config_check_system(&c, f), 0);
	fclose(f);

	if (!a_connected_subnet(&own, &other)) {
		print_message("no non-loopback IPv4 subnet here: the LAN case is not checked\n");
		return;
	}
	inet_ntop(AF_INET, &own, own_s, sizeof(own_s));
	inet_ntop(AF_INET, &other, other_s, sizeof(other_s));
	snprintf(text, sizeof(text), "forward = tcp:1:%s:22\nforward = tcp:2:%s:22\n", own_s, other_s);
	write_file(text);
	assert_int_equal(load(&c, e, sizeof(e), NULL), 0);
	e[0] = '\0'; /* fmemopen writes no NUL when nothing is written */
	f = fmemopen(e, sizeof(e), "w");
	assert_int_equal(config_check_system(&c, f), 0);
	fclose(f);
	assert_string_equal(e, "");
}

/* What --check-config prints reads back to the same configuration. */
static void test_print_round_trip(void **state)
{
	struct atb_config a, b;
	char e[512] = "", out[4096] = "";
	FILE *f;

	(void)state;
	write_file("device = /dev/ttyUSB1\nmtu = 1300\nnetns = ns1\ndns = forward\n"
	           "no-default-route = yes\nsim-arg = --x\nmodel = n11v2\n"
	           "forward = tcp:2222:127.0.0.1:22\nforward = tcp:80:10.85.0.5:8080\n"
	           "inbound-links = 3\nforward-allow-any = yes\n");
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
	assert_string_equal(b.model, "n11v2");
	assert_int_equal(b.n_forwards, 2);
	assert_memory_equal(b.forwards, a.forwards, sizeof(a.forwards));
	assert_int_equal(b.inbound_links, 3);
	assert_true(b.forward_allow_any);
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
		cmocka_unit_test(test_forwards_read),
		cmocka_unit_test(test_bad_forwards_name_file_and_line),
		cmocka_unit_test(test_bad_forward_changes_nothing),
		cmocka_unit_test(test_forward_hosts_checked_on_the_system),
		cmocka_unit_test(test_print_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for the simulator's own parsers: AT command lines and hosts
 * file lines (cmocka). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>
#include <arpa/inet.h>

#include "sim.h"

static bool parse(const char *s, struct at_cmd *c)
{
	return at_parse(s, strlen(s), c);
}

static void test_types(void **state)
{
	(void)state;
	struct at_cmd c;
	assert_true(parse("+CIPSEND", &c));
	assert_string_equal(c.name, "+CIPSEND");
	assert_int_equal(c.type, AT_EXEC);
	assert_true(parse("+cipmux?", &c));
	assert_string_equal(c.name, "+CIPMUX");
	assert_int_equal(c.type, AT_READ);
	assert_true(parse("+CIPSTART=?", &c));
	assert_int_equal(c.type, AT_TEST);
	assert_true(parse("E0", &c));
	assert_string_equal(c.name, "E");
	assert_string_equal(c.rest, "0");
	assert_true(parse("&D1", &c));
	assert_string_equal(c.name, "&D");
	assert_string_equal(c.rest, "1");
	assert_false(parse("+CIPMUX?x", &c));
	assert_false(parse("+CIPMUX=?1", &c));
}

static void test_args(void **state)
{
	(void)state;
	struct at_cmd c;
	assert_true(parse("+CIPSTART=0,\"TCP\",\"a.b\", 80", &c));
	assert_int_equal(c.type, AT_WRITE);
	assert_int_equal(c.na, 4);
	assert_string_equal(c.a[0].s, "0");
	assert_false(c.a[0].quoted);
	assert_string_equal(c.a[1].s, "TCP");
	assert_true(c.a[1].quoted);
	assert_string_equal(c.a[2].s, "a.b");
	assert_string_equal(c.a[3].s, "80");
	assert_true(parse("+CIPCCFG=1,,3", &c));
	assert_int_equal(c.na, 3);
	assert_string_equal(c.a[1].s, "");
	assert_true(parse("+CSTT=\"a,b\"", &c));
	assert_int_equal(c.na, 1);
	assert_string_equal(c.a[0].s, "a,b");
	assert_false(parse("+CSTT=\"open", &c));
	assert_false(parse("+CSTT=\"a\"b", &c));
	assert_false(parse("+X=a\"b", &c));
	assert_false(parse("+X=1,2,3,4,5,6,7,8,9,10,11,12,13", &c));
	long v;
	assert_true(parse("+X=1460,-1,x,99999999999999999999", &c));
	assert_true(at_int(&c.a[0], 1, 1460, &v));
	assert_int_equal(v, 1460);
	assert_false(at_int(&c.a[0], 1, 1459, &v));
	assert_false(at_int(&c.a[1], 0, 10, &v));
	assert_false(at_int(&c.a[2], 0, 10, &v));
	assert_false(at_int(&c.a[3], 0, 100000, &v));
	assert_false(at_int(NULL, 0, 1, &v));
}

static void test_escapes(void **state)
{
	(void)state;
	struct at_cmd c;
	const char *s = "+TCPSEND=0,4,\"a\\\"\\\\b\"";
	assert_false(at_parse(s, strlen(s), &c));
	assert_true(at_parse_escaped(s, strlen(s), &c));
	assert_string_equal(c.a[2].s, "a\"\\b");
}

static void test_hosts(void **state)
{
	(void)state;
	struct in_addr a[4];
	sim_hosts_clear();
	assert_true(sim_hosts_parse_line("198.51.100.7 www.example.test alias.test # c\n"));
	assert_true(sim_hosts_parse_line("other.test 203.0.113.5"));
	assert_true(sim_hosts_parse_line("   # only a comment"));
	assert_true(sim_hosts_parse_line("::1 localhost ip6-localhost"));
	assert_true(sim_hosts_parse_line("198.51.100.8 www.example.test"));
	assert_false(sim_hosts_parse_line("just-a-name"));
	assert_false(sim_hosts_parse_line("name 999.1.1.1"));
	assert_int_equal(sim_hosts_lookup("WWW.example.test", a, 4), 2);
	assert_string_equal(inet_ntoa(a[0]), "198.51.100.7");
	assert_string_equal(inet_ntoa(a[1]), "198.51.100.8");
	assert_int_equal(sim_hosts_lookup("alias.test", a, 4), 1);
	assert_int_equal(sim_hosts_lookup("other.test", a, 4), 1);
	assert_string_equal(inet_ntoa(a[0]), "203.0.113.5");
	assert_int_equal(sim_hosts_lookup("10.1.2.3", a, 4), 1);
	assert_int_equal(sim_hosts_lookup("missing.test", a, 4), 0);
	assert_int_equal(sim_hosts_lookup("other.test", a, 4), 1);
	assert_true(sim_hosts_known_addr(a[0]));
	inet_pton(AF_INET, "127.0.0.9", &a[0]);
	assert_true(sim_hosts_known_addr(a[0]));
	inet_pton(AF_INET, "192.0.2.1", &a[0]);
	assert_false(sim_hosts_known_addr(a[0]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_args),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_hosts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

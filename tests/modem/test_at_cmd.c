/* The command builder refuses anything that could end or add a command. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <arpa/inet.h>

#include "at_cmd.h"

static void test_format(void **state)
{
	(void)state;
	char buf[128];
	assert_true(at_cmd_format(buf, sizeof(buf), "AT+CIPSTART=%u,%q,\"%a\",%u", 3u, "TCP",
	                          htonl(0xc0000201), 443u));
	assert_string_equal(buf, "AT+CIPSTART=3,\"TCP\",\"192.0.2.1\",443");
	assert_true(at_cmd_format(buf, sizeof(buf), "AT+CSTT=%q,%q,%q", "internet", "", "p w!"));
	assert_string_equal(buf, "AT+CSTT=\"internet\",\"\",\"p w!\"");
	assert_true(at_cmd_format(buf, sizeof(buf), "AT+CDNSGIP=%h", "example.org"));
	assert_string_equal(buf, "AT+CDNSGIP=\"example.org\"");
	assert_true(at_cmd_format(buf, sizeof(buf), "100%%"));
	assert_string_equal(buf, "100%");
}

static void test_refusals(void **state)
{
	(void)state;
	char buf[64];
	assert_false(at_cmd_format(buf, sizeof(buf), "AT+CSTT=%q", "a\"b"));
	assert_string_equal(buf, "");
	assert_false(at_cmd_format(buf, sizeof(buf), "AT+CSTT=%q", "a\rAT+CFUN=0"));
	assert_false(at_cmd_format(buf, sizeof(buf), "AT+CSTT=%q", "a\nb"));
	assert_false(at_cmd_format(buf, sizeof(buf), "AT+CSTT=%q", "a\x1a"));
	assert_false(at_cmd_format(buf, sizeof(buf), "AT+CSTT=%q", "caf\xc3\xa9"));
	assert_false(at_cmd_format(buf, sizeof(buf), "AT+CSTT=%q", "a\\b"));
	assert_false(at_cmd_format(buf, sizeof(buf), "AT+CDNSGIP=%h", "a b"));
	assert_false(at_cmd_format(buf, sizeof(buf), "AT+CDNSGIP=%h", ""));
	assert_false(at_cmd_format(buf, sizeof(buf), "AT+CDNSGIP=%h", "x\",\"y"));
	assert_false(at_cmd_format(buf, sizeof(buf), "%z"));
	/* too long for the buffer */
	assert_false(at_cmd_format(buf, 8, "AT+CSTT=%q", "internet"));
}

/* %Q (a PIN): quoted like %q; a refused value never reaches stderr. */
static void test_secret(void **state)
{
	(void)state;
	char buf[64], err[512];
	assert_true(at_cmd_format(buf, sizeof(buf), "AT+CPIN=%Q", "1234"));
	assert_string_equal(buf, "AT+CPIN=\"1234\"");
	FILE *tmp = tmpfile();
	assert_non_null(tmp);
	fflush(stderr);
	int saved = dup(2);
	assert_true(dup2(fileno(tmp), 2) == 2);
	bool ok = at_cmd_format(buf, sizeof(buf), "AT+CPIN=%Q", "12\"34xyzzy");
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	assert_false(ok);
	rewind(tmp);
	size_t n = fread(err, 1, sizeof(err) - 1, tmp);
	err[n] = '\0';
	fclose(tmp);
	assert_true(n > 0);
	assert_null(strstr(err, "xyzzy"));
	assert_null(strstr(err, "12"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_secret),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

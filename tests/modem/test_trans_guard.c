/* The +++ rule of transparent links (bridge/modem/trans.c): a write never
 * ends on the third '+' of a run that began after a guard-long silence, so a
 * payload "+++" cannot be followed by the silence that would make it the
 * escape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "trans.h"

static size_t lim(int run, const char *s)
{
	return trans_guard_limit(run, (const uint8_t *)s, strlen(s));
}

static int run_of(int run, const char *s)
{
	return trans_guard_run(run, (const uint8_t *)s, strlen(s));
}

static void test_no_silence(void **state)
{
	(void)state;
	/* run -1: no guard-long silence before: anything goes */
	assert_int_equal(lim(-1, "+++"), 3);
	assert_int_equal(lim(-1, "+"), 1);
	assert_int_equal(run_of(-1, "+++"), -1);
}

static void test_after_silence(void **state)
{
	(void)state;
	assert_int_equal(lim(0, "+++"), 2);   /* the third '+' waits */
	assert_int_equal(lim(0, "+++x"), 4);  /* a byte follows at once: data */
	assert_int_equal(lim(0, "++++"), 4);  /* four '+' are never the escape */
	assert_int_equal(lim(0, "++"), 2);
	assert_int_equal(lim(0, "x+++"), 4);  /* not at the start of the run */
	assert_int_equal(lim(2, "+"), 0);     /* "++" went out, the third waits */
	assert_int_equal(lim(2, "+y"), 2);
	assert_int_equal(lim(1, "++"), 1);
	assert_int_equal(lim(1, "++z"), 3);
}

static void test_run_tracking(void **state)
{
	(void)state;
	assert_int_equal(run_of(0, "++"), 2);
	assert_int_equal(run_of(2, "+"), 3);
	assert_int_equal(run_of(3, "+"), -1);
	assert_int_equal(run_of(0, "+a"), -1);
	assert_int_equal(run_of(0, ""), 0);
	/* a run that the limit let through never stops on exactly three */
	const char *w[] = { "+", "+", "+", "+" };
	int run = 0;
	for (size_t i = 0; i < 4; i++) {
		size_t n = lim(run, w[i]);
		run = trans_guard_run(run, (const uint8_t *)w[i], n);
		assert_true(run != 3);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_silence),
		cmocka_unit_test(test_after_silence),
		cmocka_unit_test(test_run_tracking),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

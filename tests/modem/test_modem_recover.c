/* modem_recover.c: the holdoff doubles up to its bound and starts over
 * after a success (pppd's holdoff); a silent module makes the reboot
 * request due, a restart by itself cancels it; maxfail failures in a row
 * end the process with status 1 (pppd's maxfail; 0 = persist). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sys/wait.h>
#include <unistd.h>

#include "modem_priv.h"

static struct modem *mk(unsigned holdoff, unsigned holdoff_max, unsigned maxfail)
{
	struct modem *m = calloc(1, sizeof(*m));
	m->cfg.holdoff_ms = holdoff;
	m->cfg.holdoff_max_ms = holdoff_max;
	m->cfg.maxfail = maxfail;
	m->module = modem_module_of("sim7000");
	m->dialect = &mlink_dialect;
	modem_recover_init(m);
	return m;
}

static void test_holdoff_doubles_to_its_bound(void **state)
{
	(void)state;
	struct modem *m = mk(500, 3000, 0);
	static const double want[] = { 0.5, 1.0, 2.0, 3.0, 3.0, 3.0 };
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_true(modem_recover_failed(m, false) == want[i]);
	modem_recover_succeeded(m);
	assert_true(modem_recover_holdoff(m) == 0.5);
	assert_true(modem_recover_failed(m, false) == 0.5);
	free(m);
}

static void test_defaults(void **state)
{
	(void)state;
	struct modem *m = mk(0, 0, 0); /* 1 s, up to 30 s, for ever */
	double last = 0;
	for (int i = 0; i < 1000; i++)
		last = modem_recover_failed(m, false);
	assert_true(last == 30.0);
	free(m);
}

static void test_reboot_due(void **state)
{
	(void)state;
	struct modem *m = mk(0, 0, 0);
	modem_recover_failed(m, false); /* a row failed: the module answers */
	assert_false(m->reboot_due);
	modem_recover_failed(m, true); /* not even AT was answered */
	assert_true(m->reboot_due);
	modem_recover_module_restarted(m);
	assert_false(m->reboot_due);
	modem_recover_module_dead(m);
	assert_true(m->reboot_due);
	modem_recover_succeeded(m);
	assert_false(m->reboot_due);
	free(m);
}

static void test_maxfail_exits(void **state)
{
	(void)state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct modem *m = mk(100, 100, 3);
		modem_recover_failed(m, false);
		modem_recover_failed(m, false);
		_exit(7); /* not yet */
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 7);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct modem *m = mk(100, 100, 3);
		for (int i = 0; i < 3; i++)
			modem_recover_failed(m, false);
		_exit(7);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_holdoff_doubles_to_its_bound),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_reboot_due),
		cmocka_unit_test(test_maxfail_exits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

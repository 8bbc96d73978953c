/* The command channel over a socketpair, with the test playing the module. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ev.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "at_chan.h"

struct t {
	struct ev_loop *loop;
	int fds[2]; /* [0] the channel's "serial port", [1] the module */
	struct at_chan *c;
	int done_n;
	enum at_result res[16];
	char final[16][64];
	char lines[16][64];
	int lines_n;
	char urcs[16][64];
	int urcs_n;
	uint8_t payload[256];
	size_t payload_len;
	int idle_n;
	int stalled_n, rebooted_n;
};

static size_t hook_payload_len(void *ctx, const char *line)
{
	(void)ctx;
	unsigned n;
	if (sscanf(line, "+DATA: %u", &n) == 1)
		return n;
	return 0;
}

static void hook_idle(void *ctx)
{
	struct t *t = ctx;
	t->idle_n++;
}

static const struct at_chan_hooks hooks = {
	.payload_len = hook_payload_len,
	.idle = hook_idle,
};

static void hook_stalled(void *ctx)
{
	((struct t *)ctx)->stalled_n++;
}

static void hook_rebooted(void *ctx)
{
	((struct t *)ctx)->rebooted_n++;
}

static const struct at_chan_hooks resync_hooks = {
	.payload_len = hook_payload_len,
	.idle = hook_idle,
	.stalled = hook_stalled,
	.rebooted = hook_rebooted,
};

static void on_urc(void *ctx, const char *line)
{
	struct t *t = ctx;
	snprintf(t->urcs[t->urcs_n++ % 16], 64, "%s", line);
}

static void cmd_line(void *ctx, const struct at_cmd *cmd, const char *line)
{
	(void)cmd;
	struct t *t = ctx;
	snprintf(t->lines[t->lines_n++ % 16], 64, "%s", line);
}

static void cmd_payload(void *ctx, const struct at_cmd *cmd, const uint8_t *data, size_t len)
{
	(void)cmd;
	struct t *t = ctx;
	memcpy(t->payload, data, len);
	t->payload_len = len;
}

static void cmd_done(void *ctx, const struct at_cmd *cmd, enum at_result res, const char *final)
{
	(void)cmd;
	struct t *t = ctx;
	t->res[t->done_n % 16] = res;
	snprintf(t->final[t->done_n % 16], 64, "%s", final);
	t->done_n++;
}

static struct at_cmd mk(struct t *t, const char *text, unsigned timeout_ms)
{
	struct at_cmd c = { 0 };
	snprintf(c.text, sizeof(c.text), "%s", text);
	c.timeout_ms = timeout_ms;
	c.line = cmd_line;
	c.payload = cmd_payload;
	c.done = cmd_done;
	c.ctx = t;
	return c;
}

static void on_stop(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

static void spin(struct t *t, double seconds)
{
	ev_timer tm;
	ev_timer_init(&tm, on_stop, seconds, 0.);
	ev_timer_start(t->loop, &tm);
	ev_run(t->loop, 0);
	ev_timer_stop(t->loop, &tm);
}

/* What the channel wrote to the module since last time. */
static size_t module_read(struct t *t, char *buf, size_t cap)
{
	ssize_t n = read(t->fds[1], buf, cap - 1);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	return (size_t)n;
}

static void module_say(struct t *t, const void *s, size_t n)
{
	assert_int_equal(write(t->fds[1], s, n), (ssize_t)n);
}

#define SAY(t, s) module_say(t, s, sizeof(s) - 1)

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	t->loop = ev_loop_new(EVFLAG_AUTO);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, t->fds), 0);
	fcntl(t->fds[0], F_SETFL, O_NONBLOCK);
	fcntl(t->fds[1], F_SETFL, O_NONBLOCK);
	t->c = at_chan_new(t->loop, t->fds[0], &hooks, t);
	assert_true(at_chan_on_urc(t->c, "+URC:", on_urc, NULL, t));
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;
	at_chan_free(t->c);
	close(t->fds[0]);
	close(t->fds[1]);
	ev_loop_destroy(t->loop);
	free(t);
	return 0;
}

static void test_one_in_flight(void **state)
{
	struct t *t = *state;
	char buf[512];
	struct at_cmd a = mk(t, "AT+A", 1000), b = mk(t, "AT+B", 1000);
	assert_true(at_chan_submit(t->c, &a));
	assert_true(at_chan_submit(t->c, &b));
	spin(t, 0.02);
	module_read(t, buf, sizeof(buf));
	assert_string_equal(buf, "AT+A\r"); /* B waits */
	SAY(t, "\r\nOK\r\n");
	spin(t, 0.02);
	assert_int_equal(t->done_n, 1);
	assert_int_equal(t->res[0], AT_RES_OK);
	module_read(t, buf, sizeof(buf));
	assert_string_equal(buf, "AT+B\r");
	SAY(t, "\r\n+CME ERROR: 3\r\n");
	spin(t, 0.02);
	assert_int_equal(t->done_n, 2);
	assert_int_equal(t->res[1], AT_RES_ERROR);
	assert_string_equal(t->final[1], "+CME ERROR: 3");
	assert_true(t->idle_n >= 1);
}

/* Echo, then URCs, then the reply, all in one read and split too. */
static void test_urc_between_echo_and_result(void **state)
{
	struct t *t = *state;
	char buf[512];
	struct at_cmd a = mk(t, "AT+CSQ", 1000);
	assert_true(at_chan_submit(t->c, &a));
	spin(t, 0.01);
	module_read(t, buf, sizeof(buf));
	SAY(t, "AT+CSQ\r\r\n+URC: 1\r\n\r\n+URC: 2\r\n\r\n+CS");
	spin(t, 0.01);
	SAY(t, "Q: 20,0\r\n\r\n+URC: 3\r\n\r\nO");
	spin(t, 0.01);
	assert_int_equal(t->done_n, 0);
	SAY(t, "K\r\n");
	spin(t, 0.01);
	assert_int_equal(t->done_n, 1);
	assert_int_equal(t->res[0], AT_RES_OK);
	assert_int_equal(t->urcs_n, 3);
	assert_string_equal(t->urcs[2], "+URC: 3");
	assert_int_equal(t->lines_n, 1); /* the echo is not a line of the reply */
	assert_string_equal(t->lines[0], "+CSQ: 20,0");
}

static void test_timeout(void **state)
{
	struct t *t = *state;
	char buf[512];
	struct at_cmd a = mk(t, "AT+SLOW", 50), b = mk(t, "AT", 1000);
	assert_true(at_chan_submit(t->c, &a));
	assert_true(at_chan_submit(t->c, &b));
	spin(t, 0.2);
	assert_int_equal(t->done_n, 1);
	assert_int_equal(t->res[0], AT_RES_TIMEOUT);
	module_read(t, buf, sizeof(buf));
	assert_string_equal(buf, "AT+SLOW\rAT\r");
	SAY(t, "OK\r\n");
	spin(t, 0.01);
	assert_int_equal(t->done_n, 2);
	assert_int_equal(t->res[1], AT_RES_OK);
	struct at_chan_stats st;
	at_chan_get_stats(t->c, &st);
	assert_int_equal(st.timeouts, 1);
	assert_int_equal(st.commands, 2);
}

/* The data goes out only after "> ", exactly as given, 0x1A and all. */
static void test_prompt_and_data(void **state)
{
	struct t *t = *state;
	char buf[512];
	static const uint8_t data[] = "a\x1a\r\nOK\r\n> b";
	struct at_cmd a = mk(t, "AT+CIPSEND=0,12", 1000);
	a.data = data;
	a.data_len = sizeof(data) - 1;
	assert_true(at_chan_submit(t->c, &a));
	spin(t, 0.01);
	assert_int_equal(module_read(t, buf, sizeof(buf)), 16);
	SAY(t, "\r\n> ");
	spin(t, 0.01);
	size_t n = module_read(t, buf, sizeof(buf));
	assert_int_equal(n, sizeof(data) - 1);
	assert_memory_equal(buf, data, n);
	SAY(t, "\r\nDATA ACCEPT: 0,12\r\n");
	spin(t, 0.01);
	assert_int_equal(t->done_n, 1);
	assert_int_equal(t->res[0], AT_RES_OK);
	assert_string_equal(t->final[0], "DATA ACCEPT: 0,12");
}

/* A payload announced by a reply line goes to the command, raw. */
static void test_payload(void **state)
{
	struct t *t = *state;
	char buf[512];
	struct at_cmd a = mk(t, "AT+READ", 1000);
	assert_true(at_chan_submit(t->c, &a));
	spin(t, 0.01);
	module_read(t, buf, sizeof(buf));
	SAY(t, "\r\n+DATA: 9\r\nOK\r\nERROR\r\n+URC: 9\r\n\r\nOK\r\n");
	spin(t, 0.01);
	assert_int_equal(t->payload_len, 9);
	assert_memory_equal(t->payload, "OK\r\nERROR", 9);
	assert_int_equal(t->done_n, 1);
	assert_int_equal(t->res[0], AT_RES_OK);
	assert_int_equal(t->urcs_n, 1); /* after the payload, line mode again */
}

static void test_queue_bound_and_cancel(void **state)
{
	struct t *t = *state;
	struct at_cmd a = mk(t, "AT", 1000);
	assert_true(at_chan_submit(t->c, &a)); /* in flight */
	for (int i = 0; i < AT_QUEUE_MAX; i++)
		assert_true(at_chan_submit(t->c, &a));
	assert_false(at_chan_submit(t->c, &a));
	assert_int_equal(at_chan_queued(t->c), AT_QUEUE_MAX);
	at_chan_cancel_queued(t->c);
	assert_int_equal(t->done_n, AT_QUEUE_MAX);
	assert_int_equal(t->res[0], AT_RES_CANCELLED);
	assert_true(at_chan_busy(t->c));
}

static void test_generic_finals(void **state)
{
	(void)state;
	assert_int_equal(at_final_generic("OK"), AT_FINAL_OK);
	assert_int_equal(at_final_generic("SHUT OK"), AT_FINAL_OK);
	assert_int_equal(at_final_generic("CLOSE OK"), AT_FINAL_OK);
	assert_int_equal(at_final_generic("DATA ACCEPT:0,10"), AT_FINAL_OK);
	assert_int_equal(at_final_generic("ERROR"), AT_FINAL_ERROR);
	assert_int_equal(at_final_generic("+CME ERROR: SIM not inserted"), AT_FINAL_ERROR);
	assert_int_equal(at_final_generic("SEND FAIL"), AT_FINAL_ERROR);
	assert_int_equal(at_final_generic("0, CLOSE OK"), AT_NOT_FINAL);
	assert_int_equal(at_final_generic("OKAY"), AT_NOT_FINAL);
	int n = -1;
	assert_string_equal(at_skip_link_prefix("3, CLOSED", &n), "CLOSED");
	assert_int_equal(n, 3);
	assert_string_equal(at_skip_link_prefix("7,CONNECT OK", &n), "CONNECT OK");
	assert_int_equal(n, 7);
	assert_null(at_skip_link_prefix("+CIPRXGET: 1,0", &n));
}

/* A payload cut short (the module restarted mid-read) is given up after
 * the slack plus three times its line time, before the command's own
 * timeout, and the lines after it are lines again (the boot URC is seen). */
static void test_payload_cut(void **state)
{
	struct t *t = *state;
	char buf[512];
	struct at_cmd a = mk(t, "AT+READ", 10000);
	assert_true(at_chan_submit(t->c, &a));
	spin(t, 0.01);
	module_read(t, buf, sizeof(buf));
	SAY(t, "\r\n+DATA: 200\r\n0123456789");
	spin(t, AT_PAYLOAD_SLACK_MS / 1000.0 - 0.5);
	assert_int_equal(t->done_n, 0); /* a pause of a live module */
	spin(t, 0.8); /* slack + 3 * 200 bytes at 115200 baud */
	assert_int_equal(t->done_n, 1);
	assert_int_equal(t->res[0], AT_RES_TIMEOUT);
	SAY(t, "\r\n+URC: RDY\r\n");
	spin(t, 0.01);
	assert_int_equal(t->urcs_n, 1);
	assert_string_equal(t->urcs[0], "+URC: RDY");
	assert_int_equal(t->payload_len, 0);
}

/* A command timeout also forgets a payload in progress: a header whose
 * bytes never come must not eat the next answer. */
static void test_timeout_resets_payload(void **state)
{
	struct t *t = *state;
	char buf[512];
	struct at_cmd a = mk(t, "AT+READ", 50), b = mk(t, "AT", 1000);
	at_chan_set_line_rate(t->c, 300); /* a long payload deadline */
	assert_true(at_chan_submit(t->c, &a));
	assert_true(at_chan_submit(t->c, &b));
	spin(t, 0.01);
	SAY(t, "\r\n+DATA: 100\r\nab");
	spin(t, 0.2);
	assert_int_equal(t->done_n, 1);
	assert_int_equal(t->res[0], AT_RES_TIMEOUT);
	module_read(t, buf, sizeof(buf));
	SAY(t, "\r\nOK\r\n");
	spin(t, 0.01);
	assert_int_equal(t->done_n, 2);
	assert_int_equal(t->res[1], AT_RES_OK);
}

static void resync_setup(struct t *t)
{
	at_chan_set_hooks(t->c, &resync_hooks, t);
	at_chan_set_resync(t->c, true);
}

/* After a timeout a bare AT probe goes first; an echoed probe means the
 * module restarted (echo is on after power-up). */
static void test_resync_echo_means_reboot(void **state)
{
	struct t *t = *state;
	char buf[512];
	struct at_cmd a = mk(t, "AT+SLOW", 50), b = mk(t, "AT+NEXT", 1000);
	resync_setup(t);
	assert_true(at_chan_submit(t->c, &a));
	assert_true(at_chan_submit(t->c, &b));
	spin(t, 0.2);
	assert_true(at_chan_resyncing(t->c));
	module_read(t, buf, sizeof(buf));
	assert_string_equal(buf, "AT+SLOW\r\rAT\r"); /* the probe, not AT+NEXT */
	SAY(t, "AT\r\r\nOK\r\n");
	spin(t, 0.01);
	assert_int_equal(t->rebooted_n, 1);
	assert_int_equal(t->stalled_n, 0);
	assert_false(at_chan_resyncing(t->c));
	module_read(t, buf, sizeof(buf));
	assert_string_equal(buf, "AT+NEXT\r");
}

/* A probe answered without echo: the module is alive, the queue goes on. */
static void test_resync_alive(void **state)
{
	struct t *t = *state;
	char buf[512];
	struct at_cmd a = mk(t, "AT+SLOW", 50), b = mk(t, "AT+NEXT", 1000);
	resync_setup(t);
	assert_true(at_chan_submit(t->c, &a));
	assert_true(at_chan_submit(t->c, &b));
	spin(t, 0.2);
	module_read(t, buf, sizeof(buf));
	SAY(t, "\r\nOK\r\n");
	spin(t, 0.01);
	assert_int_equal(t->rebooted_n + t->stalled_n, 0);
	module_read(t, buf, sizeof(buf));
	assert_string_equal(buf, "AT+NEXT\r");
}

/* No answer to AT_RESYNC_PROBES probes: stalled, once. */
static void test_resync_silent(void **state)
{
	struct t *t = *state;
	char buf[512];
	struct at_cmd a = mk(t, "AT+SLOW", 50);
	resync_setup(t);
	assert_true(at_chan_submit(t->c, &a));
	spin(t, 0.05 + AT_RESYNC_PROBES * AT_RESYNC_TIMEOUT_MS / 1000.0 + 0.3);
	assert_int_equal(t->stalled_n, 1);
	module_read(t, buf, sizeof(buf));
	assert_string_equal(buf, "AT+SLOW\r\rAT\r\rAT\r\rAT\r");
	assert_false(at_chan_resyncing(t->c));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_one_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_urc_between_echo_and_result, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prompt_and_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_payload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_bound_and_cancel, setup, teardown),
		cmocka_unit_test(test_generic_finals),
		cmocka_unit_test_setup_teardown(test_payload_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_resets_payload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resync_echo_means_reboot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resync_alive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resync_silent, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

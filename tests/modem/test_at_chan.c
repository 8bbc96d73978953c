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
	assert_int_equal(t->done_n, 1); /* a bare error waits to see it is no stray */
	spin(t, AT_ERROR_WAIT_MS / 1000.0 + 0.05);
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

static enum at_final accept_final(const struct at_cmd *cmd, const char *line)
{
	(void)cmd;
	return !strncmp(line, "DATA ACCEPT:", 12) ? AT_FINAL_OK : AT_NOT_FINAL;
}

/* The data goes out only after "> ", exactly as given, 0x1A and all. */
static void test_prompt_and_data(void **state)
{
	struct t *t = *state;
	char buf[512];
	static const uint8_t data[] = "a\x1a\r\nOK\r\n> b";
	struct at_cmd a = mk(t, "AT+CIPSEND=0,12", 1000);
	a.final = accept_final;
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
	assert_int_equal(at_final_generic("DATA ACCEPT:0,10"), AT_NOT_FINAL); /* the send's own */
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
	struct at_cmd a = mk(t, "AT+READ", AT_PAYLOAD_SLACK_MS + 10000);
	assert_true(at_chan_submit(t->c, &a));
	spin(t, 0.01);
	module_read(t, buf, sizeof(buf));
	SAY(t, "\r\n+DATA: 200\r\n0123456789");
	/* the command's own timeout is longer than the payload's slack */
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

/* After a timeout: guard silence, then "\rATE1"; its echo means the module
 * restarted (echo is on after power-up, and we had not turned it on). */
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
	assert_string_equal(buf, "AT+SLOW\r"); /* silence first: nothing else yet */
	spin(t, AT_SYNC_GUARD_MS / 1000.0);
	module_read(t, buf, sizeof(buf));
	assert_string_equal(buf, "\rATE1\r"); /* the check, not AT+NEXT */
	SAY(t, "ATE1\r\r\nOK\r\n");
	spin(t, 0.01);
	assert_int_equal(t->rebooted_n, 1);
	assert_int_equal(t->stalled_n, 0);
	assert_false(at_chan_resyncing(t->c));
	module_read(t, buf, sizeof(buf));
	assert_string_equal(buf, "AT+NEXT\r");
}

/* The whole check: ATE1, the nonce line, its echo and final, ATE0; then the
 * queue goes on. A late OK of the timed-out command is skipped as stale. */
static void test_resync_alive(void **state)
{
	struct t *t = *state;
	char buf[512];
	struct at_cmd a = mk(t, "AT+SLOW", 50), b = mk(t, "AT+NEXT", 1000);
	resync_setup(t);
	at_chan_set_sync_times(t->c, 20, 500);
	assert_true(at_chan_submit(t->c, &a));
	assert_true(at_chan_submit(t->c, &b));
	spin(t, 0.3);
	module_read(t, buf, sizeof(buf));
	assert_string_equal(buf, "AT+SLOW\r\rATE1\r");
	SAY(t, "\r\nOK\r\n"); /* AT+SLOW's, late (or ATE1's: the nonce decides) */
	spin(t, 0.01);
	module_read(t, buf, sizeof(buf));
	assert_string_equal(buf, "AT+ATBSYNC=1\r");
	SAY(t, "\r\nOK\r\nAT+ATBSYNC=1\r\r\nERROR\r\n");
	spin(t, 0.01);
	module_read(t, buf, sizeof(buf));
	assert_string_equal(buf, "ATE0\r");
	assert_int_equal(t->done_n, 1); /* AT+NEXT still waits */
	SAY(t, "ATE0\r\r\nOK\r\n");
	spin(t, 0.01);
	assert_false(at_chan_resyncing(t->c));
	assert_int_equal(t->rebooted_n + t->stalled_n, 0);
	module_read(t, buf, sizeof(buf));
	assert_string_equal(buf, "AT+NEXT\r");
	struct at_chan_stats st;
	at_chan_get_stats(t->c, &st);
	assert_int_equal(st.sync_checks, 1);
}

/* No answer in AT_SYNC_ROUNDS rounds: stalled, once. */
static void test_resync_silent(void **state)
{
	struct t *t = *state;
	char buf[512];
	struct at_cmd a = mk(t, "AT+SLOW", 50);
	resync_setup(t);
	at_chan_set_sync_times(t->c, 20, 100);
	assert_true(at_chan_submit(t->c, &a));
	spin(t, 0.05 + AT_SYNC_ROUNDS * 0.6);
	assert_int_equal(t->stalled_n, 1);
	module_read(t, buf, sizeof(buf));
	assert_string_equal(buf, "AT+SLOW\r\rATE1\rAT+ATBSYNC=1\r\rATE1\rAT+ATBSYNC=2\r\rATE1\rAT+ATBSYNC=3\r");
	assert_false(at_chan_resyncing(t->c));
}

/* ---- strict matching ---- */

static enum at_final rd_final(const struct at_cmd *cmd, const char *line)
{
	(void)cmd;
	return !strncmp(line, "+DATA: ", 7) ? AT_PART : AT_NOT_FINAL;
}

static enum at_final send_final(const struct at_cmd *cmd, const char *line)
{
	(void)cmd;
	return !strcmp(line, "SEND OK") ? AT_FINAL_OK : AT_NOT_FINAL;
}

static enum at_final ack_final(const struct at_cmd *cmd, const char *line)
{
	(void)cmd;
	return !strncmp(line, "+ACK:", 5) ? AT_FINAL_OK : AT_NOT_FINAL;
}

static int strays_n;
static void hook_stray(void *ctx, const char *line)
{
	(void)ctx;
	(void)line;
	strays_n++;
}

static int synced_n;
static void hook_synced(void *ctx)
{
	(void)ctx;
	synced_n++;
}

static const struct at_chan_hooks strict_hooks = {
	.payload_len = hook_payload_len,
	.idle = hook_idle,
	.stalled = hook_stalled,
	.rebooted = hook_rebooted,
	.stray = hook_stray,
	.synced = hook_synced,
};

/* A bare OK before the read's header is a stray: it ends nothing, the read
 * takes its own answer, and a sync check runs before the next command. */
static void test_stray_ok_is_not_a_result(void **state)
{
	struct t *t = *state;
	char buf[512];
	struct at_cmd a = mk(t, "AT+READ", 1000), b = mk(t, "AT+NEXT", 1000);
	a.final = rd_final;
	a.flags = AT_F_STRICT;
	at_chan_set_hooks(t->c, &strict_hooks, t);
	at_chan_set_resync(t->c, true);
	strays_n = synced_n = 0;
	assert_true(at_chan_submit(t->c, &a));
	assert_true(at_chan_submit(t->c, &b));
	spin(t, 0.01);
	module_read(t, buf, sizeof(buf));
	SAY(t, "\r\nOK\r\n");
	spin(t, 0.01);
	assert_int_equal(t->done_n, 0);
	assert_int_equal(strays_n, 1);
	SAY(t, "\r\n+DATA: 3\r\nabc\r\nOK\r\n");
	spin(t, 0.01);
	assert_int_equal(t->done_n, 1);
	assert_int_equal(t->res[0], AT_RES_OK);
	assert_int_equal(t->payload_len, 3);
	module_read(t, buf, sizeof(buf));
	assert_string_equal(buf, "\rATE1\r"); /* not AT+NEXT: first the check */
}

/* A send waiting for its prompt takes no bare OK; a prompt nobody waits for
 * gets ESC, never data. */
static void test_send_needs_its_prompt(void **state)
{
	struct t *t = *state;
	char buf[512];
	static const uint8_t data[] = "\rAT+GMI\r";
	struct at_cmd a = mk(t, "AT+SEND=8", 1000);
	a.data = data;
	a.data_len = 8;
	a.final = send_final;
	a.flags = AT_F_STRICT;
	at_chan_set_hooks(t->c, &strict_hooks, t);
	at_chan_set_resync(t->c, true);
	strays_n = 0;
	assert_true(at_chan_submit(t->c, &a));
	spin(t, 0.01);
	module_read(t, buf, sizeof(buf));
	SAY(t, "\r\nOK\r\n");
	spin(t, 0.01);
	assert_int_equal(module_read(t, buf, sizeof(buf)), 0); /* no data */
	assert_int_equal(t->done_n, 0);
	SAY(t, "\r\n> ");
	spin(t, 0.01);
	assert_int_equal(module_read(t, buf, sizeof(buf)), 8);
	assert_memory_equal(buf, data, 8);
	SAY(t, "\r\nSEND OK\r\n");
	spin(t, 0.01);
	assert_int_equal(t->done_n, 1);
	assert_int_equal(t->res[0], AT_RES_OK);
	/* A second prompt: no send waits; ESC, not data. */
	SAY(t, "\r\n> ");
	spin(t, 0.01);
	size_t n = module_read(t, buf, sizeof(buf));
	assert_non_null(memchr(buf, 0x1b, n));
	assert_null(memchr(buf, 'G', n));
}

/* A bare ERROR before a read's header, and then the read's own answer: the
 * ERROR was a stray (it costs the read nothing); without an answer after it,
 * it stands after AT_ERROR_WAIT_MS. */
static void test_stray_error_before_answer(void **state)
{
	struct t *t = *state;
	char buf[512];
	at_chan_set_hooks(t->c, &strict_hooks, t);
	at_chan_set_resync(t->c, true);
	strays_n = 0;
	struct at_cmd a = mk(t, "AT+READ", 1000), b = mk(t, "AT+READ", 1000);
	a.final = b.final = rd_final;
	a.flags = b.flags = AT_F_STRICT;
	assert_true(at_chan_submit(t->c, &a));
	spin(t, 0.01);
	module_read(t, buf, sizeof(buf));
	SAY(t, "\r\nERROR\r\n\r\n+DATA: 3\r\nabc\r\nOK\r\n");
	spin(t, 0.05);
	assert_int_equal(t->done_n, 1);
	assert_int_equal(t->res[0], AT_RES_OK);
	assert_int_equal(t->payload_len, 3);
	assert_int_equal(strays_n, 1);
	/* a real error: nothing follows it */
	at_chan_set_resync(t->c, false);
	assert_true(at_chan_submit(t->c, &b));
	spin(t, 0.01);
	module_read(t, buf, sizeof(buf));
	SAY(t, "\r\n+CME ERROR: 3\r\n");
	spin(t, 0.05);
	assert_int_equal(t->done_n, 1);
	spin(t, AT_ERROR_WAIT_MS / 1000.0);
	assert_int_equal(t->done_n, 2);
	assert_int_equal(t->res[1], AT_RES_ERROR);
	assert_string_equal(t->final[1], "+CME ERROR: 3");
}

/* A sized send that timed out before its prompt: the module may still give
 * the prompt and take exactly len bytes. Nothing is written meanwhile (no
 * ESC, no sync check: they would be taken as data and the payload's tail
 * would run as commands); a late prompt gets the send's own data, then the
 * sync check runs. */
static void test_late_prompt_gets_its_data(void **state)
{
	struct t *t = *state;
	char buf[512];
	static const uint8_t data[] = "\rAT+GMI\r";
	struct at_cmd a = mk(t, "AT+SEND=8", 100);
	a.data = data;
	a.data_len = 8;
	a.final = send_final;
	a.flags = AT_F_STRICT;
	at_chan_set_hooks(t->c, &strict_hooks, t);
	at_chan_set_resync(t->c, true);
	at_chan_set_sync_times(t->c, 20, 300);
	assert_true(at_chan_submit(t->c, &a));
	spin(t, 0.01);
	module_read(t, buf, sizeof(buf));
	spin(t, 0.6); /* timed out; the guard would have ended long ago */
	assert_int_equal(t->done_n, 1);
	assert_int_equal(t->res[0], AT_RES_TIMEOUT);
	assert_int_equal(module_read(t, buf, sizeof(buf)), 0); /* nothing at all */
	SAY(t, "\r\n> ");
	spin(t, 0.01);
	assert_int_equal(module_read(t, buf, sizeof(buf)), 8);
	assert_memory_equal(buf, data, 8);
	SAY(t, "\r\nSEND OK\r\n");
	spin(t, 0.2);
	module_read(t, buf, sizeof(buf));
	assert_string_equal(buf, "\rATE1\r"); /* now the check */
}

/* "+ACK: ..." ends the command; an OK after it (the format line's reading)
 * is its own, not the next command's; without it (the examples' reading)
 * the next command still gets its own answer. */
static void test_trailing_ok_readings(void **state)
{
	struct t *t = *state;
	char buf[512];
	at_chan_set_hooks(t->c, &strict_hooks, t);
	at_chan_set_resync(t->c, true);
	strays_n = 0;
	for (int with_ok = 0; with_ok < 2; with_ok++) {
		struct at_cmd a = mk(t, "AT+ACK", 1000), b = mk(t, "AT+PLAIN", 1000);
		a.final = ack_final;
		a.flags = AT_F_STRICT | AT_F_TRAIL_OK;
		int base = t->done_n;
		assert_true(at_chan_submit(t->c, &a));
		assert_true(at_chan_submit(t->c, &b));
		spin(t, 0.01);
		module_read(t, buf, sizeof(buf));
		if (with_ok)
			SAY(t, "\r\n+ACK: 0,5,5\r\n\r\nOK\r\n");
		else
			SAY(t, "\r\n+ACK: 0,5,5\r\n");
		spin(t, 0.01);
		assert_int_equal(t->done_n, base + 1);
		/* AT+PLAIN may answer a bare OK: it waits for the trailing OK
		 * or AT_TRAIL_OK_MS, never takes it. */
		spin(t, AT_TRAIL_OK_MS / 1000.0 + 0.05);
		module_read(t, buf, sizeof(buf));
		assert_string_equal(buf, "AT+PLAIN\r");
		assert_int_equal(t->done_n, base + 1);
		SAY(t, "\r\nOK\r\n");
		spin(t, 0.01);
		assert_int_equal(t->done_n, base + 2);
		assert_int_equal(t->res[base + 1], AT_RES_OK);
	}
	assert_int_equal(strays_n, 0);
}

/* A sync check asked for while a trailing OK may still come: ATE1 waits for
 * it (or AT_TRAIL_OK_MS), so the owed OK is not taken for ATE1's answer. */
static void test_sync_waits_for_trailing_ok(void **state)
{
	struct t *t = *state;
	char buf[512];
	at_chan_set_hooks(t->c, &strict_hooks, t);
	at_chan_set_resync(t->c, true);
	struct at_cmd a = mk(t, "AT+ACK", 1000);
	a.final = ack_final;
	a.flags = AT_F_STRICT | AT_F_TRAIL_OK;
	assert_true(at_chan_submit(t->c, &a));
	spin(t, 0.01);
	module_read(t, buf, sizeof(buf));
	SAY(t, "\r\n+ACK: 0,5,5\r\n"); /* the examples' reading: no OK */
	spin(t, 0.01);
	assert_int_equal(t->done_n, 1);
	synced_n = 0;
	at_chan_request_sync(t->c);
	spin(t, 0.01);
	assert_int_equal(module_read(t, buf, sizeof(buf)), 0); /* not yet */
	spin(t, AT_TRAIL_OK_MS / 1000.0 + 0.05);
	module_read(t, buf, sizeof(buf));
	assert_string_equal(buf, "\rATE1\r");
	SAY(t, "\r\nOK\r\n");
	spin(t, 0.01);
	module_read(t, buf, sizeof(buf));
	assert_string_equal(buf, "AT+ATBSYNC=1\r"); /* at once: the OK was ATE1's */
	SAY(t, "AT+ATBSYNC=1\r\r\nERROR\r\n");
	spin(t, 0.01);
	module_read(t, buf, sizeof(buf));
	assert_string_equal(buf, "ATE0\r");
	SAY(t, "ATE0\r\r\nOK\r\n");
	spin(t, 0.01);
	assert_int_equal(synced_n, 1);
}

/* ---- every interleaving around one timed-out command ----
 *
 * A scripted module answers what the channel writes. AT+SLOW's answer is
 * held past its timeout and released in the guard time, at one of the
 * check's steps, or only after everything else,
 * 1-3 times; the module may also repeat its answer to ATE1. Afterwards three
 * commands with distinctive answers and a send must each get their own
 * answer, and the send's data must reach the module only after its prompt. */

struct mod {
	char in[4096];
	size_t in_len;
	bool echo, want_data;
	size_t data_left;
	int late_at, late_copies, dup_ate1;
	bool late_sent;
	bool data_before_prompt;
	char data[64];
	size_t data_len;
};

static void mod_release_late(struct t *t, struct mod *md)
{
	if (md->late_sent)
		return;
	md->late_sent = true;
	for (int i = 0; i < md->late_copies; i++)
		SAY(t, "\r\n+DATA: 4\r\nLATE\r\nOK\r\n");
}

static void mod_line(struct t *t, struct mod *md, const char *line)
{
	char out[sizeof(((struct mod *)0)->in) + 1]; /* the echo of a whole line */
	if (md->echo) {
		snprintf(out, sizeof(out), "%s\r", line);
		module_say(t, out, strlen(out));
	}
	if (!strcmp(line, "AT+SLOW"))
		return; /* answered late, see mod_release_late */
	if (!strcmp(line, "ATE1")) {
		if (md->late_at == 1)
			mod_release_late(t, md);
		md->echo = true;
		SAY(t, "\r\nOK\r\n");
		if (md->dup_ate1)
			SAY(t, "\r\nOK\r\n");
		return;
	}
	if (!strncmp(line, "AT+ATBSYNC=", 11)) {
		if (md->late_at == 2)
			mod_release_late(t, md);
		SAY(t, "\r\nERROR\r\n");
		if (md->late_at == 3)
			mod_release_late(t, md);
		return;
	}
	if (!strcmp(line, "ATE0")) {
		md->echo = false;
		SAY(t, "\r\nOK\r\n");
		return;
	}
	if (!strncmp(line, "AT+R", 4)) { /* AT+R1.. : "+DATA: 2" "R1" OK */
		snprintf(out, sizeof(out), "\r\n+DATA: 2\r\n%s\r\nOK\r\n", line + 3);
		module_say(t, out, strlen(out));
		return;
	}
	if (!strcmp(line, "AT+SEND=8")) {
		SAY(t, "\r\n> ");
		md->want_data = true;
		md->data_left = 8;
		return;
	}
	SAY(t, "\r\nERROR\r\n");
}

static void mod_run(struct t *t, struct mod *md)
{
	char buf[1024];
	size_t n = module_read(t, buf, sizeof(buf));
	for (size_t i = 0; i < n; i++) {
		char ch = buf[i];
		if (md->want_data) {
			md->data[md->data_len++] = ch;
			if (--md->data_left == 0) {
				md->want_data = false;
				SAY(t, "\r\nSEND OK\r\n");
			}
			continue;
		}
		if (ch == 0x1b || ch == '\n')
			continue;
		if (ch == '\r') {
			md->in[md->in_len] = '\0';
			if (md->in_len >= 2 && !strncmp(md->in, "AT", 2))
				mod_line(t, md, md->in);
			else if (md->in_len > 0 && strchr(md->in, 'G'))
				md->data_before_prompt = true;
			md->in_len = 0;
			continue;
		}
		if (md->in_len + 1 < sizeof(md->in))
			md->in[md->in_len++] = ch;
	}
}

static void test_resync_interleavings(void **state)
{
	struct t *t = *state;
	static const uint8_t data[] = "\rAT+GMI\r";
	int cases = 0;
	for (int late_at = 0; late_at <= 4; late_at++)
		for (int copies = 1; copies <= 3; copies++)
			for (int dup = 0; dup <= 1; dup++) {
				struct mod md = { .late_at = late_at, .late_copies = copies, .dup_ate1 = dup };
				at_chan_free(t->c);
				/* what the last case's module said after its channel
				 * went away is not this case's */
				char junk[4096];
				while (read(t->fds[0], junk, sizeof(junk)) > 0)
					;
				t->c = at_chan_new(t->loop, t->fds[0], &strict_hooks, t);
				at_chan_set_resync(t->c, true);
				at_chan_set_sync_times(t->c, 30, 150);
				t->done_n = 0;
				t->rebooted_n = t->stalled_n = 0;
				struct at_cmd slow = mk(t, "AT+SLOW", 40);
				slow.final = rd_final;
				slow.flags = AT_F_STRICT;
				assert_true(at_chan_submit(t->c, &slow));
				for (int i = 1; i <= 3; i++) {
					char txt[16];
					snprintf(txt, sizeof(txt), "AT+R%d", i);
					struct at_cmd r = mk(t, txt, 1000);
					r.final = rd_final;
					r.flags = AT_F_STRICT;
					assert_true(at_chan_submit(t->c, &r));
				}
				struct at_cmd snd = mk(t, "AT+SEND=8", 1000);
				snd.data = data;
				snd.data_len = 8;
				snd.final = send_final;
				snd.flags = AT_F_STRICT;
				assert_true(at_chan_submit(t->c, &snd));
				for (int k = 0; k < 400 && t->done_n < 5; k++) {
					spin(t, 0.005);
					/* late_at 0: right after the timeout, in the guard time */
					if (late_at == 0 && t->done_n >= 1)
						mod_release_late(t, &md);
					mod_run(t, &md);
				}
				if (late_at == 4)
					mod_release_late(t, &md); /* very late: after all */
				spin(t, 0.02);
				mod_run(t, &md);
				if (t->done_n != 5 || t->payload_len != 2 || t->res[0] != AT_RES_TIMEOUT || t->res[1] ||
				    t->res[2] || t->res[3] || t->res[4])
					fprintf(stderr, "case late_at=%d copies=%d dup=%d: done %d payload %zu res %d %d %d %d %d final %s\n",
					        late_at, copies, dup, t->done_n, t->payload_len, t->res[0], t->res[1],
					        t->res[2], t->res[3], t->res[4], t->final[1]);
				assert_int_equal(t->done_n, 5);
				assert_int_equal(t->res[0], AT_RES_TIMEOUT);
				for (int i = 1; i <= 3; i++)
					assert_int_equal(t->res[i], AT_RES_OK);
				assert_int_equal(t->res[4], AT_RES_OK);
				assert_string_equal(t->final[4], "SEND OK");
				/* the last read got its own answer, not "LATE" */
				assert_int_equal(t->payload_len, 2);
				assert_memory_equal(t->payload, "R3", 2);
				assert_false(md.data_before_prompt);
				assert_int_equal(md.data_len, 8);
				assert_memory_equal(md.data, data, 8);
				assert_int_equal(t->stalled_n + t->rebooted_n, 0);
				cases++;
			}
	assert_int_equal(cases, 30);
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
		cmocka_unit_test_setup_teardown(test_stray_ok_is_not_a_result, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_needs_its_prompt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_late_prompt_gets_its_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stray_error_before_answer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trailing_ok_readings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_waits_for_trailing_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resync_interleavings, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

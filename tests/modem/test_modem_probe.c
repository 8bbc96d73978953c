/* model = auto against a small scripted module on a socketpair: a module
 * that is none of the supported ones stops with the fatal event naming what
 * it answered; a supported one found on a later ATI line is still found;
 * an explicit model skips the probe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ev.h>
#include <sys/socket.h>
#include <unistd.h>

#include "modem_priv.h"

struct fake {
	int fd;
	ev_io io;
	char line[256];
	size_t len;
	const char *ati, *cgmm; /* answer lines (CRLF-separated), NULL: ERROR */
	const char *cgmr, *gsn, *cgsn, *csq, *creg, *cops; /* the same */
	unsigned n_ati, n_cgmm, n_cmds;
	const char *sim_pin;   /* the SIM asks for this PIN until it is given */
	unsigned n_pin;        /* AT+CPIN= commands */
	char last_pin_cmd[256];
};

struct t {
	struct ev_loop *loop;
	struct fake f;
	struct modem *m;
	int ups, downs, fatals;
	char fatal_msg[512];
	ev_timer guard;
};

static void say(struct fake *f, const char *s)
{
	assert_int_equal(write(f->fd, s, strlen(s)), (ssize_t)strlen(s));
}

static void answer(struct fake *f, const char *lines)
{
	if (!lines) {
		say(f, "\r\nERROR\r\n");
		return;
	}
	say(f, "\r\n");
	say(f, lines);
	say(f, "\r\n\r\nOK\r\n");
}

static void handle(struct fake *f, const char *c)
{
	f->n_cmds++;
	if (!strcmp(c, "ATI")) {
		f->n_ati++;
		answer(f, f->ati);
	} else if (!strcmp(c, "AT+CGMM")) {
		f->n_cgmm++;
		answer(f, f->cgmm);
	} else if (!strcmp(c, "AT+CGMR"))
		answer(f, f->cgmr);
	else if (!strcmp(c, "AT+GSN"))
		answer(f, f->gsn);
	else if (!strcmp(c, "AT+CGSN"))
		answer(f, f->cgsn);
	else if (!strcmp(c, "AT+CSQ"))
		answer(f, f->csq);
	else if (!strcmp(c, "AT+CREG?"))
		answer(f, f->creg);
	else if (!strcmp(c, "AT+COPS?"))
		answer(f, f->cops);
	else if (!strcmp(c, "AT+XIIC?"))
		say(f, "\r\n+XIIC:    1,10.1.2.3\r\n\r\nOK\r\n");
	else if (!strcmp(c, "AT+CPIN?"))
		say(f, f->sim_pin ? "\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n" : "\r\n+CPIN: READY\r\n\r\nOK\r\n");
	else if (!strncmp(c, "AT+CPIN=", 8)) {
		char want[32];
		f->n_pin++;
		snprintf(f->last_pin_cmd, sizeof(f->last_pin_cmd), "%s", c);
		snprintf(want, sizeof(want), "AT+CPIN=\"%s\"", f->sim_pin ? f->sim_pin : "");
		if (f->sim_pin && !strcmp(c, want)) {
			f->sim_pin = NULL;
			say(f, "\r\nOK\r\n");
		} else
			say(f, "\r\n+CME ERROR: 16\r\n");
	}
	else if (!strcmp(c, "AT+CGATT?"))
		say(f, "\r\n+CGATT: 1\r\n\r\nOK\r\n");
	else if (!strcmp(c, "AT+CIPSHUT"))
		say(f, "\r\nSHUT OK\r\n");
	else if (!strcmp(c, "AT+CIFSR"))
		say(f, "\r\n10.1.2.3\r\n");
	else if (c[0])
		say(f, "\r\nOK\r\n");
}

static void on_fake(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	struct fake *f = w->data;
	char buf[1024];
	ssize_t n = read(f->fd, buf, sizeof(buf));
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] == '\r') {
			f->line[f->len] = '\0';
			f->len = 0;
			handle(f, f->line);
		} else if (buf[i] != '\n' && f->len < sizeof(f->line) - 1) {
			f->line[f->len++] = buf[i];
		}
	}
}

static void ev_link_state(void *ctx, bool up, const char *ip)
{
	struct t *t = ctx;
	(void)ip;
	if (up)
		t->ups++;
	else
		t->downs++;
	ev_break(t->loop, EVBREAK_ALL);
}

static void ev_connected(void *ctx, int link, bool ok) { (void)ctx; (void)link; (void)ok; }
static void ev_data(void *ctx, int link, const uint8_t *b, size_t n) { (void)ctx; (void)link; (void)b; (void)n; }
static void ev_sent(void *ctx, int link, size_t n, bool ok) { (void)ctx; (void)link; (void)n; (void)ok; }
static void ev_closed(void *ctx, int link, bool lost) { (void)ctx; (void)link; (void)lost; }

static void ev_fatal(void *ctx, const char *msg)
{
	struct t *t = ctx;
	t->fatals++;
	snprintf(t->fatal_msg, sizeof(t->fatal_msg), "%s", msg);
	ev_break(t->loop, EVBREAK_ALL);
}

static const struct modem_events events = {
	.link_state = ev_link_state, .connected = ev_connected, .data = ev_data,
	.sent = ev_sent, .closed = ev_closed, .fatal = ev_fatal,
};

static void on_guard(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

static void run(struct t *t, double s)
{
	ev_timer_set(&t->guard, s, 0.);
	ev_timer_start(t->loop, &t->guard);
	ev_run(t->loop, 0);
	ev_timer_stop(t->loop, &t->guard);
}

static const char *setup_pin, *setup_sim_pin;

static struct t *setup(const char *model, const char *ati, const char *cgmm)
{
	struct t *t = calloc(1, sizeof(*t));
	int sv[2];
	t->loop = ev_loop_new(EVFLAG_AUTO);
	ev_timer_init(&t->guard, on_guard, 0., 0.);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	t->f.fd = sv[1];
	t->f.ati = ati;
	t->f.cgmm = cgmm;
	t->f.sim_pin = setup_sim_pin;
	ev_io_init(&t->f.io, on_fake, sv[1], EV_READ);
	t->f.io.data = &t->f;
	ev_io_start(t->loop, &t->f.io);
	struct modem_config cfg = {
		.device = "/dev/ttyFAKE0", .baud = 115200, .model = model,
		.apn = "internet", .user = "", .password = "",
		.cmd_timeout_ms = 2000, .poll_interval_ms = 1000, .pin = setup_pin,
		.holdoff_ms = 200, .holdoff_max_ms = 200,
	};
	t->m = modem_new_on_fd(t->loop, &cfg, &events, t, sv[0]);
	assert_non_null(t->m);
	return t;
}

static void teardown(struct t *t)
{
	modem_free(t->m);
	ev_io_stop(t->loop, &t->f.io);
	close(t->f.fd);
	ev_loop_destroy(t->loop);
	free(t);
}

/* Neither answer names a supported module: one fatal event with both
 * answers and the supported models; no bring-up follows. */
static void test_unknown_module_is_fatal(void **state)
{
	(void)state;
	struct t *t = setup("auto", "FOO 1.0", "BAR");
	run(t, 5);
	assert_int_equal(t->fatals, 1);
	assert_string_equal(t->fatal_msg,
	                    "unknown module on /dev/ttyFAKE0: ATI answered 'FOO 1.0', AT+CGMM answered "
	                    "'BAR'; supported: SIM7000 (sim7000), Neoway N11V2 (n11v2); use --model to "
	                    "override");
	unsigned cmds = t->f.n_cmds;
	run(t, 1.5);
	assert_int_equal(t->fatals, 1);
	assert_int_equal(t->f.n_cmds, cmds); /* nothing more on the line */
	assert_int_equal(t->ups, 0);
	assert_false(modem_is_up(t->m));
	teardown(t);
}

/* ERROR to both, and an answer with quotes: shown cleaned, never raw
 * (lines with control characters are dropped as garbage by the channel). */
static void test_unknown_module_errors_and_garbage(void **state)
{
	(void)state;
	struct t *t = setup("auto", NULL, "X'Y'Z");
	run(t, 5);
	assert_int_equal(t->fatals, 1);
	assert_non_null(strstr(t->fatal_msg, "ATI gave no answer, AT+CGMM answered 'X?Y?Z';"));
	teardown(t);
	t = setup("auto", NULL, NULL);
	run(t, 5);
	assert_int_equal(t->fatals, 1);
	assert_non_null(strstr(t->fatal_msg, "ATI gave no answer, AT+CGMM gave no answer;"));
	teardown(t);
}

/* --model sim7000 overrides: no probe, no fatal event, the SIM7000
 * bring-up runs and the link comes up. */
static void test_model_overrides(void **state)
{
	(void)state;
	struct t *t = setup("sim7000", "FOO 1.0", "BAR");
	run(t, 5);
	assert_int_equal(t->fatals, 0);
	assert_int_equal(t->f.n_ati, 0);
	assert_int_equal(t->ups, 1);
	assert_int_equal(modem_max_links(t->m), 8);
	teardown(t);
}

/* The identity on the second line of a multi-line ATI answer is found. */
static void test_identity_on_later_line(void **state)
{
	(void)state;
	struct t *t = setup("auto", "Some Vendor Inc.\r\nSIM7000E R1351", "BAR");
	run(t, 5);
	assert_int_equal(t->fatals, 0);
	assert_int_equal(t->ups, 1);
	assert_int_equal(modem_max_links(t->m), 8);
	teardown(t);
	t = setup("auto", "FOO 1.0", "+CGMM: N11 V2");
	run(t, 5);
	assert_int_equal(t->fatals, 0);
	assert_int_equal(modem_max_links(t->m), 5);
	teardown(t);
}

/* modem_get_info(): the identity and state read at bring-up (SIM7000 answer
 * forms), then garbled answers leave every field unknown, and an N11V2 in
 * the manual's forms. */
static void test_info(void **state)
{
	(void)state;
	struct t *t = setup("sim7000", NULL, "SIMCOM_SIM7000E");
	const struct modem_info *mi = modem_get_info(t->m);
	assert_int_equal(mi->csq_rssi, -1);
	assert_null(mi->registration);
	t->f.cgmr = "Revision:1351B03SIM7000E";
	t->f.gsn = "869951030000001";
	t->f.csq = "+CSQ: 17,99";
	t->f.creg = "+CREG: 0,5";
	t->f.cops = "+COPS: 0,0,\"Test Net\",7";
	run(t, 5);
	assert_int_equal(t->ups, 1);
	mi = modem_get_info(t->m);
	assert_string_equal(mi->model, "SIMCOM_SIM7000E");
	assert_string_equal(mi->firmware, "1351B03SIM7000E");
	assert_string_equal(mi->imei, "869951030000001");
	assert_int_equal(mi->csq_rssi, 17);
	assert_int_equal(mi->csq_ber, -1);
	assert_string_equal(mi->registration, "roaming");
	assert_string_equal(mi->operator_name, "Test Net");
	assert_string_equal(mi->dialect, "sim7000");
	assert_string_equal(mi->link_mode, "multi-link");
	assert_string_equal(mi->local_ip, "10.1.2.3");
	/* the periodic refresh (30 s in service; faster here) */
	t->f.csq = "+CSQ: 5,3";
	t->f.creg = "+CREG: 0,3";
	t->f.cops = "+COPS: 0"; /* no operator: unknown */
	modem_info_set_interval(t->m, 0.2);
	run(t, 1.5);
	mi = modem_get_info(t->m);
	assert_int_equal(mi->csq_rssi, 5);
	assert_int_equal(mi->csq_ber, 3);
	assert_string_equal(mi->registration, "denied");
	assert_string_equal(mi->operator_name, "");
	assert_string_equal(mi->model, "SIMCOM_SIM7000E"); /* identity is not re-read */
	t->f.csq = NULL; /* ERROR */
	run(t, 1);
	assert_int_equal(modem_get_info(t->m)->csq_rssi, -1);
	teardown(t);

	t = setup("sim7000", NULL, "SIMCOM\"SIM7000E");
	t->f.cgmr = "+CGMR: this firmware name is far too long to be a real firmware name";
	t->f.gsn = "86995103000000x";
	t->f.csq = "+CSQ: 17";
	t->f.creg = "+CREG: 0,x";
	t->f.cops = "+COPS: 0,0,\"Test Net";
	run(t, 5);
	assert_int_equal(t->ups, 1);
	mi = modem_get_info(t->m);
	assert_string_equal(mi->model, "");
	assert_string_equal(mi->firmware, "");
	assert_string_equal(mi->imei, "");
	assert_int_equal(mi->csq_rssi, -1);
	assert_int_equal(mi->csq_ber, -1);
	assert_null(mi->registration);
	assert_string_equal(mi->operator_name, "");
	teardown(t);

	t = setup("n11v2", NULL, "+CGMM: N11 V2");
	t->f.cgmr = "+CGMR: N11_1167_SQS63002_V003";
	t->f.cgsn = "+CGSN:355910044336974";
	t->f.csq = "+CSQ: 20,0";
	t->f.creg = "+CREG: 0,1";
	t->f.cops = "+COPS: 0,0,\"CHINA MOBILE\"";
	run(t, 5);
	assert_int_equal(t->ups, 1);
	mi = modem_get_info(t->m);
	assert_string_equal(mi->model, "N11 V2");
	assert_string_equal(mi->firmware, "N11_1167_SQS63002_V003");
	assert_string_equal(mi->imei, "355910044336974");
	assert_int_equal(mi->csq_rssi, 20);
	assert_int_equal(mi->csq_ber, 0);
	assert_string_equal(mi->registration, "home");
	assert_string_equal(mi->operator_name, "CHINA MOBILE");
	assert_string_equal(mi->dialect, "n11v2");
	teardown(t);
}

/* modem_reconnect(): refused while not up; when up, link_state(false),
 * the bring-up again from the context release, link_state(true). */
static void test_reconnect(void **state)
{
	(void)state;
	static const char *const models[] = { "sim7000", "n11v2" };
	for (size_t i = 0; i < 2; i++) {
		struct t *t = setup(models[i], NULL, NULL);
		assert_false(modem_reconnect(t->m)); /* bring-up under way */
		run(t, 5);
		assert_int_equal(t->ups, 1);
		unsigned cmds = t->f.n_cmds;
		assert_true(modem_reconnect(t->m));
		assert_int_equal(t->downs, 1); /* at once, before anything else */
		assert_false(modem_is_up(t->m));
		assert_false(modem_reconnect(t->m));
		run(t, 5);
		assert_int_equal(t->ups, 2);
		assert_true(modem_is_up(t->m));
		assert_true(t->f.n_cmds > cmds);
		teardown(t);
	}
}

/* The SIM asks for its PIN: sent once as AT+CPIN="<pin>", then up. A wrong
 * PIN is sent once and never again (bring-up keeps failing before it); no
 * PIN configured: nothing sent. A SIM that is READY gets no PIN. */
static void test_pin(void **state)
{
	(void)state;
	for (size_t i = 0; i < 2; i++) {
		setup_pin = "1234";
		setup_sim_pin = "1234";
		struct t *t = setup(i ? "n11v2" : "sim7000", NULL, NULL);
		run(t, 5);
		assert_int_equal(t->ups, 1);
		assert_int_equal(t->f.n_pin, 1);
		assert_string_equal(t->f.last_pin_cmd, "AT+CPIN=\"1234\"");
		teardown(t);
	}

	setup_pin = "9999";
	setup_sim_pin = "1234";
	struct t *t = setup("sim7000", NULL, NULL);
	run(t, 4);
	assert_int_equal(t->ups, 0);
	assert_int_equal(t->f.n_pin, 1); /* never a second wrong PIN */
	assert_true(t->f.n_cmds > 10);   /* bring-up went on retrying */
	teardown(t);

	setup_pin = NULL;
	t = setup("sim7000", NULL, NULL);
	run(t, 2);
	assert_int_equal(t->ups, 0);
	assert_int_equal(t->f.n_pin, 0);
	teardown(t);

	setup_pin = "1234";
	setup_sim_pin = NULL;
	t = setup("sim7000", NULL, NULL);
	run(t, 5);
	assert_int_equal(t->ups, 1);
	assert_int_equal(t->f.n_pin, 0);
	teardown(t);
	setup_pin = setup_sim_pin = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unknown_module_is_fatal),
		cmocka_unit_test(test_unknown_module_errors_and_garbage),
		cmocka_unit_test(test_model_overrides),
		cmocka_unit_test(test_identity_on_later_line),
		cmocka_unit_test(test_info),
		cmocka_unit_test(test_reconnect),
		cmocka_unit_test(test_pin),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

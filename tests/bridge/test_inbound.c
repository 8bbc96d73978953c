/* inbound.c against the fake modem and a real target socket on 127.0.0.1:
 * an accepted link carried both ways, the listen asked for, RST to the
 * target when the link is lost, FIN when it ends clean, a refusing target
 * closes the link, and the inbound share of the links. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fake_modem.h"

static int listen_fd = -1;

/* A target on 127.0.0.1 and a forward of module port 2222 to it. */
static void setup_forward(unsigned max_links, bool target_listens)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(listen_fd >= 0);
	assert_int_equal(bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(listen_fd, (struct sockaddr *)&sa, &len), 0);
	if (target_listens) {
		assert_int_equal(listen(listen_fd, 4), 0);
	} else {
		close(listen_fd); /* the port is free: connects are refused */
		listen_fd = -1;
	}
	memset(&harness_inbound, 0, sizeof(harness_inbound));
	harness_inbound.n = 1;
	harness_inbound.fwd[0] = (struct inbound_forward){
		.module_port = 2222, .host = sa.sin_addr.s_addr, .port = ntohs(sa.sin_port),
		.spec = "tcp:2222:127.0.0.1:x",
	};
	harness_setup(max_links, 4);
	assert_int_equal(fake.n_listen, 1);
	assert_int_equal(fake.listen[0], 2222);
	bridge_modem_events.listening(&bridge, 2222, true);
}

static void teardown_forward(void)
{
	harness_teardown();
	if (listen_fd >= 0)
		close(listen_fd);
	listen_fd = -1;
	memset(&harness_inbound, 0, sizeof(harness_inbound));
}

static int accept_target(void)
{
	int fd = -1;
	for (int i = 0; i < 100 && fd < 0; i++) {
		harness_run();
		fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK);
		if (fd < 0)
			usleep(1000);
	}
	assert_true(fd >= 0);
	harness_run();
	return fd;
}

static size_t read_target(int fd, char *buf, size_t cap)
{
	size_t got = 0;
	for (int i = 0; i < 100; i++) {
		harness_run();
		ssize_t n = recv(fd, buf + got, cap - got, 0);
		if (n > 0)
			got += (size_t)n;
		else if (n == 0 || (n < 0 && errno != EAGAIN))
			break;
		else if (got)
			break;
		usleep(1000);
	}
	return got;
}

static void stats(struct inbound_fwd_stats *st)
{
	inbound_get_stats(bridge.in, 0, st);
}

/* Bytes both ways, then a lost link: RST to the target, counted. */
static void test_carried_then_rst(void **state)
{
	(void)state;
	setup_forward(4, true);
	fake_accepted(1, 2222);
	int t = accept_target();
	assert_true(fake.link[1].window > 0);
	fake_data(1, "ping\r\nOK\r\n", 10);
	char buf[64];
	assert_int_equal(read_target(t, buf, sizeof(buf)), 10);
	assert_memory_equal(buf, "ping\r\nOK\r\n", 10);
	assert_int_equal(send(t, "pong", 4, 0), 4);
	for (int i = 0; i < 50 && fake.link[1].up_len < 4; i++) {
		usleep(1000);
		harness_run();
	}
	assert_int_equal(fake.link[1].up_len, 4);
	assert_memory_equal(fake.link[1].up, "pong", 4);
	struct inbound_fwd_stats st;
	stats(&st);
	assert_int_equal(st.accepted, 1);
	assert_int_equal(st.active, 1);
	assert_true(st.listening);
	fake_closed(1, true);
	harness_run();
	ssize_t n = recv(t, buf, sizeof(buf), 0);
	assert_true(n < 0 && errno == ECONNRESET); /* never a clean end */
	stats(&st);
	assert_int_equal(st.reset, 1);
	assert_int_equal(st.active, 0);
	close(t);
	teardown_forward();
}

/* A clean remote close: what the module delivered, then FIN. */
static void test_clean_close_fin(void **state)
{
	(void)state;
	setup_forward(4, true);
	fake_accepted(0, 2222);
	int t = accept_target();
	fake_data(0, "last words", 10);
	fake_closed(0, false);
	char buf[64];
	assert_int_equal(read_target(t, buf, sizeof(buf)), 10);
	harness_run();
	assert_int_equal(recv(t, buf, sizeof(buf), 0), 0); /* FIN */
	close(t);
	teardown_forward();
}

/* The target refuses: the module's link is closed, the refusal counted. */
static void test_target_refuses(void **state)
{
	(void)state;
	setup_forward(4, false);
	fake_accepted(2, 2222);
	for (int i = 0; i < 50 && !fake.link[2].close_asked; i++) {
		usleep(1000);
		harness_run();
	}
	assert_true(fake.link[2].close_asked);
	struct inbound_fwd_stats st;
	stats(&st);
	assert_int_equal(st.refused_target, 1);
	assert_int_equal(st.active, 0);
	teardown_forward();
}

/* Four links: inbound may hold two; the third is closed at once. A port no
 * forward names is closed too. */
static void test_share(void **state)
{
	(void)state;
	setup_forward(4, true);
	fake_accepted(0, 2222);
	fake_accepted(1, 2222);
	fake_accepted(2, 2222);
	assert_false(fake.link[0].close_asked);
	assert_false(fake.link[1].close_asked);
	assert_true(fake.link[2].close_asked);
	struct inbound_fwd_stats st;
	stats(&st);
	assert_int_equal(st.refused_share, 1);
	assert_int_equal(st.active, 2);
	assert_int_equal(inbound_links_held(bridge.in), 2);
	teardown_forward();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_carried_then_rst),
		cmocka_unit_test(test_clean_close_fin),
		cmocka_unit_test(test_target_refuses),
		cmocka_unit_test(test_share),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* tun_open in a fresh network namespace: address, MTU, link state, routes.
 * Needs root (CAP_NET_ADMIN); exits 77 (ctest SKIP) otherwise. Each case
 * runs in a forked child that unshares its own network namespace, so the
 * host's interfaces are never touched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tun.h"

#define SKIP 77

static int child_fail(const char *what)
{
	fprintf(stderr, "child: %s\n", what);
	return 1;
}

/* Runs cmd and checks its output contains want. */
static int output_has(const char *cmd, const char *want)
{
	char buf[8192];
	size_t n;
	FILE *f = popen(cmd, "r");

	if (!f)
		return 0;
	n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	pclose(f);
	if (!strstr(buf, want)) {
		fprintf(stderr, "child: '%s' printed:\n%s(wanted '%s')\n", cmd, buf, want);
		return 0;
	}
	return 1;
}

static int output_lacks(const char *cmd, const char *unwanted)
{
	char buf[8192];
	size_t n;
	FILE *f = popen(cmd, "r");

	if (!f)
		return 0;
	n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	pclose(f);
	return strstr(buf, unwanted) == NULL;
}

/* A datagram routed into the device comes out of the fd as one whole IPv4
 * packet with no packet-information header. */
static int packet_readable(int fd)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) };
	uint8_t buf[2048];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	ssize_t n;

	inet_pton(AF_INET, "198.51.100.5", &to.sin_addr);
	if (s < 0 || sendto(s, "ping", 4, 0, (struct sockaddr *)&to, sizeof to) != 4)
		return child_fail("sendto through the tun failed");
	close(s);
	/* the kernel may queue IPv6 router solicitations first: skip them */
	for (int tries = 0; tries < 20; tries++) {
		if (poll(&p, 1, 2000) != 1)
			break;
		n = read(fd, buf, sizeof buf);
		if (n > 0 && buf[0] >> 4 == 6)
			continue;
		if (n != 20 + 8 + 4 || buf[0] != 0x45 || buf[9] != 17 ||
		    memcmp(buf + n - 4, "ping", 4))
			return child_fail("the packet read from the tun is not the datagram sent");
		return 0;
	}
	return child_fail("no IPv4 packet to read from the tun");
}

static uint32_t ip(const char *s)
{
	struct in_addr a;

	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

static int child_configured(void)
{
	static const char *const routes[] = { "198.51.100.0/24", "203.0.113.0/25", NULL };
	struct tun_config cfg = {
		.name = "tun0", .addr = ip("10.9.0.1"), .prefix_len = 24, .mtu = 1400,
		.default_route = 1, .routes = routes,
	};
	char name[32];
	int fd = tun_open(&cfg, name, sizeof name);

	if (fd < 0)
		return child_fail("tun_open failed");
	if (strcmp(name, "tun0"))
		return child_fail("wrong name");
	if (!(fcntl(fd, F_GETFL) & O_NONBLOCK) || !(fcntl(fd, F_GETFD) & FD_CLOEXEC))
		return child_fail("fd not O_NONBLOCK + FD_CLOEXEC");
	if (!output_has("ip -o link show dev tun0", "mtu 1400") ||
	    !output_has("ip -o link show dev tun0", ",UP") ||
	    !output_has("ip -o -4 addr show dev tun0", "inet 10.9.0.1/24") ||
	    !output_has("ip -4 route show", "default dev tun0") ||
	    !output_has("ip -4 route show", "198.51.100.0/24 dev tun0") ||
	    !output_has("ip -4 route show", "203.0.113.0/25 dev tun0"))
		return 1;
	if (packet_readable(fd))
		return 1;
	tun_close(fd);
	if (!output_lacks("ip -o link show", "tun0"))
		return child_fail("device still there after tun_close");
	return 0;
}

/* With a default route already there (the host's uplink), the tun's default
 * route goes in front of it, and the old one is back when the tun closes. */
static int child_default_route_prepended(void)
{
	struct tun_config cfg = { .name = "tun0", .addr = ip("10.9.0.1"), .prefix_len = 24,
		.mtu = 1500, .default_route = 1 };
	char buf[4096];
	size_t n;
	FILE *f;
	int fd;

	if (system("ip link add v0 type veth peer name v1 && ip link set v0 up && "
	           "ip addr add 192.0.2.1/24 dev v0 && ip route add default via 192.0.2.2") != 0)
		return 77; /* no veth here: nothing to check */
	fd = tun_open(&cfg, NULL, 0);
	if (fd < 0)
		return child_fail("tun_open with an existing default route");
	f = popen("ip -4 route show default", "r");
	n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
	buf[n] = '\0';
	if (f)
		pclose(f);
	if (strncmp(buf, "default dev tun0", 16) || !strstr(buf, "default via 192.0.2.2 dev v0")) {
		fprintf(stderr, "child: default routes:\n%s", buf);
		return child_fail("tun0's default route is not first");
	}
	tun_close(fd);
	if (!output_has("ip -4 route show default", "default via 192.0.2.2 dev v0"))
		return 1;
	return 0;
}

static int child_any_name(void)
{
	struct tun_config cfg = { .name = NULL, .addr = ip("10.9.0.1"), .prefix_len = 32, .mtu = 576 };
	char name[32] = "";
	int fd = tun_open(&cfg, name, sizeof name);

	if (fd < 0 || strncmp(name, "tun", 3))
		return child_fail("tun_open without a name");
	tun_close(fd);
	return 0;
}

static int child_bad_route(void)
{
	static const char *const routes[] = { "198.51.100.1/24", NULL }; /* host bits */
	struct tun_config cfg = { .name = "tun0", .addr = ip("10.9.0.1"), .prefix_len = 24,
		.mtu = 1500, .routes = routes };

	if (tun_open(&cfg, NULL, 0) != -1)
		return child_fail("bad route accepted");
	if (!output_lacks("ip -o link show", "tun0"))
		return child_fail("device left behind after a failure");
	return 0;
}

static int child_bad_name(void)
{
	struct tun_config cfg = { .name = "a-name-much-too-long-for-ifnamsiz", .addr = ip("10.9.0.1"),
		.prefix_len = 24, .mtu = 1500 };

	return tun_open(&cfg, NULL, 0) == -1 ? 0 : child_fail("long name accepted");
}

static int in_namespace(int (*fn)(void))
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		if (unshare(CLONE_NEWNET) < 0)
			_exit(SKIP);
		_exit(fn());
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static void test_configured(void **state) { (void)state; assert_int_equal(in_namespace(child_configured), 0); }
static void test_default_route_prepended(void **state)
{
	int rc = in_namespace(child_default_route_prepended);

	(void)state;
	if (rc == SKIP)
		skip();
	assert_int_equal(rc, 0);
}
static void test_any_name(void **state) { (void)state; assert_int_equal(in_namespace(child_any_name), 0); }
static void test_bad_route(void **state) { (void)state; assert_int_equal(in_namespace(child_bad_route), 0); }
static void test_bad_name(void **state) { (void)state; assert_int_equal(in_namespace(child_bad_name), 0); }

static int nothing(void)
{
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_configured),
		cmocka_unit_test(test_default_route_prepended),
		cmocka_unit_test(test_any_name),
		cmocka_unit_test(test_bad_route),
		cmocka_unit_test(test_bad_name),
	};

	if (geteuid() != 0 || access("/dev/net/tun", R_OK | W_OK) != 0 ||
	    in_namespace(nothing) != 0) {
		printf("test_tun: needs root, /dev/net/tun and unshare(CLONE_NEWNET): skipped\n");
		return SKIP;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}

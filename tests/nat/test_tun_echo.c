/* The real thing, in a private network namespace: the kernel's TCP/UDP
 * clients talk through a tun opened by tun_open to lwIP behind the NAT,
 * with an echo "bridge" in this file. Covers what crafted packets cannot:
 * Linux's options (timestamps, SACK, window scaling), real retransmission
 * timing and a transfer large enough to exercise both windows; ICMP echo
 * answered by the "bridge" (checked by a raw socket); IPv6 TCP and UDP
 * refused at once (the kernel verifies our RST and ICMPv6 checksums).
 * Needs root; exits 77 (ctest SKIP) otherwise. */
#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/ip_icmp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lwip/tcp.h"

#include "lwip_port.h"
#include "tun.h"

/* the port under test */
static struct lwip_port *lp;

#define SKIP 77
#define ECHO_PORT 7
#define REFUSED_PORT 9
#define BULK (1 << 20)

static int tun_fd;
static uint8_t pkt[65536];

static void on_tun(struct ev_loop *loop, ev_io *w, int revents)
{
	ssize_t n;

	(void)loop;
	(void)w;
	(void)revents;
	while ((n = read(tun_fd, pkt, sizeof pkt)) > 0)
		lwip_port_input(lp, pkt, (size_t)n);
}

static void out(void *ctx, const uint8_t *p, size_t len)
{
	(void)ctx;
	if (write(tun_fd, p, len) != (ssize_t)len)
		perror("tun write");
}

static void on_syn(void *ctx, uint32_t id, const struct nat_tuple *t)
{
	(void)ctx;
	if (ntohs(t->dst_port) == ECHO_PORT && t->dst_ip == inet_addr("198.51.100.7"))
		lwip_port_tcp_admit(lp, id);
	else
		lwip_port_tcp_refuse(lp, id);
}

/* Echo with backpressure: refuse the pbuf (lwIP keeps and redelivers it)
 * while the send buffer cannot take it whole. */
static err_t echo_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	(void)arg;
	(void)err;
	if (!p) {
		tcp_recv(pcb, NULL);
		if (tcp_close(pcb) != ERR_OK) {
			tcp_abort(pcb);
			return ERR_ABRT;
		}
		return ERR_OK;
	}
	if (tcp_sndbuf(pcb) < p->tot_len || tcp_sndqueuelen(pcb) + 8 > TCP_SND_QUEUELEN) {
		tcp_output(pcb);
		return ERR_MEM;
	}
	for (struct pbuf *q = p; q; q = q->next)
		if (tcp_write(pcb, q->payload, q->len, TCP_WRITE_FLAG_COPY) != ERR_OK) {
			tcp_output(pcb);
			return ERR_MEM; /* nothing recved yet: lwIP redelivers p */
		}
	tcp_output(pcb);
	tcp_recved(pcb, p->tot_len);
	pbuf_free(p);
	return ERR_OK;
}

static void on_accepted(void *ctx, uint32_t id, struct tcp_pcb *pcb)
{
	(void)ctx;
	(void)id;
	tcp_recv(pcb, echo_recv);
}

static void on_abandoned(void *ctx, uint32_t id)
{
	(void)ctx;
	(void)id;
}

static void on_udp(void *ctx, uint32_t id, const struct nat_tuple *t,
                   const uint8_t *data, size_t len)
{
	(void)ctx;
	(void)t;
	lwip_port_udp_send(lp, id, data, len);
}

static void on_echo(void *ctx, const struct lwip_port_echo *e)
{
	(void)ctx;
	lwip_port_icmp_echo_reply(lp, e);
}

static int client_fail(const char *what)
{
	fprintf(stderr, "client: %s: %s\n", what, strerror(errno));
	return 1;
}

static int client_connect(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int s = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "198.51.100.7", &a.sin_addr);
	if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
		int e = errno;
		close(s);
		errno = e;
		return -1;
	}
	return s;
}

/* Sends BULK bytes and reads the echo at the same time; checks every byte. */
static int bulk_echo(int s)
{
	static uint8_t buf[65536];
	size_t sent = 0, got = 0;

	fcntl(s, F_SETFL, O_NONBLOCK);
	while (got < BULK) {
		struct pollfd p = { .fd = s, .events = POLLIN | (sent < BULK ? POLLOUT : 0) };

		if (poll(&p, 1, 10000) != 1)
			return client_fail("bulk echo stalled");
		if ((p.revents & POLLOUT) && sent < BULK) {
			size_t n = BULK - sent < sizeof buf ? BULK - sent : sizeof buf;
			for (size_t i = 0; i < n; i++)
				buf[i] = (uint8_t)((sent + i) % 251);
			ssize_t w = write(s, buf, n);
			if (w > 0)
				sent += (size_t)w;
		}
		if (p.revents & POLLIN) {
			ssize_t r = read(s, buf, sizeof buf);
			if (r <= 0)
				return client_fail("echo ended early");
			for (ssize_t i = 0; i < r; i++)
				if (buf[i] != (uint8_t)((got + (size_t)i) % 251))
					return client_fail("echo corrupted");
			got += (size_t)r;
		}
	}
	return 0;
}

static uint16_t naive_csum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* A ping through the bridge: reply from the pinged address, same id, seq
 * and payload, ICMP checksum right (a raw socket does not check it). */
static int client_ping(void)
{
	uint8_t req[8 + 40], buf[256];
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = 3 };
	uint16_t c;
	int s = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);

	if (s < 0)
		return client_fail("raw ICMP socket");
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	inet_pton(AF_INET, "203.0.113.9", &a.sin_addr);
	memset(req, 0, sizeof req);
	req[0] = ICMP_ECHO;
	req[4] = 0x42; req[5] = 0x43; req[7] = 5;
	for (size_t i = 8; i < sizeof req; i++)
		req[i] = (uint8_t)i;
	c = htons(naive_csum(req, sizeof req));
	memcpy(req + 2, &c, 2);
	if (sendto(s, req, sizeof req, 0, (struct sockaddr *)&a, sizeof a) != (ssize_t)sizeof req)
		return client_fail("ping send");
	for (;;) { /* a raw socket gets every ICMP message: wait for ours */
		ssize_t n = recv(s, buf, sizeof buf, 0);
		size_t ihl;

		if (n < 0)
			return client_fail("no echo reply");
		ihl = (size_t)(buf[0] & 15) * 4;
		if ((size_t)n != ihl + sizeof req || buf[ihl] != ICMP_ECHOREPLY)
			continue;
		if (memcmp(buf + 12, &a.sin_addr, 4) || memcmp(buf + ihl + 4, req + 4, 4) ||
		    memcmp(buf + ihl + 8, req + 8, sizeof req - 8) ||
		    naive_csum(buf + ihl, sizeof req) != 0) {
			errno = EBADMSG;
			return client_fail("echo reply differs");
		}
		break;
	}
	close(s);
	return 0;
}

static double now_s(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

/* IPv6 through tun0 (the test routes 2001:db8:1::/64 there): TCP is
 * refused and connected UDP gets ECONNREFUSED, both well within a second. */
static int client_ip6(void)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(443) };
	struct timeval tv = { .tv_sec = 3 };
	double t0 = now_s();
	char buf[16];
	int s;

	inet_pton(AF_INET6, "2001:db8:1::7", &a.sin6_addr);
	s = socket(AF_INET6, SOCK_STREAM, 0);
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(s, (struct sockaddr *)&a, sizeof a) == 0 || errno != ECONNREFUSED)
		return client_fail("IPv6 connect not refused");
	close(s);
	s = socket(AF_INET6, SOCK_DGRAM, 0);
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	a.sin6_port = htons(53);
	if (connect(s, (struct sockaddr *)&a, sizeof a) < 0 || send(s, "q", 1, 0) != 1)
		return client_fail("IPv6 UDP send");
	if (recv(s, buf, sizeof buf, 0) >= 0 || errno != ECONNREFUSED)
		return client_fail("IPv6 UDP not refused");
	close(s);
	if (now_s() - t0 > 1.0) {
		errno = ETIMEDOUT;
		return client_fail("IPv6 refusals too slow");
	}
	return 0;
}

static int client(void)
{
	char buf[64];
	int s;

	/* refused port: ECONNREFUSED at once, not a timeout */
	if (client_connect(REFUSED_PORT) >= 0 || errno != ECONNREFUSED)
		return client_fail("connect to the refused port");
	s = client_connect(ECHO_PORT);
	if (s < 0)
		return client_fail("connect to the echo port");
	if (write(s, "hello", 5) != 5 || read(s, buf, sizeof buf) != 5 || memcmp(buf, "hello", 5))
		return client_fail("short echo");
	if (bulk_echo(s))
		return 1;
	shutdown(s, SHUT_WR);
	fcntl(s, F_SETFL, 0);
	if (read(s, buf, sizeof buf) != 0)
		return client_fail("no orderly close");
	close(s);

	/* UDP echo */
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(53) };
	struct timeval tv = { .tv_sec = 3 };
	inet_pton(AF_INET, "198.51.100.53", &a.sin_addr);
	s = socket(AF_INET, SOCK_DGRAM, 0);
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (sendto(s, "dns?", 4, 0, (struct sockaddr *)&a, sizeof a) != 4 ||
	    recv(s, buf, sizeof buf, 0) != 4 || memcmp(buf, "dns?", 4))
		return client_fail("udp echo");
	close(s);
	if (client_ping() || client_ip6())
		return 1;
	return 0;
}

static pid_t client_pid;
static int client_status = -1;

static void on_child(struct ev_loop *loop, ev_child *w, int revents)
{
	(void)revents;
	client_status = WIFEXITED(w->rstatus) ? WEXITSTATUS(w->rstatus) : 100;
	ev_break(loop, EVBREAK_ALL);
}

static void on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	fprintf(stderr, "test_tun_echo: timed out\n");
	kill(client_pid, SIGKILL);
	ev_break(loop, EVBREAK_ALL);
}

static int in_namespace(void)
{
	struct tun_config tc = { .name = "tun0", .addr = inet_addr("10.85.0.1"), .prefix_len = 24,
		.mtu = 1500, .default_route = 1 };
	struct lwip_port_config lc = { .netif_ip = inet_addr("10.85.0.254"), .mtu = 1500,
		.max_flows = 64, .hold_timeout_ms = 5000 };
	struct lwip_port_callbacks cb = { .tcp_syn = on_syn, .tcp_accepted = on_accepted,
		.tcp_abandoned = on_abandoned, .output = out, .udp_recv = on_udp,
		.icmp_echo = on_echo };
	struct ev_loop *loop = ev_default_loop(0);
	ev_io tun_w;
	ev_child child_w;
	ev_timer timeout;
	struct lwip_port_counters c;

	tun_fd = tun_open(&tc, NULL, 0);
	if (tun_fd < 0 || !(lp = lwip_port_new(loop, &lc, &cb, NULL)))
		return 1;
	/* IPv6 on tun0 in this private namespace only, so the kernel sends
	 * IPv6 there (atbridge itself gives tun0 no IPv6 route). */
	if (system("ip -6 addr add 2001:db8::2/64 dev tun0 nodad && "
	           "ip -6 route add 2001:db8:1::/64 dev tun0") != 0) {
		fprintf(stderr, "cannot give tun0 an IPv6 address and route\n");
		return 1;
	}
	client_pid = fork();
	if (client_pid == 0)
		_exit(client());
	ev_io_init(&tun_w, on_tun, tun_fd, EV_READ);
	ev_io_start(loop, &tun_w);
	ev_child_init(&child_w, on_child, client_pid, 0);
	ev_child_start(loop, &child_w);
	ev_timer_init(&timeout, on_timeout, 60, 0);
	ev_timer_start(loop, &timeout);
	ev_run(loop, 0);
	lwip_port_get_counters(lp, &c);
	printf("in %llu out %llu malformed %llu unsupported %llu flows %u "
	       "ip6 rst %llu unreach %llu dropped %llu\n",
	       (unsigned long long)c.packets_in, (unsigned long long)c.packets_out,
	       (unsigned long long)c.malformed, (unsigned long long)c.unsupported, c.flows,
	       (unsigned long long)c.ip6_rst, (unsigned long long)c.ip6_unreach,
	       (unsigned long long)c.ip6_dropped);
	fflush(stdout);
	lwip_port_free(lp);
	tun_close(tun_fd);
	if (c.malformed)
		return 1;
	return client_status;
}

int main(void)
{
	int status;
	pid_t pid;

	if (geteuid() != 0 || access("/dev/net/tun", R_OK | W_OK) != 0) {
		printf("test_tun_echo: needs root and /dev/net/tun: skipped\n");
		return SKIP;
	}
	pid = fork();
	if (pid == 0) {
		if (unshare(CLONE_NEWNET) < 0)
			_exit(SKIP);
		_exit(in_namespace());
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return 1;
	if (WEXITSTATUS(status) == SKIP)
		printf("test_tun_echo: unshare(CLONE_NEWNET) not permitted: skipped\n");
	return WEXITSTATUS(status);
}

/* The module's TCP server (SIM7000 AT+CIPSERVER, N11V2 AT+TCPLISTEN): one
 * real listening host socket, bound to the address the module reports as
 * its own (--local-ip), and the accept path that hands each connection to
 * a free link of the model. A module listens on one port at a time, so
 * there is one listener. */
#include "engine.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BACKLOG 8

static struct {
	int fd;
	ev_io io;
	int port;
	int slot;               /* the model's link id the listener takes, or -1 */
} L = { .fd = -1, .slot = -1 };

/* no link free: the connection is reset at once, as a module with every
 * socket in use can do nothing else with it */
static void refuse(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	close(fd);
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop, (void)w, (void)revents;
	for (;;) {
		struct sockaddr_in peer;
		socklen_t len = sizeof peer;
		int fd = accept4(L.fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return;
		}
		bool manual_rx = false;
		struct sim_link *l = E.m->accept_link(&manual_rx);
		if (!l) {
			sim_logv("server: no free link for %s:%u, reset", inet_ntoa(peer.sin_addr),
				 ntohs(peer.sin_port));
			refuse(fd);
			continue;
		}
		sim_link_adopt(l, fd, &peer, manual_rx);
	}
}

bool sim_server_listen(int port, int slot)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	inet_pton(AF_INET, sim_local_ip(), &a.sin_addr); /* checked by main.c */
	sim_server_close();
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	/* accepted sockets inherit the receive buffer, and with it the window */
	sim_link_host_buffers(fd);
	if (!sim_link_mark(fd) || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    listen(fd, BACKLOG) < 0) {
		sim_logv("server: %s:%d: %s", sim_local_ip(), port, strerror(errno));
		close(fd);
		return false;
	}
	L.fd = fd;
	L.port = port;
	L.slot = slot;
	ev_io_init(&L.io, accept_cb, fd, EV_READ);
	ev_io_start(S.loop, &L.io);
	return true;
}

void sim_server_close(void)
{
	if (L.fd < 0)
		return;
	ev_io_stop(S.loop, &L.io);
	close(L.fd);
	L.fd = -1;
	L.slot = -1;
}

bool sim_server_on(void)
{
	return L.fd >= 0;
}

int sim_server_port(void)
{
	return L.port;
}

int sim_server_slot(void)
{
	return L.fd >= 0 ? L.slot : -1;
}

#include "service.h"

#include <errno.h>
#include <ev.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

struct service {
	struct ev_loop *loop;
	struct sockaddr_un addr;
	socklen_t addrlen;
	int fd;
	ev_timer watchdog;
	bool ready_sent;
	struct service_link link;
};

bool service_notify(struct service *sv, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	int n;

	if (!sv || sv->fd < 0)
		return false;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(msg))
		return false;
	/* Never block the loop on a busy service manager. */
	if (sendto(sv->fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&sv->addr,
	           sv->addrlen) < 0) {
		log_debug("sd_notify '%s': %s", msg, strerror(errno));
		return false;
	}
	return true;
}

static void on_watchdog(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	/* Sent from the loop: a loop that hangs stops the pings and systemd
	 * restarts the service. */
	service_notify(w->data, "WATCHDOG=1");
}

static void open_notify_socket(struct service *sv)
{
	const char *path = getenv("NOTIFY_SOCKET");
	size_t n;

	if (!path || !*path)
		return;
	n = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || n >= sizeof(sv->addr.sun_path)) {
		log_err("NOTIFY_SOCKET '%s' is not a UNIX socket path; not notifying", path);
		return;
	}
	memset(&sv->addr, 0, sizeof(sv->addr));
	sv->addr.sun_family = AF_UNIX;
	memcpy(sv->addr.sun_path, path, n);
	if (path[0] == '@')
		sv->addr.sun_path[0] = '\0'; /* abstract namespace */
	sv->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	sv->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sv->fd < 0)
		log_err("notify socket: %s", strerror(errno));
}

struct service *service_new(struct ev_loop *loop)
{
	const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	struct service *sv = calloc(1, sizeof(*sv));

	if (!sv)
		return NULL;
	sv->fd = -1;
	sv->link.since = -1;
	sv->loop = loop;
	open_notify_socket(sv);
	if (sv->fd >= 0 && usec && (!pid || strtol(pid, NULL, 10) == (long)getpid())) {
		char *end;
		unsigned long long us = strtoull(usec, &end, 10);

		if (*end || us == 0) {
			log_err("WATCHDOG_USEC '%s' is not a number of microseconds; no watchdog", usec);
		} else {
			double every = (double)us / 2e6;

			ev_timer_init(&sv->watchdog, on_watchdog, 0., every);
			sv->watchdog.data = sv;
			ev_timer_again(loop, &sv->watchdog);
			ev_unref(loop); /* the watchdog alone does not keep the loop running */
			log_info("watchdog: pinging systemd every %.1f s", every);
		}
	}
	service_notify(sv, "STATUS=waiting for the module's data link");
	return sv;
}

void service_free(struct service *sv)
{
	if (!sv)
		return;
	if (ev_is_active(&sv->watchdog)) {
		ev_ref(sv->loop);
		ev_timer_stop(sv->loop, &sv->watchdog);
	}
	if (sv->fd >= 0)
		close(sv->fd);
	free(sv);
}

void service_link_changed(struct service *sv, bool up, const char *local_ip)
{
	sv->link.up = up;
	snprintf(sv->link.ip, sizeof(sv->link.ip), "%s", up && local_ip ? local_ip : "");
	sv->link.since = sv->loop ? ev_now(sv->loop) : 0;
	if (up) {
		service_notify(sv, "%sSTATUS=data link up, module address %s", sv->ready_sent ? "" : "READY=1\n",
		               sv->link.ip[0] ? sv->link.ip : "unknown");
		sv->ready_sent = true;
	} else {
		service_notify(sv, "STATUS=data link down, waiting for the module");
	}
}

void service_get_link(const struct service *sv, struct service_link *out)
{
	*out = sv->link;
}

bool service_stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

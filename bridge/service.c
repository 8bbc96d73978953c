#include "service.h"

#include <errno.h>
#include <ev.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "modem.h"

static struct {
	struct ev_loop *loop;
	struct sockaddr_un addr;
	socklen_t addrlen;
	int fd;
	ev_timer watchdog;
	bool ready_sent;
	const struct modem_events *inner;
	struct modem_events wrapped;
	struct service_link link;
	void (*observer)(bool up, const char *local_ip);
} SV = {.fd = -1, .link = {.since = -1}};

bool service_notify(const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	int n;

	if (SV.fd < 0)
		return false;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(msg))
		return false;
	/* Never block the loop on a busy service manager. */
	if (sendto(SV.fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&SV.addr,
	           SV.addrlen) < 0) {
		log_debug("sd_notify '%s': %s", msg, strerror(errno));
		return false;
	}
	return true;
}

static void on_watchdog(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	/* Sent from the loop: a loop that hangs stops the pings and systemd
	 * restarts the service. */
	service_notify("WATCHDOG=1");
}

static void open_notify_socket(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	size_t n;

	if (!path || !*path)
		return;
	n = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || n >= sizeof(SV.addr.sun_path)) {
		log_err("NOTIFY_SOCKET '%s' is not a UNIX socket path; not notifying", path);
		return;
	}
	memset(&SV.addr, 0, sizeof(SV.addr));
	SV.addr.sun_family = AF_UNIX;
	memcpy(SV.addr.sun_path, path, n);
	if (path[0] == '@')
		SV.addr.sun_path[0] = '\0'; /* abstract namespace */
	SV.addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	SV.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (SV.fd < 0)
		log_err("notify socket: %s", strerror(errno));
}

void service_init(struct ev_loop *loop)
{
	const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");

	SV.loop = loop;
	open_notify_socket();
	if (SV.fd >= 0 && usec && (!pid || strtol(pid, NULL, 10) == (long)getpid())) {
		char *end;
		unsigned long long us = strtoull(usec, &end, 10);

		if (*end || us == 0) {
			log_err("WATCHDOG_USEC '%s' is not a number of microseconds; no watchdog", usec);
		} else {
			double every = (double)us / 2e6;

			ev_timer_init(&SV.watchdog, on_watchdog, 0., every);
			ev_timer_again(loop, &SV.watchdog);
			ev_unref(loop); /* the watchdog alone does not keep the loop running */
			log_info("watchdog: pinging systemd every %.1f s", every);
		}
	}
	service_notify("STATUS=waiting for the module's data link");
}

void service_shutdown(void)
{
	if (SV.loop && ev_is_active(&SV.watchdog)) {
		ev_ref(SV.loop);
		ev_timer_stop(SV.loop, &SV.watchdog);
	}
	if (SV.fd >= 0)
		close(SV.fd);
	SV.fd = -1;
}

static void on_link_state(void *ctx, bool up, const char *local_ip)
{
	SV.link.up = up;
	snprintf(SV.link.ip, sizeof(SV.link.ip), "%s", up && local_ip ? local_ip : "");
	SV.link.since = SV.loop ? ev_now(SV.loop) : 0;
	if (up) {
		service_notify("%sSTATUS=data link up, module address %s", SV.ready_sent ? "" : "READY=1\n",
		               SV.link.ip[0] ? SV.link.ip : "unknown");
		SV.ready_sent = true;
	} else {
		service_notify("STATUS=data link down, waiting for the module");
	}
	if (SV.inner->link_state)
		SV.inner->link_state(ctx, up, local_ip);
	if (SV.observer)
		SV.observer(up, SV.link.ip);
}

void service_on_link(void (*fn)(bool up, const char *local_ip))
{
	SV.observer = fn;
}

const struct modem_events *service_wrap_events(const struct modem_events *inner)
{
	SV.inner = inner;
	SV.wrapped = *inner;
	SV.wrapped.link_state = on_link_state;
	return &SV.wrapped;
}

void service_get_link(struct service_link *out)
{
	*out = SV.link;
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

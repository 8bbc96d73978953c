/* The service manager's side: systemd's notification protocol (READY=1 when
 * the data link is up, STATUS= lines, STOPPING=1, the watchdog), written by
 * hand (a datagram to $NOTIFY_SOCKET) rather than linking libsystemd for
 * four lines of protocol; and the data link's state as the daemon saw it. */
#ifndef ATB_SERVICE_H
#define ATB_SERVICE_H

#include <stdbool.h>

struct ev_loop;
struct service;

/* Reads $NOTIFY_SOCKET, $WATCHDOG_USEC/$WATCHDOG_PID; starts the watchdog
 * timer on the loop when asked for. Harmless without systemd. NULL only
 * when out of memory. */
struct service *service_new(struct ev_loop *loop);
void service_free(struct service *sv);

/* Sends one notification ("STATUS=...", "STOPPING=1"); false when there is
 * no service manager (or no sv) or the send failed. */
bool service_notify(struct service *sv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The data link changed: READY=1 on the first link up, STATUS= on every
 * change. */
void service_link_changed(struct service *sv, bool up, const char *local_ip);

struct service_link {
	bool up;
	char ip[16];     /* the module's address while up */
	double since;    /* ev_now() of the last change; < 0: never up */
};
void service_get_link(const struct service *sv, struct service_link *out);

/* stderr goes to journald ($JOURNAL_STREAM names it): log lines carry
 * syslog priority prefixes then. */
bool service_stderr_is_journal(void);

#endif

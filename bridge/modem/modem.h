/* The socket interface between the flow table (bridge/) and the module
 * (bridge/modem/). This is the seam of the design: the bridge never sees an
 * AT string, the modem layer never sees lwIP, tun or flows.
 *
 * Everything runs on one libev loop. Calls never block; results arrive as
 * events through struct modem_events. A link id is the module's own socket
 * number (0..modem_max_links()-1).
 */
#ifndef ATB_MODEM_H
#define ATB_MODEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ev_loop;

/* No dialect has more links than this (SIM7000: 8, N11V2: 5). */
#define MODEM_LINKS_MAX 8

enum modem_proto { MODEM_TCP = 0, MODEM_UDP = 1 };

enum modem_flow_control { MODEM_FC_NONE = 0, MODEM_FC_RTSCTS };

struct modem_config {
	const char *device;        /* serial device path, e.g. /dev/ttyUSB2 */
	unsigned baud;             /* 9600 .. 3686400; must be a termios rate */
	enum modem_flow_control flow_control;
	/* A module registry name (modem_registry.h: "sim7000", "n11v2"); NULL
	 * or "auto": the module is identified (model = auto). */
	const char *model;
	const char *apn;           /* validated by config/: no '"', CR, LF */
	const char *user;
	const char *password;
	unsigned cmd_timeout_ms;   /* default per-command timeout (bring-up uses longer ones) */
	unsigned poll_interval_ms; /* safety poll (CIPRXGET=4) for quiet links */
	unsigned max_inflight;     /* per-link bytes accepted by the module but not acked (CIPACK) */
	/* Transparent links (CIPMODE=1 / TCPTRANS): one link at a time in data
	 * mode; modem_max_links() is 1. */
	bool transparent;
	unsigned guard_ms;         /* +++ guard time (0: the manual's 1000 ms) */
	/* Recovery (docs/recovery.md), after pppd: the first retry of a failed
	 * bring-up waits holdoff_ms, each further one twice as long up to
	 * holdoff_max_ms; after maxfail failed bring-ups in a row the process
	 * exits with status 1 (0: retry for ever, pppd's persist). */
	unsigned holdoff_ms;       /* 0: 1000 */
	unsigned holdoff_max_ms;   /* 0: 30000 */
	unsigned maxfail;
	/* SIM PIN (4..8 digits) sent as AT+CPIN="<pin>" when the SIM answers
	 * +CPIN: SIM PIN; NULL or "": none. Never logged. */
	const char *pin;
};

/* Events from the modem layer to the bridge. ctx is the pointer given to
 * modem_new(). Every callback may call back into the modem API. */
struct modem_events {
	/* The data context is up (true) or lost (false). On false every link is
	 * already gone: no further events arrive for the old link ids. */
	void (*link_state)(void *ctx, bool up, const char *local_ip);
	/* modem_open() finished: ok = CONNECT OK, !ok = CONNECT FAIL/ERROR. On
	 * failure the link id is free again. */
	void (*connected)(void *ctx, int link, bool ok);
	/* Bytes read from the link. Never more than the window the bridge last
	 * granted with modem_recv_window(); the bridge takes them all. */
	void (*data)(void *ctx, int link, const uint8_t *buf, size_t len);
	/* The module accepted len more bytes of what modem_send() queued
	 * (DATA ACCEPT / SEND OK / +TCPSEND). The bridge may now acknowledge
	 * them to its client (tcp_recved). ok=false: the link failed and bytes
	 * were lost (SEND FAIL, a send or read given up on; len may be 0): it
	 * is being closed and a closed event follows. */
	void (*sent)(void *ctx, int link, size_t len, bool ok);
	/* The link is closed. The link id is free again.
	 * lost = false: a remote close (or a close after modem_close()) with
	 * every byte the remote sent delivered through data(), checked against
	 * the module's own view and a sync check of the channel.
	 * lost = true: the stream may have lost or gained bytes (the data
	 * context or the module went away, a send or read failed or timed out,
	 * an answer broke the protocol): the client must see a reset, never a
	 * clean end. */
	void (*closed)(void *ctx, int link, bool lost);

	/* May be NULL. */
	/* modem_resolve() finished: ok with n (1..MODEM_RESOLVE_MAX) IPv4
	 * addresses in network byte order, or !ok (unknown name, DNS error,
	 * timeout, data context lost). */
	void (*resolved)(void *ctx, int req, bool ok, const uint32_t *ips, size_t n);
	/* modem_ping() finished: ok with the round-trip time in ms, or !ok (no
	 * reply in time, error, data context lost). */
	void (*ping_reply)(void *ctx, int req, bool ok, unsigned rtt_ms);
	/* The modem cannot go on and the process should stop with status 1
	 * (e.g. model = auto and the module is none of the supported ones). msg
	 * is one line without the "atbridge: " prefix or a newline. The modem
	 * does nothing more after it; modem_free() is still the caller's. When
	 * NULL the modem prints msg to stderr and exits with status 1. */
	void (*fatal)(void *ctx, const char *msg);
	/* Inbound (modem_listen): the module listens on port (ok) or could
	 * not (!ok: refused, timed out, or the listener went away; after a
	 * lost data context every listener is gone without this event, and
	 * the bridge listens again after link_state(true)). */
	void (*listening)(void *ctx, uint16_t port, bool ok);
	/* The module accepted a connection on a listened port: link is open,
	 * as after connected(true), and the usual data, sent and closed
	 * events follow (the window is 0 until modem_recv_window()). peer_ip
	 * (network byte order) and peer_port are 0 when the module does not
	 * say. A bridge that does not want it calls modem_close(). */
	void (*accepted)(void *ctx, int link, uint16_t port, uint32_t peer_ip, uint16_t peer_port);
};

struct modem;

/* Creates the modem, opens the serial port and starts bring-up. Returns NULL
 * with a message on stderr when the device cannot be opened. */
struct modem *modem_new(struct ev_loop *loop, const struct modem_config *cfg,
                        const struct modem_events *ev, void *ctx);
void modem_free(struct modem *m);

bool modem_is_up(const struct modem *m);
int modem_max_links(const struct modem *m);
/* Number of links not in use (free for modem_open()). */
int modem_free_links(const struct modem *m);
/* Links held by flows: open, opening or closing (not a listener's socket,
 * which stays taken while the module listens). */
int modem_busy_links(const struct modem *m);

/* Opens a link to ip:port (ip in network byte order). Returns the link id,
 * or -1 when no link is free or the modem is not up. The result arrives
 * through connected(). */
int modem_open(struct modem *m, enum modem_proto proto, uint32_t ip, uint16_t port);

/* How many ports the module can listen on at once (SIM7000 AT+CIPSERVER
 * and N11V2 AT+TCPLISTEN: 1; 0 in transparent mode, and while model =
 * auto still probes). */
int modem_max_listeners(const struct modem *m);
/* The module is to listen on TCP port (1..65535) whenever the data link
 * is up: now, and again after every bring-up (a lost context or a restart
 * drops the module's listeners). listening() reports each outcome. False,
 * doing nothing, for port 0, a port asked for already, or more than
 * MODEM_LISTEN_PORTS ports; a port beyond what the module can hold is
 * reported with listening(port, false) at each bring-up. */
#define MODEM_LISTEN_PORTS 4
bool modem_listen(struct modem *m, uint16_t port);

/* Queues bytes for the link. Returns how many were taken (0..len); the modem
 * holds at most a bounded amount per link. For UDP one call is one datagram
 * and is taken whole or not at all. */
size_t modem_send(struct modem *m, int link, const uint8_t *buf, size_t len);
/* How many bytes modem_send() would take now. */
size_t modem_send_space(const struct modem *m, int link);

/* The bridge can take up to `window` more bytes for this link (0 stops
 * reading). The modem reads from the module only while the window is open;
 * it is 0 for a new link until the first call. */
void modem_recv_window(struct modem *m, int link, size_t window);

/* Closes the link (after queued data was sent). A closed() event follows. */
void modem_close(struct modem *m, int link);

/* Resolves a host name with the module's resolver (SIM7000: AT+CDNSGIP,
 * N11V2: AT+DNS; one on the line at a time, up to 8 wait).
 * name: letters, digits, '-', '.', '_' only, at most MODEM_NAME_MAX bytes
 * (the longest that fits every module's command, AT+CDNSGIP="<name>", in
 * AT_CMD_TEXT_MAX). Returns a request id >= 0; MODEM_NAME_REFUSED, at once,
 * for a name that cannot become a command; -1 when the modem is not up or
 * too many requests wait. The answer arrives through resolved(). */
#define MODEM_RESOLVE_MAX 2
#define MODEM_NAME_MAX 242
#define MODEM_NAME_REFUSED (-2)
int modem_resolve(struct modem *m, const char *name);

/* One ICMP echo to ip (network byte order) through the module. SIM7000:
 * AT+CIPPING with one try; timeout_ms is rounded up to 100 ms steps, 100 ms
 * .. 60 s, and the line is busy for up to that long: keep it short. N11V2:
 * AT+PING sends its own four echoes; the first reply is reported. Returns a
 * request id >= 0 or -1 (not up, too many waiting); the answer arrives
 * through ping_reply(). */
int modem_ping(struct modem *m, uint32_t ip, unsigned timeout_ms);

/* Counters for status and tests. */
struct modem_stats {
	uint64_t bytes_to_module, bytes_from_module; /* payload */
	uint64_t line_tx, line_rx;                   /* all bytes on the serial line */
	uint64_t commands, timeouts, errors, garbage_lines;
	uint64_t reboot_requests; /* the module stopped answering and was asked to restart */
};
void modem_get_stats(const struct modem *m, struct modem_stats *out);

/* What the module said about itself, for status. Identity (model, firmware,
 * IMEI) is read once per bring-up; signal, registration and operator at
 * bring-up too. A field the module did not give in the expected form stays
 * unknown: "" for strings, NULL for the const char * ones, -1 for numbers.
 * dialect and link_mode are NULL while model = auto still probes; local_ip
 * is "" while the link is down. The pointer stays valid until modem_free()
 * and its contents change with the next call. */
struct modem_info {
	char model[32], firmware[48], imei[20], operator_name[32];
	int csq_rssi, csq_ber;    /* AT+CSQ 0..31 and 0..7; 99 ("not known") is -1 */
	const char *registration; /* "home", "roaming", "searching", "denied" or NULL */
	const char *link_mode;    /* "multi-link", "transparent" */
	const char *dialect;      /* "sim7000", "n11v2" */
	char local_ip[16];
};
const struct modem_info *modem_get_info(const struct modem *m);

/* Drops the data context and brings it up again (atbridgectl reconnect):
 * link_state(false) first (every link is gone, as on a lost context), then
 * the dialect's bring-up, which starts by releasing the context (SIM7000
 * AT+CIPSHUT, N11V2 AT+XIIC=0), and link_state(true) when it is back.
 * Returns false, doing nothing, when the link is not up (a bring-up is
 * already under way, or model = auto still probes) or, on a transparent
 * link, while a flow has the line in data mode. */
bool modem_reconnect(struct modem *m);

#endif

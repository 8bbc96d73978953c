/* Shared between modem.c (the public API) and the dialect files. */
#ifndef ATB_MODEM_PRIV_H
#define ATB_MODEM_PRIV_H

#include <ev.h>

#include "at_chan.h"
#include "at_script.h"
#include "modem.h"
#include "modem_registry.h"

/* How the links are run: the multi-link engine (mlink.c) or the
 * transparent one (trans.c), each driving the module's tables from
 * m->module. */
#define MODEM_LISTEN_MAX MODEM_LISTEN_PORTS

struct modem_dialect {
	const char *name;
	/* Allocates dialect state into m->d; false on failure. */
	bool (*create)(struct modem *m);
	void (*destroy)(struct modem *m);
	/* The channel is new: register URCs. */
	void (*attach)(struct modem *m);
	const struct at_chan_hooks *hooks;
	void (*start)(struct modem *m); /* begin bring-up */
	int (*free_links)(const struct modem *m);
	int (*open)(struct modem *m, enum modem_proto proto, uint32_t ip, uint16_t port);
	size_t (*send)(struct modem *m, int link, const uint8_t *buf, size_t len);
	size_t (*send_space)(const struct modem *m, int link);
	void (*recv_window)(struct modem *m, int link, size_t window);
	void (*close)(struct modem *m, int link);
	int (*resolve)(struct modem *m, const char *name); /* may be NULL */
	int (*ping)(struct modem *m, uint32_t ip, unsigned timeout_ms);
	int (*max_listeners)(const struct modem *m); /* may be NULL: none */
	int (*listen_sockets)(const struct modem *m); /* link ids listeners hold; may be NULL */
	/* A port was added to m->listen_ports: listen now if up. */
	void (*listen)(struct modem *m, uint16_t port);
	/* A module that stopped answering is asked to restart (the module's
	 * reboot_cmd) before the next bring-up. */
	bool reboots;
	/* modem_reconnect() while up: every link down, bring-up again. False
	 * when it cannot now. */
	bool (*reconnect)(struct modem *m);
};

struct modem {
	struct ev_loop *loop;
	struct modem_config cfg; /* strings below are owned copies */
	char *device, *apn, *user, *password, *pin;
	bool sim_pin_needed; /* the last AT+CPIN? said SIM PIN */
	bool pin_tried;      /* the PIN was sent and the SIM has not said READY since */
	struct modem_events ev;
	void *ctx;
	int fd;
	struct at_chan *chan;
	struct at_script_run *script;
	const struct modem_module *module;   /* NULL while model = auto probes */
	const struct modem_dialect *dialect; /* NULL while model = auto probes */
	void *d; /* dialect state */
	const struct modem_module *probed;   /* what the probe found */
	bool probe_dead;
	bool probe_unknown;  /* the probe got answers but no supported model */
	char probe_ati[64], probe_cgmm[64]; /* what ATI and AT+CGMM answered */
	ev_timer probe_timer;
	bool up;
	/* Ports the module is to listen on whenever the data link is up
	 * (modem_listen). */
	uint16_t listen_ports[MODEM_LISTEN_MAX];
	size_t n_listen;
	int next_req; /* request ids for resolve and ping */
	char local_ip[16];
	struct modem_info info; /* modem_info.c */
	ev_timer info_timer;    /* the periodic refresh */
	double info_interval;
	size_t info_step;       /* the refresh command next (N: the round is done) */
	bool info_inflight, info_seen;
	const struct at_chan *info_chan; /* the channel the command went to */
	uint64_t bytes_to_module, bytes_from_module;
	struct at_chan_stats old_chan_stats; /* from channels replaced by a reopen */
	/* recovery (modem_recover.c) */
	double holdoff;        /* delay before the next bring-up retry, s */
	unsigned fails;        /* bring-ups failed in a row */
	bool reboot_due;       /* the module stopped answering: ask it to restart */
	uint32_t recover_gen;  /* a reboot request that is no longer wanted */
	void (*recover_then)(struct modem *m);
	uint64_t reboot_requests;
};

/* Closes and reopens the serial port with a new channel (after an I/O
 * error). The dialect's attach() runs again. False when the device cannot
 * be opened now. */
bool modem_reopen(struct modem *m);
/* modem_new() on an fd that is already open (a socketpair in the fuzzer);
 * the modem owns it. fd < 0: open cfg->device. */
struct modem *modem_new_on_fd(struct ev_loop *loop, const struct modem_config *cfg,
                              const struct modem_events *ev, void *ctx, int fd);
/* A fresh request id (>= 0). */
int modem_next_req(struct modem *m);

/* modem_recover.c: what the dialects share when bring-up fails or the
 * module stops answering (pppd's holdoff and maxfail). */
void modem_recover_init(struct modem *m);
/* Bring-up failed; silent: the module did not answer at all. Returns the
 * delay before the next attempt (s). After maxfail failures: exits. */
double modem_recover_failed(struct modem *m, bool silent);
/* The delay a retry would wait now, without counting a failure. */
double modem_recover_holdoff(const struct modem *m);
void modem_recover_succeeded(struct modem *m);
/* The module stopped answering while the link was up: the next bring-up
 * starts with the dialect's reboot request. */
void modem_recover_module_dead(struct modem *m);
/* The module restarted by itself (boot URC, echo): no request needed. */
void modem_recover_module_restarted(struct modem *m);
/* Runs then(m) after the reboot request when one is due, at once otherwise. */
void modem_recover_begin(struct modem *m, void (*then)(struct modem *m));

/* modem_probe.c */
extern const struct at_chan_hooks modem_probe_hooks;
void modem_probe_init(struct modem *m);
void modem_probe_start(struct modem *m);
void modem_probe_attach(struct modem *m);
void modem_probe_stop(struct modem *m);

/* modem_info.c: rows for the bring-up tables (after AT+CGATT?), all
 * AT_ON_FAIL_NEXT: a module that does not answer them still comes up. */
void modem_info_reset(struct modem *m);
/* Starts (modem_new) and stops (modem_free) the periodic refresh. */
void modem_info_init(struct modem *m);
void modem_info_stop(struct modem *m);
/* For tests: the refresh period (default 30 s). */
void modem_info_set_interval(struct modem *m, double s);
bool modem_info_any_line(const char *line);
bool modem_info_csq_line(const char *line);
bool modem_info_creg_line(const char *line);
bool modem_info_cops_line(const char *line);
bool modem_info_cgmm_line(const char *line);
bool modem_info_cgmr_line(const char *line);
bool modem_info_cgsn_line(const char *line);
void modem_info_capture_model(void *ctx, const char *line);
void modem_info_capture_firmware(void *ctx, const char *line);
void modem_info_capture_imei(void *ctx, const char *line);
void modem_info_capture_csq(void *ctx, const char *line);
void modem_info_capture_creg(void *ctx, const char *line);
void modem_info_capture_cops(void *ctx, const char *line);
/* modem_pin.c: AT+CPIN? (READY or SIM PIN), the PIN when asked for (sent
 * once: a refused PIN is not sent again, three wrong ones lock the SIM), then
 * AT+CPIN? until READY. Replaces the AT+CPIN? row of every bring-up. */
bool modem_pin_cpin_line(const char *line);
void modem_pin_capture(void *ctx, const char *line);
bool modem_pin_skip(void *ctx);
bool modem_pin_build(void *ctx, char *out, size_t cap);
#define MODEM_PIN_ROWS \
	{ .cmd = "AT+CPIN?", .match = modem_pin_cpin_line, .capture = modem_pin_capture, \
	  .timeout_ms = 5000, .tries = 5, .retry_delay_ms = 1000 }, \
	{ .build = modem_pin_build, .skip = modem_pin_skip, .label = "AT+CPIN=<pin>", \
	  .timeout_ms = 5000 }, \
	{ .cmd = "AT+CPIN?", .expect = "+CPIN: READY", .capture = modem_pin_capture, \
	  .timeout_ms = 5000, .tries = 10, .retry_delay_ms = 1000 }
/* The first rows of every bring-up: the module answers, echo off. No
 * answer to the first is a silent module (modem_recover.c). */
#define MODEM_SYNC_ROWS \
	{ .cmd = "AT", .timeout_ms = 1000, .tries = 10, .retry_delay_ms = 1000 }, \
	{ .cmd = "ATE0", .timeout_ms = 2000, .tries = 3, .retry_delay_ms = 500 }
/* SIM ready, attached to the packet service, then who the module is and
 * how it is registered (info, one of the MODEM_INFO_ROWS_* below). */
#define MODEM_ATTACH_ROWS(info) \
	MODEM_PIN_ROWS, \
	{ .cmd = "AT+CGATT?", .expect = "+CGATT: 1", .timeout_ms = 5000, .tries = 60, \
	  .retry_delay_ms = 1000 }, \
	info
#define MODEM_INFO_ROW(cmd_, match_, capture_) \
	{ .cmd = cmd_, .match = match_, .capture = capture_, .timeout_ms = 2000, \
	  .on_fail = AT_ON_FAIL_NEXT }
#define MODEM_INFO_STATE_ROWS \
	MODEM_INFO_ROW("AT+CSQ", modem_info_csq_line, modem_info_capture_csq), \
	MODEM_INFO_ROW("AT+CREG?", modem_info_creg_line, modem_info_capture_creg), \
	MODEM_INFO_ROW("AT+COPS?", modem_info_cops_line, modem_info_capture_cops)
/* SIM7000: bare answer lines (SIMCOM_SIM7000E, Revision:..., the IMEI). */
#define MODEM_INFO_ROWS_SIM7000 \
	MODEM_INFO_ROW("AT+CGMM", modem_info_any_line, modem_info_capture_model), \
	MODEM_INFO_ROW("AT+CGMR", modem_info_any_line, modem_info_capture_firmware), \
	MODEM_INFO_ROW("AT+GSN", modem_info_any_line, modem_info_capture_imei), \
	MODEM_INFO_STATE_ROWS
/* N11V2 manual 2.2, 2.3, 2.7: +CGMR: <version>, +CGSN: <IMEI>, +CGMM:<model> */
#define MODEM_INFO_ROWS_N11V2 \
	MODEM_INFO_ROW("AT+CGMM", modem_info_cgmm_line, modem_info_capture_model), \
	MODEM_INFO_ROW("AT+CGMR", modem_info_cgmr_line, modem_info_capture_firmware), \
	MODEM_INFO_ROW("AT+CGSN", modem_info_cgsn_line, modem_info_capture_imei), \
	MODEM_INFO_STATE_ROWS

/* Logs the module's identity (model, firmware) at info level once a
 * bring-up has read it. */
void modem_info_log(struct modem *m);

/* Multi-link (mlink.c) and transparent (trans.c) links. */
extern const struct modem_dialect mlink_dialect;
extern const struct modem_dialect trans_dialect;
/* The dialect for a module and the configured link mode. */
const struct modem_dialect *modem_dialect_for(const struct modem *m);

#endif

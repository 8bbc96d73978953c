/* Transparent links (link = transparent): one link at a time in the
 * module's data mode (SIM7000 CIPMODE=1, N11V2 TCPTRANS/UDPTRANS). trans.c
 * is the engine shared by both modules; sim7000_trans.c and n11v2_trans.c
 * hold what differs (bring-up table, command texts, the lines that end data
 * mode) as a struct trans_model. docs/modems.md, "Transparent mode". */
#ifndef ATB_TRANS_H
#define ATB_TRANS_H

#include "modem_priv.h"

/* What a command-mode line means to the engine. */
enum trans_line {
	TL_NONE = 0,
	TL_CONNECT, /* the link is open, data mode follows ("CONNECT", "+TCPTRANS: OK") */
	TL_FAIL,    /* the open failed */
	TL_CLOSED,  /* the remote closed the link */
	TL_DOWN,    /* the data context is gone (+PDP: DEACT, GPRS DISCONNECTION) */
	TL_REBOOT,  /* the module restarted (RDY, +PBREADY) */
};

/* Result of a resolver line. */
enum trans_dns { TD_NONE = 0, TD_ADDR, TD_DONE, TD_FAIL };

struct trans_model {
	const char *name;
	const struct at_script *bringup;
	/* The open command for proto to ip:port (network order). */
	bool (*open_cmd)(char *out, size_t cap, enum modem_proto proto, uint32_t ip, uint16_t port);
	/* Extra finals of the open command (may be NULL). */
	enum at_final (*open_final)(const struct at_cmd *cmd, const char *line);
	const char *close_cmd;
	/* Sent instead of AT+IFC=2,2 without rtscts (trans_build_ifc). */
	const char *ifc_off;
	enum at_final (*close_final)(const struct at_cmd *cmd, const char *line);
	enum trans_line (*classify)(const char *line);
	/* NULL-terminated: byte strings that end data mode when they are the
	 * last thing the module wrote (remote close, loss of the context). */
	const char *const *markers;
	/* Bytes that can only be the module's restart banner: data mode ends
	 * there as a loss, whatever follows (NULL-terminated; may be NULL). */
	const char *const *restarts;
	/* Resolver: the command, and what a line means; TD_ADDR and TD_DONE may
	 * add an address to ips[*n]. */
	bool (*resolve_cmd)(char *out, size_t cap, const char *name);
	enum trans_dns (*resolve_line)(const char *line, uint32_t *ips, size_t *n);
};

/* A bring-up row's build: AT+IFC=2,2 with rtscts, the model's ifc_off
 * without. Set on every bring-up: a module that restarted has forgotten it. */
bool trans_build_ifc(void *ctx, char *out, size_t cap);

bool trans_create(struct modem *m, const struct trans_model *mo);
void trans_destroy(struct modem *m);
void trans_attach(struct modem *m);
void trans_start(struct modem *m);
bool trans_reconnect(struct modem *m);
int trans_free_links(const struct modem *m);
int trans_open(struct modem *m, enum modem_proto proto, uint32_t ip, uint16_t port);
size_t trans_send(struct modem *m, int link, const uint8_t *buf, size_t len);
size_t trans_send_space(const struct modem *m, int link);
void trans_recv_window(struct modem *m, int link, size_t window);
void trans_close(struct modem *m, int link);
int trans_resolve(struct modem *m, const char *name);
int trans_ping(struct modem *m, uint32_t ip, unsigned timeout_ms);
extern const struct at_chan_hooks trans_hooks;

/* How many bytes of buf (n > 0) may be written now without letting a
 * payload "+++" look like the escape; run is the '+' count since the last
 * guard-long silence (-1: none pending). Exposed for the unit test. */
size_t trans_guard_limit(int run, const uint8_t *buf, size_t n);
/* run after writing buf[0..n). */
int trans_guard_run(int run, const uint8_t *buf, size_t n);

#endif

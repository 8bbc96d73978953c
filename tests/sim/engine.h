/* The engine every module model runs on (engine.c, general.c): command
 * dispatch, basic V.25ter commands, the input modes (commands, a send's
 * data phase, transparent data), the receive side (push timer, framing
 * loop, notifications, remote close), and the general commands whose
 * logic is the same in every manual. A model (sim7000*.c, n11v2*.c) is a
 * struct sim_model: its command table, its answer formats and the handlers
 * that are its own. Private to tests/sim. */
#ifndef SIM_ENGINE_H
#define SIM_ENGINE_H

#include "sim.h"

#define PROMPT_DELAY 0.002      /* a send's prompt follows its command line */
#define PUSH_OUT_LIMIT 4096     /* pushed data waits while this much output is queued */

enum sim_inmode { IN_CMD, IN_DATA, IN_TRANS };

/* An extended command ("+NAME") of a model. */
struct sim_cmd {
	const char *name;
	void (*fn)(const struct at_cmd *c);
	bool needs_net;         /* refused (operation not allowed) while net_lost() */
};

/* A basic command that takes one optional digit up to max and only answers OK. */
struct sim_digit_cmd {
	const char *name;
	int max;
};

struct sim_model {
	const char *name;       /* --model NAME */
	enum sim_model_id id;      /* the --reading rows that belong to it */

	/* command interpreter */
	const struct sim_cmd *const *cmds; /* tables (ended by a NULL name), NULL ended */
	bool escapes;           /* backslash escapes inside quoted strings */
	const char *ext;        /* first characters of extended names ("+$") */
	bool dollar_is_plus;    /* AT$NAME is AT+NAME */
	bool (*net_lost)(void); /* commands marked needs_net answer +CME ERROR: 3 */
	const char *ati;        /* ATI's answer */
	const struct sim_digit_cmd *digits; /* ended by a NULL name */
	bool z_resets_cmee;     /* ATZ restores +CMEE too (AT&F always does) */
	bool s_registers;       /* ATSn=v accepted, ATSn? reads 000 */
	void (*ato)(void);      /* ATO: back to transparent data mode */
	size_t maxline;         /* command line limit after "AT" (0: none) */

	/* a send's data phase */
	void (*prompt)(void);   /* writes the prompt (sim_prompt), if any */
	int end_byte;           /* ends an unsized send (-1: none) */
	int cancel_byte;        /* cancels an unsized send (-1: none) */
	size_t unsized_keep;    /* bytes of an unsized send kept (more are dropped) */
	void (*send_done)(struct sim_link *l, bool cancel); /* in command mode again */

	/* receive side */
	size_t push_chunk;      /* largest piece of pushed data */
	bool (*trans_link)(const struct sim_link *l); /* the link of transparent mode */
	void (*frame)(const struct sim_link *l, const unsigned char *p, size_t n,
		      struct sim_buf *b);       /* pushed data as a notification */
	void (*announce)(struct sim_link *l);   /* data waits for a read command */
	void (*closed)(struct sim_link *l);     /* the engine closed a drained link */
	void (*connected)(struct sim_link *l);
	void (*connect_failed)(struct sim_link *l);
	void (*sent)(struct sim_link *l, bool ok); /* bytes reached the host (or failed) */
	/* server (server.c): the link a connection the listener accepted takes
	 * (NULL: none free, the connection is reset) and whether it is read by
	 * command; accepted() runs when that link is connected */
	struct sim_link *(*accept_link)(bool *manual_rx);
	void (*accepted)(struct sim_link *l);

	/* module life */
	const char *local_ip;   /* the module's own address unless --local-ip */
	const char *boot;       /* the power-up notifications */
	void (*reset)(void);    /* the model's power-up state */
	void (*pdp_deact)(void);
	void (*dns_answer)(const char *name);
};

/* The engine's state: the input mode and the send in its data phase. */
struct sim_engine {
	const struct sim_model *m;
	enum sim_inmode in;
	struct sim_link *send_link;
	size_t send_total;      /* bytes the data phase takes (0: unsized) */
	struct sim_buf send;
	ev_timer prompt_timer, push_timer;
	bool timers_init;
};
extern struct sim_engine E;

/* the models, by --model name (engine.c) */
const struct sim_model *sim_model_find(const char *name);
const char *sim_model_names(void);      /* "sim7000 or n11v2" */
const struct sim_model *sim_model_of(enum sim_model_id id);
extern const struct sim_model sim7000_model, n11v2_model;

/* engine.c */
void sim_engine_use(const struct sim_model *m);
/* A send command was accepted: the prompt follows, then `total` bytes of
 * data (0: unsized, up to end_byte) go to l; send_done runs at the end. */
void sim_send_begin(struct sim_link *l, size_t total);
void sim_trans_enter(struct sim_link *l, bool escape_enabled, void (*on_escape)(void));
void sim_trans_leave(void);
/* Closes l if its remote end closed and every byte was read; closed() runs. */
void sim_check_closed(struct sim_link *l);
void sim_push_all(void);
struct sim_link *sim_link_at(int n);
bool sim_link_busy(const struct sim_link *l);   /* connecting or connected */
/* close every link and the listener; forget: ever_used too */
void sim_links_reset(bool forget);
/* the address the module reports as its own and listens on */
const char *sim_local_ip(void);
void sim_ppp_ended(void);
void sim_cgdata(const struct at_cmd *c);

/* general.c: commands and helpers alike in every model */
/* "+NAME: (lo-hi)", "+NAME: <v>", "=<v>" */
void sim_setting(const struct at_cmd *c, const char *name, int *var, long lo, long hi);
/* "+NAME: v1,v2,...": n values, each in lo[i]..hi[i]; skip_empty keeps
 * the value of an empty argument */
void sim_settings(const struct at_cmd *c, const char *name, const char *test, int *vars,
		  const long *lo, const long *hi, int n, bool skip_empty);
/* A parameter command: AT+NAME? runs read(), AT+NAME=? answers test,
 * AT+NAME=... runs write() (false: ERROR); anything else is ERROR; OK ends. */
void sim_param(const struct at_cmd *c, void (*read)(void), const char *test,
	       bool (*write)(const struct at_cmd *c));
/* an action without parameters: true for AT+NAME; =? answers OK, the
 * rest ERROR */
bool sim_exec_only(const struct at_cmd *c);
/* "+NAME: (0,1)", "+NAME: <cur>", =<0|1> calls set(), which answers
 * itself and returns false when it refuses */
void sim_switch(const struct at_cmd *c, const char *name, int cur, bool (*set)(int v));
void sim_ident(const struct at_cmd *c, const char *text);  /* +CGMI style */
void sim_cpin(const struct at_cmd *c);
void sim_csq(const struct at_cmd *c, bool radio_on, int ber);
/* +CREG / +CGREG: "<name>: <n>,<stat>" */
void sim_reg(const struct at_cmd *c, const char *name, int *var, int stat);
/* +CFUN=<fun>[,<rst>]: fun one of the bits of `valid`; set() applies it */
void sim_cfun(const struct at_cmd *c, const char *test, unsigned valid, int cur,
	      void (*set)(int fun));
void sim_cgdcont(const struct at_cmd *c, char *apn, size_t size, long maxcid,
		 const char *read_tail, const char *test);
/* +IPR: rates (n of them) are the only values accepted, or any up to max
 * when rates is NULL */
void sim_ipr(const struct at_cmd *c, long *ipr, const long *rates, size_t n, long max,
	     const char *test);
/* argument i as a link number below nlinks */
bool sim_link_arg(const struct at_cmd *c, int i, int nlinks, long *n);
void sim_hex_to(struct sim_buf *b, const unsigned char *p, size_t n);
long sim_unhex(unsigned char *p, size_t n);  /* in place; bytes or -1 */
/* dns_answer(name) after the DNS delay (twice --latency-ms) */
void sim_dns_later(const char *name);

#endif

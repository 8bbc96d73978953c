/* atbridge-sim: a cellular module simulator on a pseudo-terminal.
 *
 * Written from the SIM7000 / N11V2 manuals independently of bridge/ so that a
 * misreading of the manual in one place cannot hide in the other. */
#ifndef SIM_H
#define SIM_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

/* ---- growable byte buffer (buf.c) ---- */
struct sim_buf {
	unsigned char *data;    /* first unconsumed byte */
	size_t len;             /* bytes from data on */
	size_t cap;             /* allocation size from base */
	unsigned char *base;    /* allocation; consuming only advances data */
};
void sim_buf_add(struct sim_buf *b, const void *p, size_t n);
void sim_buf_addf(struct sim_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sim_buf_consume(struct sim_buf *b, size_t n);
void sim_buf_free(struct sim_buf *b);
/* copies src into dst[size], truncating; always terminated */
void sim_strlcpy(char *dst, const char *src, size_t size);

/* ---- options (main.c) ---- */
enum sim_model_id { SIM_MODEL_SIM7000, SIM_MODEL_N11V2 };

struct sim_opts {
	enum sim_model_id model;
	long baud;
	long latency_ms;
	const char *hosts;
	const char *link;
	const char *control;
	unsigned long seed;
	bool urc_race;
	bool chunk_jitter;
	long rxbuf;
	const char *log;
	bool verbose;
	const char *ppp_cmd;     /* --ppp-cmd: program behind ATD*99# */
	unsigned long fwmark;    /* --fwmark: SO_MARK of every host socket (0: none) */
	long ping_interval_ms;   /* --ping-interval-ms: N11V2 AT+PING reply spacing */
	const char *local_ip;    /* --local-ip: the module's own address (NULL: the model's) */
};

/* ---- --reading: where a manual disagrees with itself (reading.c) ----
 * Each field holds the index of the chosen value in the reading's table;
 * 0 is the default reading. */
struct sim_readings {
	/* N11V2 */
	int tcpack, tcpclose, udpclose, ipstatus, transclose; /* 0 ok, 1 no-ok */
	int spacing;            /* enum n11_spacing */
	int pingcount;          /* 0: 4 requests, 1: 5 */
	/* SIM7000 */
	int ciprxget;           /* 0 appnote, 1 manual */
	int cipack;             /* 0 manual, 1 appnote */
	int linkresult;         /* 0 appnote, 1 manual */
	int dataaccept;         /* 0 appnote, 1 manual */
	int cdnsgip;            /* 0 appnote, 1 manual */
	int cipstatus;          /* 0 plain, 1 padded */
	int cipping;            /* 0 100ms, 1 ms */
	/* N11V2 chapter 13 */
	int server;             /* 0 ok, 1 no-ok */
};
enum n11_spacing { SPACING_SPACE, SPACING_FORMAT, SPACING_EXAMPLE, SPACING_NONE };
extern struct sim_readings RD;
/* Applies one --reading argument ("name=value[,...]" or "alt") for the model. */
bool sim_reading_apply(enum sim_model_id m, const char *arg);

/* ---- hosts file (hosts.c) ---- */
#define SIM_MAX_HOSTS 256
struct sim_host {
	char name[128];
	struct in_addr addr;
};
bool sim_hosts_load(const char *path);
/* --host-resolver: names not in --hosts go to the host's resolver
 * (getaddrinfo, blocking); off by default so that tests never query it. */
void sim_hosts_use_resolver(bool on);
bool sim_hosts_parse_line(const char *line);
void sim_hosts_clear(void);
/* Fills up to max addresses for name; returns the count (0 = unknown). */
int sim_hosts_lookup(const char *name, struct in_addr *out, int max);
bool sim_hosts_known_addr(struct in_addr a);

/* ---- host-side links (link.c) ---- */
#define SIM_LINKS 8
#define SIM_TXBUF 8192

enum sim_link_state {
	LINK_INITIAL,
	LINK_CONNECTING,
	LINK_CONNECTED,
	LINK_CLOSED,
};

struct sim_link {
	int id;
	enum sim_link_state state;
	bool udp;
	bool accepted;          /* a connection the module's server accepted */
	bool ever_used;
	unsigned gen;           /* bumps on every (re)open/close: stale events die */
	int fd;
	ev_io rio, wio;
	bool rio_on, wio_on;
	char host[256];         /* as given to CIPSTART (for CIPSTATUS) */
	struct sockaddr_in peer;
	bool manual_rx;         /* CIPRXGET=1 was in force at open */
	struct sim_buf rx;      /* received, not yet read by the client */
	struct sim_buf dgrams;  /* UDP: uint32 length of each datagram in rx */
	size_t rx_inflight;     /* received from host, still in the latency queue */
	bool eof;               /* host side reached EOF or error (after latency) */
	bool eof_seen;          /* EOF seen on the socket (maybe still in flight) */
	bool failed;            /* write error: sends fail */
	struct sim_buf tx;      /* accepted from the client, not yet in the kernel */
	size_t tx_inflight;
	uint64_t tx_total;      /* bytes accepted by CIPSEND */
	uint64_t tx_written;    /* bytes handed to the kernel */
	uint64_t send_ok_mark;  /* SEND OK when tx_written reaches this */
	bool send_ok_wait;
	bool notified;          /* +CIPRXGET: 1 sent since the buffer was empty */
	ev_timer conn_timeout;
	uint64_t acked_last;
};

/* ---- the simulator (one global) ---- */
/* What serial.c, link.c and control.c call: the engine (engine.c), which
 * runs the model chosen with --model. */
struct sim_model_ops {
	void (*reset)(void);                 /* power-up state */
	void (*feed)(void);                  /* consume s.in as far as possible */
	void (*link_event)(struct sim_link *l, int what);
	void (*boot_urcs)(void);
	void (*pdp_deact)(void);              /* control: network dropped the context */
	bool (*remote_close)(int n);          /* control: remote end closes link n */
	void (*drained)(void);                /* output that had backed up was written */
};

enum { LEV_CONNECT_OK, LEV_CONNECT_FAIL, LEV_RX, LEV_EOF, LEV_TX_DONE, LEV_TX_FAIL, LEV_ACCEPTED };

struct sim {
	struct ev_loop *loop;
	struct sim_opts o;
	const struct sim_model_ops *model;

	int master, slave_keep;
	char slave_path[256];
	ev_io mrio, mwio;
	bool mrio_on, mwio_on;
	ev_timer eio_retry;

	struct sim_buf in;   /* bytes from the client not yet consumed */
	struct sim_buf out;  /* bytes to the client not yet written */
	struct sim_buf urcq; /* notifications held back while a command runs */
	struct sim_buf raceq; /* --urc-race: notifications held for the next command */
	ev_timer race_release;
	bool cmd_open;       /* between a command line and its final result */
	bool busy;           /* input processing suspended (async command) */
	ev_timer kick;       /* resumes input processing from the loop */

	/* pacing */
	double in_tokens, out_tokens;
	ev_timer pace;
	ev_timer jitter_wait;
	bool jitter_hold;

	/* faults */
	bool stalled;
	ev_timer stall_timer;
	bool rebooting;
	ev_timer reboot_timer;
	long drop_urc;
	/* reply faults (serial.c): late, dup, stray; wrong-link (link.c) */
	bool late_pending;      /* control "late": the next command's answer */
	long late_ms;
	bool late_cmd;          /* the running command's first answer will be held */
	bool late_hold;         /* an answer is held: input processing waits */
	bool late_end;          /* the held answer ends its command */
	struct sim_buf lateq;
	struct sim_buf lateafter; /* other output while an answer is held */
	ev_timer late_timer;
	long dup;               /* the next n complete answers are written twice */
	struct sim_buf stray;   /* lines waiting for a point between commands */
	long wrong_link;        /* the next n data reads answer for another link */

	/* stats */
	uint64_t bytes_in, bytes_out;
	uint64_t errors;
	uint64_t payload_bytes;            /* line bytes taken as send data */
	uint64_t payload_link[SIM_LINKS];  /* the same per link */
	uint64_t log_dropped;   /* command lines beyond the stats log's bound */
	struct sim_buf cmdlog;  /* command lines, NUL separated */
	struct sim_cmdcount { char name[24]; unsigned long n; } counts[128];
	int ncounts;

	struct sim_link links[SIM_LINKS];
	uint64_t rng;
};

extern struct sim S;

/* serial.c */
bool sim_serial_open(void);
bool sim_cmdlog_open(const char *path);
void sim_serial_close(void);
/* Output to the client (behind a held late answer, if any). */
void sim_out(const void *p, size_t n);
/* Output now, whatever is held (control "garbage"). */
void sim_out_now(const void *p, size_t n);
void sim_outs(const char *s);
void sim_urc(const void *p, size_t n, bool droppable);
void sim_urcs(const char *s, bool droppable);
void sim_cmd_begin(void);
void sim_cmd_end(void);
/* A command's answer (its last part, after any data phase) and its end; the
 * reply faults apply here: late holds it, dup writes it twice. */
void sim_cmd_finish(const void *p, size_t n);
/* A send's prompt: the command's first answer when it has one (late). */
void sim_prompt(const char *p);
/* Input may be consumed now (not busy, stalled, rebooting or held late). */
bool sim_feed_ok(void);
void sim_stray_try(void);
void sim_faults_clear(void);
void sim_count_payload(const struct sim_link *l, size_t n);
void sim_kick(void);
void sim_serial_pump(void);
void sim_record_command(const char *line, size_t n);
void sim_count_error(void);

/* link.c */
void sim_links_init(void);
bool sim_link_open(struct sim_link *l, bool udp, struct in_addr a, int port, int lport);
void sim_link_close(struct sim_link *l);
void sim_link_close_all(void);
void sim_link_open_fail(struct sim_link *l);
/* Takes over fd, a TCP connection the module's server accepted from peer:
 * the link is connecting for one --latency-ms, then connected (LEV_ACCEPTED). */
void sim_link_adopt(struct sim_link *l, int fd, const struct sockaddr_in *peer, bool manual_rx);
/* the host socket buffers of every TCP link (a module's small windows) */
void sim_link_host_buffers(int fd);
/* SO_MARK of --fwmark on fd; false if it cannot be set */
bool sim_link_mark(int fd);
size_t sim_link_tx_free(struct sim_link *l);
void sim_link_send(struct sim_link *l, const void *p, size_t n, bool want_done);
size_t sim_link_read(struct sim_link *l, void *p, size_t max);
void sim_link_discard_rx(struct sim_link *l);
void sim_link_remote_close(struct sim_link *l);
bool sim_link_acks(struct sim_link *l, uint64_t *acked);
/* The link a data read of `asked` is answered from and the id its header
 * names: `asked` itself, unless control "wrong-link" is pending (links
 * 0..nlinks-1 are the candidates). */
struct sim_link *sim_read_link(struct sim_link *asked, int nlinks, int *hdr_id);
typedef void (*sim_delay_fn)(struct sim_link *l, const void *data, size_t n);
/* Runs fn after sec seconds unless l (if given) was closed or reopened. */
void sim_delay(double sec, sim_delay_fn fn, struct sim_link *l, const void *data, size_t n);
void sim_delay_flush(void);

/* server.c: the module's TCP server, one listening host socket */
/* Listens on --local-ip:port; slot is the link id the listener occupies in
 * the model (-1: none). False if the socket cannot be bound or listen. */
bool sim_server_listen(int port, int slot);
void sim_server_close(void);
bool sim_server_on(void);
int sim_server_port(void);
int sim_server_slot(void);      /* -1 when not listening */

/* control.c */
bool sim_control_open(const char *path);
void sim_control_close(void);

/* util */
uint32_t sim_rand(void);
double sim_now(void);
void sim_logv(const char *fmt, ...) __attribute__((format(printf, 1, 2)));


#endif

/* ---- AT command front end shared by the models (at.c) ---- */
#define AT_MAXARGS 12
#define AT_MAXLINE 2200
enum at_type { AT_EXEC, AT_READ, AT_TEST, AT_WRITE };
struct at_arg {
	char s[1100];           /* N11V2 command-mode send: 1024 bytes */
	bool quoted;
};
struct at_cmd {
	char name[32];          /* upper case, e.g. "+CIPSEND", "E", "&F" */
	enum at_type type;
	struct at_arg a[AT_MAXARGS];
	int na;
	const char *rest;       /* text after the name (basic commands) */
};
struct at_state {
	bool echo;
	bool v1;
	int cmee;
	bool async;             /* the handler finishes the command later */
	bool discarding;        /* over-long line being thrown away */
	size_t maxline;         /* model's command line limit after "AT" (0: none) */
};
extern struct at_state AT;
extern struct sim_buf R;    /* response of the running command */

/* Consumes one command line from S.in if complete; returns false if not. */
bool at_feed_line(void (*dispatch)(const char *line, size_t n));
/* Splits "AT..." into a command; false = malformed. */
bool at_parse(const char *body, size_t n, struct at_cmd *c);
/* Same, with backslash escapes (\" \\ \r \n) inside quoted strings. */
bool at_parse_escaped(const char *body, size_t n, struct at_cmd *c);
void at_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void at_raw(const void *p, size_t n);
void at_ok(void);
void at_error(int cme);     /* ERROR / +CME ERROR: <n> / verbose, per +CMEE */
void at_plain_error(void);  /* ERROR regardless of +CMEE */
void at_final(const char *text);
void at_finish(void);       /* emit R and end the command (maybe delayed) */
void at_urc(bool droppable, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool at_int(const struct at_arg *a, long lo, long hi, long *out);
void at_reset(void);

/* ---- transparent data mode shared by the models (trans.c) ---- */
/* Enter data mode for link l; on_escape runs after "+++" with guard times. */
void sim_trans_start(struct sim_link *l, bool escape_enabled, void (*on_escape)(void));
void sim_trans_stop(void);
bool sim_trans_online(void);
void sim_trans_feed(void);

/* ---- PPP data mode shared by the models (ppp.c) ---- */
extern const char *sim_ppp_default_cmd;
/* Spawns --ppp-cmd on a second pty; on_end runs when the session is over. */
bool sim_ppp_start(void (*on_end)(void));
bool sim_ppp_online(void);
void sim_ppp_feed(void);
void sim_ppp_stop(void);
/* "*99...#" after ATD */
bool sim_ppp_dial_string(const char *rest);
/* CONNECT and PPP data mode, or NO CARRIER when the program cannot start */
void sim_ppp_dial(void (*on_end)(void));
void sim_ppp_cgdata(const struct at_cmd *c, void (*on_end)(void));

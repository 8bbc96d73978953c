/* Multi-link sockets (link = multi): the engine shared by every module.
 * mlink.c owns the links (states, opens, drain-on-close with its checks,
 * loss reporting, the socket interface) and the scheduler that picks the
 * next data command whenever the line is free; mlink_io.c the data path
 * (sends, the in-flight bound, reads, windows); mlink_bringup.c bring-up,
 * notifications, the data context and recovery; mlink_resolve.c the
 * resolver queue. A module
 * supplies a struct mlink_model: its command texts, how each answer ends
 * and what its lines say (parsers, no state), its limits and its bring-up
 * table (sim7000.c, n11v2.c). trans.h is the same shape for transparent
 * links. docs/adding-a-module.md walks through one. */
#ifndef ATB_MLINK_H
#define ATB_MLINK_H

#include <ev.h>

#include "modem_priv.h"
#include "trans.h"

/* Payload bytes per send or read command; a model's chunk is at most this
 * (the N11V2's 4096; the SIM7000's 1460). A link queues MLINK_TX_QUEUE
 * bytes beyond one chunk of its model (mlink_tx_cap): a whole chunk can
 * gather while the one before it is on the line. The buffers are sized for
 * the largest model: 8 KiB tx and 4 KiB hold per link. */
#define MLINK_CHUNK_MAX 4096
#define MLINK_TX_QUEUE 4096
#define MLINK_TX_CAP (MLINK_TX_QUEUE + MLINK_CHUNK_MAX)
#define MLINK_UDP_QUEUE 8
#define MLINK_POLL_BACKOFF_MAX 16
/* A short TCP send waits this long for a whole chunk in the full-size pass:
 * it must not starve behind other links' full-size reads. */
#define MLINK_COALESCE_S 0.01
/* While listening, a connect told its socket is in use waits this long for
 * the notification of a connection the module accepted on it. */
#define MLINK_ACCEPT_WAIT_S 1.0

/* The link id inside a data command's tag (the generation is above it). */
#define MLINK_TAG_LINK(cmd) ((unsigned)((cmd)->tag & 0xfu))

/* What a command is built from. */
struct mlink_req {
	unsigned id;
	enum modem_proto proto;
	size_t len;   /* send: bytes that follow the prompt; read: bytes asked */
	uint32_t ip;  /* open: network byte order */
	uint16_t port;
};

/* One data command of a module: its text, and how its answer ends (the
 * command's final(), see at_chan.h; the link is MLINK_TAG_LINK(cmd)). */
struct mlink_cmd {
	bool (*build)(char *out, size_t cap, const struct mlink_req *r);
	enum at_final (*final)(const struct at_cmd *cmd, const char *line);
	unsigned flags; /* AT_F_* */
};

/* What a notification line means to the engine. */
enum mlink_event {
	ME_NONE = 0,     /* not this entry's line */
	ME_CONNECT_OK,   /* link opened */
	ME_CONNECT_FAIL, /* link could not be opened */
	ME_IN_USE,       /* the module has this socket in use already */
	ME_READABLE,     /* the module holds data for link */
	ME_CLOSED,       /* the remote (or the network) closed link */
	ME_DOWN,         /* the data context is gone */
	ME_RESTART,      /* the module restarted */
	/* server side (mlink_listen.c) */
	ME_LISTENING,    /* the listener asked for is up (SIM7000 "SERVER OK") */
	ME_LISTEN_CLOSED, /* the module dropped its listener ("SERVER CLOSE") */
	ME_ACCEPTED,     /* a connection was accepted on link */
	ME_PUSH,         /* an accepted link's data follows the line */
	ME_INFO,         /* a known line that asks for nothing */
};

/* A notification: lines starting with prefix go to parse(), which sets
 * *link for the link events; without parse() the line means event. prefix
 * NULL: lines without a fixed prefix ("0, CLOSED"), offered to parse()
 * when no prefix matched. */
struct mlink_urc {
	const char *prefix;
	enum mlink_event (*parse)(const char *line, int *link);
	enum mlink_event event;
};

/* The read on the line, as the header parsers see it. */
struct mlink_rx {
	size_t req;   /* bytes asked for; 0: a query of what waits */
	size_t hint;  /* what the last query said waited, SIZE_MAX: none */
	bool dgram;   /* a UDP link's read */
	int reading;  /* how this module's headers read (0: not known yet) */
};

/* A read answer's header. */
struct mlink_head {
	unsigned id;
	size_t len;      /* payload bytes that follow */
	size_t rest;     /* bytes still waiting, when rest_known */
	bool rest_known;
};

/* Ping: the module's own (sim7000_query.c, n11v2_query.c: the two
 * modules' pings share no shape), with state it allocates. */
struct mlink_queries {
	void *(*create)(struct modem *m);
	void (*destroy)(struct modem *m);
	void (*attach)(struct modem *m); /* register URCs */
	void (*fail_all)(struct modem *m); /* the data context is gone */
	int (*ping)(struct modem *m, uint32_t ip, unsigned timeout_ms);
};

struct mlink_model {
	const char *name;
	/* limits */
	int links;              /* sockets 0..links-1, at most MODEM_LINKS_MAX */
	size_t chunk;           /* largest send and read, at most MLINK_CHUNK_MAX */
	double connect_timeout; /* s */
	double retry_s;         /* between ack queries; after a full buffer */
	const struct at_script *bringup;
	/* Commands. query: how much waits, without reading (NULL build: the
	 * module has none; a read asks instead). */
	struct mlink_cmd open, send, read, query, ack, close, status;
	/* open answered ERROR: the socket is in use in the module (closed
	 * there and tried once more) rather than a refused connect. */
	bool (*open_in_use)(const char *final_line);
	/* A send's final line: bytes the module took (at most cmd->data_len;
	 * data_len when it does not say). */
	size_t (*send_accepted)(const struct at_cmd *cmd, const char *final_line);
	/* A send refused because the module's buffer is full (may be NULL):
	 * sent again after retry_s. */
	bool (*send_full)(const char *final_line);
	/* A read's header line: the reading it shows (> 0; rx->reading while
	 * it shows none), -1 when it is no header this read can have. */
	int (*read_head)(const struct mlink_rx *rx, const char *line, struct mlink_head *h);
	/* The query's answer line: how much waits on which link. */
	bool (*query_head)(const char *line, unsigned *id, size_t *rest);
	/* Payload after a header line (SIM7000) or inside it after its last
	 * comma (N11V2 +TCPREAD: <n>,<len>,): its length, 0 for none. */
	size_t (*payload_len)(const struct mlink_rx *rx, const char *line);
	bool payload_inline;
	/* An ack query's line: bytes sent but not acknowledged by the peer. */
	bool (*ack_inflight)(const char *line, unsigned id, size_t *inflight);
	/* A status answer line for link id: 1 the module has it open, 0 it
	 * has not, -1 no status line for id. */
	int (*status_open)(const char *line, unsigned id);
	/* A line that fit no command: the link it names, or -1. */
	int (*stray_link)(const char *line);
	const struct mlink_urc *urcs;
	size_t n_urcs;
	/* Resolver (mlink_resolve.c): the command, the prefix of its result
	 * lines and what a line means (trans.h; the transparent table uses the
	 * same functions). NULL resolve_cmd: none. */
	bool (*resolve_cmd)(char *out, size_t cap, const char *name);
	const char *resolve_prefix;
	enum trans_dns (*resolve_line)(const char *line, uint32_t *ips, size_t *n);
	const struct mlink_queries *queries;
	/* Listening (mlink_listen.c); NULL listen.build: the module cannot.
	 * listen builds from r->port; listeners: ports at once. */
	struct mlink_cmd listen;
	int listeners;
	/* The listen command's final line: 1 listening, 0 listening once
	 * ME_LISTENING comes, -1 refused; *sock the socket the listener holds
	 * in the module's table (-1: none). */
	int (*listen_result)(const char *final_line, int *sock);
	/* An ME_ACCEPTED line's peer (may be NULL; 0s where not said). */
	void (*accept_peer)(const char *line, uint32_t *ip, uint16_t *port);
	/* Accepted links: commands where they differ from a client link's
	 * (NULL build: the same), and whether their data is pushed (ME_PUSH
	 * lines, no read command) rather than read. */
	struct mlink_cmd send_in, ack_in, close_in;
	bool push_in;
};

/* The query state a module's queries allocated. */
void *mlink_queries_state(const struct modem *m);

/* The dialect every multi-link module runs under (the module from
 * m->module->multi). */
extern const struct modem_dialect mlink_dialect;

#endif

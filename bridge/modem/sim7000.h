/* Private to the SIM7000 dialect files: sim7000.c (links, data path,
 * scheduler), sim7000_bringup.c (bring-up and recovery), sim7000_query.c
 * (resolver and ping). */
#ifndef ATB_SIM7000_H
#define ATB_SIM7000_H

#include <ev.h>

#include "modem_priv.h"

#define SIM7000_LINKS 8
#define SIM7000_CHUNK 1460
#define SIM7000_TX_CAP (4096 + SIM7000_CHUNK)
#define SIM7000_UDP_QUEUE 8
#define SIM7000_CONNECT_TIMEOUT 80.0 /* manual: 75 s max in multi-IP mode */
#define SIM7000_ACK_RETRY 0.1
#define SIM7000_POLL_BACKOFF_MAX 16
#define SIM7000_RESOLVE_QUEUE 8
#define SIM7000_PING_MAX 4

enum sim7000_link_state {
	LINK_FREE = 0,
	LINK_CONNECTING,
	LINK_OPEN,
	LINK_CLOSING,  /* CIPCLOSE issued or about to be */
	LINK_DRAINING, /* remote closed; delivering what the module still holds */
};

struct sim7000_link {
	enum sim7000_link_state state;
	enum modem_proto proto;
	uint8_t tx[SIM7000_TX_CAP];
	size_t tx_len;
	ev_tstamp tx_since; /* when tx_len last went from 0 to more */
	uint16_t dgram[SIM7000_UDP_QUEUE]; /* UDP: datagram lengths in tx */
	size_t n_dgram;
	size_t window;
	size_t inflight; /* accepted by the module, not yet acked by the peer */
	bool readable;   /* the module holds data for us */
	bool avail_known;
	size_t avail;    /* how much, when known (last reply) */
	bool avail_by_query; /* avail came from CIPRXGET=4, not a read's header */
	unsigned read_errors;
	uint8_t hold[SIM7000_CHUNK]; /* read but beyond a window that shrank */
	size_t hold_len;
	bool poll_due;
	unsigned poll_skip, poll_backoff;
	bool close_wanted, silent_close, busy, ack_blocked, ack_query_due;
	bool connect_reported;
	/* The stream may have lost or gained bytes: the close reports it. */
	bool lost;
	/* Drained after a remote close: the clean close waits for the
	 * module's own view of the link and a sync check. */
	bool fin_check, fin_sync;
	/* The connect target, to try once more after the module said the
	 * link was in use there (closed first). */
	uint32_t ip;
	uint16_t port;
	bool reclaim, reclaimed;
	ev_timer connect_timer;
	struct modem *m;
	int id;
};

struct sim7000 {
	struct sim7000_link links[SIM7000_LINKS];
	unsigned rr;  /* last scheduled slot */
	uint32_t gen; /* bumped when the data context is lost */
	bool chan_dead;
	ev_timer retry_timer, poll_timer, ack_timer, hold_timer;
	/* resolver and ping (sim7000_query.c) */
	struct sim7000_resolve {
		int req;
		char name[254];
	} resolves[SIM7000_RESOLVE_QUEUE];
	size_t n_resolves;
	bool resolve_active; /* resolves[0] was sent, its +CDNSGIP is awaited */
	ev_timer resolve_timer;
	unsigned pings;    /* queued or in flight */
	bool ping_got;     /* a reply line for the ping in flight */
	unsigned ping_rtt;
	/* the read in flight */
	size_t rx_len, rx_remaining, rx_req;
	bool rx_header; /* a header for the link of the read in flight was seen */
	bool rx_bad;    /* its payload broke the protocol */
	bool rx_rest_known;
	size_t rx_hint; /* what a CIPRXGET=4 said just before the read, or SIZE_MAX */
	/* How "+CIPRXGET: 2,<id>,<a>,<b>" reads (docs/modems.md): the app
	 * note's example (a = bytes that follow, b = bytes left) or the
	 * manual's format line (a = <reqlength>, b = <cnflength> that follow).
	 * Learned from the first header that tells them apart. */
	enum { RXGET_UNKNOWN = 0, RXGET_APPNOTE, RXGET_MANUAL } rxget_reading;
	bool rx_dgram; /* the read in flight is a UDP link's */
	char status[16]; /* the state in the last +CIPSTATUS: <n>,... line */
};

static inline struct sim7000 *S(const struct modem *m)
{
	return m->d;
}

/* sim7000.c */
void sim7000_link_reset(struct sim7000_link *l);
/* The stream of this link can no longer be trusted: it closes and the
 * close reports the loss. */
void sim7000_link_fail(struct sim7000_link *l, const char *why);

/* sim7000_bringup.c */
void sim7000_bringup_init(struct modem *m);
void sim7000_bringup_start(struct modem *m);
void sim7000_bringup_attach(struct modem *m);
void sim7000_link_down_all(struct modem *m);
void sim7000_io_error(void *ctx);

/* sim7000_query.c */
void sim7000_query_init(struct modem *m);
void sim7000_query_destroy(struct modem *m);
void sim7000_query_attach(struct modem *m);
void sim7000_query_fail_all(struct modem *m);
int sim7000_resolve(struct modem *m, const char *name);
int sim7000_ping(struct modem *m, uint32_t ip, unsigned timeout_ms);

#endif

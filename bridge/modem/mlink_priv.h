/* Private to the multi-link engine: mlink.c (links, scheduler), mlink_io.c
 * (data path), mlink_bringup.c (bring-up, notifications, recovery) and
 * mlink_resolve.c (resolver). */
#ifndef ATB_MLINK_PRIV_H
#define ATB_MLINK_PRIV_H

#include "mlink.h"

enum mlink_state {
	ML_FREE = 0,
	ML_CONNECTING,
	ML_OPEN,
	ML_CLOSING,  /* close issued or about to be */
	ML_DRAINING, /* remote closed; delivering what the module still holds */
	ML_LISTEN,   /* held by a listener in the module's table */
};

struct mlink_listener {
	uint16_t port;
	int sock; /* the link id the listener holds, -1 none */
	enum { LS_OFF = 0, LS_ASKED, LS_WAIT, LS_ON } st;
};

struct mlink_link {
	enum mlink_state state;
	enum modem_proto proto;
	uint8_t tx[MLINK_TX_CAP];
	size_t tx_len;
	ev_tstamp tx_since; /* when tx_len last went from 0 to more */
	uint16_t dgram[MLINK_UDP_QUEUE]; /* UDP: datagram lengths in tx */
	size_t n_dgram;
	size_t window;
	size_t inflight; /* accepted by the module, not yet acked by the peer */
	bool readable;   /* the module holds data for us */
	bool avail_known;
	size_t avail;    /* how much, when known (last answer) */
	bool avail_by_query; /* avail came from the query, not a read's header */
	unsigned read_errors;
	uint8_t hold[MLINK_CHUNK_MAX]; /* read but beyond a window that shrank */
	size_t hold_len;
	bool poll_due;
	unsigned poll_skip, poll_backoff;
	bool close_wanted, silent_close, busy, ack_blocked, ack_query_due;
	bool tx_wait; /* the module's buffer was full: wait retry_s */
	bool connect_reported;
	/* The stream may have lost or gained bytes: the close reports it. */
	bool lost;
	/* Drained after a remote close: the clean close waits for the
	 * module's own view of the link and a sync check. */
	bool fin_check, fin_sync;
	/* The connect target, to try once more after the module said the
	 * socket was in use there (closed first). */
	uint32_t ip;
	uint16_t port;
	bool reclaim, reclaimed;
	bool accept_waited; /* the in-use answer waited for an accept (mlink_listen.c) */
	/* Accepted by the module on a listener (mlink_listen.c); push: its
	 * data comes as ME_PUSH lines. */
	bool inbound, push;
	ev_timer connect_timer;
	struct modem *m;
	int id;
};

#define MLINK_RESOLVE_QUEUE 8

struct mlink_resolver {
	struct {
		int req;
		char name[254];
	} q[MLINK_RESOLVE_QUEUE];
	size_t n;
	bool active; /* q[0] is on the line, its result awaited */
	uint32_t ips[MODEM_RESOLVE_MAX];
	size_t n_ips;
	ev_timer timer;
};

struct mlink {
	const struct mlink_model *mo;
	struct mlink_link links[MODEM_LINKS_MAX];
	unsigned rr;  /* last scheduled slot */
	uint32_t gen; /* bumped when the data context is lost */
	bool chan_dead;
	ev_timer retry_timer, poll_timer, wait_timer, hold_timer;
	/* the read in flight */
	struct mlink_rx rx;
	size_t rx_len, rx_remaining;
	bool rx_header; /* a header for the link of the read in flight was seen */
	bool rx_bad;    /* its payload broke the protocol */
	bool rx_rest_known;
	int status;     /* the last status answer (mlink_model.status_open) */
	struct mlink_resolver res;
	void *q;        /* the module's query state */
	struct mlink_listener lis[MODEM_LISTEN_MAX];
	ev_timer listen_timer; /* a listen's confirmation, or its retry */
	int push_link;  /* the link of the ME_PUSH payload on the line, -1 none */
};

/* The command of link l: an accepted link's own where the module has one. */
static inline const struct mlink_cmd *mlink_cmd_in(const struct mlink_link *l, const struct mlink_cmd *client,
                                                   const struct mlink_cmd *in)
{
	return l->inbound && in->build ? in : client;
}

static inline struct mlink *ML(const struct modem *m)
{
	return m->d;
}

static inline const struct mlink_model *MO(const struct mlink_link *l)
{
	return ML(l->m)->mo;
}

/* mlink.c */
struct mlink_link *mlink_tag_link(struct modem *m, uint32_t tag);
/* The link a data command's done() is for, no longer busy; NULL for a
 * command from before the data context was lost. */
struct mlink_link *mlink_done(struct modem *m, const struct at_cmd *cmd);
struct mlink_req mlink_req_of(const struct mlink_link *l, size_t len);
/* Submits a data command of link l (busy until its done()). */
bool mlink_issue(struct mlink_link *l, const struct mlink_cmd *how, const struct mlink_req *r,
                 struct at_cmd *cmd);
/* Everything the module held after a remote close was delivered. */
void mlink_drained(struct mlink_link *l);
void mlink_link_reset(struct mlink_link *l);
/* The stream of this link can no longer be trusted: it closes and the
 * close reports the loss. */
void mlink_link_fail(struct mlink_link *l, const char *why);
void mlink_connect_result(struct mlink_link *l, enum mlink_event ev);
void mlink_remote_closed(struct mlink_link *l);
void mlink_readable(struct mlink_link *l);
void mlink_link_closed(struct mlink_link *l);
void mlink_idle(void *ctx);
void mlink_on_poll(struct ev_loop *loop, ev_timer *w, int revents);
void mlink_on_wait(struct ev_loop *loop, ev_timer *w, int revents);
void mlink_wait_arm(struct modem *m);
void mlink_on_hold(struct ev_loop *loop, ev_timer *w, int revents);
void mlink_on_connect_timeout(struct ev_loop *loop, ev_timer *w, int revents);

/* mlink_io.c */
bool mlink_issue_send(struct mlink_link *l);
bool mlink_issue_ack_query(struct mlink_link *l);
/* A read; query_only: ask how much waits (a read where the module has
 * no such query). */
bool mlink_issue_read(struct mlink_link *l, bool query_only);
/* The module's read headers do not yet show how they read: reads are
 * sized from a query's answer (sim7000.c, rxget_decode). */
bool mlink_undecided(const struct mlink *s);

/* mlink_bringup.c */
void mlink_bringup_start(struct modem *m);
void mlink_link_down_all(struct modem *m);
extern const struct at_chan_hooks mlink_hooks;
void mlink_bringup_attach(struct modem *m);
void mlink_bringup_init(struct modem *m);

/* mlink_listen.c */
void mlink_listen_init(struct modem *m);
void mlink_listen_stop(struct modem *m);
/* After bring-up: listen on every port asked for. */
void mlink_listen_start(struct modem *m);
/* The data context is gone: so are the listeners (no events). */
void mlink_listen_down(struct modem *m);
/* A notification for the server side; false when it was none of them. */
bool mlink_listen_event(struct modem *m, enum mlink_event ev, int id, const char *line);
void mlink_push_payload(void *ctx, const uint8_t *data, size_t len);
int mlink_max_listeners(const struct modem *m);
/* A listener is up or asked for: a socket may be given to a client. */
bool mlink_listening(const struct modem *m);
int mlink_listen_sockets(const struct modem *m);
void mlink_listen(struct modem *m, uint16_t port);

/* mlink_resolve.c */
int mlink_resolve(struct modem *m, const char *name);
void mlink_resolve_fail_all(struct modem *m);
void mlink_resolve_init(struct modem *m);
void mlink_resolve_stop(struct modem *m);
void mlink_resolve_attach(struct modem *m);

#endif

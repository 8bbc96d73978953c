/* The flow table: each TCP flow accepted from the tun rides one module link.
 *
 * A flow's life: the client's SYN arrives (held by lwip_port) -> it waits in
 * the admission queue if every module link is busy -> the module connects ->
 * the held SYN is let through and lwIP accepts -> bytes are pumped both ways
 * with backpressure -> the module link closes (remote close) or the client
 * goes away (RST) -> the flow is freed.
 */
#ifndef ATB_FLOW_H
#define ATB_FLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "lwip_port.h"
#include "modem.h"

struct ev_loop;

struct flow_config {
	unsigned max_flows;
	unsigned queue_len;
	unsigned queue_wait_ms;
	bool intercept_dns;     /* TCP port 53 answered locally */
	unsigned halfclose_s;   /* client FIN, then the server this long silent:
	                         * the link is closed (0: never) */
	unsigned idle_reclaim_s; /* a SYN waits, every link is held: a flow idle
	                          * both ways this long is reset (0: never) */
	unsigned queue_per_source; /* queued SYNs of one client address */
	unsigned max_links;     /* module links TCP may hold; 0: all but one */
	unsigned links_per_source; /* module links one client address may hold; 0: no bound */
};

struct flow_stats {
	unsigned open;          /* flows in the table */
	unsigned queued;        /* waiting for a module link */
	uint64_t accepted, refused, queue_timeouts, reset_by_link_loss;
	/* refusals by reason (refused counts them all, queue_timeouts too) */
	uint64_t refused_table_full, refused_link_down, refused_queue_full, refused_source_cap;
	uint64_t reclaimed_halfclosed, reclaimed_idle; /* links taken back */
	uint64_t bytes_up, bytes_down;
};

int flow_init(struct ev_loop *loop, const struct flow_config *cfg);
void flow_set_modem(struct modem *m);
void flow_shutdown(void);
void flow_get_stats(struct flow_stats *out);

/* One row of the flow table, for status output. */
struct flow_info {
	struct nat_tuple t;
	const char *state;   /* "queued", "connecting", "open", "closing", ... */
	int link;            /* module link, -1 when none */
	uint64_t bytes_up, bytes_down;
	double age_s;
};
/* Calls fn for each flow in the table. */
void flow_foreach(void (*fn)(void *arg, const struct flow_info *fi), void *arg);

/* lwip_port callbacks */
void flow_on_tcp_syn(void *ctx, uint32_t flow_id, const struct nat_tuple *t);
void flow_on_tcp_accepted(void *ctx, uint32_t flow_id, struct tcp_pcb *pcb);
void flow_on_tcp_abandoned(void *ctx, uint32_t flow_id);

/* modem events */
extern const struct modem_events flow_modem_events;

#endif

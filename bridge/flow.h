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

struct bridge;
struct flow_table;

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

/* The table of bridge b: its modem, links and UDP side are b's. */
struct flow_table *flow_table_new(struct bridge *b, const struct flow_config *cfg);
/* Resets every flow left (RST to its client). */
void flow_table_free(struct flow_table *ft);
void flow_get_stats(const struct flow_table *ft, struct flow_stats *out);

/* One row of the flow table, for status output. */
struct flow_info {
	struct nat_tuple t;
	const char *state;   /* "queued", "connecting", "open", "closing", ... */
	int link;            /* module link, -1 when none */
	uint64_t bytes_up, bytes_down;
	double age_s;
};
/* Calls fn for each flow in the table. */
void flow_foreach(const struct flow_table *ft, void (*fn)(void *arg, const struct flow_info *fi),
                  void *arg);

/* From lwip_port, through the bridge. */
void flow_on_tcp_syn(struct flow_table *ft, uint32_t flow_id, const struct nat_tuple *t);
void flow_on_tcp_accepted(struct flow_table *ft, uint32_t flow_id, struct tcp_pcb *pcb);
void flow_on_tcp_abandoned(struct flow_table *ft, uint32_t flow_id);

/* A module link may be free: queued flows connect, oldest first. */
void flow_admit_waiting(struct flow_table *ft);
/* Flows waiting in the admission queue. */
unsigned flow_queued(const struct flow_table *ft);
/* The data link went down (every link is gone): open flows are reset,
 * queued ones keep waiting. A flow's own link events come through the
 * bridge's link-owner table. */
void flow_link_down(struct flow_table *ft);

#endif

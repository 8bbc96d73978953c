/* UDP flows: each (client address:port, destination address:port) rides one
 * module UDP link, one send per datagram. DNS to port 53 is answered by
 * atbridge itself (dns.c) unless interception is off.
 */
#ifndef ATB_UFLOW_H
#define ATB_UFLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lwip_port.h"

struct bridge;
struct uflow_table;

struct uflow_config {
	unsigned max_flows;     /* UDP flows at once; past it datagrams are dropped and counted */
	bool intercept_dns;     /* answer port 53 ourselves (dns = module) */
	unsigned max_links;     /* module links UDP may hold; 0: half the module's */
};

struct uflow_stats {
	unsigned open;
	uint64_t datagrams_up, datagrams_down, dropped_table_full, dropped_queue_full,
		dropped_too_big, links_recycled, dns_queries;
};

/* The UDP side of bridge b: its modem and links are b's. */
struct uflow_table *uflow_table_new(struct bridge *b, const struct uflow_config *cfg);
void uflow_table_free(struct uflow_table *ut);
void uflow_get_stats(const struct uflow_table *ut, struct uflow_stats *out);

/* From lwip_port, through the bridge. */
void uflow_on_recv(struct uflow_table *ut, uint32_t flow_id, const struct nat_tuple *t,
                   const uint8_t *data, size_t len);
void uflow_on_expired(struct uflow_table *ut, uint32_t flow_id);

/* The data link went down: every UDP flow is gone. A flow's own link
 * events come through the bridge's link-owner table. */
void uflow_link_down(struct uflow_table *ut);
/* A module link became free: waiting UDP flows may take it. */
void uflow_admit_waiting(struct uflow_table *ut);
/* Frees the least recently used idle UDP link for someone else. Returns
 * true when a link is being freed (a closed event follows). */
bool uflow_recycle_idle_link(struct uflow_table *ut);

#endif

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

struct ev_loop;
struct modem;

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

int uflow_init(struct ev_loop *loop, const struct uflow_config *cfg);
void uflow_set_modem(struct modem *m);
void uflow_shutdown(void);
void uflow_get_stats(struct uflow_stats *out);
/* Module links UDP flows may hold at once. */
unsigned uflow_link_cap(void);

/* lwip_port callbacks */
void uflow_on_recv(void *ctx, uint32_t flow_id, const struct nat_tuple *t, const uint8_t *data,
                 size_t len);
void uflow_on_expired(void *ctx, uint32_t flow_id);

/* Module link events for links owned by UDP flows; false when the link is
 * not a UDP flow's. */
bool uflow_owns_link(int link);
void uflow_link_connected(int link, bool ok);
void uflow_link_data(int link, const uint8_t *buf, size_t len);
void uflow_link_sent(int link);
void uflow_link_closed(int link);
void uflow_link_down(void);
/* A module link became free: waiting UDP flows may take it. */
void uflow_admit_waiting(void);
/* Frees the least recently used idle UDP link for someone else. Returns
 * true when a link is being freed (a closed event follows). */
bool uflow_recycle_idle_link(void);

#endif

/* The bridge: everything between the packet stack (lwip_port) and the
 * module (modem.h), as one instance.
 *
 *   lwip_port callbacks --> bridge --> tcp (flow.c), udp (uflow.c),
 *                                      dns (dnsd.c), ping (ping.c)
 *   modem events ---------> bridge --> the link's owner (links.h), or
 *                                      dns / ping by request, or
 *                                      inbound (inbound.c) for listeners
 *
 * The bridge owns its components and the link-owner table; the components
 * reach each other only through it (a TCP flow that needs a link asks the
 * UDP side to give up an idle one; a free link goes to queued TCP flows
 * before waiting UDP flows).
 */
#ifndef ATB_BRIDGE_H
#define ATB_BRIDGE_H

#include <stddef.h>
#include <stdint.h>

#include "dnsd.h"
#include "flow.h"
#include "inbound.h"
#include "links.h"
#include "lwip_port.h"
#include "modem.h"
#include "uflow.h"

struct ping;

struct bridge_config {
	struct lwip_port_config stack;
	struct flow_config tcp;
	struct uflow_config udp;
	struct dnsd_config dns;
	struct inbound_config in;
	/* The bridge's owner: packets for the tun, and the data link's
	 * changes (after the bridge acted on them). ctx is passed to both. */
	void (*output)(void *ctx, const uint8_t *pkt, size_t len);
	void (*link_changed)(void *ctx, bool up, const char *local_ip);
	void *ctx;
};

struct bridge {
	struct ev_loop *loop;
	struct lwip_port *stack;  /* the packet stack the flows' pcbs live in */
	struct modem *modem;      /* NULL until bridge_set_modem() */
	struct link_table links;  /* module link -> owning flow */
	struct flow_table *tcp;
	struct uflow_table *udp;
	struct dnsd *dns;
	struct ping *ping;
	struct inbound *in;       /* port forwards from the module's listeners */
	void (*output)(void *ctx, const uint8_t *pkt, size_t len);
	void (*link_changed)(void *ctx, bool up, const char *local_ip);
	void *ctx;
};

/* Starts lwip_port (lwIP, the NAT, its timer on loop) with the bridge's
 * callbacks, and the components. Returns 0, or -1 with everything undone. */
int bridge_init(struct bridge *b, struct ev_loop *loop, const struct bridge_config *cfg);
void bridge_set_modem(struct bridge *b, struct modem *m);
/* Resets what is left (RST to open flows) and stops lwip_port. */
void bridge_shutdown(struct bridge *b);

/* For modem_new(); ctx is the struct bridge. */
extern const struct modem_events bridge_modem_events;

#endif

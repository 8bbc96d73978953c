/* ICMP echo through the module's ping (AT+CIPPING / AT+PING): a request from
 * the tun is answered with an echo reply once the module's ping succeeds, and
 * not at all when it fails. Rate-limited and bounded.
 */
#ifndef ATB_PING_H
#define ATB_PING_H

#include <stdbool.h>
#include <stdint.h>

#include "lwip_port.h"

struct ev_loop;
struct modem;
struct ping;

struct ping_stats {
	uint64_t requests, replies, failed, rate_limited, busy;
};

/* Replies go out through stack. */
struct ping *ping_new(struct ev_loop *loop, struct lwip_port *stack);
void ping_set_modem(struct ping *pg, struct modem *m);
void ping_free(struct ping *pg);

/* From lwip_port, through the bridge. */
void ping_on_echo(struct ping *pg, const struct lwip_port_echo *e);
/* From the modem's ping_reply() event. */
void ping_on_reply(struct ping *pg, int req, bool ok, unsigned rtt_ms);
/* The data link went down: no reply will come for the pings in flight. */
void ping_link_down(struct ping *pg);

#endif

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

struct ping_stats {
	uint64_t requests, replies, failed, rate_limited, busy;
};

int ping_init(struct ev_loop *loop);
void ping_set_modem(struct modem *m);
void ping_shutdown(void);

/* lwip_port callback */
void ping_on_echo(void *ctx, const struct lwip_port_echo *e);
/* modem event */
void ping_on_reply(int req, bool ok, unsigned rtt_ms);
void ping_link_down(void);

#endif

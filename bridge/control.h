/* The control socket (atbridgectl's side is bridge/ctl/) and the metrics
 * file, both on the loop. Non-blocking: at most CONTROL_MAX_CLIENTS at once,
 * requests bounded by CTL_REQUEST_MAX, one response per request line, idle
 * clients dropped after CONTROL_IDLE_S or, when slots run short, the one
 * heard from least recently. The protocol is control_proto.h. */
#ifndef ATB_CONTROL_H
#define ATB_CONTROL_H

#include <stdbool.h>

struct bridge;
struct control;
struct ev_loop;
struct service;
struct atb_config;

#define CONTROL_MAX_CLIENTS 16
#define CONTROL_IDLE_S 30.
#define CONTROL_MAX_PER_UID 8 /* one user's connections at once */

/* Binds cfg->control_socket (unless empty) with cfg->control_mode and
 * starts the metrics file timer (unless cfg->metrics_file is empty).
 * tun_name: the interface actually made. A socket that cannot be made
 * (e.g. another atbridge listens there) is logged and left out: the data
 * path runs without it. Reports on bridge b (its flows, its modem) and
 * the data link as sv saw it. NULL only when out of memory. */
struct control *control_new(struct ev_loop *loop, const struct atb_config *cfg, const char *tun_name,
                            struct bridge *b, struct service *sv);
/* Closes every client, removes the socket and the metrics file. */
void control_free(struct control *ctl);

#endif

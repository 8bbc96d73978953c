/* The tun device: open, configure through libnl, read and write whole packets. */
#ifndef ATB_TUN_H
#define ATB_TUN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct tun_config {
	const char *name;      /* requested name, e.g. "tun0" */
	uint32_t addr;         /* interface address, network order */
	unsigned prefix_len;   /* 0..32 */
	unsigned mtu;
	int default_route;     /* add a default route through the device */
	const char *const *routes; /* extra "a.b.c.d/len" routes, NULL-terminated, may be NULL */
	const char *netns;     /* NULL/empty: here; else the device is made and
	                          configured in /run/netns/<netns> */
};

/* Creates the device (IFF_TUN | IFF_NO_PI, non-blocking fd), sets address,
 * MTU, link up and routes through libnl. Returns the fd or -1 with one line
 * on stderr naming what failed. The final name is written to name_out. */
int tun_open(const struct tun_config *cfg, char *name_out, size_t name_out_len);
/* With cfg->netns the calling thread enters that namespace for the
 * duration of the call and returns to its own; the fd stays valid and the
 * device lives (and dies with the fd) in that namespace. */
/* Removes the routes it added and closes the fd (the device goes with it). */
void tun_close(int fd);

#endif

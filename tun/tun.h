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
	unsigned route_table;  /* table of the default route; 0: main */
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

/* Policy rules (tun/rule.c) that keep sockets carrying `mark` on the main
 * table while everything else takes the default route of `table`:
 *   pref TUN_RULE_PREF     fwmark mark/mark lookup main
 *   pref TUN_RULE_PREF+1   lookup main suppress_prefixlength 0
 *   pref TUN_RULE_PREF+2   lookup table
 * tun_rules_add() first removes copies left by an earlier run; -1 with one
 * error line. */
#define TUN_RULE_PREF 32700u
int tun_rules_add(uint32_t mark, uint32_t table);
/* Forks a child that keeps the privilege to remove the rules and does so
 * when the returned fd is closed or this process dies. Returns the fd (pass
 * it to tun_rules_keeper_stop) or -1. */
int tun_rules_keeper(uint32_t mark, uint32_t table, pid_t *pid_out);
void tun_rules_keeper_stop(int fd, pid_t pid);

#endif

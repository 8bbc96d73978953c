/* Hooks and the system's resolver, like pppd's ip-up/ip-down and
 * wg-quick's PostUp/PreDown and DNS=: programs run when the module's data
 * link comes up and goes down. */
#ifndef ATB_HOOKS_H
#define ATB_HOOKS_H

#include <stdbool.h>
#include <sys/types.h>

#include "config.h"

/* What a hook is told (its environment, docs/configuration.md "Hooks"). */
struct hooks_env {
	const char *interface;   /* ATB_INTERFACE, e.g. tun0 */
	const char *netns;       /* ATB_NETNS, empty: atbridge's own */
	const char *local_ip;    /* ATB_LOCAL_ADDRESS: the module's address */
	const char *tun_address; /* ATB_TUN_ADDRESS: a.b.c.d/n */
	const char *dns;         /* ATB_DNS: atbridge's DNS address (lwip-address) */
	const char *model;       /* ATB_MODEL, e.g. SIM7000G; may be empty */
	const char *link_mode;   /* ATB_LINK_MODE: multi-link | transparent */
	const char *device;      /* ATB_DEVICE: serial port (the pty with the simulator) */
};

/* The daemon's end of the helper. */
struct hooks {
	int fd;    /* -1: no helper */
	pid_t pid;
};

/* Forks the helper that runs the hooks: it keeps root and the capabilities
 * the process has now (the daemon drops them later), and holds no fd but
 * its end of a socket and stdout/stderr, where it logs. Call early, before
 * any device is open. Nothing is forked when no hook and no dns-setup is
 * configured. -1 with one line when the helper cannot be made. */
int hooks_start(struct hooks *h, const struct atb_config *c);

/* The data link came up or went down: the helper runs that phase's hooks
 * in order (up: dns-setup, up-script, hook-dir/up.d/ entries; down: hook-dir/
 * down.d/ entries, down-script, dns-setup undone), one at a time, each limited to
 * hook-timeout-s, its output logged line by line. Never blocks the caller;
 * a hook's failure is logged and changes nothing else. reason: "link-up",
 * "link-down". */
void hooks_link(const struct hooks *h, bool up, const char *reason, const struct hooks_env *e);

/* At exit: a link still up gets its down phase (reason "stop"); waits for
 * the helper at most a bounded time. When atbridge dies instead, the helper
 * sees its socket close and runs the down phase itself (reason "crash"). */
void hooks_stop(struct hooks *h);

#endif

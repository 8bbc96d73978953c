/* Starting atbridge-sim on a pty when no module is attached. */
#ifndef ATB_SIM_SPAWN_H
#define ATB_SIM_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

#include "config.h"

/* A running simulator. */
struct sim_proc {
	pid_t pid;   /* -1: none */
	int out_fd;  /* its stdout, kept open: a later line must not kill it
	                with SIGPIPE */
};

/* Starts the simulator and waits (at most 10 s) for the pty path it prints.
 * fwmark (0: none) goes on every host socket of the simulator. Without a
 * --hosts among the sim-args the simulator resolves names with the host's
 * resolver. Returns 0 with sp filled in, or -1 with one error line and sp
 * empty. */
int sim_spawn(struct sim_proc *sp, const struct atb_config *c, const char *self, unsigned fwmark,
              char *pty, size_t pty_len);
/* Stops it (SIGTERM, then SIGKILL after 1 s); harmless on an empty sp. */
void sim_stop(struct sim_proc *sp);

#endif

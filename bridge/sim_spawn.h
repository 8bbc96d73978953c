/* Starting atbridge-sim on a pty when no module is attached. */
#ifndef ATB_SIM_SPAWN_H
#define ATB_SIM_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

#include "config.h"

/* Starts the simulator and waits (at most 10 s) for the pty path it prints.
 * fwmark (0: none) goes on every host socket of the simulator. Without a
 * --hosts among the sim-args the simulator resolves names with the host's
 * resolver. Returns the child's pid, or -1 with one line on stderr. */
pid_t sim_spawn(const struct atb_config *c, const char *self, unsigned fwmark, char *pty, size_t pty_len);
void sim_stop(pid_t pid);

#endif

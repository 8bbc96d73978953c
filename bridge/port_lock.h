/* The serial port is ours alone: the UUCP lock file that pppd, minicom and
 * lockdev honour, a check that no other process has the port open, and
 * flock(2) with TIOCEXCL on our own descriptor. */
#ifndef ATB_PORT_LOCK_H
#define ATB_PORT_LOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct port_lock {
	char lock_file[300];    /* the LCK.. file we made; empty: none */
};

/* Before the port is opened: takes /run/lock/LCK..<name> (HDB format, a
 * stale file of a dead process is replaced) and makes sure no other process
 * has the device open. On failure writes one line to stderr naming the
 * holder's PID and name where they can be found, and returns -1; nothing
 * has been written to the port. */
int port_lock_take(const char *dev, struct port_lock *pl);

/* After the modem layer opened the port: flock(LOCK_EX|LOCK_NB) and, on a
 * real serial port (not a pty), TIOCEXCL on every descriptor of this
 * process that refers to dev. -1 with one line when another process holds
 * an flock on it. */
int port_lock_fds(const char *dev);

void port_lock_release(struct port_lock *pl);

#endif

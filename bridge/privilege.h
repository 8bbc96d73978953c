/* Least privilege: once the serial port, the tun and the control socket
 * are open, the data path needs no privilege at all (docs/security.md). */
#ifndef ATB_PRIVILEGE_H
#define ATB_PRIVILEGE_H

struct atb_config;

/* Switches to cfg->run_as (with its groups) when set, then gives up every
 * capability (effective, permitted, inheritable, ambient and, where
 * allowed, the bounding set) and sets no_new_privs. Returns 0, or -1
 * after one line on the log: atbridge must not run on with more than it
 * was told to keep. */
int privilege_drop(const struct atb_config *cfg);

#endif

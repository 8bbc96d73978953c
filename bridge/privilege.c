/* Least privilege. What atbridge still does after start-up, and what that
 * needs without privilege:
 *   reading and writing the open serial, tun and socket fds: nothing;
 *   reopening the serial device after a USB reset: file access to it
 *     (group dialout for /dev/ttyUSB*), which run-as's groups give;
 *   the tun is never reconfigured after start-up (address, routes and link
 *     are set once; closing the fd removes it), so CAP_NET_ADMIN goes too;
 *   SIGHUP re-reads the configuration file: read access to it.
 * Capabilities are cleared with capset(2) and prctl(2) directly: a handful
 * of calls do not justify a library dependency (libcap). */
#include "privilege.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

/* The bounding set limits what an exec could ever gain back. Dropping from
 * it needs CAP_SETPCAP; without it (e.g. under a unit whose bounding set is
 * already small) no_new_privs and empty permitted sets are enough. */
static void drop_bounding_set(void)
{
	for (int cap = 0; cap < 64; cap++) {
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0)
			break; /* past the kernel's last capability */
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno == EPERM)
			break;
	}
}

static int clear_capabilities(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	memset(d, 0, sizeof(d));
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	return (int)syscall(SYS_capset, &h, d);
}

static int switch_user(const char *name)
{
	struct passwd *pw = getpwnam(name);

	if (!pw) {
		log_err("run-as: there is no user '%s'", name);
		return -1;
	}
	if (pw->pw_uid == 0)
		return 0; /* root by name: stay, capabilities still go */
	if (initgroups(name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
		log_err("run-as: cannot switch to '%s': %s (this needs CAP_SETUID and CAP_SETGID; "
		        "see docs/security.md)", name, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0 || seteuid(0) == 0) {
		log_err("run-as: root could be regained after switching to '%s'; stopping", name);
		return -1;
	}
	return 0;
}

int privilege_drop(const struct atb_config *cfg)
{
	drop_bounding_set();
	if (cfg->run_as[0]) {
		/* The simulator child runs as root: a process that is no
		 * longer root could not stop it at exit. */
		if (cfg->sim)
			log_info("run-as %s not applied: the simulator runs as this user's child; "
			         "capabilities are dropped all the same", cfg->run_as);
		else if (switch_user(cfg->run_as) < 0)
			return -1;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		log_err("cannot set no_new_privs: %s", strerror(errno));
		return -1;
	}
	if (clear_capabilities() < 0) {
		log_err("cannot drop capabilities: %s", strerror(errno));
		return -1;
	}
	log_info("privileges dropped: uid %u gid %u, no capabilities", (unsigned)getuid(),
	         (unsigned)getgid());
	return 0;
}

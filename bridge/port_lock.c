/* The serial port is ours alone.
 *
 * Three locks, because the programs that may want the port honour
 * different ones:
 *   the UUCP lock file /run/lock/LCK..<name> (HDB: the PID in ten columns),
 *     which pppd, minicom, picocom and lockdev honour;
 *   flock(2) on the open port, which other atbridges and `flock` honour;
 *   TIOCEXCL, which the kernel itself enforces: a later open() of the tty
 *     fails with EBUSY for any process without CAP_SYS_ADMIN (ModemManager
 *     and a stray `cat` alike). Only on real serial ports: a pty's master
 *     side (atbridge-sim) keeps its own descriptor on the slave.
 * Programs that take none of them (a plain `cat`) are found in /proc
 * before the port is opened. Every refusal is one line naming the holder's
 * PID and name, and nothing is written to the port. */
#include "port_lock.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "log.h"

/* Unix98 pty slaves: majors 136..143. */
static bool is_pty(dev_t rdev)
{
	return major(rdev) >= 136 && major(rdev) <= 143;
}

static bool port_lock_name(const char *real_dev, char *out, size_t len)
{
	const char *name = real_dev;
	size_t n;

	if (!strncmp(name, "/dev/", 5))
		name += 5;
	if (snprintf(out, len, "LCK..%s", name) >= (int)len)
		return false;
	for (n = 5; out[n]; n++)
		if (out[n] == '/')
			out[n] = '_';
	return true;
}

static void proc_comm(pid_t pid, char *out, size_t len)
{
	char path[64];
	FILE *f;

	snprintf(out, len, "?");
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(out, (int)len, f))
		out[strcspn(out, "\n")] = '\0';
	fclose(f);
}

static void say_held(const char *dev, pid_t pid, const char *how)
{
	char comm[64];

	proc_comm(pid, comm, sizeof(comm));
	log_err("%s is in use by PID %d (%s; %s): stop it first%s", dev, (int)pid, comm, how,
	        !strcmp(comm, "ModemManager") ? ", or have it ignore the port (docs/modemmanager.md)" : "");
}

/* The PID a lock file names, or 0. */
static pid_t read_lock_pid(const char *path)
{
	char buf[64];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	long pid;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	pid = strtol(buf, NULL, 10); /* HDB text; a 4-byte binary PID reads as garbage: stale */
	return pid > 0 && pid <= INT_MAX ? (pid_t)pid : 0;
}

static const char *lock_dir(void)
{
	return access("/run/lock", W_OK) == 0 ? "/run/lock" : "/var/lock";
}

static int take_lock_file(const char *dev, const char *real, struct port_lock *pl)
{
	char name[256], path[sizeof(pl->lock_file)], text[16];

	if (!port_lock_name(real, name, sizeof(name)) ||
	    snprintf(path, sizeof(path), "%s/%s", lock_dir(), name) >= (int)sizeof(path))
		return 0;
	for (int tries = 0; tries < 3; tries++) {
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		pid_t pid;

		if (fd >= 0) {
			int len = snprintf(text, sizeof(text), "%10d\n", (int)getpid());
			bool ok = write(fd, text, (size_t)len) == len;

			close(fd);
			if (!ok) {
				unlink(path);
				break;
			}
			snprintf(pl->lock_file, sizeof(pl->lock_file), "%s", path);
			return 0;
		}
		if (errno != EEXIST)
			break;
		pid = read_lock_pid(path);
		if (pid > 0 && pid != getpid() && (kill(pid, 0) == 0 || errno == EPERM)) {
			say_held(dev, pid, path);
			return -1;
		}
		log_info("%s: removing the stale lock file %s (PID %d is gone)", dev, path, (int)pid);
		unlink(path);
	}
	/* A lock directory we cannot write (not root, or a unit without
	 * ReadWritePaths=/run/lock): the other locks still apply. */
	log_info("%s: no UUCP lock file %s: %s", dev, path, strerror(errno));
	return 0;
}

/* Does pid hold the master side of pty number `index`? */
static bool holds_pty_master(pid_t pid, unsigned index)
{
	char dirpath[64], path[PATH_MAX], line[128];
	DIR *d;
	struct dirent *e;
	bool found = false;

	snprintf(dirpath, sizeof(dirpath), "/proc/%d/fdinfo", (int)pid);
	d = opendir(dirpath);
	if (!d)
		return false;
	while (!found && (e = readdir(d))) {
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dirpath, e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f))
			if (!strncmp(line, "tty-index:", 10) && strtoul(line + 10, NULL, 10) == index)
				found = true;
		fclose(f);
	}
	closedir(d);
	return found;
}

/* Another process with the device open, or 0. */
static pid_t find_holder(const struct stat *dst)
{
	DIR *proc = opendir("/proc"), *fds;
	struct dirent *p, *f;
	pid_t self = getpid(), found = 0;

	if (!proc)
		return 0;
	while (!found && (p = readdir(proc))) {
		char path[300];

		if (!isdigit((unsigned char)p->d_name[0]) || atoi(p->d_name) == self)
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", p->d_name);
		fds = opendir(path);
		if (!fds)
			continue;
		while (!found && (f = readdir(fds))) {
			char fdpath[600];
			struct stat st;

			if (f->d_name[0] == '.')
				continue;
			snprintf(fdpath, sizeof(fdpath), "%s/%s", path, f->d_name);
			if (stat(fdpath, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == dst->st_rdev)
				found = atoi(p->d_name);
		}
		closedir(fds);
		/* a pty's owner (atbridge-sim) keeps the slave open: not a user */
		if (found && is_pty(dst->st_rdev) && holds_pty_master(found, minor(dst->st_rdev) +
		                                                      (major(dst->st_rdev) - 136) * 256))
			found = 0;
	}
	closedir(proc);
	return found;
}

static bool modemmanager_runs(void)
{
	DIR *proc = opendir("/proc");
	struct dirent *p;
	bool found = false;

	if (!proc)
		return false;
	while (!found && (p = readdir(proc))) {
		char comm[64];

		if (!isdigit((unsigned char)p->d_name[0]))
			continue;
		proc_comm(atoi(p->d_name), comm, sizeof(comm));
		found = !strcmp(comm, "ModemManager");
	}
	closedir(proc);
	return found;
}

/* ModemManager probes a port the moment it appears unless udev tagged it
 * ID_MM_DEVICE_IGNORE (dist/90-atbridge-modemmanager.rules). */
static void warn_modemmanager(const char *dev, const struct stat *st)
{
	char path[64], line[256];
	bool ignored = false;
	FILE *f;

	if (is_pty(st->st_rdev) || !modemmanager_runs())
		return;
	snprintf(path, sizeof(path), "/run/udev/data/c%u:%u", major(st->st_rdev), minor(st->st_rdev));
	f = fopen(path, "re");
	if (f) {
		while (fgets(line, sizeof(line), f))
			if (!strcmp(line, "E:ID_MM_DEVICE_IGNORE=1\n"))
				ignored = true;
		fclose(f);
	}
	if (!ignored)
		log_err("%s: ModemManager is running and udev does not tell it to ignore this port: "
		        "it may send its own AT commands (docs/modemmanager.md)", dev);
}

int port_lock_take(const char *dev, struct port_lock *pl)
{
	char real[PATH_MAX];
	struct stat st;
	pid_t holder;

	pl->lock_file[0] = '\0';
	if (!realpath(dev, real) || stat(real, &st) < 0) {
		/* the modem layer reports a missing device in its own words */
		return 0;
	}
	if (!S_ISCHR(st.st_mode))
		return 0;
	if (take_lock_file(dev, real, pl) < 0)
		return -1;
	holder = find_holder(&st);
	if (holder) {
		say_held(dev, holder, "it has the port open");
		port_lock_release(pl);
		return -1;
	}
	warn_modemmanager(dev, &st);
	return 0;
}

/* The PID of an flock on the device's inode, from /proc/locks, or 0. */
static pid_t flock_holder(const struct stat *st)
{
	FILE *f = fopen("/proc/locks", "re");
	char line[256], want[64];
	pid_t pid = 0;

	if (!f)
		return 0;
	snprintf(want, sizeof(want), "%02x:%02x:%lu", major(st->st_dev), minor(st->st_dev),
	         (unsigned long)st->st_ino);
	while (!pid && fgets(line, sizeof(line), f)) {
		char type[16], id[64];
		int p;

		if (sscanf(line, "%*s %15s %*s %*s %d %63s", type, &p, id) == 3 && !strcmp(type, "FLOCK") &&
		    !strcmp(id, want) && p != getpid())
			pid = p;
	}
	fclose(f);
	return pid;
}

static int port_lock_fd(int fd, const char *dev)
{
	struct stat st;

	if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode))
		return 0;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		pid_t pid = errno == EWOULDBLOCK ? flock_holder(&st) : 0;

		if (pid) {
			say_held(dev, pid, "flock");
			return -1;
		}
		log_err("%s: flock: %s", dev, strerror(errno));
		return -1;
	}
	if (!is_pty(st.st_rdev) && ioctl(fd, TIOCEXCL) < 0)
		log_info("%s: TIOCEXCL: %s", dev, strerror(errno));
	return 0;
}

int port_lock_fds(const char *dev)
{
	struct stat want;
	DIR *d;
	struct dirent *e;
	int rc = 0;

	if (stat(dev, &want) < 0 || !S_ISCHR(want.st_mode))
		return 0;
	d = opendir("/proc/self/fd");
	if (!d)
		return 0;
	while (rc == 0 && (e = readdir(d))) {
		struct stat st;
		int fd = atoi(e->d_name);

		if (e->d_name[0] == '.' || fd == dirfd(d))
			continue;
		if (fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == want.st_rdev)
			rc = port_lock_fd(fd, dev);
	}
	closedir(d);
	return rc;
}

void port_lock_release(struct port_lock *pl)
{
	if (pl->lock_file[0] && read_lock_pid(pl->lock_file) == getpid())
		unlink(pl->lock_file);
	pl->lock_file[0] = '\0';
}

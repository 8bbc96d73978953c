#include "sim_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"


/* The simulator beside our own binary (installed layout and build tree),
 * else the bare name for execvp's $PATH search. */
static void find_sim(const struct atb_config *c, const char *self, char *out, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n;

	if (c->sim_path[0]) {
		snprintf(out, len, "%s", c->sim_path);
		return;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		char *slash;

		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			if ((size_t)snprintf(out, len, "%.*s/atbridge-sim", (int)(len - 16), exe) < len &&
			    access(out, X_OK) == 0)
				return;
		}
	}
	(void)self;
	snprintf(out, len, "atbridge-sim");
}

/* A --hosts among the simulator's arguments: names come from that file
 * alone; without one the simulator asks the host's resolver. */
static bool has_hosts(const struct atb_config *c)
{
	for (unsigned i = 0; i < c->n_sim_args; i++)
		if (strncmp(c->sim_args[i], "--hosts", 7) == 0 &&
		    (c->sim_args[i][7] == '\0' || c->sim_args[i][7] == '='))
			return true;
	return false;
}

static void child(const struct atb_config *c, const char *path, int outfd, unsigned fwmark)
{
	const char *argv[ATB_MAX_SIM_ARGS + 12];
	char baud[16], mark[16];
	unsigned n = 0;

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (c->sim_netns[0]) {
		char ns[128];
		int fd;

		snprintf(ns, sizeof(ns), "/run/netns/%s", c->sim_netns);
		fd = open(ns, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
			log_err("--sim-netns: cannot enter network namespace '%s': %s",
			        c->sim_netns, strerror(errno));
			_exit(127);
		}
		close(fd);
	}
	dup2(outfd, STDOUT_FILENO);
	close(outfd);
	snprintf(baud, sizeof(baud), "%u", c->baud);
	argv[n++] = path;
	argv[n++] = "--baud";
	argv[n++] = baud;
	if (strcmp(c->model, "auto")) { /* the simulator's models have the registry's names */
		argv[n++] = "--model";
		argv[n++] = c->model;
	}
	if (fwmark) {
		snprintf(mark, sizeof(mark), "%u", fwmark);
		argv[n++] = "--fwmark";
		argv[n++] = mark;
	}
	if (!has_hosts(c))
		argv[n++] = "--host-resolver";
	for (unsigned i = 0; i < c->n_sim_args; i++)
		argv[n++] = c->sim_args[i];
	argv[n] = NULL;
	execvp(path, (char *const *)argv);
	log_err("cannot run the simulator '%s': %s", path, strerror(errno));
	_exit(127);
}

int sim_spawn(struct sim_proc *sp, const struct atb_config *c, const char *self, unsigned fwmark,
              char *pty, size_t pty_len)
{
	char path[PATH_MAX];
	int p[2];
	pid_t pid;
	size_t got = 0;

	sp->pid = -1;
	sp->out_fd = -1;
	find_sim(c, self, path, sizeof(path));
	if (pipe2(p, O_CLOEXEC) < 0) {
		log_err("pipe: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		log_err("fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		child(c, path, p[1], fwmark);
	}
	close(p[1]);
	while (got + 1 < pty_len) {
		struct pollfd pfd = {.fd = p[0], .events = POLLIN};
		ssize_t r;

		if (poll(&pfd, 1, 10000) <= 0)
			break;
		r = read(p[0], pty + got, 1);
		if (r <= 0)
			break;
		if (pty[got] == '\n')
			break;
		got += (size_t)r;
	}
	pty[got] = '\0';
	/* Kept open so that a later line from the simulator cannot kill it
	 * with SIGPIPE; closed in sim_stop(). */
	sp->out_fd = p[0];
	sp->pid = pid;
	if (got == 0 || pty[0] != '/') {
		log_err("the simulator '%s' did not print its pty path", path);
		sim_stop(sp);
		return -1;
	}
	return 0;
}

void sim_stop(struct sim_proc *sp)
{
	pid_t pid = sp->pid;

	if (sp->out_fd >= 0)
		close(sp->out_fd);
	sp->out_fd = -1;
	sp->pid = -1;
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (int i = 0; i < 50; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return;
		usleep(20000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

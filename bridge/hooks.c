/* Hooks: a helper process, forked while atbridge still has its privileges,
 * runs the configured programs when the data link changes.
 *
 *   daemon --"up\nlink-up\nATB_...=...\n"--> helper --fork/exec--> up-script, up.d/ entries
 *          <-- (nothing: the helper logs to the shared stderr itself)
 *
 * The daemon never waits for a hook: it sends one datagram and goes on.
 * The helper runs one program at a time, each in its own process group,
 * killed (SIGTERM, then SIGKILL a second later) when it outlives
 * hook-timeout-s; every output line and the exit status are logged. The
 * helper keeps the down phase owed while the link is up: it runs it at a
 * clean stop (reason "stop") and also when the daemon dies without one
 * (its socket closes: reason "crash"), so DNS set up is always undone. */
#include "hooks.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define MSG_MAX 2048
#define ENV_MAX 16


/* ---- the helper ------------------------------------------------------- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One output line of a hook, control bytes shown as '?'. */
static void log_line(const char *label, char *line)
{
	for (char *p = line; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	log_info("hook %s: %s", label, line);
}

static void log_output(const char *label, char *buf, size_t *len, bool flush)
{
	char *nl;

	while ((nl = memchr(buf, '\n', *len))) {
		*nl = '\0';
		log_line(label, buf);
		*len -= (size_t)(nl + 1 - buf);
		memmove(buf, nl + 1, *len);
	}
	if (flush || *len >= 255) { /* an endless line is logged in pieces */
		if (*len) {
			buf[*len] = '\0';
			log_line(label, buf);
		}
		*len = 0;
	}
}

static void exec_child(char *const argv[], char *const envp[], int in, int out)
{
	sigset_t none;

	setsid(); /* its own group: a timeout kills what it started too */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	dup2(in, STDIN_FILENO);
	dup2(out, STDOUT_FILENO);
	dup2(out, STDERR_FILENO);
	for (char *const *e = envp; *e; e++)
		if (!strncmp(*e, "PATH=", 5))
			setenv("PATH", *e + 5, 1); /* execvpe searches the caller's PATH */
	execvpe(argv[0], argv, envp);
	dprintf(STDERR_FILENO, "cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* Runs one program to its end or its time limit; logs its output and its
 * result. Returns its exit status, or -1. */
static int run_one(unsigned timeout_s, const char *label, char *const argv[], char *const envp[],
                   const char *input)
{
	int out[2], in[2];
	char buf[512];
	size_t len = 0;
	double deadline = now_s() + timeout_s, kill_at = 0;
	int status = 0;
	bool reaped = false, timed_out = false;
	pid_t pid;

	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(in, O_CLOEXEC) < 0) {
		log_err("hook %s: pipe: %s", label, strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid == 0)
		exec_child(argv, envp, in[0], out[1]);
	close(out[1]);
	close(in[0]);
	if (pid < 0) {
		log_err("hook %s: fork: %s", label, strerror(errno));
		close(out[0]);
		close(in[1]);
		return -1;
	}
	if (input && write(in[1], input, strlen(input)) < 0)
		log_err("hook %s: writing its input: %s", label, strerror(errno));
	close(in[1]);
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	while (!reaped) {
		struct pollfd p = {.fd = out[0], .events = POLLIN};
		ssize_t n;

		poll(&p, 1, 100);
		while ((n = read(out[0], buf + len, sizeof(buf) - 1 - len)) > 0) {
			len += (size_t)n;
			log_output(label, buf, &len, false);
		}
		if (waitpid(pid, &status, WNOHANG) == pid)
			reaped = true;
		else if (!timed_out && now_s() > deadline) {
			timed_out = true;
			kill(-pid, SIGTERM);
			kill_at = now_s() + 1;
		} else if (timed_out && kill_at && now_s() > kill_at) {
			kill(-pid, SIGKILL);
			kill_at = 0;
		}
	}
	log_output(label, buf, &len, true);
	close(out[0]);
	if (timed_out) {
		log_err("hook %s: still running after %u s: killed", label, timeout_s);
		return -1;
	}
	if (WIFSIGNALED(status)) {
		log_err("hook %s: killed by signal %d", label, WTERMSIG(status));
		return -1;
	}
	if (WEXITSTATUS(status) != 0)
		log_err("hook %s: exited with status %d", label, WEXITSTATUS(status));
	else
		log_info("hook %s: done", label);
	return WEXITSTATUS(status);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* run-parts' rule: names of letters, digits, '_' and '-' only (no editor
 * backups, no .dpkg-old), regular executable files, in C-locale order. */
static bool part_name_ok(const char *n)
{
	if (!*n)
		return false;
	for (; *n; n++)
		if (!isalnum((unsigned char)*n) && *n != '_' && *n != '-')
			return false;
	return true;
}

static void run_parts(unsigned timeout_s, const char *dir, const char *sub, char *const envp[],
                      const char *phase)
{
	char path[512], *names[64];
	size_t n = 0;
	DIR *d;
	struct dirent *e;

	if (!dir[0] || snprintf(path, sizeof(path), "%s/%s", dir, sub) >= (int)sizeof(path))
		return;
	d = opendir(path);
	if (!d)
		return;
	while ((e = readdir(d)) && n < 64) {
		char file[768];
		struct stat st;

		if (!part_name_ok(e->d_name))
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
		if (stat(file, &st) == 0 && S_ISREG(st.st_mode) && access(file, X_OK) == 0)
			names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), by_name);
	for (size_t i = 0; i < n; i++) {
		char file[768], label[300];

		if (!names[i])
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, names[i]);
		snprintf(label, sizeof(label), "%s/%s", sub, names[i]);
		run_one(timeout_s, label, (char *const[]){file, (char *)phase, NULL}, envp, NULL);
		free(names[i]);
	}
}

static void run_script(unsigned timeout_s, const char *path, const char *label, char *const envp[],
                       const char *phase)
{
	if (path[0])
		run_one(timeout_s, label, (char *const[]){(char *)path, (char *)phase, NULL}, envp, NULL);
}

/* The value of KEY in envp, or "". */
static const char *env_get(char *const envp[], const char *key)
{
	size_t n = strlen(key);

	for (; *envp; envp++)
		if (!strncmp(*envp, key, n) && (*envp)[n] == '=')
			return *envp + n + 1;
	return "";
}

static void dns_apply(const struct atb_config *c, char *const envp[], bool up)
{
	char *tun = (char *)env_get(envp, "ATB_INTERFACE"), *dns = (char *)env_get(envp, "ATB_DNS");
	char input[64];

	switch (c->dns_setup) {
	case ATB_DNS_SETUP_RESOLVCONF:
		snprintf(input, sizeof(input), "nameserver %s\n", dns);
		if (up)
			run_one(c->hook_timeout_s, "dns-setup", (char *const[]){"resolvconf", "-a", tun, NULL}, envp, input);
		else
			run_one(c->hook_timeout_s, "dns-setup", (char *const[]){"resolvconf", "-d", tun, "-f", NULL}, envp, NULL);
		break;
	case ATB_DNS_SETUP_RESOLVED:
		if (up) {
			run_one(c->hook_timeout_s, "dns-setup", (char *const[]){"resolvectl", "dns", tun, dns, NULL}, envp, NULL);
			run_one(c->hook_timeout_s, "dns-setup", (char *const[]){"resolvectl", "domain", tun, "~.", NULL}, envp, NULL);
		} else {
			run_one(c->hook_timeout_s, "dns-setup", (char *const[]){"resolvectl", "revert", tun, NULL}, envp, NULL);
		}
		break;
	default:
		break;
	}
}

static void run_phase(const struct atb_config *c, bool up, char *const envp[])
{
	const char *phase = up ? "up" : "down";

	log_info("hooks: %s (%s)", phase, env_get(envp, "ATB_REASON"));
	if (up) {
		dns_apply(c, envp, true);
		run_script(c->hook_timeout_s, c->up_script, "up-script", envp, phase);
		run_parts(c->hook_timeout_s, c->hook_dir, "up.d", envp, phase);
	} else {
		run_parts(c->hook_timeout_s, c->hook_dir, "down.d", envp, phase);
		run_script(c->hook_timeout_s, c->down_script, "down-script", envp, phase);
		dns_apply(c, envp, false);
	}
}

/* Splits a message "PHASE\nKEY=VALUE\n..." into the phase and envp
 * (pointers into msg). */
static const char *parse_msg(char *msg, char *envp[], size_t max)
{
	char *save, *phase = strtok_r(msg, "\n", &save);
	size_t n = 0;

	for (char *l = strtok_r(NULL, "\n", &save); l && n + 1 < max; l = strtok_r(NULL, "\n", &save))
		envp[n++] = l;
	envp[n] = NULL;
	return phase ? phase : "";
}

/* The environment of the last up phase, as a down phase for reason. */
static void down_env(char *last, char *envp[], size_t max, char *reason, size_t rlen, const char *why)
{
	static char phase_down[] = "ATB_PHASE=down";
	char *all[ENV_MAX + 4];
	size_t n = 0;

	parse_msg(last, all, ENV_MAX + 2);
	for (char **e = all; *e && n + 3 < max; e++)
		if (strncmp(*e, "ATB_REASON=", 11) && strncmp(*e, "ATB_PHASE=", 10))
			envp[n++] = *e;
	snprintf(reason, rlen, "ATB_REASON=%s", why);
	envp[n++] = reason;
	envp[n++] = phase_down;
	envp[n] = NULL;
}

static void helper_main(const struct atb_config *c, int fd)
{
	static char msg[MSG_MAX + 1], last[MSG_MAX + 1], reason[64];
	char *envp[ENV_MAX + 4];
	bool up = false;

	signal(SIGTERM, SIG_IGN); /* a stop signal to the whole group: the down phase still runs */
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	if (c->dns_setup == ATB_DNS_SETUP_RESOLVCONF) {
		/* an entry left by a run that could not undo it (power loss) */
		char *env0[] = {(char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
		const char *path = getenv("PATH");
		char pathvar[1024];

		if (path) {
			snprintf(pathvar, sizeof(pathvar), "PATH=%s", path);
			env0[0] = pathvar;
		}
		run_one(c->hook_timeout_s, "dns-setup", (char *const[]){(char *)"resolvconf", (char *)"-d", (char *)c->tun_name,
		                                     (char *)"-f", NULL}, env0, NULL);
	}
	for (;;) {
		ssize_t n = recv(fd, msg, MSG_MAX, 0);
		const char *phase;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || !strncmp(msg, "stop", 4)) {
			if (up) { /* the down phase owed, told as the last up was */
				down_env(last, envp, ENV_MAX + 4, reason, sizeof(reason), n <= 0 ? "crash" : "stop");
				run_phase(c, false, envp);
			}
			_exit(0);
		}
		msg[n] = '\0';
		memcpy(last, msg, (size_t)n + 1);
		phase = parse_msg(msg, envp, ENV_MAX + 2);
		if (!strcmp(phase, "up") && !up) {
			up = true;
			run_phase(c, true, envp);
		} else if (!strcmp(phase, "down") && up) {
			up = false;
			run_phase(c, false, envp);
		}
		if (!up)
			last[0] = '\0';
	}
}

/* ---- the daemon's side ------------------------------------------------ */

static bool dir_has(const char *dir, const char *sub)
{
	char path[512];
	struct stat st;

	return dir[0] && snprintf(path, sizeof(path), "%s/%s", dir, sub) < (int)sizeof(path) &&
	       stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int hooks_start(struct hooks *h, const struct atb_config *c)
{
	int sv[2];
	pid_t pid;

	h->fd = -1;
	h->pid = -1;
	if (!c->up_script[0] && !c->down_script[0] && c->dns_setup == ATB_DNS_SETUP_NONE &&
	    !dir_has(c->hook_dir, "up.d") && !dir_has(c->hook_dir, "down.d"))
		return 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		log_err("hooks: socketpair: %s", strerror(errno));
		return -1;
	}
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		log_err("hooks: fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		close(sv[0]);
		helper_main(c, sv[1]);
	}
	close(sv[1]);
	h->fd = sv[0];
	h->pid = pid;
	log_info("hooks: helper PID %d runs%s%s%s%s%s", (int)pid, c->up_script[0] ? " up-script" : "",
	         c->down_script[0] ? " down-script" : "", c->hook_dir[0] ? " " : "", c->hook_dir,
	         c->hook_dir[0] ? "/{up,down}.d" : "");
	return 0;
}

/* KEY=value with control bytes and anything past 200 bytes (PATH: 1024)
 * dropped: the values come from the module (its model) and must not forge
 * lines. */
static void put_env(char *msg, size_t *len, const char *key, const char *v)
{
	char clean[1025];
	size_t n = 0, max = strcmp(key, "PATH") ? 200 : 1024;

	for (; v && *v && n < max; v++)
		clean[n++] = (unsigned char)*v < 0x20 || *v == 0x7f ? '?' : *v;
	clean[n] = '\0';
	if (*len < MSG_MAX)
		*len += (size_t)snprintf(msg + *len, MSG_MAX - *len, "%s=%s\n", key, clean);
	if (*len > MSG_MAX)
		*len = MSG_MAX;
}

void hooks_link(const struct hooks *h, bool up, const char *reason, const struct hooks_env *e)
{
	char msg[MSG_MAX + 1];
	size_t len = 0;
	const char *path = getenv("PATH");

	if (h->fd < 0)
		return;
	len = (size_t)snprintf(msg, sizeof(msg), "%s\n", up ? "up" : "down");
	put_env(msg, &len, "PATH", path && *path ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
	put_env(msg, &len, "ATB_PHASE", up ? "up" : "down");
	put_env(msg, &len, "ATB_REASON", reason);
	put_env(msg, &len, "ATB_INTERFACE", e->interface);
	put_env(msg, &len, "ATB_NETNS", e->netns);
	put_env(msg, &len, "ATB_LOCAL_ADDRESS", e->local_ip);
	put_env(msg, &len, "ATB_TUN_ADDRESS", e->tun_address);
	put_env(msg, &len, "ATB_DNS", e->dns);
	put_env(msg, &len, "ATB_MODEL", e->model);
	put_env(msg, &len, "ATB_LINK_MODE", e->link_mode);
	put_env(msg, &len, "ATB_DEVICE", e->device);
	if (send(h->fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_err("hooks: cannot reach the helper: %s", strerror(errno));
}

void hooks_stop(struct hooks *h)
{
	if (h->fd < 0)
		return;
	if (send(h->fd, "stop", 4, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_debug("hooks: stop: %s", strerror(errno));
	close(h->fd);
	h->fd = -1;
	/* The down phase may take a while; not longer than systemd's
	 * TimeoutStopSec (20 s) leaves room for. */
	for (int i = 0; i < 150; i++) {
		pid_t r = waitpid(h->pid, NULL, WNOHANG);

		if (r == h->pid || (r < 0 && errno == ECHILD)) {
			h->pid = -1;
			return;
		}
		usleep(100000);
	}
	log_err("hooks: the down phase still runs after 15 s; atbridge exits without waiting for it");
}

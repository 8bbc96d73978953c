/* PPP data mode: after ATD*99# (or AT+CGDATA="PPP",1) the module answers
 * CONNECT and the line carries PPP frames. The simulator does not speak PPP
 * itself: it spawns a program (--ppp-cmd, by default a pppd) on a second
 * pseudo-terminal and carries bytes both ways between that program and the
 * paced line, with --latency-ms between them (the cellular network). When
 * the program exits the module writes NO CARRIER and is in command mode. */
#include "sim.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define PPP_TOPROG_CAP 16384   /* bytes from the line not yet at the program */
#define PPP_OUT_LIMIT 4096     /* line output queued before we stop reading */
#define PPP_POLL 0.002

const char *sim_ppp_default_cmd =
	"exec pppd nodetach noauth local nocrtscts nodefaultroute noccp "
	"10.64.64.1:10.64.64.2";

static struct {
	bool online;
	int master;
	pid_t pid;
	ev_io rio, wio;
	ev_child cw;
	ev_timer poll;
	bool init;
	struct sim_buf to_prog;     /* due for the program, not yet written */
	size_t inflight_to_prog;    /* in the latency queue toward the program */
	size_t inflight_to_line;    /* in the latency queue toward the line */
	unsigned gen;               /* a session's delayed bytes die with it */
	void (*on_end)(void);
} P;

bool sim_ppp_online(void)
{
	return P.online;
}

static void end_session(const char *why)
{
	if (!P.online)
		return;
	sim_logv("ppp: session ends (%s)", why);
	P.online = false;
	P.gen++;
	ev_io_stop(S.loop, &P.rio);
	ev_io_stop(S.loop, &P.wio);
	ev_timer_stop(S.loop, &P.poll);
	if (P.master >= 0)
		close(P.master);
	P.master = -1;
	if (P.pid > 0)
		kill(P.pid, SIGTERM); /* reaped by the child watcher */
	P.to_prog.len = 0;
	P.inflight_to_prog = P.inflight_to_line = 0;
	sim_outs(AT.v1 ? "\r\nNO CARRIER\r\n" : "3\r");
	if (P.on_end)
		P.on_end();
	sim_kick();
}

static void write_prog(void)
{
	while (P.online && P.to_prog.len) {
		ssize_t w = write(P.master, P.to_prog.data, P.to_prog.len);
		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR) {
				ev_io_start(S.loop, &P.wio);
				return;
			}
			if (errno == EIO)
				return; /* the program has closed its side: the child watcher ends it */
			end_session("write error");
			return;
		}
		sim_buf_consume(&P.to_prog, (size_t)w);
	}
	ev_io_stop(S.loop, &P.wio);
	sim_kick(); /* room again: take more from the line */
}

struct ppp_gen_tag { unsigned gen; };

static void delayed_to_prog(struct sim_link *l, const void *data, size_t n)
{
	(void)l;
	struct ppp_gen_tag t;
	memcpy(&t, data, sizeof t);
	if (t.gen != P.gen || !P.online)
		return;
	P.inflight_to_prog -= n - sizeof t;
	sim_buf_add(&P.to_prog, (const unsigned char *)data + sizeof t, n - sizeof t);
	write_prog();
}

static void delayed_to_line(struct sim_link *l, const void *data, size_t n)
{
	(void)l;
	struct ppp_gen_tag t;
	memcpy(&t, data, sizeof t);
	if (t.gen != P.gen || !P.online)
		return;
	P.inflight_to_line -= n - sizeof t;
	sim_out((const unsigned char *)data + sizeof t, n - sizeof t);
}

/* sends n bytes toward fn after --latency-ms, tagged with the session */
static void delay_tagged(sim_delay_fn fn, const void *p, size_t n)
{
	unsigned char tmp[sizeof(struct ppp_gen_tag) + 4096];
	struct ppp_gen_tag t = { P.gen };
	memcpy(tmp, &t, sizeof t);
	memcpy(tmp + sizeof t, p, n);
	sim_delay(S.o.latency_ms / 1000.0, fn, NULL, tmp, sizeof t + n);
}

void sim_ppp_feed(void)
{
	while (P.online && S.in.len) {
		size_t room = PPP_TOPROG_CAP - (P.to_prog.len + P.inflight_to_prog);
		if (P.to_prog.len + P.inflight_to_prog >= PPP_TOPROG_CAP)
			return; /* the line backs up until the program reads */
		size_t n = S.in.len < room ? S.in.len : room;
		if (n > 4096)
			n = 4096;
		if (S.o.latency_ms > 0) {
			P.inflight_to_prog += n;
			delay_tagged(delayed_to_prog, S.in.data, n);
			sim_buf_consume(&S.in, n);
		} else {
			sim_buf_add(&P.to_prog, S.in.data, n);
			sim_buf_consume(&S.in, n);
			write_prog();
		}
	}
}

static bool line_full(void)
{
	return S.out.len + P.inflight_to_line >= PPP_OUT_LIMIT;
}

static void rio_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop, (void)w, (void)revents;
	if (line_full()) {
		/* the paced line is behind: let the program's pty fill up */
		ev_io_stop(S.loop, &P.rio);
		ev_timer_start(S.loop, &P.poll);
		return;
	}
	unsigned char tmp[4096];
	size_t max = PPP_OUT_LIMIT - (S.out.len + P.inflight_to_line);
	if (max > sizeof tmp)
		max = sizeof tmp;
	ssize_t r = read(P.master, tmp, max);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		/* EIO: the program closed the tty; wait for it to exit */
		ev_io_stop(S.loop, &P.rio);
		return;
	}
	if (S.o.latency_ms > 0) {
		P.inflight_to_line += (size_t)r;
		delay_tagged(delayed_to_line, tmp, (size_t)r);
	} else {
		sim_out(tmp, (size_t)r);
	}
}

static void wio_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop, (void)w, (void)revents;
	write_prog();
}

static void poll_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)w, (void)revents;
	if (!P.online || line_full())
		return; /* repeating timer: look again */
	ev_timer_stop(S.loop, &P.poll);
	ev_io_start(S.loop, &P.rio);
}

static void child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	(void)loop, (void)revents;
	ev_child_stop(S.loop, w);
	if (w->rpid == P.pid) {
		P.pid = 0;
		sim_logv("ppp: program exited (status %d)", w->rstatus);
		end_session("program exited");
	}
}

bool sim_ppp_start(void (*on_end)(void))
{
	if (!P.init) {
		ev_io_init(&P.rio, rio_cb, -1, EV_READ);
		ev_io_init(&P.wio, wio_cb, -1, EV_WRITE);
		ev_timer_init(&P.poll, poll_cb, PPP_POLL, PPP_POLL);
		P.master = -1;
		P.init = true;
	}
	if (P.online)
		return false;
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) || unlockpt(m) || !ptsname(m)) {
		if (m >= 0)
			close(m);
		return false;
	}
	char slave[256];
	snprintf(slave, sizeof slave, "%s", ptsname(m));
	struct termios t;
	if (tcgetattr(m, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(m, TCSANOW, &t);
	}
	const char *cmd = S.o.ppp_cmd ? S.o.ppp_cmd : sim_ppp_default_cmd;
	pid_t pid = fork();
	if (pid < 0) {
		close(m);
		return false;
	}
	if (pid == 0) {
		/* the program's controlling terminal and stdin/stdout are the slave */
		setsid();
		int s = open(slave, O_RDWR);
		if (s < 0)
			_exit(127);
		struct termios st;
		if (tcgetattr(s, &st) == 0) {
			cfmakeraw(&st);
			tcsetattr(s, TCSANOW, &st);
		}
		dup2(s, 0);
		dup2(s, 1);
		if (s > 1)
			close(s);
		setenv("SIM_PPP_TTY", slave, 1);
		signal(SIGPIPE, SIG_DFL);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	fcntl(m, F_SETFL, fcntl(m, F_GETFL) | O_NONBLOCK);
	fcntl(m, F_SETFD, FD_CLOEXEC);
	P.master = m;
	P.pid = pid;
	P.online = true;
	P.on_end = on_end;
	P.to_prog.len = 0;
	P.inflight_to_prog = P.inflight_to_line = 0;
	ev_io_set(&P.rio, m, EV_READ);
	ev_io_set(&P.wio, m, EV_WRITE);
	ev_io_start(S.loop, &P.rio);
	ev_child_init(&P.cw, child_cb, pid, 0);
	ev_child_start(S.loop, &P.cw);
	sim_logv("ppp: %s on %s (pid %d)", cmd, slave, (int)pid);
	return true;
}

/* simulator shutdown or module reset: the program is told to stop */
void sim_ppp_stop(void)
{
	if (!P.init)
		return;
	if (P.online) {
		P.on_end = NULL;
		end_session("stopped");
	}
	if (P.pid > 0) {
		kill(P.pid, SIGTERM);
		for (int i = 0; i < 50 && waitpid(P.pid, NULL, WNOHANG) == 0; i++)
			usleep(20000);
		P.pid = 0;
	}
	ev_child_stop(S.loop, &P.cw);
	sim_buf_free(&P.to_prog);
}

/* the dial commands of both models: ATD*99# (any ATD*99...#) and
 * AT+CGDATA="PPP"[,cid] */
bool sim_ppp_dial_string(const char *rest)
{
	return strncmp(rest, "*99", 3) == 0 && rest[strlen(rest) - 1] == '#';
}

void sim_ppp_dial(void (*on_end)(void))
{
	if (!sim_ppp_start(on_end)) {
		at_info(AT.v1 ? "NO CARRIER" : "3");
		return;
	}
	at_raw(AT.v1 ? "\r\nCONNECT\r\n" : "1\r", AT.v1 ? 11 : 2);
}

void sim_ppp_cgdata(const struct at_cmd *c, void (*on_end)(void))
{
	if (c->type == AT_TEST) {
		at_info("+CGDATA: (\"PPP\")");
		at_ok();
		return;
	}
	long cid = 1;
	if (c->type != AT_WRITE || c->na < 1 || c->na > 2 || strcasecmp(c->a[0].s, "PPP") != 0 ||
	    (c->na == 2 && !at_int(&c->a[1], 1, 24, &cid))) {
		at_error(50);
		return;
	}
	sim_ppp_dial(on_end);
}

/* The simulated serial line: a pseudo-terminal master with optional baud
 * pacing (token bucket, both directions), output chunk jitter, the hold-back
 * of notifications while a command runs, and the command log. */
#include "sim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define IN_CAP 16384          /* unconsumed client bytes before we stop reading */
#define OUT_CAP (8u << 20)    /* output queue bound (client not reading) */
#define PACE_TICK 0.004
#define RACE_HOLD 0.02
#define JITTER_MAX_PIECE 64
#define CMDLOG_CAP (8u << 20) /* stats "log": long e2e runs stay whole */

static FILE *logf;

static void raw_mode(int fd)
{
	struct termios t;
	if (tcgetattr(fd, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(fd, TCSANOW, &t);
	}
}

static double rate(void)
{
	return S.o.baud / 10.0;
}

static void update_read_watch(void)
{
	bool want = S.in.len < IN_CAP && !ev_is_active(&S.eio_retry);
	if (S.o.baud > 0 && S.in_tokens < 1.0)
		want = false;
	if (want && !S.mrio_on) {
		ev_io_start(S.loop, &S.mrio);
		S.mrio_on = true;
	} else if (!want && S.mrio_on) {
		ev_io_stop(S.loop, &S.mrio);
		S.mrio_on = false;
	}
}

static void eio_backoff(void)
{
	if (S.mrio_on) {
		ev_io_stop(S.loop, &S.mrio);
		S.mrio_on = false;
	}
	if (S.mwio_on) {
		ev_io_stop(S.loop, &S.mwio);
		S.mwio_on = false;
	}
	if (!ev_is_active(&S.eio_retry)) {
		ev_timer_set(&S.eio_retry, 0.1, 0.);
		ev_timer_start(S.loop, &S.eio_retry);
	}
}

void sim_serial_pump(void)
{
	if (S.stalled || S.jitter_hold || ev_is_active(&S.eio_retry))
		return;
	while (S.out.len) {
		size_t n = S.out.len;
		if (S.o.baud > 0) {
			if (S.out_tokens < 1.0)
				return; /* the pace timer calls us again */
			if (n > (size_t)S.out_tokens)
				n = (size_t)S.out_tokens;
		}
		if (S.o.chunk_jitter) {
			size_t j = 1 + sim_rand() % JITTER_MAX_PIECE;
			if (n > j)
				n = j;
		}
		ssize_t w = write(S.master, S.out.data, n);
		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR) {
				if (!S.mwio_on) {
					ev_io_start(S.loop, &S.mwio);
					S.mwio_on = true;
				}
			} else if (errno == EIO) {
				eio_backoff();
			}
			return;
		}
		S.bytes_out += (uint64_t)w;
		if (S.o.baud > 0)
			S.out_tokens -= (double)w;
		sim_buf_consume(&S.out, (size_t)w);
		if (S.o.chunk_jitter && S.out.len && (sim_rand() & 1)) {
			/* every other piece (on average) waits 0-2 ms */
			S.jitter_hold = true;
			ev_timer_set(&S.jitter_wait, (sim_rand() % 2001) / 1e6, 0.);
			ev_timer_start(S.loop, &S.jitter_wait);
			return;
		}
	}
	if (S.mwio_on) {
		ev_io_stop(S.loop, &S.mwio);
		S.mwio_on = false;
	}
}

void sim_out_now(const void *p, size_t n)
{
	if (S.out.len + n > OUT_CAP) {
		sim_logv("output queue full, %zu bytes dropped", n);
		return;
	}
	sim_buf_add(&S.out, p, n);
	sim_serial_pump();
}

void sim_out(const void *p, size_t n)
{
	if (S.late_hold) {
		/* a held answer comes first: a CONNECT or data that the command
		 * caused meanwhile must not overtake it */
		sim_buf_add(&S.lateafter, p, n);
		return;
	}
	sim_out_now(p, n);
}

void sim_outs(const char *s)
{
	sim_out(s, strlen(s));
}

static bool coin(void)
{
	return sim_rand() & 1;
}

void sim_urc(const void *p, size_t n, bool droppable)
{
	if (S.rebooting)
		return;
	if (droppable && S.drop_urc > 0) {
		S.drop_urc--;
		sim_logv("notification dropped: %.*s", (int)n, (const char *)p);
		return;
	}
	if (S.cmd_open) {
		/* caused by or concurrent with the running command: after its result */
		sim_buf_add(&S.urcq, p, n);
	} else if (S.o.urc_race && !S.cmd_open && (S.raceq.len || coin())) {
		/* hold it briefly: the next command gets it between echo and result */
		sim_buf_add(&S.raceq, p, n);
		if (!ev_is_active(&S.race_release)) {
			ev_timer_set(&S.race_release, RACE_HOLD, 0.);
			ev_timer_start(S.loop, &S.race_release);
		}
	} else {
		sim_out(p, n);
	}
}

static void race_flush(void)
{
	ev_timer_stop(S.loop, &S.race_release);
	if (S.raceq.len) {
		sim_out(S.raceq.data, S.raceq.len);
		S.raceq.len = 0;
	}
}

static void race_release_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)w, (void)revents;
	if (S.out.len) {
		/* the client has not even seen the last result: keep holding */
		ev_timer_set(&S.race_release, RACE_HOLD, 0.);
		ev_timer_start(S.loop, &S.race_release);
		return;
	}
	race_flush();
}

void sim_urcs(const char *s, bool droppable)
{
	sim_urc(s, strlen(s), droppable);
}

void sim_cmd_begin(void)
{
	S.cmd_open = true;
	if (S.late_pending) {
		S.late_pending = false;
		S.late_cmd = true;
	}
	race_flush(); /* the echo is out: held notifications land before the result */
}

bool sim_feed_ok(void)
{
	return !S.busy && !S.stalled && !S.rebooting && !S.late_hold;
}

/* ---- reply faults: late, dup, stray ----
 * They act on whole answers here, below both models, so that every command
 * of either model is subject to them in the same way. */
static void answer_out(const void *p, size_t n)
{
	if (n && S.dup > 0) {
		S.dup--;
		sim_out(p, n); /* the whole answer, then the whole answer again */
	}
	sim_out(p, n);
}

static void late_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)w, (void)revents;
	S.late_hold = false;
	if (S.late_end)
		answer_out(S.lateq.data, S.lateq.len);
	else
		sim_out(S.lateq.data, S.lateq.len); /* a prompt */
	S.lateq.len = 0;
	sim_out(S.lateafter.data, S.lateafter.len);
	S.lateafter.len = 0;
	if (S.late_end) {
		S.late_end = false;
		sim_cmd_end();
	} else {
		sim_kick(); /* the data phase may begin */
	}
}

/* Holds an answer for the late delay; the command stays open meanwhile, so
 * notifications queue behind it and no further input is consumed. */
static void hold(const void *p, size_t n, bool final)
{
	S.late_cmd = false;
	S.late_hold = true;
	S.late_end = S.late_end || final;
	sim_buf_add(&S.lateq, p, n);
	if (!ev_is_active(&S.late_timer)) {
		ev_timer_init(&S.late_timer, late_cb, S.late_ms / 1000.0, 0.);
		ev_timer_start(S.loop, &S.late_timer);
	}
}

void sim_cmd_finish(const void *p, size_t n)
{
	if (S.late_cmd || S.late_hold) {
		hold(p, n, true);
		return;
	}
	answer_out(p, n);
	sim_cmd_end();
}

void sim_prompt(const char *p)
{
	if (S.late_cmd || S.late_hold)
		hold(p, strlen(p), false);
	else
		sim_outs(p);
}

/* A stray line goes out only between commands: no command open (from its
 * line to its final result, data phase included), nothing held, and the
 * line in command mode (not transparent or PPP data). */
void sim_stray_try(void)
{
	if (!S.stray.len || S.cmd_open || S.late_hold || S.stalled || S.rebooting ||
	    sim_trans_online() || sim_ppp_online())
		return;
	sim_out(S.stray.data, S.stray.len);
	S.stray.len = 0;
}

void sim_faults_clear(void)
{
	S.late_pending = S.late_cmd = S.late_hold = S.late_end = false;
	ev_timer_stop(S.loop, &S.late_timer);
	S.lateq.len = 0;
	S.lateafter.len = 0;
	S.dup = 0;
	S.stray.len = 0;
	S.wrong_link = 0;
}

void sim_count_payload(const struct sim_link *l, size_t n)
{
	S.payload_bytes += n;
	if (l && l->id >= 0 && l->id < SIM_LINKS)
		S.payload_link[l->id] += n;
}

void sim_cmd_end(void)
{
	S.cmd_open = false;
	S.busy = false;
	if (S.urcq.len) {
		if (S.o.urc_race && (S.raceq.len || coin())) {
			sim_buf_add(&S.raceq, S.urcq.data, S.urcq.len);
			if (!ev_is_active(&S.race_release)) {
				ev_timer_set(&S.race_release, RACE_HOLD, 0.);
				ev_timer_start(S.loop, &S.race_release);
			}
		} else {
			sim_out(S.urcq.data, S.urcq.len);
		}
		S.urcq.len = 0;
	}
	sim_stray_try();
	sim_kick();
}

void sim_kick(void)
{
	if (!ev_is_active(&S.kick)) {
		ev_timer_set(&S.kick, 0., 0.);
		ev_timer_start(S.loop, &S.kick);
	}
}

static void kick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)w, (void)revents;
	sim_stray_try();
	if (sim_feed_ok())
		S.model->feed();
	update_read_watch();
}

static void mread_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop, (void)w, (void)revents;
	unsigned char tmp[4096];
	size_t max = sizeof tmp;
	if (S.o.baud > 0 && max > (size_t)S.in_tokens)
		max = (size_t)S.in_tokens;
	if (max > IN_CAP - S.in.len)
		max = IN_CAP - S.in.len;
	if (max == 0) {
		update_read_watch();
		return;
	}
	ssize_t r = read(S.master, tmp, max);
	if (r <= 0) {
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		eio_backoff(); /* no client has the slave open (EIO) */
		return;
	}
	S.bytes_in += (uint64_t)r;
	if (S.o.baud > 0)
		S.in_tokens -= (double)r;
	if (S.rebooting) {
		update_read_watch();
		return; /* a module that is booting hears nothing */
	}
	sim_buf_add(&S.in, tmp, (size_t)r);
	if (sim_feed_ok())
		S.model->feed();
	update_read_watch();
}

static void mwrite_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop, (void)w, (void)revents;
	sim_serial_pump();
	/* the client caught up: pushed data need not wait for the push timer */
	if (!S.out.len && S.model->drained)
		S.model->drained();
}

static void eio_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)w, (void)revents;
	update_read_watch();
	sim_serial_pump();
}

static void jitter_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)w, (void)revents;
	S.jitter_hold = false;
	sim_serial_pump();
}

static void pace_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)w, (void)revents;
	double burst = rate() * 0.02;
	if (burst < 8)
		burst = 8;
	S.in_tokens += rate() * PACE_TICK;
	S.out_tokens += rate() * PACE_TICK;
	if (S.in_tokens > burst)
		S.in_tokens = burst;
	if (S.out_tokens > burst)
		S.out_tokens = burst;
	update_read_watch();
	sim_serial_pump();
}

bool sim_serial_open(void)
{
	S.master = posix_openpt(O_RDWR | O_NOCTTY);
	if (S.master < 0 || grantpt(S.master) || unlockpt(S.master)) {
		perror("atbridge-sim: posix_openpt");
		return false;
	}
	const char *p = ptsname(S.master);
	if (!p) {
		perror("atbridge-sim: ptsname");
		return false;
	}
	snprintf(S.slave_path, sizeof S.slave_path, "%s", p);
	/* Our own slave fd keeps the master from seeing EIO between clients. */
	S.slave_keep = open(S.slave_path, O_RDWR | O_NOCTTY);
	if (S.slave_keep < 0) {
		perror("atbridge-sim: open slave");
		return false;
	}
	raw_mode(S.slave_keep);
	raw_mode(S.master);
	fcntl(S.master, F_SETFL, fcntl(S.master, F_GETFL) | O_NONBLOCK);
	fcntl(S.master, F_SETFD, FD_CLOEXEC);
	fcntl(S.slave_keep, F_SETFD, FD_CLOEXEC);

	ev_io_init(&S.mrio, mread_cb, S.master, EV_READ);
	ev_io_init(&S.mwio, mwrite_cb, S.master, EV_WRITE);
	ev_timer_init(&S.eio_retry, eio_cb, 0.1, 0.);
	ev_timer_init(&S.kick, kick_cb, 0., 0.);
	ev_timer_init(&S.jitter_wait, jitter_cb, 0., 0.);
	ev_timer_init(&S.race_release, race_release_cb, RACE_HOLD, 0.);
	ev_timer_init(&S.late_timer, late_cb, 0., 0.);
	if (S.o.baud > 0) {
		S.in_tokens = S.out_tokens = 1;
		ev_timer_init(&S.pace, pace_cb, PACE_TICK, PACE_TICK);
		ev_timer_start(S.loop, &S.pace);
	}
	update_read_watch();
	return true;
}

bool sim_cmdlog_open(const char *path)
{
	logf = fopen(path, "a");
	if (!logf) {
		fprintf(stderr, "atbridge-sim: --log: cannot open '%s': %s\n", path, strerror(errno));
		return false;
	}
	return true;
}

void sim_serial_close(void)
{
	if (logf)
		fclose(logf);
	logf = NULL;
	close(S.master);
	close(S.slave_keep);
}

void sim_record_command(const char *line, size_t n)
{
	char name[24];
	size_t k = 0;
	while (k < n && k < sizeof name - 1 && line[k] != '=' && line[k] != '?')
		k++;
	if (k == 0)
		return;
	for (size_t i = 0; i < k; i++) {
		char c = line[i];
		name[i] = (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
		if ((unsigned char)name[i] < 0x20 || name[i] == '"' || name[i] == '\\')
			name[i] = '_';
	}
	name[k] = 0;
	int i;
	for (i = 0; i < S.ncounts; i++)
		if (strcmp(S.counts[i].name, name) == 0)
			break;
	if (i == S.ncounts && S.ncounts < (int)(sizeof S.counts / sizeof S.counts[0])) {
		snprintf(S.counts[i].name, sizeof S.counts[i].name, "%s", name);
		S.counts[i].n = 0;
		S.ncounts++;
	}
	if (i < S.ncounts)
		S.counts[i].n++;
	if (S.cmdlog.len + n + 1 <= CMDLOG_CAP) {
		sim_buf_add(&S.cmdlog, line, n);
		sim_buf_add(&S.cmdlog, "", 1);
	} else {
		S.log_dropped++;
	}
	if (logf) {
		fwrite(line, 1, n, logf);
		fputc('\n', logf);
		fflush(logf);
	}
	if (S.o.verbose)
		sim_logv("cmd: %.*s", (int)n, line);
}

void sim_count_error(void)
{
	S.errors++;
}

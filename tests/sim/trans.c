/* Transparent (data) mode: client bytes go to one link as they come, and
 * "+++" is an escape only with 1 s of silence before and after it and the
 * three '+' within 1 s of each other; otherwise the '+' are data. */
#include "sim.h"

#include <string.h>

#define GUARD 1.0

static struct {
	struct sim_link *l;
	bool online, esc;
	void (*on_escape)(void);
	double last_rx;
	int plus;
	ev_timer guard;
	bool init;
} T;

static void guard_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)w, (void)revents;
	if (!T.online || T.plus != 3)
		return;
	T.plus = 0;
	T.online = false;
	T.on_escape();
	sim_kick();
}

void sim_trans_start(struct sim_link *l, bool escape_enabled, void (*on_escape)(void))
{
	if (!T.init) {
		ev_timer_init(&T.guard, guard_cb, GUARD, 0.);
		T.init = true;
	}
	T.l = l;
	T.online = true;
	T.esc = escape_enabled;
	T.on_escape = on_escape;
	T.last_rx = sim_now();
	T.plus = 0;
}

void sim_trans_stop(void)
{
	T.online = false;
	T.plus = 0;
	if (T.init)
		ev_timer_stop(S.loop, &T.guard);
	sim_kick(); /* command mode again: a pending stray line may go out */
}

bool sim_trans_online(void)
{
	return T.online;
}

static void to_link(const void *p, size_t n)
{
	if (T.l->state == LINK_CONNECTED)
		sim_link_send(T.l, p, n, false);
}

void sim_trans_feed(void)
{
	while (S.in.len && T.online) {
		double now = sim_now();
		size_t n = 0;
		while (n < S.in.len && S.in.data[n] == '+' && T.esc &&
		       ((T.plus == 0 && n == 0 && now - T.last_rx >= GUARD) ||
			(T.plus > 0 && T.plus < 3))) {
			T.plus++;
			n++;
		}
		if (n) {
			sim_buf_consume(&S.in, n);
			T.last_rx = now;
			if (T.plus == 3) {
				ev_timer_stop(S.loop, &T.guard);
				ev_timer_set(&T.guard, GUARD, 0.);
				ev_timer_start(S.loop, &T.guard);
			}
			continue;
		}
		if (T.plus) {
			/* not an escape after all: the '+' were data */
			to_link("+++", (size_t)T.plus);
			T.plus = 0;
			ev_timer_stop(S.loop, &T.guard);
		}
		/* up to the next '+', so that an escape can still be judged */
		size_t take = S.in.len;
		unsigned char *plus = memchr(S.in.data, '+', S.in.len);
		if (plus)
			take = plus == S.in.data ? 1 : (size_t)(plus - S.in.data);
		size_t room = sim_link_tx_free(T.l);
		if (T.l->state == LINK_CONNECTED && take > room)
			take = room;
		if (take == 0)
			return; /* tx buffer full: the client backs up */
		to_link(S.in.data, take);
		sim_buf_consume(&S.in, take);
		T.last_rx = now;
	}
}

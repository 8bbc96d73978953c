#include "ping.h"

#include <ev.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "modem.h"

#define PINGS_MAX 8          /* requests waiting for the module at once */
#define RATE_PER_S 5.0       /* token bucket: module pings per second */
#define BURST 5.0
#define TIMEOUT_MS 2000

struct pending {
	bool used;
	int req;
	struct lwip_port_echo e;
	uint8_t data[LWIP_PORT_ECHO_MAX];
};

struct ping {
	struct ev_loop *loop;
	struct lwip_port *stack;
	struct modem *modem;
	struct pending p[PINGS_MAX];
	double tokens;
	ev_tstamp last_fill;
	struct ping_stats st;
};

static bool take_token(struct ping *pg)
{
	ev_tstamp now = ev_now(pg->loop);

	pg->tokens += (now - pg->last_fill) * RATE_PER_S;
	if (pg->tokens > BURST)
		pg->tokens = BURST;
	pg->last_fill = now;
	if (pg->tokens < 1.0)
		return false;
	pg->tokens -= 1.0;
	return true;
}

void ping_on_echo(struct ping *pg, const struct lwip_port_echo *e)
{
	struct pending *slot = NULL;

	pg->st.requests++;
	if (!pg->modem || !modem_is_up(pg->modem) || e->len > sizeof(slot->data))
		return;
	for (int i = 0; i < PINGS_MAX; i++) {
		if (!pg->p[i].used) {
			slot = &pg->p[i];
			break;
		}
	}
	if (!slot) {
		pg->st.busy++;
		return;
	}
	if (!take_token(pg)) {
		pg->st.rate_limited++;
		return;
	}
	slot->req = modem_ping(pg->modem, e->dst, TIMEOUT_MS);
	if (slot->req < 0) {
		pg->st.busy++;
		return;
	}
	slot->used = true;
	slot->e = *e;
	memcpy(slot->data, e->data, e->len);
	slot->e.data = slot->data;
}

void ping_on_reply(struct ping *pg, int req, bool ok, unsigned rtt_ms)
{
	for (int i = 0; i < PINGS_MAX; i++) {
		struct pending *s = &pg->p[i];

		if (!s->used || s->req != req)
			continue;
		s->used = false;
		if (!ok) {
			pg->st.failed++;
			return;
		}
		log_debug("ping: module reply in %u ms", rtt_ms);
		s->e.ttl = 0; /* lwip_port's default */
		if (lwip_port_icmp_echo_reply(pg->stack, &s->e) == 0)
			pg->st.replies++;
		return;
	}
}

void ping_link_down(struct ping *pg)
{
	for (int i = 0; i < PINGS_MAX; i++)
		pg->p[i].used = false;
}

struct ping *ping_new(struct ev_loop *loop, struct lwip_port *stack)
{
	struct ping *pg = calloc(1, sizeof(*pg));

	if (!pg)
		return NULL;
	pg->loop = loop;
	pg->stack = stack;
	pg->tokens = BURST;
	pg->last_fill = ev_now(loop);
	return pg;
}

void ping_set_modem(struct ping *pg, struct modem *m)
{
	pg->modem = m;
}

void ping_free(struct ping *pg)
{
	free(pg);
}

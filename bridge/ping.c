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

static struct {
	struct ev_loop *loop;
	struct modem *modem;
	struct pending p[PINGS_MAX];
	double tokens;
	ev_tstamp last_fill;
	struct ping_stats st;
} P;

static bool take_token(void)
{
	ev_tstamp now = ev_now(P.loop);

	P.tokens += (now - P.last_fill) * RATE_PER_S;
	if (P.tokens > BURST)
		P.tokens = BURST;
	P.last_fill = now;
	if (P.tokens < 1.0)
		return false;
	P.tokens -= 1.0;
	return true;
}

void ping_on_echo(void *ctx, const struct lwip_port_echo *e)
{
	struct pending *slot = NULL;

	(void)ctx;
	P.st.requests++;
	if (!P.modem || !modem_is_up(P.modem) || e->len > sizeof(slot->data))
		return;
	for (int i = 0; i < PINGS_MAX; i++) {
		if (!P.p[i].used) {
			slot = &P.p[i];
			break;
		}
	}
	if (!slot) {
		P.st.busy++;
		return;
	}
	if (!take_token()) {
		P.st.rate_limited++;
		return;
	}
	slot->req = modem_ping(P.modem, e->dst, TIMEOUT_MS);
	if (slot->req < 0) {
		P.st.busy++;
		return;
	}
	slot->used = true;
	slot->e = *e;
	memcpy(slot->data, e->data, e->len);
	slot->e.data = slot->data;
}

void ping_on_reply(int req, bool ok, unsigned rtt_ms)
{
	for (int i = 0; i < PINGS_MAX; i++) {
		struct pending *s = &P.p[i];

		if (!s->used || s->req != req)
			continue;
		s->used = false;
		if (!ok) {
			P.st.failed++;
			return;
		}
		log_debug("ping: module reply in %u ms", rtt_ms);
		s->e.ttl = 0; /* lwip_port's default */
		if (lwip_port_icmp_echo_reply(&s->e) == 0)
			P.st.replies++;
		return;
	}
}

void ping_link_down(void)
{
	for (int i = 0; i < PINGS_MAX; i++)
		P.p[i].used = false;
}

int ping_init(struct ev_loop *loop)
{
	memset(&P, 0, sizeof(P));
	P.loop = loop;
	P.tokens = BURST;
	P.last_fill = ev_now(loop);
	return 0;
}

void ping_set_modem(struct modem *m)
{
	P.modem = m;
}

void ping_shutdown(void)
{
	ping_link_down();
}

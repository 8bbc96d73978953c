/* Neoway N11V2 (placeholder until the model is written). */
#include "sim.h"

static void reset(void) { at_reset(); }
static void dispatch(const char *line, size_t n) { (void)line; (void)n; at_plain_error(); }
static void feed(void)
{
	while (!S.busy && !S.stalled && !S.rebooting && S.in.len)
		if (!at_feed_line(dispatch))
			return;
}
static void link_event(struct sim_link *l, int what) { (void)l; (void)what; }
static void boot_urcs(void) {}
static void pdp_deact(void) {}
static bool remote_close(int n) { (void)n; return false; }

const struct sim_model_ops n11v2_ops = {
	.reset = reset, .feed = feed, .link_event = link_event, .boot_urcs = boot_urcs,
	.pdp_deact = pdp_deact, .remote_close = remote_close,
};

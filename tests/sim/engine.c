/* The engine under every model: input modes, command dispatch, basic
 * V.25ter commands, a send's data phase, the receive side and the model
 * glue that serial.c, link.c and control.c call (sim_engine_ops). What a
 * model answers comes from its struct sim_model (engine.h). */
#include "engine.h"

#include <stdio.h>
#include <string.h>

struct sim_engine E;

static const struct sim_model *const models[] = { &sim7000_model, &n11v2_model };
#define NMODELS (sizeof models / sizeof models[0])

const struct sim_model *sim_model_find(const char *name)
{
	for (size_t i = 0; i < NMODELS; i++)
		if (!strcmp(models[i]->name, name))
			return models[i];
	return NULL;
}

const struct sim_model *sim_model_of(enum sim_model_id id)
{
	for (size_t i = 0; i < NMODELS; i++)
		if (models[i]->id == id)
			return models[i];
	return models[0];
}

const char *sim_model_names(void)
{
	static char b[128];
	b[0] = 0;
	for (size_t i = 0; i < NMODELS; i++)
		snprintf(b + strlen(b), sizeof b - strlen(b), "%s%s",
			 i == 0 ? "" : i + 1 == NMODELS ? " or " : ", ", models[i]->name);
	return b;
}

/* ---- links ---- */
struct sim_link *sim_link_at(int n)
{
	return &S.links[n];
}

bool sim_link_busy(const struct sim_link *l)
{
	return l->state == LINK_CONNECTING || l->state == LINK_CONNECTED;
}

void sim_links_reset(bool forget)
{
	sim_server_close();
	for (int i = 0; i < SIM_LINKS; i++) {
		struct sim_link *l = sim_link_at(i);
		sim_link_close(l);
		l->state = LINK_INITIAL;
		if (forget)
			l->ever_used = false;
	}
}

const char *sim_local_ip(void)
{
	return S.o.local_ip ? S.o.local_ip : E.m->local_ip;
}

/* ---- transparent and PPP data modes ---- */
void sim_trans_enter(struct sim_link *l, bool escape_enabled, void (*on_escape)(void))
{
	E.in = IN_TRANS;
	sim_trans_start(l, escape_enabled, on_escape);
}

void sim_trans_leave(void)
{
	E.in = IN_CMD;
	sim_trans_stop();
}

void sim_ppp_ended(void)
{
	E.in = IN_CMD;
}

void sim_cgdata(const struct at_cmd *c)
{
	sim_ppp_cgdata(c, sim_ppp_ended);
}

/* ---- receive side: pushed data, notifications, remote close ---- */
void sim_check_closed(struct sim_link *l)
{
	if (l->state != LINK_CONNECTED || !l->eof || l->rx.len || l->rx_inflight)
		return;
	sim_link_close(l);
	E.m->closed(l);
}

static void push_data(struct sim_link *l)
{
	unsigned char tmp[4096];
	size_t chunk = E.m->push_chunk < sizeof tmp ? E.m->push_chunk : sizeof tmp;
	while (l->rx.len && S.out.len + S.urcq.len + S.lateafter.len < PUSH_OUT_LIMIT) {
		size_t n;
		if (E.m->trans_link(l)) {
			if (E.in != IN_TRANS)
				return; /* escaped: data waits in the buffer until ATO */
			n = sim_link_read(l, tmp, chunk);
			sim_out(tmp, n);
			continue;
		}
		n = sim_link_read(l, tmp, chunk);
		struct sim_buf b = { 0 };
		E.m->frame(l, tmp, n, &b);
		sim_urc(b.data, b.len, false);
		sim_buf_free(&b);
	}
	sim_check_closed(l);
}

void sim_push_all(void)
{
	for (int i = 0; i < SIM_LINKS; i++) {
		struct sim_link *l = sim_link_at(i);
		if (l->state == LINK_CONNECTED && !l->manual_rx && l->rx.len)
			push_data(l);
	}
}

static void push_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)w, (void)revents;
	sim_push_all();
}

static void link_event(struct sim_link *l, int what)
{
	switch (what) {
	case LEV_CONNECT_OK:
		E.m->connected(l);
		break;
	case LEV_CONNECT_FAIL:
		E.m->connect_failed(l);
		break;
	case LEV_ACCEPTED:
		E.m->accepted(l);
		break;
	case LEV_RX:
		if (!l->manual_rx) {
			push_data(l);
		} else if (!l->notified && l->rx.len) {
			l->notified = true;
			E.m->announce(l);
		}
		break;
	case LEV_EOF:
		sim_check_closed(l);
		break;
	case LEV_TX_DONE:
	case LEV_TX_FAIL:
		if (E.m->sent)
			E.m->sent(l, what == LEV_TX_DONE);
		break;
	}
}

/* ---- a send's data phase ---- */
static void prompt_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)w, (void)revents;
	if (E.m->prompt)
		E.m->prompt();
	E.in = IN_DATA;
	S.busy = false;
	sim_kick();
}

void sim_send_begin(struct sim_link *l, size_t total)
{
	E.send_link = l;
	E.send_total = total;
	E.send.len = 0;
	AT.async = true;
	S.busy = true;
	ev_timer_set(&E.prompt_timer, PROMPT_DELAY, 0.);
	ev_timer_start(S.loop, &E.prompt_timer);
}

static void data_end(bool cancel)
{
	struct sim_link *l = E.send_link;
	E.in = IN_CMD;
	E.send_link = NULL;
	E.m->send_done(l, cancel);
}

static void feed_data(void)
{
	while (S.in.len && E.in == IN_DATA) {
		if (E.send_total) {
			size_t want = E.send_total - E.send.len;
			size_t n = S.in.len < want ? S.in.len : want;
			sim_buf_add(&E.send, S.in.data, n);
			sim_count_payload(E.send_link, n);
			if (AT.echo)
				sim_out(S.in.data, n);
			sim_buf_consume(&S.in, n);
			if (E.send.len == E.send_total)
				data_end(false);
			continue;
		}
		/* unsized: the data ends at end_byte (the byte is no data) */
		unsigned char b = S.in.data[0];
		sim_buf_consume(&S.in, 1);
		if (b == E.m->end_byte || b == E.m->cancel_byte) {
			data_end(b == E.m->cancel_byte);
			continue;
		}
		sim_count_payload(E.send_link, 1);
		if (AT.echo)
			sim_out(&b, 1);
		if (E.send.len < E.m->unsized_keep)
			sim_buf_add(&E.send, &b, 1);
	}
}

/* ---- basic commands (V.25ter) ---- */
static bool bit_arg(const char *rest)
{
	return !rest[0] || ((rest[0] == '0' || rest[0] == '1') && !rest[1]);
}

/* a basic command's optional single-digit parameter; answers OK if valid */
static bool digit_max(const char *rest, int max)
{
	if (rest[0] && (rest[1] || rest[0] < '0' || rest[0] > '0' + max))
		return false;
	at_ok();
	return true;
}

/* S-registers: ATSn=v is accepted, ATSn? reads 0 */
static bool s_register(const char *rest)
{
	const char *p = rest;
	while (*p >= '0' && *p <= '9')
		p++;
	if (p == rest)
		return false;
	if (*p == '?' && !p[1]) {
		at_info("000");
		at_ok();
		return true;
	}
	if (*p++ != '=')
		return false;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p)
		return false;
	at_ok();
	return true;
}

static bool no_arg_or_zero(const char *rest)
{
	return !rest[0] || !strcmp(rest, "0");
}

/* E, V, I, O, Z, S, D: answered here or by the model's hook; false: ERROR */
static bool letter_cmd(const struct at_cmd *c)
{
	switch (c->name[0]) {
	case 'D':
		/* PPP dial-up (ppp.c); no voice or CSD */
		if (!sim_ppp_dial_string(c->rest))
			return false;
		sim_ppp_dial(sim_ppp_ended);
		return true;
	case 'E':
	case 'V':
		if (!bit_arg(c->rest))
			return false;
		*(c->name[0] == 'E' ? &AT.echo : &AT.v1) = c->rest[0] == '1';
		at_ok();
		return true;
	case 'I':
		if (!no_arg_or_zero(c->rest))
			return false;
		at_info("%s", E.m->ati);
		at_ok();
		return true;
	case 'O':
		if (!no_arg_or_zero(c->rest))
			return false;
		E.m->ato();
		return true;
	case 'Z':
		AT.echo = true;
		AT.v1 = true;
		if (E.m->z_resets_cmee)
			AT.cmee = 0;
		at_ok();
		return true;
	case 'S':
		return E.m->s_registers && s_register(c->rest);
	}
	return false;
}

static void dispatch_basic(const struct at_cmd *c)
{
	if (letter_cmd(c))
		return;
	if (!strcmp(c->name, "&F") && digit_max(c->rest, 0)) {
		AT.echo = true;
		AT.v1 = true;
		AT.cmee = 0;
		return;
	}
	for (const struct sim_digit_cmd *d = E.m->digits; d->name; d++)
		if (!strcmp(c->name, d->name) && digit_max(c->rest, d->max))
			return;
	at_plain_error();
}

/* ---- extended commands ---- */
static const struct sim_cmd *find(const char *name)
{
	for (const struct sim_cmd *const *t = E.m->cmds; *t; t++)
		for (const struct sim_cmd *k = *t; k->name; k++)
			if (!strcmp(k->name, name))
				return k;
	return NULL;
}

static void dispatch(const char *line, size_t n)
{
	struct at_cmd c;
	if (n == 2) {
		at_ok();
		return;
	}
	bool parsed = E.m->escapes ? at_parse_escaped(line + 2, n - 2, &c)
				   : at_parse(line + 2, n - 2, &c);
	if (!c.name[0] || !strchr(E.m->ext, c.name[0])) {
		if (parsed)
			dispatch_basic(&c);
		else
			at_plain_error();
		return;
	}
	if (E.m->dollar_is_plus && c.name[0] == '$')
		c.name[0] = '+';
	const struct sim_cmd *k = find(c.name);
	if (!k) {
		at_plain_error(); /* unknown command */
		return;
	}
	if (!parsed) {
		at_error(50); /* a known command with broken arguments */
		return;
	}
	if (k->needs_net && E.m->net_lost() && c.type != AT_READ && c.type != AT_TEST) {
		at_error(3); /* the network context has to come back first */
		return;
	}
	k->fn(&c);
}

/* ---- model glue (struct sim_model_ops) ---- */
static void feed(void)
{
	while (sim_feed_ok() && S.in.len) {
		size_t before = S.in.len;
		enum sim_inmode m = E.in;
		if (sim_ppp_online()) {
			sim_ppp_feed();
			return;
		}
		if (E.in == IN_CMD) {
			if (!at_feed_line(dispatch))
				return;
		} else if (E.in == IN_DATA) {
			feed_data();
		} else {
			sim_trans_feed();
		}
		if (S.in.len == before && E.in == m)
			return;
	}
}

static void reset(void)
{
	if (!E.timers_init) {
		ev_timer_init(&E.prompt_timer, prompt_cb, 0., 0.);
		ev_timer_init(&E.push_timer, push_cb, 0.01, 0.01);
		ev_timer_start(S.loop, &E.push_timer);
		E.timers_init = true;
	}
	sim_ppp_stop(); /* a reboot ends a PPP session */
	ev_timer_stop(S.loop, &E.prompt_timer);
	E.m->reset();   /* sees the mode it left (transparent, data phase) */
	E.in = IN_CMD;
	E.send_link = NULL;
	E.send_total = 0;
	E.send.len = 0;
	at_reset();
	AT.maxline = E.m->maxline;
}

static void boot_urcs(void)
{
	sim_outs(E.m->boot);
}

static void pdp_deact(void)
{
	E.m->pdp_deact();
}

static void drained(void)
{
	sim_push_all();
}

static bool remote_close(int n)
{
	if (n < 0 || n >= SIM_LINKS || sim_link_at(n)->state != LINK_CONNECTED)
		return false;
	sim_link_remote_close(sim_link_at(n));
	return true;
}

static const struct sim_model_ops ops = {
	.reset = reset,
	.feed = feed,
	.link_event = link_event,
	.boot_urcs = boot_urcs,
	.pdp_deact = pdp_deact,
	.remote_close = remote_close,
	.drained = drained,
};

void sim_engine_use(const struct sim_model *m)
{
	E.m = m;
	S.model = &ops;
}

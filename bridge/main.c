/* atbridge: the data path, top to bottom.
 *
 *   tun fd --read--> lwip_port_input (NAT, lwIP) --tcp pcbs--> flow table
 *   flow table --modem_send/recv_window--> modem (AT over the serial line)
 *   lwIP output --lwip_port output cb--> tun fd
 *
 * One process, one thread, one libev loop.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pwd.h>
#include <ev.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge.h"
#include "config.h"
#include "control.h"
#include "hooks.h"
#include "log.h"
#include "modem_registry.h"
#include "port_lock.h"
#include "privilege.h"
#include "service.h"
#include "sim_spawn.h"
#include "tun.h"

#define TUN_BURST 64

/* The built-in simulator's sockets carry this mark; with a default route
 * through the tun, the policy rules of tun/rule.c route them by the main
 * table (the host's uplink) while everything else takes the tun's default
 * route in table ATB_ROUTE_TABLE. docs/simulator.md, "On a host". */
#define ATB_FWMARK 0xa7bu
#define ATB_ROUTE_TABLE 0xa7bu

/* The process: what main() made, for the loop's callbacks (each watcher's
 * data, the bridge's ctx). Lives on main()'s stack. */
struct daemon {
	const struct atb_config *cfg;
	const char *tun_name, *device;
	int argc;
	char **argv;
	struct modem *modem;
	struct bridge bridge;
	struct service *service;
	struct control *control;
	struct hooks hooks;
	ev_timer drain_w;
	double drain_started;
	int tun_fd;
	unsigned tun_expect, tun_full; /* on_tun_readable's burst size */
	uint64_t tun_write_drops;
	bool modem_fatal_seen;
	uint8_t tun_pkt[65536];
};

/* Reading until EAGAIN costs an empty read on every wake-up, and a transfer
 * wakes up once per module answer with one or two packets waiting. The
 * watcher is level-triggered, so a burst may stop short: what waits is read
 * on the next loop iteration. A burst takes as many packets as the last one
 * found (tun_expect); after four bursts in a row that found no end it
 * doubles, up to TUN_BURST. */
static void on_tun_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct daemon *d = w->data;

	(void)loop;
	(void)revents;
	for (unsigned i = 0; i < d->tun_expect; i++) {
		ssize_t n = read(w->fd, d->tun_pkt, sizeof(d->tun_pkt));

		if (n <= 0) {
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				log_err("reading %s: %s", "tun", strerror(errno));
			d->tun_expect = i ? i : 1;
			d->tun_full = 0;
			return;
		}
		lwip_port_input(d->bridge.stack, d->tun_pkt, (size_t)n);
	}
	if (++d->tun_full >= 4 && d->tun_expect < TUN_BURST) {
		d->tun_expect *= 2;
		d->tun_full = 0;
	}
}

static void tun_output(void *ctx, const uint8_t *pkt, size_t len)
{
	struct daemon *d = ctx;

	/* A full tun queue drops the packet; TCP retransmits it. */
	if (write(d->tun_fd, pkt, len) != (ssize_t)len)
		d->tun_write_drops++;
}

static void on_drained(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct daemon *d = w->data;

	(void)revents;
	if (d->modem && modem_is_up(d->modem) && modem_busy_links(d->modem) > 0 &&
	    ev_now(loop) - d->drain_started < 5.)
		return;
	ev_break(loop, EVBREAK_ALL);
}

/* SIGTERM/SIGINT: close the module's links (clients get FIN through the
 * usual remote-close path), wait up to 5 s for the module to confirm, then
 * leave the loop; the rest (RST to what is left, tun removal) follows in
 * main. A second signal leaves at once. */
static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct daemon *d = w->data;

	(void)revents;
	if (ev_is_active(&d->drain_w) || !d->modem || !modem_is_up(d->modem)) {
		log_info("signal %d: shutting down", w->signum);
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	log_info("signal %d: closing the module's links, then shutting down", w->signum);
	service_notify(d->service, "STOPPING=1\nSTATUS=closing the module's links");
	for (int i = 0; i < modem_max_links(d->modem); i++)
		modem_close(d->modem, i);
	d->drain_started = ev_now(loop);
	ev_timer_init(&d->drain_w, on_drained, 0., 0.1);
	d->drain_w.data = d;
	ev_timer_again(loop, &d->drain_w);
}

/* The --model names are the module registry's: config/ does not link the
 * modem layer, so they are passed in. */
static const char *const *registry_names(void)
{
	static const char **names;

	if (!names) {
		names = calloc(modem_n_modules + 1, sizeof(*names));
		for (size_t i = 0; names && i < modem_n_modules; i++)
			names[i] = modem_modules[i]->name;
	}
	return names;
}

static void config_start(struct atb_config *c)
{
	config_defaults(c);
	c->model_names = registry_names();
}

/* SIGHUP: read the configuration again; only the log level takes effect
 * without a restart. */
static void on_sighup(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct daemon *d = w->data;
	struct atb_config *c = malloc(sizeof(*c));

	(void)loop;
	(void)revents;
	if (!c)
		return;
	config_start(c);
	if (config_load(c, d->argc, d->argv, stderr) == 0) {
		log_info("SIGHUP: log level %s", config_log_level_name(c->verbose));
		log_verbosity = c->verbose;
	} else {
		log_err("SIGHUP: configuration not reloaded (see above); log level unchanged");
	}
	free(c);
}

/* The modem cannot go on (e.g. an unknown module): one line, then the loop
 * stops and main returns 1. ctx is the modem's: the bridge. */
static void on_modem_fatal(void *ctx, const char *msg)
{
	struct bridge *b = ctx;
	struct daemon *d = b->ctx;

	log_err("%s", msg);
	d->modem_fatal_seen = true;
	ev_break(b->loop, EVBREAK_ALL);
}

/* The simulator and the tun share this network namespace and the tun takes
 * the default route: without the rules the simulator's own sockets would
 * loop into the tun (and the host's traffic with them). */
static bool needs_split_routing(const struct atb_config *c)
{
	return c->sim && !c->sim_netns[0] && !c->netns[0] && c->default_route;
}

/* The data link changed (the bridge has reset or admitted its flows): the
 * service manager and then the hooks (bridge/hooks.c) hear of it. */
static void on_link_change(void *ctx, bool up, const char *local_ip)
{
	struct daemon *d = ctx;
	const struct modem_info *mi = d->modem ? modem_get_info(d->modem) : NULL;
	char tun_addr[INET_ADDRSTRLEN + 4], dns[INET_ADDRSTRLEN];
	struct hooks_env e = {
		.interface = d->tun_name,
		.netns = d->cfg->netns,
		.local_ip = up && local_ip ? local_ip : "",
		.tun_address = tun_addr,
		.dns = dns,
		.model = mi ? mi->model : "",
		.link_mode = mi && mi->link_mode ? mi->link_mode : (d->cfg->transparent ? "transparent" : "multi-link"),
		.device = d->device,
	};
	size_t n;

	service_link_changed(d->service, up, local_ip);
	inet_ntop(AF_INET, &d->cfg->tun_addr, tun_addr, INET_ADDRSTRLEN);
	n = strlen(tun_addr);
	snprintf(tun_addr + n, sizeof(tun_addr) - n, "/%u", d->cfg->tun_prefix);
	inet_ntop(AF_INET, &d->cfg->lwip_addr, dns, sizeof(dns));
	hooks_link(&d->hooks, up, up ? "link-up" : "link-down", &e);
}

int main(int argc, char **argv)
{
	struct daemon dm = {.tun_fd = -1, .tun_expect = 1, .hooks = {.fd = -1, .pid = -1}};
	struct daemon *d = &dm;
	struct atb_config cfg;
	struct ev_loop *loop = EV_DEFAULT;
	char tun_name[32], pty[256];
	struct sim_proc sim = {.pid = -1, .out_fd = -1};
	pid_t keeper_pid = -1;
	int keeper_fd = -1;
	bool split = false;
	struct port_lock plock = {.lock_file = ""};
	struct modem *modem = NULL;
	ev_io tun_w;
	ev_signal sigint_w, sigterm_w, sighup_w;
	int rc = 1, r;

	config_start(&cfg);
	cfg.check_system = true; /* the run-as user and the namespaces exist */
	r = config_load(&cfg, argc, argv, stderr);
	if (r != 0)
		return r > 0 ? 0 : 2;
	if (cfg.check_config) {
		config_print(&cfg, stdout);
		return 0;
	}
	d->argc = argc;
	d->argv = argv;
	log_verbosity = cfg.verbose;
	log_journal = service_stderr_is_journal();
	signal(SIGPIPE, SIG_IGN);
	d->cfg = &cfg;
	d->tun_name = tun_name;
	d->device = pty;
	tun_name[0] = pty[0] = '\0';
	/* first: the helper must hold none of the fds opened below */
	if (hooks_start(&d->hooks, &cfg) < 0)
		return 1;
	d->service = service_new(loop);

	if (needs_split_routing(&cfg)) {
		/* the keeper first: it must hold no fd of ours (tun, serial) */
		keeper_fd = tun_rules_keeper(ATB_FWMARK, ATB_ROUTE_TABLE, &keeper_pid);
		if (keeper_fd < 0 || tun_rules_add(ATB_FWMARK, ATB_ROUTE_TABLE) < 0) {
			log_err("cannot keep the simulator's sockets out of the tun; "
			        "--no-default-route or --sim-netns avoid the need");
			tun_rules_keeper_stop(keeper_fd, keeper_pid);
			return 1;
		}
		split = true;
		log_info("policy rules: fwmark %#x lookup main, main suppress_prefixlength 0, default via %s in table %u",
		         ATB_FWMARK, cfg.tun_name, ATB_ROUTE_TABLE);
	}
	if (cfg.sim) {
		if (sim_spawn(&sim, &cfg, argv[0], split ? ATB_FWMARK : 0, pty, sizeof(pty)) < 0) {
			tun_rules_keeper_stop(keeper_fd, keeper_pid);
			return 1;
		}
		log_info("simulator running on %s", pty);
	} else {
		snprintf(pty, sizeof(pty), "%s", cfg.device);
		/* before anything opens it: a port in use is left alone */
		if (port_lock_take(cfg.device, &plock) < 0)
			return 1;
	}

	{
		struct tun_config tc = {
			.name = cfg.tun_name,
			.addr = cfg.tun_addr,
			.prefix_len = cfg.tun_prefix,
			.mtu = cfg.mtu,
			.default_route = cfg.default_route,
			.netns = cfg.netns,
			.route_table = split ? ATB_ROUTE_TABLE : 0,
		};

		d->tun_fd = tun_open(&tc, tun_name, sizeof(tun_name));
		if (d->tun_fd < 0)
			goto out;
	}
	{
		struct bridge_config bc = {
			.stack = {
				.netif_ip = cfg.lwip_addr,
				.mtu = (uint16_t)cfg.mtu,
				.max_flows = cfg.max_flows * 2,
				.hold_timeout_ms = cfg.queue_wait_ms + 90000,
				.udp_idle_timeout_ms = cfg.udp_idle_timeout_ms,
				.nat_tcp = cfg.nat_tcp,
				.nat_udp = cfg.nat_udp,
			},
			.tcp = {
				.max_flows = cfg.max_flows,
				.queue_len = cfg.queue_len,
				.queue_wait_ms = cfg.queue_wait_ms,
				.intercept_dns = cfg.dns_intercept,
				.halfclose_s = cfg.halfclose_s,
				.idle_reclaim_s = cfg.idle_reclaim_s,
				.queue_per_source = cfg.queue_per_source,
				.max_links = cfg.tcp_links,
				.links_per_source = cfg.links_per_source,
			},
			.udp = {
				.max_flows = cfg.max_udp_flows,
				.intercept_dns = cfg.dns_intercept,
				.max_links = cfg.udp_links,
			},
			.in = {
				.n = cfg.n_forwards,
				.max_links = cfg.inbound_links,
			},
			.dns = {
				.ttl_s = cfg.dns_ttl_s,
				.timeout_ms = cfg.dns_timeout_ms,
				.cache_size = 256,
				.max_waiting = 64,
			},
			.output = tun_output,
			.link_changed = on_link_change,
			.ctx = d,
		};

		for (unsigned i = 0; i < cfg.n_forwards && i < INBOUND_FORWARDS_MAX; i++) {
			bc.in.fwd[i] = (struct inbound_forward){
				.module_port = cfg.forwards[i].module_port,
				.host = cfg.forwards[i].host,
				.port = cfg.forwards[i].port,
			};
			snprintf(bc.in.fwd[i].spec, sizeof(bc.in.fwd[i].spec), "%s", cfg.forwards[i].spec);
		}
		if (cfg.n_forwards && cfg.transparent)
			log_warn("forwards need link = multi: in transparent mode the module does not listen");
		if (bridge_init(&d->bridge, loop, &bc) < 0) {
			log_err("cannot initialise the packet stack");
			goto out;
		}
	}
	{
		struct modem_config mc = {
			.device = pty,
			.baud = cfg.baud,
			.flow_control = cfg.rtscts ? MODEM_FC_RTSCTS : MODEM_FC_NONE,
			.model = cfg.model,
			.apn = cfg.apn,
			.user = cfg.user,
			.password = cfg.password,
			.cmd_timeout_ms = cfg.cmd_timeout_ms,
			.poll_interval_ms = cfg.poll_interval_ms,
			.max_inflight = cfg.max_inflight,
			.transparent = cfg.transparent,
			.guard_ms = cfg.guard_ms,
			.holdoff_ms = cfg.holdoff_ms,
			.holdoff_max_ms = cfg.holdoff_max_ms,
			.maxfail = cfg.maxfail,
			.pin = cfg.pin,
		};

		struct modem_events mev = bridge_modem_events;

		mev.fatal = on_modem_fatal; /* modem_new() copies the table */

		modem = modem_new(loop, &mc, &mev, &d->bridge);
		if (!modem)
			goto out;
		if (!cfg.sim && port_lock_fds(pty) < 0)
			goto out;
		bridge_set_modem(&d->bridge, modem);
		d->modem = modem;
	}
	d->control = control_new(loop, &cfg, tun_name, &d->bridge, d->service);
	if (!d->control)
		goto out;
	/* the lock file must stay removable by the user we become */
	if (plock.lock_file[0] && cfg.run_as[0] && !cfg.sim) {
		struct passwd *pw = getpwnam(cfg.run_as);

		if (pw && chown(plock.lock_file, pw->pw_uid, pw->pw_gid) < 0)
			log_info("%s: %s", plock.lock_file, strerror(errno));
	}
	if (privilege_drop(&cfg) < 0)
		goto out;

	ev_io_init(&tun_w, on_tun_readable, d->tun_fd, EV_READ);
	tun_w.data = d;
	ev_io_start(loop, &tun_w);
	ev_signal_init(&sigint_w, on_signal, SIGINT);
	sigint_w.data = d;
	ev_signal_start(loop, &sigint_w);
	ev_signal_init(&sigterm_w, on_signal, SIGTERM);
	sigterm_w.data = d;
	ev_signal_start(loop, &sigterm_w);
	ev_signal_init(&sighup_w, on_sighup, SIGHUP);
	sighup_w.data = d;
	ev_signal_start(loop, &sighup_w);
	log_info("%s up, waiting for the module on %s", tun_name, pty);

	ev_run(loop, 0);
	rc = d->modem_fatal_seen ? 1 : 0;
	ev_io_stop(loop, &tun_w);
	ev_timer_stop(loop, &d->drain_w);
out:
	service_notify(d->service, "STOPPING=1");
	hooks_stop(&d->hooks); /* down hooks while tun0 still exists, like wg-quick's PreDown */
	control_free(d->control);
	bridge_shutdown(&d->bridge);
	if (modem)
		modem_free(modem);
	if (d->tun_fd >= 0)
		tun_close(d->tun_fd);
	port_lock_release(&plock);
	sim_stop(&sim);
	tun_rules_keeper_stop(keeper_fd, keeper_pid);
	service_free(d->service);
	return rc;
}

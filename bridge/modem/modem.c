/* The socket interface of modem.h: owns the serial port and the channel and
 * forwards to the dialect chosen by the configuration. */
#include "modem_priv.h"

#include <ev.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "at_cmd.h"
#include "log.h"
#include "mlink.h"
#include "serial.h"

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

const struct modem_dialect *modem_dialect_for(const struct modem *m)
{
	return m->cfg.transparent ? &trans_dialect : &mlink_dialect;
}

static bool open_chan(struct modem *m, int fd)
{
	m->fd = fd >= 0 ? fd
	                : modem_serial_open(m->device, m->cfg.baud, m->cfg.flow_control == MODEM_FC_RTSCTS);
	if (m->fd < 0)
		return false;
	m->chan = at_chan_new(m->loop, m->fd, m->dialect ? m->dialect->hooks : &modem_probe_hooks, m);
	if (!m->chan) {
		close(m->fd);
		m->fd = -1;
		return false;
	}
	at_chan_set_line_rate(m->chan, m->cfg.baud);
	return true;
}

static void close_chan(struct modem *m)
{
	if (m->chan) {
		struct at_chan_stats s;
		at_chan_get_stats(m->chan, &s);
		m->old_chan_stats.line_tx += s.line_tx;
		m->old_chan_stats.line_rx += s.line_rx;
		m->old_chan_stats.commands += s.commands;
		m->old_chan_stats.timeouts += s.timeouts;
		m->old_chan_stats.errors += s.errors;
		m->old_chan_stats.garbage_lines += s.garbage_lines;
		at_chan_free(m->chan);
		m->chan = NULL;
	}
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
}

bool modem_reopen(struct modem *m)
{
	at_script_run_free(m->script);
	m->script = NULL;
	close_chan(m);
	if (!open_chan(m, -1))
		return false;
	m->script = NULL;
	if (m->dialect)
		m->dialect->attach(m);
	else
		modem_probe_attach(m);
	return true;
}

struct modem *modem_new(struct ev_loop *loop, const struct modem_config *cfg,
                        const struct modem_events *ev, void *ctx)
{
	return modem_new_on_fd(loop, cfg, ev, ctx, -1);
}

struct modem *modem_new_on_fd(struct ev_loop *loop, const struct modem_config *cfg,
                              const struct modem_events *ev, void *ctx, int fd)
{
	const struct modem_module *mod = modem_module_of(cfg->model);
	if (!mod && cfg->model && strcmp(cfg->model, "auto")) {
		log_err("modem model '%s' not supported by this build (supported: %s)", cfg->model,
		        modem_modules_list());
		return NULL;
	}
	if (!cfg->device && fd < 0) {
		log_err("no serial device configured");
		return NULL;
	}
	struct modem *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->loop = loop;
	m->cfg = *cfg;
	m->device = dup_or_empty(cfg->device);
	m->apn = dup_or_empty(cfg->apn);
	m->user = dup_or_empty(cfg->user);
	m->password = dup_or_empty(cfg->password);
	m->pin = dup_or_empty(cfg->pin);
	m->cfg.device = m->device;
	m->cfg.apn = m->apn;
	m->cfg.user = m->user;
	m->cfg.password = m->password;
	m->cfg.pin = m->pin;
	if (!m->cfg.cmd_timeout_ms)
		m->cfg.cmd_timeout_ms = 5000;
	if (!m->cfg.poll_interval_ms)
		m->cfg.poll_interval_ms = 1000;
	m->ev = *ev;
	m->ctx = ctx;
	m->module = mod;
	const struct modem_dialect *d = mod ? modem_dialect_for(m) : NULL;
	m->dialect = d;
	modem_recover_init(m);
	m->fd = -1;
	modem_probe_init(m);
	if (!m->device || !m->apn || !m->user || !m->password || !m->pin || !open_chan(m, fd) || (d && !d->create(m))) {
		close_chan(m);
		free(m->device);
		free(m->apn);
		free(m->user);
		free(m->password);
		free(m->pin);
		free(m);
		return NULL;
	}
	modem_info_init(m);
	if (!d) {
		modem_probe_start(m);
		return m;
	}
	d->attach(m);
	d->start(m);
	return m;
}

void modem_free(struct modem *m)
{
	if (!m)
		return;
	modem_probe_stop(m);
	modem_info_stop(m);
	if (m->dialect)
		m->dialect->destroy(m);
	at_script_run_free(m->script);
	close_chan(m);
	free(m->device);
	free(m->apn);
	free(m->user);
	free(m->password);
	if (m->pin)
		memset(m->pin, 0, strlen(m->pin));
	free(m->pin);
	free(m);
}

bool modem_is_up(const struct modem *m)
{
	return m->up;
}

int modem_max_links(const struct modem *m)
{
	/* Before the probe found the model: the most any dialect has. */
	if (!m->dialect)
		return m->cfg.transparent ? 1 : MODEM_LINKS_MAX;
	return m->cfg.transparent ? 1 : m->module->multi->links;
}

int modem_free_links(const struct modem *m)
{
	return m->dialect ? m->dialect->free_links(m) : 0;
}

int modem_busy_links(const struct modem *m)
{
	if (!m->dialect)
		return 0;
	int held = m->dialect->listen_sockets ? m->dialect->listen_sockets(m) : 0;
	return modem_max_links(m) - modem_free_links(m) - held;
}

int modem_open(struct modem *m, enum modem_proto proto, uint32_t ip, uint16_t port)
{
	if (!m->up || !m->dialect)
		return -1;
	return m->dialect->open(m, proto, ip, port);
}

static bool link_ok(const struct modem *m, int link)
{
	return m->dialect && link >= 0 && link < modem_max_links(m);
}

size_t modem_send(struct modem *m, int link, const uint8_t *buf, size_t len)
{
	return link_ok(m, link) ? m->dialect->send(m, link, buf, len) : 0;
}

size_t modem_send_space(const struct modem *m, int link)
{
	return link_ok(m, link) ? m->dialect->send_space(m, link) : 0;
}

void modem_recv_window(struct modem *m, int link, size_t window)
{
	if (link_ok(m, link))
		m->dialect->recv_window(m, link, window);
}

void modem_close(struct modem *m, int link)
{
	if (link_ok(m, link))
		m->dialect->close(m, link);
}

int modem_max_listeners(const struct modem *m)
{
	if (!m->dialect || !m->dialect->max_listeners)
		return 0;
	return m->dialect->max_listeners(m);
}

bool modem_listen(struct modem *m, uint16_t port)
{
	if (port == 0 || m->n_listen >= MODEM_LISTEN_MAX)
		return false;
	for (size_t i = 0; i < m->n_listen; i++)
		if (m->listen_ports[i] == port)
			return false;
	m->listen_ports[m->n_listen++] = port;
	if (m->up && m->dialect && m->dialect->listen)
		m->dialect->listen(m, port);
	return true;
}

int modem_next_req(struct modem *m)
{
	int id = m->next_req;
	m->next_req = m->next_req == INT_MAX ? 0 : m->next_req + 1;
	return id;
}

int modem_resolve(struct modem *m, const char *name)
{
	if (!name || strlen(name) > MODEM_NAME_MAX || !at_cmd_hostname_ok(name))
		return MODEM_NAME_REFUSED;
	if (!m->up || !m->dialect || !m->dialect->resolve || !name)
		return -1;
	return m->dialect->resolve(m, name);
}

int modem_ping(struct modem *m, uint32_t ip, unsigned timeout_ms)
{
	if (!m->up || !m->dialect || !m->dialect->ping)
		return -1;
	return m->dialect->ping(m, ip, timeout_ms);
}

bool modem_reconnect(struct modem *m)
{
	if (!m->up || !m->dialect || !m->dialect->reconnect)
		return false;
	return m->dialect->reconnect(m);
}

void modem_get_stats(const struct modem *m, struct modem_stats *out)
{
	struct at_chan_stats s = { 0 };
	if (m->chan)
		at_chan_get_stats(m->chan, &s);
	memset(out, 0, sizeof(*out));
	out->bytes_to_module = m->bytes_to_module;
	out->bytes_from_module = m->bytes_from_module;
	out->line_tx = s.line_tx + m->old_chan_stats.line_tx;
	out->line_rx = s.line_rx + m->old_chan_stats.line_rx;
	out->commands = s.commands + m->old_chan_stats.commands;
	out->timeouts = s.timeouts + m->old_chan_stats.timeouts;
	out->errors = s.errors + m->old_chan_stats.errors;
	out->garbage_lines = s.garbage_lines + m->old_chan_stats.garbage_lines;
	out->reboot_requests = m->reboot_requests;
}

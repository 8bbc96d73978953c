#include "control.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "control_proto.h"
#include "bridge.h"
#include "log.h"
#include "lwip_port.h"
#include "modem.h"
#include "service.h"

struct client {
	struct control *ctl;
	bool used;
	int fd;
	ev_io rw, ww;
	ev_timer idle;
	char in[CTL_REQUEST_MAX + 2];
	size_t inlen;
	struct sbuf out;
	size_t out_off;
	bool close_after_write;
	uid_t uid;       /* the peer's, from SO_PEERCRED */
	ev_tstamp last;  /* connected, or last heard from */
};

struct control {
	struct ev_loop *loop;
	const struct atb_config *cfg;
	char tun[32];
	struct bridge *bridge;
	struct modem *modem;
	int listen_fd;
	ev_io accept_w;
	ev_timer metrics_w;
	ev_timer stuck_w;
	double stuck_logged;
	double started;
	struct service *service;
	struct client clients[CONTROL_MAX_CLIENTS];
};

/* ---- gathering ---------------------------------------------------------- */

static void gather_status(struct control *ctl, struct ctl_status *st, char *ip, size_t iplen)
{
	struct service_link link;
	struct flow_stats fs;
	struct uflow_stats us;
	struct modem_stats ms = {0};
	const struct modem_info *mi = ctl->modem ? modem_get_info(ctl->modem) : NULL;

	service_get_link(ctl->service, &link);
	flow_get_stats(ctl->bridge->tcp, &fs);
	uflow_get_stats(ctl->bridge->udp, &us);
	if (ctl->modem)
		modem_get_stats(ctl->modem, &ms);
	snprintf(ip, iplen, "%s", link.ip);
	*st = (struct ctl_status){
		.version = ATB_VERSION,
		/* What the module said (modem_get_info()); "unknown" for what it
		 * did not. Without an answer to AT+CGMM the configured model is
		 * shown when it was not auto-detected. */
		.model = mi && mi->model[0] ? mi->model
		         : strcmp(ctl->cfg->model, "auto") ? ctl->cfg->model : NULL,
		.firmware = mi && mi->firmware[0] ? mi->firmware : NULL,
		.imei = mi && mi->imei[0] ? mi->imei : NULL,
		.registration = mi ? mi->registration : NULL,
		.operator_name = mi && mi->operator_name[0] ? mi->operator_name : NULL,
		.link_mode = mi ? mi->link_mode : NULL,
		.csq_rssi = mi ? mi->csq_rssi : -1,
		.csq_ber = mi ? mi->csq_ber : -1,
		.link_up = ctl->modem && modem_is_up(ctl->modem),
		.ip = ip[0] ? ip : NULL,
		.tun = ctl->tun,
		.netns = ctl->cfg->netns[0] ? ctl->cfg->netns : NULL,
		.uptime_s = ev_now(ctl->loop) - ctl->started,
		.link_uptime_s = link.up && link.since >= 0 ? ev_now(ctl->loop) - link.since : -1,
		.bytes_up = ms.bytes_to_module,
		.bytes_down = ms.bytes_from_module,
		.flows_open = fs.open,
		.flows_queued = fs.queued,
		.udp_flows_open = us.open,
	};
	st->n_forwards = inbound_forwards(ctl->bridge->in);
	if (st->n_forwards > CTL_FORWARDS_MAX)
		st->n_forwards = CTL_FORWARDS_MAX;
	for (size_t i = 0; i < st->n_forwards; i++) {
		struct inbound_fwd_stats fst;

		inbound_get_stats(ctl->bridge->in, i, &fst);
		st->forwards[i] = (struct ctl_forward){
			.spec = fst.spec,
			.listening = fst.listening,
			.active = fst.active,
			.accepted = fst.accepted,
			.refused_target = fst.refused_target,
			.refused_share = fst.refused_share,
			.reset = fst.reset,
		};
	}
}

struct rows {
	struct ctl_flow_row *v;
	size_t n, cap;
};

static void endpoint(char *out, size_t len, uint32_t ip, uint16_t port)
{
	char a[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &ip, a, sizeof(a));
	snprintf(out, len, "%s:%u", a, ntohs(port));
}

static void add_row(void *arg, const struct flow_info *fi)
{
	struct rows *r = arg;
	struct ctl_flow_row *row;

	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct ctl_flow_row *nv = realloc(r->v, cap * sizeof(*nv));

		if (!nv)
			return;
		r->v = nv;
		r->cap = cap;
	}
	row = &r->v[r->n++];
	endpoint(row->client, sizeof(row->client), fi->t.src_ip, fi->t.src_port);
	endpoint(row->destination, sizeof(row->destination), fi->t.dst_ip, fi->t.dst_port);
	row->proto = "tcp";
	row->state = fi->state;
	row->link = fi->link;
	row->bytes_up = fi->bytes_up;
	row->bytes_down = fi->bytes_down;
	row->age_s = fi->age_s;
}

#define MAX_METRICS (48 + 6 * INBOUND_FORWARDS_MAX)

/* Per forward, labelled forward="<spec>"; samples of one name together. */
static size_t forward_metrics(struct control *ctl, struct ctl_metric *m)
{
	static const struct {
		const char *name, *help;
		bool counter;
	} kinds[] = {
		{"forward_listening", "1 when the module listens for this forward", false},
		{"forward_connections_open", "Inbound connections carried now", false},
		{"forward_accepted_total", "Connections the module accepted for this forward", true},
		{"forward_refused_target_total", "Inbound connections whose target refused or was unreachable", true},
		{"forward_refused_share_total", "Inbound connections refused: inbound links held their share", true},
		{"forward_reset_total", "Inbound connections ended with loss (RST to the target)", true},
	};
	size_t nf = inbound_forwards(ctl->bridge->in), n = 0;
	struct inbound_fwd_stats st[INBOUND_FORWARDS_MAX];

	for (size_t i = 0; i < nf && i < INBOUND_FORWARDS_MAX; i++)
		inbound_get_stats(ctl->bridge->in, i, &st[i]);
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		for (size_t i = 0; i < nf && i < INBOUND_FORWARDS_MAX; i++) {
			double v = k == 0 ? st[i].listening : k == 1 ? st[i].active : k == 2 ? st[i].accepted
			         : k == 3 ? st[i].refused_target : k == 4 ? st[i].refused_share : st[i].reset;

			m[n++] = (struct ctl_metric){kinds[k].name, kinds[k].help, kinds[k].counter, v, "forward",
			                             st[i].spec};
		}
	}
	return n;
}

static size_t gather_metrics(struct control *ctl, struct ctl_metric *m)
{
	struct service_link link;
	struct flow_stats fs;
	struct uflow_stats us;
	struct dnsd_stats ds;
	struct lwip_port_counters lc;
	struct modem_stats ms = {0};
	size_t n = 0;

	service_get_link(ctl->service, &link);
	flow_get_stats(ctl->bridge->tcp, &fs);
	uflow_get_stats(ctl->bridge->udp, &us);
	dnsd_get_stats(ctl->bridge->dns, &ds);
	lwip_port_get_counters(ctl->bridge->stack, &lc);
	if (ctl->modem)
		modem_get_stats(ctl->modem, &ms);
#define G(name_, help_, v_) m[n++] = (struct ctl_metric){name_, help_, false, (double)(v_), NULL, NULL}
#define K(name_, help_, v_) m[n++] = (struct ctl_metric){name_, help_, true, (double)(v_), NULL, NULL}
	G("link_up", "1 when the module's data link is up", ctl->modem && modem_is_up(ctl->modem));
	{
		const struct modem_info *mi = ctl->modem ? modem_get_info(ctl->modem) : NULL;
		int rssi = mi ? mi->csq_rssi : -1;

		/* -1: unknown (no answer, or AT+CSQ 99) */
		G("signal_csq", "AT+CSQ signal quality 0..31 (-1: unknown)", rssi);
		G("signal_dbm", "Received signal strength in dBm from AT+CSQ (0: unknown)",
		  rssi >= 0 ? -113 + 2 * rssi : 0);
		G("signal_ber", "AT+CSQ bit error rate class 0..7 (-1: unknown)", mi ? mi->csq_ber : -1);
	}
	G("uptime_seconds", "Seconds since atbridge started", ev_now(ctl->loop) - ctl->started);
	G("tcp_flows_open", "TCP flows in the flow table", fs.open);
	G("tcp_flows_queued", "TCP flows waiting for a free module link", fs.queued);
	K("tcp_flows_accepted_total", "TCP flows the module connected", fs.accepted);
	K("tcp_flows_refused_total", "TCP flows refused (RST or unreachable)", fs.refused);
	K("tcp_queue_timeouts_total", "TCP flows that waited too long for a link", fs.queue_timeouts);
	K("tcp_refused_queue_full_total", "TCP flows refused: the admission queue was full",
	  fs.refused_queue_full);
	K("tcp_refused_source_cap_total",
	  "TCP flows refused: their client already had queue-per-source connections waiting",
	  fs.refused_source_cap);
	K("tcp_refused_table_full_total", "TCP flows refused: the flow table was full",
	  fs.refused_table_full);
	K("tcp_refused_link_down_total", "TCP flows refused: the module's data link was down",
	  fs.refused_link_down);
	K("tcp_links_reclaimed_halfclosed_total",
	  "Module links closed under half-closed flows whose server was quiet", fs.reclaimed_halfclosed);
	K("tcp_flows_reset_idle_total", "Idle TCP flows reset to give a waiting connection a link",
	  fs.reclaimed_idle);
	K("tcp_flows_reset_by_link_loss_total", "TCP flows reset when the data link was lost",
	  fs.reset_by_link_loss);
	K("tcp_bytes_up_total", "TCP payload bytes from clients to the module", fs.bytes_up);
	K("tcp_bytes_down_total", "TCP payload bytes from the module to clients", fs.bytes_down);
	G("udp_flows_open", "UDP flows open", us.open);
	G("module_links_in_use", "Module sockets in use",
	  ctl->modem && modem_is_up(ctl->modem) ? modem_max_links(ctl->modem) - modem_free_links(ctl->modem) : 0);
	G("nat_entries", "Entries in the NAT table", lc.flows);
	K("udp_datagrams_up_total", "UDP datagrams sent through the module", us.datagrams_up);
	K("udp_datagrams_down_total", "UDP datagrams received from the module", us.datagrams_down);
	K("udp_dropped_total", "UDP datagrams dropped (table or queue full, too big)",
	  us.dropped_table_full + us.dropped_queue_full + us.dropped_too_big);
	K("udp_dropped_table_full_total", "UDP datagrams dropped: the UDP flow table was full",
	  us.dropped_table_full);
	K("udp_dropped_queue_full_total", "UDP datagrams dropped: their flow's queue was full",
	  us.dropped_queue_full);
	K("udp_dropped_too_big_total", "UDP datagrams dropped: larger than one module send",
	  us.dropped_too_big);
	K("nat_table_full_total",
	  "New flows turned away because the NAT table, or their protocol's share of it, was full",
	  lc.table_full);
	K("udp_links_recycled_total", "Idle UDP links closed for another flow", us.links_recycled);
	K("dns_queries_total", "DNS queries answered by atbridge", ds.queries);
	K("dns_cache_hits_total", "DNS queries answered from the cache", ds.cache_hits);
	K("dns_lookups_total", "Lookups through the module's resolver", ds.lookups);
	K("dns_servfail_total", "DNS queries answered with SERVFAIL", ds.servfail);
	K("dns_nxdomain_total", "DNS queries answered with NXDOMAIN", ds.nxdomain);
	K("dns_refused_total", "DNS queries refused (a name no module command can carry)", ds.refused);
	K("module_bytes_sent_total", "Payload bytes sent to the module", ms.bytes_to_module);
	K("module_bytes_received_total", "Payload bytes received from the module", ms.bytes_from_module);
	K("serial_tx_bytes_total", "All bytes written to the serial line", ms.line_tx);
	K("serial_rx_bytes_total", "All bytes read from the serial line", ms.line_rx);
	K("at_commands_total", "AT commands sent", ms.commands);
	K("at_timeouts_total", "AT commands that timed out", ms.timeouts);
	K("at_errors_total", "AT commands answered with an error", ms.errors);
	K("tun_packets_in_total", "Packets read from the tun", lc.packets_in);
	K("tun_packets_out_total", "Packets written toward the tun", lc.packets_out);
	K("tun_packets_malformed_total", "Packets dropped as malformed", lc.malformed);
	K("tun_packets_unsupported_total", "Packets dropped: protocol not handled", lc.unsupported);
	n += forward_metrics(ctl, m + n);
#undef G
#undef K
	return n;
}

static void write_metrics_file(struct control *ctl)
{
	struct ctl_metric m[MAX_METRICS];
	struct sbuf s;
	char tmp[sizeof(ctl->cfg->metrics_file) + 16];
	int fd;
	bool ok;

	sbuf_init(&s, CTL_RESPONSE_MAX);
	ctl_render_metrics(&s, m, gather_metrics(ctl, m));
	/* Written aside and renamed: node_exporter never reads half a file. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", ctl->cfg->metrics_file);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	ok = fd >= 0 && !s.overflow && write(fd, s.buf, s.len) == (ssize_t)s.len;
	if (fd >= 0 && close(fd) < 0)
		ok = false;
	if (ok && rename(tmp, ctl->cfg->metrics_file) < 0)
		ok = false;
	if (!ok) {
		log_err("metrics file %s: %s", ctl->cfg->metrics_file, strerror(errno));
		unlink(tmp);
	}
	sbuf_free(&s);
}

static void on_metrics_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	write_metrics_file(w->data);
}

/* ---- requests ----------------------------------------------------------- */

static void respond(struct control *ctl, struct sbuf *out, const char *line, size_t len)
{
	struct ctl_request req;
	char err[256];

	if (!ctl_parse_request(line, len, &req, err, sizeof(err))) {
		sbuf_printf(out, "error: %s\n", err);
		return;
	}
	switch (req.cmd) {
	case CTL_STATUS: {
		struct ctl_status st;
		char ip[16];

		gather_status(ctl, &st, ip, sizeof(ip));
		ctl_render_status(out, &st, req.json);
		break;
	}
	case CTL_FLOWS: {
		struct rows r = {0};

		flow_foreach(ctl->bridge->tcp, add_row, &r);
		ctl_render_flows(out, r.v, r.n, req.json);
		free(r.v);
		break;
	}
	case CTL_METRICS: {
		struct ctl_metric m[MAX_METRICS];

		ctl_render_metrics(out, m, gather_metrics(ctl, m));
		break;
	}
	case CTL_RECONNECT:
		/* The data context is dropped and brought up again; flows are
		 * reset (link_state(false)). The answer does not wait for it. */
		if (!ctl->modem)
			sbuf_printf(out, "error: no modem\n");
		else if (modem_reconnect(ctl->modem))
			sbuf_printf(out, req.json ? "{\"reconnecting\":true}\n" : "reconnecting\n");
		else
			sbuf_printf(out, "error: the data link is not up (bring-up under way) or a transparent "
			            "link is in use; try again later\n");
		break;
	}
}

/* ---- clients ------------------------------------------------------------ */

static void client_close(struct client *cl)
{
	struct control *ctl = cl->ctl;

	ev_io_stop(ctl->loop, &cl->rw);
	ev_io_stop(ctl->loop, &cl->ww);
	ev_timer_stop(ctl->loop, &cl->idle);
	close(cl->fd);
	sbuf_free(&cl->out);
	cl->used = false;
}

static void client_flush(struct client *cl)
{
	struct control *ctl = cl->ctl;

	while (cl->out_off < cl->out.len) {
		ssize_t n = send(cl->fd, cl->out.buf + cl->out_off, cl->out.len - cl->out_off,
		                 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR) {
				ev_io_start(ctl->loop, &cl->ww);
				ev_io_stop(ctl->loop, &cl->rw);
				return;
			}
			client_close(cl);
			return;
		}
		cl->out_off += (size_t)n;
	}
	ev_io_stop(ctl->loop, &cl->ww);
	sbuf_free(&cl->out);
	cl->out_off = 0;
	if (cl->close_after_write) {
		client_close(cl);
		return;
	}
	ev_io_start(ctl->loop, &cl->rw);
}

/* Answers the first complete line in the buffer, if any. */
static bool client_serve_one(struct client *cl)
{
	char *nl = memchr(cl->in, '\n', cl->inlen);
	size_t len;

	if (!nl) {
		if (cl->inlen > CTL_REQUEST_MAX) {
			sbuf_init(&cl->out, CTL_RESPONSE_MAX);
			sbuf_printf(&cl->out, "error: request longer than %d bytes\n", CTL_REQUEST_MAX);
			ctl_end_response(&cl->out);
			cl->close_after_write = true;
			client_flush(cl);
			return false;
		}
		return false;
	}
	len = (size_t)(nl - cl->in);
	sbuf_init(&cl->out, CTL_RESPONSE_MAX);
	respond(cl->ctl, &cl->out, cl->in, len);
	ctl_end_response(&cl->out);
	memmove(cl->in, nl + 1, cl->inlen - len - 1);
	cl->inlen -= len + 1;
	client_flush(cl);
	return true;
}

static void on_client_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct client *cl = w->data;
	ssize_t n;

	(void)loop;
	(void)revents;
	n = recv(cl->fd, cl->in + cl->inlen, sizeof(cl->in) - cl->inlen, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_close(cl);
		return;
	}
	cl->inlen += (size_t)n;
	cl->last = ev_now(cl->ctl->loop);
	ev_timer_again(cl->ctl->loop, &cl->idle);
	/* One response at a time: the next line waits until this one is out. */
	while (cl->used && !ev_is_active(&cl->ww) && !cl->out.len && client_serve_one(cl))
		;
}

static void on_client_writable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct client *cl = w->data;

	(void)loop;
	(void)revents;
	client_flush(cl);
	while (cl->used && !ev_is_active(&cl->ww) && !cl->out.len && client_serve_one(cl))
		;
}

static void on_client_idle(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	client_close(w->data);
}

static uid_t peer_uid(int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return (uid_t)-1;
	return cr.uid;
}

/* A slot for a new client of uid. Idle clients never lock the others out:
 * when every slot is taken, or uid already holds CONTROL_MAX_PER_UID, the
 * connection heard from least recently (of that uid, when it is at its
 * bound) gives way, unless it is in the middle of a request or a reply. */
static struct client *client_slot(struct control *ctl, uid_t uid)
{
	struct client *free_slot = NULL, *oldest = NULL, *oldest_uid = NULL;
	int of_uid = 0;
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		struct client *c = &ctl->clients[i];
		if (!c->used) {
			if (!free_slot)
				free_slot = c;
			continue;
		}
		bool busy = c->inlen > 0 || c->out.len > 0 || ev_is_active(&c->ww);
		if (c->uid == uid)
			of_uid++;
		if (busy)
			continue;
		if (!oldest || c->last < oldest->last)
			oldest = c;
		if (c->uid == uid && (!oldest_uid || c->last < oldest_uid->last))
			oldest_uid = c;
	}
	struct client *victim = of_uid >= CONTROL_MAX_PER_UID ? oldest_uid : free_slot ? NULL : oldest;
	if (of_uid >= CONTROL_MAX_PER_UID && !victim)
		return NULL;
	if (victim) {
		log_debug("control: closing an idle client to make room");
		client_close(victim);
		return victim;
	}
	return free_slot;
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct control *ctl = w->data;
	int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct client *cl = NULL;

	(void)loop;
	(void)revents;
	if (fd < 0)
		return;
	uid_t uid = peer_uid(fd);
	cl = client_slot(ctl, uid);
	if (!cl) {
		static const char busy[] = "error: too many control clients\n\n";

		(void)!send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(fd);
		return;
	}
	memset(cl, 0, sizeof(*cl));
	cl->ctl = ctl;
	cl->used = true;
	cl->fd = fd;
	cl->uid = uid;
	cl->last = ev_now(ctl->loop);
	ev_io_init(&cl->rw, on_client_readable, fd, EV_READ);
	ev_io_init(&cl->ww, on_client_writable, fd, EV_WRITE);
	ev_timer_init(&cl->idle, on_client_idle, 0., CONTROL_IDLE_S);
	cl->rw.data = cl->ww.data = cl->idle.data = cl;
	ev_io_start(ctl->loop, &cl->rw);
	ev_timer_again(ctl->loop, &cl->idle);
}

/* ---- the socket --------------------------------------------------------- */

/* A socket file left by a daemon that died is removed; a live one means
 * another atbridge is running. */
static int clear_stale(const char *path, const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, r;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		log_err("control socket: '%s' exists and is not a socket", path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	r = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	if (r == 0) {
		log_err("control socket: another atbridge listens on '%s' (give this one its own "
		        "control-socket)", path);
		return -1;
	}
	unlink(path);
	return 0;
}

static int make_dir_of(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];

	snprintf(dir, sizeof(dir), "%s", path);
	dirname(dir);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		log_err("control socket: cannot make directory '%s': %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

static int open_socket(const char *path, unsigned mode)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	mode_t old;
	int fd, r;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (make_dir_of(path) < 0 || clear_stale(path, &sa) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	/* Created with no access for others from the first moment. */
	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || chmod(path, mode) < 0 || listen(fd, 8) < 0)
		goto fail;
	return fd;
fail:
	log_err("control socket: cannot listen on '%s': %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

/* ---- flows that make no progress ----------------------------------------
 * A flow still waiting for the module (queued, connecting, accepting) long
 * after its SYN says the module cannot serve it: one line at the default
 * level, at most once a minute while it lasts, naming the oldest. */

#define STUCK_AFTER_S 20.
#define STUCK_EVERY_S 60.

struct stuck {
	unsigned n;
	double oldest;
	char what[96];
};

static void count_stuck(void *arg, const struct flow_info *fi)
{
	struct stuck *st = arg;
	char c[24], d[24];

	if (fi->age_s < STUCK_AFTER_S || !fi->state ||
	    (strcmp(fi->state, "queued") && strcmp(fi->state, "connecting") && strcmp(fi->state, "accepting")))
		return;
	st->n++;
	if (fi->age_s > st->oldest) {
		st->oldest = fi->age_s;
		endpoint(c, sizeof(c), fi->t.src_ip, fi->t.src_port);
		endpoint(d, sizeof(d), fi->t.dst_ip, fi->t.dst_port);
		snprintf(st->what, sizeof(st->what), "%s -> %s %s", c, d, fi->state);
	}
}

static void on_stuck_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct control *ctl = w->data;
	struct stuck st = {0};

	(void)revents;
	flow_foreach(ctl->bridge->tcp, count_stuck, &st);
	if (!st.n || ev_now(loop) - ctl->stuck_logged < STUCK_EVERY_S)
		return;
	ctl->stuck_logged = ev_now(loop);
	log_info("%u flow%s waiting more than %.0f s for the module (oldest: %s for %.0f s; "
	         "atbridgectl flows lists them)", st.n, st.n == 1 ? "" : "s", STUCK_AFTER_S, st.what, st.oldest);
}

struct control *control_new(struct ev_loop *loop, const struct atb_config *cfg, const char *tun_name,
                            struct bridge *b, struct service *sv)
{
	struct control *ctl = calloc(1, sizeof(*ctl));

	if (!ctl)
		return NULL;
	ctl->listen_fd = -1;
	ctl->loop = loop;
	ctl->bridge = b;
	ctl->modem = b->modem;
	ctl->service = sv;
	ctl->cfg = cfg;
	ctl->started = ev_now(loop);
	snprintf(ctl->tun, sizeof(ctl->tun), "%s", tun_name);
	ctl->stuck_logged = -STUCK_EVERY_S;
	ev_timer_init(&ctl->stuck_w, on_stuck_timer, 5., 5.);
	ctl->stuck_w.data = ctl;
	ev_timer_start(loop, &ctl->stuck_w);
	ev_unref(loop); /* a report timer alone does not keep the loop running */
	if (cfg->control_socket[0]) {
		/* The data path is the daemon's job: without its control socket
		 * it still runs (the error says why atbridgectl cannot reach it). */
		ctl->listen_fd = open_socket(cfg->control_socket, cfg->control_mode);
		if (ctl->listen_fd < 0)
			goto metrics;
		ev_io_init(&ctl->accept_w, on_accept, ctl->listen_fd, EV_READ);
		ctl->accept_w.data = ctl;
		ev_io_start(loop, &ctl->accept_w);
		log_info("control socket %s (mode %04o)", cfg->control_socket, cfg->control_mode);
	}
metrics:
	if (cfg->metrics_file[0]) {
		ev_timer_init(&ctl->metrics_w, on_metrics_timer, 0., (double)cfg->metrics_interval_s);
		ctl->metrics_w.data = ctl;
		ev_timer_again(loop, &ctl->metrics_w);
		write_metrics_file(ctl);
	}
	return ctl;
}

void control_free(struct control *ctl)
{
	if (!ctl)
		return;
	if (ev_is_active(&ctl->stuck_w)) {
		ev_ref(ctl->loop);
		ev_timer_stop(ctl->loop, &ctl->stuck_w);
	}
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++)
		if (ctl->clients[i].used)
			client_close(&ctl->clients[i]);
	if (ctl->listen_fd >= 0) {
		ev_io_stop(ctl->loop, &ctl->accept_w);
		close(ctl->listen_fd);
		unlink(ctl->cfg->control_socket);
		ctl->listen_fd = -1;
	}
	if (ctl->cfg->metrics_file[0]) {
		ev_timer_stop(ctl->loop, &ctl->metrics_w);
		unlink(ctl->cfg->metrics_file);
	}
	free(ctl);
}

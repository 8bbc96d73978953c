/* --control PATH: a UNIX stream socket for fault injection. One command per
 * line; replies are one line "OK ..." or "ERR <reason>" (stats: one JSON line). */
#include "sim.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_CLIENTS 16
#define CLIENT_LINE 4096

struct client {
	int fd;
	ev_io rio, wio;
	struct sim_buf in, out;
	bool closing;
};

static int lfd = -1;
static ev_io lio;
static char lpath[108];
static struct client *clients[MAX_CLIENTS];

static void client_free(struct client *c)
{
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (clients[i] == c)
			clients[i] = NULL;
	ev_io_stop(S.loop, &c->rio);
	ev_io_stop(S.loop, &c->wio);
	close(c->fd);
	sim_buf_free(&c->in);
	sim_buf_free(&c->out);
	free(c);
}

static void client_flush(struct client *c)
{
	while (c->out.len) {
		ssize_t w = write(c->fd, c->out.data, c->out.len);
		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR) {
				ev_io_start(S.loop, &c->wio);
				return;
			}
			client_free(c);
			return;
		}
		sim_buf_consume(&c->out, (size_t)w);
	}
	ev_io_stop(S.loop, &c->wio);
	if (c->closing)
		client_free(c);
}

static void reply(struct client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reply(struct client *c, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	sim_buf_addf(&c->out, "%s\n", tmp);
}

/* ---- fault actions ---- */
static void stall_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)w, (void)revents;
	S.stalled = false;
	sim_serial_pump();
	sim_kick();
}

static void reboot_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)w, (void)revents;
	S.rebooting = false;
	S.in.len = 0;
	S.model->boot_urcs();
	sim_kick();
}

static void do_reboot(void)
{
	sim_link_close_all();
	S.model->reset();
	S.in.len = 0;
	S.out.len = 0;
	S.urcq.len = 0;
	S.raceq.len = 0;
	S.cmd_open = false;
	S.busy = false;
	S.rebooting = true;
	S.drop_urc = 0;
	sim_faults_clear();
	ev_timer_stop(S.loop, &S.reboot_timer);
	ev_timer_init(&S.reboot_timer, reboot_cb, 1.0, 0.);
	ev_timer_start(S.loop, &S.reboot_timer);
}

static bool parse_num(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static void json_str(struct sim_buf *b, const char *s, size_t n)
{
	sim_buf_add(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '"' || ch == '\\')
			sim_buf_addf(b, "\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			sim_buf_addf(b, "\\u%04x", ch);
		else
			sim_buf_add(b, &ch, 1);
	}
	sim_buf_add(b, "\"", 1);
}

static void stats(struct client *c)
{
	struct sim_buf *b = &c->out;
	sim_buf_addf(b, "{\"bytes_from_client\":%llu,\"bytes_to_client\":%llu,\"errors\":%llu,"
		     "\"payload_bytes\":%llu,\"payload_by_link\":[",
		     (unsigned long long)S.bytes_in, (unsigned long long)S.bytes_out,
		     (unsigned long long)S.errors, (unsigned long long)S.payload_bytes);
	for (int i = 0; i < SIM_LINKS; i++)
		sim_buf_addf(b, "%s%llu", i ? "," : "", (unsigned long long)S.payload_link[i]);
	sim_buf_addf(b, "],\"log_dropped\":%llu,\"commands\":{", (unsigned long long)S.log_dropped);
	for (int i = 0; i < S.ncounts; i++) {
		if (i)
			sim_buf_add(b, ",", 1);
		json_str(b, S.counts[i].name, strlen(S.counts[i].name));
		sim_buf_addf(b, ":%lu", S.counts[i].n);
	}
	sim_buf_addf(b, "},\"log\":[");
	size_t off = 0;
	bool first = true;
	while (off < S.cmdlog.len) {
		const char *s = (const char *)S.cmdlog.data + off;
		size_t n = strnlen(s, S.cmdlog.len - off);
		if (!first)
			sim_buf_add(b, ",", 1);
		json_str(b, s, n);
		first = false;
		off += n + 1;
	}
	sim_buf_addf(b, "]}\n");
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = tolower(ch);
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* stray <text>: printable text only, so that the line is one line */
static void stray(struct client *c, const char *arg)
{
	size_t n = arg ? strlen(arg) : 0;
	if (n == 0 || n > 1024) {
		reply(c, "ERR stray: expected 1..1024 characters of text, got '%s'", arg ? arg : "");
		return;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)arg[i] < 0x20 || arg[i] == 0x7f) {
			reply(c, "ERR stray: control character in '%s'", arg);
			return;
		}
	sim_buf_add(&S.stray, "\r\n", 2);
	sim_buf_add(&S.stray, arg, n);
	sim_buf_add(&S.stray, "\r\n", 2);
	sim_kick(); /* written now if the line is between commands */
	reply(c, "OK stray %zu", n);
}

static void command(struct client *c, char *line)
{
	char *arg = strchr(line, ' ');
	if (arg) {
		*arg++ = 0;
		while (*arg == ' ')
			arg++;
	}
	long v;
	if (!strcmp(line, "pdp-deact") && !arg) {
		S.model->pdp_deact();
		reply(c, "OK pdp-deact");
	} else if (!strcmp(line, "close")) {
		if (!arg || !parse_num(arg, 0, 7, &v))
			reply(c, "ERR close: expected a link number, got '%s'", arg ? arg : "");
		else if (!S.model->remote_close((int)v))
			reply(c, "ERR close: link %ld is not connected", v);
		else
			reply(c, "OK close %ld", v);
	} else if (!strcmp(line, "reboot") && !arg) {
		do_reboot();
		reply(c, "OK reboot");
	} else if (!strcmp(line, "garbage")) {
		size_t n = arg ? strlen(arg) : 0;
		if (n == 0 || n % 2) {
			reply(c, "ERR garbage: expected an even number of hex digits, got '%s'", arg ? arg : "");
			return;
		}
		unsigned char bytes[2048];
		if (n / 2 > sizeof bytes) {
			reply(c, "ERR garbage: at most %zu bytes", sizeof bytes);
			return;
		}
		for (size_t i = 0; i < n; i += 2) {
			int hi = hexval(arg[i]), lo = hexval(arg[i + 1]);
			if (hi < 0 || lo < 0) {
				reply(c, "ERR garbage: not hex: '%s'", arg);
				return;
			}
			bytes[i / 2] = (unsigned char)(hi << 4 | lo);
		}
		sim_out_now(bytes, n / 2);
		reply(c, "OK garbage %zu", n / 2);
	} else if (!strcmp(line, "stall")) {
		if (!arg || !parse_num(arg, 0, 600000, &v)) {
			reply(c, "ERR stall: expected milliseconds, got '%s'", arg ? arg : "");
			return;
		}
		S.stalled = true;
		ev_timer_stop(S.loop, &S.stall_timer);
		ev_timer_init(&S.stall_timer, stall_cb, v / 1000.0, 0.);
		ev_timer_start(S.loop, &S.stall_timer);
		reply(c, "OK stall %ld", v);
	} else if (!strcmp(line, "late")) {
		if (!arg || !parse_num(arg, 0, 600000, &v)) {
			reply(c, "ERR late: expected milliseconds, got '%s'", arg ? arg : "");
			return;
		}
		S.late_pending = true;
		S.late_ms = v;
		reply(c, "OK late %ld", v);
	} else if (!strcmp(line, "dup")) {
		if (!arg || !parse_num(arg, 1, 1000000, &v)) {
			reply(c, "ERR dup: expected a count from 1, got '%s'", arg ? arg : "");
			return;
		}
		S.dup = v;
		reply(c, "OK dup %ld", v);
	} else if (!strcmp(line, "stray")) {
		stray(c, arg);
	} else if (!strcmp(line, "wrong-link") && !arg) {
		S.wrong_link++;
		reply(c, "OK wrong-link");
	} else if (!strcmp(line, "drop-urc")) {
		if (!arg || !parse_num(arg, 0, 1000000, &v)) {
			reply(c, "ERR drop-urc: expected a count, got '%s'", arg ? arg : "");
			return;
		}
		S.drop_urc = v;
		reply(c, "OK drop-urc %ld", v);
	} else if (!strcmp(line, "stats") && !arg) {
		stats(c);
	} else {
		reply(c, "ERR unknown command '%s'", line);
	}
}

static void client_read(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop, (void)revents;
	struct client *c = w->data;
	char tmp[1024];
	ssize_t r = read(c->fd, tmp, sizeof tmp);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		ev_io_stop(S.loop, &c->rio);
		c->closing = true;
		client_flush(c);
		return;
	}
	sim_buf_add(&c->in, tmp, (size_t)r);
	for (;;) {
		unsigned char *nl = memchr(c->in.data, '\n', c->in.len);
		if (!nl) {
			if (c->in.len > CLIENT_LINE) {
				c->in.len = 0;
				reply(c, "ERR line too long");
			}
			break;
		}
		size_t n = (size_t)(nl - c->in.data);
		char line[CLIENT_LINE + 1];
		if (n > CLIENT_LINE) {
			reply(c, "ERR line too long");
		} else {
			memcpy(line, c->in.data, n);
			line[n] = 0;
			if (n && line[n - 1] == '\r')
				line[n - 1] = 0;
			command(c, line);
		}
		sim_buf_consume(&c->in, n + 1);
	}
	client_flush(c);
}

static void client_write(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop, (void)revents;
	client_flush(w->data);
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop, (void)w, (void)revents;
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	int slot = -1;
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (!clients[i]) {
			slot = i;
			break;
		}
	if (slot < 0) {
		static const char busy[] = "ERR too many control clients\n";
		if (write(fd, busy, sizeof busy - 1) < 0) { /* best effort */ }
		close(fd);
		return;
	}
	struct client *c = calloc(1, sizeof *c);
	if (!c) {
		close(fd);
		return;
	}
	c->fd = fd;
	ev_io_init(&c->rio, client_read, fd, EV_READ);
	ev_io_init(&c->wio, client_write, fd, EV_WRITE);
	c->rio.data = c->wio.data = c;
	ev_io_start(S.loop, &c->rio);
	clients[slot] = c;
}

bool sim_control_open(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof sa.sun_path) {
		fprintf(stderr, "atbridge-sim: --control: path too long: '%s'\n", path);
		return false;
	}
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0) {
		perror("atbridge-sim: control socket");
		return false;
	}
	unlink(path); /* a stale socket from an earlier run */
	if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) || listen(lfd, 8)) {
		fprintf(stderr, "atbridge-sim: --control: cannot listen on '%s': %s\n", path, strerror(errno));
		close(lfd);
		lfd = -1;
		return false;
	}
	snprintf(lpath, sizeof lpath, "%s", path);
	ev_io_init(&lio, accept_cb, lfd, EV_READ);
	ev_io_start(S.loop, &lio);
	return true;
}

void sim_control_close(void)
{
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (clients[i])
			client_free(clients[i]);
	if (lfd >= 0) {
		ev_io_stop(S.loop, &lio);
		close(lfd);
		unlink(lpath);
		lfd = -1;
	}
}

#include "fake_sim7000.h"

#include <ev.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define LINKS 8
#define RXCAP (256 * 1024)
#define NCMDS 64

struct flink {
	bool open;
	uint8_t rx[RXCAP]; /* echoed bytes waiting to be read */
	size_t rx_len;
	uint8_t late[RXCAP]; /* o.late_halves: echoed bytes not yet arrived */
	size_t late_len;
	uint64_t tx_total;
	unsigned ack_queries;
	bool lagging;
	double lag_until;
	bool close_after_drain;
};

struct fake {
	struct ev_loop *loop;
	struct fake_opts o;
	int fd;
	ev_io rio, wio;
	bool echo;
	char line[2048];
	size_t len;
	size_t data_want, data_link, data_got;
	uint8_t data[2048];
	uint8_t out[64 * 1024];
	size_t out_len;
	unsigned cgatt_polls;
	struct flink links[LINKS];
	struct {
		char prefix[32];
		unsigned n;
	} counts[NCMDS];
	size_t max_req;
	unsigned cstt_errors;
	bool already_done;
	unsigned send_lens[64];
	size_t n_send_lens;
	bool mute;
};

void fake_mute(struct fake *f, bool mute)
{
	f->mute = mute;
}

static void flush(struct fake *f)
{
	while (f->out_len > 0) {
		ssize_t n = write(f->fd, f->out, f->out_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ev_io_start(f->loop, &f->wio);
			return;
		}
		memmove(f->out, f->out + n, f->out_len - (size_t)n);
		f->out_len -= (size_t)n;
	}
	ev_io_stop(f->loop, &f->wio);
}

static void put(struct fake *f, const void *buf, size_t len)
{
	if (f->out_len + len > sizeof(f->out)) {
		fprintf(stderr, "fake: output overflow\n");
		abort();
	}
	memcpy(f->out + f->out_len, buf, len);
	f->out_len += len;
	flush(f);
}

static void putline(struct fake *f, const char *s)
{
	put(f, "\r\n", 2);
	put(f, s, strlen(s));
	put(f, "\r\n", 2);
}

static void putf(struct fake *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct fake *f, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	putline(f, buf);
}

void fake_urc(struct fake *f, const char *line)
{
	putline(f, line);
}

static const char *sep(const struct fake *f)
{
	return f->o.space_after_comma ? ", " : ",";
}

static void count(struct fake *f, const char *cmd)
{
	char key[32];
	size_t n = strcspn(cmd, "=?");
	if (n >= sizeof(key))
		n = sizeof(key) - 1;
	memcpy(key, cmd, n);
	key[n] = '\0';
	for (int i = 0; i < NCMDS; i++) {
		if (!f->counts[i].prefix[0]) {
			snprintf(f->counts[i].prefix, sizeof(f->counts[i].prefix), "%s", key);
			f->counts[i].n = 1;
			return;
		}
		if (!strcmp(f->counts[i].prefix, key)) {
			f->counts[i].n++;
			return;
		}
	}
}

unsigned fake_count(const struct fake *f, const char *cmd_prefix)
{
	for (int i = 0; i < NCMDS; i++)
		if (!strcmp(f->counts[i].prefix, cmd_prefix))
			return f->counts[i].n;
	return 0;
}

size_t fake_send_lengths(const struct fake *f, unsigned *out, size_t cap)
{
	size_t n = f->n_send_lens < cap ? f->n_send_lens : cap;
	memcpy(out, f->send_lens, n * sizeof(out[0]));
	return n;
}

size_t fake_max_read_req(const struct fake *f)
{
	return f->max_req;
}

static void notify(struct fake *f, int n)
{
	if (!f->o.lose_rxget_urc)
		putf(f, "+CIPRXGET: 1,%d", n);
}

void fake_remote_close(struct fake *f, int n)
{
	f->links[n].close_after_drain = true;
	putf(f, "%d%sCLOSED", n, sep(f));
}

void fake_accept_link(struct fake *f, int n, const char *ip)
{
	memset(&f->links[n], 0, sizeof(f->links[n]));
	f->links[n].open = true;
	putf(f, "%d%sREMOTE IP: %s", n, sep(f), ip);
}

static void cmd_cipstart(struct fake *f, const char *args)
{
	int n;
	char proto[8];
	unsigned a, b, c, d, port;
	if (sscanf(args, "%d,\"%7[A-Z]\",\"%u.%u.%u.%u\",%u", &n, proto, &a, &b, &c, &d, &port) != 7 ||
	    n < 0 || n >= LINKS) {
		putline(f, "ERROR");
		return;
	}
	putline(f, "OK");
	if (n == 0 && f->o.already_connect_0 && !f->already_done) {
		f->already_done = true;
		f->links[0].open = true;
		putf(f, "%d%sALREADY CONNECT", n, sep(f));
		return;
	}
	if (f->links[n].open) {
		putf(f, "%d%sALREADY CONNECT", n, sep(f));
		return;
	}
	if (f->o.refuse_port_9 && port == 9) {
		putf(f, "%d%sCONNECT FAIL", n, sep(f));
		return;
	}
	memset(&f->links[n], 0, sizeof(f->links[n]));
	f->links[n].open = true;
	putf(f, "%d%sCONNECT OK", n, sep(f));
}

static void cmd_cipsend(struct fake *f, const char *args)
{
	int n, len;
	if (sscanf(args, "%d,%d", &n, &len) != 2 || n < 0 || n >= LINKS || !f->links[n].open ||
	    len <= 0 || len > 1460 || (f->o.error_link > 0 && n == f->o.error_link)) {
		putline(f, "ERROR");
		return;
	}
	if (f->n_send_lens < 64)
		f->send_lens[f->n_send_lens++] = (unsigned)len;
	f->data_want = (size_t)len;
	f->data_link = (size_t)n;
	f->data_got = 0;
	put(f, "\r\n> ", 4);
}

static void data_complete(struct fake *f)
{
	struct flink *l = &f->links[f->data_link];
	size_t n = f->data_want;
	f->data_want = 0;
	if (f->o.send_fail_link > 0 && (size_t)f->o.send_fail_link == f->data_link) {
		putf(f, "%zu%sSEND FAIL", f->data_link, sep(f));
		return;
	}
	if (f->o.data_accept_space)
		putf(f, "DATA ACCEPT: %zu,%zu", f->data_link, n);
	else
		putf(f, "DATA ACCEPT:%zu,%zu", f->data_link, n);
	bool was_empty = l->rx_len == 0;
	if (l->rx_len + n > RXCAP) {
		fprintf(stderr, "fake: link rx overflow\n");
		abort();
	}
	size_t now = !f->o.late_halves ? n : l->late_len ? 0 : n / 2; /* order kept */
	memcpy(l->rx + l->rx_len, f->data, now);
	l->rx_len += now;
	if (l->late_len + n - now > RXCAP) {
		fprintf(stderr, "fake: link late overflow\n");
		abort();
	}
	memcpy(l->late + l->late_len, f->data + now, n - now);
	l->late_len += n - now;
	l->tx_total += n;
	if (was_empty)
		notify(f, (int)f->data_link);
}

static void cmd_ciprxget(struct fake *f, const char *args)
{
	int mode, n, req = 0;
	int k = sscanf(args, "%d,%d,%d", &mode, &n, &req);
	if (k == 1 && mode == 1) {
		putline(f, "OK");
		return;
	}
	if (k < 2 || n < 0 || n >= LINKS) {
		putline(f, "ERROR");
		return;
	}
	struct flink *l = &f->links[n];
	if (mode == 4) {
		putf(f, "+CIPRXGET: 4,%d,%zu", n, l->rx_len);
		putline(f, "OK");
		/* order kept: late bytes follow those already waiting */
		if (l->rx_len + l->late_len > RXCAP) {
			fprintf(stderr, "fake: link rx overflow\n");
			abort();
		}
		memcpy(l->rx + l->rx_len, l->late, l->late_len);
		l->rx_len += l->late_len;
		l->late_len = 0;
		return;
	}
	if (mode != 2 || k != 3 || req < 1 || req > 1460 || (f->o.error_link > 0 && n == f->o.error_link)) {
		putline(f, "ERROR");
		return;
	}
	if ((size_t)req > f->max_req)
		f->max_req = (size_t)req;
	if (f->o.urc_inside_replies)
		putf(f, "+CIPRXGET: 1,%d", (n + 1) % LINKS);
	size_t got = l->rx_len < (size_t)req ? l->rx_len : (size_t)req;
	if (f->o.rxget_manual)
		putf(f, "+CIPRXGET: 2,%d,%d,%zu", n, req, got);
	else
		putf(f, "+CIPRXGET: 2,%d,%zu,%zu", n, got, l->rx_len - got);
	put(f, l->rx, got);
	memmove(l->rx, l->rx + got, l->rx_len - got);
	l->rx_len -= got;
	putline(f, "OK");
	if (l->rx_len == 0 && l->close_after_drain)
		l->open = false;
}

static void cmd_cipack(struct fake *f, const char *args)
{
	int n = atoi(args);
	if (n < 0 || n >= LINKS) {
		putline(f, "ERROR");
		return;
	}
	struct flink *l = &f->links[n];
	uint64_t nack = 0;
	bool lag = false;
	if (f->o.ack_lag && f->o.ack_lag_ms) {
		double now = ev_time();
		if (!l->lagging) {
			l->lagging = lag = true;
			l->lag_until = now + f->o.ack_lag_ms / 1000.0;
		} else {
			lag = now < l->lag_until;
			l->lagging = lag;
		}
	} else if (f->o.ack_lag) {
		lag = l->ack_queries++ % 2 == 0;
	}
	if (lag)
		nack = l->tx_total < f->o.ack_lag ? l->tx_total : f->o.ack_lag;
	putf(f, "+CIPACK: %llu, %llu, %llu", (unsigned long long)l->tx_total,
	     (unsigned long long)(l->tx_total - nack), (unsigned long long)nack);
	putline(f, "OK");
}

static void handle(struct fake *f, const char *cmd)
{
	if (f->mute)
		return;
	if (f->echo) {
		put(f, cmd, strlen(cmd));
		put(f, "\r", 1);
	}
	count(f, cmd);
	if (!strncmp(cmd, "AT+CSTT=", 8) && f->cstt_errors++ < f->o.cstt_errors) {
		putline(f, "ERROR");
	} else if (!strcmp(cmd, "AT") || !strcmp(cmd, "AT+CMEE=1") || !strcmp(cmd, "AT+CIPMUX=1") ||
	    !strcmp(cmd, "AT+CIPQSEND=1") || !strncmp(cmd, "AT+CSTT=", 8) || !strcmp(cmd, "AT+CIICR")) {
		putline(f, "OK");
	} else if (!strncmp(cmd, "AT+CIPSERVER=1,", 15)) {
		/* app note 3.2: OK, then SERVER OK */
		putline(f, "OK");
		putline(f, "SERVER OK");
	} else if (!strcmp(cmd, "ATE0")) {
		f->echo = false;
		putline(f, "OK");
	} else if (!strcmp(cmd, "ATE1")) {
		f->echo = true;
		putline(f, "OK");
	} else if (!strncmp(cmd, "AT+CIPSTATUS=", 13)) {
		/* manual 8.2.13: the state of one link */
		int n = atoi(cmd + 13);
		if (n < 0 || n >= LINKS) {
			putline(f, "ERROR");
		} else {
			const struct flink *l = &f->links[n];
			putf(f, "+CIPSTATUS: %d,0,\"TCP\",\"127.0.0.1\",\"7\",\"%s\"", n,
			     l->open && !l->close_after_drain ? "CONNECTED" : l->open ? "REMOTE CLOSING" : "CLOSED");
			putline(f, "OK");
		}
	} else if (!strcmp(cmd, "AT+CPIN?")) {
		if (f->o.urc_inside_replies)
			putline(f, "+CIPRXGET: 1,7");
		putline(f, "+CPIN: READY");
		putline(f, "OK");
	} else if (!strcmp(cmd, "AT+CGATT?")) {
		putf(f, "+CGATT: %d", f->cgatt_polls++ < f->o.cgatt_zero_polls ? 0 : 1);
		putline(f, "OK");
	} else if (!strcmp(cmd, "AT+CIPSHUT")) {
		memset(f->links, 0, sizeof(f->links));
		putline(f, "SHUT OK");
	} else if (!strcmp(cmd, "AT+CIFSR")) {
		putline(f, "10.64.3.7");
	} else if (!strncmp(cmd, "AT+CIPSTART=", 12)) {
		cmd_cipstart(f, cmd + 12);
	} else if (!strncmp(cmd, "AT+CIPSEND=", 11)) {
		cmd_cipsend(f, cmd + 11);
	} else if (!strncmp(cmd, "AT+CIPRXGET=", 12)) {
		cmd_ciprxget(f, cmd + 12);
	} else if (!strncmp(cmd, "AT+CIPACK=", 10)) {
		cmd_cipack(f, cmd + 10);
	} else if (!strncmp(cmd, "AT+CIPCLOSE=", 12)) {
		int n = atoi(cmd + 12);
		if (n >= 0 && n < LINKS && f->links[n].open) {
			f->links[n].open = false;
			f->links[n].rx_len = 0;
			putf(f, "%d%sCLOSE OK", n, sep(f));
		} else {
			putline(f, "ERROR");
		}
	} else {
		putline(f, "ERROR");
	}
}

static void on_read(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	struct fake *f = w->data;
	uint8_t buf[4096];
	ssize_t n = read(f->fd, buf, sizeof(buf));
	if (n <= 0)
		return;
	for (ssize_t i = 0; i < n; i++) {
		if (f->data_want) {
			f->data[f->data_got++] = buf[i];
			if (f->data_got == f->data_want)
				data_complete(f);
			continue;
		}
		if (buf[i] == '\r') {
			f->line[f->len] = '\0';
			if (f->len)
				handle(f, f->line);
			f->len = 0;
		} else if (buf[i] != '\n' && f->len < sizeof(f->line) - 1) {
			f->line[f->len++] = (char)buf[i];
		}
	}
}

static void on_write(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	flush(w->data);
}

struct fake *fake_new(struct ev_loop *loop, const struct fake_opts *o, char *slave_path, size_t cap)
{
	struct fake *f = calloc(1, sizeof(*f));
	f->loop = loop;
	f->o = *o;
	f->echo = true;
	f->fd = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (f->fd < 0 || grantpt(f->fd) < 0 || unlockpt(f->fd) < 0 ||
	    ptsname_r(f->fd, slave_path, cap) != 0) {
		free(f);
		return NULL;
	}
	ev_io_init(&f->rio, on_read, f->fd, EV_READ);
	f->rio.data = f;
	ev_io_init(&f->wio, on_write, f->fd, EV_WRITE);
	f->wio.data = f;
	ev_io_start(loop, &f->rio);
	return f;
}

void fake_free(struct fake *f)
{
	ev_io_stop(f->loop, &f->rio);
	ev_io_stop(f->loop, &f->wio);
	close(f->fd);
	free(f);
}

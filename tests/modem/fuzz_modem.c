/* Fuzzer for everything the module can say: bytes from the "module" go
 * through the parser, the channel and the SIM7000 dialect, interleaved with
 * calls from a pretend bridge. After a canned bring-up and three open links,
 * the input is read as chunks: a header byte (action in the top 3 bits, chunk
 * length in the low 5) and that many bytes for the line.
 *
 * It checks the promises of modem.h: data() never exceeds the window, no
 * event names a link that is not open, closed() only once.
 *
 * The model is SIM7000 unless ATB_FUZZ_MODEL=n11v2 (or main's third
 * argument) says otherwise.
 *
 * Built with clang -fsanitize=fuzzer (-DATB_LIBFUZZER) it is a libFuzzer
 * target; otherwise main() runs seeded random inputs built from AT tokens
 * (a smoke test under ctest). */
#include <assert.h>
#include <ev.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "modem_priv.h"

#define LINKS 8

static bool n11v2;

struct harness {
	struct modem *m;
	int fd; /* the module's end */
	bool open[LINKS], connecting[LINKS];
	size_t window[LINKS];
	char cmd[512];
	size_t cmd_len;
	bool bringup_done;
};

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_modem: broken promise: %s\n", what);
		abort();
	}
}

static void ev_link_state(void *ctx, bool up, const char *ip)
{
	struct harness *h = ctx;
	(void)ip;
	if (!up)
		for (int i = 0; i < LINKS; i++)
			check(!h->open[i] && !h->connecting[i], "link_state(false) before every link ended");
}

static void ev_connected(void *ctx, int link, bool ok)
{
	struct harness *h = ctx;
	check(link >= 0 && link < LINKS && h->connecting[link], "connected() for a link not opening");
	h->connecting[link] = false;
	h->open[link] = ok;
	h->window[link] = 0;
}

static void ev_data(void *ctx, int link, const uint8_t *buf, size_t len)
{
	struct harness *h = ctx;
	(void)buf;
	check(link >= 0 && link < LINKS && h->open[link], "data() for a link not open");
	check(len <= h->window[link], "data() beyond the window");
	h->window[link] -= len;
}

static void ev_sent(void *ctx, int link, size_t len, bool ok)
{
	struct harness *h = ctx;
	(void)len;
	(void)ok;
	check(link >= 0 && link < LINKS && h->open[link], "sent() for a link not open");
}

static void ev_closed(void *ctx, int link, bool lost)
{
	(void)lost;
	struct harness *h = ctx;
	check(link >= 0 && link < LINKS && h->open[link], "closed() for a link not open");
	h->open[link] = false;
}

static void ev_resolved(void *ctx, int req, bool ok, const uint32_t *ips, size_t n)
{
	(void)ctx;
	(void)req;
	(void)ips;
	check(n <= MODEM_RESOLVE_MAX && (ok || n == 0), "resolved() address count");
}

static void ev_listening(void *ctx, uint16_t port, bool ok)
{
	(void)ctx;
	(void)ok;
	check(port == 2222, "listening() for a port never asked for");
}

/* An accepted link is open at once, on an id no flow holds. */
static void ev_accepted(void *ctx, int link, uint16_t port, uint32_t ip, uint16_t peer)
{
	struct harness *h = ctx;
	(void)port;
	(void)ip;
	(void)peer;
	check(link >= 0 && link < LINKS && !h->open[link] && !h->connecting[link], "accepted() on a busy id");
	h->open[link] = true;
	h->window[link] = 4096;
	modem_recv_window(h->m, link, 4096);
}

static const struct modem_events events = {
	.listening = ev_listening,
	.accepted = ev_accepted,
	.link_state = ev_link_state,
	.connected = ev_connected,
	.data = ev_data,
	.sent = ev_sent,
	.closed = ev_closed,
	.resolved = ev_resolved,
};

static void say(struct harness *h, const char *s)
{
	size_t n = strlen(s);
	if (write(h->fd, s, n) != (ssize_t)n)
		abort();
}

/* During bring-up and opens, answer like a well-behaved module. */
static void canned_reply(struct harness *h, const char *cmd)
{
	int n;
	if (n11v2 && !strcmp(cmd, "AT+XIIC?"))
		say(h, "\r\n+XIIC:    1,10.1.2.3\r\n\r\nOK\r\n");
	else if (n11v2 && (sscanf(cmd, "AT+TCPSETUP=%d", &n) == 1 || sscanf(cmd, "AT+UDPSETUP=%d", &n) == 1)) {
		char buf[64];
		snprintf(buf, sizeof(buf), "\r\nOK\r\n\r\n+%sSETUP: %d,OK\r\n", cmd[3] == 'U' ? "UDP" : "TCP", n);
		say(h, buf);
	} else if (!strcmp(cmd, "AT+CPIN?"))
		say(h, "\r\n+CPIN: READY\r\n\r\nOK\r\n");
	else if (!strcmp(cmd, "AT+CGATT?"))
		say(h, "\r\n+CGATT: 1\r\n\r\nOK\r\n");
	else if (!strcmp(cmd, "AT+CIPSHUT"))
		say(h, "\r\nSHUT OK\r\n");
	else if (!strcmp(cmd, "AT+CIFSR"))
		say(h, "\r\n10.1.2.3\r\n");
	else if (sscanf(cmd, "AT+CIPSTART=%d", &n) == 1) {
		char buf[64];
		snprintf(buf, sizeof(buf), "\r\nOK\r\n\r\n%d, CONNECT OK\r\n", n);
		say(h, buf);
	} else
		say(h, "\r\nOK\r\n");
}

/* Reads what the modem wrote; answers commands while scripted. */
static void drain(struct harness *h, struct ev_loop *loop)
{
	for (int round = 0; round < 64; round++) {
		ev_run(loop, EVRUN_NOWAIT);
		char buf[4096];
		ssize_t n = read(h->fd, buf, sizeof(buf));
		if (n <= 0)
			return;
		if (h->bringup_done)
			continue;
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != '\r') {
				if (h->cmd_len < sizeof(h->cmd) - 1)
					h->cmd[h->cmd_len++] = buf[i];
				continue;
			}
			h->cmd[h->cmd_len] = '\0';
			h->cmd_len = 0;
			canned_reply(h, h->cmd);
		}
	}
}

static void act(struct harness *h, unsigned action, const uint8_t *arg, size_t len)
{
	static const uint8_t junk[256 * 8];
	int link = len ? arg[0] % LINKS : 0;
	switch (action) {
	case 0:
	case 1:
		break; /* bytes only */
	case 2:
		if (h->open[link])
			modem_send(h->m, link, junk, len ? (size_t)arg[0] * 8 : 1);
		break;
	case 3:
		if (h->open[link]) {
			h->window[link] = len > 1 ? (size_t)arg[1] * 64 : 1460;
			modem_recv_window(h->m, link, h->window[link]);
		}
		break;
	case 4:
		if (h->open[link])
			modem_close(h->m, link);
		break;
	case 5: {
		int id = modem_open(h->m, (len > 1 && arg[1] & 1) ? MODEM_UDP : MODEM_TCP, 0x0100007f, 7);
		if (id >= 0) {
			check(!h->open[id] && !h->connecting[id], "modem_open() gave a busy id");
			h->connecting[id] = true;
		}
		break;
	}
	case 6:
		modem_resolve(h->m, "example.test");
		break;
	default:
		modem_ping(h->m, 0x0100007f, 100);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ev_loop *loop;
	if (!loop)
		loop = ev_loop_new(EVFLAG_AUTO);
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	struct harness h = { .fd = sv[1] };
	static bool model_read;
	if (!model_read) {
		const char *e = getenv("ATB_FUZZ_MODEL");
		n11v2 = n11v2 || (e && !strcmp(e, "n11v2"));
		model_read = true;
	}
	struct modem_config cfg = {
		.device = "fuzz", .baud = 115200, .model = n11v2 ? "n11v2" : "sim7000",
		.apn = "apn", .user = "", .password = "",
		.cmd_timeout_ms = 5000, .poll_interval_ms = 1000, .max_inflight = 4000,
	};
	h.m = modem_new_on_fd(loop, &cfg, &events, &h, sv[0]);
	if (!h.m)
		abort();
	modem_listen(h.m, 2222); /* the server side's notifications count too */
	drain(&h, loop);
	check(modem_is_up(h.m), "canned bring-up");
	for (int i = 0; i < 3; i++) {
		int id = modem_open(h.m, i == 2 ? MODEM_UDP : MODEM_TCP, 0x0100007f, 7);
		h.connecting[id] = true;
		drain(&h, loop);
		check(h.open[id], "canned connect");
		h.window[id] = 4096;
		modem_recv_window(h.m, id, 4096);
	}
	h.bringup_done = true;
	size_t i = 0;
	while (i < size) {
		unsigned hdr = data[i++];
		size_t len = hdr & 0x1f;
		if (len > size - i)
			len = size - i;
		act(&h, hdr >> 5, data + i, len);
		if (len && write(h.fd, data + i, len) != (ssize_t)len)
			break;
		i += len;
		drain(&h, loop);
	}
	modem_free(h.m);
	close(sv[1]);
	return 0;
}

#ifndef ATB_LIBFUZZER
/* Without libFuzzer: inputs assembled from what a SIM7000 says. */
static const char *tokens[] = {
	"\r\nOK\r\n", "\r\nERROR\r\n", "\r\n+CME ERROR: 3\r\n", "> ", "\r\n",
	"+CIPRXGET: 1,0\r\n", "+CIPRXGET: 1,1\r\n", "+CIPRXGET: 1,9\r\n",
	"+CIPRXGET: 2,0,5,3\r\n", "+CIPRXGET: 2,1,20,0\r\n", "+CIPRXGET: 2,2,4000,1\r\n",
	"+CIPRXGET: 2,0,99999999999,1\r\n", "+CIPRXGET: 4,0,100\r\n", "+CIPRXGET: 4,2,0\r\n",
	"DATA ACCEPT:0,100\r\n", "DATA ACCEPT: 1,8\r\n", "DATA ACCEPT:2,99999\r\n",
	"0, SEND OK\r\n", "1,SEND FAIL\r\n", "0, CLOSED\r\n", "1, CLOSED\r\n", "2,CLOSED\r\n",
	"0, CLOSE OK\r\n", "3, CONNECT OK\r\n", "4,CONNECT FAIL\r\n", "0, ALREADY CONNECT\r\n",
	"+PDP: DEACT\r\n", "+CIPACK: 100, 50, 50\r\n", "+CIPACK: 1,1,0\r\n",
	"+CDNSGIP: 1,\"example.test\",\"1.2.3.4\"\r\n", "+CDNSGIP:0,8\r\n",
	"+CDNSGIP: 1,\"x\",\"999.1.1.1\",\"1.1.1.1\",\"2.2.2.2\"\r\n",
	"+CIPPING: 1,\"127.0.0.1\",5,64\r\n", "+CIPPING: 1,\"127.0.0.1\",600,255\r\n",
	"10.0.0.1\r\n", "SHUT OK\r\n", "+CGATT: 1\r\n", "\x1a\x1b\xff\x00", "OK\r\nERROR\r\n> ",
	"99999999999999999999, CLOSED\r\n", "+CIPRXGET: 2,\r\n", "+CIPRXGET: 1,\r\n",
	/* N11V2 */
	"\r\n>", "+TCPRECV: 0\r\n", "+TCPRECV: 1\r\n", "+UDPRECV: 2,10\r\n",
	"+TCPREAD: 0,5,ab\r\nc\r\n", "+TCPREAD: 1,0,\r\n", "+TCPREAD: 0,4000,", "+UDPREAD: 2,3,abc\r\n",
	"+ UDPREAD: 2,1,x\r\n", "+TCPSEND: 0,100\r\n", "+TCPSEND: 1,8\r\n", "+UDPSEND: 2,8\r\n",
	"+TCPSEND: BUFFER NOT ENOUGH,100\r\n", "+TCPSEND: 0, OPERATION EXPIRED\r\n",
	"+TCPCLOSE: 1,Link Closed\r\n", "+TCPCLOSE: 0,OK\r\n", "+UDPCLOSE: 2,OK\r\n",
	"GPRS DISCONNECTION\r\n", "+DNS:1.2.3.4\r\n", "+DNS:OK\r\n", "+DNS:ERROR\r\n",
	"Reply from 1.1.1.1: bytes= 36 time = 5(ms), TTL = 64\r\n", "Packets: Sent = 4\r\n",
	"+TCPSETUP: 3,OK\r\n", "+TCPSETUP: 4,FAIL\r\n", "+TCPSETUP: 0,ERROR1\r\n",
	"+TCPSETUP: ERROR\r\n", "+TCPACK: 0,100,50\r\n", "+TCPACK: 1,5,9\r\n",
	/* server sockets */
	"SERVER OK\r\n", "SERVER CLOSE\r\n", "3, REMOTE IP: 1.2.3.4\r\n", "0, REMOTE IP: 1.2.3.4\r\n",
	"+TCPLISTEN: 0,OK\r\n", "Listening...\r\n", "+TCPLISTEN: bind error\r\n", "Connect\r\n",
	"AcceptSocket=3,ClientAddr=1.2.3.4,ClientPort=5\r\n", "AcceptSocket=1,ClientAddr=x,ClientPort=99999\r\n",
	"+TCPRECV(S): 3,5,abcde\r\n", "+TCPRECV(S): 3,4000,", "+TCPRECV(S): 0,3,ab",
	"+CLOSELISTEN: 3,local link closed\r\n", "+CLOSELISTEN: 0,local link closed\r\n",
	"+CLOSECLIENT: 3,remote link closed\r\n", "+TCPSENDS: 3,5\r\n", "+TCPSENDS: ERROR\r\n",
	"+TCPACKS: 3,5,5\r\n",
};

int main(int argc, char **argv)
{
	unsigned rounds = argc > 1 ? (unsigned)atoi(argv[1]) : 3000;
	srand(argc > 2 ? (unsigned)atoi(argv[2]) : 1);
	n11v2 = argc > 3 && !strcmp(argv[3], "n11v2");
	uint8_t buf[4096];
	for (unsigned r = 0; r < rounds; r++) {
		size_t n = 0;
		while (n < sizeof(buf) - 64 && rand() % 64) {
			const char *t = tokens[(size_t)rand() % (sizeof(tokens) / sizeof(tokens[0]))];
			/* a chunk carries at most 31 bytes: longer tokens are split */
			size_t off = 0;
			size_t full = t[0] == '\x1a' ? 4 : strlen(t);
			while (off < full && n < sizeof(buf) - 40) {
				size_t k = full - off < 31 ? full - off : 31;
				unsigned action = rand() % 4 == 0 ? (unsigned)(rand() % 8) : 0;
				buf[n++] = (uint8_t)(action << 5 | k);
				memcpy(buf + n, t + off, k);
				n += k;
				off += k;
			}
			if (rand() % 8 == 0 && n < sizeof(buf) - 40) { /* raw random bytes too */
				size_t k = (size_t)(rand() % 31);
				buf[n++] = (uint8_t)((unsigned)(rand() % 8) << 5 | k);
				for (size_t j = 0; j < k; j++)
					buf[n++] = (uint8_t)rand();
			}
		}
		LLVMFuzzerTestOneInput(buf, n);
	}
	printf("fuzz_modem: %u inputs, no broken promise\n", rounds);
	return 0;
}
#endif

/* ICMP echo through the bridge and IPv6 fail-fast, driven through
 * lwip_port_input like the rest of test_lwip (linked into it; main() in
 * test_lwip.c runs these too). Every checksum lwip_port builds is checked
 * by a full recompute with tp_csum_naive, which shares no code with it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <arpa/inet.h>

#include "lwip_port.h"
#include "packet.h"
#include "testpkt.h"

#include "test_lwip_icmp_ip6.h"

/* the port under test */
static struct lwip_port *lp;

#define CLIENT  "10.0.0.2"
#define TARGET  "203.0.113.9"
#define CLIENT6 "2001:db8::2"
#define SERVER6 "2001:db8:1::7"
#define MAX_OUT 64

static struct {
	int echoes;
	struct lwip_port_echo last;  /* data points at data[] below */
	uint8_t data[LWIP_PORT_ECHO_MAX];
	bool reply_inside;
	uint8_t out[MAX_OUT][1600];
	size_t out_len[MAX_OUT];
	int nout;
} E;

static void cb_output(void *ctx, const uint8_t *pkt, size_t len)
{
	(void)ctx;
	assert_true(len <= sizeof E.out[0]);
	assert_true(E.nout < MAX_OUT);
	memcpy(E.out[E.nout], pkt, len);
	E.out_len[E.nout++] = len;
}

static void cb_echo(void *ctx, const struct lwip_port_echo *e)
{
	(void)ctx;
	E.echoes++;
	assert_true(e->len <= sizeof E.data);
	E.last = *e;
	memcpy(E.data, e->data, e->len);
	E.last.data = E.data;
	if (E.reply_inside)
		assert_int_equal(lwip_port_icmp_echo_reply(lp, e), 0);
}

static const struct lwip_port_callbacks cbs_echo = {
	.output = cb_output,
	.icmp_echo = cb_echo,
};

static int setup_mtu(uint16_t mtu)
{
	struct lwip_port_config cfg = {
		.netif_ip = tp_ip("192.0.0.1"),
		.mtu = mtu,
		.max_flows = 4,
		.hold_timeout_ms = 200,
	};

	memset(&E, 0, sizeof E);
	lp = lwip_port_new(NULL, &cfg, &cbs_echo, NULL);
	return lp ? 0 : -1;
}

static int setup(void **state)
{
	(void)state;
	return setup_mtu(1500);
}

static int setup_small_mtu(void **state)
{
	(void)state;
	return setup_mtu(576);
}

static int teardown(void **state)
{
	(void)state;
	lwip_port_free(lp);
	return 0;
}

static size_t echo(uint8_t *pkt, uint8_t type, uint8_t code, uint16_t id, uint16_t seq,
                   const void *data, size_t len)
{
	return tp_build_echo(pkt, &(struct tp_echo){ .src = CLIENT, .dst = TARGET,
		.type = type, .code = code, .id = id, .seq = seq, .ttl = 61,
		.data = data, .len = len });
}

static struct lwip_port_counters counters(void)
{
	struct lwip_port_counters c;

	lwip_port_get_counters(lp, &c);
	return c;
}

/* ---- ICMP echo ------------------------------------------------------------ */

static void test_echo_request_reaches_bridge(void **state)
{
	uint8_t pkt[256];
	size_t len = echo(pkt, 8, 0, 0x1234, 7, "abcdefgh", 8);

	(void)state;
	lwip_port_input(lp, pkt, len);
	assert_int_equal(E.echoes, 1);
	assert_int_equal(E.last.src, tp_ip(CLIENT));
	assert_int_equal(E.last.dst, tp_ip(TARGET));
	assert_int_equal(E.last.id, 0x1234);
	assert_int_equal(E.last.seq, 7);
	assert_int_equal(E.last.ttl, 61);
	assert_int_equal(E.last.len, 8);
	assert_memory_equal(E.last.data, "abcdefgh", 8);
	assert_int_equal(E.nout, 0); /* nothing answered on its own */

	/* empty payload, trailing bytes beyond the IP total length ignored */
	len = echo(pkt, 8, 0, 1, 2, NULL, 0);
	lwip_port_input(lp, pkt, len + 5);
	assert_int_equal(E.echoes, 2);
	assert_int_equal(E.last.len, 0);
	assert_int_equal(counters().malformed, 0);
	assert_int_equal(counters().unsupported, 0);
}

static void test_echo_bad_requests_never_reach_bridge(void **state)
{
	uint8_t good[256], pkt[256];
	size_t len = echo(good, 8, 0, 9, 9, "payload!", 8);
	struct lwip_port_counters c;

	(void)state;
	memcpy(pkt, good, len);
	pkt[len - 1] ^= 1; /* ICMP checksum */
	lwip_port_input(lp, pkt, len);
	memcpy(pkt, good, len);
	pkt[22] ^= 0x80; /* checksum field itself */
	lwip_port_input(lp, pkt, len);
	for (size_t n = 0; n < len; n++) /* every truncation */
		lwip_port_input(lp, good, n);
	/* an IP total length leaving fewer than 8 ICMP bytes, header fixed */
	memcpy(pkt, good, len);
	pkt[3] = 27;
	pkt[10] = pkt[11] = 0;
	{
		uint16_t ck = htons(tp_csum_naive(pkt, 20, (const void *)NULL));
		memcpy(pkt + 10, &ck, 2);
	}
	lwip_port_input(lp, pkt, len);
	assert_int_equal(E.echoes, 0);
	c = counters();
	assert_int_equal(c.malformed, 3 + len);

	/* well formed but not echo requests: unsupported */
	len = echo(pkt, 0, 0, 1, 1, "x", 1); /* echo reply */
	lwip_port_input(lp, pkt, len);
	len = echo(pkt, 8, 1, 1, 1, "x", 1); /* code 1 */
	lwip_port_input(lp, pkt, len);
	len = echo(pkt, 3, 3, 1, 1, "x", 1); /* port unreachable from the client */
	lwip_port_input(lp, pkt, len);
	len = tp_build_echo(pkt, &(struct tp_echo){ .src = CLIENT, .dst = "224.0.0.1",
		.type = 8, .id = 1, .seq = 1 });
	lwip_port_input(lp, pkt, len);
	len = tp_build_echo(pkt, &(struct tp_echo){ .src = CLIENT, .dst = "255.255.255.255",
		.type = 8, .id = 1, .seq = 1 });
	lwip_port_input(lp, pkt, len);
	assert_int_equal(E.echoes, 0);
	assert_int_equal(counters().unsupported, 5);
	assert_int_equal(E.nout, 0);
}

static void test_echo_payload_bound(void **state)
{
	static uint8_t big[1600], pkt[1700];
	size_t len;

	(void)state;
	assert_int_equal(lwip_port_echo_max(lp), 1472);
	len = echo(pkt, 8, 0, 1, 1, big, 1472);
	lwip_port_input(lp, pkt, len);
	assert_int_equal(E.echoes, 1);
	len = echo(pkt, 8, 0, 1, 2, big, 1473);
	lwip_port_input(lp, pkt, len);
	assert_int_equal(E.echoes, 1);
	assert_int_equal(counters().icmp_echo_too_big, 1);

	struct lwip_port_echo r = { .src = tp_ip(CLIENT), .dst = tp_ip(TARGET),
		.data = big, .len = 1473 };
	assert_int_equal(lwip_port_icmp_echo_reply(lp, &r), -1);
	assert_int_equal(counters().icmp_reply_too_big, 1);
	assert_int_equal(E.nout, 0);
	r.len = 1472;
	assert_int_equal(lwip_port_icmp_echo_reply(lp, &r), 0);
	assert_int_equal(E.out_len[0], 1500);
}

static void test_echo_payload_bound_follows_mtu(void **state)
{
	uint8_t pkt[700], data[600] = { 0 };
	size_t len;

	(void)state;
	assert_int_equal(lwip_port_echo_max(lp), 576 - 28);
	len = echo(pkt, 8, 0, 1, 1, data, 576 - 28 + 1);
	lwip_port_input(lp, pkt, len);
	assert_int_equal(E.echoes, 0);
	assert_int_equal(counters().icmp_echo_too_big, 1);
}

/* The reply as a byte-exact expectation: every field written out here. */
static void check_reply(const uint8_t *p, size_t plen, uint16_t id, uint16_t seq,
                        uint8_t ttl, const uint8_t *data, size_t len)
{
	uint32_t a;

	assert_int_equal(plen, 28 + len);
	assert_int_equal(p[0], 0x45);
	assert_int_equal(p[1], 0);
	assert_int_equal(tp_rd16(p + 2), 28 + len);
	assert_int_equal(tp_rd16(p + 6) & 0x3fff, 0); /* not a fragment */
	assert_int_equal(p[8], ttl);
	assert_int_equal(p[9], 1);
	memcpy(&a, p + 12, 4);
	assert_int_equal(a, tp_ip(TARGET)); /* from the pinged address */
	memcpy(&a, p + 16, 4);
	assert_int_equal(a, tp_ip(CLIENT));
	assert_int_equal(tp_csum_naive(p, 20, (const void *)NULL), 0);
	assert_int_equal(p[20], 0); /* echo reply */
	assert_int_equal(p[21], 0);
	assert_int_equal(tp_rd16(p + 24), id);
	assert_int_equal(tp_rd16(p + 26), seq);
	if (len)
		assert_memory_equal(p + 28, data, len);
	assert_int_equal(tp_csum_naive(p + 20, 8 + len, (const void *)NULL), 0);
}

static void test_echo_reply_byte_correct(void **state)
{
	uint8_t pkt[256], data[101];
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)(i * 37 + 1);
	/* odd length: the checksum's padding byte matters */
	len = echo(pkt, 8, 0, 0xbeef, 0xfffe, data, sizeof data);
	lwip_port_input(lp, pkt, len);
	assert_int_equal(E.echoes, 1);

	/* the bridge answers later from its copy; TTL as the module saw it */
	struct lwip_port_echo copy = E.last;
	copy.ttl = 52;
	memset(pkt, 0, sizeof pkt); /* the request's buffer is long gone */
	assert_int_equal(lwip_port_icmp_echo_reply(lp, &copy), 0);
	assert_int_equal(E.nout, 1);
	check_reply(E.out[0], E.out_len[0], 0xbeef, 0xfffe, 52, data, sizeof data);

	/* ttl 0 means 64; a reply from inside the callback works too */
	E.reply_inside = true;
	len = echo(pkt, 8, 0, 3, 4, "ping", 4);
	lwip_port_input(lp, pkt, len);
	assert_int_equal(E.nout, 2);
	check_reply(E.out[1], E.out_len[1], 3, 4, 61, (const uint8_t *)"ping", 4);
	copy = E.last;
	copy.ttl = 0;
	assert_int_equal(lwip_port_icmp_echo_reply(lp, &copy), 0);
	check_reply(E.out[2], E.out_len[2], 3, 4, 64, (const uint8_t *)"ping", 4);

	/* the reply parses as a valid echo with pkt_parse_echo's rules, but it
	 * is not a request */
	struct lwip_port_echo back;
	assert_int_equal(pkt_parse_echo(E.out[2], E.out_len[2], &back), PKT_UNSUPPORTED);
	assert_int_equal(counters().packets_out, 3);
}

static void test_echo_random_payloads(void **state)
{
	static uint8_t pkt[1600], data[1472];

	(void)state;
	srand(4242);
	for (int i = 0; i < 300; i++) {
		size_t n = (size_t)rand() % (sizeof data + 1);
		uint16_t id = (uint16_t)rand(), seq = (uint16_t)rand();

		for (size_t k = 0; k < n; k++)
			data[k] = (uint8_t)rand();
		lwip_port_input(lp, pkt, echo(pkt, 8, 0, id, seq, data, n));
		assert_int_equal(E.echoes, 1);
		assert_int_equal(lwip_port_icmp_echo_reply(lp, &E.last), 0);
		check_reply(E.out[0], E.out_len[0], id, seq, 61, data, n);
		E.echoes = 0;
		E.nout = 0;
	}
}

/* ---- IPv6 ------------------------------------------------------------------ */

static size_t ip6_tcp(uint8_t *out, uint16_t sport, uint32_t seq, uint32_t ack,
                      uint8_t flags, const char *data)
{
	uint8_t l4[128];
	size_t n = tp_tcp_hdr(l4, sport, 443, seq, ack, flags, data, data ? strlen(data) : 0);

	return tp_build_ip6(out, &(struct tp_ip6){ .src = CLIENT6, .dst = SERVER6,
		.next = 6, .l4 = l4, .l4len = n, .csum_off = 16 });
}

static size_t ip6_udp(uint8_t *out, const char *src, const char *dst, uint16_t sport,
                      const void *data, size_t len)
{
	static uint8_t l4[1600];
	size_t n = tp_udp_hdr(l4, sport, 53, data, len);

	return tp_build_ip6(out, &(struct tp_ip6){ .src = src, .dst = dst,
		.next = 17, .l4 = l4, .l4len = n, .csum_off = 6 });
}

static void check_ip6_from_server(const uint8_t *p, size_t len, uint8_t next)
{
	uint8_t a[16];

	assert_true(len >= 40);
	assert_int_equal(p[0], 0x60);
	assert_int_equal(40 + tp_rd16(p + 4), len);
	assert_int_equal(p[6], next);
	assert_true(p[7] > 0);
	inet_pton(AF_INET6, SERVER6, a);
	assert_memory_equal(p + 8, a, 16);
	inet_pton(AF_INET6, CLIENT6, a);
	assert_memory_equal(p + 24, a, 16);
	assert_true(tp_ip6_l4_csum_ok(p, 40, next));
}

static void test_ip6_syn_gets_rst(void **state)
{
	uint8_t pkt[256];
	const uint8_t *r;

	(void)state;
	lwip_port_input(lp, pkt, ip6_tcp(pkt, 50000, 0xfffffff0, 0, TCPF_SYN, NULL));
	assert_int_equal(E.nout, 1);
	r = E.out[0];
	check_ip6_from_server(r, E.out_len[0], 6);
	assert_int_equal(E.out_len[0], 60);
	assert_int_equal(tp_rd16(r + 40), 443);
	assert_int_equal(tp_rd16(r + 42), 50000);
	assert_int_equal(tp_rd32(r + 44), 0);
	assert_int_equal(tp_rd32(r + 48), 0xfffffff1); /* ISN + 1 */
	assert_int_equal(r[52] >> 4, 5);
	assert_int_equal(r[53], TCPF_RST | TCPF_ACK);

	/* SYN with data (TFO style): ack covers it; wraps */
	lwip_port_input(lp, pkt, ip6_tcp(pkt, 50001, 0xfffffffe, 0, TCPF_SYN, "hey"));
	assert_int_equal(E.nout, 2);
	check_ip6_from_server(E.out[1], E.out_len[1], 6);
	assert_int_equal(tp_rd32(E.out[1] + 48), 2);

	/* a stray ACK gets the plain RST, seq = its ack */
	lwip_port_input(lp, pkt, ip6_tcp(pkt, 50002, 100, 777, TCPF_ACK, "data"));
	assert_int_equal(E.nout, 3);
	check_ip6_from_server(E.out[2], E.out_len[2], 6);
	assert_int_equal(tp_rd32(E.out[2] + 44), 777);
	assert_int_equal(E.out[2][53], TCPF_RST);

	/* a RST is never answered */
	lwip_port_input(lp, pkt, ip6_tcp(pkt, 50003, 1, 0, TCPF_RST, NULL));
	assert_int_equal(E.nout, 3);

	/* RSTs are not rate limited */
	for (int i = 0; i < 30; i++)
		lwip_port_input(lp, pkt, ip6_tcp(pkt, (uint16_t)(51000 + i), 1, 0, TCPF_SYN, NULL));
	assert_int_equal(E.nout, 33);
	struct lwip_port_counters c = counters();
	assert_int_equal(c.ip6_rst, 33);
	assert_int_equal(c.ip6_dropped, 1);
	assert_int_equal(c.ip6_unreach + c.ip6_rate_limited + c.malformed + c.unsupported, 0);
}

static void check_unreach(int n, uint8_t code, const uint8_t *orig, size_t orig_len)
{
	const uint8_t *r = E.out[n];
	size_t quote = orig_len < 1280 - 48 ? orig_len : 1280 - 48;

	check_ip6_from_server(r, E.out_len[n], 58);
	assert_int_equal(E.out_len[n], 48 + quote);
	assert_int_equal(r[40], 1);
	assert_int_equal(r[41], code);
	assert_int_equal(tp_rd32(r + 44), 0);
	assert_memory_equal(r + 48, orig, quote);
}

static void test_ip6_udp_gets_unreachable_rate_limited(void **state)
{
	uint8_t pkt[1600], big[1400];
	size_t len;
	struct lwip_port_counters c;

	(void)state;
	len = ip6_udp(pkt, CLIENT6, SERVER6, 40000, "query", 5);
	lwip_port_input(lp, pkt, len);
	assert_int_equal(E.nout, 1);
	check_unreach(0, 4, pkt, len);

	/* quotes as much as fits in 1280 bytes */
	memset(big, 0xa5, sizeof big);
	len = ip6_udp(pkt, CLIENT6, SERVER6, 40001, big, sizeof big);
	lwip_port_input(lp, pkt, len);
	assert_int_equal(E.nout, 2);
	assert_int_equal(E.out_len[1], 1280);
	check_unreach(1, 4, pkt, len);

	/* the bucket held 10: 8 more pass, then nothing (allow one refill
	 * token in case the clock moved 100 ms on a slow machine) */
	for (int i = 0; i < 40; i++)
		lwip_port_input(lp, pkt, ip6_udp(pkt, CLIENT6, SERVER6, 40002, "q", 1));
	c = counters();
	assert_in_range(c.ip6_unreach, 10, 11);
	assert_int_equal(c.ip6_unreach + c.ip6_rate_limited, 42);
	assert_int_equal(E.nout, (int)c.ip6_unreach);

	/* refills at 10/s */
	usleep(350 * 1000);
	for (int i = 0; i < 10; i++)
		lwip_port_input(lp, pkt, ip6_udp(pkt, CLIENT6, SERVER6, 40003, "q", 1));
	assert_in_range(counters().ip6_unreach - c.ip6_unreach, 3, 5);
	/* TCP RSTs are not held back by the spent bucket */
	lwip_port_input(lp, pkt, ip6_tcp(pkt, 50000, 1, 0, TCPF_SYN, NULL));
	assert_int_equal(counters().ip6_rst, 1);
}

static void test_ip6_other_protocols_and_ext_headers(void **state)
{
	uint8_t pkt[512], l4[64], ext[16];
	size_t len;
	uint8_t a[16];

	(void)state;
	/* SCTP (132): code 1 */
	memset(l4, 0x11, 12);
	len = tp_build_ip6(pkt, &(struct tp_ip6){ .src = CLIENT6, .dst = SERVER6,
		.next = 132, .l4 = l4, .l4len = 12 });
	lwip_port_input(lp, pkt, len);
	assert_int_equal(E.nout, 1);
	check_unreach(0, 1, pkt, len);

	/* UDP behind a destination options header: still port unreachable */
	memset(ext, 0, sizeof ext);
	ext[0] = 17;        /* next: UDP */
	ext[1] = 0;         /* 8 bytes */
	ext[2] = 1;         /* PadN, 4 bytes of padding */
	ext[3] = 4;
	size_t n = tp_udp_hdr(l4, 9, 53, "dns", 3);
	len = tp_build_ip6(pkt, &(struct tp_ip6){ .src = CLIENT6, .dst = SERVER6,
		.next = 17, .first_next = 60, .ext = ext, .extlen = 8, .l4 = l4, .l4len = n,
		.csum_off = 6 });
	lwip_port_input(lp, pkt, len);
	assert_int_equal(E.nout, 2);
	check_unreach(1, 4, pkt, len);

	/* TCP SYN behind a hop-by-hop header: RST */
	ext[0] = 6;
	n = tp_tcp_hdr(l4, 7, 443, 99, 0, TCPF_SYN, NULL, 0);
	len = tp_build_ip6(pkt, &(struct tp_ip6){ .src = CLIENT6, .dst = SERVER6,
		.next = 6, .first_next = 0, .ext = ext, .extlen = 8, .l4 = l4, .l4len = n,
		.csum_off = 16 });
	lwip_port_input(lp, pkt, len);
	assert_int_equal(E.nout, 3);
	check_ip6_from_server(E.out[2], E.out_len[2], 6);
	assert_int_equal(tp_rd32(E.out[2] + 48), 100);

	/* a first fragment: code 1 (no checksum to verify without the rest) */
	memset(ext, 0, sizeof ext);
	ext[0] = 17;
	ext[3] = 1;         /* offset 0, M set */
	ext[7] = 42;        /* identification */
	len = tp_build_ip6(pkt, &(struct tp_ip6){ .src = CLIENT6, .dst = SERVER6,
		.next = 17, .first_next = 44, .ext = ext, .extlen = 8, .l4 = l4, .l4len = 16 });
	lwip_port_input(lp, pkt, len);
	assert_int_equal(E.nout, 4);
	check_unreach(3, 1, pkt, len);

	/* later fragments, and ICMPv6 in a first fragment: quiet */
	ext[2] = 0x05;      /* offset 160 bytes */
	lwip_port_input(lp, pkt, tp_build_ip6(pkt, &(struct tp_ip6){ .src = CLIENT6,
		.dst = SERVER6, .next = 17, .first_next = 44, .ext = ext, .extlen = 8,
		.l4 = l4, .l4len = 16 }));
	ext[0] = 58;
	ext[2] = 0;
	lwip_port_input(lp, pkt, tp_build_ip6(pkt, &(struct tp_ip6){ .src = CLIENT6,
		.dst = SERVER6, .next = 58, .first_next = 44, .ext = ext, .extlen = 8,
		.l4 = l4, .l4len = 16 }));
	assert_int_equal(E.nout, 4);
	assert_int_equal(counters().ip6_dropped, 2);

	/* the source address as the client wrote it is the destination */
	inet_pton(AF_INET6, CLIENT6, a);
	assert_memory_equal(E.out[0] + 24, a, 16);
}

static void test_ip6_quiet_drops(void **state)
{
	uint8_t pkt[256], l4[64];
	size_t n;
	struct lwip_port_counters c;

	(void)state;
	/* neighbour solicitation to a solicited-node multicast address */
	memset(l4, 0, 24);
	l4[0] = 135;
	n = tp_build_ip6(pkt, &(struct tp_ip6){ .src = "fe80::2", .dst = "ff02::1:ff00:7",
		.next = 58, .l4 = l4, .l4len = 24, .csum_off = 2 });
	lwip_port_input(lp, pkt, n);
	/* ICMPv6 echo request to a unicast address: also quiet */
	memset(l4, 0, 16);
	l4[0] = 128;
	n = tp_build_ip6(pkt, &(struct tp_ip6){ .src = CLIENT6, .dst = SERVER6,
		.next = 58, .l4 = l4, .l4len = 16, .csum_off = 2 });
	lwip_port_input(lp, pkt, n);
	/* UDP to multicast (mDNS), from the unspecified and loopback addresses */
	lwip_port_input(lp, pkt, ip6_udp(pkt, CLIENT6, "ff02::fb", 5353, "m", 1));
	lwip_port_input(lp, pkt, ip6_udp(pkt, "::", SERVER6, 5353, "m", 1));
	lwip_port_input(lp, pkt, ip6_udp(pkt, "::1", SERVER6, 5353, "m", 1));
	lwip_port_input(lp, pkt, ip6_udp(pkt, CLIENT6, "::", 5353, "m", 1));
	assert_int_equal(E.nout, 0);
	c = counters();
	assert_int_equal(c.ip6_dropped, 6);
	assert_int_equal(c.packets_in, 6);
}

static void test_ip6_malformed(void **state)
{
	uint8_t good[256], pkt[256], ext[8] = { 17, 1 }; /* claims 16 bytes */
	size_t len;
	struct lwip_port_counters c;
	uint64_t expect = 0;

	(void)state;
	len = ip6_tcp(good, 50000, 1, 0, TCPF_SYN, "abc");
	for (size_t n = 1; n < len; n++) { /* short header, payload beyond buffer */
		lwip_port_input(lp, good, n);
		expect++;
	}
#define MUTATE(stmt) do { memcpy(pkt, good, len); stmt; lwip_port_input(lp, pkt, len); \
		expect++; } while (0)
	MUTATE(pkt[len - 1] ^= 1);                 /* TCP checksum */
	MUTATE(pkt[5]++);                          /* payload length beyond buffer */
	MUTATE(pkt[52] = 0x40);                    /* data offset 4 */
	MUTATE(pkt[52] = 0xf0);                    /* data offset beyond */
	MUTATE((pkt[4] = 0, pkt[5] = 19));         /* TCP header cut by payload length */
#undef MUTATE
	/* UDP: zero checksum, wrong length */
	len = ip6_udp(pkt, CLIENT6, SERVER6, 1, "x", 1);
	pkt[46] = pkt[47] = 0;
	lwip_port_input(lp, pkt, len);
	len = ip6_udp(pkt, CLIENT6, SERVER6, 1, "x", 1);
	pkt[45]++;
	lwip_port_input(lp, pkt, len);
	/* truncated extension header */
	len = tp_build_ip6(pkt, &(struct tp_ip6){ .src = CLIENT6, .dst = SERVER6,
		.next = 17, .first_next = 60, .ext = ext, .extlen = 8 });
	lwip_port_input(lp, pkt, len);
	expect += 3;
	assert_int_equal(E.nout, 0);
	c = counters();
	assert_int_equal(c.malformed, expect);
	assert_int_equal(c.packets_in, expect);
}

/* A tun MTU below 1280 (IPv6 cannot run there, but the config allows it):
 * errors are cut to the MTU. */
static void test_ip6_error_fits_small_mtu(void **state)
{
	uint8_t pkt[1600], big[1000];
	size_t len;

	(void)state;
	memset(big, 7, sizeof big);
	len = ip6_udp(pkt, CLIENT6, SERVER6, 40001, big, sizeof big);
	lwip_port_input(lp, pkt, len);
	assert_int_equal(E.nout, 1);
	assert_int_equal(E.out_len[0], 576);
	check_ip6_from_server(E.out[0], E.out_len[0], 58);
	assert_memory_equal(E.out[0] + 48, pkt, 576 - 48);
}

int test_lwip_icmp_ip6_run(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_echo_request_reaches_bridge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_echo_bad_requests_never_reach_bridge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_echo_payload_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_echo_payload_bound_follows_mtu, setup_small_mtu, teardown),
		cmocka_unit_test_setup_teardown(test_echo_reply_byte_correct, setup, teardown),
		cmocka_unit_test_setup_teardown(test_echo_random_payloads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ip6_syn_gets_rst, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ip6_udp_gets_unreachable_rate_limited, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ip6_other_protocols_and_ext_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ip6_quiet_drops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ip6_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ip6_error_fits_small_mtu, setup_small_mtu, teardown),
	};
	return cmocka_run_group_tests_name("lwip_icmp_ip6", tests, NULL, NULL);
}

/* Checksums, packet validation and the NAT rewrite, without lwIP. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>

#include "checksum.h"
#include "ip6.h"
#include "nat.h"
#include "packet.h"
#include "testpkt.h"

static uint16_t full_ip_csum(uint8_t *pkt)
{
	uint16_t saved, c;

	memcpy(&saved, pkt + 10, 2);
	memset(pkt + 10, 0, 2);
	c = csum_finish(csum_partial(pkt, (size_t)(pkt[0] & 15) * 4, 0));
	memcpy(pkt + 10, &saved, 2);
	return c;
}

static bool tcp_csum_ok(const uint8_t *pkt, size_t len)
{
	size_t ihl = (size_t)(pkt[0] & 15) * 4;
	uint32_t s, d;

	memcpy(&s, pkt + 12, 4);
	memcpy(&d, pkt + 16, 4);
	return csum_finish(csum_partial(pkt + ihl, len - ihl,
	                                csum_pseudo_v4(s, d, 6, (uint16_t)(len - ihl)))) == 0;
}

/* Random packets, random field changes: the incremental update must give a
 * checksum that verifies, exactly like a full recompute. */
static void test_incremental_vs_full(void **state)
{
	(void)state;
	srand(12345);
	for (int iter = 0; iter < 20000; iter++) {
		uint8_t pkt[1600];
		size_t plen = (size_t)(rand() % 1400);
		uint8_t payload[1400];
		uint32_t newip;
		uint16_t newport, c_inc, c_full;

		for (size_t i = 0; i < plen; i++)
			payload[i] = (uint8_t)rand();
		size_t len = tp_build_tcp(pkt, &(struct tp_tcp){
			.src = "10.1.2.3", .dst = "198.51.100.9", .sport = (uint16_t)rand(),
			.dport = (uint16_t)rand(), .seq = (uint32_t)rand(), .ack = (uint32_t)rand(),
			.flags = TCPF_ACK, .data = payload, .len = plen });
		newip = (uint32_t)rand() ^ ((uint32_t)rand() << 16);
		newport = (uint16_t)rand();
		if (iter % 7 == 0)
			newip = 0; /* edge values */
		if (iter % 11 == 0)
			newip = 0xffffffffu;
		/* change src address and src port incrementally */
		uint32_t oldip;
		uint16_t oldport;
		memcpy(&oldip, pkt + 12, 4);
		memcpy(&oldport, pkt + 20, 2);
		memcpy(pkt + 12, &newip, 4);
		memcpy(pkt + 20, &newport, 2);
		csum_update32(pkt + 10, oldip, newip);
		csum_update32(pkt + 36, oldip, newip);
		csum_update16(pkt + 36, oldport, newport);
		/* IP header: verify and compare against a full recompute */
		assert_int_equal(csum_finish(csum_partial(pkt, 20, 0)), 0);
		memcpy(&c_inc, pkt + 10, 2);
		c_full = full_ip_csum(pkt);
		/* both represent the same sum; 0x0000 and 0xffff are equivalent */
		assert_true(c_inc == c_full || (uint16_t)(c_inc ^ c_full) == 0xffff);
		assert_true(tcp_csum_ok(pkt, len));
	}
}

static void test_parse_ok(void **state)
{
	uint8_t pkt[200];
	struct pkt_view v;
	size_t len;

	(void)state;
	len = tp_build_tcp(pkt, &(struct tp_tcp){ .src = "10.0.0.2", .dst = "198.51.100.7",
		.sport = 40000, .dport = 80, .seq = 1000, .flags = TCPF_SYN,
		.data = "abc", .len = 3 });
	assert_int_equal(pkt_parse(pkt, len, &v), PKT_OK);
	assert_int_equal(v.len, len);
	assert_int_equal(ntohs(v.sport), 40000);
	assert_int_equal(ntohs(v.dport), 80);
	assert_int_equal(v.seq, 1000);
	assert_int_equal(pkt_seg_len(&v), 4);
	/* trailing garbage beyond the total length is ignored */
	assert_int_equal(pkt_parse(pkt, len + 10, &v), PKT_OK);
}

static void test_parse_malformed(void **state)
{
	uint8_t good[200], pkt[200];
	struct pkt_view v;
	size_t len;

	(void)state;
	len = tp_build_tcp(good, &(struct tp_tcp){ .src = "10.0.0.2", .dst = "198.51.100.7",
		.sport = 40000, .dport = 80, .seq = 1, .flags = TCPF_ACK, .data = "hello", .len = 5 });

	/* every truncation is malformed */
	for (size_t n = 0; n < len; n++)
		assert_int_equal(pkt_parse(good, n, &v), PKT_MALFORMED);

#define MUTATE(stmt, expect) do { memcpy(pkt, good, len); stmt; \
		assert_int_equal(pkt_parse(pkt, len, &v), expect); } while (0)
	MUTATE(pkt[0] = 0x44, PKT_MALFORMED);                  /* IHL 4 */
	MUTATE(pkt[0] = 0x4f, PKT_MALFORMED);                  /* IHL beyond packet */
	MUTATE(pkt[0] = 0x55, PKT_MALFORMED);                  /* version 5 */
	MUTATE(pkt[0] = 0x60, PKT_UNSUPPORTED);                /* IPv6 */
	MUTATE((pkt[2] = 0, pkt[3] = 10), PKT_MALFORMED);      /* total length < IHL */
	MUTATE((pkt[2] = 1, pkt[3] = 0), PKT_MALFORMED);       /* total length > buffer */
	MUTATE(pkt[10] ^= 1, PKT_MALFORMED);                   /* header checksum */
	MUTATE(pkt[30] ^= 1, PKT_MALFORMED);                   /* TCP checksum (seq changed) */
	MUTATE(pkt[len - 1] ^= 0x40, PKT_MALFORMED);           /* payload changed */
	MUTATE(pkt[32] = 0x40, PKT_MALFORMED);                 /* TCP data offset 4 */
	MUTATE(pkt[32] = 0xf0, PKT_MALFORMED);                 /* TCP data offset beyond */
#undef MUTATE
	/* a fragment (MF set), with a fixed-up header checksum */
	memcpy(pkt, good, len);
	pkt[6] = 0x20;
	pkt[10] = pkt[11] = 0;
	{ uint16_t c = csum_finish(csum_partial(pkt, 20, 0)); memcpy(pkt + 10, &c, 2); }
	assert_int_equal(pkt_parse(pkt, len, &v), PKT_MALFORMED);
	/* offset != 0 */
	pkt[6] = 0x00; pkt[7] = 0x10;
	pkt[10] = pkt[11] = 0;
	{ uint16_t c = csum_finish(csum_partial(pkt, 20, 0)); memcpy(pkt + 10, &c, 2); }
	assert_int_equal(pkt_parse(pkt, len, &v), PKT_MALFORMED);
	/* tiny TCP header: an IP packet of 20 + 12 bytes claiming TCP */
	memcpy(pkt, good, 32);
	pkt[2] = 0; pkt[3] = 32;
	pkt[10] = pkt[11] = 0;
	{ uint16_t c = csum_finish(csum_partial(pkt, 20, 0)); memcpy(pkt + 10, &c, 2); }
	assert_int_equal(pkt_parse(pkt, 32, &v), PKT_MALFORMED);
	/* TCP bytes labelled UDP: the UDP length does not match */
	memcpy(pkt, good, len);
	pkt[9] = 17;
	pkt[10] = pkt[11] = 0;
	{ uint16_t c = csum_finish(csum_partial(pkt, 20, 0)); memcpy(pkt + 10, &c, 2); }
	assert_int_equal(pkt_parse(pkt, len, &v), PKT_MALFORMED);
	/* ICMP is unsupported */
	pkt[9] = 1;
	pkt[10] = pkt[11] = 0;
	{ uint16_t c = csum_finish(csum_partial(pkt, 20, 0)); memcpy(pkt + 10, &c, 2); }
	assert_int_equal(pkt_parse(pkt, len, &v), PKT_UNSUPPORTED);
}

static void test_parse_udp(void **state)
{
	uint8_t pkt[200];
	struct pkt_view v;
	size_t len;

	(void)state;
	len = tp_build_udp(pkt, &(struct tp_udp){ .src = "10.0.0.2", .dst = "198.51.100.53",
		.sport = 5353, .dport = 53, .data = "query", .len = 5 });
	assert_int_equal(pkt_parse(pkt, len, &v), PKT_OK);
	assert_int_equal(v.proto, 17);
	assert_int_equal(ntohs(v.sport), 5353);
	assert_int_equal(ntohs(v.dport), 53);
	assert_int_equal(v.payload_off, 28);
	pkt[len - 1] ^= 1;
	assert_int_equal(pkt_parse(pkt, len, &v), PKT_MALFORMED); /* checksum */
	pkt[26] = pkt[27] = 0;
	assert_int_equal(pkt_parse(pkt, len, &v), PKT_OK);        /* no checksum */
	pkt[25] = 9;
	assert_int_equal(pkt_parse(pkt, len, &v), PKT_MALFORMED); /* UDP length */
	for (size_t n = 0; n < len; n++)
		assert_int_not_equal(pkt_parse(pkt, n, &v), PKT_OK);
}

static void test_rewrite_udp(void **state)
{
	struct nat n;
	struct pkt_view v, v2;
	uint8_t pkt[200];
	size_t len;

	(void)state;
	assert_int_equal(nat_init(&n, 4, tp_ip("192.0.0.1"), htons(1)), 0);
	for (int no_csum = 0; no_csum < 2; no_csum++) {
		len = tp_build_udp(pkt, &(struct tp_udp){ .src = "10.0.0.2", .dst = "198.51.100.53",
			.sport = (uint16_t)(5000 + no_csum), .dport = 53, .data = "q", .len = 1,
			.no_csum = no_csum });
		assert_int_equal(pkt_parse(pkt, len, &v), PKT_OK);
		struct nat_tuple t = { v.src, v.dst, v.sport, v.dport, 17 };
		struct nat_entry *e = nat_alloc(&n, &t, 0);
		nat_set_state(e, NAT_UDP, 0);
		nat_rewrite_inbound(&n, e, pkt, &v);
		assert_int_equal(pkt_parse(pkt, len, &v2), PKT_OK);
		assert_int_equal(v2.dst, n.listen_ip);
		if (no_csum)
			assert_true(pkt[26] == 0 && pkt[27] == 0);
		/* reply direction */
		uint8_t tmp[4], other[200];
		memcpy(tmp, pkt + 12, 4); memcpy(pkt + 12, pkt + 16, 4); memcpy(pkt + 16, tmp, 4);
		memcpy(tmp, pkt + 20, 2); memcpy(pkt + 20, pkt + 22, 2); memcpy(pkt + 22, tmp, 2);
		/* the same pseudo tuple labelled TCP does not pass */
		memcpy(other, pkt, len);
		other[9] = 6;
		assert_false(nat_rewrite_outbound(&n, other, len));
		assert_true(nat_rewrite_outbound(&n, pkt, len));
		assert_int_equal(pkt_parse(pkt, len, &v2), PKT_OK);
		assert_int_equal(v2.src, t.dst_ip);
		assert_int_equal(v2.sport, t.dst_port);
		assert_int_equal(v2.dst, t.src_ip);
		assert_int_equal(v2.dport, t.src_port);
		if (no_csum)
			assert_true(pkt[26] == 0 && pkt[27] == 0);
	}
	nat_destroy(&n);
}

/* Random bytes and random mutations of a good packet never crash the parser
 * (run under ASan/UBSan). */
static void test_parse_random(void **state)
{
	uint8_t good[200], pkt[200];
	struct pkt_view v;
	size_t len;

	(void)state;
	srand(777);
	len = tp_build_tcp(good, &(struct tp_tcp){ .src = "10.0.0.2", .dst = "198.51.100.7",
		.sport = 1, .dport = 2, .flags = TCPF_SYN });
	for (int i = 0; i < 200000; i++) {
		size_t n = (size_t)rand() % (len + 1);
		memcpy(pkt, good, len);
		for (int k = rand() % 4; k >= 0; k--)
			pkt[rand() % len] = (uint8_t)rand();
		uint8_t *heap = malloc(n ? n : 1);
		memcpy(heap, pkt, n);
		(void)pkt_parse(heap, n, &v);
		free(heap);
	}
}

static void test_rewrite_round_trip(void **state)
{
	struct nat n;
	struct nat_tuple t;
	struct nat_entry *e;
	struct pkt_view v, v2;
	uint8_t pkt[200], orig[200];
	size_t len;
	uint32_t listen = tp_ip("192.0.0.1");

	(void)state;
	assert_int_equal(nat_init(&n, 8, listen, htons(1)), 0);
	len = tp_build_tcp(pkt, &(struct tp_tcp){ .src = "10.0.0.2", .dst = "198.51.100.7",
		.sport = 40000, .dport = 80, .seq = 5, .ack = 9, .flags = TCPF_ACK,
		.data = "payload", .len = 7 });
	memcpy(orig, pkt, len);
	assert_int_equal(pkt_parse(pkt, len, &v), PKT_OK);
	t = (struct nat_tuple){ v.src, v.dst, v.sport, v.dport, 6 };
	e = nat_alloc(&n, &t, 0);
	assert_non_null(e);
	assert_ptr_equal(nat_lookup(&n, &t), e);

	nat_rewrite_inbound(&n, e, pkt, &v);
	assert_int_equal(pkt_parse(pkt, len, &v2), PKT_OK); /* checksums still valid */
	assert_int_equal(v2.dst, listen);
	assert_int_equal(v2.dport, htons(1));
	assert_int_equal(v2.src, nat_pseudo_ip(&n, e));
	assert_int_equal(v2.sport, e->pseudo_port);
	assert_ptr_equal(nat_by_pseudo(&n, v2.src, v2.sport), e);

	/* a reply from lwIP: swap the rewritten endpoints */
	{
		uint8_t tmp[6];
		memcpy(tmp, pkt + 12, 4);
		memcpy(pkt + 12, pkt + 16, 4);
		memcpy(pkt + 16, tmp, 4);
		memcpy(tmp, pkt + 20, 2);
		memcpy(pkt + 20, pkt + 22, 2);
		memcpy(pkt + 22, tmp, 2);
	}
	/* held entries do not pass outbound */
	assert_false(nat_rewrite_outbound(&n, pkt, len));
	nat_set_state(e, NAT_ACCEPTED, 0);
	assert_true(nat_rewrite_outbound(&n, pkt, len));
	assert_int_equal(pkt_parse(pkt, len, &v2), PKT_OK);
	assert_int_equal(v2.src, t.dst_ip);
	assert_int_equal(v2.sport, t.dst_port);
	assert_int_equal(v2.dst, t.src_ip);
	assert_int_equal(v2.dport, t.src_port);
	/* everything but the swapped endpoints is the original */
	assert_memory_equal(pkt + 24, orig + 24, len - 24);

	/* freeing makes the pseudo tuple and the flow id miss */
	uint32_t id = nat_flow_id(&n, e);
	uint32_t pip = nat_pseudo_ip(&n, e);
	uint16_t pport = e->pseudo_port;
	nat_release(&n, e);
	assert_null(nat_lookup(&n, &t));
	assert_null(nat_by_flow_id(&n, id));
	assert_null(nat_by_pseudo(&n, pip, pport));
	e = nat_alloc(&n, &t, 0);
	assert_non_null(e);
	assert_int_not_equal(e->pseudo_port, pport);
	assert_int_not_equal(nat_flow_id(&n, e), id);
	nat_destroy(&n);
}

/* A UDP flood cannot take the entries TCP needs, nor the reverse: each
 * protocol holds at most its share (three quarters by default). */
static void test_protocol_shares(void **state)
{
	struct nat n;
	int udp = 0, tcp = 0;

	(void)state;
	assert_int_equal(nat_init(&n, 64, tp_ip("192.0.0.1"), htons(1)), 0);
	for (int i = 0; i < 1000; i++) {
		struct nat_tuple t = { htonl(0x0a000002), htonl(0xc6336407), htons((uint16_t)(1000 + i)), htons(53), 17 };
		udp += nat_alloc(&n, &t, 0) != NULL;
	}
	assert_int_equal(udp, 48);
	for (int i = 0; i < 100; i++) {
		struct nat_tuple t = { htonl(0x0a000003), htonl(0xc6336407), htons((uint16_t)(1000 + i)), htons(80), 6 };
		tcp += nat_alloc(&n, &t, 0) != NULL;
	}
	assert_int_equal(tcp, 16); /* the table's rest, all of it TCP's */
	nat_destroy(&n);
	assert_int_equal(nat_init(&n, 64, tp_ip("192.0.0.1"), htons(1)), 0);
	nat_set_caps(&n, 10, 20);
	tcp = udp = 0;
	for (int i = 0; i < 100; i++) {
		struct nat_tuple tt = { htonl(0x0a000003), htonl(0xc6336407), htons((uint16_t)(1000 + i)), htons(80), 6 };
		struct nat_tuple tu = { htonl(0x0a000003), htonl(0xc6336407), htons((uint16_t)(1000 + i)), htons(53), 17 };
		tcp += nat_alloc(&n, &tt, 0) != NULL;
		udp += nat_alloc(&n, &tu, 0) != NULL;
	}
	assert_int_equal(tcp, 10);
	assert_int_equal(udp, 20);
	nat_destroy(&n);
}

static void test_table_bound_and_hash(void **state)
{
	struct nat n;
	struct nat_entry *es[64];

	(void)state;
	assert_int_equal(nat_init(&n, 64, tp_ip("192.0.0.1"), htons(1)), 0);
	nat_set_caps(&n, 64, 64);
	for (int i = 0; i < 64; i++) {
		struct nat_tuple t = { htonl(0x0a000002), htonl(0xc6336407), htons((uint16_t)(1000 + i)), htons(80), 6 };
		es[i] = nat_alloc(&n, &t, 0);
		assert_non_null(es[i]);
	}
	struct nat_tuple extra = { 1, 2, 3, 4, 6 };
	assert_null(nat_alloc(&n, &extra, 0));
	for (int i = 0; i < 64; i += 2)
		nat_release(&n, es[i]);
	for (int i = 0; i < 64; i++) {
		struct nat_tuple t = { htonl(0x0a000002), htonl(0xc6336407), htons((uint16_t)(1000 + i)), htons(80), 6 };
		if (i % 2)
			assert_ptr_equal(nat_lookup(&n, &t), es[i]);
		else
			assert_null(nat_lookup(&n, &t));
	}
	assert_int_equal(n.used, 32);
	nat_destroy(&n);
	assert_int_equal(nat_init(&n, 0, 1, 1), -1);
}

static void test_parse_echo(void **state)
{
	uint8_t good[200], pkt[200];
	struct lwip_port_echo e;
	size_t len;

	(void)state;
	len = tp_build_echo(good, &(struct tp_echo){ .src = "10.0.0.2", .dst = "198.51.100.7",
		.type = 8, .id = 0xabcd, .seq = 3, .ttl = 9, .data = "12345", .len = 5 });
	assert_int_equal(pkt_parse_echo(good, len, &e), PKT_OK);
	assert_int_equal(e.id, 0xabcd);
	assert_int_equal(e.seq, 3);
	assert_int_equal(e.ttl, 9);
	assert_int_equal(e.len, 5);
	assert_ptr_equal(e.data, good + 28);
	/* pkt_parse still calls ICMP unsupported: the NAT never sees it */
	{ struct pkt_view v; assert_int_equal(pkt_parse(good, len, &v), PKT_UNSUPPORTED); }
	for (size_t n = 0; n < len; n++)
		assert_int_equal(pkt_parse_echo(good, n, &e), PKT_MALFORMED);
	memcpy(pkt, good, len);
	pkt[24] ^= 1; /* id changed, checksum not */
	assert_int_equal(pkt_parse_echo(pkt, len, &e), PKT_MALFORMED);
	/* a TCP packet is not an echo */
	len = tp_build_tcp(pkt, &(struct tp_tcp){ .src = "10.0.0.2", .dst = "198.51.100.7",
		.sport = 1, .dport = 2, .flags = TCPF_SYN });
	assert_int_equal(pkt_parse_echo(pkt, len, &e), PKT_UNSUPPORTED);
	/* random mutations never crash it, and only intact requests pass */
	srand(31337);
	for (int i = 0; i < 100000; i++) {
		size_t n = (size_t)rand() % 34;
		len = tp_build_echo(good, &(struct tp_echo){ .src = "10.0.0.2",
			.dst = "198.51.100.7", .type = 8, .data = "12345", .len = 5 });
		memcpy(pkt, good, len);
		for (int k = rand() % 3; k >= 0; k--)
			pkt[rand() % len] = (uint8_t)rand();
		uint8_t *heap = malloc(n ? n : 1);
		memcpy(heap, pkt, n);
		if (pkt_parse_echo(heap, n, &e) == PKT_OK)
			assert_true(e.data + e.len <= heap + n);
		free(heap);
	}
}

static void test_echo_reply_in_place(void **state)
{
	uint8_t pkt[200];
	struct lwip_port_echo e;
	size_t len;

	(void)state;
	/* the bridge may build over the request's own bytes (data overlaps) */
	len = tp_build_echo(pkt, &(struct tp_echo){ .src = "10.0.0.2", .dst = "198.51.100.7",
		.type = 8, .id = 5, .seq = 6, .data = "overlap", .len = 7 });
	assert_int_equal(pkt_parse_echo(pkt, len, &e), PKT_OK);
	assert_int_equal(pkt_build_echo_reply(pkt, &e), len);
	assert_int_equal(pkt[20], 0);
	assert_memory_equal(pkt + 28, "overlap", 7);
	assert_int_equal(tp_csum_naive(pkt, 20, (const void *)NULL), 0);
	assert_int_equal(tp_csum_naive(pkt + 20, len - 20, (const void *)NULL), 0);
}

static void test_csum_pseudo_v6(void **state)
{
	uint8_t src[16], dst[16], data[301];

	(void)state;
	srand(5);
	for (int i = 0; i < 2000; i++) {
		size_t n = (size_t)rand() % sizeof data;
		uint8_t ph[40] = { 0 }, next = (uint8_t)rand();
		uint16_t c;

		for (int k = 0; k < 16; k++) {
			src[k] = (uint8_t)rand();
			dst[k] = (uint8_t)rand();
		}
		for (size_t k = 0; k < n; k++)
			data[k] = (uint8_t)rand();
		memcpy(ph, src, 16);
		memcpy(ph + 16, dst, 16);
		ph[34] = (uint8_t)(n >> 8);
		ph[35] = (uint8_t)n;
		ph[39] = next;
		c = csum_finish(csum_partial(data, n, csum_pseudo_v6(src, dst, (uint32_t)n, next)));
		assert_int_equal(ntohs(c), tp_csum_naive(ph, sizeof ph, data, n, (const void *)NULL));
	}
}

static void test_ip6_rate_bucket(void **state)
{
	struct ip6_ratelimit rl;
	uint32_t t = 0xfffffe00u; /* sys_now wraps during the test */
	int sent = 0;

	(void)state;
	ip6_rate_init(&rl, t);
	while (ip6_rate_take(&rl, t))
		sent++;
	assert_int_equal(sent, LWIP_PORT_IP6_ERR_BURST);
	/* a steady flood gets exactly the rate: 10 per simulated second */
	sent = 0;
	for (int ms = 1; ms <= 10000; ms++)
		sent += ip6_rate_take(&rl, t + (uint32_t)ms);
	assert_int_equal(sent, 10 * LWIP_PORT_IP6_ERR_PER_S);
	/* a long silence refills to the burst, not beyond */
	t += 10000 + 3600000;
	sent = 0;
	while (ip6_rate_take(&rl, t))
		sent++;
	assert_int_equal(sent, LWIP_PORT_IP6_ERR_BURST);
}

static void test_ip6_classify_random(void **state)
{
	uint8_t good[120], pkt[120], l4[40];
	struct ip6_view v;
	size_t len, n;

	(void)state;
	n = tp_tcp_hdr(l4, 1, 2, 3, 0, TCPF_SYN, "ab", 2);
	len = tp_build_ip6(good, &(struct tp_ip6){ .src = "2001:db8::2", .dst = "2001:db8::1",
		.next = 6, .l4 = l4, .l4len = n, .csum_off = 16 });
	assert_int_equal(ip6_classify(good, len, &v), IP6_RST);
	assert_int_equal(v.seg_len, 3);
	assert_int_equal(v.l4_off, 40);
	for (size_t k = 0; k < len; k++)
		assert_int_equal(ip6_classify(good, k, &v), IP6_MALFORMED);
	srand(2024);
	for (int i = 0; i < 200000; i++) {
		size_t m = (size_t)rand() % (len + 1);
		memcpy(pkt, good, len);
		for (int k = rand() % 4; k >= 0; k--)
			pkt[rand() % len] = (uint8_t)rand();
		if (rand() & 1) /* exercise extension header chains */
			pkt[6] = (uint8_t[]){ 0, 43, 44, 60, 17, 58 }[rand() % 6];
		uint8_t *heap = malloc(m ? m : 1);
		memcpy(heap, pkt, m);
		switch (ip6_classify(heap, m, &v)) {
		case IP6_RST:
		case IP6_UNREACH:
			assert_true(v.len <= m && v.l4_off <= v.len);
			break;
		default:
			break;
		}
		free(heap);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_incremental_vs_full),
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_parse_random),
		cmocka_unit_test(test_parse_udp),
		cmocka_unit_test(test_rewrite_udp),
		cmocka_unit_test(test_rewrite_round_trip),
		cmocka_unit_test(test_table_bound_and_hash),
		cmocka_unit_test(test_protocol_shares),
		cmocka_unit_test(test_parse_echo),
		cmocka_unit_test(test_echo_reply_in_place),
		cmocka_unit_test(test_csum_pseudo_v6),
		cmocka_unit_test(test_ip6_rate_bucket),
		cmocka_unit_test(test_ip6_classify_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Builds IPv4/TCP packets with valid checksums for the NAT tests. */
#ifndef ATB_TESTPKT_H
#define ATB_TESTPKT_H

#include <stddef.h>
#include <stdint.h>

struct tp_tcp {
	const char *src, *dst;     /* dotted quads */
	uint16_t sport, dport;     /* host order */
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	const uint8_t *opts;
	size_t optlen;             /* multiple of 4 */
	const void *data;
	size_t len;
};

struct tp_udp {
	const char *src, *dst;
	uint16_t sport, dport;
	const void *data;
	size_t len;
	int no_csum;               /* send checksum 0 */
};

size_t tp_build_udp(uint8_t *out, const struct tp_udp *u);

struct tp_echo {
	const char *src, *dst;
	uint8_t type, code;        /* 8, 0 for a request */
	uint16_t id, seq;          /* host order */
	uint8_t ttl;               /* 0: 64 */
	const void *data;
	size_t len;
};

/* An IPv4 ICMP echo (or any type/code with the echo layout), valid checksums. */
size_t tp_build_echo(uint8_t *out, const struct tp_echo *e);

struct tp_ip6 {
	const char *src, *dst;     /* IPv6 text form */
	uint8_t next;              /* upper-layer protocol (after ext headers) */
	const uint8_t *ext;        /* extension headers (their next fields are
	                              the caller's), put between IPv6 and l4 */
	size_t extlen;
	uint8_t first_next;        /* next header of the IPv6 header when ext */
	const void *l4;            /* upper-layer header and data */
	size_t l4len;
	int csum_off;              /* > 0: fill the checksum at l4 + csum_off */
};

/* An IPv6 packet; with csum_off the upper-layer checksum is computed over
 * the pseudo header with next. */
size_t tp_build_ip6(uint8_t *out, const struct tp_ip6 *p);
/* A TCP header (20 bytes, no options) + data for tp_ip6.l4 (checksum 0). */
size_t tp_tcp_hdr(uint8_t *out, uint16_t sport, uint16_t dport, uint32_t seq,
                  uint32_t ack, uint8_t flags, const void *data, size_t len);
/* A UDP header + data for tp_ip6.l4 (checksum 0). */
size_t tp_udp_hdr(uint8_t *out, uint16_t sport, uint16_t dport, const void *data, size_t len);

/* Returns the packet length written to out (which must hold 60 + optlen + len). */
size_t tp_build_tcp(uint8_t *out, const struct tp_tcp *t);
uint32_t tp_ip(const char *dotted);          /* network order */
/* Naive RFC 1071 sum of big-endian 16-bit words over the pieces given
 * (pointer, length pairs, NULL-terminated), folded and complemented:
 * 0 over a message whose checksum is right. Independent of checksum.c,
 * for checking what lwip_port builds. */
uint16_t tp_csum_naive(const void *p, size_t len, ...);
/* Verifies an IPv6 upper-layer checksum by full recompute (pseudo header
 * built byte by byte). */
int tp_ip6_l4_csum_ok(const uint8_t *ip6, size_t l4_off, uint8_t next);
uint32_t tp_rd32(const uint8_t *p);
uint16_t tp_rd16(const uint8_t *p);

#endif

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

/* Returns the packet length written to out (which must hold 60 + optlen + len). */
size_t tp_build_tcp(uint8_t *out, const struct tp_tcp *t);
uint32_t tp_ip(const char *dotted);          /* network order */
uint32_t tp_rd32(const uint8_t *p);
uint16_t tp_rd16(const uint8_t *p);

#endif

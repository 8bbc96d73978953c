/* IPv6 fail-fast: atbridge carries no IPv6, so an IPv6 packet from the tun
 * is classified and answered at once (TCP RST, ICMPv6 destination
 * unreachable) to make the client fall back to IPv4 instead of timing out.
 * The answers' rules are in lwip_port.h (lwip_port_input). Pure packet
 * code: no lwIP, no allocation. */
#ifndef ATB_IP6_H
#define ATB_IP6_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IP6_HDR     40
#define IP6_RST_LEN 60   /* IPv6 header + bare TCP header */
#define IP6_ERR_MAX 1280 /* RFC 4443 2.4 c: an error fits the minimum MTU */

/* ICMPv6 destination unreachable codes (RFC 4443 3.1) that we send. */
#define IP6_UNREACH_PROHIBITED 1
#define IP6_UNREACH_PORT       4

enum ip6_verdict {
	IP6_MALFORMED, /* short header, payload length beyond the buffer,
	                  truncated extension header, bad TCP/UDP header or
	                  checksum (UDP checksum 0 included: RFC 8200 8.1) */
	IP6_DROP,      /* quietly: ICMPv6, TCP RST, multicast/unspecified/
	                  loopback addresses, non-first fragments */
	IP6_RST,       /* answer with ip6_build_rst */
	IP6_UNREACH,   /* answer with ip6_build_unreach (code in v->code) */
};

/* Offsets from the start of the IPv6 header; ports network order; seq,
 * ack and flags host order. TCP fields only for IP6_RST. */
struct ip6_view {
	size_t len;       /* 40 + payload length (trailing bytes ignored) */
	size_t l4_off;    /* upper-layer header, after the extension headers */
	uint8_t next;     /* upper-layer protocol */
	uint8_t code;     /* IP6_UNREACH: the ICMPv6 code */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint32_t seg_len; /* TCP payload plus SYN and FIN */
};

/* Validates an IPv6 packet (version 6 expected in pkt[0]) and decides the
 * answer. Walks hop-by-hop, routing, destination options and fragment
 * headers; a first fragment is answered with code 1 unless it is ICMPv6
 * (its checksum cannot be checked without the rest). */
enum ip6_verdict ip6_classify(const uint8_t *pkt, size_t len, struct ip6_view *v);

/* The RFC 793 reset for the segment v (verdict IP6_RST) of pkt, from its
 * destination: RST+ACK with seq 0 and ack = its seq + seg_len when it has
 * no ACK (a SYN: ISN + 1), else RST with seq = its ack. */
size_t ip6_build_rst(uint8_t out[IP6_RST_LEN], const uint8_t *pkt, const struct ip6_view *v);

/* ICMPv6 destination unreachable (code v->code) about pkt, from its
 * destination, quoting as much of pkt as fits in cap bytes (at most
 * IP6_ERR_MAX; cap >= 48). Returns the length written to out. */
size_t ip6_build_unreach(uint8_t *out, size_t cap, const uint8_t *pkt, const struct ip6_view *v);

/* Token bucket for the ICMPv6 errors (RFC 4443 2.4 f): the credit is
 * counted in milliseconds, one error costs 1000 / LWIP_PORT_IP6_ERR_PER_S. */
struct ip6_ratelimit {
	uint32_t credit_ms, last_ms;
};

void ip6_rate_init(struct ip6_ratelimit *rl, uint32_t now_ms); /* full bucket */
/* true (and one token spent) if an error may be sent now. */
bool ip6_rate_take(struct ip6_ratelimit *rl, uint32_t now_ms);

#endif

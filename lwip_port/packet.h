/* Parsing and validation of IPv4 packets read from the tun, and crafting of
 * the few packets the NAT answers on its own (TCP RST, ICMP echo reply). */
#ifndef ATB_PACKET_H
#define ATB_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lwip_port.h"

#define TCPF_FIN 0x01
#define TCPF_SYN 0x02
#define TCPF_RST 0x04
#define TCPF_PSH 0x08
#define TCPF_ACK 0x10

enum pkt_verdict {
	PKT_OK,
	PKT_MALFORMED,   /* bad header, length, checksum, fragment */
	PKT_UNSUPPORTED, /* well formed but not handled (IPv6, ICMP, ...) */
};

/* A validated IPv4 TCP or UDP packet. Addresses and ports in network order;
 * seq, ack and flags (TCP only) in host order. Offsets are from the start of
 * the IP header. */
struct pkt_view {
	size_t len;        /* IP total length (trailing bytes beyond it ignored) */
	size_t l4_off;     /* IP header length */
	size_t payload_off;
	uint8_t proto;
	uint32_t src, dst;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
};

/* Validates version, IHL, total length, header checksum, fragments and, for
 * TCP, header length and checksum; for UDP, length and (unless zero)
 * checksum. Only PKT_OK fills *v completely. */
enum pkt_verdict pkt_parse(const uint8_t *pkt, size_t len, struct pkt_view *v);

/* TCP sequence space consumed by a segment: payload plus SYN and FIN. */
uint32_t pkt_seg_len(const struct pkt_view *v);

#define PKT_ICMP_HDR 8 /* type, code, checksum, id, seq */

/* Validates an IPv4 packet like pkt_parse (same header rules, same
 * verdicts for them), then the ICMP checksum over the whole message.
 * PKT_OK only for an echo request (type 8, code 0); e->data points into
 * pkt. Other well-formed ICMP, and any other protocol, is PKT_UNSUPPORTED;
 * a message shorter than 8 bytes or with a bad checksum PKT_MALFORMED. */
enum pkt_verdict pkt_parse_echo(const uint8_t *pkt, size_t len, struct lwip_port_echo *e);
/* Writes the echo reply to e (from e->dst to e->src, TTL e->ttl or 64 if 0,
 * same id, seq and data) to out, which must hold 28 + e->len bytes;
 * e->data may point into out. Returns the packet length. */
size_t pkt_build_echo_reply(uint8_t *out, const struct lwip_port_echo *e);

#define PKT_RST_LEN 40
/* Writes a 40-byte IPv4+TCP RST from src to dst (network order addresses
 * and ports; seq/ack host order). flags is TCPF_RST or TCPF_RST|TCPF_ACK. */
size_t pkt_build_rst(uint8_t out[PKT_RST_LEN], uint32_t src, uint32_t dst,
                     uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
                     uint8_t flags);
/* The RST that RFC 793 prescribes in answer to segment v (which must not be
 * a RST itself): seq = its ack if it has one, else seq 0 and ack = its seq
 * plus its length. */
size_t pkt_build_rst_reply(uint8_t out[PKT_RST_LEN], const struct pkt_view *v);

#endif

/* IPv4 parsing and validation: every IPv4 byte from the tun passes through
 * pkt_parse (TCP, UDP) or pkt_parse_echo (ICMP) before anything else looks
 * at it (fuzzed via lwip_port_input). IPv6 is in ip6.c. */
#include "packet.h"

#include <netinet/in.h>
#include <string.h>

#include "bytes.h"
#include "checksum.h"

static enum pkt_verdict parse_tcp(const uint8_t *pkt, struct pkt_view *v)
{
	const uint8_t *tcp = pkt + v->l4_off;
	size_t l4_len = v->len - v->l4_off;
	size_t doff;

	if (l4_len < 20)
		return PKT_MALFORMED;
	doff = (size_t)(tcp[12] >> 4) * 4;
	if (doff < 20 || doff > l4_len)
		return PKT_MALFORMED;
	if (csum_finish(csum_partial(tcp, l4_len,
	                             csum_pseudo_v4(v->src, v->dst, IPPROTO_TCP,
	                                            (uint16_t)l4_len))) != 0)
		return PKT_MALFORMED;
	memcpy(&v->sport, tcp, 2);
	memcpy(&v->dport, tcp + 2, 2);
	v->seq = rd32(tcp + 4);
	v->ack = rd32(tcp + 8);
	v->flags = tcp[13];
	v->payload_off = v->l4_off + doff;
	return PKT_OK;
}

static enum pkt_verdict parse_udp(const uint8_t *pkt, struct pkt_view *v)
{
	const uint8_t *udp = pkt + v->l4_off;
	size_t l4_len = v->len - v->l4_off;
	uint16_t c;

	if (l4_len < 8 || rd16(udp + 4) != l4_len)
		return PKT_MALFORMED;
	memcpy(&c, udp + 6, 2);
	if (c != 0 && /* zero: the sender computed no checksum (RFC 768) */
	    csum_finish(csum_partial(udp, l4_len,
	                             csum_pseudo_v4(v->src, v->dst, IPPROTO_UDP,
	                                            (uint16_t)l4_len))) != 0)
		return PKT_MALFORMED;
	memcpy(&v->sport, udp, 2);
	memcpy(&v->dport, udp + 2, 2);
	v->payload_off = v->l4_off + 8;
	return PKT_OK;
}

/* The IPv4 header checks every parser shares; fills len, l4_off, proto,
 * src and dst when the header itself is sound. */
static enum pkt_verdict parse_ip4(const uint8_t *pkt, size_t len, struct pkt_view *v)
{
	size_t ihl, tot;
	uint32_t dst_h;

	memset(v, 0, sizeof *v);
	if (len < 1)
		return PKT_MALFORMED;
	if ((pkt[0] >> 4) == 6)
		return PKT_UNSUPPORTED;
	if ((pkt[0] >> 4) != 4 || len < 20)
		return PKT_MALFORMED;
	ihl = (size_t)(pkt[0] & 0x0f) * 4;
	tot = rd16(pkt + 2);
	if (ihl < 20 || tot < ihl || tot > len)
		return PKT_MALFORMED;
	if (csum_finish(csum_partial(pkt, ihl, 0)) != 0)
		return PKT_MALFORMED;
	if (rd16(pkt + 6) & 0x3fff) /* MF or a fragment offset */
		return PKT_MALFORMED;
	v->len = tot;
	v->l4_off = ihl;
	v->proto = pkt[9];
	memcpy(&v->src, pkt + 12, 4);
	memcpy(&v->dst, pkt + 16, 4);
	dst_h = ntohl(v->dst);
	if (dst_h >= 0xe0000000u || dst_h == 0 || v->src == 0 || ntohl(v->src) >= 0xe0000000u)
		return PKT_UNSUPPORTED; /* multicast, broadcast, unspecified */
	return PKT_OK;
}

enum pkt_verdict pkt_parse(const uint8_t *pkt, size_t len, struct pkt_view *v)
{
	enum pkt_verdict r = parse_ip4(pkt, len, v);

	if (r != PKT_OK)
		return r;
	if (v->proto == IPPROTO_TCP)
		return parse_tcp(pkt, v);
	if (v->proto == IPPROTO_UDP)
		return parse_udp(pkt, v);
	return PKT_UNSUPPORTED;
}

enum pkt_verdict pkt_parse_echo(const uint8_t *pkt, size_t len, struct lwip_port_echo *e)
{
	struct pkt_view v;
	enum pkt_verdict r = parse_ip4(pkt, len, &v);
	const uint8_t *icmp;
	size_t l4_len;

	memset(e, 0, sizeof *e);
	if (r != PKT_OK)
		return r;
	icmp = pkt + v.l4_off;
	l4_len = v.len - v.l4_off;
	if (v.proto != IPPROTO_ICMP)
		return PKT_UNSUPPORTED;
	if (l4_len < PKT_ICMP_HDR || csum_finish(csum_partial(icmp, l4_len, 0)) != 0)
		return PKT_MALFORMED;
	if (icmp[0] != 8 || icmp[1] != 0) /* only echo requests */
		return PKT_UNSUPPORTED;
	e->src = v.src;
	e->dst = v.dst;
	e->id = rd16(icmp + 4);
	e->seq = rd16(icmp + 6);
	e->ttl = pkt[8];
	e->data = icmp + PKT_ICMP_HDR;
	e->len = l4_len - PKT_ICMP_HDR;
	return PKT_OK;
}

size_t pkt_build_echo_reply(uint8_t *out, const struct lwip_port_echo *e)
{
	size_t tot = 20 + PKT_ICMP_HDR + e->len;
	uint8_t *icmp = out + 20;
	uint16_t c;

	memset(out, 0, 20 + PKT_ICMP_HDR);
	out[0] = 0x45;
	wr16(out + 2, (uint16_t)tot);
	wr16(out + 6, 0x4000); /* DF: the ID of an atomic datagram may be 0 (RFC 6864) */
	out[8] = e->ttl ? e->ttl : 64;
	out[9] = IPPROTO_ICMP;
	memcpy(out + 12, &e->dst, 4); /* from the address the client pinged */
	memcpy(out + 16, &e->src, 4);
	c = csum_finish(csum_partial(out, 20, 0));
	memcpy(out + 10, &c, 2);

	wr16(icmp + 4, e->id);
	wr16(icmp + 6, e->seq);
	if (e->len)
		memmove(icmp + PKT_ICMP_HDR, e->data, e->len);
	c = csum_finish(csum_partial(icmp, PKT_ICMP_HDR + e->len, 0));
	memcpy(icmp + 2, &c, 2);
	return tot;
}

uint32_t pkt_seg_len(const struct pkt_view *v)
{
	uint32_t n = (uint32_t)(v->len - v->payload_off);

	if (v->flags & TCPF_SYN)
		n++;
	if (v->flags & TCPF_FIN)
		n++;
	return n;
}

size_t pkt_build_rst(uint8_t out[PKT_RST_LEN], uint32_t src, uint32_t dst,
                     uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
                     uint8_t flags)
{
	uint8_t *tcp = out + 20;
	uint16_t c;

	memset(out, 0, PKT_RST_LEN);
	out[0] = 0x45;
	wr16(out + 2, PKT_RST_LEN);
	wr16(out + 6, 0x4000); /* DF */
	out[8] = 64;
	out[9] = IPPROTO_TCP;
	memcpy(out + 12, &src, 4);
	memcpy(out + 16, &dst, 4);
	c = csum_finish(csum_partial(out, 20, 0));
	memcpy(out + 10, &c, 2);

	memcpy(tcp, &sport, 2);
	memcpy(tcp + 2, &dport, 2);
	wr32(tcp + 4, seq);
	wr32(tcp + 8, (flags & TCPF_ACK) ? ack : 0);
	tcp[12] = 5 << 4;
	tcp[13] = flags;
	c = csum_finish(csum_partial(tcp, 20, csum_pseudo_v4(src, dst, IPPROTO_TCP, 20)));
	memcpy(tcp + 16, &c, 2);
	return PKT_RST_LEN;
}

size_t pkt_build_rst_reply(uint8_t out[PKT_RST_LEN], const struct pkt_view *v)
{
	if (v->flags & TCPF_ACK)
		return pkt_build_rst(out, v->dst, v->src, v->dport, v->sport,
		                     v->ack, 0, TCPF_RST);
	return pkt_build_rst(out, v->dst, v->src, v->dport, v->sport, 0,
	                     v->seq + pkt_seg_len(v), TCPF_RST | TCPF_ACK);
}

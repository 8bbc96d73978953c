/* IPv6 fail-fast: classify an IPv6 packet from the tun, craft the answer
 * that ends the client's attempt at once. Every IPv6 byte from the tun
 * passes through ip6_classify first (fuzzed via lwip_port_input). */
#include "ip6.h"

#include <netinet/in.h>
#include <string.h>

#include "bytes.h"
#include "checksum.h"
#include "lwip_port.h"
#include "packet.h"

#define NH_HOPOPTS  0
#define NH_ROUTING  43
#define NH_FRAGMENT 44
#define NH_DSTOPTS  60

#define ERR_COST_MS (1000u / LWIP_PORT_IP6_ERR_PER_S)
#define ERR_CAP_MS  (ERR_COST_MS * LWIP_PORT_IP6_ERR_BURST)

/* Nobody to answer (RFC 4443 2.4 e), or an address no link may carry. */
static bool addr_silent(const uint8_t a[16], bool is_src)
{
	static const uint8_t zero[16];
	static const uint8_t loopback[16] = { [15] = 1 };

	if (a[0] == 0xff || !memcmp(a, zero, 16))
		return true; /* multicast, unspecified */
	return is_src && !memcmp(a, loopback, 16);
}

static uint32_t csum_l4(const uint8_t *pkt, const struct ip6_view *v, uint8_t next)
{
	size_t l4_len = v->len - v->l4_off;

	return csum_partial(pkt + v->l4_off, l4_len,
	                    csum_pseudo_v6(pkt + 8, pkt + 24, (uint32_t)l4_len, next));
}

static enum ip6_verdict classify_tcp(const uint8_t *pkt, struct ip6_view *v)
{
	const uint8_t *tcp = pkt + v->l4_off;
	size_t l4_len = v->len - v->l4_off;
	size_t doff;

	if (l4_len < 20)
		return IP6_MALFORMED;
	doff = (size_t)(tcp[12] >> 4) * 4;
	if (doff < 20 || doff > l4_len || csum_finish(csum_l4(pkt, v, IPPROTO_TCP)) != 0)
		return IP6_MALFORMED;
	memcpy(&v->sport, tcp, 2);
	memcpy(&v->dport, tcp + 2, 2);
	v->seq = rd32(tcp + 4);
	v->ack = rd32(tcp + 8);
	v->flags = tcp[13];
	v->seg_len = (uint32_t)(l4_len - doff) + !!(v->flags & TCPF_SYN) + !!(v->flags & TCPF_FIN);
	return (v->flags & TCPF_RST) ? IP6_DROP : IP6_RST;
}

static enum ip6_verdict classify_udp(const uint8_t *pkt, struct ip6_view *v)
{
	const uint8_t *udp = pkt + v->l4_off;
	size_t l4_len = v->len - v->l4_off;

	if (l4_len < 8 || rd16(udp + 4) != l4_len)
		return IP6_MALFORMED;
	if ((udp[6] | udp[7]) == 0 || csum_finish(csum_l4(pkt, v, IPPROTO_UDP)) != 0)
		return IP6_MALFORMED; /* the checksum is mandatory over IPv6 */
	v->code = IP6_UNREACH_PORT;
	return IP6_UNREACH;
}

enum ip6_verdict ip6_classify(const uint8_t *pkt, size_t len, struct ip6_view *v)
{
	size_t off = IP6_HDR;
	uint8_t next;
	bool fragment = false, later_fragment = false;

	memset(v, 0, sizeof *v);
	if (len < IP6_HDR || (pkt[0] >> 4) != 6 || IP6_HDR + (size_t)rd16(pkt + 4) > len)
		return IP6_MALFORMED;
	v->len = IP6_HDR + rd16(pkt + 4);
	next = pkt[6];
	/* Every extension header takes at least 8 bytes: the walk ends. */
	for (;;) {
		if (next == NH_HOPOPTS || next == NH_ROUTING || next == NH_DSTOPTS) {
			size_t hlen;

			if (off + 8 > v->len)
				return IP6_MALFORMED;
			hlen = ((size_t)pkt[off + 1] + 1) * 8;
			if (off + hlen > v->len)
				return IP6_MALFORMED;
			next = pkt[off];
			off += hlen;
		} else if (next == NH_FRAGMENT) {
			if (off + 8 > v->len)
				return IP6_MALFORMED;
			fragment = true;
			if (rd16(pkt + off + 2) & 0xfff8)
				later_fragment = true;
			next = pkt[off];
			off += 8;
			if (later_fragment)
				break; /* what follows is data, not a header */
		} else {
			break;
		}
	}
	v->l4_off = off;
	v->next = next;
	if (addr_silent(pkt + 8, true) || addr_silent(pkt + 24, false) || later_fragment ||
	    next == IPPROTO_ICMPV6)
		return IP6_DROP;
	v->code = IP6_UNREACH_PROHIBITED;
	if (fragment)
		return IP6_UNREACH;
	if (next == IPPROTO_TCP)
		return classify_tcp(pkt, v);
	if (next == IPPROTO_UDP)
		return classify_udp(pkt, v);
	return IP6_UNREACH;
}

static void ip6_header(uint8_t *out, size_t plen, uint8_t next, const uint8_t *orig)
{
	memset(out, 0, IP6_HDR);
	out[0] = 0x60;
	wr16(out + 4, (uint16_t)plen);
	out[6] = next;
	out[7] = 64;
	memcpy(out + 8, orig + 24, 16); /* from the destination the client tried */
	memcpy(out + 24, orig + 8, 16);
}

size_t ip6_build_rst(uint8_t out[IP6_RST_LEN], const uint8_t *pkt, const struct ip6_view *v)
{
	uint8_t *tcp = out + IP6_HDR;
	uint16_t c;

	ip6_header(out, 20, IPPROTO_TCP, pkt);
	memset(tcp, 0, 20);
	memcpy(tcp, &v->dport, 2);
	memcpy(tcp + 2, &v->sport, 2);
	if (v->flags & TCPF_ACK) {
		wr32(tcp + 4, v->ack);
		tcp[13] = TCPF_RST;
	} else {
		wr32(tcp + 8, v->seq + v->seg_len);
		tcp[13] = TCPF_RST | TCPF_ACK;
	}
	tcp[12] = 5 << 4;
	c = csum_finish(csum_partial(tcp, 20, csum_pseudo_v6(out + 8, out + 24, 20, IPPROTO_TCP)));
	memcpy(tcp + 16, &c, 2);
	return IP6_RST_LEN;
}

size_t ip6_build_unreach(uint8_t *out, size_t cap, const uint8_t *pkt, const struct ip6_view *v)
{
	uint8_t *icmp = out + IP6_HDR;
	size_t quote, plen;
	uint16_t c;

	if (cap > IP6_ERR_MAX)
		cap = IP6_ERR_MAX;
	quote = cap - IP6_HDR - 8;
	if (quote > v->len)
		quote = v->len;
	plen = 8 + quote;
	ip6_header(out, plen, IPPROTO_ICMPV6, pkt);
	memset(icmp, 0, 8);
	icmp[0] = 1; /* destination unreachable */
	icmp[1] = v->code;
	memcpy(icmp + 8, pkt, quote);
	c = csum_finish(csum_partial(icmp, plen,
	                             csum_pseudo_v6(out + 8, out + 24, (uint32_t)plen, IPPROTO_ICMPV6)));
	memcpy(icmp + 2, &c, 2);
	return IP6_HDR + plen;
}

void ip6_rate_init(struct ip6_ratelimit *rl, uint32_t now_ms)
{
	rl->credit_ms = ERR_CAP_MS;
	rl->last_ms = now_ms;
}

bool ip6_rate_take(struct ip6_ratelimit *rl, uint32_t now_ms)
{
	uint32_t elapsed = now_ms - rl->last_ms; /* wraps with sys_now */

	rl->last_ms = now_ms;
	if (elapsed >= ERR_CAP_MS - rl->credit_ms)
		rl->credit_ms = ERR_CAP_MS;
	else
		rl->credit_ms += elapsed;
	if (rl->credit_ms < ERR_COST_MS)
		return false;
	rl->credit_ms -= ERR_COST_MS;
	return true;
}

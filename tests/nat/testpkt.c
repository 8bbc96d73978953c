#include "testpkt.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <string.h>

#include "checksum.h"

uint32_t tp_ip(const char *dotted)
{
	struct in_addr a;

	inet_pton(AF_INET, dotted, &a);
	return a.s_addr;
}

uint32_t tp_rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint16_t tp_rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void ip_header(uint8_t *out, size_t tot, uint8_t proto, uint32_t src, uint32_t dst)
{
	uint16_t c;

	memset(out, 0, 20);
	out[0] = 0x45;
	out[2] = (uint8_t)(tot >> 8);
	out[3] = (uint8_t)tot;
	out[6] = 0x40;
	out[8] = 64;
	out[9] = proto;
	memcpy(out + 12, &src, 4);
	memcpy(out + 16, &dst, 4);
	c = csum_finish(csum_partial(out, 20, 0));
	memcpy(out + 10, &c, 2);
}

size_t tp_build_udp(uint8_t *out, const struct tp_udp *u)
{
	size_t ul = 8 + u->len;
	uint32_t src = tp_ip(u->src), dst = tp_ip(u->dst);
	uint8_t *udp = out + 20;
	uint16_t c;

	ip_header(out, 20 + ul, 17, src, dst);
	udp[0] = (uint8_t)(u->sport >> 8);
	udp[1] = (uint8_t)u->sport;
	udp[2] = (uint8_t)(u->dport >> 8);
	udp[3] = (uint8_t)u->dport;
	udp[4] = (uint8_t)(ul >> 8);
	udp[5] = (uint8_t)ul;
	udp[6] = udp[7] = 0;
	if (u->len)
		memcpy(udp + 8, u->data, u->len);
	if (!u->no_csum) {
		c = csum_finish(csum_partial(udp, ul, csum_pseudo_v4(src, dst, 17, (uint16_t)ul)));
		if (c == 0)
			c = 0xffff;
		memcpy(udp + 6, &c, 2);
	}
	return 20 + ul;
}

size_t tp_build_tcp(uint8_t *out, const struct tp_tcp *t)
{
	size_t thl = 20 + t->optlen, tot = 20 + thl + t->len;
	uint32_t src = tp_ip(t->src), dst = tp_ip(t->dst);
	uint8_t *tcp = out + 20;
	uint16_t c;

	memset(out, 0, 20 + thl);
	out[0] = 0x45;
	out[2] = (uint8_t)(tot >> 8);
	out[3] = (uint8_t)tot;
	out[4] = 0x12;
	out[5] = 0x34;
	out[6] = 0x40;
	out[8] = 64;
	out[9] = 6;
	memcpy(out + 12, &src, 4);
	memcpy(out + 16, &dst, 4);
	c = csum_finish(csum_partial(out, 20, 0));
	memcpy(out + 10, &c, 2);
	tcp[0] = (uint8_t)(t->sport >> 8);
	tcp[1] = (uint8_t)t->sport;
	tcp[2] = (uint8_t)(t->dport >> 8);
	tcp[3] = (uint8_t)t->dport;
	for (int i = 0; i < 4; i++) {
		tcp[4 + i] = (uint8_t)(t->seq >> (24 - 8 * i));
		tcp[8 + i] = (uint8_t)(t->ack >> (24 - 8 * i));
	}
	tcp[12] = (uint8_t)((thl / 4) << 4);
	tcp[13] = t->flags;
	tcp[14] = (uint8_t)((t->win ? t->win : 65535) >> 8);
	tcp[15] = (uint8_t)(t->win ? t->win : 65535);
	if (t->optlen)
		memcpy(tcp + 20, t->opts, t->optlen);
	if (t->len)
		memcpy(tcp + thl, t->data, t->len);
	c = csum_finish(csum_partial(tcp, thl + t->len,
	                             csum_pseudo_v4(src, dst, 6, (uint16_t)(thl + t->len))));
	memcpy(tcp + 16, &c, 2);
	return tot;
}

size_t tp_build_echo(uint8_t *out, const struct tp_echo *e)
{
	size_t il = 8 + e->len;
	uint8_t *icmp = out + 20;
	uint16_t c;

	ip_header(out, 20 + il, 1, tp_ip(e->src), tp_ip(e->dst));
	if (e->ttl) {
		out[8] = e->ttl;
		out[10] = out[11] = 0;
		c = csum_finish(csum_partial(out, 20, 0));
		memcpy(out + 10, &c, 2);
	}
	icmp[0] = e->type;
	icmp[1] = e->code;
	icmp[2] = icmp[3] = 0;
	icmp[4] = (uint8_t)(e->id >> 8);
	icmp[5] = (uint8_t)e->id;
	icmp[6] = (uint8_t)(e->seq >> 8);
	icmp[7] = (uint8_t)e->seq;
	if (e->len)
		memcpy(icmp + 8, e->data, e->len);
	c = csum_finish(csum_partial(icmp, il, 0));
	memcpy(icmp + 2, &c, 2);
	return 20 + il;
}

size_t tp_build_ip6(uint8_t *out, const struct tp_ip6 *p)
{
	size_t plen = p->extlen + p->l4len;
	uint8_t *l4 = out + 40 + p->extlen;

	memset(out, 0, 40);
	out[0] = 0x60;
	out[4] = (uint8_t)(plen >> 8);
	out[5] = (uint8_t)plen;
	out[6] = p->extlen ? p->first_next : p->next;
	out[7] = 64;
	inet_pton(AF_INET6, p->src, out + 8);
	inet_pton(AF_INET6, p->dst, out + 24);
	if (p->extlen)
		memcpy(out + 40, p->ext, p->extlen);
	if (p->l4len)
		memcpy(l4, p->l4, p->l4len);
	if (p->csum_off > 0) {
		uint16_t c;

		l4[p->csum_off] = l4[p->csum_off + 1] = 0;
		c = csum_finish(csum_partial(l4, p->l4len,
		                             csum_pseudo_v6(out + 8, out + 24, (uint32_t)p->l4len, p->next)));
		if (c == 0 && p->next == 17)
			c = 0xffff;
		memcpy(l4 + p->csum_off, &c, 2);
	}
	return 40 + plen;
}

size_t tp_tcp_hdr(uint8_t *out, uint16_t sport, uint16_t dport, uint32_t seq,
                  uint32_t ack, uint8_t flags, const void *data, size_t len)
{
	memset(out, 0, 20);
	out[0] = (uint8_t)(sport >> 8);
	out[1] = (uint8_t)sport;
	out[2] = (uint8_t)(dport >> 8);
	out[3] = (uint8_t)dport;
	for (int i = 0; i < 4; i++) {
		out[4 + i] = (uint8_t)(seq >> (24 - 8 * i));
		out[8 + i] = (uint8_t)(ack >> (24 - 8 * i));
	}
	out[12] = 5 << 4;
	out[13] = flags;
	out[14] = out[15] = 0xff;
	if (len)
		memcpy(out + 20, data, len);
	return 20 + len;
}

size_t tp_udp_hdr(uint8_t *out, uint16_t sport, uint16_t dport, const void *data, size_t len)
{
	out[0] = (uint8_t)(sport >> 8);
	out[1] = (uint8_t)sport;
	out[2] = (uint8_t)(dport >> 8);
	out[3] = (uint8_t)dport;
	out[4] = (uint8_t)((8 + len) >> 8);
	out[5] = (uint8_t)(8 + len);
	out[6] = out[7] = 0;
	if (len)
		memcpy(out + 8, data, len);
	return 8 + len;
}

uint16_t tp_csum_naive(const void *p, size_t len, ...)
{
	uint64_t sum = 0;
	size_t pos = 0; /* bytes summed so far: odd pieces continue the word */
	va_list ap;

	va_start(ap, len);
	while (p) {
		const uint8_t *b = p;

		for (size_t i = 0; i < len; i++, pos++)
			sum += (pos & 1) ? b[i] : (uint32_t)b[i] << 8;
		p = va_arg(ap, const void *);
		if (p)
			len = va_arg(ap, size_t);
	}
	va_end(ap);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

int tp_ip6_l4_csum_ok(const uint8_t *ip6, size_t l4_off, uint8_t next)
{
	size_t l4_len = 40 + (size_t)tp_rd16(ip6 + 4) - l4_off;
	uint8_t ph[40];

	memcpy(ph, ip6 + 8, 32);
	ph[32] = (uint8_t)(l4_len >> 24);
	ph[33] = (uint8_t)(l4_len >> 16);
	ph[34] = (uint8_t)(l4_len >> 8);
	ph[35] = (uint8_t)l4_len;
	ph[36] = ph[37] = ph[38] = 0;
	ph[39] = next;
	return tp_csum_naive(ph, sizeof ph, ip6 + l4_off, l4_len, (const void *)NULL) == 0;
}

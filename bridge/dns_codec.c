#include "dns_codec.h"

#include <string.h>

#define FLAG_QR 0x8000
#define FLAG_RD 0x0100
#define FLAG_RA 0x0080
#define OPCODE(f) (((f) >> 11) & 0xf)

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static int host_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

/* Reads the question name at msg[*off]. Returns DNS_NOERROR, DNS_FORMERR
 * (structure) or DNS_REFUSED (bytes a host name may not hold). */
static int parse_name(const uint8_t *msg, size_t len, size_t *off, char *out)
{
	size_t o = *off, n = 0;

	for (;;) {
		uint8_t l;

		if (o >= len)
			return DNS_FORMERR;
		l = msg[o++];
		if (l == 0)
			break;
		if (l > 63) /* compression pointers have no place in a question */
			return DNS_FORMERR;
		if (o + l > len)
			return DNS_FORMERR;
		if (n + (n ? 1 : 0) + l > DNS_NAME_MAX)
			return DNS_FORMERR;
		if (n)
			out[n++] = '.';
		for (uint8_t i = 0; i < l; i++) {
			uint8_t c = msg[o + i];

			if (!host_char(c))
				return DNS_REFUSED;
			out[n++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		}
		o += l;
	}
	if (n == 0) /* the root: nothing a module could resolve */
		return DNS_REFUSED;
	out[n] = '\0';
	*off = o;
	return DNS_NOERROR;
}

int dns_parse_query(const uint8_t *msg, size_t len, struct dns_query *q)
{
	size_t off = DNS_HEADER_LEN;
	int r;

	memset(q, 0, sizeof(*q));
	if (len < DNS_HEADER_LEN)
		return -1;
	q->id = get16(msg);
	q->flags = get16(msg + 2);
	if (q->flags & FLAG_QR)
		return -1;
	if (OPCODE(q->flags) != 0)
		return DNS_NOTIMP;
	if (get16(msg + 4) != 1 || get16(msg + 6) != 0 || get16(msg + 8) != 0)
		return DNS_FORMERR;
	r = parse_name(msg, len, &off, q->name);
	if (r == DNS_FORMERR)
		return r;
	if (r == DNS_REFUSED) {
		/* the question is echoed only when its structure is sound */
		size_t o = DNS_HEADER_LEN;

		while (o < len && msg[o] != 0 && msg[o] <= 63)
			o += 1 + msg[o];
		if (o < len && msg[o] == 0 && o + 5 <= len) {
			q->question = msg + DNS_HEADER_LEN;
			q->question_len = o + 5 - DNS_HEADER_LEN;
		}
		q->name[0] = '\0';
		return r;
	}
	if (off + 4 > len)
		return DNS_FORMERR;
	q->qtype = get16(msg + off);
	q->qclass = get16(msg + off + 2);
	q->question = msg + DNS_HEADER_LEN;
	q->question_len = off + 4 - DNS_HEADER_LEN;
	if (q->qclass != DNS_CLASS_IN)
		return DNS_NOTIMP;
	return DNS_NOERROR;
}

size_t dns_build_response(const struct dns_query *q, enum dns_rcode rcode,
                          const uint32_t *addrs, size_t n_addrs, uint32_t ttl,
                          uint8_t *out, size_t out_len)
{
	size_t off = DNS_HEADER_LEN;
	uint16_t ancount = 0;

	if (out_len < DNS_HEADER_LEN + q->question_len)
		return 0;
	if (rcode != DNS_NOERROR || q->qtype != DNS_TYPE_A)
		n_addrs = 0;
	if (n_addrs > (out_len - DNS_HEADER_LEN - q->question_len) / 16)
		n_addrs = (out_len - DNS_HEADER_LEN - q->question_len) / 16;
	put16(out, q->id);
	put16(out + 2, (uint16_t)(FLAG_QR | (q->flags & FLAG_RD) | FLAG_RA | (rcode & 0xf)));
	put16(out + 4, q->question_len ? 1 : 0);
	if (q->question_len)
		memcpy(out + off, q->question, q->question_len);
	off += q->question_len;
	for (size_t i = 0; i < n_addrs; i++) {
		put16(out + off, 0xc000 | DNS_HEADER_LEN); /* the question's name */
		put16(out + off + 2, DNS_TYPE_A);
		put16(out + off + 4, DNS_CLASS_IN);
		put16(out + off + 6, (uint16_t)(ttl >> 16));
		put16(out + off + 8, (uint16_t)ttl);
		put16(out + off + 10, 4);
		memcpy(out + off + 12, &addrs[i], 4);
		off += 16;
		ancount++;
	}
	put16(out + 6, ancount);
	put16(out + 8, 0);
	put16(out + 10, 0);
	return off;
}

/* Internet checksum and RFC 1624 incremental updates. */
#include "checksum.h"

#include <string.h>

uint32_t csum_partial(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;
	uint64_t acc = sum;

	while (len >= 2) {
		uint16_t w;
		memcpy(&w, p, 2);
		acc += w;
		p += 2;
		len -= 2;
	}
	if (len) {
		uint16_t w = 0;
		memcpy(&w, p, 1); /* odd byte padded with zero, in packet order */
		acc += w;
	}
	while (acc >> 32)
		acc = (acc & 0xffffffffu) + (acc >> 32);
	return (uint32_t)acc;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

uint16_t csum_finish(uint32_t sum)
{
	return (uint16_t)~fold(sum);
}

uint32_t csum_pseudo_v4(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len)
{
	uint8_t ph[12];

	memcpy(ph, &src, 4);
	memcpy(ph + 4, &dst, 4);
	ph[8] = 0;
	ph[9] = proto;
	ph[10] = (uint8_t)(len >> 8);
	ph[11] = (uint8_t)len;
	return csum_partial(ph, sizeof ph, 0);
}

uint32_t csum_pseudo_v6(const uint8_t src[16], const uint8_t dst[16], uint32_t len,
                        uint8_t next)
{
	uint8_t tail[8] = { (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
	                    (uint8_t)len, 0, 0, 0, next };

	return csum_partial(tail, sizeof tail, csum_partial(dst, 16, csum_partial(src, 16, 0)));
}

void csum_update16(uint8_t *field, uint16_t old_val, uint16_t new_val)
{
	uint16_t hc;
	uint32_t sum;

	memcpy(&hc, field, 2);
	sum = (uint32_t)(uint16_t)~hc + (uint16_t)~old_val + new_val;
	hc = (uint16_t)~fold(sum);
	memcpy(field, &hc, 2);
}

void csum_update32(uint8_t *field, uint32_t old_val, uint32_t new_val)
{
	uint16_t o[2], n[2];

	memcpy(o, &old_val, 4);
	memcpy(n, &new_val, 4);
	csum_update16(field, o[0], n[0]);
	csum_update16(field, o[1], n[1]);
}

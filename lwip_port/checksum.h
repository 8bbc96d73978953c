/* Internet checksum helpers (RFC 1071) and incremental updates (RFC 1624).
 *
 * Sums are taken over the bytes as they sit in the packet, so they work in
 * network order without byte swapping; a 16-bit "value" below is always the
 * raw two bytes from the packet read with memcpy.
 */
#ifndef ATB_CHECKSUM_H
#define ATB_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/* One's complement partial sum of len bytes added to sum (not folded). */
uint32_t csum_partial(const void *data, size_t len, uint32_t sum);
/* Folds a partial sum to 16 bits and complements it: the checksum field. */
uint16_t csum_finish(uint32_t sum);
/* Partial sum of the IPv4 TCP/UDP pseudo header (addresses in network order). */
uint32_t csum_pseudo_v4(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len);
/* Partial sum of the IPv6 upper-layer pseudo header (RFC 8200 8.1):
 * addresses as 16 raw bytes, upper-layer length, next header. */
uint32_t csum_pseudo_v6(const uint8_t src[16], const uint8_t dst[16], uint32_t len,
                        uint8_t next);

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'). field points at the checksum
 * in the packet (any alignment). */
void csum_update16(uint8_t *field, uint16_t old_val, uint16_t new_val);
void csum_update32(uint8_t *field, uint32_t old_val, uint32_t new_val);

#endif

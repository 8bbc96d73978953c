/* DNS messages as atbridge answers them: one question, A answers.
 *
 * Every query from the tun goes through dns_parse_query() before anything is
 * built from it; a name that could end an AT command (quote, CR, LF, any byte
 * outside RFC 1035 host-name letters) never leaves this parser.
 */
#ifndef ATB_DNS_CODEC_H
#define ATB_DNS_CODEC_H

#include <stddef.h>
#include <stdint.h>

#define DNS_NAME_MAX 253
#define DNS_HEADER_LEN 12

enum dns_rcode {
	DNS_NOERROR = 0,
	DNS_FORMERR = 1,
	DNS_SERVFAIL = 2,
	DNS_NXDOMAIN = 3,
	DNS_NOTIMP = 4,
	DNS_REFUSED = 5,
};

enum { DNS_TYPE_A = 1, DNS_TYPE_AAAA = 28, DNS_CLASS_IN = 1 };

struct dns_query {
	uint16_t id;
	uint16_t flags;           /* as received */
	uint16_t qtype, qclass;
	char name[DNS_NAME_MAX + 1]; /* dotted, lower case, no trailing dot */
	const uint8_t *question;  /* the question section as received */
	size_t question_len;      /* 0 when the question could not be parsed */
};

/* Parses a query. Returns DNS_NOERROR when q holds a valid question for
 * atbridge to answer, or the rcode the answer must carry: DNS_FORMERR for a
 * malformed message (q->question_len says whether the question can still be
 * echoed), DNS_REFUSED for a name with bytes a host name may not hold,
 * DNS_NOTIMP for an opcode other than QUERY. Returns -1 when the message is
 * not worth any answer (shorter than a header, or a response). */
int dns_parse_query(const uint8_t *msg, size_t len, struct dns_query *q);

/* Builds the answer to q: rcode, and for DNS_NOERROR with qtype A one A
 * record per address (network order) with the given TTL. Returns the length
 * written, or 0 when out is too small. */
size_t dns_build_response(const struct dns_query *q, enum dns_rcode rcode,
                          const uint32_t *addrs, size_t n_addrs, uint32_t ttl,
                          uint8_t *out, size_t out_len);

#endif

/* The NAT flow table: original 5-tuple <-> pseudo (address, port) inside
 * lwIP, and the header rewrites between them. No lwIP in here; the lifetime
 * rules are described at the top of nat.c. */
#ifndef ATB_NAT_H
#define ATB_NAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lwip_port.h"
#include "packet.h"

/* Pseudo client addresses live in 100.64.0.0/10: entry i is 100.64.0.0 + 1 + i.
 * They exist only inside lwIP and are never routed anywhere. */
#define NAT_PSEUDO_NET   0x64400000u /* 100.64.0.0, host order */
#define NAT_PSEUDO_MASK  0xffc00000u /* /10 */
#define NAT_MAX_FLOWS    ((1u << 22) - 2)
#define NAT_NONE         UINT32_MAX
/* Pseudo ports rotate per reuse of an entry so that a reused entry never
 * meets an old lwIP pcb of the same pseudo tuple. */
#define NAT_PORT_BASE    1024u
#define NAT_PORT_SPAN    (65536u - NAT_PORT_BASE)

enum nat_state {
	NAT_FREE,
	NAT_HELD,      /* SYN copied and held, waiting for admit/refuse */
	NAT_ADMITTED,  /* SYN given to lwIP, pcb in SYN_RCVD, not accepted yet */
	NAT_ACCEPTED,  /* handed to the bridge through tcp_accepted */
	NAT_TIME_WAIT, /* lwIP's pcb is in TIME_WAIT: short linger, then freed */
	NAT_UDP,       /* a UDP flow; since_ms is its last activity */
};

struct nat_entry {
	struct nat_tuple t;
	uint32_t next;        /* hash chain, or free list when NAT_FREE */
	uint32_t gen;         /* bumped on every allocation of this slot */
	uint16_t pseudo_port; /* network order */
	uint8_t state;
	bool seen;            /* set by the pcb sweep */
	uint32_t since_ms;    /* entered the current state (sys_now, wraps) */
	uint8_t *syn;         /* held SYN (NAT_HELD only) */
	size_t syn_len;
};

struct nat {
	struct nat_entry *e;
	uint32_t cap, used;
	uint32_t *bucket;
	uint32_t bucket_mask;
	uint32_t free_head;
	uint32_t seed;
	uint32_t listen_ip;   /* network order */
	uint16_t listen_port; /* network order */
	uint32_t cap_tcp, cap_udp;   /* entries each protocol may hold */
	uint32_t used_tcp, used_udp;
};

int nat_init(struct nat *n, unsigned max_flows, uint32_t listen_ip, uint16_t listen_port);
void nat_destroy(struct nat *n);

struct nat_entry *nat_lookup(const struct nat *n, const struct nat_tuple *t);
/* Entries TCP and UDP may each hold, so that a flood of one cannot take
 * the table from the other; 0 means three quarters of the table (the
 * default after nat_init). */
void nat_set_caps(struct nat *n, unsigned tcp, unsigned udp);
/* NULL when the table, or t's protocol's share of it, is full. */
struct nat_entry *nat_alloc(struct nat *n, const struct nat_tuple *t, uint32_t now_ms);
void nat_release(struct nat *n, struct nat_entry *e);
void nat_set_state(struct nat_entry *e, enum nat_state s, uint32_t now_ms);

/* Flow ids carry the slot and part of its generation so stale ids miss. */
uint32_t nat_flow_id(const struct nat *n, const struct nat_entry *e);
struct nat_entry *nat_by_flow_id(const struct nat *n, uint32_t flow_id);
/* Pseudo address and port in network order. */
uint32_t nat_pseudo_ip(const struct nat *n, const struct nat_entry *e);
struct nat_entry *nat_by_pseudo(const struct nat *n, uint32_t ip, uint16_t port);

/* Tun -> lwIP: dst becomes listen_ip:listen_port, src the entry's pseudo
 * address; checksums fixed incrementally. pkt was validated by pkt_parse. */
void nat_rewrite_inbound(const struct nat *n, const struct nat_entry *e,
                         uint8_t *pkt, const struct pkt_view *v);
/* lwIP -> tun: finds the entry by the pseudo destination and restores
 * src = original destination, dst = client. false if pkt is not an
 * unfragmented TCP/UDP packet of a live entry (then it must not be sent). */
bool nat_rewrite_outbound(const struct nat *n, uint8_t *pkt, size_t len);

#endif

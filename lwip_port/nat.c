/* The NAT flow table.
 *
 * Lifetime of an entry (who frees what, and when):
 *
 *   HELD      created by a client SYN (no ACK) for an unknown tuple; holds a
 *             malloc'd copy of the SYN. Leaves by lwip_port_tcp_admit()
 *             (-> ADMITTED), lwip_port_tcp_refuse() (RST to client, freed),
 *             a client RST (freed, tcp_abandoned) or hold_timeout_ms (RST to
 *             client, freed, tcp_abandoned).
 *   ADMITTED  the SYN went to lwIP, which made a pcb in SYN_RCVD. When lwIP
 *             accepts it -> ACCEPTED. If the pcb dies before that (client
 *             RST, handshake timeout) the sweep frees the entry and reports
 *             tcp_abandoned.
 *   ACCEPTED  the bridge owns the pcb. The entry lives exactly as long as
 *             lwIP keeps that pcb on its active list: the periodic sweep in
 *             lwip_port.c walks tcp_active_pcbs/tcp_tw_pcbs and frees
 *             entries whose pcb is gone (after tcp_abort, a RST, or the last
 *             ACK of LAST_ACK). No idle timeout is needed or wanted: an idle
 *             ssh session keeps its pcb, and a dead pcb frees its entry.
 *   TIME_WAIT the pcb reached TIME_WAIT (we closed first). The entry lingers
 *             briefly so a retransmitted FIN still reaches lwIP, then the
 *             sweep frees the entry and aborts the TIME_WAIT pcb, so lwIP's
 *             2*MSL never holds memory or table slots.
 *
 *   UDP       created by the first datagram of a tuple (when the bridge set
 *             udp_recv); since_ms is the last datagram either way. Freed
 *             after udp_idle_timeout_ms of silence (udp_expired) or by
 *             lwip_port_udp_close().
 *
 * Slots are reused with a new generation, which changes the pseudo port and
 * the flow id, so no old pcb or stale flow id can match a new flow.
 */
#include "nat.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "checksum.h"

static uint32_t hash_tuple(const struct nat *n, const struct nat_tuple *t)
{
	uint64_t h = n->seed;
	uint64_t k[3] = {
		(uint64_t)t->src_ip << 32 | t->dst_ip,
		(uint64_t)t->src_port << 16 | t->dst_port,
		t->proto,
	};

	for (int i = 0; i < 3; i++) {
		h ^= k[i];
		h *= 0x9e3779b97f4a7c15ull;
		h ^= h >> 29;
	}
	return (uint32_t)(h ^ (h >> 32));
}

static bool tuple_eq(const struct nat_tuple *a, const struct nat_tuple *b)
{
	return a->src_ip == b->src_ip && a->dst_ip == b->dst_ip &&
	       a->src_port == b->src_port && a->dst_port == b->dst_port &&
	       a->proto == b->proto;
}

int nat_init(struct nat *n, unsigned max_flows, uint32_t listen_ip, uint16_t listen_port)
{
	uint32_t nb = 16;

	memset(n, 0, sizeof *n);
	if (max_flows == 0 || max_flows > NAT_MAX_FLOWS)
		return -1;
	while (nb < 2u * max_flows)
		nb <<= 1;
	n->e = calloc(max_flows, sizeof *n->e);
	n->bucket = malloc(nb * sizeof *n->bucket);
	if (!n->e || !n->bucket) {
		nat_destroy(n);
		return -1;
	}
	for (uint32_t i = 0; i < nb; i++)
		n->bucket[i] = NAT_NONE;
	n->bucket_mask = nb - 1;
	n->cap = max_flows;
	for (uint32_t i = 0; i < max_flows; i++)
		n->e[i].next = i + 1 < max_flows ? i + 1 : NAT_NONE;
	n->free_head = 0;
	if (getrandom(&n->seed, sizeof n->seed, GRND_NONBLOCK) != sizeof n->seed)
		n->seed = 0x5eed1234u;
	n->listen_ip = listen_ip;
	n->listen_port = listen_port;
	nat_set_caps(n, 0, 0);
	return 0;
}

void nat_set_caps(struct nat *n, unsigned tcp, unsigned udp)
{
	uint32_t share = n->cap - n->cap / 4;

	n->cap_tcp = tcp && tcp <= n->cap ? tcp : share;
	n->cap_udp = udp && udp <= n->cap ? udp : share;
}

static uint32_t *proto_used(struct nat *n, uint8_t proto)
{
	return proto == IPPROTO_UDP ? &n->used_udp : &n->used_tcp;
}

void nat_destroy(struct nat *n)
{
	if (n->e)
		for (uint32_t i = 0; i < n->cap; i++)
			free(n->e[i].syn);
	free(n->e);
	free(n->bucket);
	memset(n, 0, sizeof *n);
}

struct nat_entry *nat_lookup(const struct nat *n, const struct nat_tuple *t)
{
	uint32_t i = n->bucket[hash_tuple(n, t) & n->bucket_mask];

	while (i != NAT_NONE) {
		if (tuple_eq(&n->e[i].t, t))
			return &n->e[i];
		i = n->e[i].next;
	}
	return NULL;
}

struct nat_entry *nat_alloc(struct nat *n, const struct nat_tuple *t, uint32_t now_ms)
{
	uint32_t i = n->free_head, b;
	struct nat_entry *e;

	if (i == NAT_NONE)
		return NULL;
	if (*proto_used(n, t->proto) >= (t->proto == IPPROTO_UDP ? n->cap_udp : n->cap_tcp))
		return NULL;
	(*proto_used(n, t->proto))++;
	e = &n->e[i];
	n->free_head = e->next;
	e->t = *t;
	e->gen++;
	e->pseudo_port = htons((uint16_t)(NAT_PORT_BASE + e->gen % NAT_PORT_SPAN));
	e->state = NAT_HELD;
	e->seen = false;
	e->since_ms = now_ms;
	e->syn = NULL;
	e->syn_len = 0;
	b = hash_tuple(n, t) & n->bucket_mask;
	e->next = n->bucket[b];
	n->bucket[b] = i;
	n->used++;
	return e;
}

void nat_release(struct nat *n, struct nat_entry *e)
{
	uint32_t i = (uint32_t)(e - n->e);
	uint32_t *link = &n->bucket[hash_tuple(n, &e->t) & n->bucket_mask];

	if (e->state == NAT_FREE)
		return;
	while (*link != NAT_NONE && *link != i)
		link = &n->e[*link].next;
	if (*link == i)
		*link = e->next;
	free(e->syn);
	e->syn = NULL;
	e->syn_len = 0;
	e->state = NAT_FREE;
	e->next = n->free_head;
	n->free_head = i;
	n->used--;
	(*proto_used(n, e->t.proto))--;
}

void nat_set_state(struct nat_entry *e, enum nat_state s, uint32_t now_ms)
{
	e->state = (uint8_t)s;
	e->since_ms = now_ms;
}

uint32_t nat_flow_id(const struct nat *n, const struct nat_entry *e)
{
	return (uint32_t)(e - n->e) | (e->gen & 0x3ffu) << 22;
}

struct nat_entry *nat_by_flow_id(const struct nat *n, uint32_t flow_id)
{
	uint32_t i = flow_id & ((1u << 22) - 1);
	struct nat_entry *e;

	if (i >= n->cap)
		return NULL;
	e = &n->e[i];
	if (e->state == NAT_FREE || (e->gen & 0x3ffu) != flow_id >> 22)
		return NULL;
	return e;
}

uint32_t nat_pseudo_ip(const struct nat *n, const struct nat_entry *e)
{
	return htonl(NAT_PSEUDO_NET + 1 + (uint32_t)(e - n->e));
}

struct nat_entry *nat_by_pseudo(const struct nat *n, uint32_t ip, uint16_t port)
{
	uint32_t h = ntohl(ip);
	uint32_t i;

	if ((h & NAT_PSEUDO_MASK) != NAT_PSEUDO_NET)
		return NULL;
	i = h - NAT_PSEUDO_NET - 1;
	if (i >= n->cap || n->e[i].state == NAT_FREE || n->e[i].pseudo_port != port)
		return NULL;
	return &n->e[i];
}

/* Replaces the address at ip_off and the port at port_off, fixing the IP
 * header checksum and the TCP/UDP checksum (which covers the pseudo header).
 * A UDP checksum of zero means "none" and stays zero; a computed zero is
 * sent as 0xffff (RFC 768). */
static void rewrite_endpoint(uint8_t *pkt, size_t l4_off, size_t ip_off,
                             size_t port_off, uint32_t ip, uint16_t port)
{
	bool udp = pkt[9] == IPPROTO_UDP;
	uint8_t *l4_csum = pkt + l4_off + (udp ? 6 : 16);
	uint32_t old_ip;
	uint16_t old_port;

	memcpy(&old_ip, pkt + ip_off, 4);
	memcpy(&old_port, pkt + l4_off + port_off, 2);
	memcpy(pkt + ip_off, &ip, 4);
	memcpy(pkt + l4_off + port_off, &port, 2);
	csum_update32(pkt + 10, old_ip, ip);
	if (udp && l4_csum[0] == 0 && l4_csum[1] == 0)
		return;
	csum_update32(l4_csum, old_ip, ip);
	csum_update16(l4_csum, old_port, port);
	if (udp && l4_csum[0] == 0 && l4_csum[1] == 0)
		l4_csum[0] = l4_csum[1] = 0xff;
}

void nat_rewrite_inbound(const struct nat *n, const struct nat_entry *e,
                         uint8_t *pkt, const struct pkt_view *v)
{
	rewrite_endpoint(pkt, v->l4_off, 12, 0, nat_pseudo_ip(n, e), e->pseudo_port);
	rewrite_endpoint(pkt, v->l4_off, 16, 2, n->listen_ip, n->listen_port);
}

bool nat_rewrite_outbound(const struct nat *n, uint8_t *pkt, size_t len)
{
	const struct nat_entry *e;
	size_t ihl;
	uint32_t dst;
	uint16_t dport;
	uint8_t proto;

	if (len < 20 || (pkt[0] >> 4) != 4)
		return false;
	ihl = (size_t)(pkt[0] & 0x0f) * 4;
	proto = pkt[9];
	if (ihl < 20 || (proto != IPPROTO_TCP && proto != IPPROTO_UDP) ||
	    len < ihl + (proto == IPPROTO_TCP ? 20 : 8))
		return false;
	if ((pkt[6] & 0x3f) || pkt[7]) /* fragments: ports not in every one */
		return false;
	memcpy(&dst, pkt + 16, 4);
	memcpy(&dport, pkt + ihl + 2, 2);
	e = nat_by_pseudo(n, dst, dport);
	if (!e || e->state == NAT_HELD || e->t.proto != proto)
		return false;
	rewrite_endpoint(pkt, ihl, 12, 0, e->t.dst_ip, e->t.dst_port);
	rewrite_endpoint(pkt, ihl, 16, 2, e->t.src_ip, e->t.src_port);
	return true;
}

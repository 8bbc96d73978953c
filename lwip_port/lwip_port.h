/* lwIP on the loop thread, a netif over the tun, and the NAT in front of it
 * that lets stock lwIP accept TCP flows to any destination.
 *
 * One struct lwip_port is one netif, its listener and its NAT table; every
 * call takes it. lwIP's own state (its pcb lists, its timers) belongs to
 * the process, so one instance at a time is what a process has.
 *
 * Addresses and ports in struct nat_tuple are in network byte order.
 */
#ifndef ATB_LWIP_PORT_H
#define ATB_LWIP_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct lwip_port;
struct tcp_pcb;

struct nat_tuple {
	uint32_t src_ip, dst_ip;     /* client (tun side) and original destination */
	uint16_t src_port, dst_port;
	uint8_t proto;               /* IPPROTO_TCP / IPPROTO_UDP */
};

/* An ICMP echo request from the tun (lwip_port_callbacks.icmp_echo), and
 * the description of the reply the bridge sends back with
 * lwip_port_icmp_echo_reply(). */
struct lwip_port_echo {
	uint32_t src, dst;   /* client, and the address it pinged (network order) */
	uint16_t id, seq;    /* ICMP identifier and sequence number (host order) */
	uint8_t ttl;         /* request: its TTL as received; reply: TTL to put
	                        in the reply (e.g. the module's reported one),
	                        0 meaning 64 */
	const uint8_t *data; /* echo payload: the bytes after the 8-byte ICMP
	                        header; in the callback valid during the call */
	size_t len;          /* <= lwip_port_echo_max() */
};

/* The largest echo payload carried, whatever the MTU: a bridge that keeps
 * its own copy of a request needs at most this many bytes per copy. */
#define LWIP_PORT_ECHO_MAX 1472

/* IPv6 is not carried. Packets that arrive anyway are answered so that
 * clients fail fast (see lwip_port_input); the ICMPv6 errors among the
 * answers are rate limited by a token bucket of this rate and burst. */
#define LWIP_PORT_IP6_ERR_PER_S 10
#define LWIP_PORT_IP6_ERR_BURST 10

struct lwip_port_callbacks {
	/* A SYN for a new flow arrived from the tun. The SYN is held (lwIP has
	 * not seen it) until lwip_port_tcp_admit() or lwip_port_tcp_refuse().
	 * Retransmitted SYNs of a held flow are absorbed. */
	void (*tcp_syn)(void *ctx, uint32_t flow_id, const struct nat_tuple *t);
	/* lwIP accepted an admitted flow. The bridge owns pcb from here on
	 * (tcp_arg/tcp_recv/tcp_sent/tcp_err, tcp_close/tcp_abort). */
	void (*tcp_accepted)(void *ctx, uint32_t flow_id, struct tcp_pcb *pcb);
	/* A flow was given up before tcp_accepted was delivered: a held flow
	 * whose client sent RST or that was held longer than hold_timeout_ms
	 * (the client gets RST), or an admitted flow whose lwIP pcb died before
	 * the handshake completed. The bridge forgets flow_id. Not called for
	 * accepted flows: their end is reported by lwIP on the pcb. */
	void (*tcp_abandoned)(void *ctx, uint32_t flow_id);
	/* A packet to put on the tun. pkt is valid only during the call (it is
	 * a static buffer); write or copy it, do not call back into lwip_port. */
	void (*output)(void *ctx, const uint8_t *pkt, size_t len);

	/* UDP, optional: while udp_recv is NULL, UDP is dropped and counted as
	 * unsupported. Each client datagram arrives here (through lwIP's
	 * udp_pcb on netif_ip); the first one of a 5-tuple creates the flow, so
	 * an unknown flow_id means a new flow. data is valid during the call.
	 * Replies go back with lwip_port_udp_send(). */
	void (*udp_recv)(void *ctx, uint32_t flow_id, const struct nat_tuple *t,
	                 const uint8_t *data, size_t len);
	/* A UDP flow was silent (both ways) for udp_idle_timeout_ms and was
	 * freed: the bridge forgets flow_id. */
	void (*udp_expired)(void *ctx, uint32_t flow_id);

	/* ICMP echo, optional: while icmp_echo is NULL, ICMP is dropped and
	 * counted as unsupported. Each valid IPv4 echo request (type 8, code
	 * 0, IP and ICMP checksums verified, unicast source and destination,
	 * unfragmented, payload <= lwip_port_echo_max(), any destination) is
	 * handed over here; e and e->data are valid during the call only. The
	 * bridge pings e->dst its own way and answers with
	 * lwip_port_icmp_echo_reply(), from a copy it keeps (or at once, from
	 * inside this call). No answer at all is fine: ping reports a loss. */
	void (*icmp_echo)(void *ctx, const struct lwip_port_echo *e);
};

struct lwip_port_config {
	uint32_t netif_ip;        /* lwIP's own address (network order), never seen by clients */
	uint16_t mtu;             /* tun MTU, 576..65535 */
	unsigned max_flows;       /* NAT table bound; SYNs beyond it get RST */
	unsigned hold_timeout_ms; /* longest a SYN is held */
	unsigned udp_idle_timeout_ms; /* UDP flow idle lifetime; 0 means 60000 */
	unsigned nat_tcp, nat_udp; /* entries each protocol may hold; 0: 3/4 of max_flows */
};

struct lwip_port_counters {
	uint64_t packets_in, packets_out;
	uint64_t malformed;        /* dropped: bad header, length, checksum, fragment */
	uint64_t unsupported;      /* dropped: protocol not handled */
	uint64_t table_full;       /* SYNs refused (and UDP datagrams dropped)
	                              because the NAT table was full */
	unsigned flows;            /* NAT entries in use */
	/* Each packet from the tun is counted once: in packets_in and in at
	 * most one of the drop reasons. */
	uint64_t icmp_echo_too_big;  /* echo requests dropped: payload beyond
	                                lwip_port_echo_max() */
	uint64_t icmp_reply_too_big; /* lwip_port_icmp_echo_reply() calls refused:
	                                payload beyond lwip_port_echo_max() */
	uint64_t ip6_rst;            /* IPv6 TCP segments answered with a RST */
	uint64_t ip6_unreach;        /* IPv6 packets answered with ICMPv6
	                                destination unreachable */
	uint64_t ip6_rate_limited;   /* IPv6 packets that would have been answered
	                                with ICMPv6 but the rate limit was spent */
	uint64_t ip6_dropped;        /* IPv6 dropped without an answer, by design:
	                                ICMPv6 (ND, MLD, echo...), TCP RST,
	                                multicast/unspecified addresses,
	                                non-first fragments */
};

/* Initialises lwIP (sys_init + lwip_init, no tcpip thread) on first use,
 * the netif and the listener, and starts the lwIP timer on the loop (none
 * without a loop: see lwip_port_poll). ctx goes to every callback. NULL,
 * with one line logged, on a bad configuration. */
struct lwip_port *lwip_port_new(struct ev_loop *loop, const struct lwip_port_config *cfg,
                                const struct lwip_port_callbacks *cb, void *ctx);
/* Aborts the pcbs that are left (their err callbacks run) and frees lp. */
void lwip_port_free(struct lwip_port *lp);

/* One whole IP packet read from the tun. Malformed packets are dropped and
 * counted, never trusted.
 *
 * IPv4 TCP and UDP go through the NAT, ICMP echo requests to icmp_echo.
 *
 * IPv6 is not carried (tun0 has no IPv6 route by default); a packet that
 * arrives anyway is answered at once so the client falls back to IPv4
 * instead of waiting for a timeout. The answer comes "from" the packet's
 * destination:
 *   - TCP SYN: RST+ACK (seq 0, ack = ISN + 1 + payload), like a closed port;
 *     any other TCP segment the RFC 793 reset (a RST is not answered);
 *   - UDP: ICMPv6 destination unreachable, code 4 (port unreachable);
 *   - any other upper layer, and first fragments: ICMPv6 destination
 *     unreachable, code 1 (communication administratively prohibited);
 *   - ICMPv6 (neighbour discovery, MLD, echo...): dropped quietly;
 *   - nothing is sent to or about multicast or unspecified addresses, or
 *     for non-first fragments (RFC 4443 2.4 e).
 * ICMPv6 errors carry as much of the packet as fits in 1280 bytes (and the
 * MTU) and are rate limited (LWIP_PORT_IP6_ERR_PER_S, RFC 4443 2.4 f); TCP
 * RSTs are not (one small answer per segment). TCP and UDP checksums are
 * verified first: a packet that fails them, a header shorter than 40
 * bytes, a payload length beyond the buffer or a truncated extension
 * header is counted malformed and not answered. No allocation. */
void lwip_port_input(struct lwip_port *lp, const uint8_t *pkt, size_t len);

/* Lets a held SYN through to lwIP: lwIP answers SYN-ACK, tcp_accepted follows. */
void lwip_port_tcp_admit(struct lwip_port *lp, uint32_t flow_id);
/* Answers a held SYN with RST (connection refused) and frees the entry. */
void lwip_port_tcp_refuse(struct lwip_port *lp, uint32_t flow_id);

void lwip_port_get_counters(const struct lwip_port *lp, struct lwip_port_counters *out);

/* Sends a datagram to the client of UDP flow flow_id, from the flow's
 * original destination address and port. len must fit the MTU unfragmented
 * (len <= mtu - 28). Returns 0, or -1 if the flow is gone or len too big. */
int lwip_port_udp_send(struct lwip_port *lp, uint32_t flow_id, const void *data, size_t len);
/* Frees UDP flow flow_id now (no udp_expired follows). */
void lwip_port_udp_close(struct lwip_port *lp, uint32_t flow_id);

/* The largest echo payload carried: min(mtu - 28, LWIP_PORT_ECHO_MAX). */
size_t lwip_port_echo_max(const struct lwip_port *lp);
/* Sends the echo reply to e->src (an ICMP echo reply, type 0, from e->dst
 * with e->id, e->seq and e->len bytes of e->data, TTL e->ttl or 64 if
 * 0, valid IP and ICMP checksums) through cb->output. e and its data are
 * read during the call only. May be called from inside icmp_echo. Returns
 * 0, or -1 if e->len > lwip_port_echo_max() (then counted in
 * icmp_reply_too_big). */
int lwip_port_icmp_echo_reply(struct lwip_port *lp, const struct lwip_port_echo *e);

/* The port of the single lwIP listener on netif_ip (host order). */
#define LWIP_PORT_LISTEN_PORT 1

/* What the loop timer does every 50 ms: lwIP timeouts, and every 250 ms the
 * NAT sweep (hold timeouts, entries whose pcb is gone). Exposed for tests
 * and for callers without a loop (lwip_port_new with loop == NULL). */
void lwip_port_poll(struct lwip_port *lp);
/* Runs the NAT sweep now, regardless of when it last ran (tests). */
void lwip_port_sweep(struct lwip_port *lp);

#endif

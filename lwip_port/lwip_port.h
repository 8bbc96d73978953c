/* lwIP on the loop thread, a netif over the tun, and the NAT in front of it
 * that lets stock lwIP accept TCP flows to any destination.
 *
 * Addresses and ports in struct nat_tuple are in network byte order.
 */
#ifndef ATB_LWIP_PORT_H
#define ATB_LWIP_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct tcp_pcb;

struct nat_tuple {
	uint32_t src_ip, dst_ip;     /* client (tun side) and original destination */
	uint16_t src_port, dst_port;
	uint8_t proto;               /* IPPROTO_TCP / IPPROTO_UDP */
};

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
};

struct lwip_port_config {
	uint32_t netif_ip;        /* lwIP's own address (network order), never seen by clients */
	uint16_t mtu;             /* tun MTU, 576..65535 */
	unsigned max_flows;       /* NAT table bound; SYNs beyond it get RST */
	unsigned hold_timeout_ms; /* longest a SYN is held */
	unsigned udp_idle_timeout_ms; /* UDP flow idle lifetime; 0 means 60000 */
};

struct lwip_port_counters {
	uint64_t packets_in, packets_out;
	uint64_t malformed;        /* dropped: bad header, length, checksum, fragment */
	uint64_t unsupported;      /* dropped: protocol not handled */
	uint64_t table_full;       /* SYNs refused (and UDP datagrams dropped)
	                              because the NAT table was full */
	unsigned flows;            /* NAT entries in use */
};

/* Initialises lwIP (sys_init + lwip_init, no tcpip thread), the netif and
 * the listener, and starts the lwIP timer on the loop. */
int lwip_port_init(struct ev_loop *loop, const struct lwip_port_config *cfg,
                   const struct lwip_port_callbacks *cb, void *ctx);
void lwip_port_shutdown(void);

/* One whole IPv4 packet read from the tun. Malformed packets are dropped and
 * counted, never trusted. */
void lwip_port_input(const uint8_t *pkt, size_t len);

/* Lets a held SYN through to lwIP: lwIP answers SYN-ACK, tcp_accepted follows. */
void lwip_port_tcp_admit(uint32_t flow_id);
/* Answers a held SYN with RST (connection refused) and frees the entry. */
void lwip_port_tcp_refuse(uint32_t flow_id);

void lwip_port_get_counters(struct lwip_port_counters *out);

/* Sends a datagram to the client of UDP flow flow_id, from the flow's
 * original destination address and port. len must fit the MTU unfragmented
 * (len <= mtu - 28). Returns 0, or -1 if the flow is gone or len too big. */
int lwip_port_udp_send(uint32_t flow_id, const void *data, size_t len);
/* Frees UDP flow flow_id now (no udp_expired follows). */
void lwip_port_udp_close(uint32_t flow_id);

/* The port of the single lwIP listener on netif_ip (host order). */
#define LWIP_PORT_LISTEN_PORT 1

/* What the loop timer does every 50 ms: lwIP timeouts, and every 250 ms the
 * NAT sweep (hold timeouts, entries whose pcb is gone). Exposed for tests
 * and for callers without a loop (lwip_port_init with loop == NULL). */
void lwip_port_poll(void);
/* Runs the NAT sweep now, regardless of when it last ran (tests). */
void lwip_port_sweep(void);

#endif

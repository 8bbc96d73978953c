/* A scripted modem for the bridge's unit tests: the modem.h calls the
 * bridge makes are recorded (links opened, bytes and datagrams taken,
 * windows granted, closes asked for), and the test plays the module's side
 * by sending the struct modem_events the real modem layer would
 * (fake_connected, fake_accept, fake_data, fake_closed...).
 *
 * Also a client on the tun side: crafted TCP/UDP packets go in through
 * lwip_port_input, and what the bridge writes toward the tun is parsed
 * into per-client state (bytes received in order, FIN, RST). */
#ifndef ATB_TEST_FAKE_MODEM_H
#define ATB_TEST_FAKE_MODEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge.h"

#define FAKE_LINKS 4
#define FAKE_BUF 65536
#define FAKE_DGRAMS 32

struct fake_link {
	bool used;
	enum modem_proto proto;
	uint32_t ip;
	uint16_t port;
	size_t window;        /* last modem_recv_window() */
	int windows_set;      /* modem_recv_window() calls */
	bool close_asked;     /* modem_close() called */
	size_t unacked;       /* taken by modem_send, not yet fake_accept()ed */
	uint8_t up[FAKE_BUF]; /* every byte modem_send() took, in order */
	size_t up_len;
	size_t dgram_len[FAKE_DGRAMS]; /* UDP: each datagram taken */
	unsigned ndgrams;
};

struct fake_modem {
	bool up;
	int max_links;
	size_t space;       /* bytes a link holds not yet accepted by the module */
	size_t take_max;    /* modem_send takes at most this per call (TCP) */
	int opens, closes, resolves, pings;
	uint16_t listen[4]; /* modem_listen() ports */
	unsigned n_listen;
	struct fake_link link[FAKE_LINKS];
	struct bridge *b;
};

extern struct fake_modem fake;
/* The bridge under test. */
extern struct bridge bridge;

/* A bridge over lwip_port (netif 192.0.0.1, no tun) and the fake modem:
 * max_links links, link up, TCP queue of queue_len, DNS to port 53
 * answered by the bridge. TCP and UDP may each hold every link. */
void harness_setup(unsigned max_links, unsigned queue_len);
/* The same with the bridge's own bounds on the links TCP and UDP hold
 * (0: its defaults). */
void harness_setup_caps(unsigned max_links, unsigned queue_len, unsigned tcp_links,
                        unsigned udp_links);
void harness_teardown(void);
/* Forwards of the next harness_setup (inbound.c); none unless set. */
extern struct inbound_config harness_inbound;
/* Runs the loop's ready work a few times (kernel sockets of inbound.c). */
void harness_run(void);

/* The module's side. */
void fake_connected(int link, bool ok);
/* The module accepted n more bytes (n = 0: all unacked). */
void fake_accept(int link, size_t n);
void fake_data(int link, const void *buf, size_t len);
void fake_closed(int link, bool lost);
/* The module accepted a connection on link for a listened port. */
void fake_accepted(int link, uint16_t port);
void fake_send_failed(int link);

/* The client's side: one TCP connection from CLIENT:sport to SERVER:80, or
 * UDP datagrams from CLIENT:sport to SERVER:dport. */
#define CLIENT "10.0.0.2"
#define SERVER "198.51.100.7"

struct client {
	uint16_t sport;
	uint32_t snd_nxt, rcv_nxt;
	bool synack, fin, rst;
	int segments;          /* TCP segments received */
	uint8_t rx[FAKE_BUF];  /* payload received in order (TCP) or the last datagram (UDP) */
	size_t rx_len;
	int datagrams;
	uint16_t dgram_sport;  /* source port of the last datagram */
	uint32_t dgram_src;
};

void client_init(struct client *c, uint16_t sport);
void client_syn(struct client *c);
void client_ack(struct client *c);
void client_send(struct client *c, const void *data, size_t len);
void client_fin(struct client *c);
/* The three-way handshake through the fake: SYN, the module connects
 * link, SYN-ACK, ACK. */
void client_open(struct client *c, int link);
void client_udp(struct client *c, uint16_t dport, const void *data, size_t len);
/* An ICMP echo request from CLIENT to SERVER. */
void client_ping(uint16_t id, uint16_t seq, const void *data, size_t len);

/* ICMP the bridge wrote toward the tun: how many, and the last one. */
struct icmp_capture {
	int n;
	uint8_t pkt[1600];
	size_t len;
};
extern struct icmp_capture icmp_out;

/* Deterministic test bytes. */
void pattern(uint8_t *buf, size_t len, unsigned seed);
/* The lwIP pcb of the only open connection: its receive window shows
 * what the bridge gave back with tcp_recved(). */
struct tcp_pcb *only_pcb(void);

#endif

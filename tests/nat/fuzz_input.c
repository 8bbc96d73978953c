/* Fuzz target for lwip_port_input: everything a tun can hand us (IPv4 TCP,
 * UDP, ICMP echo, IPv6), with the NAT state driven by the same input
 * (admit, refuse, sweep, bridge writes, echo replies). Every ICMP and IPv6
 * packet lwip_port emits is checked (lengths, checksums): abort if wrong.
 *
 * Input: a sequence of records  op:u8 len:u16be bytes[len]
 *   op & 7 == 0  feed bytes as a packet (op & 0x80: fix IPv4 header and
 *                TCP/UDP/ICMP checksums, or IPv6 payload length and
 *                TCP/UDP/ICMPv6 checksums, so the fuzzer gets past
 *                validation); echo requests with an odd id are answered
 *                from inside the callback
 *   op & 7 == 1  admit the last flow that asked     op & 7 == 2  refuse it
 *   op & 7 == 3  run lwIP's timers and the sweep, write to every accepted
 *                pcb, answer the last UDP flow and the last echo request
 *                (from the bridge's copy, bytes as its TTL)
 *   op & 7 == 4  play the client of the last SYN-ACK seen: ACK it, with
 *                bytes as data (so handshakes complete and data flows)
 *   op & 7 == 5  that client sends FIN     op & 7 == 6  it sends RST
 *   op & 7 == 7  the bridge closes (or aborts, op & 0x80) its pcbs
 *
 * Built with clang -fsanitize=fuzzer when ATB_FUZZ=ON; otherwise main()
 * replays files given on the command line, or, with none, a few thousand
 * pseudo-random inputs (a smoke test run by ctest). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lwip/tcp.h"

#include "checksum.h"
#include "lwip_port.h"

/* the port under test */
static struct lwip_port *lp;

static uint32_t last_flow, last_udp;
static struct lwip_port_echo last_echo; /* the bridge's copy */
static uint8_t last_echo_data[LWIP_PORT_ECHO_MAX];
static int have_echo;
static unsigned long echo_total, ip6_out_total;
static unsigned long accepted_total;
static struct tcp_pcb *pcbs[8];

/* The client side of the last handshake lwIP answered. */
static struct {
	int valid;
	uint8_t srv[4], cli[4], sport[2], cport[2];
	uint32_t snd_nxt, rcv_nxt; /* client's view */
} peer;

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void forget_pcb(struct tcp_pcb *pcb)
{
	for (int i = 0; i < 8; i++)
		if (pcbs[i] == pcb)
			pcbs[i] = NULL;
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	(void)arg;
	(void)err;
	if (!p) { /* client FIN: close our side too */
		forget_pcb(pcb);
		tcp_arg(pcb, NULL);
		tcp_recv(pcb, NULL);
		tcp_err(pcb, NULL);
		if (tcp_close(pcb) != ERR_OK) {
			tcp_abort(pcb);
			return ERR_ABRT;
		}
		return ERR_OK;
	}
	tcp_recved(pcb, p->tot_len);
	pbuf_free(p);
	return ERR_OK;
}

static void on_syn(void *ctx, uint32_t id, const struct nat_tuple *t)
{
	(void)ctx;
	(void)t;
	last_flow = id;
}

static void on_err(void *arg, err_t err)
{
	(void)err;
	pcbs[(uintptr_t)arg] = NULL;
}

static void on_accepted(void *ctx, uint32_t id, struct tcp_pcb *pcb)
{
	(void)ctx;
	accepted_total++;
	for (uintptr_t i = 0; i < 8; i++)
		if (!pcbs[i]) {
			pcbs[i] = pcb;
			tcp_arg(pcb, (void *)i);
			tcp_err(pcb, on_err);
			tcp_recv(pcb, on_recv);
			return;
		}
	(void)id;
	tcp_abort(pcb);
}

static void on_abandoned(void *ctx, uint32_t id)
{
	(void)ctx;
	(void)id;
}

static void on_udp(void *ctx, uint32_t id, const struct nat_tuple *t,
                   const uint8_t *data, size_t len)
{
	static volatile uint8_t sink;

	(void)ctx;
	(void)t;
	last_udp = id;
	for (size_t i = 0; i < len; i++)
		sink = (uint8_t)(sink ^ data[i]);
}

static void on_udp_expired(void *ctx, uint32_t id)
{
	(void)ctx;
	(void)id;
}

static void on_echo(void *ctx, const struct lwip_port_echo *e)
{
	(void)ctx;
	if (e->len > sizeof last_echo_data)
		abort(); /* lwip_port promised the bound */
	last_echo = *e;
	memcpy(last_echo_data, e->data, e->len);
	last_echo.data = last_echo_data;
	have_echo = 1;
	echo_total++;
	if ((e->id & 1) && lwip_port_icmp_echo_reply(lp, e) != 0)
		abort();
}

static uint16_t pseudo6_sum(const uint8_t *p, size_t l4_len, uint8_t next)
{
	return csum_finish(csum_partial(p + 40, l4_len,
	                                csum_pseudo_v6(p + 8, p + 24, (uint32_t)l4_len, next)));
}

/* What lwip_port answers on its own must be right to the last byte count
 * and checksum. */
static void check_own_packet(const uint8_t *pkt, size_t len)
{
	if (len >= 1 && (pkt[0] >> 4) == 6) {
		ip6_out_total++;
		if (len < 48 || len > 1280 || (size_t)(pkt[4] << 8 | pkt[5]) + 40 != len ||
		    (pkt[6] != 6 && pkt[6] != 58) || pseudo6_sum(pkt, len - 40, pkt[6]) != 0)
			abort();
	} else if (len >= 20 && pkt[9] == 1) {
		if (len != (size_t)(pkt[2] << 8 | pkt[3]) || len < 28 || pkt[20] != 0 ||
		    csum_finish(csum_partial(pkt, 20, 0)) != 0 ||
		    csum_finish(csum_partial(pkt + 20, len - 20, 0)) != 0)
			abort();
	}
}

static void on_output(void *ctx, const uint8_t *pkt, size_t len)
{
	static volatile uint8_t sink;

	(void)ctx;
	for (size_t i = 0; i < len; i++)
		sink = (uint8_t)(sink ^ pkt[i]); /* touch every byte for ASan */
	check_own_packet(pkt, len);
	if (len >= 40 && pkt[0] == 0x45 && pkt[9] == 6 && pkt[33] == 0x12) { /* SYN-ACK */
		memcpy(peer.srv, pkt + 12, 4);
		memcpy(peer.cli, pkt + 16, 4);
		memcpy(peer.sport, pkt + 20, 2);
		memcpy(peer.cport, pkt + 22, 2);
		peer.rcv_nxt = rd32(pkt + 24) + 1;
		peer.snd_nxt = rd32(pkt + 28);
		peer.valid = 1;
	} else if (peer.valid && len >= 40 && pkt[0] == 0x45 && pkt[9] == 6 && !memcmp(pkt + 22, peer.cport, 2)) {
		uint32_t seg = (uint32_t)(len - 20 - (size_t)(pkt[32] >> 4) * 4);
		if (pkt[33] & 0x01)
			seg++;
		if (rd32(pkt + 24) == peer.rcv_nxt)
			peer.rcv_nxt += seg;
	}
}

/* Sends a segment from the tracked client with valid checksums. */
static void peer_send(uint8_t flags, const uint8_t *data, size_t len)
{
	uint8_t *p;
	size_t tot = 40 + len;
	uint16_t c;

	if (!peer.valid || tot > 1500)
		return;
	p = calloc(1, tot);
	p[0] = 0x45;
	p[2] = (uint8_t)(tot >> 8);
	p[3] = (uint8_t)tot;
	p[8] = 64;
	p[9] = 6;
	memcpy(p + 12, peer.cli, 4);
	memcpy(p + 16, peer.srv, 4);
	memcpy(p + 20, peer.cport, 2);
	memcpy(p + 22, peer.sport, 2);
	wr32(p + 24, peer.snd_nxt);
	wr32(p + 28, peer.rcv_nxt);
	p[32] = 5 << 4;
	p[33] = flags;
	p[34] = p[35] = 0xff;
	if (len)
		memcpy(p + 40, data, len);
	c = csum_finish(csum_partial(p, 20, 0));
	memcpy(p + 10, &c, 2);
	uint32_t s, d;
	memcpy(&s, p + 12, 4);
	memcpy(&d, p + 16, 4);
	c = csum_finish(csum_partial(p + 20, tot - 20, csum_pseudo_v4(s, d, 6, (uint16_t)(tot - 20))));
	memcpy(p + 36, &c, 2);
	peer.snd_nxt += (uint32_t)len + ((flags & 0x01) ? 1 : 0);
	lwip_port_input(lp, p, tot);
	free(p);
}

static void fix_checksums6(uint8_t *p, size_t len)
{
	size_t off;
	uint16_t c;

	if (len < 40)
		return;
	p[4] = (uint8_t)((len - 40) >> 8);
	p[5] = (uint8_t)(len - 40);
	if (p[6] == 6 && len >= 60)
		off = 16;
	else if (p[6] == 17 && len >= 48)
		off = 6;
	else if (p[6] == 58 && len >= 44)
		off = 2;
	else
		return;
	if (p[6] == 17) {
		p[44] = (uint8_t)((len - 40) >> 8);
		p[45] = (uint8_t)(len - 40);
	}
	p[40 + off] = p[40 + off + 1] = 0;
	c = pseudo6_sum(p, len - 40, p[6]);
	memcpy(p + 40 + off, &c, 2);
}

static void fix_checksums(uint8_t *p, size_t len)
{
	size_t ihl, tot;
	uint16_t c;
	uint32_t s, d;

	if (len >= 1 && (p[0] >> 4) == 6) {
		fix_checksums6(p, len);
		return;
	}
	if (len < 20)
		return;
	ihl = (size_t)(p[0] & 15) * 4;
	tot = (size_t)(p[2] << 8 | p[3]);
	if (ihl < 20 || ihl > len)
		return;
	p[10] = p[11] = 0;
	c = csum_finish(csum_partial(p, ihl, 0));
	memcpy(p + 10, &c, 2);
	if (p[9] == 1 && tot <= len && tot >= ihl + 8) {
		p[ihl + 2] = p[ihl + 3] = 0;
		c = csum_finish(csum_partial(p + ihl, tot - ihl, 0));
		memcpy(p + ihl + 2, &c, 2);
		return;
	}
	if ((p[9] != 6 && p[9] != 17) || tot > len || tot < ihl + (p[9] == 6 ? 20u : 8u))
		return;
	size_t off = ihl + (p[9] == 6 ? 16 : 6);
	if (p[9] == 17) { /* make the UDP length right too */
		p[ihl + 4] = (uint8_t)((tot - ihl) >> 8);
		p[ihl + 5] = (uint8_t)(tot - ihl);
	}
	memcpy(&s, p + 12, 4);
	memcpy(&d, p + 16, 4);
	p[off] = p[off + 1] = 0;
	c = csum_finish(csum_partial(p + ihl, tot - ihl, csum_pseudo_v4(s, d, p[9], (uint16_t)(tot - ihl))));
	memcpy(p + off, &c, 2);
}

/* Every input starts from an empty NAT and no pcbs of ours, so a crash
 * reproduces from its input alone. */
static void start(void)
{
	static const struct lwip_port_callbacks cb = {
		.tcp_syn = on_syn, .tcp_accepted = on_accepted,
		.tcp_abandoned = on_abandoned, .output = on_output,
		.udp_recv = on_udp, .udp_expired = on_udp_expired,
		.icmp_echo = on_echo,
	};
	struct lwip_port_config cfg = {
		.netif_ip = 0x010000c0, /* 192.0.0.1 */
		.mtu = 1500, .max_flows = 16, .hold_timeout_ms = 1000,
	};

	memset(pcbs, 0, sizeof pcbs);
	memset(&peer, 0, sizeof peer);
	last_flow = last_udp = 0;
	have_echo = 0;
	if (!(lp = lwip_port_new(NULL, &cfg, &cb, NULL)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	start();
	while (size >= 3) {
		uint8_t op = data[0];
		size_t len = (size_t)(data[1] << 8 | data[2]);
		uint8_t *pkt;

		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		switch (op & 7) {
		case 0:
			pkt = malloc(len ? len : 1); /* exact size: ASan sees overreads */
			memcpy(pkt, data, len);
			if (op & 0x80)
				fix_checksums(pkt, len);
			lwip_port_input(lp, pkt, len);
			free(pkt);
			break;
		case 1:
			lwip_port_tcp_admit(lp, last_flow);
			break;
		case 2:
			lwip_port_tcp_refuse(lp, last_flow);
			break;
		case 3:
			lwip_port_poll(lp);
			lwip_port_sweep(lp);
			for (int i = 0; i < 8; i++)
				if (pcbs[i] && tcp_sndbuf(pcbs[i]) > 16) {
					tcp_write(pcbs[i], "0123456789abcdef", 16, TCP_WRITE_FLAG_COPY);
					tcp_output(pcbs[i]);
				}
			lwip_port_udp_send(lp, last_udp, data, len < 64 ? len : 64);
			if (have_echo) {
				last_echo.ttl = len ? data[0] : 0;
				if (lwip_port_icmp_echo_reply(lp, &last_echo) != 0)
					abort();
			}
			break;
		case 4:
			peer_send(0x18, data, len);
			break;
		case 5:
			peer_send(0x11, NULL, 0);
			break;
		case 6:
			peer_send(0x04, NULL, 0);
			peer.valid = 0;
			break;
		case 7:
			for (int i = 0; i < 8; i++) {
				struct tcp_pcb *pcb = pcbs[i];

				if (!pcb)
					continue;
				pcbs[i] = NULL;
				tcp_arg(pcb, NULL);
				tcp_recv(pcb, NULL);
				tcp_err(pcb, NULL);
				if ((op & 0x80) || tcp_close(pcb) != ERR_OK)
					tcp_abort(pcb);
			}
			break;
		}
		data += len;
		size -= len;
	}
	lwip_port_free(lp); /* aborts what is left: on_err clears pcbs[] */
	return 0;
}

#ifndef ATB_LIBFUZZER
#define SMOKE_INPUTS 40000

static int replay(const char *path)
{
	static uint8_t buf[1 << 20];
	size_t n;
	FILE *f = fopen(path, "rb");

	if (!f) {
		perror(path);
		return 1;
	}
	n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	return 0;
}

/* Templates to mutate, by i (0..15): 0-7 a SYN from 10.0.0.2:1000+i to
 * 198.51.100.7:80; 8-11 an ICMP echo request (id i); 12, 13 an IPv6 SYN;
 * 14, 15 an IPv6 UDP datagram. */
static size_t template_syn(uint8_t *p, unsigned i)
{
	static const uint8_t syn[40] = {
		0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 2, 198, 51, 100, 7,
		0x03, 0xe8, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
	};
	static const uint8_t echo[36] = {
		0x45, 0, 0, 36, 0, 0, 0, 0, 64, 1, 0, 0, 10, 0, 0, 2, 203, 0, 113, 9,
		8, 0, 0, 0, 0, 0, 0, 1, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h',
	};
	static const uint8_t syn6[60] = {
		0x60, 0, 0, 0, 0, 20, 6, 64,
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
		0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7,
		0x03, 0xe8, 0x01, 0xbb, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
	};

	if (i >= 8 && i < 12) {
		memcpy(p, echo, sizeof echo);
		p[25] = (uint8_t)i;
		fix_checksums(p, sizeof echo);
		return sizeof echo;
	}
	if (i >= 12) {
		memcpy(p, syn6, sizeof syn6);
		p[41] = (uint8_t)(0xe8 + i);
		if (i >= 14) { /* UDP: 8-byte header and 12 bytes of data */
			p[6] = 17;
			memset(p + 48, 'u', 12);
		}
		fix_checksums(p, sizeof syn6);
		return sizeof syn6;
	}
	memcpy(p, syn, sizeof syn);
	p[21] = (uint8_t)(0xe8 + i);
	return sizeof syn;
}

int main(int argc, char **argv)
{
	uint8_t in[4096];
	uint32_t r = 1;

	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			if (replay(argv[i]))
				return 1;
		return 0;
	}
	for (int iter = 0; iter < SMOKE_INPUTS; iter++) {
		size_t n = 0;

		for (int rec = 0; rec < 6 && n + 3 + 64 < sizeof in; rec++) {
			r = r * 1103515245u + 12345u;
			uint8_t op = (uint8_t)(r >> 16);
			size_t len = template_syn(in + n + 3, (r >> 8) & 15);

			for (int k = (int)((r >> 4) & 3); k > 0; k--) {
				r = r * 1103515245u + 12345u;
				in[n + 3 + (r >> 16) % len] = (uint8_t)(r >> 8);
			}
			if ((op & 7) == 0 && (r & 1))
				op |= 0x80;
			in[n] = op;
			in[n + 1] = 0;
			in[n + 2] = (uint8_t)len;
			n += 3 + len;
		}
		LLVMFuzzerTestOneInput(in, n);
	}
	printf("accepted %lu flows in %d inputs\n", accepted_total, SMOKE_INPUTS);
	printf("echo requests %lu, own IPv6 answers %lu\n", echo_total, ip6_out_total);
	return 0;
}
#endif

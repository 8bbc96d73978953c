/* Fuzz target for lwip_port_input: everything a tun can hand us, with the
 * NAT state driven by the same input (admit, refuse, sweep, bridge writes).
 *
 * Input: a sequence of records  op:u8 len:u16be bytes[len]
 *   op & 7 == 0  feed bytes as a packet (op & 0x80: fix IP/TCP checksums
 *                first so the fuzzer gets past validation)
 *   op & 7 == 1  admit the last flow that asked     op & 7 == 2  refuse it
 *   op & 7 == 3  run lwIP's timers and the sweep, write to every accepted
 *                pcb and answer the last UDP flow
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

static uint32_t last_flow, last_udp;
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

static void on_output(void *ctx, const uint8_t *pkt, size_t len)
{
	static volatile uint8_t sink;

	(void)ctx;
	for (size_t i = 0; i < len; i++)
		sink = (uint8_t)(sink ^ pkt[i]); /* touch every byte for ASan */
	if (len >= 40 && pkt[0] == 0x45 && pkt[9] == 6 && pkt[33] == 0x12) { /* SYN-ACK */
		memcpy(peer.srv, pkt + 12, 4);
		memcpy(peer.cli, pkt + 16, 4);
		memcpy(peer.sport, pkt + 20, 2);
		memcpy(peer.cport, pkt + 22, 2);
		peer.rcv_nxt = rd32(pkt + 24) + 1;
		peer.snd_nxt = rd32(pkt + 28);
		peer.valid = 1;
	} else if (peer.valid && len >= 40 && pkt[9] == 6 && !memcmp(pkt + 22, peer.cport, 2)) {
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
	lwip_port_input(p, tot);
	free(p);
}

static void fix_checksums(uint8_t *p, size_t len)
{
	size_t ihl, tot;
	uint16_t c;
	uint32_t s, d;

	if (len < 20)
		return;
	ihl = (size_t)(p[0] & 15) * 4;
	tot = (size_t)(p[2] << 8 | p[3]);
	if (ihl < 20 || ihl > len)
		return;
	p[10] = p[11] = 0;
	c = csum_finish(csum_partial(p, ihl, 0));
	memcpy(p + 10, &c, 2);
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
	};
	struct lwip_port_config cfg = {
		.netif_ip = 0x010000c0, /* 192.0.0.1 */
		.mtu = 1500, .max_flows = 16, .hold_timeout_ms = 1000,
	};

	memset(pcbs, 0, sizeof pcbs);
	memset(&peer, 0, sizeof peer);
	last_flow = last_udp = 0;
	if (lwip_port_init(NULL, &cfg, &cb, NULL) < 0)
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
			lwip_port_input(pkt, len);
			free(pkt);
			break;
		case 1:
			lwip_port_tcp_admit(last_flow);
			break;
		case 2:
			lwip_port_tcp_refuse(last_flow);
			break;
		case 3:
			lwip_port_poll();
			lwip_port_sweep();
			for (int i = 0; i < 8; i++)
				if (pcbs[i] && tcp_sndbuf(pcbs[i]) > 16) {
					tcp_write(pcbs[i], "0123456789abcdef", 16, TCP_WRITE_FLAG_COPY);
					tcp_output(pcbs[i]);
				}
			lwip_port_udp_send(last_udp, data, len < 64 ? len : 64);
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
	lwip_port_shutdown(); /* aborts what is left: on_err clears pcbs[] */
	return 0;
}

#ifndef ATB_LIBFUZZER
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

/* A SYN from 10.0.0.2:1000+i to 198.51.100.7:80 as a template to mutate. */
static size_t template_syn(uint8_t *p, unsigned i)
{
	static const uint8_t syn[40] = {
		0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 2, 198, 51, 100, 7,
		0x03, 0xe8, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
	};
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
	for (int iter = 0; iter < 20000; iter++) {
		size_t n = 0;

		for (int rec = 0; rec < 6 && n + 3 + 64 < sizeof in; rec++) {
			r = r * 1103515245u + 12345u;
			uint8_t op = (uint8_t)(r >> 16);
			size_t len = template_syn(in + n + 3, (r >> 8) & 7);

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
	printf("accepted %lu flows in %d inputs\n", accepted_total, 20000);
	return 0;
}
#endif

/* Fuzz target for the DNS codec (bridge/dns_codec.c): every query from the
 * tun goes through dns_parse_query() before a name can reach an AT command.
 *
 * Checks: a question accepted (DNS_NOERROR) has a name of host-name bytes
 * only, 1..253 long, lower case; an answer built for any parse result fits
 * the buffer it was given, carries the query's id, has QR set (so parsing
 * it as a query ignores it) and never reads past the question it echoes.
 *
 * libFuzzer with -DATB_LIBFUZZER (tests/fuzz/run.sh); otherwise main() runs
 * seeded mutations of well-formed queries (a smoke test under ctest). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_dns: broken promise: %s\n", what);
		abort();
	}
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > DNS_NAME_MAX || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
			return false;
		if (c == '.' && s[i + 1] == '.')
			return false;
	}
	return true;
}

static void check_answer(const struct dns_query *q, enum dns_rcode rc, size_t cap)
{
	static const uint32_t addrs[2] = { 0x0a000001u, 0xc0000201u };
	uint8_t out[1024];
	struct dns_query again;
	for (size_t n = 0; n <= 2; n++) {
		memset(out, 0xa5, sizeof(out));
		size_t len = dns_build_response(q, rc, addrs, n, 60, out, cap);
		check(len <= cap, "answer longer than its buffer");
		for (size_t i = cap; i < sizeof(out); i++)
			check(out[i] == 0xa5, "wrote past the buffer");
		if (len == 0)
			continue;
		check(len >= DNS_HEADER_LEN, "answer shorter than a header");
		check(((out[0] << 8) | out[1]) == q->id, "answer with another id");
		check(out[2] & 0x80, "answer without QR");
		check(dns_parse_query(out, len, &again) == -1, "own answer taken for a query");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_query q;
	/* Exact-size copy: ASan sees any read past the message. */
	uint8_t *msg = malloc(size ? size : 1);
	if (!msg)
		return 0;
	memcpy(msg, data, size);
	memset(&q, 0, sizeof(q));
	int rc = dns_parse_query(msg, size, &q);
	if (rc == DNS_NOERROR) {
		check(name_ok(q.name), "accepted name with bytes a host name may not hold");
		check(q.question_len > 0, "accepted query without a question");
	}
	if (q.question_len)
		check(q.question >= msg && q.question + q.question_len <= msg + size,
		      "question outside the message");
	if (rc >= 0) {
		enum dns_rcode r = (enum dns_rcode)rc;
		check_answer(&q, r, 512);
		check_answer(&q, r, size % 64); /* small buffers too */
		if (rc == DNS_NOERROR)
			check_answer(&q, DNS_NXDOMAIN, 512);
	}
	free(msg);
	return 0;
}

#ifndef ATB_LIBFUZZER
/* A query for name with qtype, in a buffer; returns its length. */
static size_t make_query(uint8_t *buf, const char *name, uint16_t qtype, uint16_t id)
{
	size_t o = DNS_HEADER_LEN;
	memset(buf, 0, DNS_HEADER_LEN);
	buf[0] = (uint8_t)(id >> 8);
	buf[1] = (uint8_t)id;
	buf[2] = 0x01; /* RD */
	buf[5] = 1;    /* one question */
	while (*name) {
		size_t l = strcspn(name, ".");
		buf[o++] = (uint8_t)l;
		memcpy(buf + o, name, l);
		o += l;
		name += l;
		if (*name == '.')
			name++;
	}
	buf[o++] = 0;
	buf[o++] = (uint8_t)(qtype >> 8);
	buf[o++] = (uint8_t)qtype;
	buf[o++] = 0;
	buf[o++] = 1;
	return o;
}

int main(int argc, char **argv)
{
	static const char *names[] = { "www.example.test", "a", "xn--bcher-kva.example",
		                       "under_score.test", "UPPER.Case.Test", "a.b.c.d.e.f.g.h" };
	unsigned runs = argc > 1 ? (unsigned)atoi(argv[1]) : 20000;
	srand(argc > 2 ? (unsigned)atoi(argv[2]) : 1);
	uint8_t buf[600];
	for (unsigned i = 0; i < runs; i++) {
		size_t n = make_query(buf, names[i % 6], (uint16_t)(i % 3 == 0 ? 28 : 1), (uint16_t)i);
		unsigned flips = (unsigned)rand() % 6;
		for (unsigned k = 0; k < flips; k++) /* mutate bytes, sometimes the length */
			buf[(size_t)rand() % n] = (uint8_t)rand();
		if (rand() % 4 == 0)
			n = (size_t)rand() % (n + 1);
		if (rand() % 8 == 0) { /* a long tail of labels */
			size_t extra = (size_t)rand() % (sizeof(buf) - n);
			for (size_t k = 0; k < extra; k++)
				buf[n + k] = (uint8_t)(rand() % 3 ? 63 : rand());
			n += extra;
		}
		LLVMFuzzerTestOneInput(buf, n);
	}
	printf("fuzz_dns: %u inputs, no broken promise\n", runs);
	return 0;
}
#endif

/* bridge/dns_codec.c: queries are parsed strictly, hostile names never pass. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "dns_codec.h"

/* Builds a query for a dotted name; labels may hold any bytes (len-prefixed). */
static size_t make_query(uint8_t *out, uint16_t id, const char *name, uint16_t qtype)
{
	size_t off = 12;
	const char *p = name;

	memset(out, 0, 12);
	out[0] = (uint8_t)(id >> 8);
	out[1] = (uint8_t)id;
	out[2] = 0x01; /* RD */
	out[5] = 1;    /* QDCOUNT */
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);

		out[off++] = (uint8_t)l;
		memcpy(out + off, p, l);
		off += l;
		p += l + (dot ? 1 : 0);
	}
	out[off++] = 0;
	out[off++] = (uint8_t)(qtype >> 8);
	out[off++] = (uint8_t)qtype;
	out[off++] = 0;
	out[off++] = 1;
	return off;
}

static void test_a_query_roundtrip(void **state)
{
	uint8_t m[512], r[512];
	struct dns_query q;
	uint32_t addrs[2] = {inet_addr("198.51.100.10"), inet_addr("203.0.113.10")};
	size_t n = make_query(m, 0x1234, "WWW.Example.test", DNS_TYPE_A), rl;

	(void)state;
	assert_int_equal(dns_parse_query(m, n, &q), DNS_NOERROR);
	assert_string_equal(q.name, "www.example.test");
	assert_int_equal(q.qtype, DNS_TYPE_A);
	rl = dns_build_response(&q, DNS_NOERROR, addrs, 2, 300, r, sizeof(r));
	assert_int_equal(rl, n + 2 * 16);
	assert_int_equal(r[0], 0x12);
	assert_int_equal(r[1], 0x34);
	assert_true(r[2] & 0x80);       /* QR */
	assert_true(r[2] & 0x01);       /* RD copied */
	assert_int_equal(r[3] & 0xf, 0); /* NOERROR */
	assert_int_equal(r[7], 2);       /* ANCOUNT */
	assert_memory_equal(r + 12, m + 12, n - 12);
	assert_memory_equal(r + n + 12, &addrs[0], 4);
	assert_memory_equal(r + n + 16 + 12, &addrs[1], 4);
	assert_int_equal(r[n + 9], 300 & 0xff); /* TTL low byte */
}

static void test_aaaa_gets_empty_noerror(void **state)
{
	uint8_t m[512], r[512];
	struct dns_query q;
	uint32_t a = inet_addr("198.51.100.10");
	size_t n = make_query(m, 7, "www.example.test", DNS_TYPE_AAAA), rl;

	(void)state;
	assert_int_equal(dns_parse_query(m, n, &q), DNS_NOERROR);
	rl = dns_build_response(&q, DNS_NOERROR, &a, 1, 60, r, sizeof(r));
	assert_int_equal(rl, n);
	assert_int_equal(r[7], 0);
	assert_int_equal(r[3] & 0xf, DNS_NOERROR);
}

static void test_hostile_names_refused(void **state)
{
	static const char *bad[] = {
		"evil\".example", "a\r\nAT+CFUN=0.example", "sp ace.example", "x\x1a.test",
		"semi;colon.test", "back\\slash.test", "\xc3\xa9t\xc3\xa9.test", "q\"\r\n",
	};
	uint8_t m[512], r[512];
	struct dns_query q;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = make_query(m, 9, bad[i], DNS_TYPE_A), rl;

		assert_int_equal(dns_parse_query(m, n, &q), DNS_REFUSED);
		assert_string_equal(q.name, ""); /* nothing of it is kept */
		rl = dns_build_response(&q, DNS_REFUSED, NULL, 0, 0, r, sizeof(r));
		assert_true(rl >= 12);
		assert_int_equal(r[3] & 0xf, DNS_REFUSED);
	}
}

static void test_malformed(void **state)
{
	uint8_t m[600] = {0};
	struct dns_query q;
	size_t n;

	(void)state;
	assert_int_equal(dns_parse_query(m, 5, &q), -1); /* no header */
	n = make_query(m, 1, "a.test", DNS_TYPE_A);
	m[2] |= 0x80; /* a response */
	assert_int_equal(dns_parse_query(m, n, &q), -1);
	n = make_query(m, 1, "a.test", DNS_TYPE_A);
	assert_int_equal(dns_parse_query(m, n - 3, &q), DNS_FORMERR); /* truncated */
	m[5] = 2; /* two questions */
	assert_int_equal(dns_parse_query(m, n, &q), DNS_FORMERR);
	n = make_query(m, 1, "a.test", DNS_TYPE_A);
	m[12] = 0xc0; /* compression pointer in the question */
	assert_int_equal(dns_parse_query(m, n, &q), DNS_FORMERR);
	n = make_query(m, 1, "a.test", DNS_TYPE_A);
	m[2] |= 0x10; /* opcode 2 (STATUS) */
	assert_int_equal(dns_parse_query(m, n, &q), DNS_NOTIMP);
	n = make_query(m, 1, "a.test", DNS_TYPE_A);
	m[12] = 60; /* label runs past the end */
	assert_int_equal(dns_parse_query(m, n, &q), DNS_FORMERR);
}

static void test_name_length_limits(void **state)
{
	char name[300];
	uint8_t m[600];
	struct dns_query q;
	size_t n;

	(void)state;
	/* 4 labels of 63 = 255 with dots: too long */
	memset(name, 'a', sizeof(name));
	for (int i = 63; i < 256; i += 64)
		name[i] = '.';
	name[255] = '\0';
	n = make_query(m, 1, name, DNS_TYPE_A);
	assert_int_equal(dns_parse_query(m, n, &q), DNS_FORMERR);
	/* 63+1+63+1+63+1+61 = 253: the longest allowed */
	name[253] = '\0';
	n = make_query(m, 1, name, DNS_TYPE_A);
	assert_int_equal(dns_parse_query(m, n, &q), DNS_NOERROR);
	assert_int_equal(strlen(q.name), 253);
}

static void test_random_bytes_never_crash(void **state)
{
	uint8_t m[300], r[700];
	struct dns_query q;

	(void)state;
	srand(42);
	for (int i = 0; i < 100000; i++) {
		size_t n = (size_t)(rand() % (int)sizeof(m));
		int rc;

		for (size_t j = 0; j < n; j++)
			m[j] = (uint8_t)rand();
		if (n > 5 && (i & 1))
			m[4] = 0, m[5] = 1, m[6] = m[7] = m[8] = m[9] = 0, m[2] &= 0x07;
		rc = dns_parse_query(m, n, &q);
		if (rc >= 0)
			dns_build_response(&q, (enum dns_rcode)rc, NULL, 0, 0, r, sizeof(r));
		if (rc == DNS_NOERROR) {
			for (const char *p = q.name; *p; p++)
				assert_true(*p != '"' && *p != '\r' && *p != '\n');
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_query_roundtrip),
		cmocka_unit_test(test_aaaa_gets_empty_noerror),
		cmocka_unit_test(test_hostile_names_refused),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_name_length_limits),
		cmocka_unit_test(test_random_bytes_never_crash),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Fuzz target for the simulator's parsers of outside input: AT command
 * lines (both quoting modes) and hosts file lines.
 *
 * With clang and libFuzzer:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -DATB_LIBFUZZER \
 *     -Itests/sim tests/sim/fuzz_parsers.c tests/sim/at_parse.c \
 *     tests/sim/hosts.c tests/sim/buf.c -o fuzz_parsers && ./fuzz_parsers
 * Without it (ctest), main() below feeds it pseudo-random and mutated inputs. */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct at_cmd c;
	if (at_parse((const char *)data, size, &c) || at_parse_escaped((const char *)data, size, &c)) {
		if (c.na > AT_MAXARGS)
			abort();
		for (int i = 0; i < c.na; i++)
			if (memchr(c.a[i].s, 0, sizeof c.a[i].s) == NULL)
				abort();
		long v;
		for (int i = 0; i < c.na; i++)
			at_int(&c.a[i], -5, 5000, &v);
	}
	char line[2048];
	size_t n = size < sizeof line - 1 ? size : sizeof line - 1;
	memcpy(line, data, n);
	line[n] = 0;
	sim_hosts_parse_line(line);
	struct in_addr a[4];
	sim_hosts_lookup(line, a, 4);
	if (size & 1)
		sim_hosts_clear();
	return 0;
}

#ifndef ATB_LIBFUZZER
static const char *seeds[] = {
	"+CIPSTART=0,\"TCP\",\"198.51.100.1\",\"80\"", "+CIPSEND=0,1460", "+CIPRXGET=2,0,1460",
	"+CSTT=\"apn\",\"u\",\"p\"", "+CIPMUX?", "+CIPSTART=?", "E0", "&F0",
	"+TCPSEND=0,4,\"a\\\"b\",0", "198.51.100.1 a.test b.test", "x.test 203.0.113.1",
	"+X=,,,,,,,,,,,,", "+X=\"", "+X=\"\\", "::1 localhost",
};

static uint64_t rng = 88172645463325252ull;

static uint32_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

int main(int argc, char **argv)
{
	long iters = argc > 1 ? atol(argv[1]) : 200000;
	static const char alphabet[] = "+=?,\"\\ 0123456789.:#AT&EcsxX\r\n\t\x1a\xff";
	uint8_t buf[4096];
	for (long i = 0; i < iters; i++) {
		size_t n;
		if (next() % 2) {
			const char *s = seeds[next() % (sizeof seeds / sizeof seeds[0])];
			n = strlen(s);
			memcpy(buf, s, n);
			for (int k = next() % 6; k > 0 && n; k--) {
				size_t at = next() % n;
				switch (next() % 3) {
				case 0: buf[at] = (uint8_t)alphabet[next() % (sizeof alphabet - 1)]; break;
				case 1: n = at; break;
				default:
					if (n + 1 < sizeof buf) {
						memmove(buf + at + 1, buf + at, n - at);
						buf[at] = (uint8_t)alphabet[next() % (sizeof alphabet - 1)];
						n++;
					}
				}
			}
		} else {
			n = next() % (next() % 8 ? 64 : sizeof buf);
			for (size_t k = 0; k < n; k++)
				buf[k] = next() % 4 ? (uint8_t)alphabet[next() % (sizeof alphabet - 1)]
						    : (uint8_t)next();
		}
		LLVMFuzzerTestOneInput(buf, n);
	}
	printf("%ld inputs\n", iters);
	return 0;
}
#endif

/* Fuzz target for the control request parser: libFuzzer when built with
 * -fsanitize=fuzzer, otherwise a ctest-driven run over random lines. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_request r;
	char err[256];

	err[0] = '\0';
	if (!ctl_parse_request((const char *)data, size, &r, err, sizeof(err)) &&
	    (!err[0] || strchr(err, '\n')))
		abort(); /* a refusal is always exactly one non-empty line */
	return 0;
}

#ifndef ATB_LIBFUZZER
int main(void)
{
	static const char *const seeds[] = {"status", "flows json", "metrics", "reconnect", "status json"};
	uint8_t buf[300];
	unsigned seed = 1;

	for (int i = 0; i < 200000; i++) {
		size_t n;

		if (i % 2) {
			const char *s = seeds[i % 5];

			n = strlen(s);
			memcpy(buf, s, n);
			if (n)
				buf[rand_r(&seed) % n] = (uint8_t)rand_r(&seed);
		} else {
			n = (size_t)rand_r(&seed) % sizeof(buf);
			for (size_t j = 0; j < n; j++)
				buf[j] = (uint8_t)rand_r(&seed);
		}
		LLVMFuzzerTestOneInput(buf, n);
	}
	puts("fuzz_control: 200000 inputs");
	return 0;
}
#endif

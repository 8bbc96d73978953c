/* Fuzz target for the configuration file parser (libinih + config.c):
 * libFuzzer when built with -fsanitize=fuzzer (ATB_LIBFUZZER), otherwise a
 * ctest-driven run over mutated lines. Any input either parses or yields
 * one or more whole message lines (every error is reported, each on a line
 * of its own); a secret never appears in them. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* True when every "S3CRET-VALUE" of the input sits on a line that starts
 * with a secret's key: a mutation that moved it to a line of its own made
 * it an ordinary word, which may be quoted. */
static bool secret_only_on_secret_lines(const uint8_t *data, size_t size)
{
	static const char needle[] = "S3CRET-VALUE";
	size_t line = 0;

	for (size_t i = 0; i < size; i++) {
		if (data[i] == '\n' || data[i] == '\r') {
			line = i + 1;
			continue;
		}
		if (size - i >= sizeof(needle) - 1 && !memcmp(data + i, needle, sizeof(needle) - 1) &&
		    !(size - line >= 3 && (!memcmp(data + line, "pin", 3) ||
		                           (size - line >= 4 && !memcmp(data + line, "pass", 4)))))
			return false;
	}
	return true;
}

/* One or more whole lines, each a message of its own. */
static bool whole_messages(const char *err)
{
	if (!err[0] || err[strlen(err) - 1] != '\n')
		return false;
	for (const char *l = err; *l; l = strchr(l, '\n') + 1)
		if (strncmp(l, "atbridge: ", 10) != 0)
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct atb_config c;
	static char err[65536];
	FILE *in, *e;
	bool ok;

	if (size == 0)
		return 0;
	memset(err, 0, sizeof(err));
	in = fmemopen((void *)data, size, "r");
	e = fmemopen(err, sizeof(err) - 1, "w");
	if (!in || !e)
		abort();
	config_defaults(&c);
	ok = config_parse_fp(&c, in, "fuzz.conf", e);
	fclose(in);
	fclose(e);
	if (ok ? err[0] != '\0' : !whole_messages(err))
		abort();
	if (!ok && strstr(err, "S3CRET-VALUE") && secret_only_on_secret_lines(data, size))
		abort(); /* the seeds' password, quoted back */
	return 0;
}

#ifndef ATB_LIBFUZZER
int main(void)
{
	static const char *const seeds[] = {
		"[module]\ndevice = /dev/ttyUSB2\nbaud = 115200\n",
		"password = S3CRET-VALUE\"\n",
		"password = S3CRET-VALUE-S3CRET-VALUE-S3CRET-VALUE-S3CRET-VALUE\n",
		"pin = S3CRET-VALUE\n",
		"mtu = 1400\nno_default_route = yes\nsim-arg = --seed=3\n",
		"; c\n# c\n[interface]\naddress = 10.1.0.1/24\nlwip-address = 10.1.0.9\n",
		"log-level = debug\ncontrol-mode = 0660\nmetrics-file = /x\n",
		"forward = tcp:2222:127.0.0.1:22\nforward = tcp:80:10.85.0.9:8080\ninbound-links = 2\n"
		"forward-allow-any = no\n",
	};
	uint8_t buf[512];
	unsigned seed = 7;

	for (int i = 0; i < 100000; i++) {
		const char *s = seeds[i % (sizeof(seeds) / sizeof(seeds[0]))];
		size_t n = strlen(s);

		memcpy(buf, s, n);
		for (int k = rand_r(&seed) % 4; k > 0; k--) {
			size_t at = (size_t)rand_r(&seed) % n;

			switch (rand_r(&seed) % 3) {
			case 0: buf[at] = (uint8_t)rand_r(&seed); break;
			case 1: buf[at] = "=[]#;\n\r \t_-"[rand_r(&seed) % 12]; break;
			default:
				if (n + 200 < sizeof(buf)) { /* a long run of one byte */
					memmove(buf + at + 200, buf + at, n - at);
					memset(buf + at, 'a', 200);
					n += 200;
				}
			}
		}
		/* Secrets must never leak even when the line around them breaks. */
		LLVMFuzzerTestOneInput(buf, n);
	}
	puts("fuzz_config_file: 100000 inputs");
	return 0;
}
#endif

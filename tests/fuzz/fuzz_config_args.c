/* Fuzz target for the command line (config_parse_args in config/config.c).
 * The input is split at NUL bytes into at most 24 arguments after
 * "atbridge".
 *
 * Checks: the result is -1, 0 or 1; -1 comes with one or more whole lines
 * on the error stream, each a message of its own ("atbridge: ..."; every
 * error is reported), 0 and 1 with none; a value given to --password or --pin is
 * never quoted back (unless it also appears elsewhere in the input, where it
 * may be an ordinary word); the strings of the configuration stay
 * terminated within their arrays.
 *
 * libFuzzer with -DATB_LIBFUZZER (tests/fuzz/run.sh); otherwise main() runs
 * seeded combinations of real options and bad values (ctest smoke). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define MAX_ARGS 24

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input being checked, to name it when a promise breaks. */
static char **cur_argv;
static int cur_argc;
static const char *cur_err;

static void check(bool ok, const char *what)
{
	if (ok)
		return;
	fprintf(stderr, "fuzz_config_args: broken promise: %s\n  argv:", what);
	for (int i = 0; i < cur_argc; i++)
		fprintf(stderr, " '%s'", cur_argv[i]);
	fprintf(stderr, "\n  messages: '%s'\n", cur_err ? cur_err : "");
	abort();
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

/* The secret value given with argument i, or NULL; *at: the argument
 * that holds it. */
static const char *secret_of(char **argv, int argc, int i, int *at)
{
	static const char *const keys[] = { "--password", "--pin" };
	for (size_t k = 0; k < 2; k++) {
		size_t n = strlen(keys[k]);
		if (strncmp(argv[i], keys[k], n))
			continue;
		*at = i;
		if (argv[i][n] == '=')
			return argv[i] + n + 1;
		*at = i + 1;
		if (argv[i][n] == '\0' && i + 1 < argc)
			return argv[i + 1];
	}
	return NULL;
}

static bool appears_elsewhere(char **argv, int argc, int skip, const char *v)
{
	for (int i = 1; i < argc; i++)
		if (i != skip && strstr(argv[i], v))
			return true;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct atb_config c;
	static char err[65536];
	char *copy = malloc(size + 1), *argv[MAX_ARGS + 2];
	int argc = 1;
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	argv[0] = "atbridge";
	for (size_t i = 0; i <= size && argc <= MAX_ARGS;) {
		argv[argc++] = copy + i;
		i += strlen(copy + i) + 1;
	}
	argv[argc] = NULL;
	memset(err, 0, sizeof(err));
	FILE *e = fmemopen(err, sizeof(err) - 1, "w");
	if (!e)
		abort();
	config_defaults(&c);
	int r = config_parse_args(&c, argc, argv, e);
	fclose(e);
	cur_argv = argv;
	cur_argc = argc;
	cur_err = err;
	check(r == -1 || r == 0 || r == 1, "result other than -1, 0, 1");
	if (r == -1)
		check(whole_messages(err), "an error is not whole 'atbridge: ' lines");
	else
		check(err[0] == '\0', "a message without an error");
	/* Values marked S3CRET stand for passwords: never in a message. */
	for (int i = 1; i < argc; i++) {
		int at;
		const char *v = secret_of(argv, argc, i, &at);
		/* A word starting with '-' is parsed as an option whatever
		 * came before it: it cannot be told from a mistyped one. */
		if (v && v[0] != '-' && strstr(v, "S3CRET") && !appears_elsewhere(argv, argc, at, v))
			check(!strstr(err, v), "a secret quoted back");
	}
	check(memchr(c.device, 0, sizeof(c.device)) && memchr(c.apn, 0, sizeof(c.apn)) &&
	      memchr(c.password, 0, sizeof(c.password)) && memchr(c.run_as, 0, sizeof(c.run_as)) &&
	      memchr(c.tun_name, 0, sizeof(c.tun_name)),
	      "a string without its terminator");
	check(c.n_forwards <= ATB_MAX_FORWARDS, "more forwards than ATB_MAX_FORWARDS");
	for (unsigned i = 0; i < c.n_forwards; i++)
		check(c.forwards[i].module_port && c.forwards[i].port &&
		      !strncmp(c.forwards[i].spec, "tcp:", 4), "a forward stored half-parsed");
	free(copy);
	return 0;
}

#ifndef ATB_LIBFUZZER
int main(int argc, char **argv)
{
	static const char *opts[] = {
		"--device", "--baud", "--flow-control", "--model", "--apn", "--user", "--password",
		"--pin", "--cmd-timeout-ms", "--poll-interval-ms", "--max-inflight", "--holdoff-ms",
		"--holdoff-max-ms", "--maxfail", "--run-as", "--tun", "--address", "--mtu",
		"--max-flows", "--dns", "--dns-ttl", "--log-level", "--control-mode", "--sim-arg",
		"--netns", "--no-default-route", "-v", "--sim", "--pasword", "--", "-x", "--link",
		"--forward", "--inbound-links", "--forward-allow-any",
	};
	static const char *vals[] = {
		"", "0", "1", "115200", "4294967296", "-1", "sim7000", "rtscts", "a\"b", "x\r\ny",
		"S3CRET-VALUE", "1234", "10.85.0.1/24", "/dev/ttyUSB2", "nobody", "a b", "0660",
		"99999999999999999999", "debug", "transparent", "tcp:2222:127.0.0.1:22",
		"tcp:22:10.85.0.7:22:", "udp:53:127.0.0.1:53", "tcp:65536:1.2.3.4:1",
	};
	unsigned runs = argc > 1 ? (unsigned)atoi(argv[1]) : 20000;
	uint8_t buf[1024];
	FILE *devnull = freopen("/dev/null", "w", stdout); /* --help, --version */
	(void)devnull;
	srand(argc > 2 ? (unsigned)atoi(argv[2]) : 1);
	for (unsigned i = 0; i < runs; i++) {
		size_t n = 0;
		unsigned k = 1 + (unsigned)rand() % 6;
		for (unsigned j = 0; j < k; j++) {
			const char *o = opts[(size_t)rand() % (sizeof(opts) / sizeof(opts[0]))];
			const char *v = vals[(size_t)rand() % (sizeof(vals) / sizeof(vals[0]))];
			int form = rand() % 3;
			int len = form == 0 ? snprintf((char *)buf + n, sizeof(buf) - n, "%s=%s", o, v)
			        : form == 1 ? snprintf((char *)buf + n, sizeof(buf) - n, "%s%c%s", o, 0, v)
			                    : snprintf((char *)buf + n, sizeof(buf) - n, "%s", o);
			if (len < 0 || (size_t)len + 1 >= sizeof(buf) - n)
				break;
			n += (size_t)len + 1;
		}
		if (n > 0)
			n--; /* no empty argument after the last */
		if (rand() % 5 == 0 && n > 0)
			buf[(size_t)rand() % n] = (uint8_t)rand();
		LLVMFuzzerTestOneInput(buf, n);
	}
	fprintf(stderr, "fuzz_config_args: %u inputs, no broken promise\n", runs);
	return 0;
}
#endif

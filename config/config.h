/* atbridge configuration: defaults, command-line options, validation.
 *
 * Every value from outside goes through one parser here; a bad value gives
 * one line naming the option, the value and what is allowed.
 */
#ifndef ATB_CONFIG_H
#define ATB_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define ATB_MAX_SIM_ARGS 16

enum atb_model { ATB_MODEL_AUTO = 0, ATB_MODEL_SIM7000, ATB_MODEL_N11V2 };

struct atb_config {
	/* module */
	char device[256];       /* empty: run the simulator (--sim) */
	unsigned baud;
	bool rtscts;
	enum atb_model model;
	char apn[51], user[51], password[51]; /* manual: at most 50 bytes each */
	unsigned cmd_timeout_ms;
	unsigned poll_interval_ms;
	unsigned max_inflight;

	/* simulator (when no device is given, or --sim) */
	bool sim;
	char sim_path[256];     /* empty: atbridge-sim beside the atbridge binary, then $PATH */
	char sim_netns[64];     /* run the simulator in this named network namespace */
	const char *sim_args[ATB_MAX_SIM_ARGS]; /* extra arguments passed through */
	unsigned n_sim_args;

	/* tun */
	char tun_name[16];
	uint32_t tun_addr;      /* network order */
	unsigned tun_prefix;
	uint32_t lwip_addr;     /* lwIP's own address, network order */
	unsigned mtu;
	bool default_route;

	/* flows */
	unsigned max_flows;
	unsigned queue_len;     /* SYNs waiting for a free module link */
	unsigned queue_wait_ms; /* longest wait before RST */

	/* UDP and DNS */
	unsigned max_udp_flows;
	unsigned udp_idle_timeout_ms;
	bool dns_intercept;     /* dns = module (true) | forward */
	unsigned dns_ttl_s;
	unsigned dns_timeout_ms;

	int verbose;            /* 0 errors/info, 1 debug */
};

void config_defaults(struct atb_config *c);

/* Parses argv over the defaults already in c. Returns 0 to run, 1 when the
 * program should exit successfully (--help, --version), -1 on a bad option
 * (message already written to err). */
int config_parse_args(struct atb_config *c, int argc, char **argv, FILE *err);

/* Value parsers, exposed for tests and the fuzzer. Each returns false and
 * writes one line to err naming `what` and the value when it is not valid. */
bool config_parse_uint(const char *what, const char *s, unsigned min, unsigned max,
                       unsigned *out, FILE *err);
bool config_parse_ipv4(const char *what, const char *s, uint32_t *out, FILE *err);
bool config_parse_cidr(const char *what, const char *s, uint32_t *addr, unsigned *prefix,
                       FILE *err);
/* AT-safe string: printable ASCII, no '"', '\\', CR or LF, at most max bytes. */
bool config_parse_at_string(const char *what, const char *s, char *out, size_t max,
                            FILE *err);

void config_usage(FILE *out);

#endif

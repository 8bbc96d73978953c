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
#define ATB_SIM_ARG_MAX 200     /* bytes of one --sim-arg given in the file */

#ifndef ATB_CONFIG_FILE
#define ATB_CONFIG_FILE "/etc/atbridge.conf"
#endif
#define ATB_CONTROL_SOCKET "/run/atbridge/atbridge.sock"
#ifndef ATB_HOOK_DIR
#define ATB_HOOK_DIR "/etc/atbridge"
#endif

/* Inbound port forwards: a connection the module accepts on module_port is
 * carried to host:port (docs/configuration.md, "Forwards"). */
#define ATB_MAX_FORWARDS 4
struct atb_forward {
	uint16_t module_port;
	uint32_t host;          /* network order */
	uint16_t port;
	char spec[40];          /* "tcp:2222:127.0.0.1:2222" normalised */
};

/* pointing the system's resolver at atbridge's DNS while the link is up */
enum atb_dns_setup { ATB_DNS_SETUP_NONE = 0, ATB_DNS_SETUP_RESOLVCONF, ATB_DNS_SETUP_RESOLVED };

enum atb_where {
	ATB_WHERE_DEVICE, ATB_WHERE_SIM, ATB_WHERE_ADDRESS, ATB_WHERE_LWIP, ATB_WHERE_RUN_AS,
	ATB_WHERE_NETNS, ATB_WHERE_SIM_NETNS, ATB_WHERE_UP, ATB_WHERE_DOWN, ATB_WHERE_DNS_SETUP,
	ATB_WHERE_FORWARD,      /* forwards[i] came from where[ATB_WHERE_FORWARD + i] */
	ATB_WHERE_N = ATB_WHERE_FORWARD + ATB_MAX_FORWARDS
};

struct atb_config {
	/* module */
	char device[256];       /* empty: run the simulator (--sim) */
	unsigned baud;
	bool rtscts;
	/* "auto" or one of model_names. config/ does not link the modem
	 * layer: the program passes the names of its module registry in
	 * (bridge/main.c); NULL: only auto is accepted. */
	char model[32];
	const char *const *model_names; /* NULL-terminated */
	char apn[51], user[51], password[51]; /* manual: at most 50 bytes each */
	char pin[9];            /* SIM PIN, 4 to 8 digits; empty: none (secret) */
	unsigned cmd_timeout_ms;
	unsigned poll_interval_ms;
	unsigned max_inflight;
	bool transparent;       /* link = transparent: one flow at a time in data mode */
	unsigned guard_ms;      /* +++ escape guard time in transparent mode */
	unsigned holdoff_ms;    /* first wait before bring-up is retried (pppd holdoff) */
	unsigned holdoff_max_ms; /* the wait doubles up to this */
	unsigned maxfail;       /* failed bring-ups in a row before exiting; 0: never */

	/* simulator (when no device is given, or --sim) */
	bool sim;
	char sim_path[256];     /* empty: atbridge-sim beside the atbridge binary, then $PATH */
	char sim_netns[64];     /* run the simulator in this named network namespace */
	const char *sim_args[ATB_MAX_SIM_ARGS]; /* extra arguments passed through */
	unsigned n_sim_args;
	char sim_arg_store[ATB_MAX_SIM_ARGS][ATB_SIM_ARG_MAX + 1]; /* those from the file */

	/* tun */
	char tun_name[16];
	uint32_t tun_addr;      /* network order */
	unsigned tun_prefix;
	uint32_t lwip_addr;     /* lwIP's own address, network order */
	unsigned mtu;
	bool default_route;
	char netns[64];         /* create the tun inside this named network namespace */

	/* flows */
	unsigned max_flows;
	unsigned queue_len;     /* SYNs waiting for a free module link */
	unsigned queue_wait_ms; /* longest wait before RST */
	unsigned halfclose_s;   /* client FIN, then this long without server bytes: link closed (0 never) */
	unsigned idle_reclaim_s; /* SYN waiting, links all held: a flow idle this long is reset (0 never) */
	unsigned queue_per_source; /* waiting SYNs of one client address */
	unsigned links_per_source; /* module links one client address may hold (0: no bound) */
	unsigned tcp_links, udp_links; /* module links each may hold (0: all but one / half) */
	unsigned nat_tcp, nat_udp;     /* NAT entries each may hold (0: 3/4 of the table) */

	/* inbound forwards (forward = tcp:<module-port>:<host>:<port>) */
	struct atb_forward forwards[ATB_MAX_FORWARDS];
	unsigned n_forwards;
	unsigned inbound_links; /* module links inbound may hold (0: the bridge leaves outbound at least half) */
	bool forward_allow_any; /* allow a host outside the tun prefix, loopback and this host's networks */

	/* UDP and DNS */
	unsigned max_udp_flows;
	unsigned udp_idle_timeout_ms;
	bool dns_intercept;     /* dns = module (true) | forward */
	unsigned dns_ttl_s;
	unsigned dns_timeout_ms;

	/* operation */
	int verbose;            /* -1 errors only, 0 errors/info, 1 debug (log-level, -v) */
	char config_path[256];  /* the file read (ATB_CONFIG_FILE unless --config) */
	bool config_loaded;     /* a file was read */
	bool check_config;      /* --check-config: validate, print, exit */
	char control_socket[108]; /* UNIX socket of atbridgectl; empty: none */
	unsigned control_mode;  /* 0600 or 0660 */
	char metrics_file[256]; /* Prometheus text file, rewritten periodically; empty: none */
	unsigned metrics_interval_s;
	char run_as[33];        /* user to switch to once the devices are open; empty: stay */

	/* hooks (bridge/hooks.c), like pppd's ip-up/ip-down and wg-quick's
	 * PostUp/PreDown; they run as root in a helper forked before the
	 * privilege drop */
	char up_script[256];    /* empty: none */
	char down_script[256];
	char hook_dir[256];     /* runs hook_dir/up.d/ and down.d/ (run-parts); empty: none */
	unsigned hook_timeout_s;
	enum atb_dns_setup dns_setup;

	/* Where some values came from, for errors that involve more than one
	 * value or the system: "FILE:LINE: key" or "--key"; empty: default. */
	char where[ATB_WHERE_N][320];
	uint32_t where_bad;     /* bit per enum atb_where: its value was refused */
	bool check_system;      /* config_load also runs config_check_system */
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

/* The daemon's whole configuration: the file (--config FILE, else
 * ATB_CONFIG_FILE when it exists), then the command line over it. Same
 * return values as config_parse_args. Every error is reported, one line
 * each (file errors, then the command line's, then those between values,
 * then with c->check_system those of config_check_system). */
int config_load(struct atb_config *c, int argc, char **argv, FILE *err);

/* What the values name must exist on this system: the run-as user, the
 * netns and sim-netns namespaces, the up and down scripts (executable), and
 * (without forward-allow-any) each forward's host outside the tun prefix and
 * loopback must be an address of this host or on a directly connected IPv4
 * subnet (getifaddrs). One line per problem, naming where the value came
 * from; returns the number of problems. */
int config_check_system(const struct atb_config *c, FILE *err);

/* Reads one INI file over c. must_exist: a missing file is an error.
 * Returns true, or false after one line on err:
 *   atbridge: FILE:LINE: KEY: 'VALUE' <what is allowed>
 * Secrets (password, pin) are never quoted. */
bool config_parse_file(struct atb_config *c, const char *path, bool must_exist, FILE *err);
/* The same over an open stream; path only names it in messages. */
bool config_parse_fp(struct atb_config *c, FILE *fp, const char *path, FILE *err);

/* The effective configuration in the file's syntax; secrets are replaced by
 * a comment saying whether they are set. */
void config_print(const struct atb_config *c, FILE *out);

const char *config_log_level_name(int verbose);
const char *config_dns_setup_name(enum atb_dns_setup d);

/* --help; the --model line lists c->model_names. */
void config_usage(const struct atb_config *c, FILE *out);

#endif

#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const unsigned termios_rates[] = {
	1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 500000,
	576000, 921600, 1000000, 1152000, 1500000, 2000000, 2500000, 3000000, 3500000,
	4000000,
};

void config_defaults(struct atb_config *c)
{
	memset(c, 0, sizeof(*c));
	c->baud = 115200;
	c->model = ATB_MODEL_AUTO;
	strcpy(c->apn, "internet");
	c->cmd_timeout_ms = 5000;
	c->poll_interval_ms = 2000;
	c->max_inflight = 8192;
	strcpy(c->tun_name, "tun0");
	c->tun_addr = htonl(0x0a550001);  /* 10.85.0.1 */
	c->tun_prefix = 24;
	c->lwip_addr = htonl(0x0a5500fe); /* 10.85.0.254 */
	c->mtu = 1500;
	c->default_route = true;
	c->max_flows = 256;
	c->queue_len = 32;
	c->queue_wait_ms = 30000;
	c->max_udp_flows = 64;
	c->udp_idle_timeout_ms = 60000;
	c->dns_intercept = true;
	c->dns_ttl_s = 60;
	c->dns_timeout_ms = 10000;
}

bool config_parse_uint(const char *what, const char *s, unsigned min, unsigned max,
                       unsigned *out, FILE *err)
{
	char *end;
	unsigned long v;

	if (!s || !*s || !isdigit((unsigned char)s[0]))
		goto bad;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		goto bad;
	*out = (unsigned)v;
	return true;
bad:
	fprintf(err, "atbridge: %s: '%s' is not a whole number from %u to %u\n", what,
	        s ? s : "", min, max);
	return false;
}

bool config_parse_ipv4(const char *what, const char *s, uint32_t *out, FILE *err)
{
	struct in_addr a;

	if (!s || inet_pton(AF_INET, s, &a) != 1) {
		fprintf(err, "atbridge: %s: '%s' is not an IPv4 address (a.b.c.d)\n", what,
		        s ? s : "");
		return false;
	}
	*out = a.s_addr;
	return true;
}

bool config_parse_cidr(const char *what, const char *s, uint32_t *addr, unsigned *prefix,
                       FILE *err)
{
	char buf[32];
	const char *slash = s ? strchr(s, '/') : NULL;
	size_t n;

	if (!slash || (n = (size_t)(slash - s)) >= sizeof(buf))
		goto bad;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, addr) != 1)
		goto bad;
	{
		char *end;
		unsigned long p;

		if (!isdigit((unsigned char)slash[1]))
			goto bad;
		p = strtoul(slash + 1, &end, 10);
		if (*end || p > 30)
			goto bad;
		*prefix = (unsigned)p;
	}
	return true;
bad:
	fprintf(err, "atbridge: %s: '%s' is not an IPv4 address with a prefix of 0 to 30 (a.b.c.d/n)\n",
	        what, s ? s : "");
	return false;
}

bool config_parse_at_string(const char *what, const char *s, char *out, size_t max,
                            FILE *err)
{
	size_t n = strlen(s);

	if (n > max) {
		fprintf(err, "atbridge: %s: '%s' is longer than %zu bytes\n", what, s, max);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch < 0x20 || ch > 0x7e || ch == '"' || ch == '\\') {
			fprintf(err, "atbridge: %s: byte 0x%02x at position %zu is not allowed "
			        "(printable ASCII without '\"' or '\\')\n", what, ch, i);
			return false;
		}
	}
	memcpy(out, s, n + 1);
	return true;
}

static bool parse_baud(const char *s, unsigned *out, FILE *err)
{
	unsigned v;

	if (!config_parse_uint("--baud", s, 1200, 4000000, &v, err))
		return false;
	for (size_t i = 0; i < sizeof(termios_rates) / sizeof(termios_rates[0]); i++) {
		if (termios_rates[i] == v) {
			*out = v;
			return true;
		}
	}
	fprintf(err, "atbridge: --baud: '%s' is not a serial rate (e.g. 9600, 115200, 921600)\n", s);
	return false;
}

static bool parse_model(const char *s, enum atb_model *out, FILE *err)
{
	if (!strcmp(s, "auto"))
		*out = ATB_MODEL_AUTO;
	else if (!strcmp(s, "sim7000"))
		*out = ATB_MODEL_SIM7000;
	else if (!strcmp(s, "n11v2"))
		*out = ATB_MODEL_N11V2;
	else {
		fprintf(err, "atbridge: --model: '%s' is not one of auto, sim7000, n11v2\n", s);
		return false;
	}
	return true;
}

static bool parse_flow_control(const char *s, bool *rtscts, FILE *err)
{
	if (!strcmp(s, "none"))
		*rtscts = false;
	else if (!strcmp(s, "rtscts"))
		*rtscts = true;
	else {
		fprintf(err, "atbridge: --flow-control: '%s' is not one of none, rtscts\n", s);
		return false;
	}
	return true;
}

static bool parse_dns_mode(const char *s, bool *intercept, FILE *err)
{
	if (!strcmp(s, "module"))
		*intercept = true;
	else if (!strcmp(s, "forward"))
		*intercept = false;
	else {
		fprintf(err, "atbridge: --dns: '%s' is not one of module, forward\n", s);
		return false;
	}
	return true;
}

static bool parse_name(const char *what, const char *s, char *out, size_t size, FILE *err)
{
	size_t n = strlen(s);

	if (n == 0 || n >= size) {
		fprintf(err, "atbridge: %s: '%s' must be 1 to %zu characters\n", what, s, size - 1);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (!isalnum(ch) && ch != '-' && ch != '_' && ch != '.') {
			fprintf(err, "atbridge: %s: '%s' may hold only letters, digits, '-', '_' and '.'\n",
			        what, s);
			return false;
		}
	}
	memcpy(out, s, n + 1);
	return true;
}

static bool parse_path(const char *what, const char *s, char *out, size_t size, FILE *err)
{
	size_t n = strlen(s);

	if (n == 0 || n >= size) {
		fprintf(err, "atbridge: %s: '%s' must be a path of 1 to %zu characters\n", what, s,
		        size - 1);
		return false;
	}
	memcpy(out, s, n + 1);
	return true;
}

void config_usage(FILE *out)
{
	fputs(
	"Usage: atbridge [OPTION]...\n"
	"Expose a cellular module's AT TCP/IP stack as a tun interface.\n"
	"With no --device, atbridge starts the simulator atbridge-sim on a pty.\n"
	"\n"
	"Module:\n"
	"  --device PATH          serial device of the module (e.g. /dev/ttyUSB2)\n"
	"  --baud N               serial rate (default 115200)\n"
	"  --flow-control MODE    none | rtscts (default none)\n"
	"  --model MODEL          auto | sim7000 | n11v2 (default auto)\n"
	"  --apn NAME             access point name (default internet)\n"
	"  --user NAME            APN user name (default empty)\n"
	"  --password TEXT        APN password (default empty)\n"
	"  --cmd-timeout-ms N     default AT command timeout (default 5000)\n"
	"  --poll-interval-ms N   safety poll of quiet links (default 2000)\n"
	"  --max-inflight N       bytes per link sent but not acknowledged (default 8192)\n"
	"Simulator:\n"
	"  --sim                  run atbridge-sim on a pty (the default without --device)\n"
	"  --sim-path PATH        simulator binary (default: beside atbridge, then $PATH)\n"
	"  --sim-netns NAME       run the simulator in network namespace NAME\n"
	"  --sim-arg ARG          pass ARG to the simulator (repeatable)\n"
	"Interface:\n"
	"  --tun NAME             interface name (default tun0)\n"
	"  --address A.B.C.D/N    interface address (default 10.85.0.1/24)\n"
	"  --lwip-address A.B.C.D lwIP's own address, inside the prefix (default 10.85.0.254)\n"
	"  --mtu N                interface MTU, 576 to 1500 (default 1500)\n"
	"  --no-default-route     do not route 0.0.0.0/0 through the interface\n"
	"Flows:\n"
	"  --max-flows N          flows at once, 1 to 4096 (default 256)\n"
	"  --queue-len N          connections waiting for a module link (default 32)\n"
	"  --queue-wait-ms N      longest wait for a link before RST (default 30000)\n"
	"UDP and DNS:\n"
	"  --max-udp-flows N      UDP flows at once, 1 to 4096 (default 64)\n"
	"  --udp-idle-timeout-ms N  an idle UDP flow frees its link (default 60000)\n"
	"  --dns MODE             module: answer port 53 through the module's resolver;\n"
	"                         forward: carry DNS as ordinary UDP/TCP (default module)\n"
	"  --dns-ttl N            seconds an answer is cached, 0 to 86400 (default 60)\n"
	"  --dns-timeout-ms N     no answer from the module by then: SERVFAIL (default 10000)\n"
	"Other:\n"
	"  -v, --verbose          more log output\n"
	"  -h, --help             this text\n"
	"  --version              print the version\n",
	out);
}

enum {
	OPT_DEVICE = 256, OPT_BAUD, OPT_FC, OPT_MODEL, OPT_APN, OPT_USER, OPT_PASSWORD,
	OPT_CMD_TIMEOUT, OPT_POLL, OPT_INFLIGHT, OPT_SIM, OPT_SIM_PATH, OPT_SIM_NETNS,
	OPT_SIM_ARG, OPT_TUN, OPT_ADDRESS, OPT_LWIP_ADDRESS, OPT_MTU, OPT_NO_DEFROUTE,
	OPT_MAX_FLOWS, OPT_QUEUE_LEN, OPT_QUEUE_WAIT, OPT_VERSION, OPT_MAX_UDP, OPT_UDP_IDLE,
	OPT_DNS, OPT_DNS_TTL, OPT_DNS_TIMEOUT,
};

static const struct option long_options[] = {
	{"device", required_argument, NULL, OPT_DEVICE},
	{"baud", required_argument, NULL, OPT_BAUD},
	{"flow-control", required_argument, NULL, OPT_FC},
	{"model", required_argument, NULL, OPT_MODEL},
	{"apn", required_argument, NULL, OPT_APN},
	{"user", required_argument, NULL, OPT_USER},
	{"password", required_argument, NULL, OPT_PASSWORD},
	{"cmd-timeout-ms", required_argument, NULL, OPT_CMD_TIMEOUT},
	{"poll-interval-ms", required_argument, NULL, OPT_POLL},
	{"max-inflight", required_argument, NULL, OPT_INFLIGHT},
	{"sim", no_argument, NULL, OPT_SIM},
	{"sim-path", required_argument, NULL, OPT_SIM_PATH},
	{"sim-netns", required_argument, NULL, OPT_SIM_NETNS},
	{"sim-arg", required_argument, NULL, OPT_SIM_ARG},
	{"tun", required_argument, NULL, OPT_TUN},
	{"address", required_argument, NULL, OPT_ADDRESS},
	{"lwip-address", required_argument, NULL, OPT_LWIP_ADDRESS},
	{"mtu", required_argument, NULL, OPT_MTU},
	{"no-default-route", no_argument, NULL, OPT_NO_DEFROUTE},
	{"max-flows", required_argument, NULL, OPT_MAX_FLOWS},
	{"queue-len", required_argument, NULL, OPT_QUEUE_LEN},
	{"queue-wait-ms", required_argument, NULL, OPT_QUEUE_WAIT},
	{"max-udp-flows", required_argument, NULL, OPT_MAX_UDP},
	{"udp-idle-timeout-ms", required_argument, NULL, OPT_UDP_IDLE},
	{"dns", required_argument, NULL, OPT_DNS},
	{"dns-ttl", required_argument, NULL, OPT_DNS_TTL},
	{"dns-timeout-ms", required_argument, NULL, OPT_DNS_TIMEOUT},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

static bool apply_option(struct atb_config *c, int opt, const char *arg, FILE *err)
{
	switch (opt) {
	case OPT_DEVICE: return parse_path("--device", arg, c->device, sizeof(c->device), err);
	case OPT_BAUD: return parse_baud(arg, &c->baud, err);
	case OPT_FC: return parse_flow_control(arg, &c->rtscts, err);
	case OPT_MODEL: return parse_model(arg, &c->model, err);
	case OPT_APN: return config_parse_at_string("--apn", arg, c->apn, 50, err);
	case OPT_USER: return config_parse_at_string("--user", arg, c->user, 50, err);
	case OPT_PASSWORD: return config_parse_at_string("--password", arg, c->password, 50, err);
	case OPT_CMD_TIMEOUT:
		return config_parse_uint("--cmd-timeout-ms", arg, 100, 600000, &c->cmd_timeout_ms, err);
	case OPT_POLL:
		return config_parse_uint("--poll-interval-ms", arg, 100, 600000, &c->poll_interval_ms, err);
	case OPT_INFLIGHT:
		return config_parse_uint("--max-inflight", arg, 1460, 1048576, &c->max_inflight, err);
	case OPT_SIM: c->sim = true; return true;
	case OPT_SIM_PATH: return parse_path("--sim-path", arg, c->sim_path, sizeof(c->sim_path), err);
	case OPT_SIM_NETNS: return parse_name("--sim-netns", arg, c->sim_netns, sizeof(c->sim_netns), err);
	case OPT_SIM_ARG:
		if (c->n_sim_args >= ATB_MAX_SIM_ARGS) {
			fprintf(err, "atbridge: --sim-arg: at most %d may be given ('%s' is one too many)\n",
			        ATB_MAX_SIM_ARGS, arg);
			return false;
		}
		c->sim_args[c->n_sim_args++] = arg;
		return true;
	case OPT_TUN: return parse_name("--tun", arg, c->tun_name, sizeof(c->tun_name), err);
	case OPT_ADDRESS: return config_parse_cidr("--address", arg, &c->tun_addr, &c->tun_prefix, err);
	case OPT_LWIP_ADDRESS: return config_parse_ipv4("--lwip-address", arg, &c->lwip_addr, err);
	case OPT_MTU: return config_parse_uint("--mtu", arg, 576, 1500, &c->mtu, err);
	case OPT_NO_DEFROUTE: c->default_route = false; return true;
	case OPT_MAX_FLOWS: return config_parse_uint("--max-flows", arg, 1, 4096, &c->max_flows, err);
	case OPT_QUEUE_LEN: return config_parse_uint("--queue-len", arg, 0, 4096, &c->queue_len, err);
	case OPT_QUEUE_WAIT:
		return config_parse_uint("--queue-wait-ms", arg, 100, 600000, &c->queue_wait_ms, err);
	case OPT_MAX_UDP: return config_parse_uint("--max-udp-flows", arg, 1, 4096, &c->max_udp_flows, err);
	case OPT_UDP_IDLE:
		return config_parse_uint("--udp-idle-timeout-ms", arg, 1000, 3600000, &c->udp_idle_timeout_ms, err);
	case OPT_DNS: return parse_dns_mode(arg, &c->dns_intercept, err);
	case OPT_DNS_TTL: return config_parse_uint("--dns-ttl", arg, 0, 86400, &c->dns_ttl_s, err);
	case OPT_DNS_TIMEOUT:
		return config_parse_uint("--dns-timeout-ms", arg, 500, 120000, &c->dns_timeout_ms, err);
	case 'v': c->verbose++; return true;
	}
	return false;
}

static bool check_consistency(const struct atb_config *c, FILE *err)
{
	uint32_t mask = c->tun_prefix ? htonl(~0u << (32 - c->tun_prefix)) : 0;
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &c->tun_addr, a, sizeof(a));
	inet_ntop(AF_INET, &c->lwip_addr, b, sizeof(b));
	if (c->lwip_addr == c->tun_addr || (c->lwip_addr & mask) != (c->tun_addr & mask)) {
		fprintf(err, "atbridge: --lwip-address: '%s' must be another address inside %s/%u\n",
		        b, a, c->tun_prefix);
		return false;
	}
	return true;
}

int config_parse_args(struct atb_config *c, int argc, char **argv, FILE *err)
{
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":vh", long_options, NULL)) != -1) {
		if (opt == 'h') {
			config_usage(stdout);
			return 1;
		}
		if (opt == OPT_VERSION) {
			printf("atbridge %s\n", ATB_VERSION);
			return 1;
		}
		if (opt == '?') {
			fprintf(err, "atbridge: unknown option '%s' (see --help)\n", argv[optind - 1]);
			return -1;
		}
		if (opt == ':') {
			fprintf(err, "atbridge: option '%s' needs a value (see --help)\n", argv[optind - 1]);
			return -1;
		}
		if (!apply_option(c, opt, optarg, err))
			return -1;
	}
	if (optind < argc) {
		fprintf(err, "atbridge: unexpected argument '%s' (see --help)\n", argv[optind]);
		return -1;
	}
	if (!c->device[0])
		c->sim = true;
	if (c->sim && c->device[0]) {
		fprintf(err, "atbridge: --sim and --device '%s' exclude each other\n", c->device);
		return -1;
	}
	return check_consistency(c, err) ? 0 : -1;
}

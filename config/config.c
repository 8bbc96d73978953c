#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pwd.h>
#include <unistd.h>
#include <ini.h>
#include <stdlib.h>
#include <stdint.h>
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
	strcpy(c->model, "auto");
	strcpy(c->apn, "internet");
	c->cmd_timeout_ms = 12000;
	c->poll_interval_ms = 2000;
	c->max_inflight = 8192;
	c->guard_ms = 1000;
	c->holdoff_ms = 1000;
	c->holdoff_max_ms = 30000;
	strcpy(c->tun_name, "tun0");
	c->tun_addr = htonl(0x0a550001);  /* 10.85.0.1 */
	c->tun_prefix = 24;
	c->lwip_addr = htonl(0x0a5500fe); /* 10.85.0.254 */
	c->mtu = 1500;
	c->default_route = true;
	c->max_flows = 256;
	c->queue_len = 32;
	c->queue_wait_ms = 30000;
	c->halfclose_s = 30;
	c->idle_reclaim_s = 300;
	c->queue_per_source = 8;
	c->max_udp_flows = 64;
	c->udp_idle_timeout_ms = 60000;
	c->dns_intercept = true;
	c->dns_ttl_s = 60;
	c->dns_timeout_ms = 10000;
	snprintf(c->config_path, sizeof(c->config_path), "%s", ATB_CONFIG_FILE);
	snprintf(c->control_socket, sizeof(c->control_socket), "%s", ATB_CONTROL_SOCKET);
	c->control_mode = 0600;
	c->metrics_interval_s = 15;
	snprintf(c->hook_dir, sizeof(c->hook_dir), "%s", ATB_HOOK_DIR);
	c->hook_timeout_s = 10;
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

static bool parse_baud(const char *what, const char *s, unsigned *out, FILE *err)
{
	unsigned v;

	if (!config_parse_uint(what, s, 1200, 4000000, &v, err))
		return false;
	for (size_t i = 0; i < sizeof(termios_rates) / sizeof(termios_rates[0]); i++) {
		if (termios_rates[i] == v) {
			*out = v;
			return true;
		}
	}
	fprintf(err, "atbridge: %s: '%s' is not a serial rate (e.g. 9600, 115200, 921600)\n", what, s);
	return false;
}

/* "auto, sim7000, n11v2": the accepted --model values, for messages and
 * (with sep " | ") --help. */
static const char *model_list(const struct atb_config *c, const char *sep, char *buf, size_t size)
{
	size_t n = (size_t)snprintf(buf, size, "auto");

	for (const char *const *m = c->model_names; m && *m && n < size; m++)
		n += (size_t)snprintf(buf + n, size - n, "%s%s", sep, *m);
	return buf;
}

static bool parse_model(struct atb_config *c, const char *what, const char *s, FILE *err)
{
	char list[256];
	bool known = !strcmp(s, "auto");

	for (const char *const *m = c->model_names; !known && m && *m; m++)
		known = !strcmp(s, *m) && strlen(s) < sizeof(c->model);
	if (!known) {
		fprintf(err, "atbridge: %s: '%s' is not one of %s\n", what, s,
		        model_list(c, ", ", list, sizeof(list)));
		return false;
	}
	memcpy(c->model, s, strlen(s) + 1);
	return true;
}

static bool parse_link_mode(const char *what, const char *s, bool *transparent, FILE *err)
{
	if (!strcmp(s, "multi"))
		*transparent = false;
	else if (!strcmp(s, "transparent"))
		*transparent = true;
	else {
		fprintf(err, "atbridge: %s: '%s' is not one of multi, transparent\n", what, s);
		return false;
	}
	return true;
}

static bool parse_flow_control(const char *what, const char *s, bool *rtscts, FILE *err)
{
	if (!strcmp(s, "none"))
		*rtscts = false;
	else if (!strcmp(s, "rtscts"))
		*rtscts = true;
	else {
		fprintf(err, "atbridge: %s: '%s' is not one of none, rtscts\n", what, s);
		return false;
	}
	return true;
}

static bool parse_dns_setup(const char *what, const char *s, enum atb_dns_setup *out, FILE *err)
{
	if (!strcmp(s, "none"))
		*out = ATB_DNS_SETUP_NONE;
	else if (!strcmp(s, "resolvconf"))
		*out = ATB_DNS_SETUP_RESOLVCONF;
	else if (!strcmp(s, "resolved"))
		*out = ATB_DNS_SETUP_RESOLVED;
	else {
		fprintf(err, "atbridge: %s: '%s' is not one of none, resolvconf, resolved\n", what, s);
		return false;
	}
	return true;
}

const char *config_dns_setup_name(enum atb_dns_setup d)
{
	static const char *const names[] = {"none", "resolvconf", "resolved"};

	return names[d];
}

static bool parse_dns_mode(const char *what, const char *s, bool *intercept, FILE *err)
{
	if (!strcmp(s, "module"))
		*intercept = true;
	else if (!strcmp(s, "forward"))
		*intercept = false;
	else {
		fprintf(err, "atbridge: %s: '%s' is not one of module, forward\n", what, s);
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


/* Secrets are checked like AT strings but never quoted back: error lines go
 * to the journal. */
static bool parse_secret(const char *what, const char *s, char *out, size_t max, FILE *err)
{
	size_t n = strlen(s);

	if (n > max) {
		fprintf(err, "atbridge: %s: the value (not shown) is longer than %zu bytes\n", what, max);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch < 0x20 || ch > 0x7e || ch == '"' || ch == '\\') {
			fprintf(err, "atbridge: %s: the value (not shown) has a byte at position %zu that is "
			        "not allowed (printable ASCII without '\"' or '\\')\n", what, i);
			return false;
		}
	}
	memcpy(out, s, n + 1);
	return true;
}

static bool parse_pin(const char *what, const char *s, char *out, FILE *err)
{
	size_t n = strlen(s);
	bool ok = n == 0 || (n >= 4 && n <= 8);

	for (size_t i = 0; ok && i < n; i++)
		ok = isdigit((unsigned char)s[i]);
	if (!ok) {
		fprintf(err, "atbridge: %s: the value (not shown) is not 4 to 8 digits\n", what);
		return false;
	}
	memcpy(out, s, n + 1);
	return true;
}

static bool parse_bool(const char *what, const char *s, bool *out, FILE *err)
{
	static const char *const yes[] = {"yes", "true", "on", "1"}, *const no[] = {"no", "false", "off", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (!strcmp(s, yes[i]) || !strcmp(s, no[i])) {
			*out = !strcmp(s, yes[i]);
			return true;
		}
	}
	fprintf(err, "atbridge: %s: '%s' is not one of yes, no, true, false, on, off, 1, 0\n", what, s);
	return false;
}

static bool parse_log_level(const char *what, const char *s, int *out, FILE *err)
{
	if (!strcmp(s, "error"))
		*out = -1;
	else if (!strcmp(s, "info"))
		*out = 0;
	else if (!strcmp(s, "debug"))
		*out = 1;
	else {
		fprintf(err, "atbridge: %s: '%s' is not one of error, info, debug\n", what, s);
		return false;
	}
	return true;
}

const char *config_log_level_name(int verbose)
{
	return verbose < 0 ? "error" : verbose == 0 ? "info" : "debug";
}

static bool parse_mode(const char *what, const char *s, unsigned *out, FILE *err)
{
	if (!strcmp(s, "0600") || !strcmp(s, "600"))
		*out = 0600;
	else if (!strcmp(s, "0660") || !strcmp(s, "660"))
		*out = 0660;
	else {
		fprintf(err, "atbridge: %s: '%s' is not one of 0600, 0660\n", what, s);
		return false;
	}
	return true;
}

/* A path, or "none"/empty to turn the feature off. */
static bool parse_optional_path(const char *what, const char *s, char *out, size_t size, FILE *err)
{
	if (!*s || !strcmp(s, "none")) {
		out[0] = '\0';
		return true;
	}
	if (s[0] != '/') {
		fprintf(err, "atbridge: %s: '%s' is not an absolute path (or none)\n", what, s);
		return false;
	}
	return parse_path(what, s, out, size, err);
}

/* A port of a forward: 1 to 65535, decimal digits only. */
static bool parse_port(const char *s, uint16_t *out)
{
	unsigned long v = 0;
	size_t n = strspn(s, "0123456789");

	if (n == 0 || s[n] || n > 5)
		return false;
	v = strtoul(s, NULL, 10);
	if (v < 1 || v > 65535)
		return false;
	*out = (uint16_t)v;
	return true;
}

/* tcp:<module-port>:<host>:<port>, <host> an IPv4 unicast address. One line
 * naming the part that is wrong; out is written only when all are right. */
static bool parse_forward(const char *what, const char *s, struct atb_forward *out, FILE *err)
{
	char buf[64], *part[4], ip[INET_ADDRSTRLEN];
	size_t n = strlen(s);
	int parts = 1;
	struct atb_forward f = {0};
	struct in_addr a;

	if (n < sizeof(buf)) {
		memcpy(buf, s, n + 1);
		part[0] = buf;
		for (char *p = strchr(buf, ':'); p && parts <= 4; p = strchr(p + 1, ':')) {
			if (parts < 4) {
				*p = '\0';
				part[parts] = p + 1;
			}
			parts++;
		}
	}
	if (n >= sizeof(buf) || parts != 4) {
		fprintf(err, "atbridge: %s: '%s' is not tcp:<module-port>:<host>:<port> "
		        "(e.g. tcp:2222:127.0.0.1:22)\n", what, s);
		return false;
	}
	if (!strcmp(part[0], "udp")) {
		fprintf(err, "atbridge: %s: '%s': only tcp is supported, not udp\n", what, s);
		return false;
	}
	if (strcmp(part[0], "tcp")) {
		fprintf(err, "atbridge: %s: '%s': '%s' is not a protocol; only tcp is supported\n", what,
		        s, part[0]);
		return false;
	}
	if (!parse_port(part[1], &f.module_port)) {
		fprintf(err, "atbridge: %s: '%s': module port '%s' is not a port from 1 to 65535\n", what,
		        s, part[1]);
		return false;
	}
	if (inet_pton(AF_INET, part[2], &a) != 1) {
		fprintf(err, "atbridge: %s: '%s': host '%s' is not an IPv4 address (a.b.c.d)\n", what, s,
		        part[2]);
		return false;
	}
	{
		uint32_t h = ntohl(a.s_addr);

		if ((h >> 24) == 0 || (h >> 28) >= 14) {
			fprintf(err, "atbridge: %s: '%s': host '%s' is not a unicast address\n", what, s,
			        part[2]);
			return false;
		}
	}
	if (!parse_port(part[3], &f.port)) {
		fprintf(err, "atbridge: %s: '%s': port '%s' is not a port from 1 to 65535\n", what, s,
		        part[3]);
		return false;
	}
	f.host = a.s_addr;
	inet_ntop(AF_INET, &a, ip, sizeof(ip));
	snprintf(f.spec, sizeof(f.spec), "tcp:%u:%s:%u", f.module_port, ip, f.port);
	*out = f;
	return true;
}

/* forward = ...: the spec is checked, then its place among the others (at
 * most ATB_MAX_FORWARDS, one per module port); a refused one changes nothing. */
static bool add_forward(struct atb_config *c, const char *what, const char *s, FILE *err)
{
	struct atb_forward f;

	if (c->n_forwards >= ATB_MAX_FORWARDS) {
		fprintf(err, "atbridge: %s: '%s' is one forward too many (at most %d)\n", what, s,
		        ATB_MAX_FORWARDS);
		return false;
	}
	if (!parse_forward(what, s, &f, err))
		return false;
	for (unsigned i = 0; i < c->n_forwards; i++) {
		if (c->forwards[i].module_port == f.module_port) {
			fprintf(err, "atbridge: %s: '%s': module port %u is forwarded already (%s: '%s')\n",
			        what, s, f.module_port, c->where[ATB_WHERE_FORWARD + i], c->forwards[i].spec);
			return false;
		}
	}
	snprintf(c->where[ATB_WHERE_FORWARD + c->n_forwards], sizeof(c->where[0]), "%s", what);
	c->forwards[c->n_forwards++] = f;
	return true;
}

void config_usage(const struct atb_config *c, FILE *out)
{
	char list[256];

	fputs(
	"Usage: atbridge [OPTION]...\n"
	"Expose a cellular module's AT TCP/IP stack as a tun interface.\n"
	"With no --device, atbridge starts the simulator atbridge-sim on a pty.\n"
	"Every option can also be set in the configuration file (" ATB_CONFIG_FILE ")\n"
	"as 'name = value'; the command line overrides the file. See atbridge.conf(5).\n"
	"\n"
	"Module:\n"
	"  --device PATH          serial device of the module (e.g. /dev/ttyUSB2)\n"
	"  --baud N               serial rate (default 115200)\n"
	"  --flow-control MODE    none | rtscts (default none)\n", out);
	fprintf(out, "  --model MODEL          %s (default auto)\n",
	        model_list(c, " | ", list, sizeof(list)));
	fputs(
	"  --apn NAME             access point name (default internet)\n"
	"  --user NAME            APN user name (default empty)\n"
	"  --password TEXT        APN password (default empty; never logged)\n"
	"  --pin DIGITS           SIM PIN, 4 to 8 digits (default none; never logged)\n"
	"  --cmd-timeout-ms N     default AT command timeout (default 12000)\n"
	"  --poll-interval-ms N   safety poll of quiet links (default 2000)\n"
	"  --max-inflight N       bytes per link sent but not acknowledged (default 8192)\n"
	"  --link MODE            multi | transparent: one flow at a time in data mode\n"
	"                         (default multi)\n"
	"  --guard-ms N           +++ escape guard time, 100 to 10000 (default 1000)\n"
	"  --holdoff-ms N         wait before bring-up is retried, doubling (default 1000)\n"
	"  --holdoff-max-ms N     longest wait between bring-up retries (default 30000)\n"
	"  --maxfail N            exit after N failed bring-ups in a row; 0: never (default 0)\n"
	"Simulator:\n"
	"  --sim                  run atbridge-sim on a pty (the default without --device)\n"
	"  --sim-path PATH        simulator binary (default: beside atbridge, then $PATH)\n"
	"  --sim-netns NAME       run the simulator in network namespace NAME\n"
	"  --sim-arg ARG          pass ARG to the simulator (repeatable)\n"
	"Interface:\n"
	"  --tun NAME             interface name (default tun0)\n"
	"  --netns NAME           create the interface in network namespace NAME\n"
	"                         (/run/netns/NAME, e.g. from 'ip netns add')\n"
	"  --address A.B.C.D/N    interface address (default 10.85.0.1/24)\n"
	"  --lwip-address A.B.C.D lwIP's own address, inside the prefix (default 10.85.0.254)\n"
	"  --mtu N                interface MTU, 576 to 1500 (default 1500)\n"
	"  --no-default-route     do not route 0.0.0.0/0 through the interface\n"
	"Flows:\n"
	"  --max-flows N          flows at once, 1 to 4096 (default 256)\n"
	"  --queue-len N          connections waiting for a module link (default 32)\n"
	"  --queue-wait-ms N      longest wait for a link before RST (default 30000)\n"
	"  --halfclose-timeout-s N  after the client's FIN, a server quiet this long\n"
	"                         loses its link, 0 never (default 30)\n"
	"  --idle-reclaim-s N     while a connection waits for a link, a flow idle both\n"
	"                         ways this long is reset, 0 never (default 300)\n"
	"  --queue-per-source N   waiting connections of one client address (default 8)\n"
	"  --links-per-source N   module links one client address may hold, 0: no\n"
	"                         bound beyond tcp-links (default 0)\n"
	"  --tcp-links N          module links TCP may hold, 0: all but one (default 0)\n"
	"  --udp-links N          module links UDP may hold, 0: half (default 0)\n"
	"  --nat-tcp N, --nat-udp N  translation entries each may hold, 0: three\n"
	"                         quarters of the table (default 0)\n"
	"Forwards (inbound connections through the module's listening sockets):\n"
	"  --forward tcp:MODULE-PORT:HOST:PORT  carry a connection the module accepts\n"
	"                         on MODULE-PORT to HOST:PORT (IPv4 address; repeatable,\n"
	"                         at most 4; default none)\n"
	"  --inbound-links N      module links inbound connections may hold, 0: leave\n"
	"                         outbound at least half (default 0)\n"
	"  --forward-allow-any    allow a HOST outside the tun prefix, 127.0.0.0/8, this\n"
	"                         host's addresses and its directly connected subnets\n"
	"UDP and DNS:\n"
	"  --max-udp-flows N      UDP flows at once, 1 to 4096 (default 64)\n"
	"  --udp-idle-timeout-ms N  an idle UDP flow frees its link (default 60000)\n"
	"  --dns MODE             module: answer port 53 through the module's resolver;\n"
	"                         forward: carry DNS as ordinary UDP/TCP (default module)\n"
	"  --dns-ttl N            seconds an answer is cached, 0 to 86400 (default 60)\n"
	"  --dns-timeout-ms N     no answer from the module by then: SERVFAIL (default 10000)\n"
	"Operation:\n"
	"  --config FILE          configuration file (default " ATB_CONFIG_FILE ")\n"
	"  --check-config         validate, print the effective configuration, exit\n"
	"  --log-level LEVEL      error | info | debug (default info)\n"
	"  --control-socket PATH  atbridgectl's socket, or none (default " ATB_CONTROL_SOCKET ")\n"
	"  --control-mode MODE    0600 | 0660 (default 0600)\n"
	"  --metrics-file PATH    Prometheus text file to rewrite, or none (default none)\n"
	"  --metrics-interval-s N seconds between rewrites, 1 to 3600 (default 15)\n"
	"  --run-as USER          switch to USER once the devices are open (default: stay,\n"
	"                         without capabilities)\n"
	"Hooks:\n"
	"  --up-script PATH       run when the data link comes up, or none (default none)\n"
	"  --down-script PATH     run when it goes down and at exit, or none (default none)\n"
	"  --hook-dir DIR         also run DIR/up.d/* and DIR/down.d/*, or none\n"
	"                         (default " ATB_HOOK_DIR ")\n"
	"  --hook-timeout-s N     a hook still running after N s is killed (default 10)\n"
	"  --dns-setup MODE       none | resolvconf | resolved: point the system's resolver\n"
	"                         at atbridge's DNS while the link is up (default none)\n"
	"  -v, --verbose          more log output (same as --log-level debug)\n"
	"  -h, --help             this text\n"
	"  --version              print the version\n",
	out);
}

enum {
	OPT_DEVICE = 256, OPT_BAUD, OPT_FC, OPT_MODEL, OPT_APN, OPT_USER, OPT_PASSWORD,
	OPT_CMD_TIMEOUT, OPT_POLL, OPT_INFLIGHT, OPT_SIM, OPT_SIM_PATH, OPT_SIM_NETNS,
	OPT_SIM_ARG, OPT_TUN, OPT_ADDRESS, OPT_LWIP_ADDRESS, OPT_MTU, OPT_NO_DEFROUTE,
	OPT_MAX_FLOWS, OPT_QUEUE_LEN, OPT_QUEUE_WAIT, OPT_VERSION, OPT_MAX_UDP, OPT_UDP_IDLE,
	OPT_DNS, OPT_DNS_TTL, OPT_DNS_TIMEOUT, OPT_PIN, OPT_NETNS, OPT_CONFIG, OPT_CHECK,
	OPT_LOG_LEVEL, OPT_CTL_SOCKET, OPT_CTL_MODE, OPT_METRICS_FILE, OPT_METRICS_INTERVAL,
	OPT_LINK, OPT_GUARD, OPT_HOLDOFF, OPT_HOLDOFF_MAX, OPT_MAXFAIL, OPT_RUN_AS,
	OPT_UP_SCRIPT, OPT_DOWN_SCRIPT, OPT_HOOK_DIR, OPT_HOOK_TIMEOUT, OPT_DNS_SETUP,
	OPT_HALFCLOSE, OPT_IDLE_RECLAIM, OPT_QUEUE_PER_SOURCE, OPT_TCP_LINKS, OPT_UDP_LINKS,
	OPT_NAT_TCP, OPT_NAT_UDP, OPT_LINKS_PER_SOURCE, OPT_FORWARD, OPT_INBOUND_LINKS,
	OPT_FORWARD_ANY,
};

/* The file keys are these names ('_' may stand for '-'); the ones with
 * file_ok false exist on the command line only. */
struct opt_def {
	const char *name;
	int has_arg;
	int id;
	bool file_ok;
};

static const struct opt_def opt_defs[] = {
	{"device", required_argument, OPT_DEVICE, true},
	{"baud", required_argument, OPT_BAUD, true},
	{"flow-control", required_argument, OPT_FC, true},
	{"model", required_argument, OPT_MODEL, true},
	{"apn", required_argument, OPT_APN, true},
	{"user", required_argument, OPT_USER, true},
	{"password", required_argument, OPT_PASSWORD, true},
	{"pin", required_argument, OPT_PIN, true},
	{"cmd-timeout-ms", required_argument, OPT_CMD_TIMEOUT, true},
	{"poll-interval-ms", required_argument, OPT_POLL, true},
	{"max-inflight", required_argument, OPT_INFLIGHT, true},
	{"link", required_argument, OPT_LINK, true},
	{"guard-ms", required_argument, OPT_GUARD, true},
	{"holdoff-ms", required_argument, OPT_HOLDOFF, true},
	{"holdoff-max-ms", required_argument, OPT_HOLDOFF_MAX, true},
	{"maxfail", required_argument, OPT_MAXFAIL, true},
	{"sim", no_argument, OPT_SIM, true},
	{"sim-path", required_argument, OPT_SIM_PATH, true},
	{"sim-netns", required_argument, OPT_SIM_NETNS, true},
	{"sim-arg", required_argument, OPT_SIM_ARG, true},
	{"tun", required_argument, OPT_TUN, true},
	{"netns", required_argument, OPT_NETNS, true},
	{"address", required_argument, OPT_ADDRESS, true},
	{"lwip-address", required_argument, OPT_LWIP_ADDRESS, true},
	{"mtu", required_argument, OPT_MTU, true},
	{"no-default-route", no_argument, OPT_NO_DEFROUTE, true},
	{"max-flows", required_argument, OPT_MAX_FLOWS, true},
	{"queue-len", required_argument, OPT_QUEUE_LEN, true},
	{"queue-wait-ms", required_argument, OPT_QUEUE_WAIT, true},
	{"halfclose-timeout-s", required_argument, OPT_HALFCLOSE, true},
	{"idle-reclaim-s", required_argument, OPT_IDLE_RECLAIM, true},
	{"queue-per-source", required_argument, OPT_QUEUE_PER_SOURCE, true},
	{"links-per-source", required_argument, OPT_LINKS_PER_SOURCE, true},
	{"tcp-links", required_argument, OPT_TCP_LINKS, true},
	{"udp-links", required_argument, OPT_UDP_LINKS, true},
	{"nat-tcp", required_argument, OPT_NAT_TCP, true},
	{"nat-udp", required_argument, OPT_NAT_UDP, true},
	{"forward", required_argument, OPT_FORWARD, true},
	{"inbound-links", required_argument, OPT_INBOUND_LINKS, true},
	{"forward-allow-any", no_argument, OPT_FORWARD_ANY, true},
	{"max-udp-flows", required_argument, OPT_MAX_UDP, true},
	{"udp-idle-timeout-ms", required_argument, OPT_UDP_IDLE, true},
	{"dns", required_argument, OPT_DNS, true},
	{"dns-ttl", required_argument, OPT_DNS_TTL, true},
	{"dns-timeout-ms", required_argument, OPT_DNS_TIMEOUT, true},
	{"log-level", required_argument, OPT_LOG_LEVEL, true},
	{"control-socket", required_argument, OPT_CTL_SOCKET, true},
	{"control-mode", required_argument, OPT_CTL_MODE, true},
	{"metrics-file", required_argument, OPT_METRICS_FILE, true},
	{"metrics-interval-s", required_argument, OPT_METRICS_INTERVAL, true},
	{"run-as", required_argument, OPT_RUN_AS, true},
	{"up-script", required_argument, OPT_UP_SCRIPT, true},
	{"down-script", required_argument, OPT_DOWN_SCRIPT, true},
	{"hook-dir", required_argument, OPT_HOOK_DIR, true},
	{"hook-timeout-s", required_argument, OPT_HOOK_TIMEOUT, true},
	{"dns-setup", required_argument, OPT_DNS_SETUP, true},
	{"verbose", no_argument, 'v', true},
	{"config", required_argument, OPT_CONFIG, false},
	{"check-config", no_argument, OPT_CHECK, false},
	{"help", no_argument, 'h', false},
	{"version", no_argument, OPT_VERSION, false},
};
#define N_OPTS (sizeof(opt_defs) / sizeof(opt_defs[0]))

/* Which of device/sim the command line set: it overrides the file's choice. */
struct origin {
	bool arg_device, arg_sim;
};

/* No value of any option holds a control byte; quoting one back would
 * split the message (a forged log line). Found by tests/fuzz. */
static const char *control_byte(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return s;
	return NULL;
}

/* s for a message: at most n bytes, control bytes shown as '?'. */
static const char *printable(const char *s, size_t n, char *buf, size_t size)
{
	size_t i = 0;

	for (; i < n && s[i] && i + 1 < size; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	buf[i] = '\0';
	return buf;
}

static bool apply_value(struct atb_config *c, int opt, const char *what, const char *arg,
                        bool from_file, FILE *err);

static int where_slot(int opt)
{
	switch (opt) {
	case OPT_DEVICE: return ATB_WHERE_DEVICE;
	case OPT_SIM: return ATB_WHERE_SIM;
	case OPT_ADDRESS: return ATB_WHERE_ADDRESS;
	case OPT_LWIP_ADDRESS: return ATB_WHERE_LWIP;
	case OPT_RUN_AS: return ATB_WHERE_RUN_AS;
	case OPT_NETNS: return ATB_WHERE_NETNS;
	case OPT_SIM_NETNS: return ATB_WHERE_SIM_NETNS;
	case OPT_UP_SCRIPT: return ATB_WHERE_UP;
	case OPT_DOWN_SCRIPT: return ATB_WHERE_DOWN;
	case OPT_DNS_SETUP: return ATB_WHERE_DNS_SETUP;
	default: return -1;
	}
}

/* Applies one value and remembers where it came from, for the errors that
 * are found later (between two values, or on the system). */
static bool apply_option(struct atb_config *c, int opt, const char *what, const char *arg,
                         bool from_file, FILE *err)
{
	int w = where_slot(opt);
	bool ok = apply_value(c, opt, what, arg, from_file, err);

	if (w >= 0) {
		snprintf(c->where[w], sizeof(c->where[w]), "%s", what);
		if (ok)
			c->where_bad &= ~(1u << w);
		else
			c->where_bad |= 1u << w;
	}
	return ok;
}

static bool apply_value(struct atb_config *c, int opt, const char *what, const char *arg,
                        bool from_file, FILE *err)
{
	bool b;

	const char *bad = control_byte(arg);

	if (bad) {
		fprintf(err, "atbridge: %s: byte 0x%02x at position %zu is not allowed "
		        "(a control character; the value is not shown)\n", what, (unsigned)(unsigned char)*bad,
		        (size_t)(bad - arg));
		return false;
	}

	switch (opt) {
	case OPT_DEVICE: return parse_path(what, arg, c->device, sizeof(c->device), err);
	case OPT_BAUD: return parse_baud(what, arg, &c->baud, err);
	case OPT_FC: return parse_flow_control(what, arg, &c->rtscts, err);
	case OPT_MODEL: return parse_model(c, what, arg, err);
	case OPT_APN: return config_parse_at_string(what, arg, c->apn, 50, err);
	case OPT_USER: return config_parse_at_string(what, arg, c->user, 50, err);
	case OPT_PASSWORD: return parse_secret(what, arg, c->password, 50, err);
	case OPT_PIN: return parse_pin(what, arg, c->pin, err);
	case OPT_CMD_TIMEOUT:
		return config_parse_uint(what, arg, 100, 600000, &c->cmd_timeout_ms, err);
	case OPT_POLL:
		return config_parse_uint(what, arg, 100, 600000, &c->poll_interval_ms, err);
	case OPT_INFLIGHT:
		return config_parse_uint(what, arg, 1460, 1048576, &c->max_inflight, err);
	case OPT_LINK: return parse_link_mode(what, arg, &c->transparent, err);
	case OPT_GUARD: return config_parse_uint(what, arg, 100, 10000, &c->guard_ms, err);
	case OPT_HOLDOFF: return config_parse_uint(what, arg, 100, 600000, &c->holdoff_ms, err);
	case OPT_HOLDOFF_MAX:
		return config_parse_uint(what, arg, 100, 3600000, &c->holdoff_max_ms, err);
	case OPT_MAXFAIL: return config_parse_uint(what, arg, 0, 1000000, &c->maxfail, err);
	case OPT_RUN_AS: return parse_name(what, arg, c->run_as, sizeof(c->run_as), err);
	case OPT_UP_SCRIPT:
		return parse_optional_path(what, arg, c->up_script, sizeof(c->up_script), err);
	case OPT_DOWN_SCRIPT:
		return parse_optional_path(what, arg, c->down_script, sizeof(c->down_script), err);
	case OPT_HOOK_DIR: return parse_optional_path(what, arg, c->hook_dir, sizeof(c->hook_dir), err);
	case OPT_HOOK_TIMEOUT: return config_parse_uint(what, arg, 1, 3600, &c->hook_timeout_s, err);
	case OPT_DNS_SETUP: return parse_dns_setup(what, arg, &c->dns_setup, err);
	case OPT_SIM:
		if (!from_file) {
			c->sim = true;
			return true;
		}
		return parse_bool(what, arg, &c->sim, err);
	case OPT_SIM_PATH: return parse_path(what, arg, c->sim_path, sizeof(c->sim_path), err);
	case OPT_SIM_NETNS: return parse_name(what, arg, c->sim_netns, sizeof(c->sim_netns), err);
	case OPT_SIM_ARG:
		if (c->n_sim_args >= ATB_MAX_SIM_ARGS) {
			fprintf(err, "atbridge: %s: at most %d may be given ('%s' is one too many)\n",
			        what, ATB_MAX_SIM_ARGS, arg);
			return false;
		}
		if (from_file) {
			char *slot = c->sim_arg_store[c->n_sim_args];

			if (strlen(arg) > ATB_SIM_ARG_MAX) {
				fprintf(err, "atbridge: %s: '%s' is longer than %d bytes\n", what, arg,
				        ATB_SIM_ARG_MAX);
				return false;
			}
			strcpy(slot, arg);
			arg = slot;
		}
		c->sim_args[c->n_sim_args++] = arg;
		return true;
	case OPT_TUN: return parse_name(what, arg, c->tun_name, sizeof(c->tun_name), err);
	case OPT_NETNS: return parse_name(what, arg, c->netns, sizeof(c->netns), err);
	case OPT_ADDRESS: return config_parse_cidr(what, arg, &c->tun_addr, &c->tun_prefix, err);
	case OPT_LWIP_ADDRESS: return config_parse_ipv4(what, arg, &c->lwip_addr, err);
	case OPT_MTU: return config_parse_uint(what, arg, 576, 1500, &c->mtu, err);
	case OPT_NO_DEFROUTE:
		if (!from_file) {
			c->default_route = false;
			return true;
		}
		if (!parse_bool(what, arg, &b, err))
			return false;
		c->default_route = !b;
		return true;
	case OPT_MAX_FLOWS: return config_parse_uint(what, arg, 1, 4096, &c->max_flows, err);
	case OPT_QUEUE_LEN: return config_parse_uint(what, arg, 0, 4096, &c->queue_len, err);
	case OPT_QUEUE_WAIT:
		return config_parse_uint(what, arg, 100, 600000, &c->queue_wait_ms, err);
	case OPT_HALFCLOSE: return config_parse_uint(what, arg, 0, 86400, &c->halfclose_s, err);
	case OPT_IDLE_RECLAIM: return config_parse_uint(what, arg, 0, 604800, &c->idle_reclaim_s, err);
	case OPT_QUEUE_PER_SOURCE:
		return config_parse_uint(what, arg, 1, 4096, &c->queue_per_source, err);
	case OPT_LINKS_PER_SOURCE:
		return config_parse_uint(what, arg, 0, 16, &c->links_per_source, err);
	case OPT_TCP_LINKS: return config_parse_uint(what, arg, 0, 16, &c->tcp_links, err);
	case OPT_UDP_LINKS: return config_parse_uint(what, arg, 0, 16, &c->udp_links, err);
	case OPT_NAT_TCP: return config_parse_uint(what, arg, 0, 8192, &c->nat_tcp, err);
	case OPT_NAT_UDP: return config_parse_uint(what, arg, 0, 8192, &c->nat_udp, err);
	case OPT_FORWARD: return add_forward(c, what, arg, err);
	case OPT_INBOUND_LINKS: return config_parse_uint(what, arg, 0, 16, &c->inbound_links, err);
	case OPT_FORWARD_ANY:
		if (!from_file) {
			c->forward_allow_any = true;
			return true;
		}
		return parse_bool(what, arg, &c->forward_allow_any, err);
	case OPT_MAX_UDP: return config_parse_uint(what, arg, 1, 4096, &c->max_udp_flows, err);
	case OPT_UDP_IDLE:
		return config_parse_uint(what, arg, 1000, 3600000, &c->udp_idle_timeout_ms, err);
	case OPT_DNS: return parse_dns_mode(what, arg, &c->dns_intercept, err);
	case OPT_DNS_TTL: return config_parse_uint(what, arg, 0, 86400, &c->dns_ttl_s, err);
	case OPT_DNS_TIMEOUT:
		return config_parse_uint(what, arg, 500, 120000, &c->dns_timeout_ms, err);
	case OPT_LOG_LEVEL: return parse_log_level(what, arg, &c->verbose, err);
	case OPT_CTL_SOCKET:
		return parse_optional_path(what, arg, c->control_socket, sizeof(c->control_socket), err);
	case OPT_CTL_MODE: return parse_mode(what, arg, &c->control_mode, err);
	case OPT_METRICS_FILE:
		return parse_optional_path(what, arg, c->metrics_file, sizeof(c->metrics_file), err);
	case OPT_METRICS_INTERVAL:
		return config_parse_uint(what, arg, 1, 3600, &c->metrics_interval_s, err);
	case OPT_CHECK: c->check_config = true; return true;
	case OPT_CONFIG: return parse_path(what, arg, c->config_path, sizeof(c->config_path), err);
	case 'v':
		if (!from_file) {
			c->verbose++;
			return true;
		}
		if (!parse_bool(what, arg, &b, err))
			return false;
		c->verbose = b ? 1 : 0;
		return true;
	}
	return false;
}

static const char *ip_str(uint32_t a, char *buf)
{
	inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
	return buf;
}

/* "FILE:LINE: key" or "--key" of a value, or "--key (the default)". */
static const char *where_of(const struct atb_config *c, enum atb_where w, const char *key, char *buf,
                            size_t len)
{
	if (c->where[w][0])
		return c->where[w];
	snprintf(buf, len, "--%s (the default)", key);
	return buf;
}

static bool check_consistency(const struct atb_config *c, FILE *err)
{
	uint32_t mask = c->tun_prefix ? htonl(~0u << (32 - c->tun_prefix)) : 0;
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN], wbuf[64];

	/* a refused address or lwip-address was reported already */
	if (c->dns_setup != ATB_DNS_SETUP_NONE && (!c->dns_intercept || c->netns[0])) {
		fprintf(err, "atbridge: %s: '%s' needs dns = module and no netns (the system's resolver "
		        "is pointed at atbridge's own DNS on the interface)\n",
		        c->where[ATB_WHERE_DNS_SETUP], config_dns_setup_name(c->dns_setup));
		return false;
	}
	if (c->where_bad & ((1u << ATB_WHERE_ADDRESS) | (1u << ATB_WHERE_LWIP)))
		return true;
	inet_ntop(AF_INET, &c->tun_addr, a, sizeof(a));
	inet_ntop(AF_INET, &c->lwip_addr, b, sizeof(b));
	if (c->lwip_addr == c->tun_addr || (c->lwip_addr & mask) != (c->tun_addr & mask)) {
		fprintf(err, "atbridge: %s: '%s' must be another address inside %s/%u (%s)\n",
		        where_of(c, ATB_WHERE_LWIP, "lwip-address", wbuf, sizeof(wbuf)), b, a, c->tun_prefix,
		        c->where[ATB_WHERE_ADDRESS][0] ? c->where[ATB_WHERE_ADDRESS] : "the default address");
		return false;
	}
	return true;
}

static uint32_t prefix_mask(unsigned prefix)
{
	return prefix ? htonl(~0u << (32 - prefix)) : 0;
}

/* What the configuration alone can allow a forward to reach: the tun's
 * prefix and loopback. The rest is config_check_system's. */
static bool forward_host_local(const struct atb_config *c, uint32_t host)
{
	uint32_t mask = prefix_mask(c->tun_prefix);

	return (ntohl(host) >> 24) == 127 || (host & mask) == (c->tun_addr & mask);
}

/* lwIP's own address is no target: a connection there would come back to
 * the bridge as an outbound flow. */
static bool check_forwards(const struct atb_config *c, FILE *err)
{
	bool ok = true;
	char a[INET_ADDRSTRLEN];

	if (c->where_bad & (1u << ATB_WHERE_LWIP))
		return true;
	for (unsigned i = 0; i < c->n_forwards; i++) {
		if (c->forwards[i].host != c->lwip_addr)
			continue;
		fprintf(err, "atbridge: %s: '%s': %s is lwIP's own address (lwip-address), not a host "
		        "to forward to\n", c->where[ATB_WHERE_FORWARD + i], c->forwards[i].spec,
		        ip_str(c->lwip_addr, a));
		ok = false;
	}
	return ok;
}

static uint32_t in4_of(const struct sockaddr *sa)
{
	return ((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr;
}

/* The host is an address of this host, on a directly connected subnet, or
 * the peer of a point-to-point link. */
static bool host_is_connected(const struct ifaddrs *list, uint32_t host)
{
	for (const struct ifaddrs *i = list; i; i = i->ifa_next) {
		uint32_t addr, mask;

		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
			continue;
		addr = in4_of(i->ifa_addr);
		mask = i->ifa_netmask ? in4_of(i->ifa_netmask) : 0xffffffffu;
		if ((host & mask) == (addr & mask))
			return true;
		if ((i->ifa_flags & IFF_POINTOPOINT) && i->ifa_dstaddr &&
		    i->ifa_dstaddr->sa_family == AF_INET && host == in4_of(i->ifa_dstaddr))
			return true;
	}
	return false;
}

/* Without forward-allow-any a forward reaches only this host and the
 * networks it is directly on (docs/security.md, "Forwards"). */
static int check_forward_hosts(const struct atb_config *c, FILE *err)
{
	struct ifaddrs *list = NULL;
	int problems = 0;
	char a[INET_ADDRSTRLEN], t[INET_ADDRSTRLEN];

	if (c->forward_allow_any)
		return 0;
	for (unsigned i = 0; i < c->n_forwards; i++) {
		const struct atb_forward *f = &c->forwards[i];

		if (forward_host_local(c, f->host))
			continue;
		if (!list && getifaddrs(&list) < 0) {
			fprintf(err, "atbridge: %s: '%s': cannot list this host's addresses (getifaddrs: %s)\n",
			        c->where[ATB_WHERE_FORWARD + i], f->spec, strerror(errno));
			return problems + 1;
		}
		if (host_is_connected(list, f->host))
			continue;
		fprintf(err, "atbridge: %s: '%s': %s is outside the tun prefix %s/%u, 127.0.0.0/8, this "
		        "host's addresses and its directly connected subnets (forward-allow-any = yes allows it)\n",
		        c->where[ATB_WHERE_FORWARD + i], f->spec, ip_str(f->host, a),
		        ip_str(c->tun_addr & prefix_mask(c->tun_prefix), t), c->tun_prefix);
		problems++;
	}
	if (list)
		freeifaddrs(list);
	return problems;
}

int config_check_system(const struct atb_config *c, FILE *err)
{
	int problems = 0;
	char wbuf[64];

	if (c->run_as[0] && !getpwnam(c->run_as)) {
		fprintf(err, "atbridge: %s: '%s': there is no such user (getent passwd %s)\n",
		        where_of(c, ATB_WHERE_RUN_AS, "run-as", wbuf, sizeof(wbuf)), c->run_as, c->run_as);
		problems++;
	}
	for (int i = 0; i < 2; i++) {
		const char *script = i ? c->down_script : c->up_script;

		if (script[0] && access(script, X_OK) != 0) {
			fprintf(err, "atbridge: %s: '%s': %s\n", c->where[i ? ATB_WHERE_DOWN : ATB_WHERE_UP], script,
			        errno == EACCES ? "not executable (chmod +x)" : strerror(errno));
			problems++;
		}
	}
	for (int i = 0; i < 2; i++) {
		const char *ns = i ? c->sim_netns : c->netns;
		enum atb_where w = i ? ATB_WHERE_SIM_NETNS : ATB_WHERE_NETNS;
		char path[128];

		if (!ns[0])
			continue;
		snprintf(path, sizeof(path), "/run/netns/%s", ns);
		if (access(path, F_OK) != 0) {
			fprintf(err, "atbridge: %s: '%s': there is no network namespace %s (ip netns add %s)\n",
			        where_of(c, w, i ? "sim-netns" : "netns", wbuf, sizeof(wbuf)), ns, path, ns);
			problems++;
		}
	}
	return problems + check_forward_hosts(c, err);
}

static void build_long_options(struct option *lo)
{
	for (size_t i = 0; i < N_OPTS; i++)
		lo[i] = (struct option){opt_defs[i].name, opt_defs[i].has_arg, NULL, opt_defs[i].id};
	lo[N_OPTS] = (struct option){NULL, 0, NULL, 0};
}

static int parse_argv(struct atb_config *c, int argc, char **argv, struct origin *o, FILE *err)
{
	struct option lo[N_OPTS + 1];
	int opt, idx;
	bool failed = false;

	build_long_options(lo);
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":vh", lo, &idx)) != -1) {
		char what[64];

		if ((opt == 'h' || opt == OPT_VERSION) && failed)
			continue; /* "-Uh": the error stands, no help after it */
		if (opt == 'h') {
			config_usage(c, stdout);
			return 1;
		}
		if (opt == OPT_VERSION) {
			printf("atbridge %s\n", ATB_VERSION);
			return 1;
		}
		if (opt == '?') {
			/* Only the name: a mistyped --pasword=... carries a secret. */
			const char *o = argv[optind - 1];
			char buf[256];

			/* An unknown short option leaves optind on its own word:
			 * argv[optind - 1] is then the word before, maybe a
			 * password (found by tests/fuzz). */
			if (optopt) {
				char so[3] = { '-', (char)optopt, '\0' };
				o = so;
				fprintf(err, "atbridge: unknown option '%s' (see --help)\n",
				        printable(o, 2, buf, sizeof(buf)));
				failed = true;
				continue;
			}
			fprintf(err, "atbridge: unknown option '%s' (see --help)\n",
			        printable(o, strcspn(o, "="), buf, sizeof(buf)));
			failed = true;
			continue;
		}
		if (opt == ':') {
			char buf[256];

			fprintf(err, "atbridge: option '%s' needs a value (see --help)\n",
			        printable(argv[optind - 1], SIZE_MAX, buf, sizeof(buf)));
			failed = true;
			continue;
		}
		if (opt == 'v')
			snprintf(what, sizeof(what), "--verbose");
		else
			snprintf(what, sizeof(what), "--%s", lo[idx].name);
		/* "--log-level --password=x": the value forgotten, the next
		 * option taken for it; quoting it could show a secret. */
		if (optarg && optarg == argv[optind - 1] && !strncmp(optarg, "--", 2) &&
		    opt != OPT_SIM_ARG && opt != OPT_PASSWORD && opt != OPT_PIN) {
			char buf[256];

			fprintf(err, "atbridge: %s needs a value; '%s' looks like the next option (see --help)\n",
			        what, printable(optarg, strcspn(optarg, "="), buf, sizeof(buf)));
			failed = true;
			continue;
		}
		if (!apply_option(c, opt, what, optarg, false, err)) {
			failed = true;
			continue;
		}
		if (opt == OPT_DEVICE)
			o->arg_device = true;
		if (opt == OPT_SIM)
			o->arg_sim = true;
	}
	if (optind < argc && !failed) { /* after a bad option it may be that option's value */
		/* Not quoted: a stray word may be a secret whose option was
		 * mistyped ("--pa --password S3CRET"; found by tests/fuzz). */
		fprintf(err, "atbridge: unexpected argument %d, after the options (see --help)\n", optind);
		return -1;
	}
	return failed ? -1 : 0;
}

static int finish(struct atb_config *c, const struct origin *o, FILE *err)
{
	/* The command line's choice between a device and the simulator wins
	 * over the file's; given both on one side, they conflict. */
	if (o->arg_sim && !o->arg_device)
		c->device[0] = '\0';
	if (o->arg_device && !o->arg_sim)
		c->sim = false;
	if (!c->device[0])
		c->sim = true;
	if (c->sim && c->device[0]) {
		fprintf(err, "atbridge: %s: the simulator and %s: '%s' exclude each other\n",
		        c->where[ATB_WHERE_SIM][0] ? c->where[ATB_WHERE_SIM] : "--sim",
		        c->where[ATB_WHERE_DEVICE][0] ? c->where[ATB_WHERE_DEVICE] : "--device", c->device);
		check_consistency(c, err);
		check_forwards(c, err);
		return -1;
	}
	{
		bool ok = check_consistency(c, err);

		return check_forwards(c, err) && ok ? 0 : -1;
	}
}

int config_parse_args(struct atb_config *c, int argc, char **argv, FILE *err)
{
	struct origin o = {0};
	int r = parse_argv(c, argc, argv, &o, err);

	return r != 0 ? r : finish(c, &o, err);
}

/* ---- the file ---------------------------------------------------------- */

struct file_ctx {
	struct atb_config *c;
	const char *path;
	FILE *fp, *err;
	int line;
	bool failed;     /* a message was written */
	bool too_long;
	bool nul_byte;
	int line_max;    /* longest line inih takes, without its newline */
	int syntax_errors; /* lines the reader found malformed (and reported) */
};

/* The lines inih refuses (its rules, with inline comments and lines
 * without a value off): reported here, as the reader sees them, because
 * inih itself names only the first. */
static bool line_is_malformed(const char *line)
{
	const char *p = line;

	while (isspace((unsigned char)*p))
		p++;
	if (!*p || *p == '#' || *p == ';')
		return false;
	if (*p == '[')
		return !strchr(p + 1, ']');
	return !strpbrk(p, "=:");
}

/* fgets-style reader that counts lines (inih's handler gets no line number)
 * and refuses overlong lines instead of letting inih split them. */
static char *ini_reader_fn(char *str, int num, void *stream)
{
	struct file_ctx *fc = stream;
	size_t n;
	char *end;

	/* Pre-filled so that the last NUL is fgets' own: a NUL byte inside
	 * the line would otherwise hide the rest of it, which fgets then
	 * returns as a "line" of its own (quoted back as an unknown key: it
	 * could be the tail of a password; found by tests/fuzz). */
	memset(str, 'x', (size_t)num);
	if (!fgets(str, num, fc->fp))
		return NULL;
	fc->line++;
	fc->line_max = num - 2;
	end = memrchr(str, '\0', (size_t)num);
	n = strlen(str);
	if (end && (size_t)(end - str) != n) {
		fc->nul_byte = true;
		return NULL;
	}
	if (n == (size_t)num - 1 && str[n - 1] != '\n' && !feof(fc->fp)) {
		fc->too_long = true;
		return NULL;
	}
	if (line_is_malformed(str)) {
		fprintf(fc->err, "atbridge: %s:%d: not a 'key = value' line, a [section] or a comment\n",
		        fc->path, fc->line);
		fc->syntax_errors++;
		fc->failed = true;
	}
	return str;
}

static const struct opt_def *find_key(const char *name)
{
	char key[40];
	size_t n = strlen(name);

	if (n >= sizeof(key))
		return NULL;
	for (size_t i = 0; i <= n; i++)
		key[i] = name[i] == '_' ? '-' : name[i];
	for (size_t i = 0; i < N_OPTS; i++)
		if (!strcmp(opt_defs[i].name, key))
			return &opt_defs[i];
	return NULL;
}

/* A broken line may carry a secret in what inih took for the key
 * ("password hunter2 ="): only plain names are quoted back, and none that
 * starts like a secret's key. */
static bool key_is_quotable(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 40 || !strncmp(name, "pass", 4) || !strncmp(name, "pin", 3))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '-' && name[i] != '_')
			return false;
	return true;
}

static int ini_handler_fn(void *user, const char *section, const char *name, const char *value)
{
	struct file_ctx *fc = user;
	const struct opt_def *d = find_key(name);
	char what[sizeof(fc->c->config_path) + 64];

	(void)section; /* sections only group keys (atbridge.conf(5)) */
	if (!d || !d->file_ok) {
		if (key_is_quotable(name))
			fprintf(fc->err, "atbridge: %s:%d: '%s' is not a setting (see atbridge.conf(5))\n",
			        fc->path, fc->line, name);
		else
			fprintf(fc->err, "atbridge: %s:%d: not a setting name (not shown: names are up to "
			        "40 letters, digits, '-' and '_'; see atbridge.conf(5))\n", fc->path, fc->line);
		fc->failed = true;
		return 1; /* go on: every error is reported */
	}
	snprintf(what, sizeof(what), "%s:%d: %s", fc->path, fc->line, d->name);
	if (!apply_option(fc->c, d->id, what, value ? value : "", true, fc->err))
		fc->failed = true;
	return 1;
}

bool config_parse_fp(struct atb_config *c, FILE *fp, const char *path, FILE *err)
{
	struct file_ctx fc = {.c = c, .path = path, .fp = fp, .err = err};
	int r;

	/* Plain 'key = value' lines: no continuation lines, no inline comments
	 * (a ';' may be part of a password), whole-line comments with # or ;. */
	ini_allow_multiline = false;
	ini_allow_inline_comments = false;
	ini_allow_no_value = false;
	ini_stop_on_first_error = false;
	r = ini_parse_stream(ini_reader_fn, &fc, ini_handler_fn, &fc);
	if (fc.too_long) {
		fprintf(err, "atbridge: %s:%d: line longer than %d bytes\n", path, fc.line,
		        fc.line_max);
		return false;
	}
	if (fc.nul_byte) {
		fprintf(err, "atbridge: %s:%d: the line holds a NUL byte (not a text file?)\n", path,
		        fc.line);
		return false;
	}
	if (r > 0 && fc.syntax_errors) /* reported line by line */
		r = 0;
	if (fc.failed && r == 0)
		return false;
	if (r != 0) {
		if (r > 0)
			fprintf(err, "atbridge: %s:%d: not a 'key = value' line, a [section] or a comment\n",
			        path, r);
		else
			fprintf(err, "atbridge: %s: cannot parse the configuration file (out of memory)\n", path);
		return false;
	}
	c->config_loaded = true;
	return true;
}

bool config_parse_file(struct atb_config *c, const char *path, bool must_exist, FILE *err)
{
	FILE *fp = fopen(path, "re");
	bool ok;

	if (!fp) {
		if (errno == ENOENT && !must_exist)
			return true;
		fprintf(err, "atbridge: %s: cannot read the configuration file: %s\n", path,
		        strerror(errno));
		return false;
	}
	ok = config_parse_fp(c, fp, path, err);
	fclose(fp);
	return ok;
}

/* Finds --config FILE / --config=FILE before getopt runs, so that the file
 * is read first and the command line applies over it. */
static const char *find_config_arg(int argc, char **argv)
{
	const char *found = NULL;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "--config") && i + 1 < argc)
			found = argv[++i];
		else if (!strncmp(argv[i], "--config=", 9))
			found = argv[i] + 9;
	}
	return found;
}

int config_load(struct atb_config *c, int argc, char **argv, FILE *err)
{
	const char *explicit_path = find_config_arg(argc, argv);
	struct origin o = {0};
	int r;

	if (explicit_path && !parse_path("--config", explicit_path, c->config_path,
	                                 sizeof(c->config_path), err))
		return -1;
	bool ok = config_parse_file(c, c->config_path, explicit_path != NULL, err);

	r = parse_argv(c, argc, argv, &o, err);
	if (r > 0)
		return r;
	ok = r == 0 && ok;
	ok = finish(c, &o, err) == 0 && ok;
	if (c->check_system && config_check_system(c, err) > 0)
		ok = false;
	return ok ? 0 : -1;
}

/* ---- printing ---------------------------------------------------------- */

void config_print(const struct atb_config *c, FILE *out)
{
	char a[INET_ADDRSTRLEN];

	fprintf(out, "# atbridge %s: effective configuration (%s%s)\n", ATB_VERSION, c->config_path,
	        c->config_loaded ? "" : " not found, defaults");
	fprintf(out, "\n[module]\n");
	if (c->device[0])
		fprintf(out, "device = %s\n", c->device);
	else
		fprintf(out, "# device not set: the simulator is used\n");
	fprintf(out, "baud = %u\nflow-control = %s\nmodel = %s\napn = %s\nuser = %s\n", c->baud,
	        c->rtscts ? "rtscts" : "none", c->model, c->apn, c->user);
	fprintf(out, "# password is %s (never shown)\n", c->password[0] ? "set" : "not set");
	fprintf(out, "# pin is %s (never shown)\n", c->pin[0] ? "set" : "not set");
	fprintf(out, "cmd-timeout-ms = %u\npoll-interval-ms = %u\nmax-inflight = %u\n",
	        c->cmd_timeout_ms, c->poll_interval_ms, c->max_inflight);
	fprintf(out, "link = %s\nguard-ms = %u\n", c->transparent ? "transparent" : "multi",
	        c->guard_ms);
	fprintf(out, "holdoff-ms = %u\nholdoff-max-ms = %u\nmaxfail = %u\n", c->holdoff_ms,
	        c->holdoff_max_ms, c->maxfail);
	fprintf(out, "\n[simulator]\nsim = %s\n", c->sim ? "yes" : "no");
	if (c->sim_path[0])
		fprintf(out, "sim-path = %s\n", c->sim_path);
	if (c->sim_netns[0])
		fprintf(out, "sim-netns = %s\n", c->sim_netns);
	for (unsigned i = 0; i < c->n_sim_args; i++)
		fprintf(out, "sim-arg = %s\n", c->sim_args[i]);
	fprintf(out, "\n[interface]\ntun = %s\n", c->tun_name);
	if (c->netns[0])
		fprintf(out, "netns = %s\n", c->netns);
	fprintf(out, "address = %s/%u\n", ip_str(c->tun_addr, a), c->tun_prefix);
	fprintf(out, "lwip-address = %s\nmtu = %u\nno-default-route = %s\n", ip_str(c->lwip_addr, a),
	        c->mtu, c->default_route ? "no" : "yes");
	fprintf(out, "\n[flows]\nmax-flows = %u\nqueue-len = %u\nqueue-wait-ms = %u\n", c->max_flows,
	        c->queue_len, c->queue_wait_ms);
	fprintf(out, "halfclose-timeout-s = %u\nidle-reclaim-s = %u\nqueue-per-source = %u\n"
	        "links-per-source = %u\ntcp-links = %u\nudp-links = %u\nnat-tcp = %u\nnat-udp = %u\n",
	        c->halfclose_s, c->idle_reclaim_s, c->queue_per_source, c->links_per_source,
	        c->tcp_links, c->udp_links, c->nat_tcp, c->nat_udp);
	fprintf(out, "\n[forwards]\n");
	for (unsigned i = 0; i < c->n_forwards; i++)
		fprintf(out, "forward = %s\n", c->forwards[i].spec);
	if (!c->n_forwards)
		fprintf(out, "# no forward: nothing is reachable through the module\n");
	fprintf(out, "inbound-links = %u\nforward-allow-any = %s\n", c->inbound_links,
	        c->forward_allow_any ? "yes" : "no");
	fprintf(out, "\n[udp]\nmax-udp-flows = %u\nudp-idle-timeout-ms = %u\ndns = %s\n"
	        "dns-ttl = %u\ndns-timeout-ms = %u\n", c->max_udp_flows, c->udp_idle_timeout_ms,
	        c->dns_intercept ? "module" : "forward", c->dns_ttl_s, c->dns_timeout_ms);
	fprintf(out, "\n[operation]\nlog-level = %s\ncontrol-socket = %s\ncontrol-mode = %04o\n"
	        "metrics-file = %s\nmetrics-interval-s = %u\n", config_log_level_name(c->verbose),
	        c->control_socket[0] ? c->control_socket : "none", c->control_mode,
	        c->metrics_file[0] ? c->metrics_file : "none", c->metrics_interval_s);
	if (c->run_as[0])
		fprintf(out, "run-as = %s\n", c->run_as);
	fprintf(out, "\n[hooks]\nup-script = %s\ndown-script = %s\nhook-dir = %s\nhook-timeout-s = %u\n"
	        "dns-setup = %s\n", c->up_script[0] ? c->up_script : "none",
	        c->down_script[0] ? c->down_script : "none", c->hook_dir[0] ? c->hook_dir : "none",
	        c->hook_timeout_s, config_dns_setup_name(c->dns_setup));
}

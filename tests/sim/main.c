/* atbridge-sim: command line, the event loop, and shutdown. */
#include "engine.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct sim S;

static void usage(FILE *f)
{
	fputs("usage: atbridge-sim [options]\n"
	      "Simulates a cellular module's AT TCP/IP stack on a pseudo-terminal.\n"
	      "The slave path is printed as the first line of stdout.\n\n"
	      "  --model sim7000|n11v2  module to simulate (default sim7000)\n"
	      "  --baud N               pace the line at N/10 bytes/s each way (0 = unpaced, default)\n"
	      "  --latency-ms N         one-way network delay for data and connect results (default 0)\n"
	      "  --hosts FILE           name resolution (\"name ip\" or \"ip name [aliases]\" lines)\n"
	      "  --host-resolver        resolve names not in --hosts with the host's resolver\n"
	      "  --fwmark N             firewall mark (SO_MARK) on every host socket\n"
	      "  --link PATH            also make PATH a symlink to the slave (removed on exit)\n"
	      "  --control PATH         UNIX stream control socket for fault injection\n"
	      "  --seed N               seed for all randomness (default 1)\n"
	      "  --urc-race             let notifications land between a command's echo and result\n"
	      "  --chunk-jitter         split output into small pieces with 0-2 ms gaps\n"
	      "  --rxbuf BYTES          per-link receive buffer limit (default 65536)\n"
	      "  --log FILE             append every command line received\n"
	      "  --verbose              log activity to stderr\n"
	      "  --ppp-cmd CMD          shell command run on a second pty for ATD*99# / AT+CGDATA\n"
	      "                         (PPP data mode; default: a pppd, see docs/simulator.md)\n"
	      "  --reading NAME=VALUE   answer as another reading of the manual (repeatable, or a\n"
	      "                         comma list; \"alt\" = every alternative of the model)\n"
	      "  --ping-interval-ms N   N11V2 AT+PING: replies of one run N ms apart (default 1000)\n"
	      "  --local-ip ADDR        the module's own address (CIFSR, XIIC) and where its\n"
	      "                         server listens (default: the model's, see docs/simulator.md)\n"
	      "  --help                 show this help\n\n"
	      "Control socket commands (one per line, reply \"OK ...\" or \"ERR <reason>\"):\n"
	      "  pdp-deact | close <n> | reboot | garbage <hex> | stall <ms> | drop-urc <n> |\n"
	      "  late <ms> | dup <n> | stray <text> | wrong-link | stats\n"
	      "See docs/simulator.md for the behaviour and every interpretation of the manuals.\n",
	      f);
}

static bool parse_long(const char *flag, const char *v, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long x = strtol(v, &end, 10);
	if (errno || end == v || *end || x < lo || x > hi) {
		fprintf(stderr, "atbridge-sim: invalid value for %s: '%s' (expected %ld..%ld)\n",
			flag, v, lo, hi);
		return false;
	}
	*out = x;
	return true;
}

static bool parse_args(int argc, char **argv)
{
	enum { O_MODEL = 256, O_BAUD, O_LAT, O_HOSTS, O_LINK, O_CONTROL, O_SEED, O_RACE,
	       O_JITTER, O_RXBUF, O_LOG, O_VERBOSE, O_HELP, O_PPP, O_READING, O_PINGIV,
	       O_RESOLVER, O_FWMARK, O_LOCALIP };
	static const struct option lo[] = {
		{ "model", required_argument, 0, O_MODEL },
		{ "baud", required_argument, 0, O_BAUD },
		{ "latency-ms", required_argument, 0, O_LAT },
		{ "hosts", required_argument, 0, O_HOSTS },
		{ "link", required_argument, 0, O_LINK },
		{ "control", required_argument, 0, O_CONTROL },
		{ "seed", required_argument, 0, O_SEED },
		{ "urc-race", no_argument, 0, O_RACE },
		{ "chunk-jitter", no_argument, 0, O_JITTER },
		{ "rxbuf", required_argument, 0, O_RXBUF },
		{ "log", required_argument, 0, O_LOG },
		{ "verbose", no_argument, 0, O_VERBOSE },
		{ "help", no_argument, 0, O_HELP },
		{ "ppp-cmd", required_argument, 0, O_PPP },
		{ "reading", required_argument, 0, O_READING },
		{ "ping-interval-ms", required_argument, 0, O_PINGIV },
		{ "host-resolver", no_argument, 0, O_RESOLVER },
		{ "fwmark", required_argument, 0, O_FWMARK },
		{ "local-ip", required_argument, 0, O_LOCALIP },
		{ 0, 0, 0, 0 },
	};
	/* readings depend on --model, which may come later: applied at the end */
	const char *readings[64];
	int nreadings = 0;
	S.o.ping_interval_ms = 1000;
	S.o.rxbuf = 65536;
	S.o.seed = 1;
	opterr = 0;
	int c;
	long v;
	struct in_addr addr;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case O_MODEL:
			if (!sim_model_find(optarg)) {
				fprintf(stderr, "atbridge-sim: invalid value for --model: '%s' (expected %s)\n", optarg, sim_model_names());
				return false;
			}
			S.o.model = sim_model_find(optarg)->id;
			break;
		case O_BAUD:
			if (!parse_long("--baud", optarg, 0, 100000000, &S.o.baud))
				return false;
			break;
		case O_LAT:
			if (!parse_long("--latency-ms", optarg, 0, 60000, &S.o.latency_ms))
				return false;
			break;
		case O_HOSTS: S.o.hosts = optarg; break;
		case O_LINK: S.o.link = optarg; break;
		case O_CONTROL: S.o.control = optarg; break;
		case O_SEED:
			if (!parse_long("--seed", optarg, 0, LONG_MAX, &v))
				return false;
			S.o.seed = (unsigned long)v;
			break;
		case O_RACE: S.o.urc_race = true; break;
		case O_JITTER: S.o.chunk_jitter = true; break;
		case O_RXBUF:
			if (!parse_long("--rxbuf", optarg, 1, 1L << 30, &S.o.rxbuf))
				return false;
			break;
		case O_LOG: S.o.log = optarg; break;
		case O_VERBOSE: S.o.verbose = true; break;
		case O_PPP: S.o.ppp_cmd = optarg; break;
		case O_RESOLVER: sim_hosts_use_resolver(true); break;
		case O_FWMARK:
			if (!parse_long("--fwmark", optarg, 0, 0xffffffffL, &v))
				return false;
			S.o.fwmark = (unsigned long)v;
			break;
		case O_LOCALIP:
			if (inet_pton(AF_INET, optarg, &addr) != 1) {
				fprintf(stderr, "atbridge-sim: invalid value for --local-ip: '%s' (expected an IPv4 address)\n", optarg);
				return false;
			}
			S.o.local_ip = optarg;
			break;
		case O_READING:
			if (nreadings == (int)(sizeof readings / sizeof readings[0])) {
				fprintf(stderr, "atbridge-sim: too many --reading flags\n");
				return false;
			}
			readings[nreadings++] = optarg;
			break;
		case O_PINGIV:
			if (!parse_long("--ping-interval-ms", optarg, 0, 60000, &S.o.ping_interval_ms))
				return false;
			break;
		case O_HELP:
			usage(stdout);
			exit(0);
		default:
			if (optopt)
				fprintf(stderr, "atbridge-sim: option '%s' needs a value (see --help)\n",
					argv[optind - 1]);
			else
				fprintf(stderr, "atbridge-sim: unknown option: '%s' (see --help)\n",
					argv[optind - 1]);
			return false;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "atbridge-sim: unexpected argument: '%s'\n", argv[optind]);
		return false;
	}
	for (int i = 0; i < nreadings; i++)
		if (!sim_reading_apply(S.o.model, readings[i]))
			return false;
	return true;
}

uint32_t sim_rand(void)
{
	/* splitmix64: reproducible from --seed */
	uint64_t z = (S.rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (uint32_t)((z ^ (z >> 31)) >> 32);
}

double sim_now(void)
{
	return ev_now(S.loop);
}

void sim_logv(const char *fmt, ...)
{
	if (!S.o.verbose)
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "atbridge-sim: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)w, (void)revents;
	ev_break(loop, EVBREAK_ALL);
}

/* Removes --link only if it still points to our slave (another simulator
 * may have taken the name over since). */
static void remove_link(void)
{
	char target[sizeof S.slave_path];
	ssize_t n = readlink(S.o.link, target, sizeof target - 1);
	if (n < 0)
		return;
	target[n] = 0;
	if (strcmp(target, S.slave_path) == 0)
		unlink(S.o.link);
}

static bool make_link(void)
{
	struct stat st;
	if (lstat(S.o.link, &st) == 0) {
		if (!S_ISLNK(st.st_mode)) {
			fprintf(stderr, "atbridge-sim: --link: '%s' exists and is not a symlink\n", S.o.link);
			return false;
		}
		unlink(S.o.link);
	}
	if (symlink(S.slave_path, S.o.link) != 0) {
		fprintf(stderr, "atbridge-sim: --link: cannot create '%s': %s\n", S.o.link, strerror(errno));
		return false;
	}
	return true;
}

int main(int argc, char **argv)
{
	if (!parse_args(argc, argv))
		return 2; /* parse_args printed one line naming the flag and value */
	signal(SIGPIPE, SIG_IGN);
	S.rng = S.o.seed;
	S.loop = EV_DEFAULT;
	sim_engine_use(sim_model_of(S.o.model));
	/* a --hosts, --log, --link or --control value that cannot be used is a
	 * bad value (exit 2); only a pty failure is exit 1 */
	if (S.o.hosts && !sim_hosts_load(S.o.hosts))
		return 2;
	if (S.o.log && !sim_cmdlog_open(S.o.log))
		return 2;
	sim_links_init();
	if (!sim_serial_open())
		return 1;
	if (S.o.link && !make_link())
		return 2;
	if (S.o.control && !sim_control_open(S.o.control)) {
		if (S.o.link)
			remove_link();
		return 2;
	}
	S.model->reset();
	printf("%s\n", S.slave_path);
	fflush(stdout);

	ev_signal sterm, sint;
	ev_signal_init(&sterm, on_signal, SIGTERM);
	ev_signal_init(&sint, on_signal, SIGINT);
	ev_signal_start(S.loop, &sterm);
	ev_signal_start(S.loop, &sint);
	ev_run(S.loop, 0);

	sim_ppp_stop();
	sim_server_close();
	sim_link_close_all();
	sim_delay_flush();
	sim_control_close();
	sim_serial_close();
	if (S.o.link)
		remove_link();
	for (int i = 0; i < SIM_LINKS; i++) {
		sim_buf_free(&S.links[i].rx);
		sim_buf_free(&S.links[i].dgrams);
		sim_buf_free(&S.links[i].tx);
	}
	sim_buf_free(&S.in);
	sim_buf_free(&S.out);
	sim_buf_free(&S.urcq);
	sim_buf_free(&S.raceq);
	sim_buf_free(&S.cmdlog);
	sim_buf_free(&S.lateq);
	sim_buf_free(&S.lateafter);
	sim_buf_free(&S.stray);
	return 0;
}

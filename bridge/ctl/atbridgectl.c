/* atbridgectl: asks a running atbridge over its control socket.
 *
 *   atbridgectl [--socket PATH] [--json] status | flows | metrics | reconnect
 *
 * One request line, one response (control_proto.h). Exit status: 0 answered,
 * 1 the daemon refused the request, 2 bad usage, 3 no daemon to talk to.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "control_proto.h"

#define TIMEOUT_MS 10000

static void usage(FILE *out)
{
	fputs("Usage: atbridgectl [--socket PATH] [--json] COMMAND\n"
	      "Ask a running atbridge.\n"
	      "\n"
	      "Commands:\n"
	      "  status      module, signal, registration, data link, traffic, flows\n"
	      "  flows       the flow table: client, destination, state, bytes, age\n"
	      "  metrics     counters in the Prometheus text format\n"
	      "  reconnect   drop and re-establish the module's data link\n"
	      "\n"
	      "Options:\n"
	      "  --socket PATH   control socket (default " ATB_CONTROL_SOCKET ")\n"
	      "  --json          JSON output (status, flows, reconnect)\n"
	      "  -h, --help      this text\n", out);
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "atbridgectl: --socket: '%s' is longer than %zu bytes\n", path,
		        sizeof(sa.sun_path) - 1);
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "atbridgectl: cannot reach atbridge at '%s': %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Reads one whole response (up to its empty line) into a new buffer. */
static char *read_response(int fd, size_t *len_out)
{
	size_t cap = 4096, len = 0, rlen;
	char *buf = malloc(cap);

	while (buf) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if ((rlen = ctl_response_length(buf, len)) != 0) {
			*len_out = rlen;
			return buf;
		}
		if (len + 1 >= cap) {
			char *nb = cap < CTL_RESPONSE_MAX * 2 ? realloc(buf, cap * 2) : NULL;

			if (!nb) {
				fprintf(stderr, "atbridgectl: response larger than %u bytes\n", CTL_RESPONSE_MAX * 2);
				break;
			}
			buf = nb;
			cap *= 2;
		}
		if (poll(&p, 1, TIMEOUT_MS) <= 0) {
			fprintf(stderr, "atbridgectl: no answer from atbridge within %d s\n", TIMEOUT_MS / 1000);
			break;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "atbridgectl: atbridge closed the connection before answering\n");
			break;
		}
		len += (size_t)n;
	}
	free(buf);
	return NULL;
}

int main(int argc, char **argv)
{
	const char *sock = ATB_CONTROL_SOCKET, *cmd = NULL;
	bool json = false;
	char line[CTL_REQUEST_MAX + 2], err[256];
	struct ctl_request req;
	size_t len;
	char *resp;
	int fd, n;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--socket") && i + 1 < argc) {
			sock = argv[++i];
		} else if (!strncmp(argv[i], "--socket=", 9)) {
			sock = argv[i] + 9;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "atbridgectl: unknown option '%s' (see --help)\n", argv[i]);
			return 2;
		} else if (cmd) {
			fprintf(stderr, "atbridgectl: unexpected argument '%s' (one command at a time)\n", argv[i]);
			return 2;
		} else {
			cmd = argv[i];
		}
	}
	if (!cmd) {
		usage(stderr);
		return 2;
	}
	n = snprintf(line, sizeof(line), "%s%s", cmd, json ? " json" : "");
	/* The daemon checks too; checking here gives the user the message
	 * without a daemon. */
	if (n < 0 || (size_t)n >= sizeof(line) ||
	    !ctl_parse_request(line, (size_t)n, &req, err, sizeof(err))) {
		fprintf(stderr, "atbridgectl: %s\n", n >= 0 && (size_t)n < sizeof(line) ? err :
		        "command too long");
		return 2;
	}
	fd = connect_to(sock);
	if (fd < 0)
		return 3;
	line[n++] = '\n';
	if (send(fd, line, (size_t)n, MSG_NOSIGNAL) != n) {
		fprintf(stderr, "atbridgectl: cannot send to atbridge: %s\n", strerror(errno));
		close(fd);
		return 3;
	}
	resp = read_response(fd, &len);
	close(fd);
	if (!resp)
		return 3;
	len -= 1; /* the empty line */
	if (!strncmp(resp, "error: ", 7)) {
		fprintf(stderr, "atbridgectl: %.*s", (int)len - 7, resp + 7);
		free(resp);
		return 1;
	}
	fwrite(resp, 1, len, stdout);
	free(resp);
	return 0;
}

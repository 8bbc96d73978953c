/* --hosts FILE: the simulator's name resolution. Accepts both "name ipv4"
 * and /etc/hosts order "ipv4 name [aliases...]". With --host-resolver a
 * name the file does not hold goes to getaddrinfo (atbridge --sim asks for
 * it unless given --hosts; tests always give --hosts and never this). */
#include "sim.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static struct sim_host hosts[SIM_MAX_HOSTS];
static int nhosts;
static bool use_resolver;

void sim_hosts_use_resolver(bool on)
{
	use_resolver = on;
}

/* Blocks the simulator for as long as the host's resolver takes: a real
 * module's DNS answer takes its time too. */
static int resolve(const char *name, struct in_addr *out, int max)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res, *ai;
	int n = 0;
	if (getaddrinfo(name, NULL, &hints, &res) != 0)
		return 0;
	for (ai = res; ai && n < max; ai = ai->ai_next)
		out[n++] = ((struct sockaddr_in *)ai->ai_addr)->sin_addr;
	freeaddrinfo(res);
	return n;
}

static void add(const char *name, struct in_addr a)
{
	if (nhosts >= SIM_MAX_HOSTS || strlen(name) >= sizeof hosts[0].name)
		return;
	snprintf(hosts[nhosts].name, sizeof hosts[0].name, "%s", name);
	hosts[nhosts].addr = a;
	nhosts++;
}

/* One line of a hosts file; false if it is not "name ip" or "ip names...". */
bool sim_hosts_parse_line(const char *text)
{
	char line[1024];
	sim_strlcpy(line, text, sizeof line);
	char *hash = strchr(line, '#');
	if (hash)
		*hash = 0;
	char *tok[16];
	int nt = 0;
	for (char *save, *t = strtok_r(line, " \t\r\n", &save); t && nt < 16;
	     t = strtok_r(NULL, " \t\r\n", &save))
		tok[nt++] = t;
	if (nt == 0)
		return true;
	struct in_addr a;
	if (nt >= 2 && inet_pton(AF_INET, tok[0], &a) == 1) {
		for (int i = 1; i < nt; i++)
			add(tok[i], a);
		return true;
	}
	if (nt == 2 && inet_pton(AF_INET, tok[1], &a) == 1) {
		add(tok[0], a);
		return true;
	}
	/* an IPv6 line of an /etc/hosts copy is skipped */
	return nt >= 2 && strchr(tok[0], ':') != NULL;
}

bool sim_hosts_load(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "atbridge-sim: --hosts: cannot open '%s'\n", path);
		return false;
	}
	char line[1024];
	int lineno = 0;
	while (fgets(line, sizeof line, f)) {
		lineno++;
		if (!sim_hosts_parse_line(line)) {
			line[strcspn(line, "\r\n")] = 0;
			fprintf(stderr, "atbridge-sim: --hosts: '%s' line %d: expected 'name ipv4' or 'ipv4 name': '%s'\n",
				path, lineno, line);
			fclose(f);
			return false;
		}
	}
	fclose(f);
	return true;
}

void sim_hosts_clear(void)
{
	nhosts = 0;
}

int sim_hosts_lookup(const char *name, struct in_addr *out, int max)
{
	int n = 0;
	if (inet_pton(AF_INET, name, &out[0]) == 1)
		return 1;
	for (int i = 0; i < nhosts && n < max; i++)
		if (strcasecmp(hosts[i].name, name) == 0)
			out[n++] = hosts[i].addr;
	if (n == 0 && use_resolver && max > 0)
		n = resolve(name, out, max);
	return n;
}

bool sim_hosts_known_addr(struct in_addr a)
{
	/* the simulator sends no ICMP: with the host's resolver every address
	 * counts as one that answers */
	if (ntohl(a.s_addr) >> 24 == 127 || use_resolver)
		return true;
	for (int i = 0; i < nhosts; i++)
		if (hosts[i].addr.s_addr == a.s_addr)
			return true;
	return false;
}

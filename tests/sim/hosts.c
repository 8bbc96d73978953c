/* --hosts FILE: the simulator's only name resolution. Accepts both
 * "name ipv4" and /etc/hosts order "ipv4 name [aliases...]". */
#include "sim.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static struct sim_host hosts[SIM_MAX_HOSTS];
static int nhosts;

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
	return n;
}

bool sim_hosts_known_addr(struct in_addr a)
{
	if (ntohl(a.s_addr) >> 24 == 127)
		return true;
	for (int i = 0; i < nhosts; i++)
		if (hosts[i].addr.s_addr == a.s_addr)
			return true;
	return false;
}

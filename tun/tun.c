/* The tun device: /dev/net/tun for the fd, libnl-route for its address,
 * MTU, link state and routes. Every failure is one error line (common/log.h) naming the
 * device and the step, and leaves nothing behind (closing the fd of a
 * non-persistent tun removes the device with its address and routes). */
#include "tun.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>

#include "log.h"

/* Parses "a.b.c.d/len" with no host bits set. */
static int parse_prefix(const char *s, uint32_t *addr, unsigned *len)
{
	char buf[INET_ADDRSTRLEN + 4];
	const char *slash = strchr(s, '/');
	char *end;
	unsigned long l;
	struct in_addr a;
	uint32_t mask;

	if (!slash || (size_t)(slash - s) >= INET_ADDRSTRLEN)
		return -1;
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = '\0';
	if (inet_pton(AF_INET, buf, &a) != 1 || slash[1] < '0' || slash[1] > '9')
		return -1;
	errno = 0;
	l = strtoul(slash + 1, &end, 10);
	if (errno || *end || l > 32)
		return -1;
	mask = l ? htonl(~0u << (32 - l)) : 0;
	if (a.s_addr & ~mask)
		return -1;
	*addr = a.s_addr;
	*len = (unsigned)l;
	return 0;
}

static int create_device(const char *name, char *name_out, size_t name_out_len)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0) {
		log_err("tun: %s: cannot open /dev/net/tun: %s",
		        name && *name ? name : "(any)", strerror(errno));
		return -1;
	}
	memset(&ifr, 0, sizeof ifr);
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	if (name && strlen(name) >= IFNAMSIZ) {
		log_err("tun: '%s': device name longer than %d characters",
		        name, IFNAMSIZ - 1);
		close(fd);
		return -1;
	}
	if (name)
		strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		log_err("tun: %s: TUNSETIFF failed: %s",
		        name && *name ? name : "(any)", strerror(errno));
		close(fd);
		return -1;
	}
	if (name_out && name_out_len)
		snprintf(name_out, name_out_len, "%s", ifr.ifr_name);
	return fd;
}

static int link_up(struct nl_sock *sk, const char *dev, unsigned mtu, int *ifindex)
{
	struct rtnl_link *orig = NULL, *change = NULL;
	int err = rtnl_link_get_kernel(sk, 0, dev, &orig);

	if (err < 0) {
		log_err("tun: %s: cannot look up the link: %s", dev, nl_geterror(err));
		return -1;
	}
	*ifindex = rtnl_link_get_ifindex(orig);
	change = rtnl_link_alloc();
	if (!change) {
		rtnl_link_put(orig);
		log_err("tun: %s: out of memory", dev);
		return -1;
	}
	rtnl_link_set_mtu(change, mtu);
	rtnl_link_set_flags(change, IFF_UP);
	err = rtnl_link_change(sk, orig, change, 0);
	rtnl_link_put(change);
	rtnl_link_put(orig);
	if (err < 0) {
		log_err("tun: %s: cannot set MTU %u and bring the link up: %s",
		        dev, mtu, nl_geterror(err));
		return -1;
	}
	return 0;
}

static int add_address(struct nl_sock *sk, const char *dev, int ifindex,
                       uint32_t addr, unsigned prefix_len)
{
	struct rtnl_addr *a = rtnl_addr_alloc();
	struct nl_addr *local = nl_addr_build(AF_INET, &addr, 4);
	char txt[INET_ADDRSTRLEN];
	int err = -NLE_NOMEM;

	if (a && local) {
		nl_addr_set_prefixlen(local, (int)prefix_len);
		rtnl_addr_set_ifindex(a, ifindex);
		rtnl_addr_set_family(a, AF_INET);
		err = rtnl_addr_set_local(a, local);
		if (err == 0)
			err = rtnl_addr_add(sk, a, 0);
	}
	nl_addr_put(local);
	rtnl_addr_put(a);
	if (err < 0) {
		inet_ntop(AF_INET, &addr, txt, sizeof txt);
		log_err("tun: %s: cannot add address %s/%u: %s",
		        dev, txt, prefix_len, nl_geterror(err));
		return -1;
	}
	return 0;
}

static int add_route(struct nl_sock *sk, const char *dev, int ifindex,
                     uint32_t dst, unsigned len, unsigned table, const char *what)
{
	struct rtnl_route *r = rtnl_route_alloc();
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	struct nl_addr *d = nl_addr_build(AF_INET, &dst, 4);
	int err = -NLE_NOMEM;

	if (r && nh && d) {
		nl_addr_set_prefixlen(d, (int)len);
		rtnl_route_set_family(r, AF_INET);
		rtnl_route_set_table(r, table ? table : RT_TABLE_MAIN);
		rtnl_route_set_scope(r, RT_SCOPE_LINK);
		rtnl_route_set_protocol(r, RTPROT_STATIC);
		rtnl_route_set_type(r, RTN_UNICAST);
		err = rtnl_route_set_dst(r, d);
		rtnl_route_nh_set_ifindex(nh, ifindex);
		rtnl_route_add_nexthop(r, nh); /* r owns nh from here */
		nh = NULL;
		/* NLM_F_CREATE without EXCL or REPLACE prepends: our route wins
		 * over an existing one with the same prefix (the host's default
		 * route) and that one is in force again when the tun goes away. */
		if (err == 0)
			err = rtnl_route_add(sk, r, NLM_F_CREATE);
	}
	if (nh)
		rtnl_route_nh_free(nh);
	nl_addr_put(d);
	rtnl_route_put(r);
	if (err < 0) {
		log_err("tun: %s: cannot add route %s: %s", dev, what, nl_geterror(err));
		return -1;
	}
	return 0;
}

static int configure(const struct tun_config *cfg, const char *dev)
{
	struct nl_sock *sk = nl_socket_alloc();
	int ifindex = 0, err, rc = -1;

	if (!sk) {
		log_err("tun: %s: cannot allocate a netlink socket", dev);
		return -1;
	}
	err = nl_connect(sk, NETLINK_ROUTE);
	if (err < 0) {
		log_err("tun: %s: cannot open rtnetlink: %s", dev, nl_geterror(err));
		goto out;
	}
	if (link_up(sk, dev, cfg->mtu, &ifindex) < 0 ||
	    add_address(sk, dev, ifindex, cfg->addr, cfg->prefix_len) < 0)
		goto out;
	if (cfg->default_route && add_route(sk, dev, ifindex, 0, 0, cfg->route_table, "default") < 0)
		goto out;
	for (const char *const *r = cfg->routes; r && *r; r++) {
		uint32_t dst;
		unsigned len;

		if (parse_prefix(*r, &dst, &len) < 0) {
			log_err("tun: %s: route '%s' is not an IPv4 prefix like 10.0.0.0/8 (no host bits)",
			        dev, *r);
			goto out;
		}
		if (add_route(sk, dev, ifindex, dst, len, 0, *r) < 0)
			goto out;
	}
	rc = 0;
out:
	nl_socket_free(sk);
	return rc;
}

static int open_here(const struct tun_config *cfg, char *name_out, size_t name_out_len);

/* setns() into the named namespace, make the device there, come back. */
static int open_in_netns(const struct tun_config *cfg, char *name_out, size_t name_out_len)
{
	char path[128];
	int self, target, fd;

	if (strchr(cfg->netns, '/') || snprintf(path, sizeof path, "/run/netns/%s", cfg->netns) >=
	    (int)sizeof path) {
		log_err("tun: netns '%s' is not a namespace name", cfg->netns);
		return -1;
	}
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0) {
		log_err("tun: cannot open /proc/self/ns/net: %s", strerror(errno));
		return -1;
	}
	target = open(path, O_RDONLY | O_CLOEXEC);
	if (target < 0 || setns(target, CLONE_NEWNET) < 0) {
		log_err("tun: cannot enter network namespace '%s' (%s): %s", cfg->netns, path,
		        strerror(errno));
		if (target >= 0)
			close(target);
		close(self);
		return -1;
	}
	close(target);
	fd = open_here(cfg, name_out, name_out_len);
	if (setns(self, CLONE_NEWNET) < 0) {
		/* Staying in the wrong namespace would put the serial side's
		 * sockets and the control socket there: give up. */
		log_err("tun: cannot return from network namespace '%s': %s", cfg->netns,
		        strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	close(self);
	return fd;
}

int tun_open(const struct tun_config *cfg, char *name_out, size_t name_out_len)
{
	if (cfg->netns && *cfg->netns)
		return open_in_netns(cfg, name_out, name_out_len);
	return open_here(cfg, name_out, name_out_len);
}

static int open_here(const struct tun_config *cfg, char *name_out, size_t name_out_len)
{
	char dev[IFNAMSIZ];
	int fd;

	if (cfg->prefix_len > 32 || cfg->mtu < 68 || cfg->mtu > 65535) {
		log_err("tun: %s: prefix length %u or MTU %u out of range",
		        cfg->name ? cfg->name : "(any)", cfg->prefix_len, cfg->mtu);
		return -1;
	}
	fd = create_device(cfg->name, dev, sizeof dev);
	if (fd < 0)
		return -1;
	if (configure(cfg, dev) < 0) {
		close(fd);
		return -1;
	}
	if (name_out && name_out_len)
		snprintf(name_out, name_out_len, "%s", dev);
	return fd;
}

void tun_close(int fd)
{
	if (fd >= 0)
		close(fd);
}

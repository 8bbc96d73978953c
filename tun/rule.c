/* Policy routing that keeps marked traffic out of the tun, the way wg-quick
 * keeps WireGuard's own UDP out of wg0:
 *
 *   pref P     fwmark MARK/MARK lookup main            marked sockets: the host's routes
 *   pref P+1   lookup main suppress_prefixlength 0     everyone: main's specific routes
 *   pref P+2   lookup TABLE                            the rest: TABLE (default via the tun)
 *
 * The tun's default route goes into TABLE instead of main, so the host's own
 * default route stays in main for the marked sockets. libnl has no setter
 * for FRA_SUPPRESS_PREFIXLEN, so the messages are built here with libnl's
 * message API. */
#include "tun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <netlink/msg.h>
#include <netlink/netlink.h>

#include "log.h"

enum { RULE_MARK, RULE_SUPPRESS, RULE_TABLE, RULE_N };

static int rule_msg(struct nl_sock *sk, int type, int flags, int which, uint32_t mark, uint32_t table)
{
	struct fib_rule_hdr h = {.family = AF_INET, .action = FR_ACT_TO_TBL};
	struct nl_msg *m = nlmsg_alloc_simple(type, flags);
	int err = -NLE_NOMEM;

	if (!m)
		return err;
	h.table = which == RULE_TABLE ? RT_TABLE_UNSPEC : RT_TABLE_MAIN;
	if (nlmsg_append(m, &h, sizeof h, NLMSG_ALIGNTO) < 0 ||
	    nla_put_u32(m, FRA_PRIORITY, TUN_RULE_PREF + (uint32_t)which) < 0)
		goto out;
	if (which == RULE_MARK && (nla_put_u32(m, FRA_FWMARK, mark) < 0 || nla_put_u32(m, FRA_FWMASK, mark) < 0))
		goto out;
	if (which == RULE_SUPPRESS && nla_put_u32(m, FRA_SUPPRESS_PREFIXLEN, 0) < 0)
		goto out;
	if (which == RULE_TABLE && nla_put_u32(m, FRA_TABLE, table) < 0)
		goto out;
	err = nl_send_sync(sk, m); /* frees m */
	return err;
out:
	nlmsg_free(m);
	return err;
}

static struct nl_sock *rt_socket(void)
{
	struct nl_sock *sk = nl_socket_alloc();

	if (sk && nl_connect(sk, NETLINK_ROUTE) < 0) {
		nl_socket_free(sk);
		sk = NULL;
	}
	return sk;
}

/* Deletes each rule until none is left: a crash of an older run may have
 * left copies. */
static void delete_all(struct nl_sock *sk, uint32_t mark, uint32_t table)
{
	for (int which = 0; which < RULE_N; which++)
		for (int i = 0; i < 16 && rule_msg(sk, RTM_DELRULE, 0, which, mark, table) == 0; i++)
			;
}

static void tun_rules_remove(uint32_t mark, uint32_t table)
{
	struct nl_sock *sk = rt_socket();

	if (!sk)
		return;
	delete_all(sk, mark, table);
	nl_socket_free(sk);
}

int tun_rules_add(uint32_t mark, uint32_t table)
{
	static const char *const what[RULE_N] = {"fwmark %#x lookup main", "lookup main suppress_prefixlength 0",
	                                          "lookup %u"};
	struct nl_sock *sk = rt_socket();
	int err = 0;

	if (!sk) {
		log_err("tun: cannot open rtnetlink for the policy rules");
		return -1;
	}
	delete_all(sk, mark, table);
	for (int which = 0; which < RULE_N && err == 0; which++) {
		err = rule_msg(sk, RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, which, mark, table);
		if (err < 0) {
			char rule[64];

			snprintf(rule, sizeof rule, what[which], which == RULE_TABLE ? table : mark);
			log_err("tun: cannot add the policy rule 'pref %u %s': %s",
			        TUN_RULE_PREF + which, rule, nl_geterror(err));
		}
	}
	if (err < 0)
		delete_all(sk, mark, table);
	nl_socket_free(sk);
	return err < 0 ? -1 : 0;
}

/* The keeper: a child that keeps CAP_NET_ADMIN after the parent drops it,
 * does nothing until the parent's end of the pipe closes (exit, crash or
 * SIGKILL alike), then removes the rules. */
int tun_rules_keeper(uint32_t mark, uint32_t table, pid_t *pid_out)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		char c;

		close(p[1]);
		signal(SIGTERM, SIG_IGN); /* a ^C to the group must not skip the cleanup */
		signal(SIGINT, SIG_IGN);
		while (read(p[0], &c, 1) < 0 && errno == EINTR)
			;
		tun_rules_remove(mark, table);
		_exit(0);
	}
	close(p[0]);
	*pid_out = pid;
	return p[1];
}

void tun_rules_keeper_stop(int fd, pid_t pid)
{
	if (fd >= 0)
		close(fd);
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

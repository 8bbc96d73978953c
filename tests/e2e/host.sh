#!/usr/bin/env bash
# `atbridge --sim` on a host of its own: the namespace "host" has an uplink
# (a veth to the namespace "net", which holds the test servers) and its
# default route through it, as a real machine does. atbridge runs there with
# no --sim-netns, so the simulator's sockets live beside tun0 and must not
# follow tun0's default route back into it (SO_MARK and the policy rules of
# tun/rule.c). Names come from the host's resolver: /etc/netns/<host>/hosts,
# bind-mounted by `ip netns exec`, with a resolv.conf naming 127.0.0.1 where
# nothing listens, so no query leaves the namespace.
# Usage: host.sh CASE   (tryit | kill)
. "$(dirname "$0")"/lib.sh

case_=${1:?case}
CTL=${ATBRIDGECTL:?ATBRIDGECTL must name the atbridgectl binary}
SOCK=$WORK/ctl.sock
NS_HOST=$NS_CLI # lib.sh's cleanup removes both namespaces
NS_NET=$NS_SRV
ETC_NS=/etc/netns/$NS_HOST
UP_HOST=192.0.2.1 # the uplink: TEST-NET-1
UP_NET=192.0.2.2
MARK=0xa7b
TABLE=2683

host_cleanup() {
	rm -rf "$ETC_NS"
	e2e_cleanup
}
trap host_cleanup EXIT

in_host() { ip netns exec "$NS_HOST" "$@"; }

setup() {
	e2e_netns
	ip link add "${TAG}h" type veth peer name "${TAG}n" || fail "ip link add veth"
	ip link set "${TAG}h" netns "$NS_HOST"
	ip link set "${TAG}n" netns "$NS_NET"
	in_host ip addr add $UP_HOST/24 dev "${TAG}h"
	in_host ip link set "${TAG}h" up
	in_host ip route add default via $UP_NET
	in_srv ip addr add $UP_NET/24 dev "${TAG}n"
	in_srv ip link set "${TAG}n" up
	mkdir -p "$ETC_NS"
	printf '127.0.0.1 localhost\n%s www.example.test\n' $SRV_ADDR >"$ETC_NS"/hosts
	printf 'nameserver 127.0.0.1\n' >"$ETC_NS"/resolv.conf
	e2e_httpd
	echo "hello from the net namespace" >"$WORK"/www/index.html
}

# atbridge as a user would start it to try it out: --sim, nothing else but
# a private control socket and the simulator's command log.
start() {
	ip netns exec "$NS_HOST" "$ATBRIDGE" --sim --sim-path "$ATBRIDGE_SIM" \
		--sim-arg "--log=$WORK/sim-commands.log" --sim-arg=--baud=0 \
		--control-socket "$SOCK" >"$WORK"/bridge.log 2>&1 &
	BRIDGE_PID=$!
	for _ in $(seq 300); do
		[ -S "$SOCK" ] && "$CTL" --socket "$SOCK" status 2>/dev/null | grep -q "^data link: *up" && return 0
		kill -0 "$BRIDGE_PID" 2>/dev/null || fail "atbridge exited during start-up"
		sleep 0.1
	done
	fail "the data link did not come up within 30 s"
}

rules_present() { in_host ip rule show | grep -c "$1"; }
check_rules() {
	local r
	r=$(in_host ip rule show)
	echo "$r"
	echo "$r" | grep -q "^32700:.*fwmark $MARK/$MARK lookup main" || fail "no fwmark rule"
	echo "$r" | grep -q "^32701:.*lookup main suppress_prefixlength 0" || fail "no suppress_prefixlength rule"
	echo "$r" | grep -q "^32702:.*lookup $TABLE" || fail "no rule for table $TABLE"
	in_host ip route get $SRV_ADDR | grep -q "dev tun0" || fail "$SRV_ADDR is not routed through tun0"
	in_host ip route get $SRV_ADDR mark $MARK | grep -q "dev ${TAG}h" ||
		fail "marked traffic to $SRV_ADDR does not take the uplink: $(in_host ip route get $SRV_ADDR mark $MARK)"
	in_host ip route get $UP_NET | grep -q "dev ${TAG}h" || fail "the uplink's own subnet left main"
	in_host ip route show default | grep -q "via $UP_NET" || fail "the host's default route is gone"
}

check_no_rules() {
	for _ in $(seq 30); do
		[ "$(rules_present "lookup $TABLE\|fwmark $MARK\|suppress_prefixlength")" = 0 ] && return 0
		sleep 0.1
	done
	fail "policy rules left behind: $(in_host ip rule show)"
}

setup
case $case_ in
tryit)
	start
	check_rules
	pass "policy rules in place; marked traffic takes the uplink"
	got=$(in_host curl -sS --max-time 20 http://www.example.test/) || fail "curl through tun0 failed"
	[ "$got" = "hello from the net namespace" ] || fail "curl got '$got'"
	sim_log_has "$AT_OPEN_TCP" || fail "the fetch did not cross the simulated module"
	pass "curl by name through tun0, the simulator's socket over the uplink"
	a=$(in_host dig +short +time=5 +tries=1 @203.0.113.53 www.example.test) || fail "dig failed"
	[ "$a" = $SRV_ADDR ] || fail "dig www.example.test through tun0 gave '$a'"
	in_host ping -c 1 -W 5 $SRV_ADDR >/dev/null || fail "ping through tun0 failed"
	pass "dig and ping through tun0 (module resolver from the host's hosts file, module ping)"
	"$CTL" --socket "$SOCK" status | grep -q "^interface: *tun0" || fail "atbridgectl status"
	kill -TERM "$BRIDGE_PID"
	for _ in $(seq 100); do kill -0 "$BRIDGE_PID" 2>/dev/null || break; sleep 0.1; done
	wait "$BRIDGE_PID" || fail "atbridge exit status $? after SIGTERM"
	BRIDGE_PID=
	check_no_rules
	in_host ip route show default | grep -q "via $UP_NET" || fail "the host's default route is gone"
	pass "SIGTERM: the rules are removed, the host's routes as before"
	;;
kill)
	# A crash cannot skip the cleanup: the keeper child removes the rules.
	start
	check_rules
	kill -KILL "$BRIDGE_PID"
	wait "$BRIDGE_PID" 2>/dev/null
	BRIDGE_PID=
	check_no_rules
	in_host ip link show tun0 >/dev/null 2>&1 && fail "tun0 still there after SIGKILL"
	pass "SIGKILL: the rules and tun0 are gone"
	# And a start over stale rules (put there by hand) replaces them.
	in_host ip rule add pref 32702 lookup $TABLE
	start
	[ "$(rules_present "lookup $TABLE")" = 1 ] || fail "stale rule kept beside the new one: $(in_host ip rule show)"
	pass "a stale rule from an earlier run is replaced"
	;;
*) fail "unknown case '$case_'" ;;
esac

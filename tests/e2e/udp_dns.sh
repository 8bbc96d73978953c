#!/usr/bin/env bash
# End-to-end UDP and DNS through tun0 over the simulated module.
# Usage: udp_dns.sh CASE  (dig | dnstcp | curlname | hostile | udpecho | udpmany)
. "$(dirname "$0")"/lib.sh

case_=${1:?case}
NS_ADDR=203.0.113.53 # any address: port 53 is answered by atbridge itself
e2e_netns
case $case_ in
dnsshared) e2e_bridge --sim-arg=--baud=0 --sim-arg=--latency-ms=700 ;;
forward) e2e_bridge --sim-arg=--baud=0 --dns forward ;;
*) e2e_bridge --sim-arg=--baud=0 ;;
esac

dig_() { in_cli dig +time=5 +tries=1 @$NS_ADDR "$@"; }

case $case_ in
dig)
	command -v dig >/dev/null || { echo "SKIP: dig not installed"; exit 77; }
	a=$(dig_ +short www.example.test A) || fail "dig A failed"
	[ "$a" = "$SRV_ADDR" ] || fail "dig A www.example.test gave '$a', want $SRV_ADDR"
	out=$(dig_ www.example.test AAAA) || fail "dig AAAA failed"
	echo "$out" | grep -q "status: NOERROR" || fail "AAAA: not NOERROR: $out"
	echo "$out" | grep -q "ANSWER: 0" || fail "AAAA: answer not empty: $out"
	out=$(dig_ nosuch.example.test A)
	echo "$out" | grep -q "status: NXDOMAIN" || fail "unknown name: not NXDOMAIN: $out"
	out=$(dig_ www.example.test MX)
	echo "$out" | grep -q "status: NOTIMP" || fail "MX: not NOTIMP: $out"
	# cached: a second query does not reach the module
	n1=$(grep -c -- "$AT_DNS" "$WORK"/sim-commands.log)
	a=$(dig_ +short www.example.test A)
	n2=$(grep -c -- "$AT_DNS" "$WORK"/sim-commands.log)
	[ "$a" = "$SRV_ADDR" ] && [ "$n1" = "$n2" ] || fail "cached answer: got '$a', module lookups $n1 -> $n2"
	pass "dig A, AAAA, NXDOMAIN, NOTIMP and the cache"
	;;
dnsshared)
	command -v dig >/dev/null || { echo "SKIP: dig not installed"; exit 77; }
	# five identical questions while the module's lookup (700 ms each way) runs
	pids=()
	for i in 1 2 3 4 5; do
		dig_ +short other.example.test A >"$WORK/dig$i" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || fail "a dig failed"; done
	for i in 1 2 3 4 5; do
		[ "$(cat "$WORK/dig$i")" = "$SRV_ADDR2" ] || fail "dig $i got '$(cat "$WORK/dig$i")'"
	done
	n=$(grep -c -- "${AT_DNS}\"*other.example.test" "$WORK"/sim-commands.log)
	[ "$n" = 1 ] || fail "5 identical questions cost $n module lookups, want 1"
	pass "identical questions in flight share one module lookup"
	;;
forward)
	command -v socat >/dev/null || { echo "SKIP: socat not installed"; exit 77; }
	# with dns = forward, port 53 is ordinary UDP over a module link: an echo
	# server on port 53 gets the bytes back to the client
	ip netns exec "$NS_SRV" socat UDP4-RECVFROM:53,bind=$SRV_ADDR,fork PIPE &
	SRV_PIDS+=($!)
	sleep 0.3
	in_cli python3 "$E2E_DIR"/udpecho.py $SRV_ADDR 53 20 300 5 || fail "port 53 not forwarded"
	grep -q -- "$AT_OPEN_UDP.*198.51.100.10\"*,53" "$WORK"/sim-commands.log || fail "no UDP link to port 53"
	sim_log_has "$AT_DNS" && fail "forward mode still used the module's resolver"
	pass "dns = forward carries port 53 as ordinary UDP"
	;;
dnstcp)
	command -v dig >/dev/null || { echo "SKIP: dig not installed"; exit 77; }
	a=$(dig_ +tcp +short other.example.test A) || fail "dig +tcp failed"
	[ "$a" = "$SRV_ADDR2" ] || fail "dig +tcp gave '$a', want $SRV_ADDR2"
	pass "DNS over TCP"
	;;
curlname)
	e2e_httpd
	echo "named page" >"$WORK"/www/named
	mkdir -p /etc/netns/"$NS_CLI"
	echo "nameserver $NS_ADDR" >/etc/netns/"$NS_CLI"/resolv.conf
	trap 'rm -rf /etc/netns/"$NS_CLI"; e2e_cleanup' EXIT
	got=$(in_cli curl -sS --max-time 30 http://www.example.test/named) || fail "curl by name failed"
	[ "$got" = "named page" ] || fail "curl by name got '$got'"
	pass "curl http://www.example.test/ resolved through the module"
	;;
hostile)
	command -v dig >/dev/null || { echo "SKIP: dig not installed"; exit 77; }
	for name in 'a\"b.example.test' 'x\013\010AT+CFUN=0.example.test' 'q\".example.test' 'sp\032ace.test'; do
		out=$(dig_ "$name" A)
		echo "$out" | grep -q "status: REFUSED\|status: FORMERR" || fail "hostile name $name: $out"
	done
	if grep -q 'CFUN\|a"b\|q"\|sp ace' "$WORK"/sim-commands.log; then
		fail "a hostile name reached the module: $(grep 'CFUN\|"b\|q"' "$WORK"/sim-commands.log)"
	fi
	sim_log_has "$AT_DNS" && fail "a refused name still cost a module lookup"
	# a valid name too long for any module's command (250 characters):
	# REFUSED at once, not SERVFAIL after a command timeout
	l63=$(printf 'a%.0s' $(seq 63))
	long="$l63.$l63.$l63.$(printf 'b%.0s' $(seq 53)).test"
	out=$(dig_ "$long" A +stats)
	echo "$out" | grep -q "status: REFUSED" || fail "250-character name: $(echo "$out" | grep status)"
	ms=$(echo "$out" | sed -n 's/.*Query time: \([0-9]*\) msec.*/\1/p')
	[ -n "$ms" ] && [ "$ms" -lt 100 ] || fail "250-character name answered after ${ms:-?} ms (limit 100)"
	sim_log_has "$AT_DNS" && fail "the 250-character name cost a module lookup"
	pass "hostile names refused and absent from the module's command log; a 250-character name refused in ${ms} ms"
	;;
udpecho)
	command -v socat >/dev/null || { echo "SKIP: socat not installed"; exit 77; }
	ip netns exec "$NS_SRV" socat UDP4-RECVFROM:9000,bind=$SRV_ADDR,fork PIPE &
	SRV_PIDS+=($!)
	sleep 0.3
	in_cli python3 "$E2E_DIR"/udpecho.py $SRV_ADDR 9000 1000 1460 7 || fail "UDP echo"
	# several datagrams in flight at once must not merge on the way back
	in_cli python3 "$E2E_DIR"/udpecho.py $SRV_ADDR 9000 20 1460 --burst 5 || fail "UDP bursts"
	pass "1000 datagrams of 1 to 1460 bytes echoed intact; bursts kept their boundaries"
	;;
udpmany)
	command -v socat >/dev/null || { echo "SKIP: socat not installed"; exit 77; }
	ip netns exec "$NS_SRV" socat UDP4-RECVFROM:9000,bind=$SRV_ADDR,fork PIPE &
	SRV_PIDS+=($!)
	sleep 0.3
	# 12 clients, one after the other, more than the module's 8 links
	in_cli python3 "$E2E_DIR"/udpecho.py $SRV_ADDR 9000 120 512 3 --clients 12 || fail "UDP flows beyond the links"
	pass "12 UDP flows over 8 links all answered"
	;;
ping)
	command -v ping >/dev/null || { echo "SKIP: ping not installed"; exit 77; }
	# ping's own pace (1 s): the simulated N11V2's AT+PING run replies 1 s
	# apart too, and each echo must be answered by the first fitting reply,
	# well within two reply intervals, not after the whole run.
	out=$(in_cli ping -n -c 3 -W 3 $SRV_ADDR) || fail "ping $SRV_ADDR: $out"
	echo "$out" | grep -q "3 packets transmitted, 3 received" || fail "ping: $out"
	slow=$(echo "$out" | sed -n 's/.*time=\([0-9]*\).*/\1/p' | awk '$1 >= 2000')
	[ -z "$slow" ] || fail "ping replies later than 2 s: $out"
	grep -q -- "$AT_PING\"*$SRV_ADDR" "$WORK"/sim-commands.log || fail "no $AT_PING in the module's log"
	# an address the module's ping cannot reach: no reply
	out=$(in_cli ping -n -c 2 -i 0.3 -W 4 203.0.113.99)
	echo "$out" | grep -q "2 packets transmitted, 0 received" || fail "unreachable ping answered: $out"
	pass "ping through the module's ping: 3 of 3 answered, each within 2 s, an unreachable address not"
	;;
*)
	fail "unknown case $case_"
	;;
esac
exit 0

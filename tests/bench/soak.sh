#!/usr/bin/env bash
# Soak: about 10 minutes of mixed flows and module faults (by hand, not CI).
#   tests/bench/soak.sh [BUILD_DIR] [SECONDS]     (root)
# BUILD_DIR should be the AddressSanitizer build (build-test) so that leaks
# are reported at exit. At the end: every open-flow and module-link counter is
# back to zero, no sanitizer report, and RSS did not grow (figures printed).
set -u
BUILD=$(cd "${1:-build-test}" && pwd)
DURATION=${2:-600}
ATBRIDGE=$BUILD/bin/atbridge
ATBRIDGE_SIM=$BUILD/bin/atbridge-sim
CTL=$BUILD/bin/atbridgectl
. "$(dirname "$0")"/../e2e/lib.sh

e2e_netns
e2e_httpd
SOCK=$WORK/ctl.sock
e2e_bridge --sim-arg=--baud=921600 --control-socket "$SOCK" --udp-idle-timeout-ms 5000
ip netns exec "$NS_SRV" socat UDP4-RECVFROM:9000,bind=$SRV_ADDR,fork PIPE &
SRV_PIDS+=($!)
for s in 20000 200000 1000000; do e2e_file f$s $s; done
head -c 300000 /dev/urandom >"$WORK"/up

simctl() {
	python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(sys.argv[2].encode()+b"\n"); s.settimeout(5); s.recv(65536)' \
		"$WORK"/sim.ctl "$1"
}
metric() { "$CTL" --socket "$SOCK" metrics | awk -v k="atbridge_$1" '$1 == k {print $2}'; }
rss() { awk '/VmRSS/ {print $2}' /proc/"$BRIDGE_PID"/status; }

worker() { # one client loop: downloads, an upload, UDP, DNS
	local end=$1 ok=0 bad=0
	while [ "$(date +%s)" -lt "$end" ]; do
		for s in 20000 200000 1000000; do
			if in_cli curl -sS --max-time 60 -o "$WORK/w$2" "http://$SRV_ADDR/f$s" 2>/dev/null &&
				cmp -s "$WORK/w$2" "$WORK/www/f$s"; then ok=$((ok + 1)); else bad=$((bad + 1)); fi
		done
		in_cli curl -sS --max-time 60 -T "$WORK"/up "http://$SRV_ADDR/sha256" >/dev/null 2>&1
		in_cli python3 "$E2E_DIR"/udpecho.py $SRV_ADDR 9000 20 1000 $2 >/dev/null 2>&1
		in_cli dig +short +time=3 +tries=1 @203.0.113.53 www.example.test >/dev/null 2>&1
	done
	echo "worker $2: $ok intact downloads, $bad cut (faults are injected)"
}

sleep 2
rss_start=$(rss)
end=$(( $(date +%s) + DURATION ))
workers=()
for w in 1 2 3 4; do
	worker "$end" $w &
	workers+=($!)
done
faults=(pdp-deact "close 0" "close 3" "garbage ff00fe0d0a4a554e4b0d0a" "drop-urc 3" "stall 4000" reboot)
n=0
while [ "$(date +%s)" -lt "$end" ]; do
	sleep 20
	f=${faults[$((n % ${#faults[@]}))]}
	simctl "$f"
	n=$((n + 1))
done
for p in "${workers[@]}"; do wait "$p"; done
sleep 8 # UDP flows idle out (5 s)
rss_end=$(rss)
tcp=$(metric tcp_flows_open); udp=$(metric udp_flows_open); links=$(metric module_links_in_use)
nat=$(metric nat_entries)
echo "faults injected: $n; RSS at start ${rss_start} kB, at end ${rss_end} kB"
echo "open at end: tcp flows $tcp, udp flows $udp, module links $links, NAT entries $nat"
[ "$tcp" = 0 ] && [ "$udp" = 0 ] && [ "$links" = 0 ] || fail "counters not back to zero"
pass "soak of ${DURATION}s: counters back to zero (leak check: atbridge's exit report below)"

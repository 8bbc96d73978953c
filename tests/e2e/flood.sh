#!/usr/bin/env bash
# Floods from the tun side (SYNs to many destinations, UDP to many ports, a
# DNS query storm) while a legitimate download runs: the download completes
# intact, atbridge survives, and its peak RSS is printed (checked against
# RSS_LIMIT_KB when set: the benchmark sets it for a build without
# sanitizers, whose memory figures mean something).
# Usage: flood.sh
. "$(dirname "$0")"/lib.sh

e2e_netns
e2e_httpd
e2e_bridge --sim-arg=--baud=921600
e2e_file legit 500000
in_cli curl -sS --max-time 120 -o "$WORK"/got-legit "http://$SRV_ADDR/legit" 2>"$WORK"/curl.err &
curl_pid=$!
sleep 0.5
in_cli python3 "$E2E_DIR"/flood.py syn 3000 || fail "SYN flood script"
in_cli python3 "$E2E_DIR"/flood.py udp 20000 203.0.113.77 || fail "UDP flood script"
in_cli python3 "$E2E_DIR"/flood.py dns 5000 203.0.113.53 || fail "DNS storm script"
wait $curl_pid || fail "the legitimate download failed during the floods: $(cat "$WORK"/curl.err)"
[ "$(sha_of "$WORK"/got-legit)" = "$(sha_of "$WORK"/www/legit)" ] || fail "legitimate download differs"
kill -0 "$BRIDGE_PID" 2>/dev/null || fail "atbridge died"
# the bridge still serves new flows after the floods
in_cli curl -sS --max-time 60 -o /dev/null "http://$SRV_ADDR/legit" || fail "no service after the floods"
hwm=$(awk '/VmHWM/ {print $2}' /proc/"$BRIDGE_PID"/status)
echo "atbridge peak RSS: ${hwm} kB"
if [ -n "${RSS_LIMIT_KB:-}" ] && [ "$hwm" -gt "$RSS_LIMIT_KB" ]; then
	fail "peak RSS ${hwm} kB over the bound ${RSS_LIMIT_KB} kB"
fi
pass "floods of SYNs, UDP and DNS: legitimate download intact, service continues"

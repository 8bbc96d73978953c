#!/usr/bin/env bash
# End-to-end operation: atbridgectl against a running bridge, the metrics
# file, secrets kept out of logs and status, SIGHUP, a clean SIGTERM, the
# systemd notification protocol, --netns and --check-config.
# Usage: ops.sh CASE   (control | sigterm | netns | notify | checkconfig | stuck)
. "$(dirname "$0")"/lib.sh

case_=${1:?case}
CTL=${ATBRIDGECTL:?ATBRIDGECTL must name the atbridgectl binary}
SOCK=$WORK/ctl.sock
ctl() { "$CTL" --socket "$SOCK" "$@"; }
# The schema of --json outputs is the jq program in docs/control-json.md.
SCHEMA=$WORK/schema.jq
awk '/^```jq$/{f=1; next} /^```$/{f=0} f' "$E2E_DIR"/../../docs/control-json.md >"$SCHEMA"
[ -s "$SCHEMA" ] || fail "no jq program in docs/control-json.md"
# json_valid WHAT: stdin is a document of kind WHAT (status, flows, reconnect).
json_valid() {
	local doc
	doc=$(cat)
	echo "$doc" | jq -e "$(cat "$SCHEMA") ${1}_ok" >/dev/null || fail "$1 JSON does not match docs/control-json.md: $doc"
}
# Prometheus text checked by python3-prometheus-client's parser (Debian's
# python3, where the package installs), plus duplicate-family checks.
metrics_valid() {
	local py=/usr/bin/python3 out rc
	[ -x $py ] || py=python3
	out=$($py "$E2E_DIR"/check_metrics.py)
	rc=$?
	echo "$out"
	[ $rc = 0 ] || fail "$1: ${out:-check_metrics.py exit $rc}"
}
json_get() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval("d"+sys.argv[1]))' "$1"; }

# Waits until atbridge has exited (after a signal); fails after 10 s.
wait_exit() {
	for _ in $(seq 100); do kill -0 "$BRIDGE_PID" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$BRIDGE_PID" 2>/dev/null && fail "atbridge still running 10 s after SIGTERM"
	wait "$BRIDGE_PID"
	local rc=$?
	BRIDGE_PID=
	return $rc
}

case $case_ in
control)
	e2e_netns
	e2e_httpd
	e2e_file big 2000000
	SECRET=Pw-$RANDOM-x7Q
	printf '# test\n[module]\npassword = %s\npin = 4321\n[operation]\nlog-level = info\n' "$SECRET" >"$WORK"/atbridge.conf
	e2e_bridge --config "$WORK"/atbridge.conf --control-socket "$SOCK" \
		--metrics-file "$WORK"/atbridge.prom --metrics-interval-s 1 --sim-arg=--baud=0

	[ "$(stat -c %a "$SOCK")" = 600 ] || fail "control socket mode $(stat -c %a "$SOCK"), want 600"
	st=$(ctl status) || fail "atbridgectl status failed"
	echo "$st"
	echo "$st" | grep -q "^data link: *up" || fail "status does not show the data link up"
	echo "$st" | grep -q "^ip: *[0-9]" || fail "status does not show the module's address"
	echo "$st" | grep -q "^interface: *tun0" || fail "status does not name tun0"
	js=$(ctl --json status) || fail "atbridgectl --json status failed"
	[ "$(echo "$js" | json_get '["link_up"]')" = True ] || fail "status json: link_up is not true: $js"
	echo "$js" | json_valid status
	pass "status (text and JSON) shows the link up; the JSON matches the documented schema"

	# A download held open by a slow reader: it shows in flows.
	in_cli curl -sS --limit-rate 100k --max-time 60 -o "$WORK"/got-big "http://$SRV_ADDR/big" &
	curl_pid=$!
	row=
	for _ in $(seq 50); do
		row=$(ctl flows | grep "$SRV_ADDR:80 .* open ") && break
		sleep 0.1
	done
	[ -n "$row" ] || fail "flows does not list the download to $SRV_ADDR:80 as open: $(ctl flows)"
	echo "$row"
	echo "$row" | grep -q " open " || fail "the flow is not open: $row"
	fj=$(ctl --json flows) || fail "atbridgectl --json flows failed"
	[ "$(echo "$fj" | json_get '[0]["destination"]')" = "$SRV_ADDR:80" ] || fail "flows json: $fj"
	echo "$fj" | json_valid flows
	st=$(ctl status)
	echo "$st" | grep -q "^flows: *1 tcp open" || fail "status does not count the open flow: $st"
	pass "flows lists the open download (text and JSON)"
	wait $curl_pid || fail "slow download failed"
	[ "$(sha_of "$WORK"/got-big)" = "$(sha_of "$WORK"/www/big)" ] || fail "download differs"
	bd=$(ctl --json status | json_get '["bytes_down"]')
	[ "$bd" -ge 2000000 ] || fail "status bytes_down $bd after a 2000000-byte download"

	m=$(ctl metrics) || fail "atbridgectl metrics failed"
	echo "$m" | grep -q '^atbridge_link_up 1$' || fail "metrics: no atbridge_link_up 1"
	echo "$m" | grep -q '^# TYPE atbridge_tcp_flows_accepted_total counter$' || fail "metrics: no TYPE line"
	acc=$(echo "$m" | awk '/^atbridge_tcp_flows_accepted_total /{print $2}')
	[ "${acc:-0}" -ge 1 ] || fail "metrics: tcp_flows_accepted_total is '$acc'"
	down=$(echo "$m" | awk '/^atbridge_tcp_bytes_down_total /{print $2}')
	[ "${down:-0}" -ge 2000000 ] || fail "metrics: tcp_bytes_down_total $down < 2000000"
	sleep 1.5
	grep -q '^atbridge_tcp_bytes_down_total' "$WORK"/atbridge.prom || fail "metrics file not written"
	echo "$m" | metrics_valid "atbridgectl metrics"
	metrics_valid "the metrics file" <"$WORK"/atbridge.prom
	pass "metrics (socket and file): $acc flows accepted, $down bytes down"

	# Strict requests: one error line each, and the daemon keeps serving.
	out=$(printf 'bogus\nstatus jsonx\nstatus\r\n' | timeout 5 socat -t 2 - UNIX-CONNECT:"$SOCK")
	echo "$out"
	[ "$(echo "$out" | grep -c '^error: ')" = 3 ] || fail "three bad requests did not give three errors"
	echo "$out" | grep -q "^error: unknown request 'bogus'" || fail "unknown request not named"
	out=$(head -c 1000 /dev/zero | tr '\0' a | timeout 5 socat -t 2 - UNIX-CONNECT:"$SOCK")
	echo "$out" | grep -q '^error: request longer than 128 bytes' || fail "long request: $out"
	# Idle clients lock nobody out: 16 idle connections (one user), then a
	# 17th is answered at once; the user's oldest idle ones gave way (at
	# most CONTROL_MAX_PER_UID, 8, stay); one connection carries several
	# requests.
	out=$(python3 - "$SOCK" <<'PY'
import socket, sys, time
conns = []
for i in range(16):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); conns.append(s)
    time.sleep(0.01)
x = socket.socket(socket.AF_UNIX); x.connect(sys.argv[1]); x.settimeout(5)
t0 = time.time()
x.sendall(b"status\n")
buf = b""
while b"\n\n" not in buf:
    d = x.recv(65536)
    if not d: break
    buf += d
ms = (time.time() - t0) * 1000
print("17th answered in %d ms" % ms if b"\n\n" in buf and not buf.startswith(b"error") and ms < 1000 else "17th: %r" % buf[:100])
closed = 0
for s in conns:
    s.settimeout(0.5)
    try:
        if s.recv(1) == b"": closed += 1
    except socket.timeout:
        pass
print("idle closed: %d" % closed)
c = conns[-1]; c.settimeout(5)
c.sendall(b"status json\nmetrics\n")
buf = b""
while buf.count(b"\n\n") < 2:
    d = c.recv(65536)
    if not d: break
    buf += d
print("two responses" if buf.count(b"\n\n") == 2 and buf.startswith(b"{") else "bad: %r" % buf[:200])
PY
)
	echo "$out"
	echo "$out" | grep -q "^17th answered in" || fail "the 17th client behind 16 idle ones: $out"
	echo "$out" | grep -q "^idle closed: 9$" || fail "the user's oldest idle clients did not give way (8 may stay): $out"
	echo "$out" | grep -q "^two responses" || fail "two requests on one connection: $out"
	ok=
	for _ in 1 2 3 4 5; do ctl status >/dev/null 2>&1 && { ok=1; break; }; sleep 0.2; done
	[ -n "$ok" ] || fail "status failed after the clients went away"
	ctl reconnect >"$WORK"/rec.out 2>"$WORK"/rec.err || fail "reconnect refused: $(cat "$WORK"/rec.err)"
	grep -q "^reconnecting" "$WORK"/rec.out || fail "reconnect answered: $(cat "$WORK"/rec.out)"
	ok=
	for _ in $(seq 1 100); do
		ctl --json status 2>/dev/null | grep -q '"link_up":true' && { ok=1; break; }
		sleep 0.2
	done
	[ -n "$ok" ] || fail "the link did not come back after reconnect"
	ctl --json reconnect | json_valid reconnect
	ok=
	for _ in $(seq 1 100); do
		ctl --json status 2>/dev/null | grep -q '"link_up":true' && { ok=1; break; }
		sleep 0.2
	done
	[ -n "$ok" ] || fail "the link did not come back after reconnect"
	ctl status >/dev/null || fail "status failed after bad requests"
	pass "bad and long requests are refused with one line; the daemon keeps serving"

	for f in "$WORK"/bridge.log "$WORK"/atbridge.prom; do
		grep -q -- "$SECRET" "$f" && fail "the APN password appears in $f"
	done
	(ctl status; ctl --json status; ctl metrics; "$ATBRIDGE" --config "$WORK"/atbridge.conf --check-config) >"$WORK"/outputs
	grep -q -- "$SECRET" "$WORK"/outputs && fail "the APN password appears in status/metrics/check-config"
	grep -q 4321 "$WORK"/outputs && fail "the PIN appears in status/metrics/check-config"
	grep -q "# password is set" "$WORK"/outputs || fail "--check-config does not say the password is set"
	pass "password and PIN appear in no log, status, metrics or --check-config output"

	# SIGHUP re-reads the file's log level.
	sed -i 's/^log-level = info/log-level = debug/' "$WORK"/atbridge.conf
	kill -HUP "$BRIDGE_PID"
	for _ in $(seq 50); do grep -q "SIGHUP: log level debug" "$WORK"/bridge.log && break; sleep 0.1; done
	grep -q "SIGHUP: log level debug" "$WORK"/bridge.log || fail "SIGHUP did not reload the log level"
	pass "SIGHUP reloads the log level"

	kill -TERM "$BRIDGE_PID"
	wait_exit || fail "atbridge exited with status $? after SIGTERM"
	in_cli ip link show tun0 >/dev/null 2>&1 && fail "tun0 still exists after SIGTERM"
	[ -e "$SOCK" ] && fail "control socket left behind"
	[ -e "$WORK"/atbridge.prom ] && fail "metrics file left behind"
	grep -q "closing the module's links" "$WORK"/bridge.log || fail "no clean link close on SIGTERM"
	pass "SIGTERM: exit 0, tun0, socket and metrics file removed"
	;;
sigterm)
	e2e_netns
	e2e_httpd
	e2e_file big 3000000
	e2e_bridge --control-socket "$SOCK" --sim-arg=--baud=0
	in_cli curl -sS --limit-rate 50k --max-time 60 -o "$WORK"/got-big "http://$SRV_ADDR/big" 2>"$WORK"/curl.err &
	curl_pid=$!
	for _ in $(seq 50); do ctl flows | grep -q " open " && break; sleep 0.1; done
	ctl flows | grep -q " open " || fail "the download did not open"
	start=$(date +%s%N)
	kill -TERM "$BRIDGE_PID"
	wait_exit || fail "atbridge exited with status $? after SIGTERM"
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	grep -q "AT+CIPCLOSE=" "$WORK"/sim-commands.log || fail "the module's link was not closed with AT+CIPCLOSE"
	# The client is told at once (FIN/RST), it does not wait for its timeout.
	for _ in $(seq 50); do kill -0 $curl_pid 2>/dev/null || break; sleep 0.1; done
	kill -0 $curl_pid 2>/dev/null && fail "curl still waiting 5 s after atbridge stopped"
	wait $curl_pid && fail "the cut download reported success"
	in_cli ip link show tun0 >/dev/null 2>&1 && fail "tun0 still exists after SIGTERM"
	pass "SIGTERM with a flow open: AT+CIPCLOSE sent, client told, tun0 removed, exit 0 in $ms ms"
	;;
netns)
	e2e_netns
	e2e_httpd
	e2e_file page 300000
	NS_APP=${TAG}app
	ip netns add "$NS_APP" || fail "ip netns add"
	trap 'ip netns del "$NS_APP" 2>/dev/null; e2e_cleanup' EXIT
	ip netns exec "$NS_APP" ip link set lo up
	e2e_bridge --netns "$NS_APP" --control-socket "$SOCK" --control-mode 0660 --sim-arg=--baud=0
	[ "$(stat -c %a "$SOCK")" = 660 ] || fail "control socket mode $(stat -c %a "$SOCK"), want 660"
	ip netns exec "$NS_APP" ip link show tun0 >/dev/null || fail "no tun0 in the named namespace"
	in_cli ip link show tun0 >/dev/null 2>&1 && fail "tun0 made in atbridge's own namespace"
	ip netns exec "$NS_APP" curl -sS --max-time 60 -o "$WORK"/got-page "http://$SRV_ADDR/page" ||
		fail "curl from the named namespace failed"
	[ "$(sha_of "$WORK"/got-page)" = "$(sha_of "$WORK"/www/page)" ] || fail "download differs"
	ctl status | grep -q "in netns $NS_APP" || fail "status does not name the namespace"
	pass "--netns: tun0 in $NS_APP carries a download intact"
	kill -TERM "$BRIDGE_PID"
	wait_exit || fail "atbridge exited with status $? after SIGTERM"
	ip netns exec "$NS_APP" ip link show tun0 >/dev/null 2>&1 && fail "tun0 left in $NS_APP"
	pass "--netns: tun0 removed from $NS_APP on SIGTERM"
	;;
notify)
	e2e_netns
	# A stand-in for systemd: records every datagram on the notify socket.
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as f:
    while True:
        f.write(s.recv(4096).decode().replace("\n", "|") + "\n")
' "$WORK"/notify.sock "$WORK"/notify.log &
	SRV_PIDS+=($!)
	for _ in $(seq 50); do [ -S "$WORK"/notify.sock ] && break; sleep 0.1; done
	export NOTIFY_SOCKET=$WORK/notify.sock WATCHDOG_USEC=400000
	# stderr is "journald" when $JOURNAL_STREAM names it: lines get <priority>.
	: >"$WORK"/bridge.log
	export JOURNAL_STREAM=$(stat -c '%d:%i' "$WORK"/bridge.log)
	e2e_bridge --control-socket none
	grep -q '^<6>atbridge: ' "$WORK"/bridge.log || fail "no <6> priority prefix with JOURNAL_STREAM set"
	for _ in $(seq 30); do grep -q "READY=1" "$WORK"/notify.log && break; sleep 0.1; done
	cat "$WORK"/notify.log
	grep -q "^READY=1|STATUS=data link up" "$WORK"/notify.log || fail "no READY=1 with the link up"
	head -1 "$WORK"/notify.log | grep -q "^STATUS=waiting" || fail "no STATUS= before READY=1"
	sleep 1
	[ "$(grep -c '^WATCHDOG=1' "$WORK"/notify.log)" -ge 3 ] || fail "fewer than 3 watchdog pings in 1 s (WATCHDOG_USEC=0.4 s)"
	kill -TERM "$BRIDGE_PID"
	wait_exit || fail "atbridge exited with status $? after SIGTERM"
	sleep 0.2
	grep -q "STOPPING=1" "$WORK"/notify.log || fail "no STOPPING=1"
	pass "sd_notify: STATUS=, READY=1 on data link up, WATCHDOG=1, STOPPING=1; journald priorities"
	;;
stuck)
	# A flow that cannot make progress is visible at the default log level:
	# a transparent link held by a slow download, a second connection
	# queued behind it for more than 20 s.
	e2e_netns
	e2e_httpd
	e2e_file big 2000000
	ip netns exec "$NS_CLI" "$ATBRIDGE" --sim --sim-path "$ATBRIDGE_SIM" --sim-netns "$NS_SRV" \
		--sim-arg "--hosts=$WORK/hosts" --sim-arg "--model=$ATB_MODEL" --control-socket "$SOCK" \
		--link transparent --queue-wait-ms 40000 >"$WORK"/bridge.log 2>&1 &
	BRIDGE_PID=$!
	for _ in $(seq 300); do grep -q "data link up" "$WORK"/bridge.log && break; sleep 0.1; done
	grep -q "data link up" "$WORK"/bridge.log || fail "no data link"
	in_cli curl -sS --limit-rate 20k --max-time 60 -o /dev/null "http://$SRV_ADDR/big" &
	c1=$!
	for _ in $(seq 50); do ctl flows | grep -q " open " && break; sleep 0.1; done
	in_cli curl -sS --max-time 60 -o /dev/null "http://$SRV_ADDR/big" &
	c2=$!
	line=
	for _ in $(seq 350); do
		line=$(grep "waiting more than 20 s for the module" "$WORK"/bridge.log) && break
		sleep 0.1
	done
	kill $c1 $c2 2>/dev/null
	wait $c1 $c2 2>/dev/null
	[ -n "$line" ] || fail "a flow queued for more than 20 s was not logged at the default level"
	echo "$line"
	echo "$line" | grep -q "1 flow waiting .* -> $SRV_ADDR:80 queued for 2[0-9] s" || fail "the line does not name the flow: $line"
	pass "a flow that makes no progress is logged at the default level"
	;;
checkconfig)
	printf '[interface]\nmtu = 1400\n' >"$WORK"/good.conf
	out=$("$ATBRIDGE" --config "$WORK"/good.conf --check-config --max-flows 9) || fail "--check-config failed"
	echo "$out" | grep -q '^mtu = 1400$' || fail "--check-config does not show the file's mtu"
	echo "$out" | grep -q '^max-flows = 9$' || fail "--check-config does not show the option's max-flows"
	printf '\n[interface]\nmtu = 99999\n' >"$WORK"/bad.conf
	err=$("$ATBRIDGE" --config "$WORK"/bad.conf --check-config 2>&1 >/dev/null)
	rc=$?
	[ $rc = 2 ] || fail "bad file: exit $rc, want 2"
	[ "$err" = "atbridge: $WORK/bad.conf:3: mtu: '99999' is not a whole number from 576 to 1500" ] ||
		fail "bad file message: $err"
	err=$("$ATBRIDGE" --config "$WORK"/bad.conf 2>&1)
	[ "$(echo "$err" | wc -l)" = 1 ] || fail "start-up with a bad file printed more than one line: $err"
	pass "--check-config prints the effective configuration; a bad value is one line naming file, line, key, value"
	# Every error, each with its place; what names the system is checked too.
	printf 'mtu = 99999\nrun-as = atb-nosuchuser\nbaud = 7\n' >"$WORK"/bad2.conf
	err=$("$ATBRIDGE" --config "$WORK"/bad2.conf --netns atb-nosuchns --check-config 2>&1 >/dev/null)
	rc=$?
	echo "$err"
	[ $rc = 2 ] || fail "several errors: exit $rc, want 2"
	[ "$(echo "$err" | wc -l)" = 4 ] || fail "want 4 lines (mtu, baud, run-as, netns): $err"
	echo "$err" | grep -q "^atbridge: $WORK/bad2.conf:1: mtu: '99999'" || fail "mtu error: $err"
	echo "$err" | grep -q "^atbridge: $WORK/bad2.conf:3: baud: '7'" || fail "baud error: $err"
	echo "$err" | grep -q "^atbridge: $WORK/bad2.conf:2: run-as: 'atb-nosuchuser': there is no such user" ||
		fail "run-as error: $err"
	echo "$err" | grep -q "^atbridge: --netns: 'atb-nosuchns': there is no network namespace" ||
		fail "netns error: $err"
	pass "--check-config lists every error with file:line, and a missing run-as user and netns"
	;;
*)
	fail "unknown case $case_"
	;;
esac
exit 0

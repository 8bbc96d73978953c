#!/usr/bin/env bash
# End-to-end TCP through tun0 over the simulated SIM7000 in multi-link mode.
# Usage: tcp.sh CASE   (download | upload | concurrent | refused | halfclose | iperf)
. "$(dirname "$0")"/lib.sh

case_=${1:?case}
e2e_netns
e2e_httpd

# Unpaced line (like a USB AT port) so that megabytes move in seconds; the
# benchmark measures the paced line.
e2e_bridge --sim-arg=--baud=0

url=http://$SRV_ADDR

get_check() { # name -> compares sha256 of a download with the original
	local name=$1 out=$WORK/got-$1
	in_cli curl -sS --max-time 120 -o "$out" "$url/$name" || fail "curl $name failed"
	[ "$(sha_of "$out")" = "$(sha_of "$WORK/www/$name")" ] || fail "$name: sha256 differs"
}

case $case_ in
download)
	e2e_file 1m 1048576
	e2e_file 10m 10485760
	get_check 1m
	pass "1 MB download intact"
	get_check 10m
	pass "10 MB download intact"
	;;
upload)
	head -c 1048576 /dev/urandom >"$WORK"/up
	want=$(sha_of "$WORK"/up)
	got=$(in_cli curl -sS --max-time 120 -T "$WORK"/up "$url/sha256") || fail "curl upload failed"
	[ "$got" = "$want" ] || fail "upload: server saw sha256 $got, sent $want"
	pass "1 MB upload intact"
	;;
concurrent)
	n=${2:-8}
	for i in $(seq "$n"); do e2e_file "c$i" $((200000 + i * 1000)); done
	pids=()
	for i in $(seq "$n"); do
		in_cli curl -sS --max-time 180 -o "$WORK/got-c$i" "$url/c$i" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || fail "a concurrent curl failed"; done
	for i in $(seq "$n"); do
		[ "$(sha_of "$WORK/got-c$i")" = "$(sha_of "$WORK/www/c$i")" ] || fail "c$i: sha256 differs"
	done
	pass "$n concurrent downloads intact"
	;;
refused)
	start=$(date +%s%N)
	out=$(in_cli curl -sS --max-time 20 "http://$SRV_ADDR:81/" 2>&1)
	rc=$?
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	[ $rc -eq 7 ] || fail "curl to a closed port: exit $rc ($out), want 7"
	# curl 7.88 words ECONNREFUSED as "Couldn't connect to server": ask the
	# socket layer itself which error the client saw.
	err=$(in_cli python3 -c 'import socket,errno,sys
s=socket.socket(); s.settimeout(10)
try: s.connect((sys.argv[1], 81)); print("connected")
except OSError as e: print(errno.errorcode.get(e.errno, e))' $SRV_ADDR)
	[ "$err" = ECONNREFUSED ] || fail "connect to a closed port gave $err, want ECONNREFUSED"
	[ $ms -lt 10000 ] || fail "refusal took $ms ms"
	pass "closed port refused in $ms ms"
	;;
halfclose)
	command -v socat >/dev/null || { echo "SKIP: socat not installed"; exit 77; }
	e2e_file small 50000
	# socat shuts down its writing side at the end of stdin and keeps reading.
	printf 'GET /small HTTP/1.0\r\n\r\n' |
		in_cli socat -t 60 - TCP:$SRV_ADDR:80 >"$WORK"/resp || fail "socat failed"
	# strip the HTTP header
	python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); sys.stdout.buffer.write(d[d.index(b"\r\n\r\n")+4:])' \
		"$WORK"/resp >"$WORK"/body || fail "no HTTP reply after half-close"
	[ "$(sha_of "$WORK"/body)" = "$(sha_of "$WORK"/www/small)" ] || fail "reply after half-close differs"
	pass "reply received after the client shut down writing"
	;;
iperf)
	command -v iperf3 >/dev/null || { echo "SKIP: iperf3 not installed"; exit 77; }
	ip netns exec "$NS_SRV" iperf3 -s -B $SRV_ADDR -1 >"$WORK"/iperf-srv.log 2>&1 &
	SRV_PIDS+=($!)
	sleep 0.5
	in_cli timeout 60 iperf3 -c $SRV_ADDR -t 10 -J >"$WORK"/iperf.json || { cat "$WORK"/iperf.json; fail "iperf3 failed"; }
	bps=$(python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"]))' "$WORK"/iperf.json)
	[ "$bps" -gt 0 ] || fail "iperf3 moved nothing"
	pass "iperf3 10 s run completed: $bps bit/s"
	;;
*)
	fail "unknown case $case_"
	;;
esac

# The bytes really went over AT commands: the simulator saw the sends.
sim_log_has "$AT_OPEN_TCP" || fail "no $AT_OPEN_TCP in the simulator's command log"
exit 0

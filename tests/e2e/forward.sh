#!/usr/bin/env bash
# Inbound port forwards (docs/architecture.md): a remote client in the server namespace
# connects to the simulated module's own address; the module's listener
# accepts it and atbridge carries it to a socat echo server at
# 127.0.0.1:2222 in the client namespace. Usage: forward.sh CASE
#   roundtrip  1 MB there and back, byte-exact; status and metrics show it
#   load       4 inbound echoes while 4 outbound downloads run, all intact;
#              inbound holds no more than its share of links
#   refused    the target refuses: the remote's connection ends promptly
#   pdpdeact | reboot
#              after the fault a new inbound connection works within the
#              recovery time of docs/recovery.md (10 s, 15 s)
. "$(dirname "$0")"/lib.sh

case_=${1:?case}
MODULE_IP=203.0.113.20 # the simulated module's own address (--local-ip)
MPORT=2222

e2e_netns
in_srv ip addr add $MODULE_IP/32 dev lo
command -v socat >/dev/null || { echo "SKIP: socat not installed"; exit 77; }

echo_server() { # the service behind the forward, in the client namespace
	ip netns exec "$NS_CLI" socat TCP-LISTEN:2222,bind=127.0.0.1,reuseaddr,fork PIPE &
	SRV_PIDS+=($!)
	e2e_wait_tcp "$NS_CLI" 127.0.0.1 2222 "echo server"
}

bridge() {
	e2e_bridge --sim-arg=--baud=0 --sim-arg=--local-ip=$MODULE_IP "$@"
	for _ in $(seq 100); do
		grep -q "listening on port $MPORT" "$WORK"/bridge.log && return 0
		sleep 0.1
	done
	fail "the module did not listen on port $MPORT"
}

# echo_client BYTES [TRIES]: from the server namespace, BYTES of random data
# to the module's port and back; byte-exact or exit 1. A connection the
# bridge turns away (closed before any echo) is tried again, TRIES times.
echo_client() {
	in_srv python3 - "$MODULE_IP" "$MPORT" "$1" "${2:-1}" <<'PY'
import hashlib, os, socket, sys, threading, time
ip, port, n, tries = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def once(data):
    """the echo of data through the forward; b"" when turned away"""
    try:
        s = socket.create_connection((ip, port), timeout=60)
    except OSError as e:
        print("connect:", e, file=sys.stderr)
        return b""
    def send():
        try:
            s.sendall(data)
        except OSError:
            pass
    t = threading.Thread(target=send)
    t.start()
    got = bytearray()
    try:
        while len(got) < len(data):
            b = s.recv(65536)
            if not b:
                break
            got += b
    except OSError as e:
        print("recv:", e, file=sys.stderr)
    t.join()
    s.close()
    return bytes(got)

for attempt in range(tries):
    data = os.urandom(n)
    got = once(data)
    if len(got) == 0 and attempt + 1 < tries:
        time.sleep(0.5)
        continue
    if hashlib.sha256(got).digest() != hashlib.sha256(data).digest():
        print(f"echo mismatch: sent {n}, got {len(got)}", file=sys.stderr)
        sys.exit(1)
    sys.exit(0)
sys.exit(1)
PY
}

metric() { # NAME: the value of one sample of atbridge's metrics
	python3 - "$WORK"/atbridge.sock "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"metrics\n")
buf = b""
while b"\n\n" not in buf:
    d = s.recv(65536)
    if not d:
        break
    buf += d
for line in buf.decode().splitlines():
    if line.startswith("atbridge_" + sys.argv[2] + " ") or line.startswith("atbridge_" + sys.argv[2] + "{"):
        print(line.rsplit(" ", 1)[1])
        break
PY
}

now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$(now)"; }

# wait_inbound T0 LIMIT: a small echo succeeds; prints the seconds from T0
wait_inbound() {
	local t0=$1 limit=$2
	while :; do
		if echo_client 1000 >/dev/null 2>&1; then
			since "$t0"
			return 0
		fi
		[ "$(python3 -c "print(int(float('$(since "$t0")') > $limit))")" = 1 ] && return 1
		sleep 0.3
	done
}

case $case_ in
roundtrip)
	echo_server
	bridge --forward tcp:$MPORT:127.0.0.1:2222
	echo_client 1048576 || fail "1 MB round trip through the forward was not byte-exact"
	[ "$(metric forward_accepted_total)" = 1 ] || fail "forward_accepted_total is not 1"
	[ "$(metric forward_listening)" = 1 ] || fail "the forward is not shown listening"
	st=$(in_cli "$ATBRIDGE"ctl --socket "$WORK"/atbridge.sock status 2>/dev/null ||
		python3 -c "
import socket,sys
s=socket.socket(socket.AF_UNIX); s.connect('$WORK/atbridge.sock'); s.sendall(b'status\n')
print(s.recv(65536).decode())")
	grep -q "forward:.*tcp:$MPORT:127.0.0.1:2222 listening" <<<"$st" || fail "status does not show the forward: $st"
	# SIGTERM waits for the flows' links only: the listener's socket (held
	# on the N11V2) must not hold the shutdown for its 5 s bound
	t0=$(now)
	kill -TERM "$BRIDGE_PID"
	wait "$BRIDGE_PID"
	BRIDGE_PID=
	took=$(since "$t0")
	python3 -c "import sys; sys.exit(0 if float('$took') < 3 else 1)" || fail "shutdown took ${took}s"
	pass "1 MB through module port $MPORT to 127.0.0.1:2222 and back, byte-exact; status and metrics show it; shutdown in ${took}s"
	;;
load)
	echo_server
	e2e_httpd
	e2e_file big 1048576
	bridge --forward tcp:$MPORT:127.0.0.1:2222
	pids=()
	for i in 1 2 3 4; do
		in_cli curl -sS --max-time 120 -o "$WORK/dl$i" http://$SRV_ADDR/big & pids+=($!)
	done
	for i in 1 2 3 4; do
		echo_client 262144 40 & pids+=($!)
	done
	max_in=0
	while kill -0 "${pids[@]}" 2>/dev/null; do
		v=$(metric forward_connections_open)
		[ "${v:-0}" -gt "$max_in" ] && max_in=$v
		sleep 0.2
	done
	for p in "${pids[@]}"; do wait "$p" || fail "a transfer failed (pid $p)"; done
	for i in 1 2 3 4; do
		[ "$(sha_of "$WORK/dl$i")" = "$(sha_of "$WORK"/www/big)" ] || fail "download $i not byte-exact"
	done
	case $ATB_MODEL in sim7000) share=4 ;; n11v2) share=2 ;; esac
	[ "$max_in" -le "$share" ] || fail "inbound held $max_in links, over its share of $share"
	[ "$max_in" -ge 1 ] || fail "no inbound connection was ever seen open (forward_connections_open)"
	pass "4 inbound echoes (256 KB) and 4 outbound downloads (1 MB) intact; inbound held at most $max_in links (share $share)"
	;;
refused)
	bridge --forward tcp:$MPORT:127.0.0.1:2299 # nothing listens there
	t0=$(now)
	in_srv python3 - "$MODULE_IP" "$MPORT" <<'PY' || fail "the remote's connection was not ended"
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
s.settimeout(10)
try:
    b = s.recv(1)
except ConnectionResetError:
    b = b""
sys.exit(0 if b == b"" else 1)
PY
	took=$(since "$t0")
	python3 -c "import sys; sys.exit(0 if float('$took') < 3 else 1)" || fail "the remote waited ${took}s"
	[ "$(metric forward_refused_target_total)" -ge 1 ] || fail "the refusal was not counted"
	pass "target refused: the remote's connection ended after ${took}s; counted"
	;;
pdpdeact|reboot)
	echo_server
	bridge --forward tcp:$MPORT:127.0.0.1:2222
	echo_client 10000 || fail "no inbound service before the fault"
	if [ $case_ = pdpdeact ]; then limit=10; sim_ctl pdp-deact >/dev/null; else limit=15; sim_ctl reboot >/dev/null; fi
	t0=$(now)
	sleep 0.5
	took=$(wait_inbound "$t0" $limit) || fail "no inbound connection within ${limit}s of $case_"
	echo_client 65536 || fail "inbound echo after $case_ not byte-exact"
	pass "$case_: listening again, inbound connection within ${took}s (limit ${limit}s)"
	;;
*) fail "unknown case $case_" ;;
esac

# Shared setup for the end-to-end tests: two network namespaces made and
# removed by the test itself.
#   server ns: lo carries the documentation addresses 198.51.100.10 and
#              203.0.113.10; the HTTP test server and atbridge-sim live here,
#              so every host socket of the simulator stays inside it.
#   client ns: atbridge and its tun0 (default route); the real clients run here.
# No traffic leaves these namespaces.
#
# Needs: ATBRIDGE, ATBRIDGE_SIM (binaries), root. Without root: exit 77 (skip).

set -u
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRV_ADDR=198.51.100.10
SRV_ADDR2=203.0.113.10

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: end-to-end tests need root (network namespaces, /dev/net/tun)"
	exit 77
fi
for tool in ip curl python3 sha256sum; do
	command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done

# The simulated module: ATB_MODEL=sim7000 (default) or n11v2. atbridge
# identifies it by itself (model auto). The AT commands the tests look for
# in the simulator's command log differ by dialect:
ATB_MODEL=${ATB_MODEL:-sim7000}
case $ATB_MODEL in
sim7000) AT_OPEN_TCP='AT+CIPSTART=[0-9],"TCP"'; AT_OPEN_UDP='AT+CIPSTART=[0-9],"UDP"'
	AT_DNS='AT+CDNSGIP='; AT_PING='AT+CIPPING=' ;;
n11v2) AT_OPEN_TCP='AT+TCPSETUP='; AT_OPEN_UDP='AT+UDPSETUP='
	AT_DNS='AT+DNS='; AT_PING='AT+PING=' ;;
*) echo "FAIL: unknown ATB_MODEL '$ATB_MODEL'"; exit 1 ;;
esac
# grep -F friendly: does the simulator's log hold a command starting so?
sim_log_has() { grep -q -- "$1" "$WORK"/sim-commands.log; }

TAG=atb$$
NS_SRV=${TAG}srv
NS_CLI=${TAG}cli
WORK=$(mktemp -d /tmp/atbridge-e2e.XXXXXX)
BRIDGE_PID=
SRV_PIDS=()

fail() { echo "FAIL: $*"; exit 1; }
pass() { echo "PASS: $*"; }

in_srv() { ip netns exec "$NS_SRV" "$@"; }
in_cli() { ip netns exec "$NS_CLI" "$@"; }

e2e_cleanup() {
	local rc=$?
	set +e # a caller's set -e must not cut the cleanup short
	if [ -n "$BRIDGE_PID" ] && kill -0 "$BRIDGE_PID" 2>/dev/null; then
		kill -TERM "$BRIDGE_PID" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$BRIDGE_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$BRIDGE_PID" 2>/dev/null
	fi
	for p in "${SRV_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${SRV_PIDS[@]}" $BRIDGE_PID; do wait "$p" 2>/dev/null; done
	if grep -q "ERROR: \(Address\|Leak\)Sanitizer\|runtime error:" "$WORK"/bridge.log 2>/dev/null; then
		echo "FAIL: sanitizer report in atbridge's log:"
		grep -A30 "Sanitizer\|runtime error" "$WORK"/bridge.log | head -60
		rc=1
	fi
	if [ $rc -ne 0 ] && [ $rc -ne 77 ] && [ -f "$WORK"/bridge.log ]; then
		echo "--- last lines of atbridge's log ---"
		tail -40 "$WORK"/bridge.log
	fi
	ip netns del "$NS_SRV" 2>/dev/null || true
	ip netns del "$NS_CLI" 2>/dev/null || true
	[ -n "${E2E_KEEP:-}" ] && echo "kept $WORK" || rm -rf "$WORK"
	exit $rc
}
trap e2e_cleanup EXIT
trap 'exit 1' INT TERM

# Creates both namespaces and the server-side addresses.
e2e_netns() {
	# a namespace of this name can only be left by a killed run whose pid
	# this one now has (no live test shares our pid)
	ip netns del "$NS_SRV" 2>/dev/null || true
	ip netns del "$NS_CLI" 2>/dev/null || true
	ip netns add "$NS_SRV" || fail "ip netns add"
	ip netns add "$NS_CLI" || fail "ip netns add"
	in_srv ip link set lo up
	in_cli ip link set lo up
	in_srv ip addr add $SRV_ADDR/32 dev lo
	in_srv ip addr add $SRV_ADDR2/32 dev lo
	printf '%s www.example.test\n%s other.example.test\n' $SRV_ADDR $SRV_ADDR2 >"$WORK"/hosts
}

# Background processes are started with a bare `ip netns exec` (which execs
# the program) so that $! is the program itself and cleanup can kill it.

# e2e_wait_tcp NS ADDR PORT WHAT: waits up to 5 s for a TCP server.
e2e_wait_tcp() {
	for _ in $(seq 50); do
		ip netns exec "$1" bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "$4 did not start"
}

# Starts the HTTP server on $SRV_ADDR:80 serving $WORK/www.
e2e_httpd() {
	mkdir -p "$WORK"/www
	ip netns exec "$NS_SRV" python3 "$E2E_DIR"/httpd.py --addr $SRV_ADDR --port 80 --root "$WORK"/www &
	SRV_PIDS+=($!)
	e2e_wait_tcp "$NS_SRV" $SRV_ADDR 80 "HTTP test server"
}

# Starts atbridge in the client namespace against atbridge-sim in the server
# namespace; extra arguments go to atbridge (a --control-socket among them
# wins over this test's own, $WORK/atbridge.sock: tests run in parallel and
# must not share /run/atbridge/atbridge.sock). Waits for the data link.
# ATB_SIM_READING: the simulator plays that reading of the manual
# (atbridge-sim --reading, docs/simulator.md), e.g. "alt".
e2e_bridge() {
	local reading=()
	[ -n "${ATB_SIM_READING:-}" ] && reading=(--sim-arg "--reading=$ATB_SIM_READING")
	ip netns exec "$NS_CLI" "$ATBRIDGE" --sim --sim-path "$ATBRIDGE_SIM" --sim-netns "$NS_SRV" \
		--sim-arg "--hosts=$WORK/hosts" --sim-arg "--log=$WORK/sim-commands.log" \
		--sim-arg "--control=$WORK/sim.ctl" --sim-arg "--model=$ATB_MODEL" "${reading[@]}" \
		--control-socket "$WORK"/atbridge.sock -v "$@" >"$WORK"/bridge.log 2>&1 &
	BRIDGE_PID=$!
	for _ in $(seq 300); do
		grep -q "data link up" "$WORK"/bridge.log 2>/dev/null && return 0
		kill -0 "$BRIDGE_PID" 2>/dev/null || fail "atbridge exited during start-up"
		sleep 0.1
	done
	fail "the module data link did not come up within 30 s"
}

# Sends one control command to the simulator (atbridge-sim --control),
# prints its answer.
sim_ctl() {
	python3 - "$WORK"/sim.ctl "$*" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
s.settimeout(5)
print(s.recv(65536).decode().strip())
PY
}

# Makes a file of N bytes of random data in the server's web root.
e2e_file() { head -c "$2" /dev/urandom >"$WORK/www/$1"; }

size_of() { stat -c %s "$1" 2>/dev/null || echo 0; }
sha_of() { sha256sum "$1" | cut -d' ' -f1; }

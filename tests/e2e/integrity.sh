#!/usr/bin/env bash
# End-to-end integrity under module faults (docs/architecture.md, "Staying in
# sync"): nothing lost silently, nothing executed.
# Usage: integrity.sh multi|transparent GROUP
#   stall    stall 6000 (no flow may be lost), stall 12000
#   replies  stray OK, stray ERROR (no flow may be lost), dup 3,
#            late <command timeout + 1.5 s>, wrong-link
#   loss     pdp-deact, reboot
# Each fault is injected while a close-delimited download (HTTP/1.0 without
# Content-Length) and an upload made of AT-like bytes are running. Checked:
#   - a download that ends cleanly (curl exit 0) is byte-exact (sha256); one
#     that lost bytes ends with an error (reset), never a clean short file;
#   - what reached the server of an upload is a prefix of what was sent (sha256
#     of the same-length prefix), and a clean completion means the whole file;
#   - the simulator's command log (--log file and `stats`) holds no command
#     line that came from payload;
#   - a new transfer succeeds within the fault's recovery time
#     (docs/recovery.md, "Integrity under faults").
# Every phase runs even when one before it failed (so one run shows the whole
# picture); the test fails at the end if any did, or at once if service did
# not come back.
. "$(dirname "$0")"/lib.sh

# the interpreter itself: a version manager's shim costs a second a call
PY=$(python3 -c 'import sys; print(sys.executable)')
mode=${1:?multi|transparent}
group=${2:?group}
PORT=8080
url=http://$SRV_ADDR:$PORT
DL_SIZE=${DL_SIZE:-1000000}
UP_SIZE=${UP_SIZE:-1000000}
case $mode in
multi) link_args=() ;;
transparent) link_args=(--link transparent) ;;
*) fail "unknown link mode '$mode'" ;;
esac

# Command names that the bridge never writes: any of them in the module's
# command log came from payload.
PAYLOAD_CMDS='CPOWD|\+GMI\b|CPWROFF|XPAYLOAD'

ctl() { # one control command to the simulator; prints its one-line answer
	$PY - "$WORK"/sim.ctl "$*" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
s.settimeout(10)
buf = b""
while not buf.endswith(b"\n"):
    d = s.recv(1 << 20)
    if not d:
        break
    buf += d
print(buf.decode("utf-8", "replace").strip())
PY
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# seconds from $1 (ms) to now, two decimals
secs() { local d=$(($(now_ms) - $1)); printf '%d.%02d' $((d / 1000)) $((d % 1000 / 10)); }

# The upload: random bytes with, every few hundred bytes, something a module
# or the bridge's parser could take for a command, a prompt or a result.
make_upload() { # file size
	$PY - "$1" "$2" <<'PY'
import random, sys
rng = random.Random(12)
looks = [b"\rAT+CPOWD=1\r", b"\r\nAT+GMI\r\n", b"AT+CPWROFF\r", b"\rAT+XPAYLOAD=1\r\n",
         b"+++", b"\x1a", b"\x1b", b"> ", b"\r\n> ", b"0, CLOSED\r\n", b"\r\nOK\r\n",
         b"\r\nERROR\r\n", b"\r\nSEND OK\r\n", b"\r\n+CIPRXGET: 1,0\r\n", b"\r\n+TCPRECV: 0,",
         b"AT+CPOWD=1\x1a", b"\r\nRDY\r\n", b"+++\rAT+GMI\r"]
out = bytearray()
n = int(sys.argv[2])
while len(out) < n:
    out += rng.randbytes(rng.randrange(0, 600))
    out += rng.choice(looks)
open(sys.argv[1], "wb").write(out[:n])
PY
}

srv_start() {
	mkdir -p "$WORK"/www "$WORK"/spool
	ip netns exec "$NS_SRV" $PY "$E2E_DIR"/integrity_srv.py --addr $SRV_ADDR --port $PORT \
		--root "$WORK"/www --spool "$WORK"/spool &
	SRV_PIDS+=($!)
	for _ in $(seq 50); do
		in_srv bash -c "exec 3<>/dev/tcp/$SRV_ADDR/$PORT" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "integrity test server did not start"
}

# The client side: curl in the client namespace, in the background of this
# shell (so that `wait` collects its exit status).
start_get() { # tag
	ip netns exec "$NS_CLI" curl -sS -0 --http0.9 --max-time 40 -o "$WORK/got-$1" "$url/dl" \
		2>"$WORK/get-$1.err" &
	GET_PID=$!
}
start_put() { # tag
	ip netns exec "$NS_CLI" curl -sS -0 --http0.9 -H 'Expect:' --max-time 40 -T "$WORK"/up \
		-o "$WORK/put-$1.out" "$url/up/$1" 2>"$WORK/put-$1.err" &
	PUT_PID=$!
}

FAILED=()
bad() { echo "  BAD: $*"; FAILED+=("$PHASE: $*"); }

# curl's exit status -> whether it is the end a lost byte may have: an error
# from the connection (reset, closed, send/recv failure), not a time-out.
cut_ok() { case $1 in 7|18|52|55|56) return 0 ;; *) return 1 ;; esac; }

first_diff() { # got want: where two files first differ, and the bytes there
	$PY - "$1" "$2" <<'PY'
import sys
a = open(sys.argv[1], "rb").read(); b = open(sys.argv[2], "rb").read()
i = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), min(len(a), len(b)))
print("    %d bytes against %d; first difference at offset %d: got %r, want %r"
      % (len(a), len(b), i, a[i:i+40], b[i:i+40]))
PY
}

check_get() { # tag rc keep
	local tag=$1 rc=$2 keep=$3 f=$WORK/got-$1 n
	n=$(size_of "$f")
	if [ "$rc" = 0 ]; then
		if [ "$(sha_of "$f")" = "$DL_SHA" ]; then
			echo "  download: complete, byte-exact ($n bytes)"
		else
			if [ "$(head -c "$n" "$WORK"/www/dl | sha256sum | cut -d' ' -f1)" = "$(sha_of "$f")" ]; then
				bad "download ended cleanly (curl exit 0) after $n of $DL_SIZE bytes: a truncated stream reported as complete"
				return
			fi
			bad "download ended cleanly (curl exit 0) with $n bytes that differ from the file"
			first_diff "$f" "$WORK"/www/dl
		fi
		return
	fi
	if [ "$n" -gt 0 ] && [ "$(head -c "$n" "$WORK"/www/dl | sha256sum | cut -d' ' -f1)" != "$(sha_of "$f")" ]; then
		echo "  (the $n download bytes received before the error are not a prefix of the file:"
		first_diff "$f" "$WORK"/www/dl
		echo "  )"
	fi
	if [ "$keep" = keep ]; then
		bad "download lost (curl exit $rc after $n bytes: $(head -c 200 "$WORK/get-$tag.err")); this fault may cost no flow"
	elif cut_ok "$rc"; then
		echo "  download: cut with an error (curl exit $rc after $n bytes: $(head -c 120 "$WORK/get-$tag.err"))"
	else
		bad "download neither completed nor was reset (curl exit $rc after $n bytes: $(head -c 200 "$WORK/get-$tag.err"))"
	fi
}

check_put() { # tag rc keep
	local tag=$1 rc=$2 keep=$3 bin=$WORK/spool/$1.bin end n
	end=$(cat "$WORK/spool/$tag.end" 2>/dev/null || echo "still open")
	n=$(size_of "$bin")
	if [ "$n" -gt 0 ] && [ "$(sha_of "$bin")" != "$(head -c "$n" "$WORK"/up | sha256sum | cut -d' ' -f1)" ]; then
		bad "the server received $n bytes that are not a prefix of the upload (server: $end)"
		first_diff "$bin" "$WORK"/up
	fi
	if [ "$rc" = 0 ]; then
		if [ "$(cat "$WORK/put-$tag.out")" = "$UP_SHA" ] && [ "$n" = "$UP_SIZE" ]; then
			echo "  upload: complete, byte-exact ($n bytes)"
		else
			bad "upload ended cleanly (curl exit 0) but the server has $n bytes ($end), sha $(head -c 64 "$WORK/put-$tag.out")"
		fi
		return
	fi
	if [ "$keep" = keep ]; then
		bad "upload lost (curl exit $rc: $(head -c 200 "$WORK/put-$tag.err"); server: $end); this fault may cost no flow"
	elif cut_ok "$rc"; then
		echo "  upload: cut with an error (curl exit $rc; server: $end)"
	else
		bad "upload neither completed nor was reset (curl exit $rc: $(head -c 200 "$WORK/put-$tag.err"); server: $end)"
	fi
}

# The module's command log: the --log file, and the log of `stats`; only
# the lines added since the phase began (LOG_SEEN, STATS_SEEN).
LOG_SEEN=0
STATS_SEEN=0
# CMDLOG_RESIDUAL=1: payload lines are reported, not failed (a restart under
# a transparent upload: docs/recovery.md, the residual)
check_cmdlog() {
	local hits
	hits=$(tail -n +$((LOG_SEEN + 1)) "$WORK"/sim-commands.log | grep -a -E -c "$PAYLOAD_CMDS")
	if [ "$hits" -gt 0 ] && [ "${CMDLOG_RESIDUAL:-}" = 1 ]; then
		echo "  RESIDUAL (docs/recovery.md): $hits payload line(s) were on the line when the module came up"
		LOG_SEEN=$(wc -l <"$WORK"/sim-commands.log)
		STATS_SEEN=$(ctl stats | $PY -c 'import json,sys; print(len(json.load(sys.stdin)["log"]))')
		return
	fi
	if [ "$hits" -gt 0 ]; then
		bad "$hits command line(s) from payload in the simulator's --log, e.g.:"
		tail -n +$((LOG_SEEN + 1)) "$WORK"/sim-commands.log | grep -a -E "$PAYLOAD_CMDS" | head -5 |
			cat -v | cut -c1-100 | sed 's/^/    /'
	fi
	LOG_SEEN=$(wc -l <"$WORK"/sim-commands.log)
	ctl stats | $PY -c '
import json, re, sys
st = json.loads(sys.stdin.read())
pat = re.compile(sys.argv[1])
new = st["log"][int(sys.argv[2]):]
open(sys.argv[3], "w").write("%d\n" % len(st["log"]))
bad = [l for l in new if pat.search(l) or l == "(over-long line)" or any(ord(c) < 32 or ord(c) > 126 for c in l)]
names = [k for k in st["commands"] if pat.search(k)]
if bad or names:
    print("%d command line(s) in stats that the bridge never writes, e.g. %r; command names %r"
          % (len(bad), [l[:60] for l in bad[:5]], names))
    sys.exit(1)
' "$PAYLOAD_CMDS" "$STATS_SEEN" "$WORK"/stats.seen >"$WORK"/stats.check || bad "$(cat "$WORK"/stats.check)"
	STATS_SEEN=$(cat "$WORK"/stats.seen 2>/dev/null || echo 0)
}

# After a fault the bridge did not recover from: a fresh bridge and
# simulator, so that the phases after it still say something.
restart_bridge() {
	echo "  atbridge's log since the phase began (flow lines left out):"
	tail -n +$((BRIDGE_LOG_SEEN + 1)) "$WORK"/bridge.log | grep -v 'debug: flow\|debug: refusing' | tail -25 | sed 's/^/    /'
	echo "  restarting atbridge and the simulator for the next phase"
	kill -TERM "$BRIDGE_PID"
	wait "$BRIDGE_PID"
	mv "$WORK"/bridge.log "$WORK/bridge.log.$N"
	LOG_SEEN=$(wc -l <"$WORK"/sim-commands.log)
	STATS_SEEN=0
	start_bridge
}

# Waits until a new download and a new upload both succeed byte-exact;
# prints the seconds from $1. Gives up $2 seconds after $1.
wait_service() { # t_end_ms limit_s
	local t0=$1 limit=$2 k=0
	while :; do
		k=$((k + 1))
		if in_cli curl -sS -0 --max-time 5 -o "$WORK"/svc "$url/small" 2>/dev/null &&
			[ "$(sha_of "$WORK"/svc)" = "$SMALL_SHA" ] &&
			[ "$(in_cli curl -sS -0 -H 'Expect:' --max-time 5 -T "$WORK"/www/small "$url/up/svc$k" 2>/dev/null)" = "$SMALL_SHA" ]; then
			secs "$t0"
			return 0
		fi
		[ $(($(now_ms) - t0)) -gt $((limit * 1000)) ] && return 1
		sleep 0.2
	done
}

# Waits (at most 10 s) until the first transfer has moved 300 kB, so that the
# fault lands in the middle of it.
wait_progress() { # tag
	for _ in $(seq 100); do
		[ "$(size_of "$WORK/got-$1")" -gt 300000 ] && return
		[ "$(size_of "$WORK/spool/$1.bin")" -gt 300000 ] && return
		sleep 0.1
	done
	echo "  (no transfer had moved 300 kB after 10 s)"
}

# phase NAME KEEP FAULT_MS LIMIT_S CONTROL-COMMAND...
#   KEEP: keep = both transfers must complete; cut = each either completes
#   byte-exact or ends with an error. FAULT_MS: how long the fault lasts
#   (recovery is timed from its end). LIMIT_S: service must be back by then.
N=0
phase() {
	local name=$1 keep=$2 fault_ms=$3 limit=$4 rcg rcp ans t0 t_end took
	shift 4
	N=$((N + 1))
	PHASE="$name"
	local tag=p$N
	BRIDGE_LOG_SEEN=$(wc -l <"$WORK"/bridge.log)
	echo "== $mode $name ($*)"
	# in transparent mode the second flow waits for the first: let the
	# upload go first every other phase, so that faults meet both
	if [ "$mode" = transparent ] && [ $((N % 2)) = 0 ]; then
		start_put $tag; sleep 0.2; start_get $tag
	else
		start_get $tag; sleep 0.2; start_put $tag
	fi
	wait_progress $tag
	if [ $# -gt 0 ]; then
		ans=$(ctl "$@")
		case $ans in OK*) ;; *) bad "the simulator refused '$*': $ans" ;; esac
	fi
	# the fault is in place once the simulator has answered
	t0=$(now_ms)
	echo "  fault at: download $(size_of "$WORK/got-$tag") bytes, upload $(size_of "$WORK/spool/$tag.bin") bytes received"
	t_end=$((t0 + fault_ms))
	wait $GET_PID; rcg=$?
	wait $PUT_PID; rcp=$?
	echo "  transfers ended $(secs "$t0")s after the fault"
	check_get $tag $rcg $keep
	check_put $tag $rcp $keep
	check_cmdlog
	# service from the end of the fault (or from now, if later)
	[ "$t_end" -gt "$(now_ms)" ] || t_end=$(now_ms)
	if took=$(wait_service "$t_end" "$limit"); then
		echo "  service back ${took}s after the fault's end (limit ${limit}s)"
	elif took=$(wait_service "$t_end" $((limit + 20))); then
		bad "service back only ${took}s after the fault's end (limit ${limit}s)"
	else
		bad "service not back within $((limit + 20))s of the fault's end"
		restart_bridge
		return
	fi
	# a cut upload's module link must be closed too: the module holding a
	# link the bridge gave up is a link table out of step (docs/architecture.md, rule 7)
	if [ "$rcp" != 0 ] && [ -e "$WORK/spool/$tag.bin" ]; then
		for _ in $(seq 30); do [ -e "$WORK/spool/$tag.end" ] && break; sleep 0.1; done
		[ -e "$WORK/spool/$tag.end" ] ||
			bad "the cut upload's connection to the server is still open after service came back: the module still holds its link"
	fi
}

summary() {
	# bytes may reach a server after its phase was checked (a module that
	# sends what it took as data later): every upload once more
	local bin n
	for bin in "$WORK"/spool/p*.bin; do
		[ -e "$bin" ] || continue
		n=$(size_of "$bin")
		PHASE="end of test, upload $(basename "$bin" .bin)"
		[ "$(sha_of "$bin")" = "$(head -c "$n" "$WORK"/up | sha256sum | cut -d' ' -f1)" ] || {
			bad "the server now holds $n bytes that are not a prefix of the upload"
			first_diff "$bin" "$WORK"/up
		}
	done
	echo "== $mode $group: ${#FAILED[@]} problem(s)"
	if [ ${#FAILED[@]} -gt 0 ]; then
		printf '  %s\n' "${FAILED[@]}"
		fail "integrity $mode $group"
	fi
	pass "integrity $mode $group"
	exit 0
}

e2e_netns
srv_start
e2e_file dl $DL_SIZE
e2e_file small 20000
make_upload "$WORK"/up $UP_SIZE
DL_SHA=$(sha_of "$WORK"/www/dl)
UP_SHA=$(sha_of "$WORK"/up)
SMALL_SHA=$(sha_of "$WORK"/www/small)
# the bridge's command timeout, as it will use it: `late` must exceed it
cmd_ms=$("$ATBRIDGE" --check-config "${link_args[@]}" | sed -n 's/^cmd-timeout-ms = //p')
[ -n "$cmd_ms" ] || fail "no cmd-timeout-ms in atbridge --check-config"
# a fast line (400 kB/s each way): megabytes move in seconds, yet slowly
# enough that every fault lands in the middle of a transfer
start_bridge() {
	e2e_bridge "${link_args[@]}" --control-socket "$WORK"/bridge.sock --sim-arg=--baud=${BAUD:-4000000}
}
start_bridge

case $group in
stall)
	phase "stall 6 s" keep 6000 5 stall 6000
	phase "stall 12 s" cut 12000 10 stall 12000
	;;
replies)
	phase "stray OK" keep 0 5 stray OK
	phase "stray ERROR" keep 0 5 stray ERROR
	# a repeated answer may be a read with its data: an answer no command
	# asked for is a loss of sync, and flows may end with RST (docs/architecture.md, rules 1 and 3)
	phase "dup 3" cut 0 10 dup 3
	late=$((cmd_ms + 1500))
	phase "late ${late} ms" cut $late 10 late $late
	# the asked read may have to time out first (docs/recovery.md: 12 s)
	phase "wrong-link" cut 0 15 wrong-link
	;;
loss)
	phase "pdp-deact" cut 0 10 pdp-deact
	# A module that restarts under a transparent upload reads the bytes
	# that were on the line when it came up as commands: no in-band signal
	# can stop them (docs/recovery.md). The bridge must see the restart
	# banner, reset both flows, drop what it still holds and come back.
	if [ "$mode" = multi ]; then
		phase "reboot" cut 1000 15 reboot
	else
		CMDLOG_RESIDUAL=1 phase "reboot" cut 1000 15 reboot
	fi
	;;
*) fail "unknown group '$group'" ;;
esac
summary

#!/usr/bin/env bash
# The serial port is atbridge's alone (bridge/port_lock.c): a second
# atbridge on the same port, and a plain `cat` holding it, are refused with
# one line naming the holder's PID, and nothing is written to the port; the
# UUCP lock file is made and removed, and a stale one replaced.
# The port is atbridge-sim's pty, run on its own (as with a real module).
# Usage: port.sh CASE   (second | cat)
. "$(dirname "$0")"/lib.sh

case_=${1:?case}
PTY=$WORK/modem

sim_start() {
	ip netns exec "$NS_SRV" "$ATBRIDGE_SIM" --baud 0 --link "$PTY" --hosts "$WORK"/hosts \
		--model "$ATB_MODEL" --log "$WORK"/sim-commands.log >/dev/null 2>"$WORK"/sim.err &
	SRV_PIDS+=($!)
	for _ in $(seq 50); do [ -e "$PTY" ] && break; sleep 0.1; done
	[ -e "$PTY" ] || fail "simulator did not start"
	: >>"$WORK"/sim-commands.log
}

lock_file() { echo /run/lock/LCK..$(readlink -f "$PTY" | sed 's#^/dev/##; s#/#_#g'); }
commands() { wc -l <"$WORK"/sim-commands.log; }

# atbridge that must refuse the port: exit 1 at once, one error line
# naming PID $1, no command written.
expect_refused() {
	local want_pid=$1 before out rc
	before=$(commands)
	out=$(timeout 10 ip netns exec "$NS_CLI" "$ATBRIDGE" --device "$PTY" --control-socket none \
		--tun atbx0 2>&1)
	rc=$?
	echo "$out"
	[ $rc = 1 ] || fail "second user of the port: exit $rc, want 1"
	[ "$(echo "$out" | grep -c "error")" = 1 ] || fail "want exactly one error line: $out"
	echo "$out" | grep -q "error: $PTY is in use by PID $want_pid (" || fail "the holder's PID $want_pid is not named: $out"
	sleep 0.3
	[ "$(commands)" = "$before" ] || fail "something was written to the port: $(tail -3 "$WORK"/sim-commands.log)"
}

e2e_netns
sim_start
case $case_ in
second)
	ip netns exec "$NS_CLI" "$ATBRIDGE" --device "$PTY" --control-socket none -v >"$WORK"/bridge.log 2>&1 &
	BRIDGE_PID=$!
	for _ in $(seq 300); do grep -q "data link up" "$WORK"/bridge.log && break; sleep 0.1; done
	grep -q "data link up" "$WORK"/bridge.log || fail "the first atbridge did not come up"
	lf=$(lock_file)
	[ "$(tr -d ' \n' <"$lf")" = "$BRIDGE_PID" ] || fail "$lf does not hold PID $BRIDGE_PID: $(cat "$lf" 2>&1)"
	grep -q "FLOCK .* $BRIDGE_PID " /proc/locks || fail "no flock held by atbridge"
	pass "lock file $lf (HDB, PID $BRIDGE_PID) and an flock on the port"
	expect_refused "$BRIDGE_PID"
	pass "a second atbridge is refused by the lock file, naming PID $BRIDGE_PID; nothing written"
	# Without the lock file (removed by hand), the open port still gives it away.
	rm -f "$lf"
	expect_refused "$BRIDGE_PID"
	pass "without the lock file the holder is still found and named"
	kill -TERM "$BRIDGE_PID"
	for _ in $(seq 100); do kill -0 "$BRIDGE_PID" 2>/dev/null || break; sleep 0.1; done
	wait "$BRIDGE_PID"
	BRIDGE_PID=
	# A stale lock of a process that is gone is replaced.
	printf '%10d\n' 999999 >"$lf"
	ip netns exec "$NS_CLI" "$ATBRIDGE" --device "$PTY" --control-socket none -v >"$WORK"/bridge.log 2>&1 &
	BRIDGE_PID=$!
	for _ in $(seq 300); do grep -q "data link up" "$WORK"/bridge.log && break; sleep 0.1; done
	grep -q "data link up" "$WORK"/bridge.log || fail "atbridge did not start over a stale lock file"
	grep -q "removing the stale lock file" "$WORK"/bridge.log || fail "stale lock not reported"
	kill -TERM "$BRIDGE_PID"
	for _ in $(seq 100); do kill -0 "$BRIDGE_PID" 2>/dev/null || break; sleep 0.1; done
	wait "$BRIDGE_PID"
	BRIDGE_PID=
	[ -e "$lf" ] && fail "lock file left behind after SIGTERM"
	pass "a stale lock file is replaced; the lock file goes with atbridge"
	;;
cat)
	cat "$PTY" >/dev/null &
	CAT_PID=$!
	SRV_PIDS+=($CAT_PID)
	sleep 0.2
	expect_refused "$CAT_PID"
	[ -e "$(lock_file)" ] && fail "lock file left behind by the refused atbridge"
	pass "a port held open by cat (PID $CAT_PID): refused with its PID, nothing written, no lock file left"
	kill "$CAT_PID"
	wait "$CAT_PID" 2>/dev/null
	;;
*) fail "unknown case '$case_'" ;;
esac
exit 0

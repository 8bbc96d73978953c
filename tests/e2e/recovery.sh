#!/usr/bin/env bash
# End-to-end recovery from module faults, injected through the simulator's
# control socket. Usage: recovery.sh CASE
#   pdpdeact | reboot | linkclose | garbage | dropurc | stall | stalllong | devicegone
#   | privdrop
. "$(dirname "$0")"/lib.sh

case_=${1:?case}
e2e_netns
e2e_httpd
url=http://$SRV_ADDR

ctl() { sim_ctl "$@"; }

# seconds (with fraction) since the epoch
now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$(now)"; }

# Waits until a small fetch succeeds; prints how long it took from $1.
wait_service() { # t0 limit_s
	local t0=$1 limit=$2
	while :; do
		if in_cli curl -sS --max-time 3 -o /dev/null "$url/small" 2>/dev/null; then
			since "$t0"
			return 0
		fi
		[ "$(python3 -c "print(int(float('$(since "$t0")') > $limit))")" = 1 ] && return 1
		sleep 0.2
	done
}

# A download that is cut by the fault must end (reset or error), never hang.
# Started in this shell (not in $(...)) so that `wait` can collect it; the
# pid is left in BULK_PID.
start_bulk() { # name
	ip netns exec "$NS_CLI" curl -sS --max-time 60 -o "$WORK/got-$1" "$url/$1" 2>"$WORK/curl-$1.err" &
	BULK_PID=$!
}

e2e_file small 2000
e2e_file big 4000000

case $case_ in
pdpdeact|reboot)
	e2e_bridge --sim-arg=--baud=460800
	# without run-as: still uid 0, but no capability left (docs/security.md)
	grep -q "^CapEff:[[:space:]]*0*$" /proc/$BRIDGE_PID/status || fail "atbridge kept capabilities: $(grep Cap /proc/$BRIDGE_PID/status)"
	start_bulk big; pid=$BULK_PID
	sleep 1.5
	t0=$(now)
	if [ $case_ = pdpdeact ]; then ctl pdp-deact; limit=10; else ctl reboot; limit=20; fi
	wait "$pid" && fail "the download survived a $case_ it could not have survived"
	ended=$(since "$t0")
	# pdp-deact: at once. reboot: the restart cuts a read's payload, whose
	# deadline outlasts a 10 s stall of a live module (docs/recovery.md).
	if [ $case_ = pdpdeact ]; then cut=10; else cut=15; fi
	[ "${ended%.*}" -lt $cut ] || fail "the cut download took ${ended}s to end"
	grep -qi "reset\|recv failure\|transfer closed" "$WORK"/curl-big.err || fail "curl did not see a reset: $(cat "$WORK"/curl-big.err)"
	took=$(wait_service "$t0" $limit) || fail "service not back within ${limit}s of the $case_"
	pass "$case_: the cut flow was reset after ${ended}s, service back after ${took}s"
	;;
linkclose)
	e2e_bridge --sim-arg=--baud=460800
	e2e_file b1 400000; e2e_file b2 400000; e2e_file b3 400000
	start_bulk b1; p1=$BULK_PID; sleep 0.3
	start_bulk b2; p2=$BULK_PID; sleep 0.3
	start_bulk b3; p3=$BULK_PID
	sleep 1
	ctl close 1
	ok=0
	for n in 1 2 3; do
		eval p=\$p$n
		if wait "$p" && [ "$(sha_of "$WORK/got-b$n")" = "$(sha_of "$WORK/www/b$n")" ]; then ok=$((ok + 1)); fi
	done
	[ $ok -eq 2 ] || fail "$ok of 3 downloads intact after one link closed, want exactly 2"
	pass "a remote close ended one flow; the other two completed intact"
	;;
garbage|dropurc|stall)
	e2e_bridge --sim-arg=--baud=460800
	e2e_file b1 400000; e2e_file b2 400000
	start_bulk b1; p1=$BULK_PID
	start_bulk b2; p2=$BULK_PID
	sleep 1
	case $case_ in
	# noise, a torn notification and a junk line; not a forged final result
	garbage) ctl garbage ff00fe2b434950525847a5a50d0a6a756e6b206c696e650d0a1a1b0d0a2b43495052584745543a20312c0d0a ;;
	dropurc) ctl drop-urc 5 ;;
	stall) ctl stall 3000 ;;
	esac
	for n in 1 2; do
		eval p=\$p$n
		wait "$p" || fail "download b$n failed after $case_: $(cat "$WORK"/curl-b$n.err)"
		[ "$(sha_of "$WORK/got-b$n")" = "$(sha_of "$WORK/www/b$n")" ] || fail "b$n differs after $case_"
	done
	pass "$case_: both downloads completed intact"
	;;
stalllong)
	# The module answers nothing for 20 s: the flows must not wait for it
	# (command timeout, resync probes, every link ends), the bridge asks
	# the module to restart, and service returns once it answers again.
	e2e_bridge --sim-arg=--baud=460800
	start_bulk big; pid=$BULK_PID
	sleep 1.5
	t0=$(now)
	ctl stall 20000
	wait "$pid" && fail "the download survived a 20 s stall"
	ended=$(since "$t0")
	[ "${ended%.*}" -lt 15 ] || fail "the stalled download took ${ended}s to end"
	took=$(wait_service "$t0" 35) || fail "service not back within 15 s of the stall's end"
	case $ATB_MODEL in
	*) reboot_cmd='AT+CFUN=1,1' ;;
	esac
	sim_log_has "$reboot_cmd" || fail "no reboot request ($reboot_cmd) in the simulator's command log"
	pass "stall 20 s: flows reset after ${ended}s, $reboot_cmd sent, service back after ${took}s"
	;;
privdrop)
	# --run-as: once the devices are open atbridge runs as nobody, without
	# capabilities, and recovers from a module restart all the same. (The
	# simulator runs on its own: with --sim, run-as is not applied.)
	pty=$WORK/modem
	ip netns exec "$NS_SRV" "$ATBRIDGE_SIM" --baud 0 --link "$pty" --hosts "$WORK"/hosts \
		--model "$ATB_MODEL" --control "$WORK"/sim.ctl >/dev/null 2>"$WORK"/sim.err &
	SRV_PIDS+=($!)
	for _ in $(seq 50); do [ -e "$pty" ] && break; sleep 0.1; done
	ip netns exec "$NS_CLI" "$ATBRIDGE" --device "$pty" --run-as nobody --control-socket none -v \
		>"$WORK"/bridge.log 2>&1 &
	BRIDGE_PID=$!
	for _ in $(seq 300); do grep -q "data link up" "$WORK"/bridge.log && break; sleep 0.1; done
	st=/proc/$BRIDGE_PID/status
	nobody=$(id -u nobody)
	grep -q "^Uid:[[:space:]]*$nobody[[:space:]]*$nobody[[:space:]]*$nobody[[:space:]]*$nobody$" $st || fail "not running as nobody: $(grep Uid $st)"
	for c in CapInh CapPrm CapEff CapBnd CapAmb; do
		grep -q "^$c:[[:space:]]*0*$" $st || fail "$c not empty: $(grep $c $st)"
	done
	grep -q "^NoNewPrivs:[[:space:]]*1$" $st || fail "no_new_privs not set"
	e2e_file b1 200000
	in_cli curl -sS --max-time 20 -o "$WORK"/got-b1 "$url/b1" || fail "no service as nobody"
	[ "$(sha_of "$WORK/got-b1")" = "$(sha_of "$WORK/www/b1")" ] || fail "b1 differs"
	t0=$(now)
	ctl reboot >/dev/null
	took=$(wait_service "$t0" 15) || fail "service not back within 15 s of a reboot, as nobody"
	pass "run-as nobody: uid $nobody, no capabilities, no_new_privs; download intact; reboot recovered in ${took}s"
	;;
devicegone)
	# the simulator runs on its own here, so that it can go away and come back
	pty=$WORK/modem
	sim() {
		ip netns exec "$NS_SRV" "$ATBRIDGE_SIM" --baud 0 --link "$pty" --hosts "$WORK"/hosts \
			--control "$WORK"/sim.ctl >/dev/null 2>"$WORK"/sim.err &
		SIM_PID=$!
		for _ in $(seq 50); do [ -e "$pty" ] && return 0; sleep 0.1; done
		fail "simulator did not start"
	}
	sim
	SRV_PIDS+=($SIM_PID)
	ip netns exec "$NS_CLI" "$ATBRIDGE" --device "$pty" -v >"$WORK"/bridge.log 2>&1 &
	BRIDGE_PID=$!
	for _ in $(seq 300); do grep -q "data link up" "$WORK"/bridge.log && break; sleep 0.1; done
	in_cli curl -sS --max-time 5 -o /dev/null "$url/small" || fail "no service before the fault"
	kill "$SIM_PID"; wait "$SIM_PID" 2>/dev/null
	sleep 1
	in_cli ip link show tun0 >/dev/null || fail "tun0 went away with the device"
	t=$(now)
	in_cli curl -sS --max-time 10 -o /dev/null "$url/small" 2>/dev/null && fail "a connection succeeded with no module"
	refused=$(since "$t")
	[ "${refused%.*}" -lt 2 ] || fail "a new connection took ${refused}s to be refused while the device was gone"
	t0=$(now)
	sim
	SRV_PIDS+=($SIM_PID)
	took=$(wait_service "$t0" 5) || fail "service not back within 5 s of the device returning"
	pass "device gone: tun0 stayed, connections refused in ${refused}s, service back ${took}s after the device returned"
	;;
*)
	fail "unknown case $case_"
	;;
esac
exit 0

#!/usr/bin/env bash
# Hooks (bridge/hooks.c) end to end: up-script, down-script and hook-dir's
# up.d/ and down.d/ run with the documented environment when the data link
# comes up, is lost (the simulator's pdp-deact), at a clean stop and after a
# crash (SIGKILL); a failing hook and one that outlives hook-timeout-s are
# logged and the bridge carries on; dns-setup resolvconf runs
# `resolvconf -a tun0` with atbridge's DNS address and `resolvconf -d tun0`.
# The resolvconf here is a stub that records its calls: installing Debian's
# resolvconf would rewrite this machine's /etc/resolv.conf.
# dns-setup resolved runs `resolvectl dns tun0 ADDR`, `resolvectl domain
# tun0 ~.` and `resolvectl revert tun0`; a stub again (no systemd-resolved
# runs on this machine).
# Usage: hooks.sh CASE   (run | crash | resolved)
. "$(dirname "$0")"/lib.sh

case_=${1:?case}
H=$WORK/hooks
LOG=$WORK/hooks.log # every hook appends "name phase reason" here

ctl() { sim_ctl "$@"; }

setup_hooks() {
	mkdir -p "$H"/up.d "$H"/down.d "$WORK"/bin
	cat >"$H"/up-script <<EOF
#!/bin/sh
env | grep '^ATB_' | sort >"$WORK"/up.env
echo "up-script \$1 \$ATB_REASON" >>"$LOG"
echo "hello from the up-script"
EOF
	cat >"$H"/down-script <<EOF
#!/bin/sh
env | grep '^ATB_' | sort >"$WORK"/down.env
echo "down-script \$1 \$ATB_REASON" >>"$LOG"
EOF
	printf '#!/bin/sh\necho "10-fails $1 $ATB_REASON" >>"%s"\necho failing on purpose >&2\nexit 3\n' "$LOG" >"$H"/up.d/10-fails
	printf '#!/bin/sh\necho "20-slow $1 $ATB_REASON" >>"%s"\nsleep 30\n' "$LOG" >"$H"/up.d/20-slow
	printf '#!/bin/sh\necho "30-last $1 $ATB_REASON" >>"%s"\n' "$LOG" >"$H"/up.d/30-last
	printf '#!/bin/sh\necho "not run" >>"%s"\n' "$LOG" >"$H"/up.d/40-skipped.dpkg-old
	printf '#!/bin/sh\necho "10-down $1 $ATB_REASON" >>"%s"\n' "$LOG" >"$H"/down.d/10-down
	cat >"$WORK"/bin/resolvconf <<EOF
#!/bin/sh
echo "resolvconf \$* \$(cat | tr '\n' ' ')" >>"$WORK"/resolvconf.log
EOF
	printf '#!/bin/sh\necho "resolvectl $*" >>"%s"\n' "$WORK"/resolvconf.log >"$WORK"/bin/resolvectl
	chmod +x "$H"/up-script "$H"/down-script "$H"/up.d/* "$H"/down.d/* "$WORK"/bin/resolvconf "$WORK"/bin/resolvectl
	: >"$LOG"
	: >"$WORK"/resolvconf.log
	export PATH=$WORK/bin:$PATH
}

# Waits until $LOG has a line matching $1 (at most $2 s).
wait_log() {
	for _ in $(seq $((${2:-10} * 10))); do grep -q "$1" "$LOG" && return 0; sleep 0.1; done
	fail "no '$1' in the hooks' log: $(cat "$LOG")"
}

start() {
	e2e_bridge --up-script "$H"/up-script --down-script "$H"/down-script --hook-dir "$H" \
		--hook-timeout-s 1 --dns-setup "$DNS_SETUP" --control-socket none
}

DNS_SETUP=resolvconf
[ "$case_" = resolved ] && DNS_SETUP=resolved
e2e_netns
e2e_httpd
e2e_file small 1000
setup_hooks
start
wait_log "^30-last up link-up" 15
# in order, each once
[ "$(head -3 "$LOG" | cut -d' ' -f1 | tr '\n' ' ')" = "up-script 10-fails 20-slow " ] || fail "order: $(cat "$LOG")"
grep -q "not run" "$LOG" && fail "a .dpkg-old file was run"
for kv in ATB_INTERFACE=tun0 ATB_PHASE=up ATB_REASON=link-up ATB_TUN_ADDRESS=10.85.0.1/24 ATB_DNS=10.85.0.254 \
	"ATB_LINK_MODE=multi-link" ATB_NETNS=; do
	grep -qx "$kv" "$WORK"/up.env || fail "up-script's environment lacks $kv: $(cat "$WORK"/up.env)"
done
grep -q "^ATB_LOCAL_ADDRESS=[0-9]*\.[0-9]*\.[0-9]*\.[0-9]*$" "$WORK"/up.env || fail "no module address: $(cat "$WORK"/up.env)"
grep -q "^ATB_MODEL=..*" "$WORK"/up.env || fail "no model: $(cat "$WORK"/up.env)"
grep -q "^ATB_DEVICE=/dev/pts/" "$WORK"/up.env || fail "no device: $(cat "$WORK"/up.env)"
grep -q "hook up-script: hello from the up-script" "$WORK"/bridge.log || fail "the hook's output is not logged"
grep -q "hook up.d/10-fails: failing on purpose" "$WORK"/bridge.log || fail "a hook's stderr is not logged"
grep -q "hook up.d/10-fails: exited with status 3" "$WORK"/bridge.log || fail "exit status 3 not reported"
grep -q "hook up.d/20-slow: still running after 1 s: killed" "$WORK"/bridge.log || fail "timeout not reported"
if [ $DNS_SETUP = resolvconf ]; then
	grep -q "^resolvconf -a tun0 nameserver 10.85.0.254 $" "$WORK"/resolvconf.log ||
		fail "resolvconf -a: $(cat "$WORK"/resolvconf.log)"
fi
in_cli curl -sS --max-time 10 -o /dev/null "http://$SRV_ADDR/small" || fail "no service after a failing hook"
pass "up: dns-setup, up-script, up.d/ in order with the documented environment; output, status and timeout logged; the bridge serves"

case $case_ in
run)
	# The module loses its data context: down, then up again.
	: >"$LOG"
	ctl pdp-deact >/dev/null
	wait_log "^down-script down link-down"
	grep -q "^10-down down link-down" "$LOG" || fail "down.d not run on link loss: $(cat "$LOG")"
	[ "$(head -1 "$LOG" | cut -d' ' -f1)" = 10-down ] || fail "down.d must run before the down-script: $(cat "$LOG")"
	grep -q "^resolvconf -d tun0 -f" "$WORK"/resolvconf.log || fail "resolvconf -d not run on link loss"
	wait_log "^30-last up link-up" 30
	pass "link lost and back: down.d, down-script, resolvconf -d; then the up phase again"
	: >"$LOG"
	kill -TERM "$BRIDGE_PID"
	for _ in $(seq 150); do kill -0 "$BRIDGE_PID" 2>/dev/null || break; sleep 0.1; done
	wait "$BRIDGE_PID" || fail "exit status $? after SIGTERM"
	BRIDGE_PID=
	grep -q "^down-script down stop" "$LOG" || fail "no down phase at stop: $(cat "$LOG")"
	grep -qx "ATB_INTERFACE=tun0" "$WORK"/down.env || fail "down environment: $(cat "$WORK"/down.env)"
	grep -qx "ATB_PHASE=down" "$WORK"/down.env || fail "down environment: $(cat "$WORK"/down.env)"
	[ "$(grep -c "^resolvconf -d tun0" "$WORK"/resolvconf.log)" -ge 3 ] || fail "resolvconf -d not run at stop"
	pass "SIGTERM: the down phase runs (reason stop) and the DNS entry is removed"
	;;
crash)
	: >"$LOG"
	n=$(grep -c "^resolvconf -d" "$WORK"/resolvconf.log)
	kill -KILL "$BRIDGE_PID"
	wait "$BRIDGE_PID" 2>/dev/null
	BRIDGE_PID=
	wait_log "^down-script down crash"
	for _ in $(seq 30); do [ "$(grep -c "^resolvconf -d" "$WORK"/resolvconf.log)" -gt "$n" ] && break; sleep 0.1; done
	[ "$(grep -c "^resolvconf -d" "$WORK"/resolvconf.log)" -gt "$n" ] || fail "DNS entry not removed after a crash"
	pass "SIGKILL: the helper runs the down phase (reason crash) and removes the DNS entry"
	;;
resolved)
	grep -qx "resolvectl dns tun0 10.85.0.254" "$WORK"/resolvconf.log || fail "resolvectl dns: $(cat "$WORK"/resolvconf.log)"
	grep -qx "resolvectl domain tun0 ~." "$WORK"/resolvconf.log || fail "resolvectl domain: $(cat "$WORK"/resolvconf.log)"
	kill -TERM "$BRIDGE_PID"
	for _ in $(seq 150); do kill -0 "$BRIDGE_PID" 2>/dev/null || break; sleep 0.1; done
	wait "$BRIDGE_PID" || fail "exit status $? after SIGTERM"
	BRIDGE_PID=
	grep -qx "resolvectl revert tun0" "$WORK"/resolvconf.log || fail "resolvectl revert: $(cat "$WORK"/resolvconf.log)"
	pass "dns-setup resolved: resolvectl dns and domain ~. on up, revert at stop"
	;;
*) fail "unknown case '$case_'" ;;
esac
exit 0

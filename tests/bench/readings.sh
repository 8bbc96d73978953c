#!/usr/bin/env bash
# N11V2 (or SIM7000) multi-link at 115200 baud under each reading of the
# manual that atbridge-sim can play (docs/simulator.md, "Alternative
# readings"): a 64 KB download and upload timed from request to last byte,
# the cost of a close (sequential connections, more than the module has
# links, each waiting for the last one's link), and ping -c 3 with the
# module's replies 1 s apart. Prints one line per reading (ratios of the
# line rate, 8N1). curl is told not to wait for "100 Continue" (the test
# server sends none: curl would sit out 1 s). Needs root.
#
#   tests/bench/readings.sh [BUILD_DIR] [MODEL] [READING ...]
set -u
BUILD=${1:-build}
ATB_MODEL=${2:-n11v2}
shift 2 2>/dev/null || shift $#
if [ $# -gt 0 ]; then readings=("$@")
elif [ "$ATB_MODEL" = n11v2 ]; then
	readings=(default tcpack=no-ok tcpclose=no-ok ipstatus=no-ok spacing=example spacing=none alt)
else
	readings=(default ciprxget=manual dataaccept=manual linkresult=manual cipstatus=padded alt)
fi
ATBRIDGE=$(cd "$BUILD" && pwd)/bin/atbridge
ATBRIDGE_SIM=$(cd "$BUILD" && pwd)/bin/atbridge-sim
export ATB_MODEL
. "$(dirname "$0")"/../e2e/lib.sh
BAUD=115200
line=$((BAUD / 10))
e2e_netns
e2e_httpd
e2e_file bulk 65536
head -c 65536 /dev/urandom >"$WORK"/up
printf '%-18s %9s %9s %11s %6s\n' reading down up close_max ping
for r in "${readings[@]}"; do
	if [ "$r" = default ]; then unset ATB_SIM_READING; else export ATB_SIM_READING=$r; fi
	e2e_bridge --sim-arg=--baud=$BAUD --sim-arg=--ping-interval-ms=1000
	w='%{size_download} %{size_upload} %{time_total}\n'
	read -r down _ dt < <(in_cli curl -sS -o "$WORK"/got -w "$w" "http://$SRV_ADDR/bulk") || fail "$r: download failed"
	[ "$(sha_of "$WORK"/got)" = "$(sha_of "$WORK"/www/bulk)" ] || fail "$r: download sha256 differs"
	read -r _ up ut < <(in_cli curl -sS -H "Expect:" -o "$WORK"/upsha -T "$WORK"/up -w "$w" "http://$SRV_ADDR/sha256") ||
		fail "$r: upload failed"
	[ "$(cat "$WORK"/upsha)" = "$(sha_of "$WORK"/up)" ] || fail "$r: upload sha256 differs"
	# 8 connections one after another (N11V2: 5 links): from the sixth on,
	# each needs a link given back by a close.
	cmax=0
	for _ in $(seq 8); do
		t=$(in_cli curl -sS -o /dev/null -w '%{time_total}' "http://$SRV_ADDR/") || fail "$r: request failed"
		cmax=$(python3 -c "print(max($cmax, $t))")
	done
	p=$(in_cli ping -n -c 3 -W 3 $SRV_ADDR | sed -n 's/.* \([0-9]*\) received.*/\1/p')
	python3 - "$r" "$line" "$down" "$dt" "$up" "$ut" "$cmax" "$p" <<'PY'
import sys
r, line, down, dt, up, ut, cmax, p = sys.argv[1:]
line = int(line)
print(f"{r:<18} {float(down)/float(dt)/line:9.3f} {float(up)/float(ut)/line:9.3f} {float(cmax):10.2f}s {p:>4}/3")
PY
	kill -TERM "$BRIDGE_PID"; wait "$BRIDGE_PID" 2>/dev/null; BRIDGE_PID=
done

#!/usr/bin/env bash
# Bulk TCP throughput through tun0 over the simulated SIM7000 (multi-link,
# CIPRXGET/CIPSEND), against the line rate of the paced serial line.
#
#   tests/bench/tcp_throughput.sh [BUILD_DIR] [BAUD] [BYTES]
#
# Prints payload bytes/s of the transfer phase (curl's time_total minus
# time_pretransfer: connection set-up is not bulk throughput) and the ratio to
# the line rate baud/10 bytes/s (8N1). Needs root. Not a CI test.
set -u
BUILD=${1:-build}
BAUD=${2:-115200}
BYTES=${3:-300000}
ATBRIDGE=$(cd "$BUILD" && pwd)/bin/atbridge
ATBRIDGE_SIM=$(cd "$BUILD" && pwd)/bin/atbridge-sim
. "$(dirname "$0")"/../e2e/lib.sh

e2e_netns
e2e_httpd
e2e_bridge --baud "$BAUD"
line=$(( BAUD / 10 ))
e2e_file bulk "$BYTES"
head -c "$BYTES" /dev/urandom >"$WORK"/up

w='%{size_download} %{size_upload} %{time_pretransfer} %{time_total}\n'
read -r down _ pre total < <(in_cli curl -sS -o "$WORK"/got -w "$w" "http://$SRV_ADDR/bulk") || fail "download failed"
[ "$(sha_of "$WORK"/got)" = "$(sha_of "$WORK"/www/bulk)" ] || fail "download sha256 differs"
read -r _ up upre utotal < <(in_cli curl -sS -o "$WORK"/upsha -T "$WORK"/up -w "$w" "http://$SRV_ADDR/sha256") || fail "upload failed"
[ "$(cat "$WORK"/upsha)" = "$(sha_of "$WORK"/up)" ] || fail "upload sha256 differs"

python3 - "$BAUD" "$line" "$down" "$pre" "$total" "$up" "$upre" "$utotal" <<'PY'
import sys
baud, line, down, pre, total, up, upre, utotal = sys.argv[1:]
line = int(line)
d = float(down) / (float(total) - float(pre))
u = float(up) / (float(utotal) - float(upre))
print(f"line rate at {baud} baud 8N1: {line} bytes/s")
print(f"download: {int(float(down))} bytes, {d:.0f} bytes/s, ratio {d/line:.3f} (target >= 0.95)")
print(f"upload:   {int(float(up))} bytes, {u:.0f} bytes/s, ratio {u/line:.3f} (target >= 0.90)")
PY

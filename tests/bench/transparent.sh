#!/usr/bin/env bash
# Bulk TCP throughput through tun0 over a transparent link (--link
# transparent: SIM7000 CIPMODE=1, or N11V2 TCPTRANS with ATB_MODEL=n11v2),
# against the line rate of the paced serial line.
#
#   [ATB_MODEL=sim7000|n11v2] tests/bench/transparent.sh [BUILD_DIR] [BAUD] [BYTES]
#
# Prints payload bytes/s of the transfer phase (curl's time_total minus
# time_pretransfer) and the ratio to the line rate baud/10 bytes/s (8N1).
# The upload is sent without "Expect: 100-continue" (curl would otherwise
# wait 1 s for an answer the test server never gives). Needs root. Not a CI
# test.
set -u
BUILD=${1:-build}
BAUD=${2:-115200}
BYTES=${3:-300000}
ATBRIDGE=$(cd "$BUILD" && pwd)/bin/atbridge
ATBRIDGE_SIM=$(cd "$BUILD" && pwd)/bin/atbridge-sim
. "$(dirname "$0")"/../e2e/lib.sh

e2e_netns
e2e_httpd
e2e_bridge --baud "$BAUD" --link transparent
line=$(( BAUD / 10 ))
e2e_file bulk "$BYTES"
head -c "$BYTES" /dev/urandom >"$WORK"/up

w='%{size_download} %{size_upload} %{time_pretransfer} %{time_total}\n'
read -r down _ pre total < <(in_cli curl -sS -o "$WORK"/got -w "$w" "http://$SRV_ADDR/bulk") || fail "download failed"
[ "$(sha_of "$WORK"/got)" = "$(sha_of "$WORK"/www/bulk)" ] || fail "download sha256 differs"
read -r _ up upre utotal < <(in_cli curl -sS -H 'Expect:' -o "$WORK"/upsha -T "$WORK"/up -w "$w" \
	"http://$SRV_ADDR/sha256") || fail "upload failed"
[ "$(cat "$WORK"/upsha)" = "$(sha_of "$WORK"/up)" ] || fail "upload sha256 differs"

python3 - "$ATB_MODEL" "$BAUD" "$line" "$down" "$pre" "$total" "$up" "$upre" "$utotal" <<'PY'
import sys
model, baud, line, down, pre, total, up, upre, utotal = sys.argv[1:]
line = int(line)
d = float(down) / (float(total) - float(pre))
u = float(up) / (float(utotal) - float(upre))
print(f"{model} transparent, line rate at {baud} baud 8N1: {line} bytes/s")
print(f"download: {int(float(down))} bytes, {d:.0f} bytes/s, ratio {d/line:.3f} (target >= 0.98)")
print(f"upload:   {int(float(up))} bytes, {u:.0f} bytes/s, ratio {u/line:.3f} (target >= 0.98)")
PY

#!/usr/bin/env bash
# The benchmarks, in one command (root):
#
#   tests/bench/run.sh [BUILD_DIR]
#
# Installs what is missing (Debian packages), builds atbridge and
# atbridge-sim without sanitizers (RelWithDebInfo) in BUILD_DIR (default
# build-bench), runs every scenario through the simulator in network
# namespaces it makes and removes (tests/bench/bench.py), and writes
# docs/benchmarks.json (raw figures), docs/benchmarks.md (tables, targets)
# and docs/benchmarks-throughput.svg (gnuplot). About 10-15 minutes.
#
# Environment: BENCH_OUT=DIR writes there instead of docs/; BENCH_QUICK=1
# uses small sizes (a smoke run, not for publication); BENCH_ONLY=bulk,flows,
# rr,dns,ppp picks scenarios; BENCH_KEEP=1 keeps the work directory.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD=${1:-$REPO/build-bench}
OUT=${BENCH_OUT:-$REPO/docs}

if [ "$(id -u)" != 0 ]; then
	echo "run.sh: needs root (network namespaces, /dev/net/tun)" >&2
	exit 1
fi

# command -> Debian package; ppp is optional (the pppd reference needs a
# kernel with PPP; without it tests/bench/uppp.py stands in)
missing=()
for pair in cmake:cmake cc:build-essential pkg-config:pkg-config python3:python3 \
	ip:iproute2 dig:dnsutils gnuplot:gnuplot-nox pppd:ppp; do
	command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
for pkg in liblwip-dev libev-dev libnl-3-dev libnl-route-3-dev; do
	dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "run.sh: installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

cmake -S "$REPO" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DATB_SANITIZE=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target atbridge atbridge-sim >/dev/null

mkdir -p "$OUT"
python3 "$HERE"/bench.py "$BUILD" "$OUT"
python3 "$HERE"/report.py "$OUT"/benchmarks.json "$OUT"
echo "run.sh: wrote $OUT/benchmarks.md, benchmarks.json, benchmarks-throughput.svg"

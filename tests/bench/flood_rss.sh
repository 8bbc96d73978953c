#!/usr/bin/env bash
# Peak RSS of atbridge (a build without sanitizers) under SYN, UDP and DNS
# floods from the tun while a legitimate download runs. Bound: 8 MB.
#   tests/bench/flood_rss.sh [BUILD_DIR]   (root; BUILD_DIR built RelWithDebInfo)
BUILD=$(cd "${1:-build-rel}" && pwd)
RSS_LIMIT_KB=${RSS_LIMIT_KB:-8192} ATBRIDGE=$BUILD/bin/atbridge ATBRIDGE_SIM=$BUILD/bin/atbridge-sim \
	exec "$(dirname "$0")"/../e2e/flood.sh

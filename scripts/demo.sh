#!/usr/bin/env bash
# The main job on a machine with no module attached: atbridge runs against
# atbridge-sim (its built-in default), and curl in a client network namespace
# whose default route is tun0 fetches a page from a test server on
# 198.51.100.10 — every byte crossing the simulated module as AT commands.
# Needs root. Everything it makes is removed at the end.
set -eu
cd "$(dirname "$0")/.."
./scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target atbridge atbridge-sim atbridgectl
ATBRIDGE=$PWD/build/bin/atbridge
ATBRIDGE_SIM=$PWD/build/bin/atbridge-sim
. tests/e2e/lib.sh
e2e_netns
e2e_httpd
echo "<html><body>Hello through atbridge</body></html>" >"$WORK"/www/index.html
echo "== starting atbridge (simulated SIM7000 at 115200 baud)"
e2e_bridge
in_cli ip -br addr show dev tun0
in_cli ip route
echo "== curl http://$SRV_ADDR/ from the client namespace, through tun0:"
in_cli curl -sS --max-time 30 "http://$SRV_ADDR/" || fail "curl through tun0 failed"
echo "== AT commands the simulated module received for it:"
grep -E "CIPSTART|CIPSEND|CIPRXGET=2|CIPCLOSE" "$WORK"/sim-commands.log | head -8
in_cli "$PWD"/build/bin/atbridgectl --socket "$WORK"/atbridge.sock status | sed -n '1,3p;/data link/p'
pass "a page fetched through tun0 over the simulated module"
echo
echo "Binaries: $PWD/build/bin/{atbridge,atbridgectl,atbridge-sim} (man pages: man -l man/atbridge.8)"
echo "Try it on this host: sudo build/bin/atbridge   then curl, dig, ping and atbridgectl status (README, \"Try it\")"
echo "With a module: sudo build/bin/atbridge --device /dev/ttyUSB2 --apn internet; all tests: sudo ./scripts/test.sh"

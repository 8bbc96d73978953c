#!/usr/bin/env bash
# The test command: installs dependencies, builds with AddressSanitizer and
# UndefinedBehaviorSanitizer, runs every test with ctest, in parallel (one
# job per core; the tests share no state: each end-to-end test makes its own
# namespaces, sockets and files). End-to-end tests need root; without it they
# are reported as skipped. A skipped test's reason (its "SKIP" line) is
# printed after ctest's summary. Arguments go to ctest (e.g. -R e2e, -j1).
set -eu
cd "$(dirname "$0")/.."
./scripts/deps.sh
cmake -S . -B build-test -DATB_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-test -j"$(nproc)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
jobs=(-j"$(nproc)")
for a in "$@"; do
	case $a in -j*|--parallel*) jobs=() ;; esac
done
start=$(date +%s)
set +e
ctest --test-dir build-test --output-on-failure "${jobs[@]}" "$@" | tee build-test/ctest.out
rc=${PIPESTATUS[0]}
set -e
# ctest names skipped tests ("did not run") but not why: their output says.
skipped=$(sed -n 's/^[[:space:]]*[0-9]* - \(.*\) (Skipped)$/\1/p' build-test/ctest.out)
if [ -n "$skipped" ]; then
	echo "Why they were skipped:"
	for t in $skipped; do
		why=$(awk -v t="$t" '
			$0 ~ "^[0-9]+/[0-9]+ Test: " t "$" { on = 1; next }
			on && /^[0-9]+\/[0-9]+ Test: / { exit }
			on && /SKIP|[Ss]kipped/ { print; exit }' build-test/Testing/Temporary/LastTest.log)
		echo "  $t: ${why:-(no reason printed)}"
	done
fi
echo "ctest took $(($(date +%s) - start)) s"
exit "$rc"

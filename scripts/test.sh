#!/usr/bin/env bash
# The test command: installs dependencies, builds with AddressSanitizer and
# UndefinedBehaviorSanitizer, runs every test with ctest. End-to-end tests
# need root; without it they are reported as skipped.
set -eu
cd "$(dirname "$0")/.."
./scripts/deps.sh
cmake -S . -B build-test -DATB_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-test -j"$(nproc)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir build-test --output-on-failure "$@"

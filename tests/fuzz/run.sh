#!/usr/bin/env bash
# Builds every fuzzer with clang (libFuzzer + ASan + UBSan) and runs each for
# SECONDS. Usage: tests/fuzz/run.sh SECONDS [NAME...]
#   names: dns config_args config_file control modem modem_n11v2 tun
# Build dir: $ATB_FUZZ_BUILD (default build-fuzz in the source tree). Each
# fuzzer keeps its corpus in <build>/fuzz-corpus/<name> (seeded from
# tests/fuzz/regress/ where there is one); a crash is written to
# <build>/fuzz-artifacts/ and makes the script exit 1. Copy such an input to
# tests/fuzz/regress/<fuzzer>/ once fixed: ctest replays it from then on.
set -eu
secs=${1:?usage: run.sh SECONDS [NAME...]}
shift
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${ATB_FUZZ_BUILD:-$src/build-fuzz}
names=${*:-dns config_args config_file control modem modem_n11v2 tun}
command -v clang >/dev/null || { echo "run.sh: clang is needed (apt-get install clang)" >&2; exit 2; }

cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER=clang -DATB_FUZZ=ON -DATB_SANITIZE=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target fuzz_dns_lf fuzz_config_args_lf fuzz_config_file_lf \
	fuzz_control_lf fuzz_modem_lf fuzz_lwip_input >/dev/null
mkdir -p "$build/fuzz-artifacts"

bad=0
for name in $names; do
	bin=$build/bin/fuzz_${name}_lf
	env=
	case $name in
	modem_n11v2) bin=$build/bin/fuzz_modem_lf; env=ATB_FUZZ_MODEL=n11v2 ;;
	tun) bin=$build/bin/fuzz_lwip_input ;;
	esac
	corpus=$build/fuzz-corpus/$name
	mkdir -p "$corpus"
	[ -d "$src/tests/fuzz/regress/$name" ] && cp -n "$src/tests/fuzz/regress/$name"/* "$corpus"/ 2>/dev/null || true
	log=$build/fuzz-artifacts/$name.log
	if env $env "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$build/fuzz-artifacts/$name-" "$corpus" >"$log" 2>&1; then
		runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 runs in \2 s/p' "$log" | tail -1)
		cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
		echo "PASS fuzz $name: ${runs:-?}, $cov, corpus $(ls "$corpus" | wc -l)"
	else
		echo "FAIL fuzz $name: see $log"; grep -m3 "ERROR\|broken promise\|SUMMARY" "$log" || true
		bad=1
	fi
done
exit $bad

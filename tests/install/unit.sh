#!/usr/bin/env bash
# systemd-analyze verify on the unit file, as the build configures it but
# with ExecStart= pointing at the built binary (verify wants it to exist).
# Usage: unit.sh UNIT_FILE BINDIR      (exit 77 without systemd-analyze)
set -u
unit=${1:?unit file} bindir=${2:?bin dir}
command -v systemd-analyze >/dev/null || { echo "SKIP: systemd-analyze not installed (package systemd)"; exit 77; }
d=$(mktemp -d /tmp/atbridge-unit.XXXXXX)
trap 'rm -rf "$d"' EXIT
sed -E "s#^ExecStart=.*/atbridge#ExecStart=$bindir/atbridge#" "$unit" >"$d"/atbridge.service
grep -q "^ExecStart=$bindir/atbridge" "$d"/atbridge.service || { echo "FAIL: no ExecStart= in $unit"; exit 1; }
# --man=no: the man pages are not installed in a build tree.
if ! out=$(systemd-analyze --man=no verify "$d"/atbridge.service 2>&1) || [ -n "$out" ]; then
	echo "FAIL: systemd-analyze verify:"
	echo "$out"
	exit 1
fi
echo "PASS: systemd-analyze verify accepts atbridge.service"

#!/usr/bin/env bash
# Runs every code block of README.md and docs/*.md marked runnable
# (```sh runnable): so that the commands the docs show cannot rot silently.
# Each block runs with bash -e in a scratch directory, the build's binaries
# first in PATH, at most 60 s. Blocks that need hardware, the network or a
# system change are not marked.
# Usage: docs_runnable.sh SOURCE_DIR BIN_DIR
set -u
SRC=${1:?source dir} BIN=${2:?bin dir}
T=$(mktemp -d /tmp/atbridge-docs.XXXXXX)
trap 'rm -rf "$T"' EXIT
n=0 bad=0
for f in "$SRC"/README.md "$SRC"/docs/*.md; do
	awk -v out="$T/block" '
		/^```sh runnable$/ { on = 1; k++; file = out "." k; printf "" > file; next }
		on && /^```$/ { on = 0; close(file); next }
		on { print >> file }' "$f"
	for b in "$T"/block.*; do
		[ -e "$b" ] || continue
		n=$((n + 1))
		mkdir -p "$T"/run
		if ! out=$(cd "$T"/run && PATH=$BIN:$PATH timeout 60 bash -e "$b" 2>&1); then
			echo "FAIL: a runnable block of ${f#$SRC/} failed:"
			sed 's/^/    /' "$b"
			echo "  output:"
			echo "$out" | tail -15 | sed 's/^/    /'
			bad=1
		fi
		rm -rf "$b" "$T"/run
	done
done
[ $n -ge 1 ] || { echo "FAIL: no runnable block found"; exit 1; }
[ $bad = 0 ] && echo "PASS: $n runnable blocks of README.md and docs/ ran"
exit $bad

#!/usr/bin/env bash
# Every file setting of config.c is in the example file, docs/configuration.md,
# atbridge.conf(5), atbridge(8) and --help. Usage: options_documented.sh SRC ATBRIDGE
set -u
SRC=${1:?source dir}
BIN=${2:?atbridge binary}
help=$("$BIN" --help)
names=$(sed -n 's/^\t{"\([a-z-]*\)", [a-z_]*, [A-Z_'"'"'a-z]*, true},$/\1/p' "$SRC"/config/config.c)
[ "$(echo "$names" | wc -l)" -ge 30 ] || { echo "FAIL: could not read the option table"; exit 1; }
bad=0
for n in $names; do
	grep -q "^#$n =" "$SRC"/dist/atbridge.conf || { echo "FAIL: $n missing from dist/atbridge.conf"; bad=1; }
	grep -q "| \`$n\` |" "$SRC"/docs/configuration.md || { echo "FAIL: $n missing from docs/configuration.md"; bad=1; }
	man=$(echo "$n" | sed 's/-/\\\\-/g')
	grep -q "$man" "$SRC"/man/atbridge.conf.5 || { echo "FAIL: $n missing from atbridge.conf(5)"; bad=1; }
	grep -q "\\\\-\\\\-$man" "$SRC"/man/atbridge.8 || { echo "FAIL: $n missing from atbridge(8)"; bad=1; }
	echo "$help" | grep -q -- "--$n" || { echo "FAIL: $n missing from --help"; bad=1; }
done
[ $bad = 0 ] && echo "PASS: $(echo "$names" | wc -l) settings documented everywhere"
exit $bad

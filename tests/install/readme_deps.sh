#!/usr/bin/env bash
# README's package list (section "Requirements") and scripts/deps.sh's
# agree, so that a reader installing by hand gets what the scripts get.
# Usage: readme_deps.sh SOURCE_DIR
set -u
SRC=${1:?source dir}
deps=$(sed -n '/^PKGS="/,/"$/p' "$SRC"/scripts/deps.sh | tr -d '"' | sed 's/^PKGS=//' | tr ' \t' '\n\n' | grep . | sort)
readme=$(sed -n '/^## Requirements/,/^## /p' "$SRC"/README.md | tr '\n' ' ' | grep -o '`[^`]*`' |
	tr -d '`' | tr ' ' '\n' | grep -E '^[a-z0-9][a-z0-9.+-]+$' | grep -v '^scripts' | sort -u)
[ "$(echo "$deps" | wc -l)" -ge 10 ] || { echo "FAIL: could not read deps.sh's list"; exit 1; }
if [ "$deps" != "$readme" ]; then
	echo "FAIL: README's Requirements and scripts/deps.sh differ:"
	diff <(echo "$deps") <(echo "$readme") | sed 's/^</  only in deps.sh:/; s/^>/  only in README:/' | grep only
	exit 1
fi
echo "PASS: README and deps.sh list the same $(echo "$deps" | wc -l) packages"

#!/usr/bin/env bash
# Builds the .deb with CPack (release build, prefix /usr), unpacks it into a
# scratch root and checks what a user gets: binaries, unit, man pages, the
# configuration file (a conffile), declared dependencies; the unpacked
# atbridge reads the unpacked configuration.
# Usage: deb.sh SOURCE_DIR
set -u
SRC=${1:?source dir}
for tool in dpkg-deb cpack cmake; do
	command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
T=$(mktemp -d /tmp/atbridge-deb.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
pass() { echo "PASS: $*"; }

cmake -S "$SRC" -B "$T"/build -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr >"$T"/cmake.log 2>&1 ||
	{ tail -20 "$T"/cmake.log; fail "cmake configure"; }
cmake --build "$T"/build -j"$(nproc)" --target atbridge atbridgectl atbridge-sim >"$T"/build.log 2>&1 ||
	{ tail -30 "$T"/build.log; fail "release build (-O2)"; }
(cd "$T"/build && cpack -G DEB -C Release >"$T"/cpack.log 2>&1) || { tail -30 "$T"/cpack.log; fail "cpack"; }
deb=$(ls "$T"/build/atbridge_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || fail "no .deb made"
pass "built $(basename "$deb")"

info=$(dpkg-deb -I "$deb")
echo "$info" | grep -E '^ (Package|Version|Architecture|Depends):'
dep=$(echo "$info" | sed -n 's/^ Depends: //p')
for lib in libc6 libev4 liblwip0 libnl-3-200 libnl-route-3-200 libinih1; do
	echo "$dep" | grep -q "$lib" || fail "Depends lacks $lib: $dep"
done
echo "$dep" | grep -q "asan\|ubsan" && fail "Depends names a sanitizer runtime: $dep"
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles 2>/dev/null | grep -qx /etc/atbridge.conf ||
	fail "/etc/atbridge.conf is not a conffile"
pass "control: Depends declares the run-time libraries; /etc/atbridge.conf is a conffile"
if command -v apt-get >/dev/null; then
	# What a fresh machine's apt would do with it (simulated: nothing installed).
	apt-get install -s "$deb" >"$T"/apt.log 2>&1 || { cat "$T"/apt.log; fail "apt-get -s install refuses the package"; }
	grep -q "^Inst atbridge " "$T"/apt.log || { cat "$T"/apt.log; fail "apt-get -s install would not install it"; }
	pass "apt-get -s install resolves its dependencies"
fi

R=$T/root
mkdir -p "$R"
dpkg-deb -x "$deb" "$R" || fail "dpkg-deb -x"
for f in usr/sbin/atbridge usr/sbin/atbridgectl usr/bin/atbridge-sim; do
	[ -x "$R/$f" ] || fail "missing executable /$f"
done
for f in usr/lib/systemd/system/atbridge.service etc/atbridge.conf \
	usr/share/man/man8/atbridge.8 usr/share/man/man8/atbridgectl.8 \
	usr/share/man/man1/atbridge-sim.1 usr/share/man/man5/atbridge.conf.5 \
	usr/share/doc/atbridge/examples/atbridge.conf usr/share/doc/atbridge/configuration.md \
	usr/share/doc/atbridge/containers.md usr/share/doc/atbridge/modemmanager.md \
	usr/lib/udev/rules.d/90-atbridge-modemmanager.rules; do
	[ -f "$R/$f" ] || fail "missing /$f"
done
[ "$(stat -c %a "$R"/etc/atbridge.conf)" = 600 ] || fail "/etc/atbridge.conf is not mode 600 (it may hold secrets)"
grep -qx "ExecStart=/usr/sbin/atbridge" "$R"/usr/lib/systemd/system/atbridge.service || fail "unit ExecStart"
grep -qx "Type=notify" "$R"/usr/lib/systemd/system/atbridge.service || fail "unit Type"
grep -q 'ENV{ID_MM_DEVICE_IGNORE}="1"' "$R"/usr/lib/udev/rules.d/90-atbridge-modemmanager.rules ||
	fail "the udev rule does not set ID_MM_DEVICE_IGNORE"
if command -v udevadm >/dev/null; then
	out=$(udevadm verify "$R"/usr/lib/udev/rules.d/90-atbridge-modemmanager.rules 2>&1) ||
		{ echo "$out" | grep -q "Unknown command\|unknown command" || fail "udevadm verify: $out"; }
fi
pass "files: binaries, unit, man pages, udev rule, configuration and docs in place"

"$R"/usr/sbin/atbridge --version | grep -q '^atbridge ' || fail "unpacked atbridge --version"
out=$("$R"/usr/sbin/atbridge --config "$R"/etc/atbridge.conf --check-config) ||
	fail "the installed example configuration does not validate"
echo "$out" | grep -q '^mtu = 1500$' || fail "--check-config output: $out"
"$R"/usr/sbin/atbridgectl --help | grep -q status || fail "atbridgectl --help"
if command -v groff >/dev/null; then
	for m in "$R"/usr/share/man/man*/*; do
		w=$(groff -man -Tutf8 -ww -z "$m" 2>&1)
		[ -z "$w" ] || fail "groff warns about $(basename "$m"): $w"
	done
	pass "man pages format without warnings"
fi
if command -v systemd-analyze >/dev/null; then
	sed "s#^ExecStart=/usr/sbin/atbridge#ExecStart=$R/usr/sbin/atbridge#" \
		"$R"/usr/lib/systemd/system/atbridge.service >"$T"/atbridge.service
	w=$(MANPATH=$R/usr/share/man systemd-analyze verify "$T"/atbridge.service 2>&1 | grep -v "^$" | grep -iv "Failed to .*connect\|System has not been booted\|Failed to prepare filename\|bus" )
	[ -z "$w" ] || fail "systemd-analyze verify: $w"
	pass "systemd-analyze verify accepts the unit"
fi
pass "the unpacked atbridge reads the packaged configuration"
exit 0

#!/usr/bin/env bash
# Installs what atbridge needs to build and test, from Debian's packages.
# Does nothing when everything is already there.
set -eu
PKGS="build-essential cmake pkg-config liblwip-dev libev-dev libnl-3-dev libinih-dev
libnl-route-3-dev libcmocka-dev python3 curl socat iperf3 iproute2
dnsutils iputils-ping jq python3-prometheus-client"
missing=
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "atbridge: missing Debian packages:$missing; run this as root to install them" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# Another apt or dpkg (unattended-upgrades at boot, a second terminal) holds
# the lock: wait for it, up to 5 minutes, instead of failing at once.
wait_lock=(-o DPkg::Lock::Timeout=300)
for try in $(seq 18); do
	apt-get "${wait_lock[@]}" update && break
	[ "$try" = 18 ] && exit 1
	echo "atbridge: apt-get update failed (lock held?); trying again in 10 s" >&2
	sleep 10
done
apt-get "${wait_lock[@]}" install -y --no-install-recommends $missing

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
apt-get update
apt-get install -y --no-install-recommends $missing

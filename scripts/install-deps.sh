#!/bin/sh
# Installs the Debian packages crashsh builds against (libdw, libelf, libedit, the
# decompressors (zlib pages through libdeflate), Zydis) and the tools its tests and benchmarks use (dwz: the debuginfo tests). Idempotent; needs root or sudo.
set -eu
pkgs="libdw-dev libelf-dev libedit-dev zlib1g-dev libdeflate-dev liblzo2-dev libsnappy-dev libzstd-dev libzydis-dev elfutils zstd makedumpfile dwz"
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
echo "install-deps: installing$missing" >&2
$SUDO apt-get update -q >&2
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >&2

#!/bin/sh
# Finds or fetches the vmlinux with debuginfo for a kernel release, the way a user would:
# first the usual places (/usr/lib/debug/boot, /usr/lib/debug/lib/modules, the crashsh cache),
# otherwise Debian's -dbg package, of which only the vmlinux is kept, in the crashsh cache
# ($XDG_CACHE_HOME/crashsh/debuginfo, where crashsh looks for it). Prints the vmlinux path.
#
#   scripts/fetch-debuginfo.sh 6.1.0-56-cloud-amd64 linux-image-6.1.0-56-cloud-amd64-dbg 6.1.192-2
set -eu
release=$1; pkg=${2:-linux-image-$1-dbg}; version=${3:-}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/crashsh/debuginfo
out=$cache/vmlinux-$release
for c in "$out" /usr/lib/debug/boot/vmlinux-$release /usr/lib/debug/lib/modules/$release/vmlinux; do
  [ -s "$c" ] && { echo "$c"; exit 0; }
done
mkdir -p "$cache"
# The test fixtures keep the same file; reuse it rather than download it twice.
fx=${CRASHSH_FIXTURES:-${XDG_CACHE_HOME:-$HOME/.cache}/crashsh-fixtures}
for c in "$fx"/*/vmlinux-$release; do
  [ -s "$c" ] && { ln -sf "$(readlink -f "$c")" "$out"; echo "$out"; exit 0; }
done
echo "fetch-debuginfo: downloading $pkg${version:+ $version} (about 300 MB, once)" >&2
tmp=$(mktemp -d "$cache/.dl.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
spec=$pkg; [ -n "$version" ] && spec="$pkg=$version"
(cd "$tmp" && { apt-get download "$spec" >&2 || { apt-get update -q >&2 && apt-get download "$spec" >&2; }; })
dpkg-deb --fsys-tarfile "$tmp"/*.deb | tar -x -C "$tmp" --wildcards "*/boot/vmlinux-$release"
mv "$tmp/usr/lib/debug/boot/vmlinux-$release" "$out.part" && mv "$out.part" "$out"
echo "$out"

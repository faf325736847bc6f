#!/bin/sh
# Finds or fetches the vmlinux with debuginfo for a kernel release, the way a user would:
# first the usual places (/usr/lib/debug/boot, /usr/lib/debug/lib/modules, the crashsh cache),
# otherwise Debian's -dbg package, of which only the vmlinux is kept, in the crashsh cache
# ($XDG_CACHE_HOME/crashsh/debuginfo, where crashsh looks for it). Prints the vmlinux path.
# With --modules, the package's module debuginfo (.ko files with DWARF) is also unpacked, under
# the cache's lib/modules/RELEASE/ (where `mod -s`/`mod -S` look); prints that directory too.
#
#   scripts/fetch-debuginfo.sh [--modules] 6.1.0-56-cloud-amd64 linux-image-6.1.0-56-cloud-amd64-dbg 6.1.192-2
set -eu
modules=no
[ "${1:-}" = --modules ] && { modules=yes; shift; }
release=$1; pkg=${2:-linux-image-$1-dbg}; version=${3:-}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/crashsh/debuginfo
out=$cache/vmlinux-$release
moddir=$cache/lib/modules/$release
found=""
for c in "$out" /usr/lib/debug/boot/vmlinux-$release /usr/lib/debug/lib/modules/$release/vmlinux; do
  [ -s "$c" ] && { found=$c; break; }
done
# The test fixtures keep the same file; reuse it rather than download it twice.
fx=${CRASHSH_FIXTURES:-${XDG_CACHE_HOME:-$HOME/.cache}/crashsh-fixtures}
if [ -z "$found" ]; then
  for c in "$fx"/*/vmlinux-$release; do
    [ -s "$c" ] && { mkdir -p "$cache"; ln -sf "$(readlink -f "$c")" "$out"; found=$out; break; }
  done
fi
needmods=no
if [ $modules = yes ] && [ ! -d "$moddir" ] && [ ! -d "/usr/lib/debug/lib/modules/$release/kernel" ]; then
  needmods=yes
fi
if [ -n "$found" ] && [ $needmods = no ]; then
  echo "$found"
  [ $modules = yes ] && { [ -d "$moddir" ] && echo "$moddir" || echo "/usr/lib/debug/lib/modules/$release"; }
  exit 0
fi
mkdir -p "$cache"
echo "fetch-debuginfo: downloading $pkg${version:+ $version} (about 300 MB, once)" >&2
tmp=$(mktemp -d "$cache/.dl.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
spec=$pkg; [ -n "$version" ] && spec="$pkg=$version"
(cd "$tmp" && { apt-get download "$spec" >&2 || { apt-get update -q >&2 && apt-get download "$spec" >&2; }; })
if [ -z "$found" ]; then
  dpkg-deb --fsys-tarfile "$tmp"/*.deb | tar -x -C "$tmp" --wildcards "*/boot/vmlinux-$release"
  mv "$tmp/usr/lib/debug/boot/vmlinux-$release" "$out.part" && mv "$out.part" "$out"
  found=$out
fi
echo "$found"
if [ $needmods = yes ]; then
  dpkg-deb --fsys-tarfile "$tmp"/*.deb | tar -x -C "$tmp" --wildcards "*/lib/modules/$release/*.ko"
  mkdir -p "$cache/lib/modules"
  rm -rf "$moddir.part"
  mv "$tmp/usr/lib/debug/lib/modules/$release" "$moddir.part" && mv "$moddir.part" "$moddir"
  echo "$moddir"
fi

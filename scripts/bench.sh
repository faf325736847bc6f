#!/bin/bash
# Side-by-side benchmarks for the closing notes: crashsh next to crash 8.0.6 and drgn 0.3.0 on
# the same fixture files, in one run. Wall time from hyperfine (cold process each run, warm
# page cache), peak RSS from /usr/bin/time -v. Not a test: numbers depend on the machine.
#
#   scripts/bench.sh [vmcoreinfo|pages|symbols|all]
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
command -v hyperfine >/dev/null && [ -x /usr/bin/time ] || {
  apt-get install -y -q hyperfine time >&2 || { apt-get update -q >&2 && apt-get install -y -q hyperfine time >&2; }; }
F=${CRASHSH_FIXTURES:-$(sh ../shared/fixtures/prepare.sh)}/debian-6.1-cloud
V=$F/vmlinux-6.1.0-56-cloud-amd64
# SCRATCH: the build directory (default .build); helpers building in parallel use their own.
SCRATCH=${SCRATCH:-.build}
swift build -c release --scratch-path "$SCRATCH" >&2
BIN=$(swift build -c release --scratch-path "$SCRATCH" --show-bin-path)
C=$BIN/crashsh
DUMPS="vmcore dump.kdump dump-lzo.kdump dump-zstd.kdump dump.flat dump.elf qemu.elf qemu.kdump"

peak() { # command... -> "peak RSS MiB"
  /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F: '/Maximum resident/ {printf "%.1f MiB\n", $2/1024}'
}

if [ "$what" = vmcoreinfo ] || [ "$what" = all ]; then
  echo "## crashsh -c vmcoreinfo, each fixture"
  for d in $DUMPS; do
    printf '%-16s peak %s\n' "$d" "$(peak "$C" -c vmcoreinfo "$F/$d")"
  done
  args=()
  for d in $DUMPS; do args+=(-n "$d" "$C -c vmcoreinfo $F/$d"); done
  hyperfine -N -w 3 -m 20 --style basic "${args[@]}" 2>&1 | grep -E 'Time|^Benchmark'
fi

if [ "$what" = pages ] || [ "$what" = all ]; then
  echo "## read every present page (crashsh-bench), MB/s next to the bare decompressor on the same pages"
  for d in $DUMPS; do "$BIN/crashsh-bench" pages "$F/$d"; done
fi

if [ "$what" = symbols ] || [ "$what" = all ]; then
  CRASH=$(sh ../shared/tools/install-crash-8.0.6.sh 2>/dev/null)
  D=$F/dump.kdump
  # Cold: every crashsh run starts with an empty XDG_CACHE_HOME, so no on-disk index from an
  # earlier run helps it; warm: the index the first run left. crash and drgn keep no such cache.
  COLD=$(mktemp -d /tmp/crashsh-bench-cold.XXXXXX)
  WARM=$(mktemp -d /tmp/crashsh-bench-warm.XXXXXX)
  trap 'rm -rf "$COLD" "$WARM"' EXIT
  EMPTY="rm -rf $COLD && mkdir -p $COLD"
  XDG_CACHE_HOME=$WARM "$C" -c 'sym schedule; struct task_struct' "$D" "$V" >/dev/null 2>&1 || true
  echo "## cold 'sym schedule' and 'struct task_struct' (vmlinux page cache warm, crashsh with empty XDG_CACHE_HOME)"
  printf 'sym schedule\nq\n' > /tmp/crashsh-bench-sym.in
  printf 'struct task_struct\nq\n' > /tmp/crashsh-bench-struct.in
  cat > /tmp/crashsh-bench-drgn.py <<'PY'
import sys, drgn
prog = drgn.Program()
prog.set_core_dump(sys.argv[1])
prog.load_debug_info([sys.argv[2]])
if sys.argv[3] == "sym":
    print(prog.symbol("schedule"))
else:
    print(prog.type("struct task_struct"))
PY
  # One --prepare per command: the crashsh cold rows empty their cache before every run.
  hyperfine -w 1 -m 5 --style basic \
    -p "$EMPTY" -n "crashsh sym schedule (cold)" "XDG_CACHE_HOME=$COLD $C -c 'sym schedule' $D $V" \
    -p "$EMPTY" -n "crashsh struct task_struct (cold)" "XDG_CACHE_HOME=$COLD $C -c 'struct task_struct' $D $V" \
    -p true -n "crashsh sym schedule (warm cache)" "XDG_CACHE_HOME=$WARM $C -c 'sym schedule' $D $V" \
    -p true -n "crashsh struct task_struct (warm cache)" "XDG_CACHE_HOME=$WARM $C -c 'struct task_struct' $D $V" \
    -p true -n "drgn sym schedule" "python3 /tmp/crashsh-bench-drgn.py $D $V sym" \
    -p true -n "drgn struct task_struct" "python3 /tmp/crashsh-bench-drgn.py $D $V struct" \
    -p true -n "crash -s sym schedule" "$CRASH -s $V $D < /tmp/crashsh-bench-sym.in" \
    -p true -n "crash -s struct task_struct" "$CRASH -s $V $D < /tmp/crashsh-bench-struct.in" 2>&1 | grep -E 'Time|^Benchmark'
  for c in "sym schedule" "struct task_struct"; do
    rm -rf "$COLD" && mkdir -p "$COLD"
    printf '%-40s peak %s\n' "crashsh -c '$c' (cold)" "$(XDG_CACHE_HOME=$COLD peak "$C" -c "$c" "$D" "$V")"
  done
  printf '%-40s peak %s\n' "drgn sym" "$(peak python3 /tmp/crashsh-bench-drgn.py "$D" "$V" sym)"
  printf '%-40s peak %s\n' "drgn struct" "$(peak python3 /tmp/crashsh-bench-drgn.py "$D" "$V" struct)"
  printf '%-40s peak %s\n' "crash -s sym" "$(peak sh -c "$CRASH -s $V $D < /tmp/crashsh-bench-sym.in")"
  printf '%-40s peak %s\n' "crash -s struct" "$(peak sh -c "$CRASH -s $V $D < /tmp/crashsh-bench-struct.in")"
fi

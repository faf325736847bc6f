#!/bin/bash
# Side-by-side benchmarks for the closing notes: crashsh next to crash 8.0.6 and drgn 0.3.0 on
# the same fixture files, in one run. Wall time from hyperfine (cold process each run, warm
# page cache), peak RSS from /usr/bin/time -v. Not a test: numbers depend on the machine.
#
#   scripts/bench.sh [vmcoreinfo|pages|symbols|views|bt|novmlinux|triage|stream|all|flat]
#
# `flat` (not part of `all`: it writes 4 GiB to /tmp) times a synthetic flattened dump.
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
  # Cold process: each run is a new process with an empty XDG_CACHE_HOME (crashsh keeps no
  # on-disk index, and this makes sure no earlier run could help it); the vmlinux and dump are
  # in the page cache, as they are for crash and drgn in the same run.
  COLD=$(mktemp -d /tmp/crashsh-bench-cold.XXXXXX)
  trap 'rm -rf "$COLD"' EXIT
  EMPTY="rm -rf $COLD && mkdir -p $COLD"
  echo "## cold process: sym schedule, struct task_struct, p jiffies (crash -s and drgn 0.3.0 doing the same)"
  printf 'sym schedule\nq\n' > /tmp/crashsh-bench-sym.in
  printf 'struct task_struct\nq\n' > /tmp/crashsh-bench-struct.in
  printf 'p jiffies\nq\n' > /tmp/crashsh-bench-jiffies.in
  cat > /tmp/crashsh-bench-drgn.py <<'PY'
import sys, drgn
prog = drgn.Program()
prog.set_core_dump(sys.argv[1])
prog.load_debug_info([sys.argv[2]])
if sys.argv[3] == "sym":
    print(prog.symbol("schedule"))
elif sys.argv[3] == "struct":
    print(prog.type("struct task_struct"))
else:
    print(prog["jiffies"])
PY
  hyperfine -w 1 -m 5 --style basic -p "$EMPTY" \
    -n "crashsh sym schedule" "XDG_CACHE_HOME=$COLD $C -c 'sym schedule' $D $V" \
    -n "crashsh struct task_struct" "XDG_CACHE_HOME=$COLD $C -c 'struct task_struct' $D $V" \
    -n "crashsh p jiffies" "XDG_CACHE_HOME=$COLD $C -c 'p jiffies' $D $V" \
    -n "drgn sym schedule" "python3 /tmp/crashsh-bench-drgn.py $D $V sym" \
    -n "drgn struct task_struct" "python3 /tmp/crashsh-bench-drgn.py $D $V struct" \
    -n "drgn jiffies" "python3 /tmp/crashsh-bench-drgn.py $D $V jiffies" \
    -n "crash -s sym schedule" "$CRASH -s $V $D < /tmp/crashsh-bench-sym.in" \
    -n "crash -s struct task_struct" "$CRASH -s $V $D < /tmp/crashsh-bench-struct.in" \
    -n "crash -s p jiffies" "$CRASH -s $V $D < /tmp/crashsh-bench-jiffies.in" 2>&1 | grep -E 'Time|^Benchmark'
  for c in "sym schedule" "struct task_struct" "p jiffies"; do
    printf '%-34s peak %s\n' "crashsh -c '$c'" "$(XDG_CACHE_HOME=$COLD peak "$C" -c "$c" "$D" "$V")"
  done
  for a in sym struct jiffies; do
    printf '%-34s peak %s\n' "drgn $a" "$(peak python3 /tmp/crashsh-bench-drgn.py "$D" "$V" $a)"
  done
  for a in sym struct jiffies; do
    printf '%-34s peak %s\n' "crash -s $a" "$(peak sh -c "$CRASH -s $V $D < /tmp/crashsh-bench-$a.in")"
  done
fi

if [ "$what" = views ] || [ "$what" = all ]; then
  # Issue 9's kernel views, cold process each, next to drgn 0.3.0's helpers and crash -s doing
  # the same on dump.kdump; `log` also with no vmlinux anywhere (empty HOME, so none is found).
  CRASH=$(sh ../shared/tools/install-crash-8.0.6.sh 2>/dev/null)
  D=$F/dump.kdump
  NOHOME=$(mktemp -d /tmp/crashsh-bench-home.XXXXXX)
  cat > /tmp/crashsh-bench-views.py <<'PY'
import sys, drgn
from drgn.helpers.linux.pid import for_each_task
from drgn.helpers.linux.printk import get_printk_records
from drgn.helpers.linux.module import for_each_module
prog = drgn.Program()
prog.set_core_dump(sys.argv[1])
prog.load_debug_info([sys.argv[2]])
what = sys.argv[3]
if what == "ps":
    for t in for_each_task(prog):
        print(int(t.pid), hex(t.value_()), t.comm.string_().decode())
elif what == "log":
    for r in get_printk_records(prog):
        print(r.text.decode(errors="replace"))
elif what == "mod":
    for m in for_each_module(prog):
        print(m.name.string_().decode())
PY
  echo "## cold process: kernel views on dump.kdump (crashsh; drgn 0.3.0 helpers; crash -s)"
  args=()
  for c in log ps sys mod "kmem -i" runq; do
    args+=(-n "crashsh -c '$c'" "$C -c '$c' $D $V")
  done
  args+=(-n "crashsh -c log (no vmlinux)" "env HOME=$NOHOME XDG_CACHE_HOME=$NOHOME $C -c log $D")
  hyperfine -N -w 2 -m 10 --style basic "${args[@]}" 2>&1 | grep -E 'Time|^Benchmark'
  for c in log ps sys mod "kmem -i" runq; do
    printf '%-34s peak %s\n' "crashsh -c '$c'" "$(peak "$C" -c "$c" "$D" "$V")"
  done
  printf '%-34s peak %s\n' "crashsh -c log (no vmlinux)" "$(HOME=$NOHOME XDG_CACHE_HOME=$NOHOME peak "$C" -c log "$D")"
  if python3 -c 'import drgn' 2>/dev/null; then
    hyperfine -w 1 -m 3 --style basic \
      -n "drgn ps" "python3 /tmp/crashsh-bench-views.py $D $V ps" \
      -n "drgn log" "python3 /tmp/crashsh-bench-views.py $D $V log" \
      -n "drgn mod" "python3 /tmp/crashsh-bench-views.py $D $V mod" 2>&1 | grep -E 'Time|^Benchmark'
    for a in ps log mod; do
      printf '%-34s peak %s\n' "drgn $a" "$(peak python3 /tmp/crashsh-bench-views.py "$D" "$V" $a)"
    done
  else
    echo "drgn: not installed (pip install drgn==0.3.0)"
  fi
  for c in log ps sys mod "kmem -i" runq; do
    printf '%s\nq\n' "$c" > /tmp/crashsh-bench-crash.in
    start=$(date +%s.%N)
    r=$(peak sh -c "$CRASH -s $V $D < /tmp/crashsh-bench-crash.in")
    end=$(date +%s.%N)
    printf '%-34s %6.2f s  peak %s\n' "crash -s '$c'" "$(echo "$end - $start" | bc)" "$r"
  done
  rm -rf "$NOHOME"
fi

if [ "$what" = bt ] || [ "$what" = all ]; then
  # Issue 10's traces, cold process each, on dump.kdump and qemu.elf: `bt -a` (each CPU's task)
  # and `foreach bt` (every task), next to drgn 0.3.0's stack_trace over the same tasks and
  # crash -s (one run each: crash takes seconds).
  CRASH=$(sh ../shared/tools/install-crash-8.0.6.sh 2>/dev/null)
  cat > /tmp/crashsh-bench-bt.py <<'PY'
import sys, drgn
from drgn.helpers.linux.pid import for_each_task
from drgn.helpers.linux.cpumask import for_each_online_cpu
from drgn.helpers.linux.sched import cpu_curr
prog = drgn.Program()
prog.set_core_dump(sys.argv[1])
prog.load_debug_info([sys.argv[2]])
if sys.argv[3] == "all-cpus":
    tasks = [cpu_curr(prog, cpu) for cpu in for_each_online_cpu(prog)]
else:
    tasks = list(for_each_task(prog))
for t in tasks:
    print("PID:", int(t.pid), t.comm.string_().decode())
    try:
        print(prog.stack_trace(t))
    except Exception as e:
        print("error:", e)
PY
  for d in dump.kdump qemu.elf; do
    D=$F/$d
    echo "## cold process: bt on $d (crashsh; drgn 0.3.0 stack_trace; crash -s)"
    hyperfine -N -w 2 -m 10 --style basic \
      -n "crashsh -c 'bt -a'" "$C -c 'bt -a' $D $V" \
      -n "crashsh -c 'foreach bt'" "$C -c 'foreach bt' $D $V" 2>&1 | grep -E 'Time|^Benchmark'
    for c in "bt -a" "foreach bt"; do
      printf '%-34s peak %s\n' "crashsh -c '$c'" "$(peak "$C" -c "$c" "$D" "$V")"
    done
    if python3 -c 'import drgn' 2>/dev/null; then
      hyperfine -w 1 -m 3 --style basic \
        -n "drgn stack_trace (each CPU)" "python3 /tmp/crashsh-bench-bt.py $D $V all-cpus" \
        -n "drgn stack_trace (each task)" "python3 /tmp/crashsh-bench-bt.py $D $V all-tasks" 2>&1 | grep -E 'Time|^Benchmark'
      for a in all-cpus all-tasks; do
        printf '%-34s peak %s\n' "drgn $a" "$(peak python3 /tmp/crashsh-bench-bt.py "$D" "$V" $a)"
      done
    else
      echo "drgn: not installed (pip install drgn==0.3.0)"
    fi
    for c in "bt -a" "foreach bt"; do
      printf '%s\nq\n' "$c" > /tmp/crashsh-bench-crash.in
      start=$(date +%s.%N)
      r=$(peak sh -c "$CRASH -s $V $D < /tmp/crashsh-bench-crash.in")
      end=$(date +%s.%N)
      printf '%-34s %6.2f s  peak %s\n' "crash -s '$c'" "$(echo "$end - $start" | bc)" "$r"
    done
  done
fi

if [ "$what" = novmlinux ] || [ "$what" = all ]; then
  # Issue 12: no vmlinux anywhere (empty HOME and XDG_CACHE_HOME, nothing in /usr/lib/debug),
  # so symbols come from the dump's kallsyms, types from the kernel's BTF (read out of
  # compressed pages for the kdump files) and unwind rules from its ORC tables; next to the
  # same commands with the vmlinux. Cold process each run.
  NOHOME=$(mktemp -d /tmp/crashsh-bench-home.XXXXXX)
  for d in dump.kdump vmcore; do
    D=$F/$d
    echo "## cold process: ps and bt -a on $d, without and with the vmlinux"
    hyperfine -N -w 2 -m 10 --style basic \
      -n "crashsh -c ps (no vmlinux)" "env HOME=$NOHOME XDG_CACHE_HOME=$NOHOME $C -c ps $D" \
      -n "crashsh -c ps (vmlinux)" "$C -c ps $D $V" \
      -n "crashsh -c 'bt -a' (no vmlinux)" "env HOME=$NOHOME XDG_CACHE_HOME=$NOHOME $C -c 'bt -a' $D" \
      -n "crashsh -c 'bt -a' (vmlinux)" "$C -c 'bt -a' $D $V" 2>&1 | grep -E 'Time|^Benchmark'
    for c in ps "bt -a"; do
      printf '%-34s peak %s\n' "crashsh -c '$c' (no vmlinux)" "$(HOME=$NOHOME XDG_CACHE_HOME=$NOHOME peak "$C" -c "$c" "$D")"
      printf '%-34s peak %s\n' "crashsh -c '$c' (vmlinux)" "$(peak "$C" -c "$c" "$D" "$V")"
    done
  done
  rm -rf "$NOHOME"
fi

if [ "$what" = triage ] || [ "$what" = all ]; then
  # Issue 13: a cold `crashsh -c triage` on one dump; the eight fixtures through `crashsh triage`
  # (child processes, as many as the cores allow) and through scripts/fleet-triage.py on Dask
  # and on Ray in local mode (engine start-up included: it is what one run costs), as dumps
  # per second. The engines are installed from PyPI when missing.
  python3 -c 'import dask.distributed' 2>/dev/null || python3 -m pip install -q 'dask[distributed]' >&2
  python3 -c 'import ray' 2>/dev/null || python3 -m pip install -q ray >&2 || true
  echo "## cold process: crashsh -c triage (text and --json) on dump.kdump and qemu.elf"
  hyperfine -N -w 2 -m 10 --style basic \
    -n "crashsh -c triage dump.kdump" "$C -c triage $F/dump.kdump $V" \
    -n "crashsh --json -c triage dump.kdump" "$C --json -c triage $F/dump.kdump $V" \
    -n "crashsh -c triage qemu.elf" "$C -c triage $F/qemu.elf $V" 2>&1 | grep -E 'Time|^Benchmark'
  printf '%-34s peak %s\n' "crashsh -c triage dump.kdump" "$(peak "$C" -c triage "$F/dump.kdump" "$V")"
  ALL=""
  for d in $DUMPS; do ALL="$ALL $F/$d"; done
  TREE=$(mktemp -d /tmp/crashsh-bench-fleet.XXXXXX)
  for d in $DUMPS; do ln -s "$F/$d" "$TREE/$d"; done
  rate() { # label seconds -> "label: N.NN s, N.N dumps/s"
    awk -v l="$1" -v s="$2" 'BEGIN { printf "%-44s %6.2f s  %5.1f dumps/s\n", l, s, 8 / s }'
  }
  timed() { # command... -> seconds of wall time
    local start end
    start=$(date +%s.%N); "$@" >/dev/null 2>&1; end=$(date +%s.%N)
    echo "$end - $start" | bc
  }
  echo "## eight fixture dumps ($(nproc) cores): best of 3 runs each"
  best() { local b=999999 t; for _ in 1 2 3; do t=$(timed "$@"); b=$(echo "if ($t < $b) $t else $b" | bc); done; echo "$b"; }
  rate "crashsh triage --json (jobs = cores)" "$(best "$C" triage --json --vmlinux "$V" $ALL)"
  rate "crashsh triage --json --jobs 1" "$(best "$C" triage --json --jobs 1 --vmlinux "$V" $ALL)"
  rate "fleet-triage.py --engine dask (local)" "$(best python3 scripts/fleet-triage.py --engine dask --crashsh "$C" --vmlinux "$V" "$TREE")"
  if python3 -c 'import ray' 2>/dev/null; then
    rate "fleet-triage.py --engine ray (local)" "$(best python3 scripts/fleet-triage.py --engine ray --crashsh "$C" --vmlinux "$V" "$TREE")"
  else
    echo "ray: not installed (pip install ray)"
  fi
  printf '%-44s peak %s\n' "fleet-triage.py --engine dask (driver)" "$(peak python3 scripts/fleet-triage.py --engine dask --crashsh "$C" --vmlinux "$V" "$TREE")"
  rm -rf "$TREE"
fi

if [ "$what" = flat ]; then
  # Issue 12: makedumpfile -F output of a 64 GiB machine with 4 GiB of records (every 16th page,
  # raw, in 64 KiB records as makedumpfile writes them), made by scripts/make-flat-bench-dump.py
  # in /tmp and deleted at the end. First open: one pass over the file builds the index (with the
  # file evicted from the page cache first, then with it cached); second open: the index from
  # the cache. Then the same under `ulimit -v` (no room to map the file: pread), and
  # --rewrite-flattened. Peak RSS from /usr/bin/time.
  W=$(mktemp -d /tmp/crashsh-bench-flat.XXXXXX)
  trap 'rm -rf "$W"' EXIT
  python3 scripts/make-flat-bench-dump.py "$W/big.flat" 64
  ls -l "$W/big.flat" | awk '{printf "## flattened dump: %.2f GiB on disk\n", $5 / 2^30}'
  evict() { # drop the file from the page cache (it was just written: flush it first)
    python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDWR); os.fsync(fd); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)' "$1"
  }
  timed() { # label, command... -> "label  S s  peak M MiB"
    local label=$1; shift
    /usr/bin/time -f "%e %M" "$@" 2>&1 >/dev/null | tail -1 | awk -v l="$label" '{printf "%-52s %7.3f s  peak %6.1f MiB\n", l, $1, $2/1024}'
  }
  export XDG_CACHE_HOME=$W/cache
  evict "$W/big.flat"
  timed "reference: cat of the file, not cached (disk speed)" cat "$W/big.flat"
  evict "$W/big.flat"; rm -rf "$W/cache"
  timed "first open, file not cached (vmcoreinfo)" "$C" -c vmcoreinfo "$W/big.flat"
  rm -rf "$W/cache"
  timed "first open, file in the page cache (vmcoreinfo)" "$C" -c vmcoreinfo "$W/big.flat"
  timed "second open, index from the cache (vmcoreinfo)" "$C" -c vmcoreinfo "$W/big.flat"
  timed "second open: rd -p 0x800000000 8 (a page near 32 GiB)" "$C" -c "rd -p 0x800000000 8" "$W/big.flat"
  timed "second open: dumpinfo (both 2 MiB bitmaps)" "$C" -c dumpinfo "$W/big.flat"
  # The process alone (--version) is the floor: what a second open adds is the difference.
  hyperfine -N -w 3 -m 20 --style basic -n "crashsh --version (process start, the floor)" "$C --version" \
    -n "second open (vmcoreinfo)" "$C -c vmcoreinfo $W/big.flat" 2>&1 | grep -E 'Time|^Benchmark'
  ls -l "$W/cache/crashsh/flat-index" | awk 'NR > 1 {printf "index file: %d bytes\n", $5}'
  rm -rf "$W/cache"
  timed "ulimit -v 1 GiB, first open (pread, no mapping)" sh -c "ulimit -v 1048576; exec $C -c vmcoreinfo $W/big.flat"
  timed "ulimit -v 1 GiB, second open: rd -p 0x800000000 8" sh -c "ulimit -v 1048576; exec $C -c 'rd -p 0x800000000 8' $W/big.flat"
  timed "--rewrite-flattened (4 GiB written)" "$C" --rewrite-flattened "$W/big.flat" "$W/big.kdump"
  du -k --apparent-size "$W/big.kdump" | awk '{printf "rewritten: %.2f GiB apparent, ", $1 / 2^20}'
  du -k "$W/big.kdump" | awk '{printf "%.2f GiB on disk\n", $1 / 2^20}'
  rm -rf "$W"
fi

if [ "$what" = stream ] || [ "$what" = all ]; then
  # Streamed results: the first line of a huge display through `| head`, its wall time and
  # crashsh's peak RSS (the whole display is never held).
  D=$F/dump.kdump
  echo "## streaming: first line of a huge result through | head (wall time, crashsh's peak RSS)"
  for c in "rd -64 ffff8a1540100000 10000000" "sym -l" "struct list_head init_task 10000000" \
           "rd -64 ffff8a1540100000 10000000 | head -1"; do
    start=$(date +%s.%N)
    /usr/bin/time -v -o /tmp/crashsh-bench-stream.time "$C" -c "$c" "$D" "$V" | head -1 >/dev/null
    end=$(date +%s.%N)
    rss=$(awk -F: '/Maximum resident/ {printf "%.1f MiB", $2/1024}' /tmp/crashsh-bench-stream.time)
    printf '%-48s %6.2f s  peak %s\n' "crashsh -c '$c' | head -1" "$(echo "$end - $start" | bc)" "$rss"
  done
fi

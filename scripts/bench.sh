#!/bin/bash
# Side-by-side benchmarks for the closing notes: crashsh next to crash 8.0.6 and drgn 0.3.0 on
# the same fixture files, in one run. Wall time from hyperfine (cold process each run, warm
# page cache), peak RSS from /usr/bin/time -v. Not a test: numbers depend on the machine.
#
#   scripts/bench.sh [vmcoreinfo|pages|symbols|views|bt|stream|all]
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

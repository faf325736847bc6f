#!/usr/bin/env bash
# Reads the dumps that libkdumpfile's own test suite generates with crashsh and compares every
# byte with what libkdumpfile reads from them.
#
#   scripts/libkdumpfile-check.sh [--crashsh PATH] [--verbose] [--no-zero-excluded] LIBKDUMPFILE_BUILD_DIR
#
# LIBKDUMPFILE_BUILD_DIR is a libkdumpfile tree built and checked (`./configure && make && make
# check`): its tests/out/ holds the generated dumps and its tests/dumpdata is the oracle. This
# script downloads and builds nothing.
#
# For each dump file it prints one line, PASS, FAIL(what differs) or REFUSED(crashsh's reason),
# and a total at the end. What is compared, per file:
#   - the physical reads the libkdumpfile test itself makes (its `dumpdata` address ranges);
#   - a sweep of every page the file can describe (kdump: 0 .. max_mapnr; ELF: each PT_LOAD's
#     pages and one page either side), plain and with zero_excluded (`dumpdata -z` against
#     crashsh's `--zero_excluded`), which tells excluded pages from pages the dump lacks;
#   - for the x86_64 files whose tests check header facts (utsname, phys_base, registers), those.
# libkdumpfile's side is the build's own `tests/dumpdata` (its output for the tests' ranges is what
# the tests' .expect files hold: `make check` passed). A byte libkdumpfile cannot read is "??";
# crashsh's side is `rd -p -8` page by page (a page it cannot read is "??" throughout: both read
# whole pages). No kernel is needed: crashsh opens a dump without one and `rd -p` reads its
# physical memory. The tests' kernel-virtual reads (`KVADDR:`) check libkdumpfile's address
# translation (p_vaddr, Xen, page tables without a kernel), not the file readers: they are
# named on the line, not compared.
# Differences that are libkdumpfile's own choices (named in the legend printed before the total:
# the page just below a PT_LOAD, a non-RAM pfn under zero_excluded, a p_memsz tail over another
# segment's file bytes under zero_excluded) are counted on the file's line, not as FAILs.
# A split dump's parts are read together, as `dumpdata -n3` does (crashsh refuses one part alone
# by design, and parts whose headers differ, as crash does).
# Exit status: 0 when nothing FAILed, 1 otherwise, 2 on bad usage.
set -euo pipefail

crashsh=""
verbose=0
zero=1
while [ $# -gt 0 ]; do
    case "$1" in
        --crashsh) crashsh="$2"; shift 2 ;;
        --verbose|-v) verbose=1; shift ;;
        --no-zero-excluded) zero=0; shift ;;  # a crashsh from before --zero_excluded
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) break ;;
    esac
done
[ $# -eq 1 ] || { echo "usage: $0 [--crashsh PATH] [--verbose] [--no-zero-excluded] LIBKDUMPFILE_BUILD_DIR" >&2; exit 2; }
build="$1"
here="$(cd "$(dirname "$0")/.." && pwd)"
[ -n "$crashsh" ] || crashsh="$here/.build/debug/crashsh"
[ -x "$crashsh" ] || { echo "no crashsh at $crashsh (swift build, or --crashsh PATH)" >&2; exit 2; }
[ -d "$build/tests/out" ] || { echo "$build/tests/out: missing (run make check in the libkdumpfile build first)" >&2; exit 2; }
[ -x "$build/tests/dumpdata" ] || { echo "$build/tests/dumpdata: missing (build libkdumpfile's tests)" >&2; exit 2; }

exec python3 - "$build" "$crashsh" "$verbose" "$zero" <<'PYTHON'
import glob, json, os, re, struct, subprocess, sys

build, crashsh, verbose, with_zero = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4] == "1"
out = os.path.join(build, "tests", "out")
dumpdata = os.path.join(build, "tests", "dumpdata")

# The physical reads each libkdumpfile test makes: (address, length, zero_excluded), and its
# kernel-virtual ones (reported only). Tests not listed make none (they check attributes).
BASIC = [(0, 4096, False)]
READS = {
    "diskdump-basic-lzo": BASIC, "diskdump-basic-raw": BASIC, "diskdump-basic-snappy": BASIC,
    "diskdump-basic-vmcoreinfo": BASIC, "diskdump-basic-zlib": BASIC, "diskdump-basic-zstd": BASIC,
    "diskdump-flat-raw": BASIC, "diskdump-flat-vmcoreinfo": BASIC,
    "diskdump-excluded": [(0, 0x3000, False), (0x1000, 16, True)],
    "diskdump-multiread": [(0, 128 * 4096, False)],
    "diskdump-v6-arm": BASIC, "diskdump-v6-ia32": BASIC,
    "elf-basic": BASIC, "elf-basic-flat": BASIC,
    "elf-le": [(0, 16, False)], "elf-be": [(0, 16, False)],
    "elf-fractional": [(0x1ff8, 8, False)],
    "elf-multiread": [(0, 0x80 * 4096, False)],
    "elf-nonexistent": [(0x1000, 1, False)],
    "elf-partial": BASIC,
    "elf-virt-phys-clash": [(0x200, 16, False)],
    "zero-size": [(0, 1, False)],
}
SPLIT_READS = [(0x1ffc, 8, False), (0x2ffc, 8, False), (0x3ffc, 8, False)]
KVREADS = {
    "elf-dom0-no-phys_base": [(0xffffffff81e15325, 11)],
    "elf-vmcoreinfo": [(0, 8)],
    "elf-xen_prstatus": [(0xffffffff93c00120, 8)],
    "elf-virt-phys-clash": [(0x200, 16)],
}
UTS_TEST = {"sysname": "Linux", "nodename": "test-node", "release": "3.4.5-test",
            "version": "#1 SMP Fri Jan 22 14:02:42 UTC 2016 (1234567)", "machine": "x86_64",
            "domainname": "(none)"}

def test_script_facts(name):
    """Header facts a test's checkattr states, for the x86_64 files crashsh opens."""
    facts = {}
    if name == "diskdump-empty-x86_64":
        facts["utsname"] = UTS_TEST
        facts["phys_base"] = 0x3C0000
        facts["pages_present"] = 0
    if name == "elf-prstatus-x86_64":
        # The registers its checkattr lists (the test script is in the source tree: the build
        # directory for an in-tree build).
        script = os.path.join(build, "tests", name)
        text = open(script).read() if os.path.exists(script) else ""
        regs = dict(re.findall(r"cpu\.0\.reg\.(\w+) = number:(0x[0-9a-fA-F]+)", text))
        facts["registers"] = {k: int(v, 16) for k, v in regs.items()}
    return facts

def logical_bytes(path):
    """The file's bytes; a flattened file's records put back in place (the files are small)."""
    data = open(path, "rb").read()
    if not data.startswith(b"makedumpfile\0"):
        return data
    buf = bytearray()
    pos = 4096
    while pos + 16 <= len(data):
        off, size = struct.unpack(">qq", data[pos:pos + 16])
        pos += 16
        if off < 0 or size < 0:
            break
        if len(buf) < off + size:
            buf.extend(b"\0" * (off + size - len(buf)))
        buf[off:off + size] = data[pos:pos + size]
        pos += size
    return bytes(buf)

def layout(paths):
    """What the sweep reads and what tells known differences apart: the page size, the pages
    worth comparing (kdump: 0 .. max_mapnr; ELF: each PT_LOAD's pages and one either side), the
    pages just below a page-aligned PT_LOAD (file part; memory part), and for a kdump file the
    pfns of its 1st bitmap (the RAM the machine had)."""
    data = logical_bytes(paths[0])
    lay = {"size": 4096, "pages": set(range(0, 4)), "below_file": set(), "below_mem": set(), "ram": None}
    if data[:8] == b"KDUMP   ":
        little = struct.unpack_from("<i", data, 8)[0] in range(0, 256)
        e = "<" if little else ">"
        version = struct.unpack_from(e + "i", data, 8)[0]
        block, subblocks = struct.unpack_from(e + "ii", data, 428)
        maxmapnr = struct.unpack_from(e + "I", data, 440)[0]
        if version >= 6 and len(data) >= block + 104:
            maxmapnr = struct.unpack_from(e + "Q", data, block + 96)[0]
        if block not in (512, 1024, 2048, 4096, 8192, 16384, 32768, 65536):
            return lay
        first = (1 + subblocks) * block
        lay["size"] = block
        lay["pages"] = set(range(0, min(maxmapnr + 1, 4096)))
        lay["ram"] = {p for p in lay["pages"]
                      if first + p // 8 < len(data) and data[first + p // 8] >> (p % 8) & 1}
        return lay
    sadump = b"sadump\0\0"
    if data[:8] == sadump or data[4096:4104] == sadump:
        # sadump (single partition or media backup): the dump header follows the partition
        # header (and the media header); after it the sub-header, then the RAM bitmap, each
        # pfn's bit the highest of its byte first.
        media = data[:8] != sadump
        block = 4096
        for _ in range(2):
            at = (2 if media else 1) * block
            if at + 64 > len(data):
                return lay
            size = struct.unpack_from("<I", data, at + 40)[0]
            if size == block or size not in (512, 1024, 2048, 4096, 8192, 16384, 32768, 65536):
                break
            block = size
        subblocks, bitmapblocks = struct.unpack_from("<II", data, at + 48)
        maxmapnr = struct.unpack_from("<I", data, at + 60)[0]
        first = at + block + subblocks * block
        lay["size"] = block
        lay["pages"] = set(range(0, min(maxmapnr, 4096)))
        lay["ram"] = {p for p in lay["pages"]
                      if first + p // 8 < len(data) and data[first + p // 8] >> (7 - p % 8) & 1}
        return lay
    if data[:4] == b"\x7fELF" and data[4] == 2:
        e = "<" if data[5] == 1 else ">"
        phoff, = struct.unpack_from(e + "Q", data, 32)
        phentsize, phnum = struct.unpack_from(e + "HH", data, 54)
        covered = {"file": set(), "mem": set()}
        for k in range(phnum):
            at = phoff + k * phentsize
            if at + 56 > len(data):
                break
            ptype, = struct.unpack_from(e + "I", data, at)
            paddr, filesz, memsz = struct.unpack_from(e + "QQQ", data, at + 24)
            if ptype != 1:
                continue
            first = paddr // 4096
            last = (paddr + max(memsz, filesz, 1) - 1) // 4096
            lay["pages"].update(range(max(first - 1, 0), min(last + 2, first + 1024)))
            for part, length in (("file", filesz), ("mem", memsz)):
                if length:
                    covered[part].update(range(first, (paddr + length - 1) // 4096 + 1))
                    if paddr % 4096 == 0 and first > 0:
                        lay["below_" + part].add(first - 1)
        lay["below_file"] -= covered["file"]
        lay["below_mem"] -= covered["mem"]
    return lay

# Differences that are libkdumpfile's choices, not crashsh's misreadings: counted and named on
# the file's line, never a FAIL.
BELOW_LOAD = ("below-load", "page(s) just below a PT_LOAD that libkdumpfile reads as zeros and crashsh as not in "
              "the dump (libkdumpfile's segment search accepts one a whole page away: "
              "`pls->phys - paddr > dist`, where `>=` is meant)")
NOT_RAM = ("not-ram", "page(s) outside the 1st bitmap (not RAM) that libkdumpfile -z reads as zeros and crashsh "
           "--zero_excluded as not in the dump, as crash does (libkdumpfile reads no RAM map)")
TAIL_OVER_DATA = ("tail-over-data", "page(s) that one PT_LOAD has in the file and another covers with its p_memsz tail: "
                  "libkdumpfile -z reads the tail's zeros (the first segment whose p_memsz holds the "
                  "page), without -z and in crashsh the file's bytes")

def known_difference(kind, address, size, lay, want, got, plain):
    zeros, unread = set(want) == {"00"}, set(got) == {"??"}
    pfn = address // size
    if kind == "sweep" and zeros and unread and pfn in lay["below_file"]:
        return BELOW_LOAD
    if kind == "zero_excluded sweep":
        if zeros and unread and pfn in lay["below_mem"]:
            return BELOW_LOAD
        if zeros and unread and lay["ram"] is not None and pfn not in lay["ram"]:
            return NOT_RAM
        if zeros and plain is not None and got == plain and "??" not in plain:
            return TAIL_OVER_DATA
    return None

def oracle(paths, ranges, zero=False):
    """libkdumpfile's bytes ("??" where it cannot read) for each (address, length). dumpdata
    stops after the first range that fails (printing all of that one), so it is run again from
    the next range."""
    base = [dumpdata] + (["-z"] if zero else []) + (["-n%d" % len(paths)] if len(paths) > 1 else []) + paths
    result = []
    while len(result) < len(ranges):
        todo = ranges[len(result):]
        args = list(base)
        for a, n in todo:
            args += ["0x%x" % a, str(n)]
        p = subprocess.run(args, capture_output=True, text=True)
        if p.returncode not in (0, 1) or "Cannot open dump" in p.stderr:
            return None, p.stderr.strip().splitlines()[-1:] or ["exit %d" % p.returncode]
        tokens, k = p.stdout.split(), 0
        for _, n in todo:
            if k + n > len(tokens):
                break
            result.append(tokens[k:k + n])
            k += n
        if p.returncode == 0 and len(result) < len(ranges):
            return None, ["dumpdata printed %d bytes, fewer than asked" % len(tokens)]
    return result, None

def oracle_pages(paths, pages, size, zero=False):
    """`oracle` for whole pages, asked as few contiguous ranges (dumpdata goes on past an
    unreadable byte within a range)."""
    runs = []
    for p in sorted(pages):
        if runs and runs[-1][1] == p:
            runs[-1][1] = p + 1
        else:
            runs.append([p, p + 1])
    got, why = oracle(paths, [(a * size, (b - a) * size) for a, b in runs], zero)
    if got is None:
        return None, why
    result = []
    for (a, b), tokens in zip(runs, got):
        for k in range(b - a):
            result.append(tokens[k * size:(k + 1) * size])
    return result, None

def crashsh_run(paths, commands, extra=()):
    p = subprocess.run([crashsh, "--json", *extra, "-c", "; ".join(commands), *paths],
                       capture_output=True, text=True)
    lines = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
    return lines, p.stderr.strip()

def crashsh_bytes(paths, ranges, page, zero=False):
    """crashsh's bytes for each (address, length), page by page; "??" where rd fails."""
    pieces = []
    for a, n in ranges:
        parts, addr, end = [], a, a + n
        while addr < end:
            take = min(end, (addr // page + 1) * page) - addr
            parts.append((addr, take))
            addr += take
        pieces.append(parts)
    commands = ["rd -p -8 0x%x %d" % (a, n) for parts in pieces for a, n in parts]
    results, errors = [], None
    lines, stderr = crashsh_run(paths, commands, ["--zero_excluded"] if zero else [])
    if len(lines) != len(commands):
        return None, stderr.splitlines()[-1] if stderr else "no output"
    k = 0
    for parts in pieces:
        got = []
        for a, n in parts:
            line = lines[k]; k += 1
            if "result" in line:
                got += ["%02X" % int(v, 16) for v in line["result"]["values"]]
            else:
                got += ["??"] * n
        results.append(got)
    return results, None

def first_difference(want, got, ranges):
    for (a, n), w, g in zip(ranges, want, got):
        for i in range(n):
            wi = w[i] if i < len(w) else "--"
            gi = g[i] if i < len(g) else "--"
            if wi != gi:
                return "at 0x%x libkdumpfile %s, crashsh %s" % (a + i, wi, gi)
    return None

REFUSAL = re.compile(r"unsupported: (.*?)(; crashsh reads x86_64 dumps)?$|: (empty file)$|(give all parts)$"
                     r"|(disk_dump_header = differs from .*: the parts of a split dump come from one vmcore)$")

def check(name, paths, label):
    """PASS/FAIL/REFUSED line for one dump (several paths: the parts of a split dump)."""
    notes = []
    lines, stderr = crashsh_run(paths, ["dumpinfo"])
    info = lines[0].get("result") if lines else None
    want_open, why = oracle(paths, [(0, 1)])
    if info is None:
        reason = (lines[0].get("error") if lines else None) or (stderr.splitlines()[-1] if stderr else "no output")
        m = REFUSAL.search(reason)
        if want_open is None:
            return "PASS", "both refuse: libkdumpfile: %s; crashsh: %s" % (why[0] if why else "?", reason)
        if m:
            return "REFUSED", next(g for g in m.groups()[::-1] if g and not g.startswith(";"))
        return "FAIL", "crashsh cannot open it: %s" % reason
    if want_open is None:
        return "FAIL", "libkdumpfile refuses it (%s), crashsh opens it" % (why[0] if why else "?")
    page = info.get("page_size", 4096)
    ranges = [(a, n) for a, n, z in READS.get(name, SPLIT_READS if len(paths) > 1 else []) if not z]
    zranges = [(a, n) for a, n, z in READS.get(name, []) if z]
    lay = layout(paths)
    size = lay["size"]
    ranges_sweep = [(p * size, size) for p in sorted(lay["pages"])]
    plain_sweep = None
    known_counts = {}
    # The sweep with zero_excluded tells excluded pages (zeros) from pages the dump says nothing
    # of (still unreadable): libkdumpfile's memory map against crashsh's page states.
    for kind, rs, zero in (("test reads", ranges, False), ("zero_excluded reads", zranges, True),
                           ("sweep", ranges_sweep, False), ("zero_excluded sweep", ranges_sweep, True)):
        if not rs or (zero and not with_zero):
            continue
        if kind.endswith("sweep"):
            want, why = oracle_pages(paths, lay["pages"], size, zero)
        else:
            want, why = oracle(paths, rs, zero)
        if want is None:
            return "FAIL", "%s: libkdumpfile: %s" % (kind, why[0] if why else "?")
        got, err = crashsh_bytes(paths, rs, page, zero)
        if got is None:
            return "FAIL", "%s: crashsh: %s" % (kind, err)
        for k, ((a, n), w, g) in enumerate(zip(rs, want, got)):
            if w == g:
                continue
            plain = plain_sweep[k] if kind == "zero_excluded sweep" and plain_sweep else None
            reason = known_difference(kind, a, size, lay, w, g, plain) if kind.endswith("sweep") else None
            if reason:
                known_counts[reason] = known_counts.get(reason, 0) + 1
                continue
            return "FAIL", "%s: %s" % (kind, first_difference([w], [g], [(a, n)]))
        if kind == "sweep":
            plain_sweep = want
        notes.append("%s %d B" % (kind, sum(n for _, n in rs)))
    for (tag, why), count in known_counts.items():
        notes.append("known %s: %d" % (tag, count))
        legend[tag] = why
    facts = test_script_facts(name)
    if "utsname" in facts and info.get("utsname") != facts["utsname"]:
        return "FAIL", "utsname %s, the test says %s" % (info.get("utsname"), facts["utsname"])
    if "pages_present" in facts and info.get("pages_present") != facts["pages_present"]:
        return "FAIL", "pages_present %s, the test says %s" % (info.get("pages_present"), facts["pages_present"])
    if "phys_base" in facts:
        text = json.dumps(info.get("sections", []))
        if not re.search(r'"phys_base", "value": \{?"?(value"?: )?"?(0x)?0*%x\b' % facts["phys_base"], text, re.I):
            return "FAIL", "phys_base not 0x%x in dumpinfo" % facts["phys_base"]
        notes.append("utsname, phys_base")
    if "registers" in facts:
        regs = (info.get("prstatus") or [{}])[0].get("registers", {})
        for k, v in facts["registers"].items():
            key = {"rflags": "eflags"}.get(k, k)
            got = regs.get(key, regs.get(k))
            if got is None or int(str(got), 16) != v:
                return "FAIL", "register %s: crashsh %s, the test says 0x%x" % (k, got, v)
        notes.append("%d registers" % len(facts["registers"]) if facts["registers"]
                     else "registers not compared (no test script at %s/tests)" % build)
    for a, n in KVREADS.get(name, []):
        notes.append("KVADDR 0x%x not compared" % a)
    if label:
        notes.append(label)
    return "PASS", ", ".join(notes) or "opens"

files = sorted(glob.glob(os.path.join(out, "*.dump")) + glob.glob(os.path.join(out, "*.dump.[0-9]")))
counts = {"PASS": 0, "FAIL": 0, "REFUSED": 0}
legend = {}
split_done = {}
for path in files:
    base = os.path.basename(path)
    name = re.sub(r"\.dump(\.\d+)?$", "", base)
    if re.search(r"\.dump\.\d+$", base):
        if name not in split_done:
            parts = sorted(glob.glob(os.path.join(out, name + ".dump.[0-9]")))
            split_done[name] = check(name, parts, "all %d parts together; one alone: refused by design" % len(parts))
        status, detail = split_done[name]
    else:
        status, detail = check(name, [path], None)
    counts[status] += 1
    if status == "PASS" and not verbose:
        print("PASS     %s" % base)
    else:
        print("%-8s %s (%s)" % (status, base, detail))
for tag, why in sorted(legend.items()):
    print("known %s: %s" % (tag, why))
total = sum(counts.values())
print("%d files: %d PASS, %d FAIL, %d REFUSED" % (total, counts["PASS"], counts["FAIL"], counts["REFUSED"]))
sys.exit(1 if counts["FAIL"] else 0)
PYTHON

import DumpModel
import Foundation
import Testing

/// CrashLogReport and CrashSignature on hand-made logs: the kind and title of each kind of
/// report, the frames the hash covers, and a hash that does not move with addresses, offsets,
/// timestamps or clone suffixes (docs/triage.md).
@Suite struct CrashSignatureTests {
    /// Log lines with made-up timestamps, `base` seconds after boot.
    static func lines(_ texts: [String], base: UInt64 = 10) -> [CrashLogLine] {
        texts.enumerated().map { CrashLogLine(timestampNanoseconds: (base * 1_000_000_000) + UInt64($0.offset) * 1000, text: $0.element) }
    }

    static let sysrqPanic = [
        "fixture: about to crash",
        "sysrq: Trigger a crash",
        "Kernel panic - not syncing: sysrq triggered crash",
        "CPU: 0 PID: 1 Comm: init Kdump: loaded Not tainted 6.1.0-56-cloud-amd64 #1  Debian 6.1.192-2",
        "Call Trace:",
        " <TASK>",
        " dump_stack_lvl+0x44/0x5c",
        " panic+0x118/0x2f4",
        " ? _printk+0x68/0x83",
        " sysrq_handle_crash+0x16/0x20",
        " __handle_sysrq.cold+0x44/0x11c",
        " write_sysrq_trigger+0x24/0x40",
        " proc_reg_write+0x56/0xa0",
        " vfs_write+0xc7/0x3f0",
        " ksys_write+0x6b/0xf0",
        " do_syscall_64+0x5d/0x90",
        " entry_SYSCALL_64_after_hwframe+0x6e/0xd8",
        "RIP: 0033:0x47b7a0",
        " </TASK>",
        "Kernel Offset: 0x2f600000 from 0xffffffff81000000 (relocation range: 0xffffffff80000000-0xffffffffbfffffff)",
        "---[ end Kernel panic - not syncing: sysrq triggered crash ]---",
    ]

    @Test func sysrqPanic() {
        let report = CrashLogReport(lines: Self.lines(Self.sysrqPanic))
        #expect(report.kind == .panic)
        #expect(report.panicLine == 2)
        #expect(report.reportStart == 2)
        #expect(report.reportEnd == Self.sysrqPanic.count - 1)
        #expect(report.panicString == "sysrq triggered crash")
        #expect(report.traceFrames == ["dump_stack_lvl", "panic", "sysrq_handle_crash", "__handle_sysrq.cold",
                                       "write_sysrq_trigger", "proc_reg_write", "vfs_write", "ksys_write",
                                       "do_syscall_64", "entry_SYSCALL_64_after_hwframe"])
        let s = CrashSignature(report: report, stackFrames: [])
        #expect(s.title == "Kernel panic - not syncing: sysrq triggered crash")
        #expect(s.frames == ["sysrq_handle_crash", "__handle_sysrq", "write_sysrq_trigger", "proc_reg_write", "vfs_write"])
        #expect(s.frameSource == .log)
        #expect(s.hash.count == 16 && s.hash.allSatisfy(\.isHexDigit))
    }

    /// Another boot: other offsets in the frames, other timestamps, another KASLR offset and an
    /// unreliable frame more; the same bug, the same hash.
    @Test func hashIgnoresAddressesOffsetsAndTimes() {
        let other = Self.sysrqPanic.map { line -> String in
            line.replacingOccurrences(of: "vfs_write+0xc7/0x3f0", with: "vfs_write+0xd1/0x400")
                .replacingOccurrences(of: "0x2f600000", with: "0xaa00000")
                .replacingOccurrences(of: "__handle_sysrq.cold+0x44/0x11c", with: "__handle_sysrq.cold.12+0x40/0x110")
        }.flatMap { $0 == " ksys_write+0x6b/0xf0" ? [" ? __fdget_pos+0x10/0x40", $0] : [$0] }
        let a = CrashSignature(report: CrashLogReport(lines: Self.lines(Self.sysrqPanic)), stackFrames: [])
        let b = CrashSignature(report: CrashLogReport(lines: Self.lines(other, base: 300)), stackFrames: [])
        #expect(a.hash == b.hash)
        #expect(a.title == b.title)
    }

    /// A log without a call trace: the unwound stack gives the same frames, so the same hash.
    @Test func stackFramesWhenTheLogHasNoTrace() {
        let noTrace = Array(Self.sysrqPanic.prefix(4))
        let fromLog = CrashSignature(report: CrashLogReport(lines: Self.lines(Self.sysrqPanic)), stackFrames: [])
        let fromStack = CrashSignature(report: CrashLogReport(lines: Self.lines(noTrace)), stackFrames: [
            "machine_kexec", "__crash_kexec", "panic", "sysrq_handle_crash", "__handle_sysrq.cold", "write_sysrq_trigger",
            "proc_reg_write", "vfs_write", "ksys_write", "do_syscall_64", "entry_SYSCALL_64_after_hwframe",
        ])
        #expect(fromStack.frameSource == .stack)
        #expect(fromStack.frames == fromLog.frames)
        #expect(fromStack.hash == fromLog.hash)
    }

    @Test func pageFaultOops() {
        let log = [
            "foo: starting",
            "BUG: unable to handle page fault for address: ffffa0c3c0001000",
            "#PF: supervisor write access in kernel mode",
            "#PF: error_code(0x0002) - not-present page",
            "PGD 100000067 P4D 100000067 PUD 0",
            "Oops: 0002 [#1] PREEMPT SMP NOPTI",
            "CPU: 1 PID: 412 Comm: insmod Tainted: G           OE      6.1.0 #1",
            "RIP: 0010:foo_bar.isra.0+0x1a/0x40 [foo]",
            "Code: 48 89 e5 <c7> 00 01 00 00 00",
            "RSP: 0018:ffffb1c2c0a3fd88 EFLAGS: 00010246",
            "Call Trace:",
            " <TASK>",
            " foo_init+0x22/0x1000 [foo]",
            " do_one_initcall+0x59/0x230",
            " do_init_module+0x4a/0x1f0",
            " __do_sys_finit_module+0xac/0x120",
            " do_syscall_64+0x5d/0x90",
            " entry_SYSCALL_64_after_hwframe+0x6e/0xd8",
            " </TASK>",
            "Modules linked in: foo(OE+) virtio_blk",
            "CR2: ffffa0c3c0001000",
            "---[ end trace 0000000000000000 ]---",
            "Kernel panic - not syncing: Fatal exception",
            "Kernel Offset: 0x2f600000 from 0xffffffff81000000",
            "---[ end Kernel panic - not syncing: Fatal exception ]---",
        ]
        let report = CrashLogReport(lines: Self.lines(log))
        #expect(report.kind == .pageFault)
        #expect(report.reportStart == 1)
        #expect(report.culprit == "foo_bar.isra.0")
        let s = CrashSignature(report: report, stackFrames: [])
        #expect(s.title == "BUG: unable to handle page fault in foo_bar")
        #expect(s.frames == ["foo_bar", "foo_init", "do_one_initcall", "do_init_module", "__do_sys_finit_module"])
    }

    @Test func warningWithPanicOnWarn() {
        let log = [
            "------------[ cut here ]------------",
            "WARNING: CPU: 0 PID: 77 at drivers/foo/foo.c:120 foo_check+0x33/0x50 [foo]",
            "Modules linked in: foo(O)",
            "RIP: 0010:foo_check+0x33/0x50 [foo]",
            "Call Trace:",
            " <TASK>",
            " foo_ioctl+0x5e/0x90 [foo]",
            " __x64_sys_ioctl+0x8d/0xd0",
            " do_syscall_64+0x5d/0x90",
            " </TASK>",
            "Kernel panic - not syncing: panic_on_warn set ...",
        ]
        let report = CrashLogReport(lines: Self.lines(log))
        #expect(report.kind == .warning)
        let s = CrashSignature(report: report, stackFrames: [])
        #expect(s.title == "WARNING in foo_check")
        #expect(s.frames == ["foo_check", "foo_ioctl", "__x64_sys_ioctl"])
    }

    @Test func hungTask() {
        let log = [
            "INFO: task kworker/0:1:33 blocked for more than 120 seconds.",
            "      Not tainted 6.1.0 #1",
            "\"echo 0 > /proc/sys/kernel/hung_task_timeout_secs\" disables this message.",
            "task:kworker/0:1     state:D stack:0     pid:33    ppid:2      flags:0x00004000",
            "Call Trace:",
            " <TASK>",
            " __schedule+0x34d/0x9e0",
            " schedule+0x5a/0xd0",
            " schedule_preempt_disabled+0x11/0x20",
            " __mutex_lock.constprop.0+0x2a5/0x4a0",
            " foo_work_fn+0x21/0x60 [foo]",
            " process_one_work+0x1c7/0x380",
            " </TASK>",
            "Kernel panic - not syncing: hung_task: blocked tasks",
        ]
        let report = CrashLogReport(lines: Self.lines(log))
        #expect(report.kind == .hungTask)
        let s = CrashSignature(report: report, stackFrames: [])
        #expect(s.title == "INFO: task hung in foo_work_fn")
    }

    @Test func softLockupAndOOM() {
        let lockup = CrashLogReport(lines: Self.lines([
            "watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [spin:99]",
            "RIP: 0010:spin_forever+0x5/0x10 [spin]",
            "Call Trace:",
            " <IRQ>",
            " </IRQ>",
            " <TASK>",
            " spin_init+0x10/0x1000 [spin]",
            " </TASK>",
            "Kernel panic - not syncing: softlockup: hung tasks",
        ]))
        #expect(lockup.kind == .softLockup)
        #expect(CrashSignature(report: lockup, stackFrames: []).title == "BUG: soft lockup in spin_forever")

        let oom = CrashLogReport(lines: Self.lines([
            "stress invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=0",
            "Out of memory: Killed process 4242 (stress) total-vm:1000kB, anon-rss:900kB, file-rss:0kB",
            "Kernel panic - not syncing: Out of memory: system-wide panic_on_oom is enabled",
        ]))
        #expect(oom.kind == .oom)
        #expect(oom.oomKills == ["Killed process 4242 (stress) total-vm:1000kB, anon-rss:900kB, file-rss:0kB"])
        #expect(CrashSignature(report: oom, stackFrames: []).title
                == "Kernel panic - not syncing: Out of memory: system-wide panic_on_oom is enabled")
    }

    @Test func normalisedFrames() {
        #expect(CrashSignature.normalisedFrame("__handle_sysrq.cold") == "__handle_sysrq")
        #expect(CrashSignature.normalisedFrame("foo.isra.0") == "foo")
        #expect(CrashSignature.normalisedFrame("foo.constprop.0.cold") == "foo")
        #expect(CrashSignature.normalisedFrame("bar.part.3") == "bar")
        for generic in ["panic", "__crash_kexec", "machine_kexec", "dump_stack_lvl", "asm_exc_page_fault",
                        "exc_invalid_op", "entry_SYSCALL_64_after_hwframe", "do_syscall_64", "__warn", "delay_tsc"] {
            #expect(CrashSignature.normalisedFrame(generic) == nil, "\(generic)")
        }
        // A title's addresses are constant; short numbers stay.
        #expect(CrashSignature.normaliseText("bad pointer 0xffff8a15411f8000 (code 0x12)") == "bad pointer ADDR (code 0x12)")
    }

    @Test func noPanicMessage() {
        let report = CrashLogReport(lines: Self.lines(["booting", "all fine"]))
        #expect(report.kind == .unknown)
        #expect(report.reportStart == nil)
        let s = CrashSignature(report: report, stackFrames: ["schedule", "do_nanosleep"])
        #expect(s.title == "no panic message: stopped in schedule")
        #expect(s.frameSource == .stack)
    }
}

/// How many audit messages the crashed kernel still held in its queues (not yet read by auditd),
/// for `log -a`. The messages are netlink socket buffers on `sk_buff_head` queues:
/// `audit_hold_queue`, `audit_retry_queue` and `audit_queue` (Linux 4.10+), or
/// `audit_skb_hold_queue` and `audit_skb_queue` before.
public struct AuditQueues: Sendable, Equatable {
    /// Each queue's name and length (`qlen`).
    public let queues: [(name: String, length: UInt32)]

    public static func == (a: AuditQueues, b: AuditQueues) -> Bool {
        a.queues.map(\.name) == b.queues.map(\.name) && a.queues.map(\.length) == b.queues.map(\.length)
    }

    /// - Throws: `.missing` when the kernel has none of the queues (no audit support, or no
    ///   debuginfo) or `sk_buff_head.qlen` is unknown; the `MemoryFault` of a queue's read.
    public init(memory: KernelMemory) throws {
        let l = memory.layout
        let names = l.symbolAddress("audit_skb_queue") != nil
            ? ["audit_skb_hold_queue", "audit_skb_queue"]
            : ["audit_hold_queue", "audit_retry_queue", "audit_queue"]
        guard l.symbolAddress(names[names.count - 1]) != nil else {
            throw DumpError.missing(what: "symbol audit_queue (a kernel without audit, or no debuginfo)")
        }
        guard l.memberOffset("sk_buff_head", "qlen") != nil else {
            throw DumpError.missing(what: "sk_buff_head.qlen (needs the vmlinux's debuginfo)")
        }
        var found: [(String, UInt32)] = []
        for name in names {
            guard let at = l.symbolAddress(name) else { continue }
            let queue = memory.object(at, "sk_buff_head")
            found.append((name, UInt32(truncatingIfNeeded: try queue.unsigned("qlen"))))
        }
        queues = found
    }

    /// Messages waiting in all queues.
    public var total: UInt64 { queues.reduce(0) { $0 + UInt64($1.length) } }
}

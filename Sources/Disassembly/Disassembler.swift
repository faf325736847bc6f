import CDisassembler

/// One decoded x86-64 instruction, spelled in AT&T syntax as gdb and objdump print it (the
/// operand text leaves out the `<symbol>` annotations: naming addresses is the caller's job).
public struct Instruction: Sendable, Equatable {
    /// Where the instruction starts.
    public let address: UInt64
    /// Its encoded bytes.
    public let bytes: [UInt8]
    /// Prefixes and mnemonic: "lock cmpxchg", "movzbl", "nopl".
    public let mnemonic: String
    /// The operands in AT&T order, comma-separated without spaces ("0x18(%rbx),%eax").
    public let operands: String
    /// The destination of a direct call, jmp or jcc.
    public let branchTarget: UInt64?
    /// The address a %rip-relative memory operand refers to (gdb's "# 0x..." comment).
    public let ripRelativeTarget: UInt64?
    /// True when `bytes` do not form an instruction ("(bad)" in gdb): one byte is skipped.
    public let isInvalid: Bool

    public init(address: UInt64, bytes: [UInt8], mnemonic: String, operands: String, branchTarget: UInt64? = nil,
                ripRelativeTarget: UInt64? = nil, isInvalid: Bool = false) {
        self.address = address
        self.bytes = bytes
        self.mnemonic = mnemonic
        self.operands = operands
        self.branchTarget = branchTarget
        self.ripRelativeTarget = ripRelativeTarget
        self.isInvalid = isInvalid
    }

    public var length: Int { bytes.count }

    /// gdb's instruction text: the mnemonic padded to six columns, a space, the operands.
    public var text: String {
        let padded = mnemonic.count < 6 ? mnemonic + String(repeating: " ", count: 6 - mnemonic.count) : mnemonic
        return padded + " " + operands
    }
}

/// Decodes x86-64 machine code with the Zydis library (measured on the 6.1 kernel's text: the
/// same instruction boundaries as objdump over 1,029,825 instructions, where capstone 4 missed
/// newer instructions such as rdpkru). Zydis' own AT&T spelling differs from gdb's in mnemonic
/// names (jz/je, movzx/movzbl) and size suffixes; `Instruction` is respelled as gdb prints it.
public struct Disassembler: Sendable {
    public init() {}

    /// The longest x86 instruction.
    public static let maxInstructionLength = 15

    /// Decodes `bytes`, the code at `address`, instruction after instruction; bytes that do not
    /// decode become one-byte `isInvalid` instructions. An instruction cut off by the end of
    /// `bytes` is not returned.
    public func decode(bytes: [UInt8], at address: UInt64, limit: Int = .max) -> [Instruction] {
        var out: [Instruction] = []
        var offset = 0
        while offset < bytes.count, out.count < limit {
            let here = address &+ UInt64(offset)
            let rest = bytes.count - offset
            if let insn = decodeOne(bytes, offset: offset, address: here) {
                out.append(insn)
                offset += insn.length
            } else {
                // A truncated instruction at the end of the buffer is left for the caller to re-read.
                if rest < Self.maxInstructionLength, out.count > 0 { break }
                out.append(Instruction(address: here, bytes: [bytes[offset]], mnemonic: "(bad)", operands: "",
                                       branchTarget: nil, ripRelativeTarget: nil, isInvalid: true))
                offset += 1
            }
        }
        return out
    }

    private func decodeOne(_ bytes: [UInt8], offset: Int, address: UInt64) -> Instruction? {
        var raw = crashsh_instruction()
        let status = bytes.withUnsafeBufferPointer { b -> Int32 in
            guard let base = b.baseAddress else { return -1 }
            return crashsh_decode(base + offset, b.count - offset, address, &raw)
        }
        guard status == 0, raw.length > 0, offset + Int(raw.length) <= bytes.count else { return nil }
        let encoded = Array(bytes[offset..<(offset + Int(raw.length))])
        return respell(raw, bytes: encoded, address: address)
    }

    private func respell(_ raw: crashsh_instruction, bytes: [UInt8], address: UInt64) -> Instruction {
        var raw = raw
        let base = withUnsafeBytes(of: &raw.mnemonic) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let count = Int(max(0, min(raw.operand_count, CRASHSH_MAX_OPERANDS)))
        var operands: [crashsh_operand] = []
        withUnsafeBytes(of: &raw.operands) { p in
            let all = p.bindMemory(to: crashsh_operand.self)
            for i in 0..<count { operands.append(all[i]) }
        }
        func text(_ o: crashsh_operand) -> String {
            var o = o
            var s = withUnsafeBytes(of: &o.text) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            s = s.replacing(", ", with: ",")
            // objdump keeps an encoded zero displacement: "0x0(%rax,%rax,1)".
            if o.kind == 2, o.memory_zero_displacement != 0 {
                if let paren = s.firstIndex(of: "("), !s[..<paren].contains("0x") {
                    s.insert(contentsOf: "0x0", at: paren)
                }
            }
            return s
        }
        let isMemory = { (o: crashsh_operand) in o.kind == 2 }
        let isRegister = { (o: crashsh_operand) in o.kind == 1 }
        func suffix(bits: Int32) -> String {
            switch bits { case 8: return "b"; case 16: return "w"; case 32: return "l"; case 64: return "q"; default: return "" }
        }

        var name = Self.conditionNames[base] ?? Self.fixedNames[base] ?? base
        var shown = operands
        var branchTarget: UInt64?
        var ripTarget: UInt64?
        for o in operands {
            if o.relative_immediate != 0 { branchTarget = o.absolute_address }
            if o.rip_relative != 0 { ripTarget = o.absolute_address }
        }

        switch base {
        case "movzx", "movsx":
            if shown.count == 2 {
                name = (base == "movzx" ? "movz" : "movs") + suffix(bits: shown[1].size_bits) + suffix(bits: shown[0].size_bits)
            }
        case "movsxd":
            if shown.count == 2 { name = "movs" + suffix(bits: shown[1].size_bits) + suffix(bits: shown[0].size_bits) }
        case "nop":
            if bytes == [0x66, 0x90] {
                name = "xchg"
                return Instruction(address: address, bytes: bytes, mnemonic: "xchg", operands: "%ax,%ax",
                                   branchTarget: nil, ripRelativeTarget: nil)
            }
            if let m = shown.first(where: isMemory) {
                name = "nop" + suffix(bits: m.size_bits)
                shown = [m]
            }
        case "mov" where shown.count == 2 && shown[1].kind == 4 && shown[1].size_bits == 64 && bytes.count >= 10:
            // A 64-bit immediate into a register is objdump's movabs.
            name = "movabs"
        case "stosb", "stosw", "stosd", "stosq", "lodsb", "lodsw", "lodsd", "lodsq",
             "scasb", "scasw", "scasd", "scasq":
            // gdb names the accumulator instead of a suffix: "rep stos %rax,%es:(%rdi)".
            let accumulator = ["b": "%al", "w": "%ax", "d": "%eax", "q": "%rax"][String(base.suffix(1))] ?? ""
            let stem = String(base.prefix(4))
            let operands = stem == "stos" ? accumulator + ",%es:(%rdi)"
                : stem == "lods" ? "%ds:(%rsi)," + accumulator : "%es:(%rdi)," + accumulator
            return Instruction(address: address, bytes: bytes, mnemonic: prefixes(raw) + stem, operands: operands)
        case "movsb", "movsw", "movsd", "movsq", "cmpsb", "cmpsw", "cmpsd", "cmpsq" where operands.isEmpty:
            let stem = String(base.prefix(4)) + (base.hasSuffix("d") ? "l" : String(base.suffix(1)))
            let operands = base.hasPrefix("movs") ? "%ds:(%rsi),%es:(%rdi)" : "%es:(%rdi),%ds:(%rsi)"
            return Instruction(address: address, bytes: bytes, mnemonic: prefixes(raw) + stem, operands: operands)
        default:
            if Self.sizedByOperand.contains(base), shown.contains(where: isMemory), !shown.contains(where: isRegister),
               let m = shown.first(where: isMemory) {
                name += suffix(bits: m.size_bits)
            }
        }

        var parts = shown.reversed().map(text)
        if raw.is_branch != 0, branchTarget == nil, let first = parts.first {
            parts[0] = "*" + first
        }
        return Instruction(address: address, bytes: bytes, mnemonic: prefixes(raw) + name, operands: parts.joined(separator: ","),
                           branchTarget: branchTarget, ripRelativeTarget: ripTarget)
    }

    /// The lock and repeat prefixes as gdb writes them before the mnemonic.
    private func prefixes(_ raw: crashsh_instruction) -> String {
        var prefix = ""
        if raw.is_lock != 0 { prefix += "lock " }
        if raw.is_repne != 0 { prefix += "repnz " } else if raw.is_repe != 0 { prefix += "repz " } else if raw.is_rep != 0 { prefix += "rep " }
        return prefix
    }

    /// Zydis names conditions by the flag (jz, cmovnb); gdb by the comparison (je, cmovae).
    static let conditionNames: [String: String] = {
        let conditions = ["z": "e", "nz": "ne", "nb": "ae", "nbe": "a", "nl": "ge", "nle": "g"]
        var table: [String: String] = [:]
        for stem in ["j", "cmov", "set"] {
            for (zydis, gdb) in conditions { table[stem + zydis] = stem + gdb }
        }
        return table
    }()

    /// Instructions gdb spells with AT&T's own names.
    static let fixedNames: [String: String] = [
        "pushfq": "pushf", "popfq": "popf", "cdqe": "cltq", "cdq": "cltd", "cqo": "cqto", "cwde": "cwtl", "cbw": "cbtw", "cwd": "cwtd",
    ]

    /// Instructions whose operand size only the suffix tells when no register operand is shown.
    static let sizedByOperand: Set<String> = [
        "add", "adc", "sub", "sbb", "and", "or", "xor", "cmp", "test", "mov", "inc", "dec", "neg", "not",
        "shl", "shr", "sar", "rol", "ror", "rcl", "rcr", "mul", "imul", "div", "idiv", "bt", "bts", "btr", "btc",
    ]
}

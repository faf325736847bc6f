import Testing
@testable import SymbolResolver

/// Module (split) BTF layered over the kernel's, on hand-made sections: ids continue after the
/// base's records and string offsets after the base's string section.
@Suite struct ModuleBTFTests {
    /// The kernel's BTF: int (1), struct holder { int widget; int next; } (2). The names
    /// "widget" and "next" are base strings a module can reuse.
    struct Base {
        var writer = BTFWriter()
        let int: UInt32, holder: UInt32, widgetName: UInt32, nextName: UInt32
        init() {
            widgetName = writer.string("widget")
            nextName = writer.string("next")
            int = writer.record(name: "int", kind: BTFTable.kindInt, sizeOrType: 4, trailer: [1 << 24 | 32])
            holder = writer.record(name: "holder", kind: BTFTable.kindStruct, vlen: 2, sizeOrType: 8,
                                   trailer: [widgetName, int, 0, nextName, int, 32])
        }
    }

    /// A module's BTF: struct widget (named by a base string) { int count; struct widget *next; }
    /// whose `next` is also named by a base string, and typedef widget_t.
    static func moduleSection(over base: Base) -> [UInt8] {
        var w = BTFWriter(splitOver: base.writer)
        let widget = w.record(nameOffset: base.widgetName, kind: BTFTable.kindStruct, vlen: 2, sizeOrType: 16,
                              trailer: [w.string("count"), base.int, 0, base.nextName, base.holder + 3, 64])
        #expect(widget == base.holder + 1)
        w.record(name: "widget_t", kind: BTFTable.kindTypedef, sizeOrType: widget)
        w.record(kind: BTFTable.kindPtr, sizeOrType: widget)
        return w.section
    }

    @Test func moduleStructRefersToBaseTypeAndStrings() throws {
        let base = Base()
        let section = Self.moduleSection(over: base)
        let t = try #require(KernelTypes(btfSection: base.writer.section))
        var reads = 0
        t.useModuleBTF({
            [ModuleBTFSource(module: "modx") { reads += 1; return section }]
        })
        // The kernel's own lookups never read modules, and do not see their types.
        #expect(throws: SymbolError.self) { try t.type(named: "struct widget") }
        #expect(reads == 0)

        let widget = try #require(t.moduleType(named: "struct widget"))
        #expect(reads == 1)
        #expect(t.name(of: widget) == "struct widget")
        #expect(t.size(of: widget) == 16)
        let c = try #require(t.composite(widget))
        #expect(c.members.map(\.name) == ["count", "next"])
        #expect(c.members[0].type == TypeID(rawValue: base.int))
        #expect(t.type(c.members[1].type) == .pointer(to: widget))
        #expect(try t.member("next", in: widget).byteOffset == 8)

        // A bare name and a typedef; the kernel's types still win over modules'.
        #expect(t.moduleType(named: "widget") == widget)
        let typedef = try #require(t.moduleType(named: "widget_t"))
        #expect(t.resolved(typedef) == widget)
        #expect(t.moduleType(named: "struct holder") == TypeID(rawValue: base.holder))
        #expect(t.moduleType(named: "struct nothing") == nil)
        #expect(t.moduleType(named: "struct widget *") == t.pointer(to: widget))
        #expect(reads == 1)
        #expect(t.moduleBTFProblems.isEmpty)
    }

    /// Damaged modules are skipped with one line naming each; the others and the kernel's types work.
    @Test func damagedModuleBTFIsSkipped() throws {
        let base = Base()
        let good = Self.moduleSection(over: base)
        var badMagic = good
        badMagic[0] = 0
        let truncated = Array(good.dropLast(4))
        var unknownKind = BTFWriter(splitOver: base.writer)
        unknownKind.record(name: "odd", kind: 31, sizeOrType: 0)
        struct ReadFailure: Error {}
        let t = try #require(KernelTypes(btfSection: base.writer.section))
        var reported: [String] = []
        t.useModuleBTF({
            [ModuleBTFSource(module: "magic") { badMagic },
             ModuleBTFSource(module: "short") { truncated },
             ModuleBTFSource(module: "kinds") { unknownKind.section },
             ModuleBTFSource(module: "unreadable") { throw ReadFailure() },
             ModuleBTFSource(module: "good") { good }]
        }, report: { reported.append($0) })
        let widget = try #require(t.moduleType(named: "struct widget"))
        #expect(t.composite(widget)?.members.count == 2)
        #expect(t.moduleBTFProblems.count == 4)
        #expect(reported == t.moduleBTFProblems)
        for (line, module) in zip(t.moduleBTFProblems, ["magic", "short", "kinds", "unreadable"]) {
            #expect(line.hasPrefix("module \(module): "))
        }
        #expect(try t.type(named: "struct holder") == TypeID(rawValue: base.holder))
    }

    /// Type ids past the module's records decode as void; a tag chain that loops ends as void.
    @Test func idsOutOfRangeAreVoid() throws {
        let base = Base()
        var w = BTFWriter(splitOver: base.writer)
        let firstID = base.holder + 1
        w.record(name: "loop", kind: BTFTable.kindTypeTag, sizeOrType: firstID)       // tags itself
        w.record(name: "broken", kind: BTFTable.kindStruct, vlen: 3, sizeOrType: 24,
                 trailer: [w.string("far"), firstID + 1000, 0,
                           w.string("huge"), UInt32.max, 64,
                           w.string("tagged"), firstID, 128])
        let t = try #require(KernelTypes(btfSection: base.writer.section))
        let section = w.section
        t.useModuleBTF({ [ModuleBTFSource(module: "m") { section }] })
        let broken = try #require(t.moduleType(named: "struct broken"))
        let c = try #require(t.composite(broken))
        #expect(c.members.map { t.type($0.type) } == [.void, .void, .void])
        #expect(t.size(of: broken) == 24)
    }

    /// Without the kernel's BTF a module's ids cannot be placed: one line, no types.
    @Test func noBaseBTFNoModuleTypes() throws {
        let base = Base()
        let section = Self.moduleSection(over: base)
        let t = KernelTypes(btf: nil)
        t.useModuleBTF({ [ModuleBTFSource(module: "modx") { section }] })
        #expect(t.moduleType(named: "struct widget") == nil)
        #expect(t.moduleBTFProblems.count == 1)
    }
}

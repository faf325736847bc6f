/// Where each ELF section of a loaded module was put: what a module's debuginfo (an ET_REL
/// object whose sections all start at 0) is relocated with. The kernel keeps it for sysfs
/// (/sys/module/NAME/sections/) in `module.sect_attrs`: a `struct module_sect_attrs` with
/// `nsections` entries of `struct module_sect_attr`, each naming its section (`battr.attr.name`
/// since 5.8, `name` before) and its `address`. Offsets come from `KernelLayout`.
extension ModuleListReader {
    /// At most this many sections are read (modules have tens; the kernel has no fixed limit).
    public static let maxSections = 1024

    /// The run-time address of each allocated section of the module whose `struct module` is at
    /// `module`, by section name. Throws `DumpError.missing` when the kernel keeps no section
    /// attributes (no CONFIG_KALLSYMS/SYSFS, or a layout without these types), or a `MemoryFault`.
    public func sectionAddresses(module: UInt64) throws -> [String: UInt64] {
        let l = layout
        guard let attrsMember = l.memberOffset("module", "sect_attrs"),
              let count = l.memberOffset("module_sect_attrs", "nsections"),
              let entries = l.memberOffset("module_sect_attrs", "attrs"),
              let stride = l.typeSize("module_sect_attr"), stride > 0,
              let address = l.memberOffset("module_sect_attr", "address"),
              let name = l.memberOffset("module_sect_attr", "battr.attr.name") ?? l.memberOffset("module_sect_attr", "name")
        else { throw DumpError.missing(what: "module section attributes (struct module_sect_attrs) in the debuginfo") }
        let attrs: UInt64 = try memory.load(UInt64.self, module &+ UInt64(attrsMember))
        guard attrs != 0 else { throw DumpError.missing(what: "module at \(hex(module)): no section attributes") }
        let n = Int(min(UInt64(try memory.load(UInt32.self, attrs &+ UInt64(count))), UInt64(Self.maxSections)))
        var out: [String: UInt64] = [:]
        for i in 0..<n {
            let entry = attrs &+ UInt64(entries) &+ UInt64(i) &* UInt64(stride)
            guard let nameAddress: UInt64 = try? memory.load(UInt64.self, entry &+ UInt64(name)), nameAddress != 0,
                  let sectionName = try? memory.cString(nameAddress, maxLength: 256), !sectionName.isEmpty,
                  let value: UInt64 = try? memory.load(UInt64.self, entry &+ UInt64(address)) else { continue }
            out[sectionName] = value
        }
        return out
    }
}

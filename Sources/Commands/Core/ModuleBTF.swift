import DumpModel
import SymbolResolver

extension Session {
    /// Lets `types` find the types of loaded modules in their own BTF, for names the kernel's
    /// types lack. Nothing is read here: the module list, the kernel's `btf_modules` list and
    /// each module's BTF bytes are read on the first such name. A module whose BTF cannot be
    /// read or parsed is told once on stderr (as the kernel-source note is) and skipped.
    func useModuleBTF(in types: KernelTypes) {
        guard !types.usesModuleBTF else { return }
        types.useModuleBTF({ [weak self] in self?.moduleBTFSources() ?? [] },
                           report: { [weak self] line in self?.kernelSourceReport?(line) })
    }

    /// Each loaded module's BTF, in module order (by base address): where the kernel's
    /// `btf_modules` list keeps it, else `module.btf_data` (still set while a module loads).
    private func moduleBTFSources() -> [ModuleBTFSource] {
        guard let memory = try? crashedKernel().memory else { return [] }
        let reader = ModuleListReader(memory: memory)
        let located = (try? reader.moduleBTFLocations(interrupted: { [weak self] in self?.interruptRequested() ?? false })) ?? []
        let byModule = Dictionary(located.map { ($0.module, $0) }, uniquingKeysWith: { first, _ in first })
        return moduleSymbols().modules.compactMap { m in
            var location = byModule[m.module.address]
            if location == nil, let data = m.module.btfData, let size = m.module.btfDataSize {
                location = ModuleBTFLocation(module: m.module.address, data: data, size: size)
            }
            guard let location else { return nil }
            return ModuleBTFSource(module: m.module.name) { try reader.btfData(location) }
        }
    }
}

/// Every command crashsh knows, in the order `help` lists them.
public enum CommandRegistry {
    public static let all: [any CrashCommand.Type] = [
        VmcoreinfoCommand.self,
        DumpinfoCommand.self,
        HelpCommand.self,
        SetCommand.self,
        PsCommand.self,
        RunqCommand.self,
        BtCommand.self,
        SysCommand.self,
        TaskCommand.self,
        ForeachCommand.self,
        SymCommand.self,
        RdCommand.self,
        DisCommand.self,
        VtopCommand.self,
        PtovCommand.self,
        ModCommand.self,
        VmCommand.self,
        StructCommand.self,
        UnionCommand.self,
        WhatisCommand.self,
        KmemCommand.self,
        PrintCommand.self,
        PrintHexCommand.self,
        PrintDecimalCommand.self,
        PrintOctalCommand.self,
        PrintBinaryCommand.self,
        PrintCharacterCommand.self,
        LogCommand.self,
        TriageCommand.self,
        ExitCommand.self,
    ]

    /// The command named `name` (or one of its aliases).
    public static func lookup(_ name: String) -> (any CrashCommand.Type)? {
        all.first { $0.name == name || $0.aliases.contains(name) }
    }
}

// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "crashsh",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "crashsh", targets: ["crashsh"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // C libraries from Debian's -dev packages, found through pkg-config.
        .systemLibrary(name: "CDwarf", pkgConfig: "libdw",
                       providers: [.apt(["libdw-dev", "libelf-dev"])]),
        .systemLibrary(name: "CDecompress",
                       providers: [.apt(["zlib1g-dev", "libdeflate-dev", "liblzo2-dev", "libsnappy-dev", "libzstd-dev"])]),
        // Zydis decodes x86-64 for `dis` (Debian ships no pkg-config file for it).
        .systemLibrary(name: "CDisassembler", providers: [.apt(["libzydis-dev"])]),
        // libedit's el_set/history are variadic; this small C target wraps what the REPL needs.
        .target(name: "CLineEdit", linkerSettings: [.linkedLibrary("edit")]),

        .target(name: "DumpModel", dependencies: ["CDecompress"]),
        .target(name: "SymbolResolver", dependencies: ["CDwarf", "CDecompress"]),
        .target(name: "Disassembly", dependencies: ["CDisassembler"]),
        .target(name: "Commands", dependencies: ["DumpModel", "SymbolResolver", "Disassembly"]),
        .executableTarget(name: "crashsh", dependencies: [
            "Commands", "CLineEdit",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Throughput measurements for the closing notes (scripts/bench.sh); not shipped.
        .executableTarget(name: "crashsh-bench", dependencies: ["DumpModel"], path: "Benchmarks/crashsh-bench"),

        // What the test targets share: the fixture location, a tool runner, a seeded generator.
        .target(name: "TestSupport", path: "Tests/Support"),
        .testTarget(name: "DumpModelTests", dependencies: ["DumpModel", "TestSupport"]),
        .testTarget(name: "SymbolResolverTests", dependencies: ["SymbolResolver", "TestSupport"], exclude: ["Expected"]),
        .testTarget(name: "EndToEndTests", dependencies: ["DumpModel", "SymbolResolver", "Disassembly", "Commands", "TestSupport"], exclude: ["Expected"]),
    ],
    swiftLanguageModes: [.v6]
)

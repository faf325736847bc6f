import Foundation
import Testing
@testable import SymbolResolver

@Suite(.enabled(if: Fixture.available)) struct TypeTests {
    @Test func whatisTaskStructMatchesCrash() throws {
        try withKernel { k in
            let t = try k.types()
            let id = try t.type(named: "task_struct")
            let text = t.definition(of: id) + "SIZE: \(t.size(of: id) ?? 0)\n"
            let ref = try Fixture.ref("whatis_task_struct.txt")
            let a = text.split(separator: "\n", omittingEmptySubsequences: false)
            let b = ref.split(separator: "\n", omittingEmptySubsequences: false)
            for (x, y) in zip(a, b) where x != y { Issue.record("whatis differs: got \(x) want \(y)"); break }
            #expect(a.count == b.count)
        }
    }

    @Test func structOffsetsListHead() throws {
        try withKernel { k in
            let t = try k.types()
            let id = try t.type(named: "struct list_head")
            let text = t.offsetListing(of: id) + "SIZE: \(t.size(of: id) ?? 0)\n"
            #expect(text == (try Fixture.ref("struct_-o_list_head.txt")))
        }
    }
}

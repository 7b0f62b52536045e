import CofferObjectStore
import Synchronization

/// An `InMemoryObjectStore` whose GETs wait at a gate until the test opens it, so that tests can make reads
/// overlap a fetch in flight. Every other request goes straight through (`ForwardingObjectStore`).
final class GatedObjectStore: ForwardingObjectStore {
    let base: InMemoryObjectStore
    var underlying: any ObjectStore { base }
    private let gate = Mutex<(isOpen: Bool, waiting: [CheckedContinuation<Void, Never>])>((false, []))

    init(base: InMemoryObjectStore = InMemoryObjectStore()) {
        self.base = base
    }

    /// The GETs waiting at the gate.
    var waitingCount: Int { gate.withLock { $0.waiting.count } }

    /// Lets every waiting and future GET through.
    func open() {
        let waiting = gate.withLock { state in
            state.isOpen = true
            defer { state.waiting = [] }
            return state.waiting
        }
        for continuation in waiting { continuation.resume() }
    }

    private func pass() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let isOpen = gate.withLock { state in
                if !state.isOpen { state.waiting.append(continuation) }
                return state.isOpen
            }
            if isOpen { continuation.resume() }
        }
    }

    func get(_ key: String, range: Range<UInt64>?, ifMatch: String?) async throws(ObjectStoreError) -> ObjectData {
        await pass()
        return try await base.get(key, range: range, ifMatch: ifMatch)
    }

    func get(_ key: String, range: Range<UInt64>?, ifMatch: String?, intoFile path: String,
             at fileOffset: UInt64) async throws(ObjectStoreError) -> (info: ObjectInfo, count: UInt64) {
        await pass()
        return try await base.get(key, range: range, ifMatch: ifMatch, intoFile: path, at: fileOffset)
    }
}

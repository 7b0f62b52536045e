import CofferObjectStore
import Foundation
import Synchronization

/// An `ObjectMetadataStore` in memory, for the life of one mount: what the mount uses when no database can be
/// opened in its cache directory, so that listings still spare the HEAD of objects already asked about. Bounded
/// (`maxEntries`; past it, the least recently used tenth goes).
public final class InMemoryObjectMetadataCache: ObjectMetadataStore {
    private struct Slot {
        var entry: MetadataEntry
        var lastUse: UInt64
    }

    private struct Table {
        var slots: [String: Slot] = [:]
        var clock: UInt64 = 0
    }

    /// The most entries kept.
    public let maxEntries: Int
    private let table = Mutex(Table())

    /// An empty cache of at most `maxEntries` entries.
    public init(maxEntries: Int) {
        self.maxEntries = max(1, maxEntries)
    }

    public func info(matching summaries: [ObjectSummary]) -> [String: ObjectInfo] {
        table.withLock { table in
            var found: [String: ObjectInfo] = [:]
            for summary in summaries {
                guard var slot = table.slots[summary.key] else { continue }
                switch slot.entry.match(summary) {
                case .different:
                    continue
                case .exact:
                    break
                case .pinned(let seconds):
                    slot.entry.lastModified = seconds
                    slot.entry.writtenAfter = nil
                    slot.entry.writtenBefore = nil
                }
                table.clock += 1
                slot.lastUse = table.clock
                table.slots[summary.key] = slot
                found[summary.key] = slot.entry.info(for: summary)
            }
            return found
        }
    }

    public func contains(_ key: String) -> Bool {
        table.withLock { $0.slots[key] != nil }
    }

    public func storedSize(of key: String, etag: String) -> UInt64? {
        table.withLock { table in
            guard let entry = table.slots[key]?.entry, entry.etag == etag else { return nil }
            return entry.size
        }
    }

    public func remember(_ info: ObjectInfo) {
        store(MetadataEntry(info, window: nil), for: info.key)
    }

    public func rememberWrite(of info: ObjectInfo, startedAt start: Date, endedAt end: Date) {
        store(MetadataEntry(info, window: (MetadataEntry.seconds(start), MetadataEntry.seconds(end) + 1)), for: info.key)
    }

    public func forget(_ key: String) {
        _ = table.withLock { $0.slots.removeValue(forKey: key) }
    }

    public var count: Int { table.withLock { $0.slots.count } }

    private func store(_ entry: MetadataEntry, for key: String) {
        table.withLock { table in
            table.clock += 1
            table.slots[key] = Slot(entry: entry, lastUse: table.clock)
            guard table.slots.count > maxEntries else { return }
            let excess = table.slots.count - maxEntries * 9 / 10
            for (old, _) in table.slots.sorted(by: { $0.value.lastUse < $1.value.lastUse }).prefix(excess) {
                table.slots[old] = nil
            }
        }
    }
}

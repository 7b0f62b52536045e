import Foundation

extension InMemoryObjectStore.State {
    /// One ListObjectsV2 page. See `InMemoryObjectStore` for the rules.
    func list(_ request: ListRequest) throws(ObjectStoreError) -> ListPage {
        let maxKeys = max(1, min(1000, request.maxKeys))
        let prefix = Array(request.prefix.utf8)
        let delimiter = request.delimiter.map { Array($0.utf8) }.flatMap { $0.isEmpty ? nil : $0 }
        // Everything at or before `after` was returned already (token) or is to be skipped (start-after).
        let after: [UInt8]?
        if let token = request.continuationToken {
            after = try ContinuationToken.decode(token)
        } else {
            after = request.startAfter.map { Array($0.utf8) }
        }

        var objects: [ObjectSummary] = []
        var commonPrefixes: [String] = []
        var count = 0
        var last: [UInt8] = []
        var isTruncated = false
        var index = firstIndex(notBefore: InMemoryObjectStore.ByteKey(bytes: prefix))
        if let after {
            let afterKey = InMemoryObjectStore.ByteKey(bytes: after)
            index = max(index, partitionPoint { $0 <= afterKey })
        }
        while index < sortedKeys.count {
            let key = sortedKeys[index]
            guard key.hasPrefix(prefix) else { break }
            if let delimiter, let end = Self.end(of: delimiter, in: key.bytes, from: prefix.count) {
                let rolledUp = Array(key.bytes[..<end])
                // Every key under this common prefix is next in order: skip them all.
                let next = partitionPoint { $0.bytes.lexicographicallyPrecedes(rolledUp) || $0.hasPrefix(rolledUp) }
                if let after, !after.lexicographicallyPrecedes(rolledUp) {
                    index = next
                    continue
                }
                guard count < maxKeys else { isTruncated = true; break }
                commonPrefixes.append(String(decoding: rolledUp, as: UTF8.self))
                count += 1
                last = rolledUp
                index = next
            } else {
                guard count < maxKeys else { isTruncated = true; break }
                let object = self.objects[key]!
                objects.append(ObjectSummary(key: object.key, size: UInt64(object.bytes.count), etag: object.etag,
                                             lastModified: object.lastModified))
                count += 1
                last = key.bytes
                index += 1
            }
        }
        return ListPage(objects: objects, commonPrefixes: commonPrefixes, isTruncated: isTruncated,
                        nextContinuationToken: isTruncated ? ContinuationToken.encode(last) : nil)
    }

    /// The index just past the first `delimiter` in `bytes` at or after `start`, if there is one.
    static func end(of delimiter: [UInt8], in bytes: [UInt8], from start: Int) -> Int? {
        guard bytes.count - start >= delimiter.count else { return nil }
        var i = start
        while i + delimiter.count <= bytes.count {
            if bytes[i] == delimiter[0], bytes[i..<(i + delimiter.count)].elementsEqual(delimiter) {
                return i + delimiter.count
            }
            i += 1
        }
        return nil
    }
}

/// Continuation tokens: the last key or common prefix of a page, base64-encoded behind a version tag, so a
/// token stays meaningful when keys are added or removed between pages.
enum ContinuationToken {
    private static let tag: [UInt8] = Array("mem1:".utf8)

    static func encode(_ last: [UInt8]) -> String {
        Data(tag + last).base64EncodedString()
    }

    static func decode(_ token: String) throws(ObjectStoreError) -> [UInt8] {
        guard let data = Data(base64Encoded: token), data.starts(with: tag) else {
            throw .service(code: "InvalidArgument", message: "The continuation token provided is incorrect",
                           status: 400)
        }
        return Array(data.dropFirst(tag.count))
    }
}

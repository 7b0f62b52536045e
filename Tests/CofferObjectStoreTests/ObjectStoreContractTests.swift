import CofferObjectStore
import CofferTestSupport
import Foundation
import Testing

/// What every `ObjectStore` must do, as S3 does it. Each test runs against every backend in `backends`, under
/// its own key prefix.
@Suite("ObjectStore contract")
struct ObjectStoreContractTests {
    // MARK: - Objects

    @Test(arguments: backends)
    func putGetHeadRoundTrip(_ backend: Backend) async throws {
        try await withStore(backend) { store, p in
            let key = p + "hello.txt"
            let etag = try await store.put(key, bytes: Array("hello".utf8))
            #expect(etag == "5d41402abc4b2a76b9719d911017c592")

            let info = try await store.head(key)
            #expect(info.key == key)
            #expect(info.size == 5)
            #expect(info.etag == etag)
            #expect(info.contentType == "application/octet-stream")
            #expect(info.metadata.isEmpty)
            #expect(abs(info.lastModified.timeIntervalSinceNow) < 600)

            let data = try await store.get(key)
            #expect(data.bytes == Array("hello".utf8))
            #expect(data.info.size == 5)
            #expect(data.info.etag == etag)

            let listed = try await store.listAll(prefix: p)
            #expect(listed.map(\.key) == [key])
            #expect(listed.first?.size == 5)
            #expect(listed.first?.etag == etag)
        }
    }

    @Test(arguments: backends)
    func emptyObject(_ backend: Backend) async throws {
        try await withStore(backend) { store, p in
            let etag = try await store.put(p + "empty", bytes: [])
            #expect(etag == "d41d8cd98f00b204e9800998ecf8427e")
            #expect(try await store.head(p + "empty").size == 0)
            let data = try await store.get(p + "empty")
            #expect(data.bytes.isEmpty)
            #expect(data.info.size == 0)
            #expect(data.info.etag == etag)
        }
    }

    @Test(arguments: backends)
    func binaryBytesSurviveUnchanged(_ backend: Backend) async throws {
        try await withStore(backend) { store, p in
            let bytes = (0..<1024).map { UInt8(truncatingIfNeeded: $0) } + pattern(70_000, seed: 9) + [0, 0, 0xff, 0x0d, 0x0a]
            let etag = try await store.put(p + "bin", bytes: bytes)
            #expect(etag == md5Hex(bytes))
            let data = try await store.get(p + "bin")
            #expect(data.bytes == bytes)
            #expect(data.info.size == UInt64(bytes.count))
        }
    }

    @Test(arguments: backends)
    func putFromFile(_ backend: Backend) async throws {
        try await withStore(backend) { store, p in
            let directory = try ProjectPaths.temporaryDirectory("coffer-objectstore")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let path = directory + "/body"
            try Data("xxABCDEFyy".utf8).write(to: URL(fileURLWithPath: path))
            let etag = try await store.put(p + "from-file", body: .file(path: path, offset: 2, count: 6), options: PutOptions())
            #expect(etag == md5Hex(Array("ABCDEF".utf8)))
            #expect(try await store.get(p + "from-file").bytes == Array("ABCDEF".utf8))
        }
    }

    @Test(arguments: backends)
    func metadataAndContentType(_ backend: Backend) async throws {
        try await withStore(backend) { store, p in
            let key = p + "meta"
            let options = PutOptions(metadata: ["Owner": "alice", "x-Mode": "0644", "mtime": "1700000000.5"],
                                     contentType: "text/plain; charset=utf-8")
            _ = try await store.put(key, body: .bytes(Array("text".utf8)), options: options)
            let expected = ["owner": "alice", "x-mode": "0644", "mtime": "1700000000.5"]

            let info = try await store.head(key)
            #expect(info.metadata == expected)
            #expect(info.contentType == "text/plain; charset=utf-8")
            let data = try await store.get(key)
            #expect(data.info.metadata == expected)
            #expect(data.info.contentType == "text/plain; charset=utf-8")

            // An overwrite replaces the metadata; it does not merge it.
            let second = try await store.put(key, body: .bytes(Array("other".utf8)), options: PutOptions(metadata: ["b": "2"]))
            let after = try await store.head(key)
            #expect(after.metadata == ["b": "2"])
            #expect(after.contentType == "application/octet-stream")
            #expect(after.etag == second)
            #expect(second != info.etag)
        }
    }

    @Test(arguments: backends)
    func missingKeys(_ backend: Backend) async throws {
        try await withStore(backend) { store, p in
            await expectError(.notFound) { () async throws(ObjectStoreError) in try await store.head(p + "nothing") }
            await expectError(.notFound) { () async throws(ObjectStoreError) in try await store.get(p + "nothing") }
            await expectError(.notFound) { () async throws(ObjectStoreError) in
                try await store.get(p + "nothing", range: 0..<1, ifMatch: nil)
            }
            // A key and the same key with a trailing slash are different objects.
            _ = try await store.put(p + "dir", bytes: [1])
            await expectError(.notFound) { () async throws(ObjectStoreError) in try await store.head(p + "dir/") }
        }
    }

    // MARK: - Ranges

    @Test(arguments: backends)
    func ranges(_ backend: Backend) async throws {
        try await withStore(backend) { store, p in
            let key = p + "sixteen"
            let bytes = Array("0123456789abcdef".utf8)
            let etag = try await store.put(key, bytes: bytes)

            func range(_ r: Range<UInt64>) async throws(ObjectStoreError) -> ObjectData {
                try await store.get(key, range: r, ifMatch: nil)
            }
            let middle = try await range(2..<6)
            #expect(middle.bytes == Array("2345".utf8))
            #expect(middle.info.size == 16)
            #expect(middle.info.etag == etag)
            #expect(try await range(10..<16).bytes == Array("abcdef".utf8))
            #expect(try await range(0..<16).bytes == bytes)
            #expect(try await range(15..<16).bytes == Array("f".utf8))
            // A range ending past the object is cut at its end.
            let cut = try await range(12..<100)
            #expect(cut.bytes == Array("cdef".utf8))
            #expect(cut.info.size == 16)
            // A range starting at or past the end cannot be satisfied (S3: 416 InvalidRange).
            await expectError(.invalidRange) { () async throws(ObjectStoreError) in try await range(16..<20) }
            await expectError(.invalidRange) { () async throws(ObjectStoreError) in try await range(100..<200) }
            // An empty range asks for nothing.
            let nothing = try await range(3..<3)
            #expect(nothing.bytes.isEmpty)
            #expect(nothing.info.size == 16)
        }
    }

    @Test(arguments: backends)
    func rangeOfEmptyObject(_ backend: Backend) async throws {
        try await withStore(backend) { store, p in
            _ = try await store.put(p + "empty", bytes: [])
            // S3 answers any range of a 0-byte object, even `bytes=0-`, with 416.
            await expectError(.invalidRange) { () async throws(ObjectStoreError) in
                try await store.get(p + "empty", range: 0..<1, ifMatch: nil)
            }
            await expectError(.invalidRange) { () async throws(ObjectStoreError) in
                try await store.get(p + "empty", range: 0..<4096, ifMatch: nil)
            }
            #expect(try await store.get(p + "empty", range: nil, ifMatch: nil).bytes.isEmpty)
        }
    }

    @Test(arguments: backends)
    func getIfMatch(_ backend: Backend) async throws {
        try await withStore(backend) { store, p in
            let key = p + "versioned"
            let first = try await store.put(key, bytes: Array("one".utf8))
            #expect(try await store.get(key, range: nil, ifMatch: first).bytes == Array("one".utf8))
            #expect(try await store.get(key, range: 1..<3, ifMatch: first).bytes == Array("ne".utf8))
            #expect(try await store.get(key, range: nil, ifMatch: "\"\(first)\"").bytes == Array("one".utf8))

            _ = try await store.put(key, bytes: Array("two".utf8))
            await expectError(.preconditionFailed) { () async throws(ObjectStoreError) in
                try await store.get(key, range: nil, ifMatch: first)
            }
            await expectError(.preconditionFailed) { () async throws(ObjectStoreError) in
                try await store.get(key, range: 0..<1, ifMatch: first)
            }
            await expectError(.notFound) { () async throws(ObjectStoreError) in
                try await store.get(p + "missing", range: nil, ifMatch: first)
            }
        }
    }

    // MARK: - Conditional writes

    @Test(arguments: backends)
    func putIfAbsent(_ backend: Backend) async throws {
        try await withStore(backend) { store, p in
            let key = p + "lock"
            let created = try await store.put(key, body: .bytes([1]), options: PutOptions(condition: .doesNotExist))
            await expectError(.preconditionFailed) { () async throws(ObjectStoreError) in
                try await store.put(key, body: .bytes([2]), options: PutOptions(condition: .doesNotExist))
            }
            let current = try await store.get(key)
            #expect(current.bytes == [1])
            #expect(current.info.etag == created)
        }
    }

    @Test(arguments: backends)
    func putIfETagMatches(_ backend: Backend) async throws {
        try await withStore(backend) { store, p in
            let key = p + "cas"
            let v1 = try await store.put(key, bytes: Array("v1".utf8))
            let v2 = try await store.put(key, body: .bytes(Array("v2".utf8)), options: PutOptions(condition: .etagMatches(v1)))
            #expect(v2 == md5Hex(Array("v2".utf8)))
            // A stale ETag loses the race.
            await expectError(.preconditionFailed) { () async throws(ObjectStoreError) in
                try await store.put(key, body: .bytes(Array("v3".utf8)), options: PutOptions(condition: .etagMatches(v1)))
            }
            #expect(try await store.get(key).bytes == Array("v2".utf8))
            // If-Match on a missing key: S3 answers 404 NoSuchKey.
            await expectError(.notFound) { () async throws(ObjectStoreError) in
                try await store.put(p + "absent", body: .bytes([0]), options: PutOptions(condition: .etagMatches(v1)))
            }
            await expectError(.notFound) { () async throws(ObjectStoreError) in try await store.head(p + "absent") }
        }
    }

    // MARK: - Copy

    @Test(arguments: backends)
    func copyKeepsMetadata(_ backend: Backend) async throws {
        try await withStore(backend) { store, p in
            let bytes = pattern(3000, seed: 4)
            let sourceETag = try await store.put(p + "src", body: .bytes(bytes),
                                                 options: PutOptions(metadata: ["Mode": "0600"], contentType: "image/png"))
            let etag = try await store.copy(from: p + "src", to: p + "dst", options: CopyOptions())
            #expect(etag == sourceETag)
            let copy = try await store.get(p + "dst")
            #expect(copy.bytes == bytes)
            #expect(copy.info.etag == sourceETag)
            #expect(copy.info.metadata == ["mode": "0600"])
            #expect(copy.info.contentType == "image/png")
            #expect(try await store.head(p + "src").metadata == ["mode": "0600"])
        }
    }

    @Test(arguments: backends)
    func copyReplacesMetadata(_ backend: Backend) async throws {
        try await withStore(backend) { store, p in
            let bytes = Array("payload".utf8)
            _ = try await store.put(p + "src", body: .bytes(bytes), options: PutOptions(metadata: ["a": "1"], contentType: "text/a"))
            let etag = try await store.copy(from: p + "src", to: p + "dst",
                                            options: CopyOptions(metadata: .replace(["B": "2"], contentType: "text/b")))
            #expect(etag == md5Hex(bytes))
            let copy = try await store.head(p + "dst")
            #expect(copy.metadata == ["b": "2"])
            #expect(copy.contentType == "text/b")
            #expect(try await store.get(p + "dst").bytes == bytes)
            let source = try await store.head(p + "src")
            #expect(source.metadata == ["a": "1"])
            #expect(source.contentType == "text/a")
        }
    }

    @Test(arguments: backends)
    func copySourceETag(_ backend: Backend) async throws {
        try await withStore(backend) { store, p in
            let old = try await store.put(p + "src", bytes: [1])
            let current = try await store.put(p + "src", bytes: [2])
            _ = try await store.copy(from: p + "src", to: p + "dst", options: CopyOptions(sourceETag: current))
            #expect(try await store.get(p + "dst").bytes == [2])
            if backend.behavesLikeS3(.ignoresCopySourceIfMatch) {
                await expectError(.preconditionFailed) { () async throws(ObjectStoreError) in
                    try await store.copy(from: p + "src", to: p + "other", options: CopyOptions(sourceETag: old))
                }
                await expectError(.notFound) { () async throws(ObjectStoreError) in try await store.head(p + "other") }
            }
        }
    }

    @Test(arguments: backends)
    func copyOntoItself(_ backend: Backend) async throws {
        try await withStore(backend) { store, p in
            let key = p + "self"
            let etag = try await store.put(key, body: .bytes(Array("same".utf8)), options: PutOptions(metadata: ["v": "1"]))
            // S3 refuses a copy that changes nothing: 400 InvalidRequest.
            await expectError(.service("InvalidRequest")) { () async throws(ObjectStoreError) in
                try await store.copy(from: key, to: key, options: CopyOptions())
            }
            // Replacing the metadata in place is how chmod and utimens work.
            let replaced = try await store.copy(from: key, to: key,
                                                options: CopyOptions(metadata: .replace(["v": "2"], contentType: nil),
                                                                     sourceETag: etag))
            #expect(replaced == etag)
            let info = try await store.head(key)
            #expect(info.metadata == ["v": "2"])
            #expect(try await store.get(key).bytes == Array("same".utf8))
        }
    }

    @Test(arguments: backends)
    func copyMissingSource(_ backend: Backend) async throws {
        try await withStore(backend) { store, p in
            await expectError(.notFound) { () async throws(ObjectStoreError) in
                try await store.copy(from: p + "nothing", to: p + "dst", options: CopyOptions())
            }
            await expectError(.notFound) { () async throws(ObjectStoreError) in try await store.head(p + "dst") }
        }
    }

    @Test(arguments: backends)
    func copyDestinationCondition(_ backend: Backend) async throws {
        try await withStore(backend) { store, p in
            _ = try await store.put(p + "src", bytes: [1])
            _ = try await store.copy(from: p + "src", to: p + "new", options: CopyOptions(condition: .doesNotExist))
            #expect(try await store.get(p + "new").bytes == [1])
            guard backend.behavesLikeS3(.ignoresCopyDestinationCondition) else { return }
            _ = try await store.put(p + "taken", bytes: [9])
            await expectError(.preconditionFailed) { () async throws(ObjectStoreError) in
                try await store.copy(from: p + "src", to: p + "taken", options: CopyOptions(condition: .doesNotExist))
            }
            #expect(try await store.get(p + "taken").bytes == [9])
        }
    }

    // MARK: - Delete

    @Test(arguments: backends)
    func deleteOne(_ backend: Backend) async throws {
        try await withStore(backend) { store, p in
            _ = try await store.put(p + "doomed", bytes: [1])
            try await store.delete(p + "doomed")
            await expectError(.notFound) { () async throws(ObjectStoreError) in try await store.head(p + "doomed") }
            // Deleting a missing key succeeds, as in S3.
            try await store.delete(p + "doomed")
            try await store.delete(p + "never-existed")
        }
    }

    @Test(arguments: backends)
    func deleteMany(_ backend: Backend) async throws {
        try await withStore(backend) { store, p in
            for name in ["a", "b", "c", "d/e"] { _ = try await store.put(p + name, bytes: [1]) }
            let failures = try await store.delete(keys: [p + "a", p + "b", p + "missing", p + "d/e", p + "a"])
            #expect(failures.isEmpty)
            #expect(try await store.listAll(prefix: p).map(\.key) == [p + "c"])
            #expect(try await store.delete(keys: []).isEmpty)
        }
    }

    // MARK: - Listing

    @Test(arguments: backends)
    func listOrderIsUTF8Binary(_ backend: Backend) async throws {
        try await withStore(backend) { store, p in
            // "e\u{301}" (decomposed) and "\u{e9}" (precomposed) are equal as Swift Strings but are two S3 keys.
            // UTF-8 order puts U+FF01 before U+1F600, unlike UTF-16 order.
            let names = ["a", "a/", "a/b", "a!b", "a b", "e\u{301}", "f", "\u{e9}", "\u{FF01}", "\u{1F600}", "Z", "~",
                         "dir with spaces/file name.txt", "a%2Fb", "a+b"]
            for (index, name) in names.enumerated() { _ = try await store.put(p + name, bytes: [UInt8(index)]) }
            let expected = ["Z", "a", "a b", "a!b", "a%2Fb", "a+b", "a/", "a/b", "dir with spaces/file name.txt",
                            "e\u{301}", "f", "~", "\u{e9}", "\u{FF01}", "\u{1F600}"].map { p + $0 }
            #expect(utf8(expected) == utf8(utf8Sorted(names.map { p + $0 })))

            let page = try await store.list(ListRequest(prefix: p))
            #expect(utf8(page.objects.map(\.key)) == utf8(expected))
            #expect(page.commonPrefixes.isEmpty)
            #expect(!page.isTruncated)
            #expect(page.nextContinuationToken == nil)

            // Each key reads back its own bytes: no two keys were merged.
            for (index, name) in names.enumerated() {
                #expect(try await store.get(p + name).bytes == [UInt8(index)], "key \(name.unicodeScalars.map(\.value))")
            }
        }
    }

    @Test(arguments: backends)
    func listDelimiterRollsUpPrefixes(_ backend: Backend) async throws {
        try await withStore(backend) { store, p in
            for name in ["a", "a/", "a/b", "a!b", "b/c/d", "b/e", "c"] { _ = try await store.put(p + name, bytes: [1]) }

            let top = try await store.list(ListRequest(prefix: p, delimiter: "/"))
            #expect(top.objects.map(\.key) == [p + "a", p + "a!b", p + "c"])
            #expect(top.commonPrefixes == [p + "a/", p + "b/"])
            #expect(!top.isTruncated)

            let a = try await store.list(ListRequest(prefix: p + "a/", delimiter: "/"))
            #expect(a.objects.map(\.key) == [p + "a/", p + "a/b"])
            #expect(a.commonPrefixes.isEmpty)

            let b = try await store.list(ListRequest(prefix: p + "b/", delimiter: "/"))
            #expect(b.objects.map(\.key) == [p + "b/e"])
            #expect(b.commonPrefixes == [p + "b/c/"])

            // A prefix that is not a "directory" matches key beginnings.
            let partial = try await store.list(ListRequest(prefix: p + "a", delimiter: "/"))
            #expect(partial.objects.map(\.key) == [p + "a", p + "a!b"])
            #expect(partial.commonPrefixes == [p + "a/"])

            let none = try await store.list(ListRequest(prefix: p + "zzz", delimiter: "/"))
            #expect(none.objects.isEmpty && none.commonPrefixes.isEmpty && !none.isTruncated)
            #expect(none.nextContinuationToken == nil)
        }
    }

    @Test(arguments: backends)
    func listPaginatesAcrossPrefixesAndObjects(_ backend: Backend) async throws {
        try await withStore(backend) { store, p in
            for name in ["d1/x", "d1/y", "d1/z", "d2/x", "f1", "f2", "f3", "d3/x/y", "f4"] {
                _ = try await store.put(p + name, bytes: [1])
            }
            // With a delimiter, each common prefix counts once toward maxKeys.
            let pages = try await allPages(store, ListRequest(prefix: p, delimiter: "/", maxKeys: 2))
            #expect(pages.map(entries) == [[p + "d1/", p + "d2/"], [p + "d3/", p + "f1"], [p + "f2", p + "f3"], [p + "f4"]])
            #expect(pages.map(\.isTruncated) == [true, true, true, false])
            #expect(pages.last?.nextContinuationToken == nil)
            #expect(pages.dropLast().allSatisfy { $0.nextContinuationToken != nil })

            // Without one, every key is listed.
            let flat = try await allPages(store, ListRequest(prefix: p, maxKeys: 4))
            #expect(flat.map { $0.objects.count } == [4, 4, 1])
            #expect(flat.flatMap(\.objects).map(\.key) == utf8Sorted(["d1/x", "d1/y", "d1/z", "d2/x", "f1", "f2", "f3",
                                                                        "d3/x/y", "f4"].map { p + $0 }))

            // A page that holds exactly the rest is not truncated.
            let exact = try await store.list(ListRequest(prefix: p, delimiter: "/", maxKeys: 7))
            #expect(entries(exact).count == 7)
            #expect(!exact.isTruncated)
            #expect(exact.nextContinuationToken == nil)
        }
    }

    @Test(arguments: backends)
    func listStartAfter(_ backend: Backend) async throws {
        try await withStore(backend) { store, p in
            for name in ["k1", "k2", "k3", "k4", "k5"] { _ = try await store.put(p + name, bytes: [1]) }
            func keys(_ request: ListRequest) async throws -> [String] {
                try await store.list(request).objects.map(\.key)
            }
            #expect(try await keys(ListRequest(prefix: p, startAfter: p + "k2")) == [p + "k3", p + "k4", p + "k5"])
            // start-after need not be a key.
            #expect(try await keys(ListRequest(prefix: p, startAfter: p + "k25")) == [p + "k3", p + "k4", p + "k5"])
            #expect(try await keys(ListRequest(prefix: p, startAfter: p + "k5")).isEmpty)
            #expect(try await keys(ListRequest(prefix: p, startAfter: p)) == ["k1", "k2", "k3", "k4", "k5"].map { p + $0 })

            // Paging from a start-after position continues after it.
            let pages = try await allPages(store, ListRequest(prefix: p, startAfter: p + "k1", maxKeys: 2))
            #expect(pages.map { $0.objects.map(\.key) } == [[p + "k2", p + "k3"], [p + "k4", p + "k5"]])
        }
    }

    @Test(arguments: backends)
    func continuationIsStableWhenKeysChange(_ backend: Backend) async throws {
        try await withStore(backend) { store, p in
            for name in ["k1", "k2", "k4", "k6"] { _ = try await store.put(p + name, bytes: [1]) }
            let first = try await store.list(ListRequest(prefix: p, maxKeys: 2))
            #expect(first.objects.map(\.key) == [p + "k1", p + "k2"])
            let token = try #require(first.nextContinuationToken)

            // Between pages: a key appears before the position, one after it, and the last key returned goes away.
            _ = try await store.put(p + "k0", bytes: [1])
            _ = try await store.put(p + "k3", bytes: [1])
            try await store.delete(p + "k2")

            let second = try await store.list(ListRequest(prefix: p, continuationToken: token, maxKeys: 2))
            #expect(second.objects.map(\.key) == [p + "k3", p + "k4"])
            #expect(second.isTruncated)
            let third = try await store.list(ListRequest(prefix: p, continuationToken: second.nextContinuationToken, maxKeys: 2))
            #expect(third.objects.map(\.key) == [p + "k6"])
            #expect(!third.isTruncated)
        }
    }

    @Test(arguments: backends)
    func continuationAfterCommonPrefixSkipsItsKeys(_ backend: Backend) async throws {
        try await withStore(backend) { store, p in
            for name in ["d/a", "d/b", "e"] { _ = try await store.put(p + name, bytes: [1]) }
            let first = try await store.list(ListRequest(prefix: p, delimiter: "/", maxKeys: 1))
            #expect(first.commonPrefixes == [p + "d/"])
            #expect(first.objects.isEmpty)
            // A key added under the prefix already returned does not bring it back.
            _ = try await store.put(p + "d/c", bytes: [1])
            let second = try await store.list(ListRequest(prefix: p, delimiter: "/", continuationToken: first.nextContinuationToken,
                                                          maxKeys: 1))
            #expect(second.objects.map(\.key) == [p + "e"])
            #expect(second.commonPrefixes.isEmpty)
            #expect(!second.isTruncated)
        }
    }

    // MARK: - Multipart uploads

    @Test(arguments: backends)
    func multipartUploadOfSeveralParts(_ backend: Backend) async throws {
        try await withStore(backend) { store, p in
            let key = p + "big"
            let size = backend.minimumPartSize
            let parts = [pattern(size, seed: 1), pattern(size, seed: 2), pattern(100, seed: 3)]
            let id = try await store.createMultipartUpload(key, options: PutOptions(metadata: ["Purpose": "test"],
                                                                                  contentType: "application/x-test"))
            // Parts may arrive in any order.
            var etags: [Int: String] = [:]
            for number in [2, 3, 1] {
                etags[number] = try await store.uploadPart(key, uploadId: id, partNumber: number, body: .bytes(parts[number - 1]))
                #expect(etags[number] == md5Hex(parts[number - 1]))
            }
            let listed = try await store.listParts(key, uploadId: id)
            #expect(listed.map(\.partNumber) == [1, 2, 3])
            #expect(listed.map(\.etag) == [etags[1], etags[2], etags[3]])
            #expect(listed.map(\.size) == parts.map { UInt64($0.count) })
            // Nothing is visible before completion.
            await expectError(.notFound) { () async throws(ObjectStoreError) in try await store.head(key) }

            let completed = (1...3).map { CompletedPart(partNumber: $0, etag: etags[$0]!) }
            let etag = try await store.completeMultipartUpload(key, uploadId: id, parts: completed)
            #expect(etag == multipartETag(parts))
            let object = try await store.get(key)
            #expect(object.bytes == parts.flatMap { $0 })
            #expect(object.info.etag == etag)
            #expect(object.info.metadata == ["purpose": "test"])
            #expect(object.info.contentType == "application/x-test")
            // The part is read back across a part boundary.
            let across = try await store.get(key, range: UInt64(size - 2)..<UInt64(size + 2), ifMatch: etag)
            #expect(across.bytes == Array(parts[0].suffix(2) + parts[1].prefix(2)))

            // Completing again returns the same object (S3's CompleteMultipartUpload is idempotent).
            #expect(try await store.completeMultipartUpload(key, uploadId: id, parts: completed) == etag)
        }
    }

    @Test(arguments: backends)
    func multipartCompletionHonoursWriteConditions(_ backend: Backend) async throws {
        try await withStore(backend) { store, p in
            let key = p + "guarded"
            let existing = try await store.put(key, bytes: Array("old".utf8))
            let id = try await store.createMultipartUpload(key, options: PutOptions())
            let e1 = try await store.uploadPart(key, uploadId: id, partNumber: 1, body: .bytes(Array("new".utf8)))
            let parts = [CompletedPart(partNumber: 1, etag: e1)]
            await expectError(.preconditionFailed) { () async throws(ObjectStoreError) in
                try await store.completeMultipartUpload(key, uploadId: id, parts: parts, condition: .doesNotExist)
            }
            if backend.behavesLikeS3(.ignoresMultipartIfMatch) {
                await expectError(.preconditionFailed) { () async throws(ObjectStoreError) in
                    try await store.completeMultipartUpload(key, uploadId: id, parts: parts,
                                                            condition: .etagMatches(md5Hex([1, 2, 3])))
                }
            }
            #expect(try await store.get(key).bytes == Array("old".utf8))
            _ = try await store.completeMultipartUpload(key, uploadId: id, parts: parts, condition: .etagMatches(existing))
            #expect(try await store.get(key).bytes == Array("new".utf8))
        }
    }

    @Test(arguments: backends)
    func multipartFromFilesAndCompletingASubset(_ backend: Backend) async throws {
        try await withStore(backend) { store, p in
            let key = p + "subset"
            let size = backend.minimumPartSize
            let directory = try ProjectPaths.temporaryDirectory("coffer-objectstore")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let path = directory + "/parts"
            let file = pattern(size, seed: 7) + pattern(size, seed: 8) + pattern(10, seed: 9)
            try Data(file).write(to: URL(fileURLWithPath: path))

            let id = try await store.createMultipartUpload(key, options: PutOptions())
            let e1 = try await store.uploadPart(key, uploadId: id, partNumber: 1,
                                                body: .file(path: path, offset: 0, count: UInt64(size)))
            _ = try await store.uploadPart(key, uploadId: id, partNumber: 2,
                                           body: .file(path: path, offset: UInt64(size), count: UInt64(size)))
            let e5 = try await store.uploadPart(key, uploadId: id, partNumber: 5,
                                                body: .file(path: path, offset: UInt64(2 * size), count: 10))
            // Part numbers may have gaps, and parts not listed are dropped.
            let etag = try await store.completeMultipartUpload(key, uploadId: id, parts: [
                CompletedPart(partNumber: 1, etag: e1), CompletedPart(partNumber: 5, etag: e5),
            ])
            #expect(etag == multipartETag([pattern(size, seed: 7), pattern(10, seed: 9)]))
            #expect(try await store.get(key).bytes == pattern(size, seed: 7) + pattern(10, seed: 9))
        }
    }

    @Test(arguments: backends)
    func uploadPartCopy(_ backend: Backend) async throws {
        try await withStore(backend) { store, p in
            let size = backend.minimumPartSize
            let source = pattern(2 * size + 10, seed: 5)
            let small = Array("tail".utf8)
            _ = try await store.put(p + "source", bytes: source)
            _ = try await store.put(p + "small", bytes: small)

            let key = p + "assembled"
            let id = try await store.createMultipartUpload(key, options: PutOptions())
            let e1 = try await store.uploadPartCopy(key, uploadId: id, partNumber: 1, source: p + "source",
                                                    range: UInt64(size)..<UInt64(2 * size))
            let e2 = try await store.uploadPartCopy(key, uploadId: id, partNumber: 2, source: p + "source",
                                                    range: 0..<UInt64(size))
            let e3 = try await store.uploadPartCopy(key, uploadId: id, partNumber: 3, source: p + "small", range: nil)
            #expect(e1 == md5Hex(Array(source[size..<(2 * size)])))
            #expect(e3 == md5Hex(small))
            await expectError(.notFound) { () async throws(ObjectStoreError) in
                try await store.uploadPartCopy(key, uploadId: id, partNumber: 4, source: p + "missing", range: nil)
            }
            let etag = try await store.completeMultipartUpload(key, uploadId: id, parts: [
                CompletedPart(partNumber: 1, etag: e1), CompletedPart(partNumber: 2, etag: e2),
                CompletedPart(partNumber: 3, etag: e3),
            ])
            let expected = [Array(source[size..<(2 * size)]), Array(source[0..<size]), small]
            #expect(etag == multipartETag(expected))
            #expect(try await store.get(key).bytes == expected.flatMap { $0 })
        }
    }

    @Test(arguments: backends)
    func completeRejectsPartsOutOfOrder(_ backend: Backend) async throws {
        try await withStore(backend) { store, p in
            let key = p + "order"
            let size = backend.minimumPartSize
            let id = try await store.createMultipartUpload(key, options: PutOptions())
            let e1 = try await store.uploadPart(key, uploadId: id, partNumber: 1, body: .bytes(pattern(size, seed: 1)))
            let e2 = try await store.uploadPart(key, uploadId: id, partNumber: 2, body: .bytes(pattern(size, seed: 2)))
            let e3 = try await store.uploadPart(key, uploadId: id, partNumber: 3, body: .bytes([3]))
            if backend.behavesLikeS3(.acceptsPartsOutOfOrder) {
                await expectError(.service("InvalidPartOrder")) { () async throws(ObjectStoreError) in
                    try await store.completeMultipartUpload(key, uploadId: id, parts: [
                        CompletedPart(partNumber: 2, etag: e2), CompletedPart(partNumber: 1, etag: e1),
                        CompletedPart(partNumber: 3, etag: e3),
                    ])
                }
            }
            // The upload survives a failed completion.
            let etag = try await store.completeMultipartUpload(key, uploadId: id, parts: [
                CompletedPart(partNumber: 1, etag: e1), CompletedPart(partNumber: 2, etag: e2),
                CompletedPart(partNumber: 3, etag: e3),
            ])
            #expect(etag.hasSuffix("-3"))
        }
    }

    @Test(arguments: backends)
    func completeRejectsMissingOrMismatchedParts(_ backend: Backend) async throws {
        try await withStore(backend) { store, p in
            let key = p + "missing-part"
            let size = backend.minimumPartSize
            let id = try await store.createMultipartUpload(key, options: PutOptions())
            let e1 = try await store.uploadPart(key, uploadId: id, partNumber: 1, body: .bytes(pattern(size, seed: 1)))
            let e2 = try await store.uploadPart(key, uploadId: id, partNumber: 2, body: .bytes([2]))
            await expectError(.service("InvalidPart")) { () async throws(ObjectStoreError) in
                try await store.completeMultipartUpload(key, uploadId: id, parts: [
                    CompletedPart(partNumber: 1, etag: e1), CompletedPart(partNumber: 3, etag: e2),
                ])
            }
            await expectError(.service("InvalidPart")) { () async throws(ObjectStoreError) in
                try await store.completeMultipartUpload(key, uploadId: id, parts: [
                    CompletedPart(partNumber: 1, etag: e2), CompletedPart(partNumber: 2, etag: e2),
                ])
            }
            await expectError(.notFound) { () async throws(ObjectStoreError) in try await store.head(key) }
            _ = try await store.completeMultipartUpload(key, uploadId: id, parts: [
                CompletedPart(partNumber: 1, etag: e1), CompletedPart(partNumber: 2, etag: e2),
            ])
            #expect(try await store.head(key).size == UInt64(size + 1))
        }
    }

    @Test(arguments: backends)
    func completeRejectsSmallPartsButTheLast(_ backend: Backend) async throws {
        try await withStore(backend) { store, p in
            let key = p + "small"
            let size = backend.minimumPartSize
            let id = try await store.createMultipartUpload(key, options: PutOptions())
            let e1 = try await store.uploadPart(key, uploadId: id, partNumber: 1, body: .bytes(pattern(size - 1, seed: 1)))
            let e2 = try await store.uploadPart(key, uploadId: id, partNumber: 2, body: .bytes([2]))
            await expectError(.service("EntityTooSmall")) { () async throws(ObjectStoreError) in
                try await store.completeMultipartUpload(key, uploadId: id, parts: [
                    CompletedPart(partNumber: 1, etag: e1), CompletedPart(partNumber: 2, etag: e2),
                ])
            }
            // A small part is fine as the last (here the only) one.
            let etag = try await store.completeMultipartUpload(key, uploadId: id, parts: [CompletedPart(partNumber: 1, etag: e1)])
            #expect(etag == multipartETag([pattern(size - 1, seed: 1)]))
        }
    }

    @Test(arguments: backends)
    func abortDiscardsTheUpload(_ backend: Backend) async throws {
        try await withStore(backend) { store, p in
            let key = p + "aborted"
            let id = try await store.createMultipartUpload(key, options: PutOptions())
            let e1 = try await store.uploadPart(key, uploadId: id, partNumber: 1, body: .bytes([1, 2, 3]))
            try await store.abortMultipartUpload(key, uploadId: id)
            await expectError(.notFound) { () async throws(ObjectStoreError) in try await store.listParts(key, uploadId: id) }
            await expectError(.notFound) { () async throws(ObjectStoreError) in try await store.abortMultipartUpload(key, uploadId: id) }
            if backend.behavesLikeS3(.unknownUploadIdIsServerError) {
                await expectError(.notFound) { () async throws(ObjectStoreError) in
                    try await store.completeMultipartUpload(key, uploadId: id, parts: [CompletedPart(partNumber: 1, etag: e1)])
                }
                await expectError(.notFound) { () async throws(ObjectStoreError) in
                    try await store.uploadPart(key, uploadId: id, partNumber: 2, body: .bytes([4]))
                }
            }
            await expectError(.notFound) { () async throws(ObjectStoreError) in try await store.head(key) }
        }
    }

    @Test(arguments: backends)
    func listPartsShowsTheLatestUploadOfEachPart(_ backend: Backend) async throws {
        try await withStore(backend) { store, p in
            let key = p + "parts"
            let id = try await store.createMultipartUpload(key, options: PutOptions())
            #expect(try await store.listParts(key, uploadId: id).isEmpty)
            _ = try await store.uploadPart(key, uploadId: id, partNumber: 3, body: .bytes(pattern(30, seed: 3)))
            _ = try await store.uploadPart(key, uploadId: id, partNumber: 1, body: .bytes(pattern(10, seed: 1)))
            // Uploading a part number again replaces the part.
            let replaced = try await store.uploadPart(key, uploadId: id, partNumber: 1, body: .bytes(pattern(11, seed: 2)))
            let parts = try await store.listParts(key, uploadId: id)
            #expect(parts.map(\.partNumber) == [1, 3])
            #expect(parts.map(\.etag) == [replaced, md5Hex(pattern(30, seed: 3))])
            #expect(parts.map(\.size) == [11, 30])
            try await store.abortMultipartUpload(key, uploadId: id)
        }
    }

    @Test(arguments: backends)
    func unknownUploadIds(_ backend: Backend) async throws {
        try await withStore(backend) { store, p in
            let key = p + "k"
            await expectError(.notFound) { () async throws(ObjectStoreError) in try await store.listParts(key, uploadId: "no-such-upload") }
            await expectError(.notFound) { () async throws(ObjectStoreError) in
                try await store.abortMultipartUpload(key, uploadId: "no-such-upload")
            }
            if backend.behavesLikeS3(.unknownUploadIdIsServerError) {
                await expectError(.notFound) { () async throws(ObjectStoreError) in
                    try await store.uploadPart(key, uploadId: "no-such-upload", partNumber: 1, body: .bytes([1]))
                }
                await expectError(.notFound) { () async throws(ObjectStoreError) in
                    try await store.completeMultipartUpload(key, uploadId: "no-such-upload",
                                                            parts: [CompletedPart(partNumber: 1, etag: md5Hex([1]))])
                }
            }
            // An upload id belongs to its key.
            let id = try await store.createMultipartUpload(key, options: PutOptions())
            if backend.behavesLikeS3(.ignoresUploadKey) {
                await expectError(.notFound) { () async throws(ObjectStoreError) in try await store.listParts(p + "other", uploadId: id) }
            }
            try await store.abortMultipartUpload(key, uploadId: id)
        }
    }

    @Test(arguments: backends)
    func partNumbersRunFrom1To10000(_ backend: Backend) async throws {
        try await withStore(backend) { store, p in
            let key = p + "numbers"
            let id = try await store.createMultipartUpload(key, options: PutOptions())
            _ = try await store.uploadPart(key, uploadId: id, partNumber: 10_000, body: .bytes([1]))
            await expectError(.service("InvalidArgument")) { () async throws(ObjectStoreError) in
                try await store.uploadPart(key, uploadId: id, partNumber: 10_001, body: .bytes([1]))
            }
            if backend.behavesLikeS3(.partNumberZeroIsNoSuchUpload) {
                await expectError(.service("InvalidArgument")) { () async throws(ObjectStoreError) in
                    try await store.uploadPart(key, uploadId: id, partNumber: 0, body: .bytes([1]))
                }
            }
            #expect(try await store.listParts(key, uploadId: id).map(\.partNumber) == [10_000])
            try await store.abortMultipartUpload(key, uploadId: id)
        }
    }

    // MARK: - GET into a file

    @Test(arguments: backends)
    func getIntoFileAtAnOffset(_ backend: Backend) async throws {
        try await withStore(backend) { store, p in
            let key = p + "digits"
            let etag = try await store.put(key, bytes: Array("0123456789".utf8))
            let directory = try ProjectPaths.temporaryDirectory("coffer-objectstore")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let path = directory + "/cache"
            try Data(repeating: UInt8(ascii: "."), count: 30).write(to: URL(fileURLWithPath: path))

            let ranged = try await store.get(key, range: 2..<7, ifMatch: etag, intoFile: path, at: 10)
            #expect(ranged.count == 5)
            #expect(ranged.info.size == 10)
            #expect(ranged.info.etag == etag)
            var file = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            #expect(file == Array("..........23456...............".utf8))

            // A range cut at the end of the object, and a whole object written past the end of the file.
            #expect(try await store.get(key, range: 8..<100, ifMatch: nil, intoFile: path, at: 0).count == 2)
            #expect(try await store.get(key, range: nil, ifMatch: nil, intoFile: path, at: 30).count == 10)
            file = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            #expect(file == Array("89........23456...............0123456789".utf8))

            await expectError(.invalidRange) { () async throws(ObjectStoreError) in
                try await store.get(key, range: 10..<11, ifMatch: nil, intoFile: path, at: 0)
            }
            await expectError(.preconditionFailed) { () async throws(ObjectStoreError) in
                try await store.get(key, range: nil, ifMatch: md5Hex([0]), intoFile: path, at: 0)
            }
            await expectError(.notFound) { () async throws(ObjectStoreError) in
                try await store.get(p + "missing", range: nil, ifMatch: nil, intoFile: path, at: 0)
            }
            #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) == file)
        }
    }
}

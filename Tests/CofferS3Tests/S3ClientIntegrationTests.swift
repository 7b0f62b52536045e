import CofferAWS
import CofferCrypto
import CofferObjectStore
import CofferS3
import CofferTestSupport
import Foundation
import Testing

/// Every S3 operation against a real S3 protocol server (moto) that checks signatures and enforces IAM policies.
@Suite("S3 client against moto with signatures and IAM")
struct S3ClientIntegrationTests {
    static func prefix(_ name: String) -> String { "it-\(name)-\(UUID().uuidString.prefix(8))/" }

    static func bytes(_ count: Int, seed: UInt8 = 7) -> [UInt8] {
        var state = UInt32(seed) &* 2_654_435_761
        return (0..<count).map { _ in
            state = state &* 1_664_525 &+ 1_013_904_223
            return UInt8(truncatingIfNeeded: state >> 24)
        }
    }

    @Test func putGetHeadRoundTripWithMetadata() async throws {
        let moto = try await SignedMoto.shared()
        let s3 = moto.client()
        let key = Self.prefix("rt") + "file.bin"
        let data = Self.bytes(100_000)
        let etag = try await s3.putObject(key, body: .bytes(data),
                                          options: PutOptions(metadata: ["mode": "33188", "mtime": "1700000000.5"],
                                                              contentType: "application/x-test"))
        #expect(etag == Hex.encode(MD5.hash(data)))
        let head = try await s3.headObject(key)
        #expect(head.size == 100_000)
        #expect(head.etag == etag)
        #expect(head.contentType == "application/x-test")
        #expect(head.metadata == ["mode": "33188", "mtime": "1700000000.5"])
        let got = try await s3.getObject(key)
        #expect(got.bytes == data)
        #expect(got.info.metadata["mode"] == "33188")
        let empty = Self.prefix("rt") + "empty"
        try await s3.putObject(empty, body: .bytes([]))
        #expect(try await s3.getObject(empty).bytes == [])
        #expect(try await s3.headObject(empty).size == 0)
    }

    @Test func wrongSecretIsSignatureDoesNotMatch() async throws {
        let moto = try await SignedMoto.shared()
        var wrong = moto.users["full"]!
        wrong.secretAccessKey = "not-the-secret"
        let s3 = moto.client(credentials: wrong)
        let error = await #expect(throws: S3Error.self) { try await s3.getObject("anything") }
        #expect(error?.code == .signatureDoesNotMatch)
        #expect(error?.description.contains("AWS_SECRET_ACCESS_KEY") == true)
        #expect(error?.description.contains("not-the-secret") == false)

        let unknown = moto.client(credentials: AWSCredentials(accessKeyId: "AKIANOTAREALKEY00000", secretAccessKey: "x"))
        let error2 = await #expect(throws: S3Error.self) { try await unknown.listObjectsV2(ListRequest()) }
        #expect(error2?.code == .invalidAccessKeyId)
    }

    @Test func iamPoliciesAreEnforced() async throws {
        let moto = try await SignedMoto.shared()
        let key = Self.prefix("iam") + "backup.tar"
        let writer = moto.client(user: "writer")
        try await writer.putObject(key, body: .bytes(Array("backup".utf8)), options: PutOptions(condition: .doesNotExist))
        let listed = try await writer.listObjectsV2(ListRequest(prefix: key))
        #expect(listed.objects.map(\.key) == [key])
        let getError = await #expect(throws: S3Error.self) { try await writer.getObject(key) }
        #expect(getError?.code == .accessDenied)
        let headError = await #expect(throws: S3Error.self) { try await writer.headObject(key) }
        #expect(headError?.code == .accessDenied)
        #expect(headError?.status == 403)
        // A second create-only write of the same key is refused: a compromised host cannot overwrite backups.
        let overwrite = await #expect(throws: S3Error.self) {
            try await writer.putObject(key, body: .bytes([1]), options: PutOptions(condition: .doesNotExist))
        }
        #expect(overwrite?.code == .preconditionFailed)
        let reader = moto.client(user: "reader")
        #expect(try await reader.getObject(key).bytes == Array("backup".utf8))
        let putError = await #expect(throws: S3Error.self) { try await reader.putObject(key + ".2", body: .bytes([1])) }
        #expect(putError?.code == .accessDenied)
    }

    @Test func rangesAndStreamingIntoAFile() async throws {
        let moto = try await SignedMoto.shared()
        let s3 = moto.client()
        let key = Self.prefix("range") + "r"
        let data = Self.bytes(1 << 20, seed: 3)
        try await s3.putObject(key, body: .bytes(data))
        let middle = try await s3.getObject(key, range: 1000..<5096)
        #expect(middle.bytes == Array(data[1000..<5096]))
        #expect(middle.info.size == UInt64(data.count))
        let tail = try await s3.getObject(key, range: UInt64(data.count - 10)..<UInt64(data.count + 100))
        #expect(tail.bytes == Array(data[(data.count - 10)...]))
        let past = await #expect(throws: S3Error.self) { try await s3.getObject(key, range: 2 << 20..<(2 << 20) + 5) }
        #expect(past?.code == .invalidRange)

        let dir = try ProjectPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/sink"
        let written = try await s3.getObject(key, range: 4096..<(4096 + 300_000), intoFile: path, at: 100)
        #expect(written.count == 300_000)
        let onDisk = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(onDisk.count == 300_100)
        #expect(Array(onDisk[100...]) == Array(data[4096..<(4096 + 300_000)]))
    }

    @Test func aRangeReceivedInPiecesOfOneBlock() async throws {
        let moto = try await SignedMoto.shared()
        let s3 = moto.client()
        let key = Self.prefix("pieces") + "p"
        let data = Self.bytes(1 << 20, seed: 5)
        let etag = try await s3.putObject(key, body: .bytes(data))
        let range: Range<UInt64> = 1000..<150_000
        let pieces = try await s3.getObjectPieces(key, range: range, ifMatch: etag, pieceSize: 65536)
        #expect(pieces.map(\.count) == [65536, 65536, 17928])
        #expect(pieces.flatMap { $0 } == Array(data[1000..<150_000]))
        // Through the store, as the block cache asks: the same pieces; a changed object is .preconditionFailed.
        let store = S3ObjectStore(client: s3)
        #expect(try await store.get(key, range: range, ifMatch: etag, pieceSize: 65536) == pieces)
        let changed = await #expect(throws: ObjectStoreError.self) {
            try await store.get(key, range: range, ifMatch: "0123456789abcdef0123456789abcdef", pieceSize: 65536)
        }
        if case .preconditionFailed = changed {} else { Issue.record("\(String(describing: changed))") }
        // A range that ends past the object is cut at its end, as S3 does: fewer bytes than asked is an error here.
        let past = await #expect(throws: S3Error.self) {
            try await s3.getObjectPieces(key, range: UInt64(data.count - 10)..<UInt64(data.count + 100), ifMatch: nil,
                                         pieceSize: 65536)
        }
        #expect(past?.kind == .invalidResponse)
    }

    @Test func conditionalRequestsAnswer412() async throws {
        let moto = try await SignedMoto.shared()
        let s3 = moto.client()
        let key = Self.prefix("cond") + "c"
        let first = try await s3.putObject(key, body: .bytes([1, 2, 3]), options: PutOptions(condition: .doesNotExist))
        let again = await #expect(throws: S3Error.self) {
            try await s3.putObject(key, body: .bytes([4]), options: PutOptions(condition: .doesNotExist))
        }
        #expect(again?.code == .preconditionFailed)
        #expect(again?.status == 412)
        let second = try await s3.putObject(key, body: .bytes([5, 6]), options: PutOptions(condition: .etagMatches(first)))
        let stale = await #expect(throws: S3Error.self) {
            try await s3.putObject(key, body: .bytes([7]), options: PutOptions(condition: .etagMatches(first)))
        }
        #expect(stale?.code == .preconditionFailed)
        #expect(try await s3.getObject(key, ifMatch: second).bytes == [5, 6])
        let getStale = await #expect(throws: S3Error.self) { try await s3.getObject(key, ifMatch: first) }
        #expect(getStale?.code == .preconditionFailed)
        let notModified = await #expect(throws: S3Error.self) { try await s3.getObject(key, ifNoneMatch: second) }
        #expect(notModified?.code == .notModified)
    }

    @Test func copyWithCopyAndReplaceDirectives() async throws {
        let moto = try await SignedMoto.shared()
        let s3 = moto.client()
        let p = Self.prefix("copy")
        let etag = try await s3.putObject(p + "src", body: .bytes(Array("hello".utf8)),
                                          options: PutOptions(metadata: ["mode": "33188"], contentType: "text/plain"))
        try await s3.copyObject(from: p + "src", to: p + "dst", options: CopyOptions(sourceETag: etag))
        let copied = try await s3.getObject(p + "dst")
        #expect(copied.bytes == Array("hello".utf8))
        #expect(copied.info.metadata == ["mode": "33188"])
        #expect(copied.info.contentType == "text/plain")
        // chmod in place: copy onto itself with new metadata.
        try await s3.copyObject(from: p + "src", to: p + "src",
                                options: CopyOptions(metadata: .replace(["mode": "33261"], contentType: "text/plain")))
        #expect(try await s3.headObject(p + "src").metadata == ["mode": "33261"])
        // (moto ignores x-amz-copy-source-if-match, so that header is checked on the wire in S3ClientBehaviourTests.)
        let missing = await #expect(throws: S3Error.self) { try await s3.copyObject(from: p + "nope", to: p + "dst3") }
        #expect(missing?.code == .noSuchKey)
    }

    @Test func listingRoundTripsOddKeysAndPaginates() async throws {
        let moto = try await SignedMoto.shared()
        let s3 = moto.client()
        let p = Self.prefix("list")
        let names = ["a b.txt", "plus+sign", "percent%20x", "tilde~", "eq=ual", "ünïcødé/日本.txt", "dir/x", "dir/y/z",
                     "amp&lt", "quote\"'", "a//double", "dot/./seg", "star*"]
        for name in names { try await s3.putObject(p + name, body: .bytes(Array(name.utf8))) }
        let all = try await S3ObjectStore(client: s3).listAll(prefix: p)
        #expect(Set(all.map(\.key)) == Set(names.map { p + $0 }))
        for name in names {
            #expect(try await s3.getObject(p + name).bytes == Array(name.utf8), "round trip of \(name)")
        }
        let top = try await s3.listObjectsV2(ListRequest(prefix: p, delimiter: "/"))
        #expect(Set(top.commonPrefixes) == Set([p + "ünïcødé/", p + "dir/", p + "a/", p + "dot/"]))
        #expect(top.objects.allSatisfy { !$0.key.dropFirst(p.count).contains("/") })
        var seen: [String] = []
        var request = ListRequest(prefix: p, maxKeys: 2)
        var pages = 0
        while true {
            let page = try await s3.listObjectsV2(request)
            pages += 1
            #expect(page.objects.count <= 2)
            seen += page.objects.map(\.key)
            guard page.isTruncated, let token = page.nextContinuationToken else { break }
            request.continuationToken = token
        }
        #expect(pages == (names.count + 1) / 2)
        #expect(seen == all.map(\.key))
        let after = try await s3.listObjectsV2(ListRequest(prefix: p, startAfter: p + "dir/x"))
        #expect(after.objects.map(\.key) == all.map(\.key).filter { $0 > p + "dir/x" })
    }

    @Test func multipartUploadWithPartCopyAndListParts() async throws {
        let moto = try await SignedMoto.shared()
        let s3 = moto.client()
        let p = Self.prefix("mpu")
        let source = Self.bytes(6 << 20, seed: 9)
        try await s3.putObject(p + "source", body: .bytes(source))
        let dir = try ProjectPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let staged = Self.bytes(5 << 20, seed: 11) + Self.bytes(1234, seed: 12)
        let file = dir + "/staged"
        try Data(staged).write(to: URL(fileURLWithPath: file))

        let id = try await s3.createMultipartUpload(p + "big", options: PutOptions(metadata: ["mode": "33188"]))
        let part1 = try await s3.uploadPart(p + "big", uploadId: id, partNumber: 1,
                                            body: .file(path: file, offset: 0, count: 5 << 20))
        let part2 = try await s3.uploadPartCopy(p + "big", uploadId: id, partNumber: 2, source: p + "source",
                                                range: 0..<(5 << 20))
        let part3 = try await s3.uploadPart(p + "big", uploadId: id, partNumber: 3,
                                            body: .file(path: file, offset: 5 << 20, count: 1234))
        let listed = try await s3.listParts(p + "big", uploadId: id)
        #expect(listed.map(\.partNumber) == [1, 2, 3])
        #expect(listed.map(\.etag) == [part1, part2, part3])
        let parts = [CompletedPart(partNumber: 1, etag: part1), CompletedPart(partNumber: 2, etag: part2),
                     CompletedPart(partNumber: 3, etag: part3)]
        let etag = try await s3.completeMultipartUpload(p + "big", uploadId: id, parts: parts)
        #expect(etag.hasSuffix("-3"))
        // moto's answer (<CompleteMultipartUploadResponse>) is taken as the success it is: no "answer was lost"
        // recovery (a ListParts or HEAD after the completion) and no second completion.
        let onBig = await moto.server.requests(whenComplete: { logged in
            logged.contains { $0.path.hasSuffix("/" + p + "big") && $0.method == "POST" && $0.query.contains("uploadId") }
        }).filter { $0.path.hasSuffix("/" + p + "big") }
        #expect(onBig.filter { $0.method == "POST" && $0.query.contains("uploadId") }.count == 1, "\(onBig)")
        #expect(onBig.filter { $0.method == "GET" && $0.query.contains("uploadId") }.count == 1,
                "only the test's own ListParts: \(onBig)")
        #expect(!onBig.contains { $0.method == "HEAD" }, "\(onBig)")
        let got = try await s3.getObject(p + "big")
        #expect(got.bytes == Array(staged[0..<(5 << 20)]) + Array(source[0..<(5 << 20)]) + Array(staged[(5 << 20)...]))
        #expect(got.info.metadata["mode"] == "33188")

        let aborted = try await s3.createMultipartUpload(p + "aborted")
        _ = try await s3.uploadPart(p + "aborted", uploadId: aborted, partNumber: 1, body: .bytes([1, 2, 3]))
        try await s3.abortMultipartUpload(p + "aborted", uploadId: aborted)
        let gone = await #expect(throws: S3Error.self) { try await s3.listParts(p + "aborted", uploadId: aborted) }
        #expect(gone?.code == .noSuchUpload)
        let notCreated = await #expect(throws: S3Error.self) { try await s3.headObject(p + "aborted") }
        #expect(notCreated?.code == .noSuchKey)
    }

    @Test func deleteAndDeleteObjectsInBatches() async throws {
        let moto = try await SignedMoto.shared()
        let s3 = moto.client()
        let p = Self.prefix("del")
        try await s3.putObject(p + "one", body: .bytes([1]))
        try await s3.deleteObject(p + "one")
        try await s3.deleteObject(p + "one")  // missing: still succeeds
        let missing = await #expect(throws: S3Error.self) { try await s3.headObject(p + "one") }
        #expect(missing?.code == .noSuchKey)

        let keys = (0..<1010).map { p + String(format: "k%04d & <x>", $0) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for chunk in stride(from: 0, to: keys.count, by: 101) {
                group.addTask {
                    for key in keys[chunk..<min(keys.count, chunk + 101)] { try await s3.putObject(key, body: .bytes([])) }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await S3ObjectStore(client: s3).listAll(prefix: p).count == 1010)
        let failures = try await s3.deleteObjects(keys + [p + "never-existed"])
        #expect(failures.isEmpty)
        #expect(try await S3ObjectStore(client: s3).listAll(prefix: p).isEmpty)
    }

    @Test func missingBucketFailsWithActionableMessage() async throws {
        let moto = try await SignedMoto.shared()
        try await moto.client().headBucket()
        let s3 = moto.client(bucket: "no-such-bucket-here")
        let error = await #expect(throws: S3Error.self) { try await s3.headBucket() }
        #expect(error?.code == .noSuchBucket)
        #expect(error?.description.contains("bucket name") == true)
        let listError = await #expect(throws: S3Error.self) { try await s3.listObjectsV2(ListRequest()) }
        #expect(listError?.code == .noSuchBucket)
    }

    @Test func manyRequestsInFlightShareTheTransport() async throws {
        let moto = try await SignedMoto.shared()
        let s3 = moto.client()
        let p = Self.prefix("par")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<64 {
                group.addTask {
                    let data = Self.bytes(4096 + i, seed: UInt8(i))
                    try await s3.putObject(p + "\(i)", body: .bytes(data))
                    let back = try await s3.getObject(p + "\(i)", range: 1..<UInt64(4096 + i))
                    #expect(back.bytes == Array(data[1...]))
                }
            }
            try await group.waitForAll()
        }
    }
}

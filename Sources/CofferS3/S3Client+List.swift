import CofferAWS
import CofferObjectStore
import Foundation

extension S3Client {
    /// One page of keys (S3 ListObjectsV2 with `encoding-type=url`, so that any key, even one with characters
    /// XML 1.0 cannot carry, round-trips).
    public func listObjectsV2(_ request: ListRequest) async throws(S3Error) -> ListPage {
        var query: [(String, String)] = [("list-type", "2"), ("encoding-type", "url"), ("prefix", request.prefix),
                                         ("max-keys", "\(max(1, min(1000, request.maxKeys)))")]
        if let delimiter = request.delimiter { query.append(("delimiter", delimiter)) }
        if let token = request.continuationToken { query.append(("continuation-token", token)) }
        if let startAfter = request.startAfter { query.append(("start-after", startAfter)) }
        let response = try await perform(Operation(name: "ListObjectsV2", method: "GET", key: nil, query: query))
        let document = try document(response, "ListObjectsV2", expecting: "ListBucketResult")
        let encoded = document.childText("EncodingType")?.lowercased() == "url"
        func decode(_ value: String) throws(S3Error) -> String {
            guard encoded else { return value }
            // S3's "url" encoding is form encoding: "+" stands for a space.
            guard let decoded = AWSURIEncoding.decode(value.replacingOccurrences(of: "+", with: " ")) else {
                throw invalidResponse("ListObjectsV2", "a key is not valid percent-encoding: \(value)")
            }
            return decoded
        }
        var objects: [ObjectSummary] = []
        for entry in document.children("Contents") {
            guard let rawKey = entry.childText("Key") else { throw invalidResponse("ListObjectsV2", "<Contents> without <Key>") }
            let key = try decode(rawKey)
            guard let size = entry.childText("Size").flatMap({ UInt64($0) }) else {
                throw invalidResponse("ListObjectsV2", "<Contents> of \(key) without a valid <Size>")
            }
            objects.append(ObjectSummary(key: key, size: size, etag: Self.unquoted(entry.childText("ETag") ?? ""),
                                         lastModified: entry.childText("LastModified").flatMap(HTTPDate.parseISO8601)
                                             ?? Date(timeIntervalSince1970: 0)))
        }
        var prefixes: [String] = []
        for entry in document.children("CommonPrefixes") {
            guard let prefix = entry.childText("Prefix") else { continue }
            prefixes.append(try decode(prefix))
        }
        let truncated = document.childText("IsTruncated") == "true"
        let token = document.childText("NextContinuationToken")
        if truncated && token == nil {
            throw invalidResponse("ListObjectsV2", "a truncated listing without NextContinuationToken")
        }
        return ListPage(objects: objects, commonPrefixes: prefixes, isTruncated: truncated, nextContinuationToken: token)
    }
}

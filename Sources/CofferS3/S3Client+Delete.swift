import CofferAWS
import CofferCrypto
import CofferObjectStore
import Foundation

extension S3Client {
    /// Deletes up to 1000 keys in one request (S3 DeleteObjects, quiet mode). Returns the keys S3 could not delete.
    /// Longer lists are sent in batches of 1000.
    public func deleteObjects(_ keys: [String]) async throws(S3Error) -> [DeleteFailure] {
        var failures: [DeleteFailure] = []
        var start = 0
        while start < keys.count {
            let batch = keys[start..<min(keys.count, start + 1000)]
            start += batch.count
            var body = "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>"
            for key in batch { body += "<Object><Key>\(XMLTree.escape(key))</Key></Object>" }
            body += "</Delete>"
            let bytes = Array(body.utf8)
            var operation = Operation(name: "DeleteObjects", method: "POST", key: nil, query: [("delete", "")],
                                      body: .bytes(bytes))
            operation.headers.set("Content-Type", "application/xml")
            operation.headers.set("Content-MD5", Data(MD5.hash(bytes)).base64EncodedString())
            operation.mayHideErrorIn200 = true
            let response = try await perform(operation)
            let document = try document(response, "DeleteObjects", expecting: "DeleteResult")
            for error in document.children("Error") {
                failures.append(DeleteFailure(key: error.childText("Key") ?? "", code: error.childText("Code") ?? "",
                                              message: error.childText("Message") ?? ""))
            }
        }
        return failures
    }
}

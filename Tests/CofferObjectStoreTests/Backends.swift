import CofferObjectStore
import CofferS3
import CofferTestSupport
import Foundation

/// An `ObjectStore` implementation the contract tests (`ObjectStoreContractTests`) run against.
///
/// To add one, append it to `backends`. `make` is called once per test; a backend over a shared bucket is fine,
/// since every test works under its own unique key prefix.
struct Backend: Sendable, CustomStringConvertible {
    /// A store ready for one test, and what to do when the test is over.
    typealias Instance = (store: any ObjectStore, cleanup: @Sendable () async -> Void)

    /// Known ways a backend departs from S3. A test skips the assertions a listed deviation would break, so the
    /// rest of it still runs; the in-memory store and real S3 have none.
    enum Deviation: Sendable, Hashable {
        /// CopyObject ignores `x-amz-copy-source-if-match` (moto 5.x).
        case ignoresCopySourceIfMatch
        /// CopyObject ignores `If-None-Match` / `If-Match` on the destination (moto 5.x).
        case ignoresCopyDestinationCondition
        /// CompleteMultipartUpload accepts parts out of order (moto 5.x never answers InvalidPartOrder).
        case acceptsPartsOutOfOrder
        /// UploadPart and CompleteMultipartUpload with an unknown upload id answer 500, not 404 NoSuchUpload
        /// (moto 5.x; ListParts and AbortMultipartUpload answer 404 correctly).
        case unknownUploadIdIsServerError
        /// Multipart calls accept an upload id started for another key (moto 5.x).
        case ignoresUploadKey
        /// UploadPart with part number 0 answers NoSuchUpload instead of InvalidArgument (moto 5.x).
        case partNumberZeroIsNoSuchUpload
        /// CompleteMultipartUpload ignores `If-Match` (moto 5.x honours `If-None-Match: *` there).
        case ignoresMultipartIfMatch
    }

    /// Shown in test names.
    let name: String
    /// The smallest part (but the last) the backend accepts: 5 MiB for S3 and moto. Multipart tests size their
    /// parts from it.
    let minimumPartSize: Int
    /// How this backend departs from S3.
    let deviations: Set<Deviation>
    /// A store for one test.
    let make: @Sendable () async throws -> Instance

    var description: String { name }

    /// True unless the backend is known to get `behaviour` wrong.
    func behavesLikeS3(_ behaviour: Deviation) -> Bool { !deviations.contains(behaviour) }
}

extension Backend {
    /// The in-memory store, with 1 KiB parts so multipart tests stay small.
    static let inMemory = Backend(name: "in-memory", minimumPartSize: 1024, deviations: []) {
        (InMemoryObjectStore(minimumPartSize: 1024), cleanup: {})
    }
}

extension Backend {
    /// `S3ObjectStore` over a moto server that checks signatures and IAM (shared by the tests of the process).
    static let s3OnMoto = Backend(
        name: "S3 on moto", minimumPartSize: 5 * 1024 * 1024,
        deviations: [.ignoresCopySourceIfMatch, .ignoresCopyDestinationCondition, .acceptsPartsOutOfOrder,
                     .unknownUploadIdIsServerError, .ignoresUploadKey, .partNumberZeroIsNoSuchUpload,
                     .ignoresMultipartIfMatch]
    ) {
        (S3ObjectStore(client: try await SignedMoto.shared().client()), cleanup: {})
    }
}

/// Every backend the contract tests run against; each deviation of moto was observed with moto 5.2 and boto3.
let backends: [Backend] = [.inMemory, .s3OnMoto]

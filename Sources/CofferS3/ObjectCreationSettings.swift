import CofferHTTP

/// What every object the client creates carries: server-side encryption, storage class and canned ACL. They are
/// sent with PutObject, CopyObject (a copy is a new object: without them S3 would apply the bucket's defaults) and
/// CreateMultipartUpload; parts inherit them from their upload.
public struct ObjectCreationSettings: Sendable, Equatable {
    /// Encryption at rest by S3 (`x-amz-server-side-encryption`).
    public enum ServerSideEncryption: Sendable, Equatable {
        /// SSE-S3: keys managed by S3 (`AES256`).
        case s3Managed
        /// SSE-KMS with the given key (key id, key ARN, alias or alias ARN), or the account's AWS-managed
        /// `aws/s3` key when nil.
        case kms(keyID: String?)
        /// DSSE-KMS: dual-layer encryption with a KMS key, or the `aws/s3` key when nil.
        case dualLayerKMS(keyID: String?)
    }

    /// A canned ACL (`x-amz-acl`).
    public enum CannedACL: String, Sendable, Equatable, CaseIterable {
        case `private` = "private"
        case publicRead = "public-read"
        case publicReadWrite = "public-read-write"
        case authenticatedRead = "authenticated-read"
        case awsExecRead = "aws-exec-read"
        case bucketOwnerRead = "bucket-owner-read"
        case bucketOwnerFullControl = "bucket-owner-full-control"

        /// True for the ACLs that grant access to anyone beyond the bucket's and object's owners.
        public var isPublic: Bool {
            switch self {
            case .publicRead, .publicReadWrite, .authenticatedRead: return true
            case .private, .awsExecRead, .bucketOwnerRead, .bucketOwnerFullControl: return false
            }
        }
    }

    /// The storage classes S3 documents for `x-amz-storage-class`.
    public static let storageClasses: Set<String> = [
        "STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER",
        "DEEP_ARCHIVE", "GLACIER_IR", "OUTPOSTS", "SNOW", "EXPRESS_ONEZONE",
    ]

    /// Server-side encryption, or nil for the bucket's default encryption.
    public var serverSideEncryption: ServerSideEncryption?
    /// The storage class, or nil for the bucket's default (STANDARD).
    public var storageClass: String?
    /// The canned ACL, or nil to send none: S3 then makes the object private to its owner (and buckets with
    /// ACLs disabled, the default since 2023, refuse most ACL headers).
    public var cannedACL: CannedACL?

    /// Settings from their parts; the defaults add no header.
    public init(serverSideEncryption: ServerSideEncryption? = nil, storageClass: String? = nil,
                cannedACL: CannedACL? = nil) {
        self.serverSideEncryption = serverSideEncryption
        self.storageClass = storageClass
        self.cannedACL = cannedACL
    }

    /// Adds the settings' headers to a request that creates an object.
    func apply(to headers: inout HTTPHeaders) {
        switch serverSideEncryption {
        case nil:
            break
        case .s3Managed:
            headers.set("x-amz-server-side-encryption", "AES256")
        case .kms(let keyID):
            headers.set("x-amz-server-side-encryption", "aws:kms")
            if let keyID { headers.set("x-amz-server-side-encryption-aws-kms-key-id", keyID) }
        case .dualLayerKMS(let keyID):
            headers.set("x-amz-server-side-encryption", "aws:kms:dsse")
            if let keyID { headers.set("x-amz-server-side-encryption-aws-kms-key-id", keyID) }
        }
        if let storageClass { headers.set("x-amz-storage-class", storageClass) }
        if let cannedACL { headers.set("x-amz-acl", cannedACL.rawValue) }
    }
}

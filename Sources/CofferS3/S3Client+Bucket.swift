import CofferHTTP

extension S3Client {
    /// What HeadBucket learnt about the bucket.
    public struct BucketInfo: Sendable, Equatable {
        /// The region the bucket lives in, when the server says (`x-amz-bucket-region`).
        public var region: String?
    }

    /// Checks that the bucket exists and the credentials may use it (S3 HeadBucket).
    ///
    /// - Throws: `S3Error` with `.wrongRegion(actual:)` when the bucket lives in another region,
    ///   `.noSuchBucket`, `.accessDenied`, or credential errors, each with a message saying what to fix.
    @discardableResult
    public func headBucket() async throws(S3Error) -> BucketInfo {
        let response = try await perform(Operation(name: "HeadBucket", method: "HEAD", key: nil))
        return BucketInfo(region: response.headers["x-amz-bucket-region"])
    }

    /// A client for the same bucket that is sure of the bucket's region: when the configured region was not
    /// given explicitly and S3 says the bucket lives elsewhere, the returned client uses the right one.
    ///
    /// - Throws: what `headBucket()` throws; a wrong *explicit* region is reported, not silently changed.
    public func verifiedForBucketRegion() async throws(S3Error) -> S3Client {
        do throws(S3Error) {
            let info = try await headBucket()
            // S3 answers HeadBucket 200 in any region (through a global endpoint, or a server that serves every
            // region) and names the bucket's region in the header: requests signed for another region fail later.
            if let actual = info.region, !actual.isEmpty, actual != configuration.region {
                throw S3Error(kind: .wrongRegion(actual: actual), code: .other("WrongRegion"),
                              message: "bucket \(configuration.bucket) is in region \(actual), not \(configuration.region): "
                                  + "use --region \(actual)", status: 200, operation: "HeadBucket",
                              resource: "s3://\(configuration.bucket)")
            }
            return self
        } catch {
            guard case .wrongRegion(let actual) = error.kind, !configuration.regionIsExplicit else { throw error }
            logger.info("bucket region discovered", metadata: ["bucket": "\(configuration.bucket)", "region": "\(actual)"])
            var corrected = configuration
            corrected.region = actual
            let client = S3Client(configuration: corrected, logger: logger)
            try await client.headBucket()
            return client
        }
    }
}

// swift-tools-version: 6.0
// Coffer: a FUSE filesystem that mounts an S3 bucket as a local directory.
import PackageDescription

let package = Package(
    name: "Coffer",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "coffer", targets: ["coffer"]),
        .executable(name: "coffer-s3-bench", targets: ["coffer-s3-bench"]),
        .executable(name: "coffer-crypto-bench", targets: ["coffer-crypto-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        // C libraries, each wrapped by exactly one Swift module (`internal import`).
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CFuse", pkgConfig: "fuse3", providers: [.apt(["libfuse3-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .target(name: "CCurlShims", dependencies: ["CCurl"]),

        // Hashes, HMAC and random bytes over OpenSSL's EVP API.
        .target(name: "CofferCrypto", dependencies: ["COpenSSL"]),
        // HTTP transport over libcurl's multi interface.
        .target(name: "CofferHTTP", dependencies: ["CCurl", "CCurlShims"]),
        // What every AWS client needs: SigV4, credentials, XML, retries.
        .target(name: "CofferAWS", dependencies: [
            "CofferHTTP", "CofferCrypto", .product(name: "Logging", package: "swift-log"),
        ]),
        // AWS KMS: a client of its JSON API and an encryption keyring over it.
        .target(name: "CofferKMS", dependencies: [
            "CofferAWS", "CofferHTTP", "CofferCrypto", .product(name: "Logging", package: "swift-log"),
        ]),
        // The `ObjectStore` protocol, its value types and an in-memory store.
        .target(name: "CofferObjectStore"),
        // The S3 client and its `ObjectStore` conformance.
        .target(name: "CofferS3", dependencies: [
            "CofferAWS", "CofferHTTP", "CofferCrypto", "CofferObjectStore",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Checksums of what Coffer keeps on disk (journal records, cached blocks); CRC-32C in C, for the CPU's
        // CRC32 instruction.
        .target(name: "CChecksum"),
        .target(name: "CofferChecksum", dependencies: ["CChecksum"]),
        // Read side: a block cache of object ranges fetched with ranged GETs.
        .target(name: "CofferCache", dependencies: ["CofferObjectStore", "CofferChecksum",
                                                    .product(name: "Logging", package: "swift-log")]),
        // Write side: files staged on local disk and their upload (single PUT or parallel multipart).
        .target(name: "CofferWriteBack", dependencies: ["CofferObjectStore", "CofferChecksum",
                                                        .product(name: "Logging", package: "swift-log")]),
        // Metadata that outlives a mount: S3's answers about objects in a SQLite database, valid while unchanged.
        .target(name: "CofferMetadata", dependencies: [
            "CSQLite", "CofferObjectStore", .product(name: "Logging", package: "swift-log"),
        ]),
        // Envelope encryption of file contents: objects as AWS Encryption SDK messages, decrypted by frames.
        .target(name: "CofferEncryption", dependencies: [
            "CofferCrypto", "CofferObjectStore", .product(name: "Logging", package: "swift-log"),
        ]),
        // The filesystem core: POSIX semantics over any ObjectStore.
        .target(name: "CofferFS", dependencies: [
            "CofferObjectStore", "CofferCache", "CofferWriteBack", "CofferEncryption", "CofferMetadata",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The FUSE adapter: libfuse's low-level callbacks translated into CofferFS calls.
        .target(name: "CofferFUSE", dependencies: ["CFuse", "CofferFS", .product(name: "Logging", package: "swift-log")]),
        // Counters, gauges and histograms in the Prometheus text format (no dependencies).
        .target(name: "CofferMetrics"),
        .executableTarget(name: "coffer", dependencies: [
            "CofferFS", "CofferFUSE", "CofferMetrics", "CofferCache",
            "CofferS3", "CofferAWS", "CofferHTTP", "CofferObjectStore", "CofferKMS", "CofferEncryption", "CofferCrypto",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Benchmark of the S3 client alone (scripts/bench/s3-heads.sh).
        .executableTarget(name: "coffer-s3-bench", dependencies: ["CofferS3", "CofferAWS", "CofferHTTP"]),
        // Encryption throughput (scripts/bench/encryption.sh).
        .executableTarget(name: "coffer-crypto-bench", dependencies: ["CofferCrypto", "CofferEncryption"]),

        // Test support: launching moto, fake HTTP endpoints, temporary files.
        .target(name: "CofferTestSupport", dependencies: ["CofferHTTP", "CofferAWS", "CofferS3", "CofferCrypto", "CofferObjectStore"],
                path: "Tests/CofferTestSupport"),
        .testTarget(name: "CofferCryptoTests", dependencies: ["CofferCrypto", "CofferTestSupport"], exclude: ["Resources"]),
        .testTarget(name: "CofferHTTPTests", dependencies: ["CofferHTTP", "CofferTestSupport"], exclude: ["Resources"]),
        .testTarget(name: "CofferAWSTests", dependencies: ["CofferAWS", "CofferTestSupport"], exclude: ["Resources"]),
        .testTarget(name: "CofferS3Tests", dependencies: ["CofferS3", "CofferAWS", "CofferTestSupport"],
                    exclude: ["Resources"]),
        .testTarget(name: "CofferChecksumTests", dependencies: ["CofferChecksum"]),
        .testTarget(name: "CofferCacheTests", dependencies: ["CofferCache", "CofferObjectStore", "CofferTestSupport"]),
        .testTarget(name: "CofferWriteBackTests", dependencies: ["CofferWriteBack", "CofferChecksum", "CofferObjectStore",
                                                                 "CofferTestSupport"]),
        .testTarget(name: "CofferMetadataTests", dependencies: ["CofferMetadata", "CofferObjectStore", "CofferTestSupport"]),
        .testTarget(name: "CofferFSTests", dependencies: [
            "CofferFS", "CofferObjectStore", "CofferEncryption", "CofferCrypto", "CofferTestSupport",
        ]),
        .testTarget(name: "CofferKMSTests", dependencies: ["CofferKMS", "CofferAWS", "CofferCrypto", "CofferTestSupport"]),
        .testTarget(name: "CofferEncryptionTests", dependencies: [
            "CofferEncryption", "CofferCrypto", "CofferObjectStore", "CofferTestSupport",
        ]),
        .testTarget(name: "CofferMountTests", dependencies: ["CofferTestSupport", "CofferS3", "CofferAWS"],
                    exclude: ["Resources"]),
        .testTarget(name: "CofferMetricsTests", dependencies: ["CofferMetrics"]),
        .testTarget(name: "CofferObjectStoreTests", dependencies: [
            "CofferObjectStore", "CofferS3", "CofferAWS", "CofferTestSupport",
        ]),
    ]
)

import CofferEncryption
import CofferFS
import CofferS3
import Foundation

/// Everything `coffer mount` needs, resolved from the positional arguments, `-o` lists (fstab form) and long
/// options. Long options win over `-o` entries; later `-o` entries win over earlier ones.
struct MountSettings: Equatable {
    var bucket: String
    var prefix: String
    var mountpoint: String
    var uid: UInt32
    var gid: UInt32
    var umask: UInt32?
    var fileMode: UInt32?
    var directoryMode: UInt32?
    var metadataTTL: Double = 1
    /// The read cache's memory in MiB (`--read-cache-size`, `-o read_cache_mib=`).
    var readCacheMiB = 160
    /// The disk cache of file contents in MiB (`--data-cache-mib`, `-o data_cache_mib=`); 0 is off.
    var dataCacheMiB = 0
    var cacheDirectory: String?
    var readOnly = false
    var allowOther = false
    var noOverwrite = false
    /// Seconds a closed file waits, quiet, before upload (`--write-back-delay`, `-o write_back_delay=`); 0 uploads
    /// at close.
    var writeBackDelay: Double = 1.5
    /// MiB of closed files waiting for upload above which writers wait (`--max-dirty-mib`, `-o max_dirty_mib=`).
    var maxDirtyMiB = 1024
    /// Objects whose metadata the on-disk cache keeps (`--metadata-cache-entries`, `-o metadata_cache_entries=`).
    var metadataCacheEntries = 250_000
    /// Metadata HEADs in flight at once for the whole mount (`--metadata-requests`, `-o metadata_requests=`).
    var metadataRequests = 32
    /// What an upload does when another host changed the object (`--on-conflict`, `-o on_conflict=`).
    var conflictPolicy: ConflictPolicy = .keepBoth
    var fileSystemName: String?
    var endpointURL: String?
    var region: String?
    var profile: String?
    var pathStyle = false
    /// S3 connection and retry limits (`--connect-timeout`, `-o connect_timeout=` and so on); nil: the default.
    var connectTimeout: Int?
    var ioTimeout: Int?
    var startupTimeout: Double?
    var retries: Int?
    var retryMaxDelay: Double?
    /// Server-side encryption, storage class and canned ACL of new objects (`--sse`, `--sse-kms-key-id`,
    /// `--storage-class`, `--acl` and their `-o` forms); the defaults send no header (the bucket's defaults apply).
    var objectCreation = ObjectCreationSettings()
    /// The KMS key of `--sse aws:kms` (`--sse-kms-key-id`, `-o sse_kms_key_id=`); it alone implies aws:kms.
    var sseKMSKeyID: String?
    /// Send `x-amz-request-payer: requester` (`--requester-pays`, `-o requester_pays`).
    var requesterPays = false
    /// Where Prometheus metrics are served (`--metrics-addr`, `-o metrics_addr=`), `HOST:PORT`; nil: off.
    var metricsAddress: String?
    var logFile: String?
    /// A local wrapping key (`--encryption-key-file`, `-o encryption_key_file=`).
    var encryptionKeyFile: String?
    /// AWS KMS key ids, ARNs or aliases (`--kms-key-id`, `-o kms_key_id=`, repeatable): the first makes each
    /// file's data key, the others wrap it too.
    var kmsKeyIDs: [String] = []
    /// Where KMS requests go (`--kms-endpoint-url`, `-o kms_endpoint=`; default AWS_ENDPOINT_URL_KMS or AWS).
    var kmsEndpointURL: String?
    /// `required` (default) or `migrate` (`--encryption-mode`, `-o encryption=`).
    var encryptionMode: EncryptionMode?
    /// Extra encryption context pairs (`--encryption-context K=V`, `-o encryption_context=K=V`).
    var encryptionContext: [String: String] = [:]
    /// The local key's namespace and name in message headers (`--key-namespace`, `--key-name`).
    var keyNamespace: String?
    var keyName: String?
    /// `-o` entries Coffer does not know, passed on to libfuse and the kernel (`dev`, `noatime`, `auto_unmount`…).
    var fuseOptions: [String] = []

    /// `-o` entries that only matter to mount(8) or systemd and are ignored.
    static let ignoredOptions: Set<String> = ["_netdev", "nofail", "auto", "noauto", "user", "users", "nouser",
                                               "owner", "group", "defaults"]

    /// Permission bits of files: `file_mode`, else 0666 without the umask, else 0644.
    var effectiveFileMode: UInt32 {
        fileMode ?? umask.map { 0o666 & ~$0 } ?? 0o644
    }

    /// Permission bits of directories: `dir_mode`, else 0777 without the umask, else 0755.
    var effectiveDirectoryMode: UInt32 {
        directoryMode ?? umask.map { 0o777 & ~$0 } ?? 0o755
    }

    /// The source `mount` and `df` show.
    var effectiveFileSystemName: String {
        fileSystemName ?? "coffer:\(bucket)" + (prefix.isEmpty ? "" : "/\(prefix)")
    }

    /// `s3://bucket/prefix`.
    var location: String { "s3://\(bucket)/\(prefix)" }

    /// Applies one `-o` list (comma separated).
    mutating func apply(optionList: String) throws(MountSettingsError) {
        for item in optionList.split(separator: ",", omittingEmptySubsequences: true) {
            try apply(option: String(item))
        }
    }

    /// Applies one `-o` entry: `name` or `name=value`.
    mutating func apply(option: String) throws(MountSettingsError) {
        let parts = option.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        let name = String(parts[0])
        let value = parts.count > 1 ? String(parts[1]) : nil
        func required() throws(MountSettingsError) -> String {
            guard let value, !value.isEmpty else { throw .missingValue(name) }
            return value
        }
        switch name {
        case _ where Self.ignoredOptions.contains(name) || name.hasPrefix("x-") || name == "comment": break
        case "allow_other": allowOther = true
        case "ro": readOnly = true
        case "rw": readOnly = false
        case "uid": uid = try Self.userID(try required())
        case "gid": gid = try Self.groupID(try required())
        case "umask": umask = try Self.mode(try required(), option: name)
        case "file_mode": fileMode = try Self.mode(try required(), option: name)
        case "dir_mode": directoryMode = try Self.mode(try required(), option: name)
        case "endpoint", "endpoint_url", "url": endpointURL = try Self.url(try required())
        case "region": region = try required()
        case "profile": profile = try required()
        case "cache_dir": cacheDirectory = try required()
        case "metadata_ttl": metadataTTL = try Self.seconds(try required(), option: name)
        case "read_cache_mib": readCacheMiB = try Self.cacheSize(try required(), option: name)
        case "data_cache_mib": dataCacheMiB = try Self.diskCacheSize(try required(), option: name)
        case "no_overwrite": noOverwrite = true
        case "write_back_delay": writeBackDelay = try Self.seconds(try required(), option: name)
        case "max_dirty_mib": maxDirtyMiB = try Self.dirtyLimit(try required(), option: name)
        case "metadata_cache_entries": metadataCacheEntries = try Self.entryCount(try required(), option: name)
        case "metadata_requests": metadataRequests = try Self.requestBudget(try required(), option: name)
        case "on_conflict": conflictPolicy = try Self.conflictPolicy(try required())
        case "path_style", "use_path_request_style": pathStyle = true
        case "connect_timeout": connectTimeout = try Self.wholeSeconds(try required(), option: name)
        case "io_timeout": ioTimeout = try Self.wholeSeconds(try required(), option: name)
        case "startup_timeout": startupTimeout = try Self.positiveSeconds(try required(), option: name)
        case "retries": retries = try Self.retryCount(try required(), option: name)
        case "retry_max_delay": retryMaxDelay = try Self.positiveSeconds(try required(), option: name)
        case "sse": objectCreation.serverSideEncryption = try Self.serverSideEncryption(try required())
        case "sse_kms_key_id": sseKMSKeyID = try required()
        case "storage_class": objectCreation.storageClass = try Self.storageClass(try required())
        case "acl", "default_acl": objectCreation.cannedACL = try Self.cannedACL(try required(), option: name)
        case "requester_pays": requesterPays = true
        case "metrics_addr": metricsAddress = try Self.metricsAddress(try required())
        case "fsname": fileSystemName = try required()
        case "prefix": prefix = Self.normalizedPrefix(try required())
        case "log_file": logFile = try required()
        case "encryption_key_file": encryptionKeyFile = try required()
        case "kms_key_id": kmsKeyIDs.append(try required())
        case "kms_endpoint", "kms_endpoint_url": kmsEndpointURL = try Self.url(try required())
        case "encryption": encryptionMode = try Self.encryptionMode(try required())
        case "encryption_context":
            let (key, pairValue) = try Self.contextPair(try required())
            encryptionContext[key] = pairValue
        case "key_namespace": keyNamespace = try required()
        case "key_name": keyName = try required()
        default: fuseOptions.append(option)
        }
    }

    /// Whether files are encrypted.
    var encrypts: Bool { encryptionKeyFile != nil || !kmsKeyIDs.isEmpty }

    /// Refuses encryption settings that need a key when none is given.
    func checkEncryption() throws(MountSettingsError) {
        if !encrypts, encryptionMode != nil || !encryptionContext.isEmpty || keyNamespace != nil || keyName != nil {
            throw .encryptionWithoutKey
        }
    }

    // MARK: - Value parsing

    /// `required` or `migrate`.
    static func encryptionMode(_ text: String) throws(MountSettingsError) -> EncryptionMode {
        guard let mode = EncryptionMode(rawValue: text) else { throw .invalidEncryptionMode(text) }
        return mode
    }

    /// An endpoint: a URL with a scheme (a bare name is more likely a region given in the wrong place).
    static func url(_ text: String) throws(MountSettingsError) -> String {
        guard text.contains("://") else { throw .endpointNotURL(text) }
        return text
    }

    /// `key=value` of an encryption context pair (the value may hold `=`; the key must not be empty).
    static func contextPair(_ text: String) throws(MountSettingsError) -> (String, String) {
        let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[0].hasPrefix("aws-crypto-"), parts[0] != "coffer:v" else {
            throw .invalidContextPair(text)
        }
        return (String(parts[0]), String(parts[1]))
    }

    /// "prefix" and "prefix/" mean the same; "" is the whole bucket; leading slashes are dropped.
    static func normalizedPrefix(_ prefix: String) -> String {
        let trimmed = String(prefix.drop { $0 == "/" })
        return trimmed.isEmpty || trimmed.hasSuffix("/") ? trimmed : trimmed + "/"
    }

    /// Octal permission bits: "644", "0644", "0o644".
    static func mode(_ text: String, option: String) throws(MountSettingsError) -> UInt32 {
        var digits = Substring(text)
        if digits.hasPrefix("0o") { digits = digits.dropFirst(2) }
        guard let value = UInt32(digits, radix: 8), value <= 0o7777 else { throw .invalidMode(option, text) }
        return value
    }

    /// The read cache size in MiB: a whole number of at least 4 (four 1 MiB blocks).
    static func cacheSize(_ text: String, option: String) throws(MountSettingsError) -> Int {
        guard let value = Int(text), value >= 4, value <= 1 << 20 else { throw .invalidCacheSize(option, text) }
        return value
    }

    /// The disk cache's size in MiB: 0 (off) or at least 16, at most 16 TiB.
    static func diskCacheSize(_ text: String, option: String) throws(MountSettingsError) -> Int {
        guard let value = Int(text), value == 0 || (16...(16 << 20)).contains(value) else {
            throw .invalidDiskCacheSize(option, text)
        }
        return value
    }

    /// The write-back limit in MiB: a whole number of at least 1.
    static func dirtyLimit(_ text: String, option: String) throws(MountSettingsError) -> Int {
        guard let value = Int(text), value >= 1, value <= 1 << 24 else { throw .invalidDirtyLimit(option, text) }
        return value
    }

    /// A number of metadata cache entries: a whole number, 0 (off) to 100,000,000.
    static func entryCount(_ text: String, option: String) throws(MountSettingsError) -> Int {
        guard let value = Int(text), value >= 0, value <= 100_000_000 else { throw .invalidEntryCount(option, text) }
        return value
    }

    /// Requests in flight at once: 1 to 1024.
    static func requestBudget(_ text: String, option: String) throws(MountSettingsError) -> Int {
        guard let value = Int(text), (1...1024).contains(value) else { throw .invalidRequestBudget(option, text) }
        return value
    }

    /// `keep-both` or `overwrite`.
    static func conflictPolicy(_ text: String) throws(MountSettingsError) -> ConflictPolicy {
        guard let policy = ConflictPolicy(rawValue: text) else { throw .invalidConflictPolicy(text) }
        return policy
    }

    /// A non-negative number of seconds.
    static func seconds(_ text: String, option: String) throws(MountSettingsError) -> Double {
        guard let value = Double(text), value >= 0, value.isFinite else { throw .invalidNumber(option, text) }
        return value
    }

    /// `AES256` (SSE-S3), `aws:kms` (SSE-KMS) or `aws:kms:dsse` (DSSE-KMS), as S3's header names them.
    static func serverSideEncryption(_ text: String) throws(MountSettingsError)
        -> ObjectCreationSettings.ServerSideEncryption
    {
        switch text.lowercased() {
        case "aes256", "sse-s3": return .s3Managed
        case "aws:kms", "kms", "sse-kms": return .kms(keyID: nil)
        case "aws:kms:dsse", "dsse-kms": return .dualLayerKMS(keyID: nil)
        default: throw .invalidServerSideEncryption(text)
        }
    }

    /// One of S3's storage class names (case-insensitive).
    static func storageClass(_ text: String) throws(MountSettingsError) -> String {
        let name = text.uppercased()
        guard ObjectCreationSettings.storageClasses.contains(name) else { throw .invalidStorageClass(text) }
        return name
    }

    /// One of S3's canned ACL names.
    static func cannedACL(_ text: String, option: String) throws(MountSettingsError) -> ObjectCreationSettings.CannedACL {
        guard let acl = ObjectCreationSettings.CannedACL(rawValue: text.lowercased()) else {
            throw .invalidACL(option, text)
        }
        return acl
    }

    /// `HOST:PORT` with an IPv4 address (or `localhost`) and a port number, as `--metrics-addr` takes it.
    static func metricsAddress(_ text: String) throws(MountSettingsError) -> String {
        guard (try? MetricsServer.parse(text)) != nil else { throw .invalidMetricsAddress(text) }
        return text
    }

    /// Folds `sseKMSKeyID` into `objectCreation`: a key alone means SSE-KMS with it; with SSE-S3 it is an error.
    mutating func resolveServerSideEncryption() throws(MountSettingsError) {
        guard let keyID = sseKMSKeyID else { return }
        switch objectCreation.serverSideEncryption {
        case nil, .kms: objectCreation.serverSideEncryption = .kms(keyID: keyID)
        case .dualLayerKMS: objectCreation.serverSideEncryption = .dualLayerKMS(keyID: keyID)
        case .s3Managed: throw .kmsKeyWithoutKMSEncryption
        }
    }

    /// A number of seconds more than 0 (at most an hour).
    static func positiveSeconds(_ text: String, option: String) throws(MountSettingsError) -> Double {
        guard let value = Double(text), S3Options.isTimeLimit(value) else { throw .invalidLimit(option, text) }
        return value
    }

    /// A whole number of seconds more than 0 (at most an hour).
    static func wholeSeconds(_ text: String, option: String) throws(MountSettingsError) -> Int {
        guard let value = Int(text), S3Options.isTimeLimit(Double(value)) else { throw .invalidLimit(option, text) }
        return value
    }

    /// A number of retries, 0 to 100.
    static func retryCount(_ text: String, option: String) throws(MountSettingsError) -> Int {
        guard let value = Int(text), S3Options.retryCounts.contains(value) else { throw .invalidRetryCount(option, text) }
        return value
    }

    /// A user id, or a user name looked up in the password database.
    static func userID(_ text: String) throws(MountSettingsError) -> UInt32 {
        if let id = UInt32(text) { return id }
        guard let entry = getpwnam(text) else { throw .unknownUser(text) }
        return entry.pointee.pw_uid
    }

    /// A group id, or a group name looked up in the group database.
    static func groupID(_ text: String) throws(MountSettingsError) -> UInt32 {
        if let id = UInt32(text) { return id }
        guard let entry = getgrnam(text) else { throw .unknownGroup(text) }
        return entry.pointee.gr_gid
    }

    /// `/var/cache/coffer/<bucket>` for root, else `$XDG_CACHE_HOME/coffer/<bucket>` (`~/.cache` by default).
    static func defaultCacheDirectory(bucket: String, environment: [String: String]) -> String {
        if geteuid() == 0 { return "/var/cache/coffer/\(bucket)" }
        let base = environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (environment["HOME"] ?? NSHomeDirectory()) + "/.cache"
        return "\(base)/coffer/\(bucket)"
    }
}

/// A mount option that cannot be used, with what to write instead.
enum MountSettingsError: Error, Equatable, CustomStringConvertible {
    case missingValue(String)
    case invalidMode(String, String)
    case invalidNumber(String, String)
    case invalidEntryCount(String, String)
    case invalidLimit(String, String)
    case invalidRetryCount(String, String)
    case invalidDiskCacheSize(String, String)
    case invalidRequestBudget(String, String)
    case invalidServerSideEncryption(String)
    case invalidStorageClass(String)
    case invalidACL(String, String)
    case kmsKeyWithoutKMSEncryption
    case invalidMetricsAddress(String)
    case unknownUser(String)
    case unknownGroup(String)
    case endpointNotURL(String)
    case invalidSource(String)
    case conflictingPrefix(String, String)
    case invalidCacheSize(String, String)
    case invalidDirtyLimit(String, String)
    case invalidConflictPolicy(String)
    case invalidEncryptionMode(String)
    case invalidContextPair(String)
    case encryptionWithoutKey

    var description: String {
        switch self {
        case .missingValue(let name): return "mount option \(name) needs a value: \(name)=..."
        case .invalidMode(let name, let text): return "\(name)=\(text) is not an octal mode such as 0644"
        case .invalidNumber(let name, let text): return "\(name)=\(text) is not a number of seconds (>= 0)"
        case .invalidEntryCount(let name, let text):
            return "\(name)=\(text) is not a number of entries (0 to 100000000; 0 turns the cache off)"
        case .invalidLimit(let name, let text):
            return "\(name)=\(text) is not a time limit: give seconds more than 0 and at most 3600"
        case .invalidServerSideEncryption(let text):
            return "sse=\(text) is not a server-side encryption: give AES256 (SSE-S3), aws:kms (SSE-KMS) or aws:kms:dsse"
        case .invalidStorageClass(let text):
            return "storage_class=\(text) is not an S3 storage class: give one of "
                + ObjectCreationSettings.storageClasses.sorted().joined(separator: ", ")
        case .invalidACL(let name, let text):
            return "\(name)=\(text) is not a canned ACL: give one of "
                + ObjectCreationSettings.CannedACL.allCases.map(\.rawValue).joined(separator: ", ")
        case .invalidMetricsAddress(let text):
            return "metrics_addr=\(text) is not HOST:PORT with an IPv4 address, such as 127.0.0.1:9464"
        case .kmsKeyWithoutKMSEncryption:
            return "sse_kms_key_id needs KMS encryption: give --sse aws:kms (or leave --sse out), not AES256"
        case .invalidRequestBudget(let name, let text):
            return "\(name)=\(text) is not a number of requests in flight: give a whole number from 1 to 1024"
        case .invalidRetryCount(let name, let text):
            return "\(name)=\(text) is not a number of retries: give a whole number from 0 (never retry) to 100"
        case .unknownUser(let name): return "no user named \(name) (give a name from /etc/passwd or a number)"
        case .unknownGroup(let name): return "no group named \(name) (give a name from /etc/group or a number)"
        case .endpointNotURL(let text):
            return "endpoint=\(text) is not a URL: write endpoint=https://host[:port] (for a region, use region=\(text))"
        case .invalidSource(let text):
            return "\(text) is not a bucket: write s3://BUCKET[/PREFIX] or BUCKET"
        case .invalidDiskCacheSize(let name, let text):
            return "\(name)=\(text) is not a disk cache size: give 0 (off) or a whole number of MiB from 16 up, such as 10240"
        case .invalidCacheSize(let name, let text):
            return "\(name)=\(text) is not a read cache size: give a whole number of MiB from 4 up, such as 64"
        case .invalidDirtyLimit(let name, let text):
            return "\(name)=\(text) is not a write-back limit: give a whole number of MiB from 1 up, such as 1024"
        case .invalidConflictPolicy(let text):
            return "on-conflict policy \(text) is unknown: use keep-both (keep the other host's object and store this "
                + "mount's version as NAME.conflict-HOST-TIME) or overwrite (last writer wins)"
        case .invalidEncryptionMode(let text):
            return "encryption mode \(text) is unknown: use required (refuse unencrypted objects) or migrate (read them)"
        case .invalidContextPair(let text):
            return "encryption context \(text) is not KEY=VALUE with a non-empty key (keys aws-crypto-* and coffer:v are "
                + "reserved)"
        case .encryptionWithoutKey:
            return "encryption options need a key: give --encryption-key-file PATH (make one with `coffer keygen PATH`) "
                + "or --kms-key-id ARN|alias/NAME"
        case .conflictingPrefix(let fromURL, let option):
            return "the prefix is given twice (\(fromURL) in the URL, \(option) with --prefix): give it once"
        }
    }
}

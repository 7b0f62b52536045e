import ArgumentParser
import CofferFS
import CofferFUSE
import CofferObjectStore
import CofferS3
import Foundation
import Logging

/// `coffer mount s3://BUCKET[/PREFIX] MOUNTPOINT`: the composition root (S3Client → S3ObjectStore → FileSystem
/// → FuseMount).
struct MountCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mount",
        abstract: "Mount an S3 bucket, or a prefix of it, on an empty local directory.",
        usage: """
            coffer mount s3://BUCKET[/PREFIX] MOUNTPOINT [-f] [-o OPTION[,OPTION...]] [options]
            coffer mount BUCKET MOUNTPOINT [--prefix PREFIX/] [options]
            """,
        discussion: """
            Runs in the background once mounted unless -f/--foreground is given; start-up errors are printed here \
            either way and give a non-zero exit status. Unmount with `coffer unmount MOUNTPOINT` (or \
            `fusermount3 -u`, `umount`); SIGINT/SIGTERM upload pending writes and then unmount.

            Before mounting, the bucket and its region are checked (HeadBucket) and the prefix is listed once, so \
            a wrong bucket, region, endpoint or credentials fail here with S3's message.

            -o takes a comma-separated list, as in /etc/fstab (long options win):
              allow_other  ro  rw  uid=N|NAME  gid=N|NAME  umask=OCT
              file_mode=OCT  dir_mode=OCT  endpoint=URL  region=R  profile=P
              path_style  cache_dir=DIR  metadata_ttl=SECONDS  no_overwrite  read_cache_mib=N  data_cache_mib=N
              write_back_delay=SECONDS  max_dirty_mib=N  on_conflict=keep-both|overwrite
              metadata_cache_entries=N  metadata_requests=N
              fsname=NAME  prefix=P/  log_file=PATH
              encryption_key_file=PATH  kms_key_id=ID  kms_endpoint=URL
              encryption=required|migrate  encryption_context=K=V
              key_namespace=NS  key_name=NAME
            Ignored: _netdev, nofail, auto, noauto, user, users, defaults, x-*. \
            Anything else is passed to FUSE and the kernel (noatime, auto_unmount...).

            In /etc/fstab (mount.fuse3 runs `coffer SOURCE MOUNTPOINT -o OPTIONS`):
              s3://bucket/data/ /mnt/data fuse.coffer _netdev,allow_other 0 0

            Encryption (docs/encryption.md): with --encryption-key-file and/or --kms-key-id every file written is \
            encrypted before upload as an AWS Encryption SDK message (AES-256-GCM, one data key per file) and \
            decrypted when read; with both, each file's key is wrapped by both (either can decrypt it). Make a \
            key file with `coffer keygen PATH`.

            Permissions are checked by the kernel from the modes shown (default_permissions); objects without \
            Coffer's metadata belong to --uid/--gid with --file-mode/--dir-mode.
            """
    )

    @Argument(help: ArgumentHelp("The bucket: s3://BUCKET[/PREFIX], or BUCKET with --prefix.", valueName: "bucket"))
    var source: String

    @Argument(help: ArgumentHelp("An existing empty directory to mount on.", valueName: "mountpoint"))
    var mountpoint: String

    @Option(help: ArgumentHelp("Mount only keys under this prefix (mount-s3 style), such as logs/2024/.",
                               valueName: "prefix"))
    var prefix: String?

    @Flag(name: .shortAndLong, help: "Stay in the foreground and log to standard error (default: run in the background).")
    var foreground = false

    @Option(name: .customShort("o"), help: ArgumentHelp(
        "Mount options, comma-separated as in fstab (see below). May be repeated.", valueName: "options"))
    var optionLists: [String] = []

    @Option(help: ArgumentHelp("Owner of files and directories (number or name; default: you).", valueName: "uid"))
    var uid: String?

    @Option(help: ArgumentHelp("Group of files and directories (number or name; default: yours).", valueName: "gid"))
    var gid: String?

    @Option(name: .customLong("file-mode"), help: ArgumentHelp("Permission bits of files, octal (default 0644).",
                                                               valueName: "mode"))
    var fileMode: String?

    @Option(name: .customLong("dir-mode"), help: ArgumentHelp("Permission bits of directories, octal (default 0755).",
                                                              valueName: "mode"))
    var directoryMode: String?

    @Option(name: .customLong("metadata-ttl"), help: ArgumentHelp(
        "How long listings and attributes are trusted before S3 is asked again (default 1).", valueName: "seconds"))
    var metadataTTL: String?

    @Option(name: .customLong("read-cache-size"), help: ArgumentHelp(
        "Memory for cached file contents in MiB (default 160; at least 4). Bounds the mount's memory when reading; "
            + "read-ahead uses at most a quarter of it.", valueName: "MiB"))
    var readCacheSize: String?

    @Option(name: .customLong("data-cache-mib"), help: ArgumentHelp(
        "Disk space for file contents in the cache directory (CACHE/blocks), in MiB: files read again after they "
            + "left memory, or after a remount, are not downloaded again (default 0: off; not with encryption).",
        valueName: "MiB"))
    var dataCacheMiB: String?

    @Option(name: .customLong("cache-dir"), help: ArgumentHelp(
        "Where writes are staged before upload (default /var/cache/coffer/BUCKET, or $XDG_CACHE_HOME/coffer/BUCKET "
            + "when not root).", valueName: "dir"))
    var cacheDirectory: String?

    @Flag(name: .customLong("read-only"), help: "Mount read-only (-o ro).")
    var readOnly = false

    @Flag(name: .customLong("allow-other"), help: "Let other users access the mount (-o allow_other; root, or user_allow_other in /etc/fuse.conf).")
    var allowOther = false

    @Flag(name: .customLong("no-overwrite"), help: "Never replace an existing object: writes to existing files fail.")
    var noOverwrite = false

    @Option(name: .customLong("write-back-delay"), help: ArgumentHelp(
        "Seconds a closed file with changes waits, quiet, before it is uploaded (default 1.5): everything done to it "
            + "meanwhile (renames, chmod, more writes) folds into one upload. 0 uploads at close and reports upload "
            + "errors to close(). fsync(2) always uploads at once.", valueName: "seconds"))
    var writeBackDelay: String?

    @Option(name: .customLong("max-dirty-mib"), help: ArgumentHelp(
        "MiB of closed files waiting for upload above which writers wait for uploads (default 1024).",
        valueName: "MiB"))
    var maxDirtyMiB: String?

    @Option(name: .customLong("metadata-cache-entries"), help: ArgumentHelp(
        "Objects whose metadata is kept in CACHE/metadata.sqlite, so that listings need no HEAD for objects they "
            + "show unchanged, after a remount too (default 250000; 0 turns it off).", valueName: "N"))
    var metadataCacheEntries: String?

    @Option(name: .customLong("metadata-requests"), help: ArgumentHelp(
        "HEAD requests for metadata (ls -l, rsync's stats) in flight at once for the whole mount (default 32).",
        valueName: "N"))
    var metadataRequests: String?

    @Option(name: .customLong("on-conflict"), help: ArgumentHelp(
        "When another host changed a file since this mount read it: keep-both (default: its object stays, this "
            + "mount's version is stored as NAME.conflict-HOST-TIME) or overwrite (last writer wins, as s3fs).",
        valueName: "policy"))
    var onConflict: String?

    @Option(name: .customLong("sse"), help: ArgumentHelp(
        "S3 server-side encryption of new objects: AES256 (SSE-S3), aws:kms (SSE-KMS) or aws:kms:dsse "
            + "(default: the bucket's default encryption).", valueName: "type"))
    var serverSideEncryption: String?

    @Option(name: .customLong("sse-kms-key-id"), help: ArgumentHelp(
        "The KMS key of --sse aws:kms (key id, ARN or alias; default: the aws/s3 key). Implies --sse aws:kms.",
        valueName: "key"))
    var sseKMSKeyID: String?

    @Option(name: .customLong("storage-class"), help: ArgumentHelp(
        "Storage class of new objects, such as STANDARD_IA or INTELLIGENT_TIERING (default: the bucket's, STANDARD).",
        valueName: "class"))
    var storageClass: String?

    @Option(name: .customLong("acl"), help: ArgumentHelp(
        "Canned ACL of new objects, such as bucket-owner-full-control (default: none sent, so objects are private).",
        valueName: "acl"))
    var acl: String?

    @Option(name: .customLong("metrics-addr"), help: ArgumentHelp(
        "Serve Prometheus metrics at http://HOST:PORT/metrics, such as 127.0.0.1:9464 (default: off).",
        valueName: "host:port"))
    var metricsAddress: String?

    @Option(name: .customLong("encryption-key-file"), help: ArgumentHelp(
        "Encrypt files with the 32-byte key in this file (mode 0600; make one with `coffer keygen`).", valueName: "path"))
    var encryptionKeyFile: String?

    @Option(name: .customLong("kms-key-id"), help: ArgumentHelp(
        "Encrypt files with data keys from this AWS KMS key (key ARN, key id, alias/NAME or alias ARN). May be "
            + "repeated: the first makes each data key, every other one wraps it too.", valueName: "id"))
    var kmsKeyIDs: [String] = []

    @Option(name: .customLong("kms-endpoint-url"), help: ArgumentHelp(
        "A KMS-compatible endpoint (default: AWS_ENDPOINT_URL_KMS, else AWS).", valueName: "url"))
    var kmsEndpointURL: String?

    @Option(name: .customLong("encryption-mode"), help: ArgumentHelp(
        "required (default): unencrypted objects read as I/O errors; migrate: they read as they are. New files are "
            + "always encrypted.", valueName: "mode"))
    var encryptionMode: String?

    @Option(name: .customLong("encryption-context"), help: ArgumentHelp(
        "An extra encryption context pair written into every file and required when reading (not secret). May be "
            + "repeated.", valueName: "key=value"))
    var encryptionContext: [String] = []

    @Option(name: .customLong("key-namespace"), help: ArgumentHelp(
        "The local key's namespace in message headers (default coffer-local).", valueName: "namespace"))
    var keyNamespace: String?

    @Option(name: .customLong("key-name"), help: ArgumentHelp(
        "The local key's name in message headers (default default).", valueName: "name"))
    var keyName: String?

    @Option(name: .customLong("log-file"), help: ArgumentHelp(
        "Log to this file (default: standard error in the foreground, syslog in the background).", valueName: "path"))
    var logFile: String?

    @Option(name: .customLong("log-level"), help: ArgumentHelp(
        "How much to log (default info; --verbose means debug).",
        valueName: "level"))
    var logLevel: Logger.Level?

    @Flag(name: .customLong("daemon-child"), help: .hidden)
    var daemonChild = false

    @OptionGroup var s3: S3Options

    func validate() throws {
        do {
            _ = try resolve()
        } catch {
            throw ValidationError(error.description)
        }
    }

    mutating func run() async throws {
        let settings: MountSettings
        do {
            settings = try resolve()
        } catch {
            throw ValidationError(error.description)
        }
        // Check the mountpoint first: it is cheap and its errors are the most common.
        let mountpointPath: String
        do {
            mountpointPath = try FuseMount.checkMountpoint(settings.mountpoint)
        } catch {
            throw ValidationFailure(message: "\(error)")
        }
        if !foreground && !daemonChild {
            let arguments = Array(CommandLine.arguments.dropFirst()) + [Daemon.childFlag]
            let status = try Daemon.start(arguments: arguments, mountpoint: mountpointPath)
            throw ExitCode(status)
        }
        try await mount(settings, mountpoint: mountpointPath)
    }

    /// Verifies S3, builds the filesystem and serves it until unmounted.
    private func mount(_ settings: MountSettings, mountpoint: String) async throws {
        MemoryTuning.apply()
        let level = logLevel ?? (s3.verbose ? .debug : .info)
        let logFile = settings.logFile.map { MountTable.canonical($0) }
        try LoggingSetup.bootstrap(logFile: logFile, background: daemonChild, level: level)
        var logger = Logger(label: "coffer")
        logger.logLevel = level

        var s3 = self.s3
        s3.endpointURL = settings.endpointURL
        s3.region = settings.region
        s3.profile = settings.profile
        s3.pathStyle = settings.pathStyle
        s3.connectTimeout = settings.connectTimeout
        s3.ioTimeout = settings.ioTimeout
        s3.startupTimeout = settings.startupTimeout
        s3.retries = settings.retries
        s3.retryMaxDelay = settings.retryMaxDelay
        s3.requesterPays = settings.requesterPays
        if let acl = settings.objectCreation.cannedACL, acl.isPublic {
            logger.warning("objects this mount writes get a public ACL, as asked: anyone it names can read them",
                           metadata: ["acl": "\(acl.rawValue)"])
        }
        let metrics = settings.metricsAddress.map { _ in MountMetrics() }
        let client: S3Client
        do {
            client = try await s3.verifiedClient(bucket: settings.bucket, logger: logger,
                                                 objectCreation: settings.objectCreation, observer: metrics)
            _ = try await client.listObjectsV2(ListRequest(prefix: settings.prefix, delimiter: "/", maxKeys: 1))
        } catch {
            throw ValidationFailure(message: "\(settings.location): \(error)")
        }

        let cacheDirectory = MountTable.canonical(settings.cacheDirectory ?? MountSettings.defaultCacheDirectory(
            bucket: settings.bucket, environment: ProcessInfo.processInfo.environment))
        do {
            try FileManager.default.createDirectory(atPath: cacheDirectory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw ValidationFailure(message: "cannot create the cache directory \(cacheDirectory): \(error.localizedDescription)")
        }

        let options = FileSystemOptions(
            prefix: settings.prefix, defaultUID: settings.uid, defaultGID: settings.gid,
            defaultFileMode: settings.effectiveFileMode, defaultDirectoryMode: settings.effectiveDirectoryMode,
            metadataTTL: settings.metadataTTL, cacheDirectory: cacheDirectory, readOnly: settings.readOnly,
            noOverwrite: settings.noOverwrite, readCacheCapacity: settings.readCacheMiB << 20,
            writeBackDelay: settings.writeBackDelay, maxPendingUploadBytes: UInt64(settings.maxDirtyMiB) << 20,
            conflictPolicy: settings.conflictPolicy, mountIdentity: "s3://\(settings.bucket)/\(settings.prefix)",
            hostName: ProcessInfo.processInfo.hostName, metadataCacheEntries: settings.metadataCacheEntries,
            metadataRequestBudget: settings.metadataRequests, dataCacheCapacity: settings.dataCacheMiB << 20)
        let encryption = try await EncryptionSetup.configuration(for: settings, client: client, logger: logger)
        let fileSystem = FileSystem(store: S3ObjectStore(client: client), options: options, encryption: encryption,
                                    logger: Logger(label: "coffer.fs"))
        let recovery: RecoverySummary
        do {
            recovery = try await fileSystem.recoverPendingUploads()
        } catch {
            throw ValidationFailure(message: error.description)
        }
        if let metrics, let address = settings.metricsAddress {
            metrics.follow(fileSystem)
            metrics.record(recovery)
            let server: MetricsServer
            do {
                server = try MetricsServer(address: address, registry: metrics.registry, logger: logger)
            } catch {
                throw ValidationFailure(message: "\(error)")
            }
            server.start()
            if !server.boundAddress.hasPrefix("127.") {
                logger.notice("metrics are served beyond this host: restrict who can reach the port",
                              metadata: ["address": "\(server.boundAddress)"])
            }
            logger.info("serving metrics", metadata: ["url": "http://\(server.boundAddress)/metrics"])
        }
        if recovery.found > 0 || recovery.setAside > 0 {
            logger.notice("replayed the write-back journal of an earlier run", metadata: [
                "records": "\(recovery.found)", "uploaded": "\(recovery.uploaded)",
                "still-pending": "\(recovery.stillPending)", "set-aside": "\(recovery.setAside)",
            ])
        }
        let mountOptions = FuseMountOptions(
            fileSystemName: settings.effectiveFileSystemName, allowOther: settings.allowOther,
            readOnly: settings.readOnly, extraOptions: settings.fuseOptions,
            directoryEntryTimeout: settings.metadataTTL)
        let mount: FuseMount
        do {
            mount = try FuseMount(fileSystem: fileSystem, mountpoint: mountpoint, options: mountOptions,
                                  logger: Logger(label: "coffer.fuse"), observer: metrics)
        } catch {
            throw ValidationFailure(message: "\(error)")
        }
        mount.unmountOnTerminationSignals()
        logger.info("mounting", metadata: [
            "source": "\(settings.location)", "mountpoint": "\(mountpoint)", "cache": "\(cacheDirectory)",
            "region": "\(client.configuration.region)",
            "encryption": "\(encryption.map { "\($0.mode.rawValue) with \($0.keyringSummary)" } ?? "off")",
        ])
        let detach = daemonChild
        let location = settings.location
        do {
            try await mount.serve(onMounted: {
                if detach { Daemon.detachOutput(logFile: logFile) }
                // Under systemd (Type=notify), the unit is started now that the kernel has the mount.
                ServiceNotifier().notify(["READY=1", "STATUS=serving \(location) at \(mountpoint)"])
            })
        } catch {
            throw ValidationFailure(message: "\(error)")
        }
    }

    /// The settings from arguments, `-o` lists and long options.
    func resolve() throws(MountSettingsError) -> MountSettings {
        let (bucket, urlPrefix) = try Self.parseSource(source)
        var settings = MountSettings(bucket: bucket, prefix: MountSettings.normalizedPrefix(urlPrefix),
                                     mountpoint: mountpoint, uid: getuid(), gid: getgid())
        if let prefix {
            guard urlPrefix.isEmpty else { throw .conflictingPrefix(urlPrefix, prefix) }
            settings.prefix = MountSettings.normalizedPrefix(prefix)
        }
        for list in optionLists { try settings.apply(optionList: list) }
        if let uid { settings.uid = try MountSettings.userID(uid) }
        if let gid { settings.gid = try MountSettings.groupID(gid) }
        if let fileMode { settings.fileMode = try MountSettings.mode(fileMode, option: "--file-mode") }
        if let directoryMode { settings.directoryMode = try MountSettings.mode(directoryMode, option: "--dir-mode") }
        if let metadataTTL { settings.metadataTTL = try MountSettings.seconds(metadataTTL, option: "--metadata-ttl") }
        if let readCacheSize {
            settings.readCacheMiB = try MountSettings.cacheSize(readCacheSize, option: "--read-cache-size")
        }
        if let dataCacheMiB {
            settings.dataCacheMiB = try MountSettings.diskCacheSize(dataCacheMiB, option: "--data-cache-mib")
        }
        if let cacheDirectory { settings.cacheDirectory = cacheDirectory }
        if let logFile { settings.logFile = logFile }
        if readOnly { settings.readOnly = true }
        if allowOther { settings.allowOther = true }
        if noOverwrite { settings.noOverwrite = true }
        if let writeBackDelay {
            settings.writeBackDelay = try MountSettings.seconds(writeBackDelay, option: "--write-back-delay")
        }
        if let maxDirtyMiB { settings.maxDirtyMiB = try MountSettings.dirtyLimit(maxDirtyMiB, option: "--max-dirty-mib") }
        if let onConflict { settings.conflictPolicy = try MountSettings.conflictPolicy(onConflict) }
        if let metadataCacheEntries {
            settings.metadataCacheEntries = try MountSettings.entryCount(metadataCacheEntries,
                                                                          option: "--metadata-cache-entries")
        }
        if let metadataRequests {
            settings.metadataRequests = try MountSettings.requestBudget(metadataRequests, option: "--metadata-requests")
        }
        if let endpointURL = s3.endpointURL { settings.endpointURL = endpointURL }
        if let region = s3.region { settings.region = region }
        if let profile = s3.profile { settings.profile = profile }
        if s3.pathStyle { settings.pathStyle = true }
        if let connectTimeout = s3.connectTimeout { settings.connectTimeout = connectTimeout }
        if let ioTimeout = s3.ioTimeout { settings.ioTimeout = ioTimeout }
        if let startupTimeout = s3.startupTimeout { settings.startupTimeout = startupTimeout }
        if let retries = s3.retries { settings.retries = retries }
        if let retryMaxDelay = s3.retryMaxDelay { settings.retryMaxDelay = retryMaxDelay }
        if s3.requesterPays { settings.requesterPays = true }
        if let serverSideEncryption {
            settings.objectCreation.serverSideEncryption = try MountSettings.serverSideEncryption(serverSideEncryption)
        }
        if let sseKMSKeyID { settings.sseKMSKeyID = sseKMSKeyID }
        if let storageClass { settings.objectCreation.storageClass = try MountSettings.storageClass(storageClass) }
        if let acl { settings.objectCreation.cannedACL = try MountSettings.cannedACL(acl, option: "--acl") }
        try settings.resolveServerSideEncryption()
        if let metricsAddress { settings.metricsAddress = try MountSettings.metricsAddress(metricsAddress) }
        if let encryptionKeyFile { settings.encryptionKeyFile = encryptionKeyFile }
        if !kmsKeyIDs.isEmpty { settings.kmsKeyIDs = kmsKeyIDs }
        if let kmsEndpointURL { settings.kmsEndpointURL = try MountSettings.url(kmsEndpointURL) }
        if let encryptionMode { settings.encryptionMode = try MountSettings.encryptionMode(encryptionMode) }
        for pair in encryptionContext {
            let (key, value) = try MountSettings.contextPair(pair)
            settings.encryptionContext[key] = value
        }
        if let keyNamespace { settings.keyNamespace = keyNamespace }
        if let keyName { settings.keyName = keyName }
        try settings.checkEncryption()
        return settings
    }

    /// `s3://bucket/prefix`, `bucket/prefix` or `bucket`.
    static func parseSource(_ source: String) throws(MountSettingsError) -> (bucket: String, prefix: String) {
        var rest = Substring(source)
        if rest.hasPrefix("s3://") { rest = rest.dropFirst(5) } else if rest.contains("://") { throw .invalidSource(source) }
        let parts = rest.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let bucket = parts.first, !bucket.isEmpty, !bucket.contains(":") else { throw .invalidSource(source) }
        return (String(bucket), parts.count > 1 ? String(parts[1]) : "")
    }
}

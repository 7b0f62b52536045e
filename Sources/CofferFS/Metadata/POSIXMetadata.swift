/// POSIX attributes as stored in S3 user metadata.
///
/// **Reading** understands what the tools in `docs/s3-conventions.md` write (names lower-cased, without
/// `x-amz-meta-`). For each attribute the first source that holds a valid value wins; a malformed value is ignored
/// as if it were absent (the next source is tried), never a crash:
///
/// - mode: `mode` (s3fs, rclone, geesefs), `s3cmd-attrs` `mode`, `permissions` (s3sync),
///   `goog-reserved-posix-mode` (GCS, octal), `file-permissions` (FSx for Lustre, Amazon File Cache, S3 File
///   Gateway: octal type and permission bits, `0100664`);
/// - uid, gid: `uid`/`gid`, `s3cmd-attrs` `uid`/`gid`, `owner`/`group` (s3sync), `goog-reserved-posix-uid`/`-gid`,
///   `file-owner`/`file-group` (AWS);
/// - mtime: `mtime` (s3fs, rclone), `s3cmd-attrs` `mtime`, `goog-reserved-file-mtime` (GCS), `gcsfuse_mtime`,
///   `file-mtime` (AWS: nanoseconds since the epoch with an `ns` suffix, milliseconds without);
/// - atime, ctime: `atime`/`ctime`, `s3cmd-attrs` `atime`/`ctime`, `file-atime`/`file-ctime` (AWS);
/// - rdev: `rdev` (s3fs: decimal `dev_t` of a character or block device);
/// - xattrs: `xattr` (s3fs `-o use_xattr`, see `S3FSXattrs`).
///
/// Ambiguities, and how they are resolved:
/// - **`mtime`** is written by s3fs (`"%ld"`, or `"%ld.%09ld"` since 1.92) and by rclone (decimal seconds with the
///   trailing zeros of the fraction trimmed). Both are read as decimal seconds with the fraction scaled by its
///   digits: rclone's `.5` is 500 ms and s3fs's `.000000005` is 5 ns (s3fs itself reads the digits after the dot
///   as a count of nanoseconds, so it misreads rclone's `.5` as 5 ns; a 9-digit fraction reads the same both
///   ways). Times may also be RFC 3339 (rclone `-M` writes `atime` so). A negative time is a real number of
///   seconds before the epoch.
/// - **`mode`** is decimal `st_mode` for s3fs, s3cmd and geesefs (`33188` = 0o100644), but octal digits without a
///   leading 0 for rclone (`100644`). `0…` is octal and `0x…` hexadecimal (s3fs reads with `strtol(base 0)`).
///   Bare digits are decimal when that gives a valid file type; else octal when *that* gives a valid file type
///   (decimal 100644 = 0o304464, whose type 0o300000 is no type, so `100644` is rclone's 0o100644); else a decimal
///   up to 0o7777 is permission bits with no type (`420` = 0o644: `mode & FileMode.typeMask == 0`, the type is
///   unknown and comes from the key and Content-Type). The one collision: rclone would write a FIFO as `10644`,
///   which is also decimal for a character device 0o24624; rclone copies only files and directories, so decimal
///   wins. Values above 0o177777, negative or with an invalid type are ignored.
/// - **uid/gid** accept decimal and `strtol(base 0)` forms, at most `UInt32.max`.
///
/// **Writing** (`userMetadata()`) produces s3fs's form, which s3fs, s3cmd-style readers, geesefs and rclone read:
/// `mode` as decimal `st_mode` with type bits, `uid`, `gid`, `mtime`/`ctime`/`atime` as `"%ld"` or `"%ld.%09ld"`
/// when the nanoseconds are not zero, and `xattr` in s3fs's exact encoding when there are xattrs. Attributes that are
/// nil are not written. (S3 limits user metadata to 2 KB; large xattrs do not fit, which the caller must check.)
public struct POSIXMetadata: Sendable, Equatable {
    /// The full `st_mode`, type bits included (they are 0 when the stored mode had none).
    public var mode: UInt32?
    /// The owner.
    public var uid: UInt32?
    /// The group.
    public var gid: UInt32?
    /// Last access.
    public var atime: Timestamp?
    /// Last modification of the contents.
    public var mtime: Timestamp?
    /// Last change of the inode.
    public var ctime: Timestamp?
    /// The device number of a character or block device (s3fs's `rdev`, decimal `dev_t`).
    public var rdev: UInt64?
    /// Extended attributes, by name.
    public var xattrs: [String: [UInt8]]
    /// Coffer's own `coffer-*` keys (the encryption hints of `EncryptionHints`), by name: not POSIX attributes, but
    /// carried unchanged when only the attributes change (a metadata copy), and replaced by each upload.
    public var contentHints: [String: String] = [:]

    /// Attributes from their values.
    public init(mode: UInt32? = nil, uid: UInt32? = nil, gid: UInt32? = nil, atime: Timestamp? = nil,
                mtime: Timestamp? = nil, ctime: Timestamp? = nil, xattrs: [String: [UInt8]] = [:]) {
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.atime = atime
        self.mtime = mtime
        self.ctime = ctime
        self.xattrs = xattrs
    }

    /// Reads user metadata (names lower-cased, without `x-amz-meta-`) written by s3fs, rclone, s3cmd, s3sync, GCS
    /// tools or Coffer; see the type's documentation for the formats and their precedence.
    public init(userMetadata: [String: String]) {
        var metadata: [String: String] = [:]
        for (name, value) in userMetadata { metadata[name.lowercased()] = value }
        let s3cmd = metadata["s3cmd-attrs"].map(S3cmdAttributes.parse) ?? [:]

        func first<T>(_ parse: (String) -> T?, _ candidates: String?...) -> T? {
            for case let text? in candidates {
                if let value = parse(text) { return value }
            }
            return nil
        }

        self.init(
            mode: first(MetadataValue.mode, metadata["mode"], s3cmd["mode"], metadata["permissions"])
                ?? first(MetadataValue.octalMode, metadata["goog-reserved-posix-mode"], metadata["file-permissions"]),
            uid: first(MetadataValue.id, metadata["uid"], s3cmd["uid"], metadata["owner"],
                       metadata["goog-reserved-posix-uid"], metadata["file-owner"]),
            gid: first(MetadataValue.id, metadata["gid"], s3cmd["gid"], metadata["group"],
                       metadata["goog-reserved-posix-gid"], metadata["file-group"]),
            atime: first(MetadataValue.timestamp, metadata["atime"], s3cmd["atime"])
                ?? first(MetadataValue.epochCount, metadata["file-atime"]),
            mtime: first(MetadataValue.timestamp, metadata["mtime"], s3cmd["mtime"],
                         metadata["goog-reserved-file-mtime"], metadata["gcsfuse_mtime"])
                ?? first(MetadataValue.epochCount, metadata["file-mtime"]),
            ctime: first(MetadataValue.timestamp, metadata["ctime"], s3cmd["ctime"])
                ?? first(MetadataValue.epochCount, metadata["file-ctime"]),
            xattrs: metadata["xattr"].map(S3FSXattrs.decode) ?? [:])
        rdev = metadata["rdev"].flatMap { UInt64($0) }
        contentHints = metadata.filter { $0.key.hasPrefix(Self.contentHintPrefix) }
    }

    /// The name prefix of `contentHints`.
    public static let contentHintPrefix = "coffer-"

    /// The s3fs form: `mode` (decimal, with type bits), `uid`, `gid`, `mtime`/`ctime`/`atime` (`"%ld"`, or
    /// `"%ld.%09ld"` when the nanoseconds are not zero), `rdev` (decimal) for devices and `xattr` when there are
    /// xattrs; nil attributes are left out.
    public func userMetadata() -> [String: String] {
        var metadata: [String: String] = [:]
        if let mode { metadata["mode"] = String(mode) }
        if let uid { metadata["uid"] = String(uid) }
        if let gid { metadata["gid"] = String(gid) }
        if let mtime { metadata["mtime"] = MetadataValue.format(mtime) }
        if let ctime { metadata["ctime"] = MetadataValue.format(ctime) }
        if let atime { metadata["atime"] = MetadataValue.format(atime) }
        if let rdev { metadata["rdev"] = String(rdev) }
        if !xattrs.isEmpty { metadata["xattr"] = S3FSXattrs.encode(xattrs) }
        metadata.merge(contentHints) { own, _ in own }
        return metadata
    }
}

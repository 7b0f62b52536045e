import Foundation

/// How a `FuseMount` presents itself to the kernel (the `-o` options of the mount).
public struct FuseMountOptions: Sendable, Equatable {
    /// The source shown by `mount` and `df`, such as `coffer:bucket/prefix` (`-o fsname=`).
    public var fileSystemName: String
    /// The type suffix: the mount shows as `fuse.<subtype>` (`-o subtype=`).
    public var subtype: String
    /// Let users other than the one who mounted access the files (`-o allow_other`; needs root or
    /// `user_allow_other` in /etc/fuse.conf).
    public var allowOther: Bool
    /// Mount read-only (`-o ro`).
    public var readOnly: Bool
    /// More `-o` options for libfuse and the kernel, one per element, such as `noatime` or `auto_unmount`
    /// (libfuse rejects unknown ones, such as fuse 2's `nonempty`, and `run()` throws `.invalidOptions`).
    /// Do not pass `max_read`: it is set from `maxTransferSize`.
    public var extraOptions: [String]
    /// The largest read and write request the kernel sends, in bytes (`max_read` / `max_write`).
    public var maxTransferSize: UInt32
    /// Threads libfuse may use to receive requests.
    public var maxThreads: Int
    /// After unmounting, how long requests still being served may take before their replies are dropped, in seconds.
    public var drainTimeout: Double
    /// How long the kernel may cache entries returned by readdirplus, in seconds (lookup replies carry their own).
    public var directoryEntryTimeout: Double

    /// Options with Coffer's defaults.
    ///
    /// Permissions are always checked by the kernel from the modes the filesystem reports
    /// (`-o default_permissions`), so the adapter does not implement FUSE's `access` operation.
    public init(fileSystemName: String, subtype: String = "coffer", allowOther: Bool = false, readOnly: Bool = false,
                extraOptions: [String] = [], maxTransferSize: UInt32 = 1 << 20, maxThreads: Int = 16,
                drainTimeout: Double = 30, directoryEntryTimeout: Double = 1) {
        self.fileSystemName = fileSystemName
        self.subtype = subtype
        self.allowOther = allowOther
        self.readOnly = readOnly
        self.extraOptions = extraOptions
        self.maxTransferSize = maxTransferSize
        self.maxThreads = maxThreads
        self.drainTimeout = drainTimeout
        self.directoryEntryTimeout = directoryEntryTimeout
    }

    /// The argument vector given to `fuse_session_new`.
    var arguments: [String] {
        var list = [
            "fsname=" + Self.escape(fileSystemName),
            "subtype=" + Self.escape(subtype),
            "default_permissions",
            "max_read=\(maxTransferSize)",
        ]
        if allowOther { list.append("allow_other") }
        if readOnly { list.append("ro") }
        // A second max_read would differ from conn->max_read and end the session at once (pitfall 9).
        list += extraOptions.filter { !$0.hasPrefix("max_read=") }
        return ["coffer", "-o", list.joined(separator: ",")]
    }

    /// Escapes the characters libfuse's option parser treats specially.
    private static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: ",", with: "\\,")
    }
}

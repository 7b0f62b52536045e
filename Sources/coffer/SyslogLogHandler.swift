import Foundation
import Logging

/// Sends messages to syslog(3) (facility `daemon`, ident `coffer`, with the pid): where a background mount logs
/// when no `--log-file` is given. `journalctl -t coffer` shows them on systemd hosts.
struct SyslogLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    /// Calls openlog(3) once; the ident string must stay valid for the life of the process.
    static let opened: Bool = {
        openlog(strdup("coffer"), LOG_PID | LOG_NDELAY, LOG_DAEMON)
        return true
    }()

    init(label: String, level: Logger.Level) {
        _ = Self.opened
        self.label = label
        self.logLevel = level
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = LogLine.merge(metadata, metadataProvider?.get(), event.metadata)
        let text = "\(label): \(event.message)\(LogLine.format(merged))"
        let priority = Self.priority(event.level)
        // syslog(3) is variadic, which Swift cannot call; vsyslog with a "%s" format is the same.
        text.withCString { message in
            withVaList([message]) { vsyslog(priority, "%s", $0) }
        }
    }

    static func priority(_ level: Logger.Level) -> Int32 {
        switch level {
        case .trace, .debug: return LOG_DEBUG
        case .info: return LOG_INFO
        case .notice: return LOG_NOTICE
        case .warning: return LOG_WARNING
        case .error: return LOG_ERR
        case .critical: return LOG_CRIT
        }
    }
}

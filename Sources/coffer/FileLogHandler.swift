import Foundation
import Logging

/// Appends one line per message to a file (`--log-file`): `2025-01-31T12:00:00.123Z notice coffer.fuse: mounted key=value`.
///
/// Each line is written with one `write(2)` on an `O_APPEND` descriptor, so lines from threads do not interleave
/// and `logrotate`'s `copytruncate` works.
struct FileLogHandler: LogHandler {
    /// The open log file, shared by every handler of the process.
    final class Sink: Sendable {
        let descriptor: Int32

        /// Opens (creating, mode 0640) `path` for appending.
        init(path: String) throws(LogFileError) {
            descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
            guard descriptor >= 0 else { throw LogFileError(path: path, reason: String(cString: strerror(errno))) }
        }

        deinit { close(descriptor) }

        func write(_ line: String) {
            var bytes = Array(line.utf8)
            bytes.append(UInt8(ascii: "\n"))
            _ = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        }
    }

    let label: String
    let sink: Sink
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    init(label: String, sink: Sink, level: Logger.Level) {
        self.label = label
        self.sink = sink
        self.logLevel = level
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = LogLine.merge(metadata, metadataProvider?.get(), event.metadata)
        sink.write("\(LogLine.timestamp()) \(event.level) \(label): \(event.message)\(LogLine.format(merged))")
    }
}

/// The log file could not be opened.
struct LogFileError: Error, CustomStringConvertible {
    let path: String
    let reason: String
    var description: String { "cannot open the log file \(path): \(reason)" }
}

/// Formatting shared by Coffer's log handlers.
enum LogLine {
    /// Handler metadata, then the provider's, then the message's; later ones win.
    static func merge(_ layers: Logger.Metadata?...) -> Logger.Metadata {
        var merged: Logger.Metadata = [:]
        for layer in layers {
            if let layer { merged.merge(layer) { _, new in new } }
        }
        return merged
    }

    /// ` key=value key=value`, sorted, or "".
    static func format(_ metadata: Logger.Metadata) -> String {
        guard !metadata.isEmpty else { return "" }
        return " " + metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }

    /// The current time in UTC, ISO 8601 with milliseconds.
    static func timestamp() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        var seconds = spec.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1,
                      parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec, spec.tv_nsec / 1_000_000)
    }
}

import ArgumentParser
import Foundation
import Logging

/// Where `coffer mount` logs: standard error in the foreground, `--log-file` when given, syslog in the background.
enum LoggingSetup {
    /// Installs the process-wide log handler (once, before any `Logger` is made).
    /// - Throws: `LogFileError` when the log file cannot be opened.
    static func bootstrap(logFile: String?, background: Bool, level: Logger.Level) throws {
        if let logFile {
            let sink = try FileLogHandler.Sink(path: logFile)
            LoggingSystem.bootstrap { label in FileLogHandler(label: label, sink: sink, level: level) }
        } else if background {
            LoggingSystem.bootstrap { label in SyslogLogHandler(label: label, level: level) }
        } else {
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

import Foundation

/// Paths inside the project checkout, found from this source file's location.
public enum ProjectPaths {
    /// The project's top directory.
    public static let root: String = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// A script in `scripts/`.
    public static func script(_ name: String) -> String { root + "/scripts/" + name }

    /// A file in `Tests/<target>/Resources/`.
    public static func resource(_ target: String, _ name: String) -> String {
        root + "/Tests/" + target + "/Resources/" + name
    }

    /// A new empty temporary directory.
    public static func temporaryDirectory(_ label: String = "coffer-test") throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

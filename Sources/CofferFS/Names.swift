/// The rules that map file names and paths onto object keys.
///
/// A path is relative to the mount's root, components joined by "/", "" for the root. File `a/b` is the object
/// `PREFIX + "a/b"`; directory `a` is every key under `PREFIX + "a/"`, plus its optional marker object `PREFIX + "a/"`.
enum Names {
    /// The longest file name component Linux accepts.
    static let maximumLength = 255

    /// Why a key component cannot be shown as a file name, or nil when it can.
    static func problem(with component: Substring) -> String? {
        if component.isEmpty { return "an empty path segment (\"//\")" }
        if component == "." || component == ".." { return "a \"\(component)\" segment" }
        if component.utf8.count > maximumLength { return "a component longer than \(maximumLength) bytes" }
        if component.utf8.contains(0) { return "a NUL byte" }
        return nil
    }

    /// Checks a name given by the kernel for a new entry.
    static func validate(_ name: String) throws(FSError) {
        if name.utf8.count > maximumLength { throw .nameTooLong(name) }
        if name.isEmpty || name == "." || name == ".." || name.contains("/") { throw .invalid("invalid name \(name)") }
    }

    /// The path of `name` inside directory `parent`.
    static func child(_ parent: String, _ name: String) -> String {
        parent.isEmpty ? name : parent + "/" + name
    }

    /// The last component of a path.
    static func baseName(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// The directory part of a path ("" for top-level entries).
    static func parentPath(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return String(path[..<slash])
    }
}

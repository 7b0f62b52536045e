/// The INI dialect of `~/.aws/config` and `~/.aws/credentials`, as the AWS SDKs read it.
///
/// - Sections are `[name]`; in the config file profiles are `[profile NAME]` and `[default]`, other sections
///   (`[sso-session …]`, `[services …]`, bare names) are not profiles and are skipped.
/// - Whole-line comments start with `#` or `;`; in a value, `#` or `;` after whitespace starts a comment.
/// - Keys are trimmed and compared case-insensitively (stored lower-cased); values are trimmed.
/// - An indented line continues the previous value (the SDKs' nested sections, such as `s3 =`).
enum SharedConfigParser {
    /// Which of the two files is parsed: the section naming differs.
    enum FileKind: Sendable {
        case config
        case credentials
    }

    /// One profile's settings as found in one file.
    struct Section {
        var name: String
        var properties: [String: String] = [:]
    }

    /// Parses `text` read from `path` into profiles (by profile name, in the order first seen).
    /// - Throws: `CredentialsError.invalidConfiguration` naming the file and line of a malformed line.
    static func parse(_ text: String, path: String, kind: FileKind) throws(CredentialsError) -> [Section] {
        var sections: [Section] = []
        var index: [String: Int] = [:]
        // Config files may hold both `[default]` and `[profile default]`; the latter wins, as in the SDKs.
        var plainDefault: Section?
        var current: Int?          // index into `sections` of the section being read
        var inPlainDefault = false
        var skipping = false       // inside a section that is not a profile
        var inSection = false
        var lastKey: String?

        func fail(_ line: Int, _ what: String) -> CredentialsError {
            .invalidConfiguration("\(path) line \(line): \(what)")
        }

        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            var line = Substring(rawLine)
            if line.hasSuffix("\r") { line = line.dropLast() }
            let trimmed = line.credTrimmed()
            if trimmed.isEmpty || trimmed.hasPrefix("#") || trimmed.hasPrefix(";") { continue }

            if let first = line.first, first == " " || first == "\t", let key = lastKey {
                // Continuation of the previous property.
                guard !skipping else { continue }
                let addition = "\n" + String(trimmed)
                if inPlainDefault {
                    plainDefault?.properties[key, default: ""] += addition
                } else if let current {
                    sections[current].properties[key, default: ""] += addition
                }
                continue
            }

            if trimmed.hasPrefix("[") {
                guard let close = trimmed.firstIndex(of: "]") else {
                    throw fail(lineNumber, "a section header must end with ']'")
                }
                let after = trimmed[trimmed.index(after: close)...].credTrimmed()
                guard after.isEmpty || after.hasPrefix("#") || after.hasPrefix(";") else {
                    throw fail(lineNumber, "unexpected text after the section header")
                }
                let rawName = trimmed[trimmed.index(after: trimmed.startIndex)..<close].credTrimmed()
                guard !rawName.isEmpty else { throw fail(lineNumber, "empty section name '[]'") }
                inSection = true
                lastKey = nil
                inPlainDefault = false
                skipping = false
                current = nil
                var profileName: String?
                switch kind {
                case .credentials:
                    profileName = String(rawName)
                case .config:
                    if rawName == "default" {
                        inPlainDefault = true
                        if plainDefault == nil { plainDefault = Section(name: "default") }
                        continue
                    }
                    if rawName.hasPrefix("profile"), let next = rawName.dropFirst(7).first, next == " " || next == "\t" {
                        let name = rawName.dropFirst(7).credTrimmed()
                        guard !name.isEmpty else { throw fail(lineNumber, "'[profile]' needs a profile name") }
                        profileName = String(name)
                    }
                }
                guard let profileName else {
                    skipping = true
                    continue
                }
                if let existing = index[profileName] {
                    current = existing
                } else {
                    index[profileName] = sections.count
                    current = sections.count
                    sections.append(Section(name: profileName))
                }
                continue
            }

            guard let equals = trimmed.firstIndex(of: "=") else {
                throw fail(lineNumber, "expected 'key = value', a '[section]' or a comment")
            }
            guard inSection else { throw fail(lineNumber, "a setting outside of any [profile] section") }
            let key = trimmed[..<equals].credTrimmed().lowercased()
            guard !key.isEmpty else { throw fail(lineNumber, "a setting with no name before '='") }
            let value = stripComment(trimmed[trimmed.index(after: equals)...]).credTrimmed()
            lastKey = key
            if skipping { continue }
            if inPlainDefault {
                plainDefault?.properties[key] = String(value)
            } else if let current {
                sections[current].properties[key] = String(value)
            }
        }
        if let plainDefault, index["default"] == nil {
            sections.append(plainDefault)
        }
        return sections
    }

    /// The value without a trailing comment: `#` or `;` preceded by a space or tab.
    private static func stripComment(_ value: Substring) -> Substring {
        var previous: Character = " "
        var position = value.startIndex
        // A comment marker right after '=' (only whitespace before it) also starts a comment.
        while position < value.endIndex {
            let c = value[position]
            if (c == "#" || c == ";") && (previous == " " || previous == "\t") {
                return value[..<position]
            }
            previous = c
            position = value.index(after: position)
        }
        return value
    }
}

private extension Substring {
    /// The substring without leading and trailing spaces and tabs.
    func credTrimmed() -> Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return s
    }
}

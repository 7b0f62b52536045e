/// s3cmd's `x-amz-meta-s3cmd-attrs`: `key:value` pairs joined by `/`, such as
/// `atime:1700000000/ctime:1700000000/gid:1000/gname:users/md5:…/mode:33188/mtime:1700000000/uid:1000/uname:alice`.
enum S3cmdAttributes {
    /// The pairs of `text`; pieces without a `:` or with an empty name are skipped, and a repeated name keeps its
    /// last value.
    static func parse(_ text: String) -> [String: String] {
        var attributes: [String: String] = [:]
        for piece in text.split(separator: "/") {
            guard let colon = piece.firstIndex(of: ":") else { continue }
            let name = MetadataValue.trimmed(String(piece[..<colon])).lowercased()
            guard !name.isEmpty else { continue }
            attributes[name] = String(piece[piece.index(after: colon)...])
        }
        return attributes
    }
}

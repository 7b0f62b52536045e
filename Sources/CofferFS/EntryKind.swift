/// What a name in a listing is: S3 shows objects (files and symlinks, told apart only by their metadata) and
/// common prefixes (directories).
enum EntryKind: Sendable, Equatable {
    case file
    case directory

    init(_ type: FileType) {
        self = type == .directory ? .directory : .file
    }
}

/// A name of a listed directory, by path, with what the listing showed it to be.
struct ListedName: Sendable, Equatable {
    let path: String
    let type: EntryKind
}

/// Turns a staged file into the bytes to store, before upload: for example an encrypted message.
///
/// With an encoder, an `Uploader` first makes the staged file complete (fetching every base byte it lacks), has the
/// encoder write the encoded object to a file next to the staging file, and uploads that file whole (one PUT, or a
/// multipart upload of uploaded parts only: nothing can be copied from the old object, whose bytes differ). The
/// encoded file is removed afterwards, whatever happened.
public protocol UploadEncoder: Sendable {
    /// Encodes the first `size` bytes of the file at `source` into a new file at `destination`.
    /// - Returns: the encoded size, and user metadata to store with the object (added to the upload's own).
    func encode(_ source: String, size: UInt64,
                into destination: String) async throws(WriteBackError) -> (size: UInt64, metadata: [String: String])
}

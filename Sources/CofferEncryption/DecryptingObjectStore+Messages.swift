import CofferCrypto
import CofferObjectStore

extension DecryptingObjectStore {
    /// What the version `etag` of `key` holds (the current version when `etag` is nil), from the cache or from a
    /// GET of its first bytes. `info` is its HEAD answer when known.
    func content(of key: String, etag: String?, info: ObjectInfo?) async throws(ObjectStoreError) -> ObjectContent {
        guard let etag else {
            let content = try await probe(key, etag: nil, info: nil)
            let version = VersionKey(key: key, etag: content.info.etag)
            _ = state.withLock { $0.content(for: version) { Task { .success(content) } } }
            return content
        }
        let version = VersionKey(key: key, etag: etag)
        let task = state.withLock { cache in
            cache.content(for: version) {
                Task { [self] () -> Result<ObjectContent, ObjectStoreError> in
                    do throws(ObjectStoreError) {
                        return .success(try await probe(key, etag: etag, info: info))
                    } catch {
                        return .failure(error)
                    }
                }
            }
        }
        switch await task.value {
        case .success(let content):
            return content
        case .failure(let error):
            state.withLock { $0.forgetContent(of: version) }
            throw error
        }
    }

    /// The first read of a hinted message version that starts in its first frame, with one GET of the header and
    /// the frames the read needs instead of a GET of the header and then one of the frames; nil when that does not
    /// apply (the version was read before, its HEAD showed no hints, the read starts further in, or the object turns
    /// out not to be a message as hinted: the caller then reads the usual way).
    ///
    /// The frame positions are estimated from the hints and this mount's frame length; the header read decides:
    /// frames the GET did not cover are fetched by `decrypt` as usual.
    func readWithHeader(_ key: String, range: Range<UInt64>?, etag: String) async throws(ObjectStoreError) -> ObjectData? {
        let version = VersionKey(key: key, etag: etag)
        guard let hints = state.withLock({ $0.contents[version] == nil ? $0.hints[version] : nil }) else { return nil }
        let headerLength = min(hints.headerLength, configuration.policy.maximumHeaderLength)
        guard let estimate = try? MessageLayout(plaintextSize: hints.plaintextSize, headerLength: headerLength,
                                                frameLength: configuration.frameLength)
        else { return nil }
        let wanted = range ?? 0..<hints.plaintextSize
        guard !wanted.isEmpty, wanted.lowerBound < UInt64(configuration.frameLength),
              let frames = estimate.frames(coveringPlaintext: wanted)
        else { return nil }
        let data: ObjectData
        do throws(ObjectStoreError) {
            data = try await base.get(key, range: 0..<estimate.ciphertextRange(of: frames).upperBound, ifMatch: etag)
        } catch .invalidRange {
            return nil
        }
        guard let content = try? ObjectContent.examine(data.bytes, info: data.info, policy: configuration.policy) else {
            return nil
        }
        report(content, key: key)
        // Remember what the object is, with no more of its bytes than a header read keeps.
        let kept = content.keepingPrefix(max(Self.probeLength, headerLength))
        _ = state.withLock { $0.content(for: version) { Task { .success(kept) } } }
        guard case .message(let info, let header, let layout, let prefix) = content else { return nil }
        let decryptor = try await decryptor(key: key, info: info, header: header, layout: layout)
        return try await decrypt(key, range: range, info: info, layout: layout, prefix: prefix, with: decryptor)
    }

    /// Reads the first bytes of `key` (its header) and tells what it holds.
    private func probe(_ key: String, etag: String?, info: ObjectInfo?) async throws(ObjectStoreError) -> ObjectContent {
        if let info, info.size == 0 { return .plaintext(info: info, whole: []) }
        var length = UInt64(Self.probeLength)
        if let etag, let hinted = state.withLock({ $0.hints[VersionKey(key: key, etag: etag)] }) {
            // The hint is advisory metadata: never let it make this read larger than any acceptable header.
            length = max(length, UInt64(min(hinted.headerLength, configuration.policy.maximumHeaderLength)))
        }
        for _ in 0..<2 {
            let data: ObjectData
            do throws(ObjectStoreError) {
                data = try await base.get(key, range: 0..<length, ifMatch: etag)
            } catch .invalidRange {
                // Only an empty object has no byte 0.
                let info = try await base.head(key)
                if let etag, info.etag != etag { throw .preconditionFailed("\(key) no longer has ETag \(etag)") }
                return .plaintext(info: info, whole: info.size == 0 ? [] : nil)
            }
            do throws(EncryptionError) {
                let content = try ObjectContent.examine(data.bytes, info: data.info, policy: configuration.policy)
                report(content, key: key)
                return content
            } catch .headerIncomplete(let minimumLength) {
                // `minimumLength` only covers the field that was cut, and more fields follow it: read as much as
                // any acceptable header can take, so that the second read holds the whole header (or shows it
                // too large).
                length = UInt64(max(minimumLength, configuration.policy.maximumHeaderLength))
            } catch {
                return .refused(info: data.info, reason: error.description)
            }
        }
        throw .invalidResponse("\(key): the message header kept growing past the bytes read")
    }

    /// Logs objects that look encrypted but will not be served (unencrypted ones are logged when read).
    private func report(_ content: ObjectContent, key: String) {
        if case .refused(_, let reason) = content {
            logger.error("object cannot be decrypted", metadata: ["key": "\(key)", "reason": "\(reason)"])
        }
    }

    /// The authenticated decryptor of a message version: its context checked, its data key unwrapped by the
    /// keyrings, its commitment and header tag verified. One unwrap per version, shared by concurrent reads.
    func decryptor(key: String, info: ObjectInfo, header: MessageHeader,
                   layout: MessageLayout) async throws(ObjectStoreError) -> MessageDecryptor {
        let version = VersionKey(key: key, etag: info.etag)
        let configuration = self.configuration
        let (task, hints) = state.withLock { cache in
            let task = cache.decryptor(for: version) {
                Task { () -> Result<MessageDecryptor, ObjectStoreError> in
                    do throws(EncryptionError) {
                        try header.encryptionContext.verify(contains: configuration.requiredContext)
                        return .success(try await MessageDecryptor.make(header: header, keyrings: configuration.keyrings))
                    } catch {
                        return .failure(.unreadable("\(key) cannot be decrypted: \(error)"))
                    }
                }
            }
            return (task, cache.hints[version])
        }
        let decryptor: MessageDecryptor
        switch await task.value {
        case .success(let value):
            decryptor = value
        case .failure(let error):
            state.withLock { $0.forgetDecryptor(of: version) }
            logger.error("object cannot be decrypted", metadata: ["key": "\(key)", "error": "\(error)"])
            throw error
        }
        if let hints, hints.plaintextSize != layout.plaintextSize || hints.headerLength != header.length {
            let message = "\(key): its metadata says \(hints.plaintextSize) plaintext bytes after a \(hints.headerLength)-"
                + "byte header, but the message holds \(layout.plaintextSize) bytes after a \(header.length)-byte "
                + "header: the object was truncated, extended or its metadata altered; restore an intact copy"
            logger.error("object size does not match its header", metadata: ["key": "\(key)"])
            throw .unreadable(message)
        }
        return decryptor
    }

    /// The plaintext of `range` of a message: one ranged GET of the frames that hold it (none when the first read
    /// already holds them), each frame authenticated before its bytes are returned.
    func decrypt(_ key: String, range: Range<UInt64>?, info: ObjectInfo, layout: MessageLayout, prefix: [UInt8],
                 with decryptor: MessageDecryptor) async throws(ObjectStoreError) -> ObjectData {
        let wanted = try Self.cut(range, size: layout.plaintextSize, key: key)
        var plainInfo = info
        plainInfo.size = layout.plaintextSize
        guard !wanted.isEmpty, let frames = layout.frames(coveringPlaintext: wanted) else {
            return ObjectData(bytes: [], info: plainInfo)
        }
        let stored = layout.ciphertextRange(of: frames)
        let ciphertext: ArraySlice<UInt8>
        if UInt64(prefix.count) >= stored.upperBound {
            ciphertext = prefix[Int(stored.lowerBound)..<Int(stored.upperBound)]
        } else {
            let data = try await base.get(key, range: stored, ifMatch: info.etag)
            guard data.bytes.count == stored.count else {
                throw .invalidResponse("GET \(key) bytes \(stored) answered \(data.bytes.count) bytes, not \(stored.count)")
            }
            ciphertext = data.bytes[...]
        }
        let plaintext: [UInt8]
        do throws(EncryptionError) {
            plaintext = try decryptor.decryptFrames(frames, of: ciphertext, layout: layout)
        } catch {
            logger.error("encrypted object failed verification; the read fails",
                         metadata: ["key": "\(key)", "bytes": "\(wanted)", "error": "\(error)"])
            throw .unreadable("\(key), plaintext bytes \(wanted.lowerBound)..<\(wanted.upperBound): \(error)")
        }
        let start = Int(wanted.lowerBound - layout.plaintextRange(of: frames).lowerBound)
        if start == 0 && wanted.count == plaintext.count {
            return ObjectData(bytes: plaintext, info: plainInfo)  // whole frames, as block reads are: no copy
        }
        return ObjectData(bytes: Array(plaintext[start..<(start + wanted.count)]), info: plainInfo)
    }
}

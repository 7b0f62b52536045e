import CofferCrypto
import CofferObjectStore

/// What one version of an object (key and ETag) holds, as found by reading its first bytes.
enum ObjectContent: Sendable {
    /// Not an AWS Encryption SDK message. `whole` holds the object when the first read covered all of it.
    case plaintext(info: ObjectInfo, whole: [UInt8]?)
    /// A message whose header parsed under the policy and whose size fits the header's frame layout. `prefix` holds
    /// the object's first bytes as read (the header, and all frames when the object is small).
    case message(info: ObjectInfo, header: MessageHeader, layout: MessageLayout, prefix: [UInt8])
    /// It starts like a message but cannot be read: refused by the policy or corrupt. The text says why and what
    /// to do.
    case refused(info: ObjectInfo, reason: String)

    /// The ciphertext object's metadata.
    var info: ObjectInfo {
        switch self {
        case .plaintext(let info, _), .message(let info, _, _, _), .refused(let info, _): return info
        }
    }

    /// The size a reader sees: the plaintext size of a message, the object's size otherwise.
    var visibleSize: UInt64 {
        if case .message(_, _, let layout, _) = self { return layout.plaintextSize }
        return info.size
    }

    /// The same, holding at most `count` of the object's bytes (a whole object only if it is that short).
    func keepingPrefix(_ count: Int) -> ObjectContent {
        switch self {
        case .plaintext(let info, let whole):
            return .plaintext(info: info, whole: whole.flatMap { $0.count <= count ? $0 : nil })
        case .message(let info, let header, let layout, let prefix) where prefix.count > count:
            return .message(info: info, header: header, layout: layout, prefix: Array(prefix.prefix(count)))
        default:
            return self
        }
    }

    /// What the object's first bytes, `prefix` (all of the object if it is that short), say it is. Throws
    /// `.headerIncomplete` when the header goes on past `prefix`.
    static func examine(_ prefix: [UInt8], info: ObjectInfo,
                        policy: DecryptionPolicy) throws(EncryptionError) -> ObjectContent {
        let isWhole = UInt64(prefix.count) >= info.size
        guard MessageHeader.looksLikeMessage(prefix) else {
            return .plaintext(info: info, whole: isWhole ? prefix : nil)
        }
        let header: MessageHeader
        do throws(EncryptionError) {
            header = try MessageHeader(parsing: prefix, policy: policy)
        } catch .headerIncomplete(let minimumLength) {
            if UInt64(minimumLength) > info.size {
                return .refused(info: info, reason: "the object ends inside its message header (\(info.size) bytes, "
                                + "the header needs at least \(minimumLength)): it was truncated")
            }
            throw .headerIncomplete(minimumLength: minimumLength)
        } catch {
            return .refused(info: info, reason: error.description)
        }
        do throws(EncryptionError) {
            return .message(info: info, header: header, layout: try header.layout(ciphertextSize: info.size),
                            prefix: prefix)
        } catch {
            return .refused(info: info, reason: error.description)
        }
    }
}

// Encryption throughput of Coffer's AWS Encryption SDK implementation, on one thread (scripts/bench/encryption.sh).
//
//   coffer-crypto-bench [MiB] [repetitions] [directory]
//
// Measures, for a buffer of MiB random bytes (default 256) in 64 KiB frames: encryption and decryption of the whole
// message with the buffer API (what a read of cached frames costs), and FileEncryptor's file-to-file encryption
// (what an upload costs before the network: read the staged file, encrypt, write the message) in `directory`
// (default /tmp). Prints the best of `repetitions` (default 5) per measurement, in GB/s (10^9 bytes of plaintext
// per second).
import CofferCrypto
import CofferEncryption
import Foundation

let arguments = CommandLine.arguments.dropFirst()
let mebibytes = arguments.first.flatMap { Int($0) } ?? 256
let repetitions = arguments.dropFirst().first.flatMap { Int($0) } ?? 5
let directory = arguments.dropFirst(2).first ?? "/tmp"
let size = mebibytes << 20

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func report(_ name: String, _ times: [Double]) {
    let best = times.min() ?? .infinity
    let rate = Double(size) / best / 1e9
    print(String(format: "%-34@ %6.2f GB/s  (best of %d, %.3f s for %d MiB)", name as NSString, rate, times.count,
                 best, mebibytes))
}

let plaintext = SecureRandom.bytes(size)
let keyring = try RawAESKeyring(wrappingKey: SecretBytes(randomCount: 32))
let context: EncryptionContext = ["coffer:v": "1"]
let encryptor = try await MessageEncryptor.make(keyrings: [keyring], encryptionContext: context)
let layout = try encryptor.layout(plaintextSize: UInt64(size))
var ciphertext = [UInt8](repeating: 0, count: layout.ciphertextRange(of: layout.allFrames).count)

var times: [Double] = []
for _ in 0..<repetitions {
    times.append(seconds {
        plaintext.withUnsafeBytes { plain in
            ciphertext.withUnsafeMutableBytes { encryptor.encryptFrames(layout.allFrames, of: plain, layout: layout, into: $0) }
        }
    })
}
print("AES-256-GCM, ESDK v2 suite 0x0478, 64 KiB frames, \(mebibytes) MiB, one thread")
report("encrypt (buffer)", times)

// The encryptor keeps no data key: unwrap it from the header as a reader does.
let dataKey = try keyring.unwrap(encryptor.header.encryptedDataKeys, context: context)
let decryptor = try MessageDecryptor(header: encryptor.header, dataKey: dataKey)
var decrypted = [UInt8](repeating: 0, count: size)
times = []
for _ in 0..<repetitions {
    times.append(try seconds {
        try ciphertext.withUnsafeBytes { cipher in
            try decrypted.withUnsafeMutableBytes {
                try decryptor.decryptFrames(layout.allFrames, of: cipher, layout: layout, into: $0)
            }
        }
    })
}
precondition(decrypted == plaintext, "decryption did not return the plaintext")
report("decrypt (buffer)", times)

let source = directory + "/coffer-crypto-bench-\(getpid()).plain"
let destination = source + ".esdk"
guard FileManager.default.createFile(atPath: source, contents: Data(plaintext)) else {
    fatalError("cannot write \(source)")
}
defer {
    unlink(source)
    unlink(destination)
}
let fileEncryptor = FileEncryptor(configuration: EncryptionConfiguration(keyrings: [keyring]))
times = []
for _ in 0..<repetitions {
    unlink(destination)
    let start = DispatchTime.now().uptimeNanoseconds
    _ = try await fileEncryptor.encrypt(source, size: UInt64(size), into: destination)
    times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
}
report("encrypt file to file (\(directory))", times)

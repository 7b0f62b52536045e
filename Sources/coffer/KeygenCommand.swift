import ArgumentParser
import CofferCrypto

/// `coffer keygen PATH`: writes a new local wrapping key for `--encryption-key-file`.
struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Write a new random 32-byte encryption key to a file (mode 0600) for --encryption-key-file.",
        discussion: """
            The file is created, never replaced: an existing file (or symlink) at PATH is an error. The 32 key \
            bytes come from OpenSSL's RAND_bytes and are written raw; the file and its directory are synced. \
            Keep a copy somewhere safe and offline: files encrypted under this key cannot be read without it.
            """
    )

    @Argument(help: ArgumentHelp("Where to write the key.", valueName: "path"))
    var path: String

    func run() throws {
        do {
            try LocalKeyFile.generate(at: path)
        } catch {
            throw ValidationFailure(message: error.description)
        }
        print("""
            Wrote a new 256-bit key to \(path) (mode 0600).
            Mount with it:  coffer mount s3://BUCKET MOUNTPOINT --encryption-key-file \(path)
            Back it up offline: without it, files encrypted under it cannot be read.
            """)
    }
}

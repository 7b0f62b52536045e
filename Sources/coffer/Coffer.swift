import ArgumentParser
import CofferFUSE

/// The `coffer` command: mount and inspect S3 buckets.
@main
struct Coffer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coffer",
        abstract: "Coffer: an S3 bucket as a local directory.",
        discussion: """
            Credentials come from the AWS SDKs' default chain: environment, shared config and credentials files \
            (--profile), web identity, container and EC2 instance roles. Against S3-compatible servers, give \
            --endpoint-url (or AWS_ENDPOINT_URL).
            """,
        version: "0.1.0",
        subcommands: [MountCommand.self, UnmountCommand.self, StatusCommand.self, CheckCommand.self, ListCommand.self, KeygenCommand.self]
    )

    /// Names that select a subcommand (anything else in first position is taken as `mount`'s source).
    static let commandNames: Set<String> = ["mount", "unmount", "umount", "status", "check", "ls", "keygen", "help"]

    /// Entry point: a mount in the foreground blocks the termination signals before any other thread exists
    /// (they are handled by the mount; see `FuseMount.blockTerminationSignals()`); `coffer SOURCE MOUNTPOINT -o …`
    /// (how mount.fuse3 runs an /etc/fstab line of type fuse.coffer) means `coffer mount …`.
    static func main() async {
        var arguments = Array(CommandLine.arguments.dropFirst())
        if let first = arguments.first, !first.hasPrefix("-"), !commandNames.contains(first), arguments.count >= 2 {
            arguments.insert("mount", at: 0)
        }
        if arguments.first == "mount",
           arguments.contains(where: { ["-f", "--foreground", "--daemon-child"].contains($0) }) {
            FuseMount.blockTerminationSignals()
        }
        await main(arguments)
    }
}

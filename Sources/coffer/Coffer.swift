import ArgumentParser

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
        subcommands: [CheckCommand.self, ListCommand.self]
    )
}

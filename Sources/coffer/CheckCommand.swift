import ArgumentParser
import CofferObjectStore
import CofferS3
import Foundation

/// `coffer check s3://bucket[/prefix]`: verifies endpoint, credentials, bucket, region and listing rights.
struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check that a bucket can be reached with the current credentials, and say what to fix if not.")

    @Argument(help: ArgumentHelp("The bucket, and optionally a prefix: s3://BUCKET[/PREFIX].", valueName: "s3-url"))
    var location: S3Location

    @OptionGroup var s3: S3Options

    func run() async throws {
        let logger = s3.makeLogger()
        do {
            let client = try await s3.verifiedClient(bucket: location.bucket, logger: logger)
            let page = try await client.listObjectsV2(ListRequest(prefix: location.prefix, delimiter: "/", maxKeys: 10))
            let endpoint = client.configuration.endpointURL ?? "AWS"
            print("ok: \(location) is reachable (endpoint \(endpoint), region \(client.configuration.region)); "
                + "listing works (\(page.objects.count + page.commonPrefixes.count)\(page.isTruncated ? "+" : "") entries at the top).")
        } catch {
            throw ValidationFailure(message: "\(location): \(error)")
        }
    }
}

/// An error whose message is printed as is, with exit status 1.
struct ValidationFailure: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

import ArgumentParser
import CofferObjectStore
import CofferS3
import Foundation

/// `coffer ls s3://bucket[/prefix]`: lists keys like `aws s3 ls`.
struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls", abstract: "List the objects and prefixes under s3://BUCKET[/PREFIX].")

    @Argument(help: ArgumentHelp("The bucket and prefix: s3://BUCKET[/PREFIX].", valueName: "s3-url"))
    var location: S3Location

    @Flag(name: .shortAndLong, help: "List every key under the prefix instead of one level.")
    var recursive = false

    @OptionGroup var s3: S3Options

    func run() async throws {
        let logger = s3.makeLogger()
        do {
            let client = try await s3.verifiedClient(bucket: location.bucket, logger: logger)
            var request = ListRequest(prefix: location.prefix, delimiter: recursive ? nil : "/")
            while true {
                let page = try await client.listObjectsV2(request)
                for prefix in page.commonPrefixes {
                    print("                           PRE \(prefix.dropFirst(location.prefix.count))")
                }
                for object in page.objects {
                    let name = recursive ? object.key : String(object.key.dropFirst(location.prefix.count))
                    print("\(Self.format(object.lastModified)) \(String(repeating: " ", count: max(0, 10 - "\(object.size)".count)))\(object.size) \(name)")
                }
                guard page.isTruncated, let token = page.nextContinuationToken else { break }
                request.continuationToken = token
            }
        } catch {
            throw ValidationFailure(message: "\(location): \(error)")
        }
    }

    static func format(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970)
        var t = tm()
        gmtime_r(&seconds, &t)
        return String(format: "%04d-%02d-%02d %02d:%02d:%02d", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday,
                      t.tm_hour, t.tm_min, t.tm_sec)
    }
}

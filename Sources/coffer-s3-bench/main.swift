// Times S3 HEAD requests through Coffer's client: N sequential, then N with K in flight.
// Usage: coffer-s3-bench ENDPOINT BUCKET PREFIX COUNT CONCURRENCY
// The objects PREFIX0 ... PREFIX{COUNT-1} must exist (scripts/bench/s3-heads.sh creates them).
import CofferAWS
import CofferHTTP
import CofferS3
import Foundation

let arguments = CommandLine.arguments
guard arguments.count == 6, let count = Int(arguments[4]), let concurrency = Int(arguments[5]), concurrency > 0 else {
    FileHandle.standardError.write(Data("usage: coffer-s3-bench ENDPOINT BUCKET PREFIX COUNT CONCURRENCY\n".utf8))
    exit(2)
}
let endpoint = arguments[1], bucket = arguments[2], prefix = arguments[3]

let client = S3Client(configuration: S3Configuration(
    bucket: bucket, region: "us-east-1", endpointURL: endpoint,
    credentials: StaticCredentialsProvider(accessKeyId: "bench", secretAccessKey: "bench"),
    transport: CurlTransport()))

func seconds(since start: ContinuousClock.Instant) -> Double {
    let d = ContinuousClock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

var start = ContinuousClock.now
for i in 0..<count { _ = try await client.headObject("\(prefix)\(i)") }
let sequential = seconds(since: start)

start = ContinuousClock.now
try await withThrowingTaskGroup(of: Void.self) { group in
    var next = 0
    func add() { let i = next; next += 1; group.addTask { _ = try await client.headObject("\(prefix)\(i)") } }
    while next < min(concurrency, count) { add() }
    while try await group.next() != nil { if next < count { add() } }
}
let parallel = seconds(since: start)
print(String(format: "%d sequential HEADs: %.2f s (%.0f/s, %.2f ms each)", count, sequential, Double(count) / sequential,
             sequential * 1000 / Double(count)))
print(String(format: "%d HEADs with %d in flight: %.2f s (%.0f/s), %.1fx the sequential rate", count, concurrency, parallel,
             Double(count) / parallel, sequential / parallel))

import CofferAWS
import CofferS3
import CofferTestSupport

extension SignedMoto {
    /// A client for the bucket as `user`, or with explicit credentials.
    func client(user: String = "full", credentials: AWSCredentials? = nil, bucket: String? = nil,
                       retryPolicy: RetryPolicy = RetryPolicy()) -> S3Client {
        let creds = credentials ?? users[user]!
        let configuration = S3Configuration(bucket: bucket ?? self.bucket, region: "us-east-1",
                                            endpointURL: server.endpoint,
                                            credentials: StaticCredentialsProvider(creds), transport: transport,
                                            retryPolicy: retryPolicy)
        return S3Client(configuration: configuration)
    }

}

import Foundation

/// An upload that found the object changed on the server by someone else, and where this mount's bytes went.
public struct ConflictRecord: Sendable, Equatable, Codable {
    /// The key that another host changed (its object was left as it is).
    public var key: String
    /// Where this mount's version was stored instead; nil when storing it failed too (then it stays staged).
    public var keptAs: String?
    /// When it happened.
    public var at: Date
    /// What S3 answered.
    public var reason: String
}

import Foundation
import Synchronization

/// Counters, gauges and histograms of one process, rendered in the Prometheus text exposition format (version
/// 0.0.4: `# HELP`, `# TYPE`, then one `name{label="value"} number` line per series).
///
/// Families are registered once with their help text; samples name a family and give label values. Values that
/// live elsewhere (queue lengths, cache counters) are copied in by `onScrape` closures, which run before each
/// rendering. Thread-safe: record from any thread.
public final class MetricsRegistry: Sendable {
    /// What a family measures.
    public enum Kind: String, Sendable {
        /// Only goes up (requests, bytes); rendered with its name as given (end it in `_total`).
        case counter
        /// Goes up and down (pending uploads).
        case gauge
        /// Observations in cumulative buckets (`_bucket{le=…}`, `_sum`, `_count`).
        case histogram
    }

    /// A metric's name, help text, kind and (histograms) bucket upper bounds.
    public struct Family: Sendable {
        public let name: String
        public let help: String
        public let kind: Kind
        public let buckets: [Double]

        /// A family; `buckets` only matter for histograms (ascending; `+Inf` is added).
        public init(_ name: String, help: String, kind: Kind, buckets: [Double] = []) {
            self.name = name
            self.help = help
            self.kind = kind
            self.buckets = buckets.sorted()
        }
    }

    private struct Series {
        var value: Double = 0
        var bucketCounts: [UInt64] = []
        var sum: Double = 0
        var count: UInt64 = 0
    }

    private struct Entry {
        let family: Family
        /// Series by their rendered label set (`a="1",b="2"`, keys sorted).
        var series: [String: Series] = [:]
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var order: [String] = []
    }

    private let state = Mutex(State())
    private let scrapeHooks = Mutex<[@Sendable (MetricsRegistry) -> Void]>([])

    /// An empty registry.
    public init() {}

    /// Adds `family` (again: no change).
    public func register(_ family: Family) {
        state.withLock { state in
            guard state.entries[family.name] == nil else { return }
            state.entries[family.name] = Entry(family: family)
            state.order.append(family.name)
        }
    }

    /// Adds `amount` to a counter (or gauge) series.
    public func add(_ name: String, _ labels: [String: String] = [:], _ amount: Double = 1) {
        update(name, labels) { series, _ in series.value += amount }
    }

    /// Sets a gauge (or a counter copied from elsewhere) series to `value`.
    public func set(_ name: String, _ labels: [String: String] = [:], _ value: Double) {
        update(name, labels) { series, _ in series.value = value }
    }

    /// Records one observation of a histogram series.
    public func observe(_ name: String, _ labels: [String: String] = [:], _ value: Double) {
        update(name, labels) { series, family in
            if series.bucketCounts.isEmpty { series.bucketCounts = Array(repeating: 0, count: family.buckets.count) }
            for (index, bound) in family.buckets.enumerated() where value <= bound { series.bucketCounts[index] += 1 }
            series.sum += value
            series.count += 1
        }
    }

    /// Runs `hook` before each rendering, to copy in values kept elsewhere.
    public func onScrape(_ hook: @escaping @Sendable (MetricsRegistry) -> Void) {
        scrapeHooks.withLock { $0.append(hook) }
    }

    /// The current value of a counter or gauge series (0 when never recorded), for tests.
    public func value(_ name: String, _ labels: [String: String] = [:]) -> Double {
        state.withLock { $0.entries[name]?.series[Self.labelText(labels)]?.value } ?? 0
    }

    /// Everything, in the text exposition format.
    public func render() -> String {
        for hook in scrapeHooks.withLock({ $0 }) { hook(self) }
        return state.withLock { state in
            var text = ""
            for name in state.order {
                guard let entry = state.entries[name] else { continue }
                let family = entry.family
                text += "# HELP \(family.name) \(Self.escapeHelp(family.help))\n# TYPE \(family.name) \(family.kind.rawValue)\n"
                for labels in entry.series.keys.sorted() {
                    let series = entry.series[labels]!
                    switch family.kind {
                    case .counter, .gauge:
                        text += "\(family.name)\(Self.braced(labels)) \(Self.number(series.value))\n"
                    case .histogram:
                        for (index, bound) in family.buckets.enumerated() {
                            let le = Self.joined(labels, "le=\"\(Self.number(bound))\"")
                            text += "\(family.name)_bucket{\(le)} \(series.bucketCounts[index])\n"
                        }
                        text += "\(family.name)_bucket{\(Self.joined(labels, "le=\"+Inf\""))} \(series.count)\n"
                        text += "\(family.name)_sum\(Self.braced(labels)) \(Self.number(series.sum))\n"
                        text += "\(family.name)_count\(Self.braced(labels)) \(series.count)\n"
                    }
                }
            }
            return text
        }
    }

    /// Changes one series of a registered family in place (samples of unregistered names are dropped).
    private func update(_ name: String, _ labels: [String: String], _ change: (inout Series, Family) -> Void) {
        let key = Self.labelText(labels)
        state.withLock { state in
            guard let family = state.entries[name]?.family else { return }
            change(&state.entries[name]!.series[key, default: Series()], family)
        }
    }

    /// `a="1",b="2"` with keys sorted and values escaped.
    static func labelText(_ labels: [String: String]) -> String {
        labels.keys.sorted().map { "\($0)=\"\(escapeLabel(labels[$0]!))\"" }.joined(separator: ",")
    }

    private static func braced(_ labels: String) -> String { labels.isEmpty ? "" : "{\(labels)}" }

    private static func joined(_ labels: String, _ extra: String) -> String {
        labels.isEmpty ? extra : labels + "," + extra
    }

    /// A sample value: integers without a fraction, `+Inf`/`-Inf`/`NaN` as Prometheus spells them.
    static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    private static func escapeLabel(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    private static func escapeHelp(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }
}

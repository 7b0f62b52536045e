import Glibc

/// The C allocator settings of the mount process.
///
/// The read path receives each ranged GET (up to 16 MiB, `BlockCache.maxGetSize`) into one buffer, keeps it as
/// blocks until the cache evicts them, then frees it. By default glibc serves such sizes with a mapping of their
/// own, returned to the system when freed: every GET then faults in fresh zeroed pages, one fault per 4 KiB (a
/// quarter of the mount's CPU time in a cold `dd` of 512 MiB, measured 2026-12-07). Served from the heap
/// instead, a freed buffer's pages are reused by the next GET. glibc would raise its threshold on its own when
/// such blocks are freed, but only step by step and only up to 32 MiB; these settings fix it above the largest
/// GET, and keep up to the same amount free at the top of a heap instead of trimming it after every free. Peak
/// RSS stays within the read cache's bound plus about 60 MiB (docs/configuration.md, `--read-cache-size`).
enum MemoryTuning {
    /// Allocations of this many bytes or more get a mapping of their own.
    static let mappedAllocationThreshold: Int32 = 64 << 20
    /// Free memory at the top of a heap beyond this is given back to the system.
    static let trimThreshold: Int32 = 64 << 20
    /// `M_TRIM_THRESHOLD` and `M_MMAP_THRESHOLD` of glibc's `<malloc.h>`, which the Glibc module does not import
    /// (nor `mallopt`).
    private static let trimThresholdParameter: Int32 = -1
    private static let mmapThresholdParameter: Int32 = -3

    /// Applies the settings; call it before the mount allocates anything large. Where the C library has no
    /// `mallopt` (not glibc), the allocator's defaults stay.
    static func apply() {
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        guard let program = dlopen(nil, RTLD_NOW), let symbol = dlsym(program, "mallopt") else { return }
        let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
        _ = mallopt(mmapThresholdParameter, mappedAllocationThreshold)
        _ = mallopt(trimThresholdParameter, trimThreshold)
    }
}

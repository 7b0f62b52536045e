import Glibc

/// The C allocator settings of the mount process.
///
/// The read path receives each GET into arrays of one block (64 KiB), kept by the cache until it evicts them, so
/// the heap is mostly made of chunks of one size that a freed block leaves for the next one. Larger allocations
/// (curl's receive buffers, upload bodies) get a mapping of their own, returned to the system when freed: glibc
/// would raise that threshold, up to 32 MiB, each time such a block is freed, and what is freed in the heap mostly
/// stays in the process, so the threshold is fixed. Free memory at the top of a heap is kept up to
/// `trimThreshold` rather than given back after every free, so that a cache that evicts and refills does not
/// fault in fresh zeroed pages for every block (a cold `dd` of 512 MiB spent a quarter of its CPU time in page
/// faults when every GET had a fresh mapping; measured 2026-12-07).
enum MemoryTuning {
    /// Allocations of this many bytes or more get a mapping of their own.
    static let mappedAllocationThreshold: Int32 = 256 << 10
    /// Free memory at the top of a heap beyond this is given back to the system.
    static let trimThreshold: Int32 = 32 << 20
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

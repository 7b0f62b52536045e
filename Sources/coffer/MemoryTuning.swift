import Glibc

/// The C allocator settings of the mount process.
///
/// glibc serves an allocation of at least its mmap threshold (128 KiB at first) with a mapping of its own, given
/// back to the system when freed — but it raises that threshold, up to 32 MiB, each time such a block is freed.
/// After the first few cache blocks are evicted, the read path's 1 MiB blocks and response bodies therefore come
/// from the heap arenas of whichever thread allocated them, and what is freed there mostly stays in the process:
/// `cat` of a 512 MiB file peaked about 60 MiB higher than with a fixed threshold (docs/configuration.md,
/// `--read-cache-size`). A fixed threshold turns that adjustment off, so freed blocks leave the process at once.
enum MemoryTuning {
    /// Allocations of this many bytes or more get a mapping of their own.
    static let mappedAllocationThreshold: Int32 = 256 << 10
    /// `M_MMAP_THRESHOLD` of glibc's `<malloc.h>`, which the Glibc module does not import (nor `mallopt`).
    private static let mmapThresholdParameter: Int32 = -3

    /// Applies the settings; call it before the mount allocates anything large. Where the C library has no
    /// `mallopt` (not glibc), the allocator's defaults stay.
    static func apply() {
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        guard let program = dlopen(nil, RTLD_NOW), let symbol = dlsym(program, "mallopt") else { return }
        _ = unsafeBitCast(symbol, to: Mallopt.self)(mmapThresholdParameter, mappedAllocationThreshold)
    }
}

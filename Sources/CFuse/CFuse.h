// libfuse3's low-level API. FUSE_USE_VERSION 312 makes fuse_session_loop_mt a real function (see
// ../shared/docs/swift-c-interop.md); _FILE_OFFSET_BITS is not defined here on purpose (64-bit off_t already).
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <sys/xattr.h>

#include <sqlite3.h>

/// SQLITE_TRANSIENT (a cast of -1 to a function pointer, which Swift cannot import): SQLite copies bound values.
static inline sqlite3_destructor_type coffer_sqlite_transient(void) { return SQLITE_TRANSIENT; }

// A SQLite VFS for the one writer connection: the default VFS, except that appends to the
// write-ahead log are gathered in memory and reach the file in one write when SQLite syncs
// (every commit, with synchronous=FULL), reads, truncates or closes the log, or when 64 KiB
// have gathered. A commit otherwise writes each page with two system calls (frame header and
// page), a few hundred per commit under load.
//
// Safe only where every commit syncs the log (synchronous=FULL, as Connection sets): other
// connections read frames only once the commit that published them has synced, so never
// frames still in memory here. What is lost in a crash is what an unsynced log loses anyway.
#pragma once

namespace smsr {

// Registers the VFS on first use (thread-safe) and returns the name to open a database with.
const char* wal_buffer_vfs_name();

}  // namespace smsr

#include "storage/wal_buffer_vfs.hpp"

#include <sqlite3.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>

namespace smsr {
namespace {

constexpr const char* kVfsName = "smsr-wal-buffer";
// The default VFS writes at most 128 KiB - 1 bytes per call (it masks the length to 17
// bits: SQLite itself only ever writes pages), so the buffer stays below that.
constexpr int kCapacity = 64 * 1024;

sqlite3_vfs* parent_vfs = nullptr;  // the default VFS; set once, before registration

// Our part of a file handle; the default VFS's own handle follows it in the same allocation.
// SQLite allocates that with 8-byte alignment, so the struct must not ask for more (an
// alignas(16) here was undefined behaviour that UBSan reports); its size, a multiple of 8,
// keeps the handle after it 8-byte aligned, as the default VFS's handle needs.
struct BufferedFile {
  sqlite3_file base;   // its pMethods are ours
  sqlite3_file* real;  // the default VFS's handle
  bool is_wal;
  char* buffer;               // is_wal only: bytes not yet written, kCapacity long
  int used;                   // bytes in buffer
  sqlite3_int64 buffer_start; // file offset of buffer[0]
};

static_assert(alignof(BufferedFile) <= 8 && sizeof(BufferedFile) % 8 == 0);

BufferedFile* as_buffered(sqlite3_file* file) { return reinterpret_cast<BufferedFile*>(file); }
sqlite3_file* real_of(sqlite3_file* file) { return as_buffered(file)->real; }

int flush(BufferedFile* f) {
  if (f->used == 0) return SQLITE_OK;
  int rc = f->real->pMethods->xWrite(f->real, f->buffer, f->used, f->buffer_start);
  f->used = 0;  // on failure the transaction fails and SQLite rewrites what it needs
  return rc;
}

int buffered_close(sqlite3_file* file) {
  BufferedFile* f = as_buffered(file);
  int flushed = flush(f);
  int rc = f->real->pMethods->xClose(f->real);
  std::free(f->buffer);
  f->buffer = nullptr;
  return flushed != SQLITE_OK ? flushed : rc;
}

int buffered_read(sqlite3_file* file, void* out, int amount, sqlite3_int64 offset) {
  BufferedFile* f = as_buffered(file);
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xRead(f->real, out, amount, offset);
}

int buffered_write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  BufferedFile* f = as_buffered(file);
  if (!f->is_wal) return f->real->pMethods->xWrite(f->real, data, amount, offset);
  const bool continues = f->used > 0 && offset == f->buffer_start + f->used;
  if (!continues || f->used + amount > kCapacity) {
    // Anything but the next bytes of the log (a new log generation from offset 0, a frame
    // rewritten in place) goes after what came before it, in order.
    if (int rc = flush(f); rc != SQLITE_OK) return rc;
    if (amount > kCapacity) return f->real->pMethods->xWrite(f->real, data, amount, offset);
    f->buffer_start = offset;
  }
  std::memcpy(f->buffer + f->used, data, static_cast<std::size_t>(amount));
  f->used += amount;
  return SQLITE_OK;
}

int buffered_truncate(sqlite3_file* file, sqlite3_int64 size) {
  BufferedFile* f = as_buffered(file);
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xTruncate(f->real, size);
}

int buffered_sync(sqlite3_file* file, int flags) {
  BufferedFile* f = as_buffered(file);
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xSync(f->real, flags);
}

int buffered_file_size(sqlite3_file* file, sqlite3_int64* size) {
  BufferedFile* f = as_buffered(file);
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xFileSize(f->real, size);
}

// Everything else goes straight to the default VFS's handle.
int pass_lock(sqlite3_file* file, int lock) { return real_of(file)->pMethods->xLock(real_of(file), lock); }
int pass_unlock(sqlite3_file* file, int lock) { return real_of(file)->pMethods->xUnlock(real_of(file), lock); }
int pass_check_reserved_lock(sqlite3_file* file, int* out) {
  return real_of(file)->pMethods->xCheckReservedLock(real_of(file), out);
}
int pass_file_control(sqlite3_file* file, int op, void* arg) {
  return real_of(file)->pMethods->xFileControl(real_of(file), op, arg);
}
int pass_sector_size(sqlite3_file* file) { return real_of(file)->pMethods->xSectorSize(real_of(file)); }
int pass_device_characteristics(sqlite3_file* file) {
  return real_of(file)->pMethods->xDeviceCharacteristics(real_of(file));
}
int pass_shm_map(sqlite3_file* file, int region, int size, int extend, void volatile** out) {
  return real_of(file)->pMethods->xShmMap(real_of(file), region, size, extend, out);
}
int pass_shm_lock(sqlite3_file* file, int offset, int n, int flags) {
  return real_of(file)->pMethods->xShmLock(real_of(file), offset, n, flags);
}
void pass_shm_barrier(sqlite3_file* file) { real_of(file)->pMethods->xShmBarrier(real_of(file)); }
int pass_shm_unmap(sqlite3_file* file, int delete_flag) {
  return real_of(file)->pMethods->xShmUnmap(real_of(file), delete_flag);
}
int pass_fetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** out) {
  return real_of(file)->pMethods->xFetch(real_of(file), offset, amount, out);
}
int pass_unfetch(sqlite3_file* file, sqlite3_int64 offset, void* page) {
  return real_of(file)->pMethods->xUnfetch(real_of(file), offset, page);
}

const sqlite3_io_methods kMethods = {
    3,  // iVersion: shared memory (WAL) and fetch, like the default VFS
    buffered_close,
    buffered_read,
    buffered_write,
    buffered_truncate,
    buffered_sync,
    buffered_file_size,
    pass_lock,
    pass_unlock,
    pass_check_reserved_lock,
    pass_file_control,
    pass_sector_size,
    pass_device_characteristics,
    pass_shm_map,
    pass_shm_lock,
    pass_shm_barrier,
    pass_shm_unmap,
    pass_fetch,
    pass_unfetch,
};

int buffered_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  BufferedFile* f = as_buffered(file);
  f->base.pMethods = nullptr;  // until the default VFS has opened its handle
  f->real = reinterpret_cast<sqlite3_file*>(f + 1);
  f->is_wal = (flags & SQLITE_OPEN_WAL) != 0;
  f->buffer = nullptr;
  f->used = 0;
  f->buffer_start = 0;
  if (f->is_wal) {
    f->buffer = static_cast<char*>(std::malloc(kCapacity));
    if (!f->buffer) return SQLITE_NOMEM;
  }
  int rc = parent_vfs->xOpen(parent_vfs, name, f->real, flags, out_flags);
  if (rc != SQLITE_OK || !f->real->pMethods) {
    // SQLite calls no method (not even xClose) on a handle whose open failed.
    if (f->real->pMethods) f->real->pMethods->xClose(f->real);
    std::free(f->buffer);
    f->buffer = nullptr;
    return rc != SQLITE_OK ? rc : SQLITE_CANTOPEN;
  }
  f->base.pMethods = &kMethods;
  return SQLITE_OK;
}

// The VFS-level calls pass the default VFS itself, as it expects.
int pass_delete(sqlite3_vfs*, const char* name, int sync_dir) {
  return parent_vfs->xDelete(parent_vfs, name, sync_dir);
}
int pass_access(sqlite3_vfs*, const char* name, int flags, int* out) {
  return parent_vfs->xAccess(parent_vfs, name, flags, out);
}
int pass_full_pathname(sqlite3_vfs*, const char* name, int size, char* out) {
  return parent_vfs->xFullPathname(parent_vfs, name, size, out);
}
void* pass_dl_open(sqlite3_vfs*, const char* name) { return parent_vfs->xDlOpen(parent_vfs, name); }
void pass_dl_error(sqlite3_vfs*, int size, char* out) { parent_vfs->xDlError(parent_vfs, size, out); }
void (*pass_dl_sym(sqlite3_vfs*, void* handle, const char* symbol))(void) {
  return parent_vfs->xDlSym(parent_vfs, handle, symbol);
}
void pass_dl_close(sqlite3_vfs*, void* handle) { parent_vfs->xDlClose(parent_vfs, handle); }
int pass_randomness(sqlite3_vfs*, int size, char* out) { return parent_vfs->xRandomness(parent_vfs, size, out); }
int pass_sleep(sqlite3_vfs*, int micros) { return parent_vfs->xSleep(parent_vfs, micros); }
int pass_current_time(sqlite3_vfs*, double* out) { return parent_vfs->xCurrentTime(parent_vfs, out); }
int pass_get_last_error(sqlite3_vfs*, int size, char* out) {
  return parent_vfs->xGetLastError(parent_vfs, size, out);
}
int pass_current_time_int64(sqlite3_vfs*, sqlite3_int64* out) {
  return parent_vfs->xCurrentTimeInt64(parent_vfs, out);
}

sqlite3_vfs vfs{};

void register_vfs() {
  parent_vfs = sqlite3_vfs_find(nullptr);
  if (!parent_vfs || parent_vfs->iVersion < 2) throw std::runtime_error("SQLite has no usable default VFS");
  vfs.iVersion = 2;
  vfs.szOsFile = static_cast<int>(sizeof(BufferedFile)) + parent_vfs->szOsFile;
  vfs.mxPathname = parent_vfs->mxPathname;
  vfs.zName = kVfsName;
  vfs.xOpen = buffered_open;
  vfs.xDelete = pass_delete;
  vfs.xAccess = pass_access;
  vfs.xFullPathname = pass_full_pathname;
  vfs.xDlOpen = pass_dl_open;
  vfs.xDlError = pass_dl_error;
  vfs.xDlSym = pass_dl_sym;
  vfs.xDlClose = pass_dl_close;
  vfs.xRandomness = pass_randomness;
  vfs.xSleep = pass_sleep;
  vfs.xCurrentTime = pass_current_time;
  vfs.xGetLastError = pass_get_last_error;
  vfs.xCurrentTimeInt64 = pass_current_time_int64;
  if (sqlite3_vfs_register(&vfs, /*makeDflt=*/0) != SQLITE_OK) {
    throw std::runtime_error("cannot register the SQLite VFS " + std::string(kVfsName));
  }
}

}  // namespace

const char* wal_buffer_vfs_name() {
  static std::once_flag once;
  std::call_once(once, register_vfs);
  return kVfsName;
}

}  // namespace smsr

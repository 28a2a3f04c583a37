// Pooled read connections: reads never wait for the writer (WAL), and a connection is reused
// instead of opened per read.
#include "storage/store.hpp"

#include "storage/database.hpp"
#include "storage/store_internal.hpp"

namespace smsr {

std::unique_ptr<Connection> Store::acquire_reader() {
  {
    std::lock_guard lock(readers_mu_);
    if (!idle_readers_.empty()) {
      auto conn = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return conn;
    }
  }
  try {
    return std::make_unique<Connection>(path_, Connection::Mode::kReader);
  } catch (const std::exception& e) {
    rethrow_as_store_error(e, "opening a read connection to " + path_);
  }
}

void Store::release_reader(std::unique_ptr<Connection> conn) {
  if (!conn) return;
  std::lock_guard lock(readers_mu_);
  idle_readers_.push_back(std::move(conn));
}

}  // namespace smsr

// One round of central sync, with no threads and no sleeps (SyncLoop runs it):
//   1. compare per-bucket digests of users and mappings; fetch only buckets that differ
//      (this sees every change, deletions and rows whose updated_at was not bumped);
//   2. normalise every central number and replace those buckets locally in one write,
//      which journals every number involved so cached owners are dropped at once;
//   3. copy sms_router_configs;
//   4. push usage logs exactly once (CentralDatabase::push_usage_logs), then mark them;
//   5. delete local logs pushed longer ago than the retention.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/clock.hpp"
#include "core/phone.hpp"
#include "storage/store.hpp"
#include "sync/central.hpp"

namespace smsr {

struct SyncReport {
  bool ok = false;
  std::string error;                 // set when !ok
  std::size_t buckets_compared = 0;
  std::size_t buckets_changed = 0;
  std::size_t users_applied = 0;
  std::size_t writes = 0;            // local writes that applied the changed buckets
  std::size_t numbers_invalid = 0;   // central numbers libphonenumber rejects
  bool configs_changed = false;
  std::size_t logs_pushed = 0;
  std::size_t logs_pruned = 0;       // pushed logs past sync.log_retention_days, deleted locally
  std::int64_t duration_ms = 0;
};

class SyncEngine {
 public:
  using Connect = std::function<std::unique_ptr<CentralDatabase>()>;

  SyncEngine(Store& store, const PhoneNormalizer& normalizer, Connect connect, std::string edge_id,
             int log_retention_days, const Clock& clock);

  // Never throws: failures are in the report (and the next round reconnects).
  SyncReport run_once();

 private:
  void pull(CentralDatabase& central, SyncReport& report);
  void push(CentralDatabase& central, SyncReport& report);
  void prune(SyncReport& report);

  Store& store_;
  const PhoneNormalizer& normalizer_;
  Connect connect_;
  const std::string edge_id_;
  const int log_retention_days_;
  const Clock& clock_;
  std::unique_ptr<CentralDatabase> central_;  // kept between rounds, dropped on failure
};

}  // namespace smsr

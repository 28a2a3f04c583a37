#include "app/routing/pruner.hpp"

#include "core/log.hpp"
#include "storage/store.hpp"

namespace smsr {
namespace {

constexpr int kBatchRows = 2000;
constexpr auto kFirstPass = std::chrono::seconds(30);
constexpr auto kInterval = std::chrono::hours(1);
constexpr auto kPauseBetweenBatches = std::chrono::milliseconds(50);  // the writer is shared
constexpr EpochMs kDayMs = 24 * 60 * 60 * 1000;

}  // namespace

Pruner::Pruner(Store& store, const Settings& settings, const Clock& clock)
    : store_(store), settings_(settings), clock_(clock) {}

Pruner::~Pruner() { stop(); }

void Pruner::start() {
  thread_.start("pruner", [this] { loop(); });
}

void Pruner::stop() { thread_.stop(); }

int Pruner::run_once() {
  auto config = settings_.current();
  const int days = config->database.retention_days;
  const auto usage_logs = config->sync.postgres_url.empty() ? WriteTxn::UsageLogs::kPrune : WriteTxn::UsageLogs::kKeep;
  // With retention off, still trim the journal: nothing else needs it after a day.
  const EpochMs before = days > 0 ? clock_.now_ms() - days * kDayMs : 0;
  WriteTxn::PruneCounts total;
  for (;;) {
    auto n = store_.write([&](WriteTxn& txn) { return txn.prune_history(before, usage_logs, kBatchRows); });
    total.inbound += n.inbound;
    total.outbound += n.outbound;
    total.usage_logs += n.usage_logs;
    total.phone_changes += n.phone_changes;
    if (n.most() < kBatchRows || !thread_.sleep_for(kPauseBetweenBatches)) break;
  }
  int deleted = total.inbound + total.outbound + total.usage_logs + total.phone_changes;
  if (deleted > 0) {
    LOG_INFO("store.pruned", {"retention_days", days}, {"inbound_messages", total.inbound},
             {"outbound_messages", total.outbound}, {"usage_logs", total.usage_logs},
             {"phone_changes", total.phone_changes});
  }
  return deleted;
}

void Pruner::loop() {
  if (!thread_.sleep_for(kFirstPass)) return;
  do {
    try {
      run_once();
    } catch (const std::exception& e) {
      // Not urgent: the next pass tries again.
      LOG_WARN("store.prune_failed", {"error", e.what()});
    }
  } while (thread_.sleep_for(kInterval));
}

}  // namespace smsr

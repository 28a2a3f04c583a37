#include "sync/sync_engine.hpp"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>

#include "core/log.hpp"

namespace smsr {
namespace {

constexpr int kPushBatch = 1000;
constexpr int kMaxPushBatchesPerRound = 100;
// Rounds changing more buckets than this are applied in writes of kBucketsPerWrite
// (8,192 users: tens of milliseconds of the writer's time).
constexpr std::size_t kAtomicRoundBuckets = 32;
constexpr std::size_t kBucketsPerWrite = 8;

// Test-only: SMSR_TEST_CRASH_POINT=after_central_commit makes the process die between the
// central commit of a push and the local "pushed" mark, the window exactly-once must survive.
bool crash_point(const char* name) {
  const char* point = std::getenv("SMSR_TEST_CRASH_POINT");
  return point && std::string(point) == name;
}

}  // namespace

SyncEngine::SyncEngine(Store& store, const PhoneNormalizer& normalizer, Connect connect, std::string edge_id,
                       int log_retention_days, const Clock& clock)
    : store_(store),
      normalizer_(normalizer),
      connect_(std::move(connect)),
      edge_id_(std::move(edge_id)),
      log_retention_days_(log_retention_days),
      clock_(clock) {}

SyncReport SyncEngine::run_once() {
  SyncReport report;
  auto started = clock_.steady();
  try {
    if (!central_) central_ = connect_();
    pull(*central_, report);
    push(*central_, report);
    prune(report);
    report.ok = true;
  } catch (const std::exception& e) {
    report.error = e.what();
    central_.reset();
  }
  report.duration_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock_.steady() - started).count();
  return report;
}

void SyncEngine::pull(CentralDatabase& central, SyncReport& report) {
  auto digests = central.user_bucket_digests();
  report.buckets_compared = digests.size();
  std::map<std::int64_t, std::string> local;
  for (auto& [bucket, digest] : store_.sync_buckets()) local.emplace(bucket, std::move(digest));

  std::map<std::int64_t, std::string> changed;  // bucket -> new digest ("" = gone centrally)
  std::set<std::int64_t> central_buckets;
  for (const auto& d : digests) {
    central_buckets.insert(d.bucket);
    auto it = local.find(d.bucket);
    if (it == local.end() || it->second != d.digest) changed[d.bucket] = d.digest;
  }
  for (const auto& [bucket, digest] : local) {
    if (!central_buckets.count(bucket)) changed[bucket] = "";
  }
  if (local.empty()) {
    // First round: users created locally before sync was configured are not the central
    // database's; their buckets are replaced too.
    for (const auto& u : store_.list_users()) {
      auto bucket = u.user.id / kUserBucketSize;
      if (!central_buckets.count(bucket)) changed.emplace(bucket, "");
    }
  }

  std::vector<std::int64_t> to_fetch;
  for (const auto& [bucket, digest] : changed) {
    if (!digest.empty()) to_fetch.push_back(bucket);
  }
  auto fetched = central.fetch_buckets(to_fetch);
  std::map<std::int64_t, std::vector<SyncedUser>> users_by_bucket;
  for (auto& bucket : fetched) {
    std::map<std::int64_t, std::size_t> index;  // user id -> position
    for (auto& cu : bucket.users) {
      SyncedUser su;
      su.user.id = cu.id;
      su.user.email = cu.email;
      su.user.full_name = cu.full_name;
      su.user.active = cu.is_active.value_or(false);  // NULL means inactive
      if (!cu.phone_number.empty()) {
        if (auto e164 = normalizer_.to_e164(cu.phone_number)) su.user.phone_number = *e164;
        else ++report.numbers_invalid;
      }
      auto& list = users_by_bucket[cu.id / kUserBucketSize];
      index[cu.id] = list.size();
      list.push_back(std::move(su));
    }
    for (const auto& m : bucket.mappings) {
      auto e164 = normalizer_.to_e164(m.phone_number);
      if (!e164) {
        ++report.numbers_invalid;
        continue;
      }
      auto it = index.find(m.user_id);
      if (it != index.end()) users_by_bucket[m.user_id / kUserBucketSize][it->second].extra_phones.push_back(*e164);
    }
  }

  auto central_configs = central.configs();
  auto local_configs = store_.configs();
  auto same = [](const ConfigRow& a, const ConfigRow& b) {
    return a.key == b.key && a.value == b.value && a.active == b.active;
  };
  std::sort(central_configs.begin(), central_configs.end(), [](auto& a, auto& b) { return a.key < b.key; });
  report.configs_changed = !std::equal(central_configs.begin(), central_configs.end(), local_configs.begin(),
                                       local_configs.end(), same);

  if (changed.empty() && !report.configs_changed) return;
  // An ordinary round is one write, so a number moving between two users is never seen
  // claimed by both. A large one (a first pull, a mass change) goes in writes of a few
  // buckets: a single write of a million users would keep webhooks waiting for the writer
  // for seconds. Each bucket carries its digest, so a round cut short is finished by the next.
  const std::vector<std::pair<std::int64_t, std::string>> buckets(changed.begin(), changed.end());
  const std::size_t per_write = buckets.size() > kAtomicRoundBuckets ? kBucketsPerWrite : buckets.size();
  std::size_t start = 0;
  do {
    const std::size_t end = std::min(buckets.size(), start + per_write);
    store_.write([&](WriteTxn& txn) {
      for (std::size_t i = start; i < end; ++i) {
        const auto& [bucket, digest] = buckets[i];
        auto& users = users_by_bucket[bucket];
        report.users_applied += users.size();
        txn.replace_user_range(bucket, bucket * kUserBucketSize, kUserBucketSize, users, digest);
      }
      if (end == buckets.size() && report.configs_changed) txn.replace_configs(central_configs);
    });
    ++report.writes;
    start = end;
  } while (start < buckets.size());
  report.buckets_changed = changed.size();
}

void SyncEngine::push(CentralDatabase& central, SyncReport& report) {
  std::string epoch = store_.db_epoch();
  // The central side has recorded ids this file never assigned: the file was restored
  // from an older backup and would reuse ids the central side takes for resends. A new
  // database id makes its logs a new stream. (Missed if, before this round, the restored
  // file has already assigned more ids than were recorded.)
  if (std::int64_t local_sequence = store_.usage_log_sequence();
      central.recorded_up_to(edge_id_, epoch) > local_sequence) {
    // Every log the restored file holds was assigned an id the central side has recorded:
    // all were pushed before the backup was restored.
    std::string old_epoch = epoch;
    epoch = store_.write([&](WriteTxn& txn) {
      txn.mark_usage_logs_pushed(local_sequence);
      return txn.renew_db_epoch();
    });
    LOG_WARN("sync.database_restored", {"old_db_epoch", old_epoch}, {"db_epoch", epoch},
             {"hint", "the local database is older than what the central database has seen; "
                      "its usage logs are pushed under a new database id"});
  }
  for (int i = 0; i < kMaxPushBatchesPerRound; ++i) {
    auto logs = store_.unpushed_usage_logs(kPushBatch);
    if (logs.empty()) return;
    std::int64_t recorded = central.push_usage_logs(edge_id_, epoch, logs);
    if (crash_point("after_central_commit")) std::_Exit(137);
    store_.write([&](WriteTxn& txn) { txn.mark_usage_logs_pushed(recorded); });
    for (const auto& l : logs) report.logs_pushed += l.id <= recorded ? 1 : 0;
    if (static_cast<int>(logs.size()) < kPushBatch) return;
  }
}

void SyncEngine::prune(SyncReport& report) {
  // Small deletes, so a large backlog never holds the writer (and webhooks) for long.
  constexpr int kPruneBatch = 5000;
  EpochMs before = clock_.now_ms() - static_cast<EpochMs>(log_retention_days_) * 24 * 3600 * 1000;
  for (int i = 0; i < 20; ++i) {
    int n = store_.write([&](WriteTxn& txn) { return txn.prune_pushed_usage_logs(before, kPruneBatch); });
    report.logs_pruned += static_cast<std::size_t>(n);
    if (n < kPruneBatch) return;
  }
}

}  // namespace smsr

#include "app/routing/central_sync.hpp"

#include "app/routing/directory.hpp"
#include "core/log.hpp"
#include "storage/store.hpp"
#include "sync/central_settings.hpp"

namespace smsr {

CentralSync::CentralSync(Store& store, const PhoneNormalizer& normalizer, Settings& settings,
                         PhoneDirectory& directory, const Config& file_config,
                         const Clock& clock)
    : store_(store), settings_(settings), directory_(directory), clock_(clock), base_(file_config) {
  CentralOptions options =
      central_options_for(file_config.sync.postgres_url, std::chrono::seconds(file_config.sync.interval_s));
  engine_ = std::make_unique<SyncEngine>(
      store, normalizer, [options] { return connect_central(options); }, file_config.sync.edge_id,
      file_config.sync.log_retention_days, clock);
  loop_ = std::make_unique<SyncLoop>(*engine_, std::chrono::seconds(file_config.sync.interval_s), clock,
                                     [this](const SyncReport& r) { on_round(r); });
  listener_ = std::make_unique<ChangeListener>(options.url, [this] { loop_->request(); });
  // Settings copied from the central database in an earlier run apply while offline too.
  apply_settings();
  LOG_INFO("sync.configured", {"central", redact_url(options.url)}, {"edge_id", file_config.sync.edge_id},
           {"interval_s", file_config.sync.interval_s});
}

CentralSync::~CentralSync() { stop(); }

void CentralSync::rebase(const Config& file_config) {
  {
    std::lock_guard lock(base_mu_);
    base_ = file_config;
  }
  apply_settings();
}

void CentralSync::apply_settings() {
  Config base;
  {
    std::lock_guard lock(base_mu_);
    base = base_;
  }
  auto result = apply_central_settings(base, store_.configs());
  directory_.set_ttl(std::chrono::seconds(result.config.cache.ttl_s));
  settings_.replace(std::move(result.config));
  if (!result.applied.empty()) {
    std::string keys;
    for (const auto& k : result.applied) keys += (keys.empty() ? "" : ",") + k;
    LOG_INFO("sync.settings_applied", {"keys", keys});
  }
}

void CentralSync::on_round(const SyncReport& report) {
  if (!report.ok) {
    if (!failing_) {
      LOG_ERROR("sync.failing", {"error", report.error},
                {"hint", "routing continues from local data; retrying with backoff"});
    }
    failing_ = true;
    return;
  }
  if (failing_) LOG_INFO("sync.recovered");
  failing_ = false;
  if (report.configs_changed) {
    try {
      apply_settings();
    } catch (const std::exception& e) {
      LOG_ERROR("sync.settings_failed", {"error", e.what()});
    }
  }
  if (report.buckets_changed || report.logs_pushed || report.configs_changed || report.logs_pruned) {
    LOG_INFO("sync.round", {"buckets_changed", report.buckets_changed}, {"users_applied", report.users_applied},
             {"writes", report.writes},
             {"invalid_numbers", report.numbers_invalid}, {"logs_pushed", report.logs_pushed}, {"logs_pruned", report.logs_pruned},
             {"configs_changed", report.configs_changed ? "yes" : "no"}, {"ms", report.duration_ms});
  } else {
    LOG_DEBUG("sync.round", {"changes", "none"}, {"ms", report.duration_ms});
  }
}

}  // namespace smsr

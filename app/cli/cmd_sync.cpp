// `sms-router sync [--once]`: central sync from the command line, against the same local
// database the service uses (a running service notices the changes within a second).
#include <signal.h>

#include <cstdio>

#include "app/cli/commands.hpp"
#include "core/clock.hpp"
#include "core/log.hpp"
#include "core/phone.hpp"
#include "storage/store.hpp"
#include "sync/notify.hpp"
#include "sync/sync_engine.hpp"
#include "sync/sync_loop.hpp"

namespace smsr {
namespace {

void print_report(const SyncReport& r) {
  if (!r.ok) {
    std::fprintf(stderr, "sms-router: sync failed: %s\n", r.error.c_str());
    return;
  }
  std::printf("sync ok in %lld ms: %zu of %zu user buckets changed (%zu users applied, %zu invalid numbers), "
              "settings %s, %zu usage logs pushed\n",
              static_cast<long long>(r.duration_ms), r.buckets_changed, r.buckets_compared, r.users_applied,
              r.numbers_invalid, r.configs_changed ? "changed" : "unchanged", r.logs_pushed);
}

// sync.postgres_url, for the notify commands; a usage error while it is empty.
std::string central_url(const Config& config) {
  if (config.sync.postgres_url.empty()) {
    throw UsageError("sync.postgres_url is not set: there is no central database to change");
  }
  return config.sync.postgres_url;
}

}  // namespace

int cmd_sync(const ConfigLocation& where, SyncRounds rounds) {
  Config config = where.load();
  if (config.sync.postgres_url.empty()) {
    throw UsageError("sync.postgres_url is not set: this router is standalone; set it to sync with the central database");
  }
  auto secrets = secret_values(config);
  if (auto password = url_password(config.sync.postgres_url); !password.empty()) secrets.push_back(password);
  set_log_secrets(std::move(secrets));
  // Signals first, before any thread exists, so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const Clock& clock = system_clock();
  Store store(config.database.path, clock);
  PhoneNormalizer normalizer(config.phone.default_region);
  CentralOptions options = central_options_for(config.sync.postgres_url, std::chrono::seconds(config.sync.interval_s));
  SyncEngine engine(store, normalizer, [options] { return connect_central(options); }, config.sync.edge_id,
                    config.sync.log_retention_days, clock);
  if (rounds == SyncRounds::kOnce) {
    SyncReport report = engine.run_once();
    print_report(report);
    return report.ok ? 0 : 1;
  }
  std::fprintf(stderr, "syncing every %d s with %s; Ctrl-C to stop\n", config.sync.interval_s,
               redact_url(options.url).c_str());
  SyncLoop loop(engine, std::chrono::seconds(config.sync.interval_s), clock, print_report);
  loop.start();
  int sig = 0;
  sigwait(&signals, &sig);
  loop.stop();
  return 0;
}

int cmd_sync_install_notify(const ConfigLocation& where) {
  const std::string url = central_url(where.load());
  install_notify(url);
  std::printf("installed change notifications on %s: table sms_router_changes, function "
              "sms_router_note_change(), triggers on users, user_phone_mappings, sms_router_configs; "
              "remove them with `sms-router sync uninstall-notify`\n",
              redact_url(url).c_str());
  return 0;
}

int cmd_sync_uninstall_notify(const ConfigLocation& where) {
  const std::string url = central_url(where.load());
  uninstall_notify(url);
  std::printf("removed change notifications from %s\n", redact_url(url).c_str());
  return 0;
}

}  // namespace smsr

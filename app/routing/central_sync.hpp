// The service's side of central sync: runs the sync loop, logs what rounds do (a failing
// upstream once, not every attempt), and keeps the settings in force equal to the file's
// configuration with the central sms_router_configs rows applied on top.
#pragma once

#include <memory>
#include <mutex>

#include "app/routing/settings.hpp"
#include "core/clock.hpp"
#include "core/phone.hpp"
#include "sync/notify.hpp"
#include "sync/sync_loop.hpp"

namespace smsr {

class Store;
class PhoneDirectory;

class CentralSync {
 public:
  CentralSync(Store& store, const PhoneNormalizer& normalizer, Settings& settings, PhoneDirectory& directory,
              const Config& file_config, const Clock& clock);
  ~CentralSync();

  void start() {
    loop_->start();
    listener_->start();
  }
  void stop() {
    listener_->stop();
    loop_->stop();
  }
  void request() { loop_->request(); }
  SyncStatus status() const { return loop_->status(); }

  // A new file configuration (SIGHUP): central overrides are applied on top again.
  void rebase(const Config& file_config);

 private:
  void on_round(const SyncReport& report);
  void apply_settings();

  Store& store_;
  Settings& settings_;
  PhoneDirectory& directory_;
  const Clock& clock_;
  std::mutex base_mu_;
  Config base_;                          // guarded by base_mu_
  bool failing_ = false;                 // touched by the sync thread only
  std::unique_ptr<SyncEngine> engine_;
  std::unique_ptr<SyncLoop> loop_;
  // Wakes the loop on central change notifications (only fires if install-notify was run).
  std::unique_ptr<ChangeListener> listener_;
};

}  // namespace smsr

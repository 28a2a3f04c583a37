// Deletes old history so the local database does not grow without bound: finished inbound
// and outgoing messages older than database.retention_days, usage logs that old when the
// router runs standalone (with sync, pushed ones go after sync.log_retention_days and
// unpushed ones never), and the number-change journal after a day. Runs on its own thread:
// soon after start, then hourly, in small batches with pauses, so webhooks sharing the
// writer barely notice. database.retention_days = 0 keeps everything.
#pragma once

#include "app/routing/settings.hpp"
#include "core/background_thread.hpp"
#include "core/clock.hpp"

namespace smsr {

class Store;

class Pruner {
 public:
  Pruner(Store& store, const Settings& settings, const Clock& clock);
  ~Pruner();
  Pruner(const Pruner&) = delete;
  Pruner& operator=(const Pruner&) = delete;

  void start();
  void stop();

  // One full pass (every batch until nothing old is left); returns the rows deleted.
  int run_once();

 private:
  void loop();

  Store& store_;
  const Settings& settings_;
  const Clock& clock_;
  BackgroundThread thread_;
};

}  // namespace smsr

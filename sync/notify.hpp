// The optional fast path for central changes (issue: sub-second propagation). An explicit
// operator command installs, on the central database, a change log table and triggers on
// users, user_phone_mappings and sms_router_configs that NOTIFY `sms_router_changes`.
// Edges LISTEN and run a sync round at once. NOTIFY is only a wake-up: notifications sent
// while an edge is disconnected are lost, and polling (sync.interval_s) still converges.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>

namespace smsr {

constexpr const char* kChangeChannel = "sms_router_changes";

// Creates (or replaces) the change log, the trigger function and the triggers, in one
// transaction. Throws CentralError.
void install_notify(const std::string& url);
// Removes everything install_notify created. Throws CentralError.
void uninstall_notify(const std::string& url);

// Listens on its own connection and thread; calls `on_change` for each notification.
// Reconnects with backoff when the connection drops.
class ChangeListener {
 public:
  ChangeListener(std::string url, std::function<void()> on_change);
  ~ChangeListener();
  void start();
  void stop();

 private:
  void loop();

  const std::string url_;
  const std::function<void()> on_change_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace smsr

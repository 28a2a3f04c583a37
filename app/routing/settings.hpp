// The configuration in force. Readers take a snapshot; a reload (SIGHUP, central configs)
// swaps in a new one without stopping anybody.
#pragma once

#include <memory>
#include <mutex>

#include "config/config.hpp"

namespace smsr {

class Settings {
 public:
  explicit Settings(Config initial) : current_(std::make_shared<const Config>(std::move(initial))) {}

  std::shared_ptr<const Config> current() const {
    std::lock_guard lock(mu_);
    return current_;
  }

  void replace(Config next) {
    auto p = std::make_shared<const Config>(std::move(next));
    std::lock_guard lock(mu_);
    current_ = std::move(p);
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const Config> current_;  // guarded by mu_
};

}  // namespace smsr

// Active rows of the central sms_router_configs table override settings at run time
// (SPEC "Data"): the organisation's own keys (rate_limit_per_minute, cache_ttl_seconds,
// enable_spam_detection, spam_threshold, ...) and keys named like ours (replies.*, limits.*).
#pragma once

#include <string>
#include <vector>

#include "config/config.hpp"
#include "storage/store.hpp"

namespace smsr {

struct OverrideResult {
  Config config;
  std::vector<std::string> applied;  // keys that changed a setting
  std::vector<std::string> ignored;  // active keys we do not map, or values we cannot use
};

// Pure: `base` (the file and environment) with the active central rows applied.
OverrideResult apply_central_settings(const Config& base, const std::vector<ConfigRow>& rows);

}  // namespace smsr

// Operations behind the admin API (the HTTP layer only translates).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/domain.hpp"

namespace smsr {

class Store;
class Sender;

struct ProactiveResult {
  enum class Kind {
    kQueued,          // sent through the REST queue: `ids`, one per part
    kInvalid,         // the request itself is wrong: `detail`
    kNoSuchUser,
    kNotDeliverable,  // inactive, opted out, no number, no router number: `detail`
  };
  Kind kind = Kind::kInvalid;
  std::string detail;
  std::vector<std::int64_t> ids;
};

// A message the organisation sends first: to the user's primary number, from the first
// router number, never to a number that opted out.
ProactiveResult send_proactive(Store& store, Sender& sender, const Config& config, UserId user_id,
                               const std::string& body);

}  // namespace smsr

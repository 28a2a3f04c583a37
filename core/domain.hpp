// The domain vocabulary shared by storage, sync and app.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace smsr {

using UserId = std::int64_t;

struct User {
  UserId id = 0;
  std::string email;
  std::string full_name;
  std::string phone_number;  // primary number, E.164; may be empty
  bool active = true;
};

// Who owns a phone number, as the local directory sees it.
struct Resolution {
  enum class Kind { kUser, kUnknown, kAmbiguous };
  enum class Source { kPrimary, kMapping };

  Kind kind = Kind::kUnknown;
  Source source = Source::kPrimary;  // meaningful for kUser
  std::optional<User> user;          // set for kUser
  std::vector<UserId> claimants;     // set for kAmbiguous: every user claiming the number
};

// Milliseconds since the Unix epoch, UTC.
using EpochMs = std::int64_t;

}  // namespace smsr

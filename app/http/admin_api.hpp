// The operator's admin API (SPEC "Admin API"): number lookups, statistics, usage logs, sync
// requests and local user management.
//
// AdminApi holds the operations; each answers with a result kind and a JSON body and never
// sees HTTP. add_admin_routes() only translates: path, query and body in, one table from
// result kinds to status codes out. The bearer-token check (admin.token) sits in the HTTP
// server's pre-routing hook, in front of every route here.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "app/http/router.hpp"
#include "app/routing/users.hpp"
#include "core/domain.hpp"
#include "storage/errors.hpp"

namespace smsr {

class Settings;
class Store;
class PhoneDirectory;
class PhoneNormalizer;
class UserService;
class Dispatcher;
class Sender;
class CentralSync;

struct AdminApiDeps {
  const Settings& settings;
  Store& store;
  const PhoneDirectory& directory;
  const Dispatcher& dispatcher;
  Sender& sender;  // queue depth for stats, and proactive sends
  const PhoneNormalizer& normalizer;  // the one inbound routing uses (phone.default_region)
  UserService& users;                 // the rules for editing users
  CentralSync* central_sync;  // the sync loop's service side; null while sync.postgres_url is empty
};

// What an admin operation came to. Errors carry {"error": "<one line>"} as their body.
enum class AdminStatus { kOk, kCreated, kAccepted, kInvalid, kNotFound, kConflict, kUnavailable };

struct AdminAnswer {
  AdminStatus status = AdminStatus::kOk;
  nlohmann::json body;
};

// Storage errors as admin results: conflict, not found, invalid; everything else unavailable.
AdminStatus admin_status_of(StoreError::Kind kind);
// Refused user edits: invalid, not found, conflict (a number claimed twice, or users managed
// in the central database).
AdminStatus admin_status_of(UserEditError::Kind kind);

class AdminApi {
 public:
  explicit AdminApi(AdminApiDeps deps);

  // Who owns a number as routing sees it: {"input", "e164", "user_id", "source", "active",
  // "ambiguous", "claimants"?}; an unknown number has user_id, source and active null. A
  // value that is not a phone number (letters, a short code, garbage) is kInvalid, not a
  // 200 with e164 null: it can never route, and the error says why.
  AdminAnswer lookup(const std::optional<std::string>& phone);
  // Users, mappings, messages by outcome, queues, cache, ambiguous numbers, sync.
  AdminAnswer stats();
  // Usage log rows, newest first. `user_id`: a user id; `since`: ISO 8601 or epoch
  // milliseconds; `limit`: 1..1000 (default 100). A bad value is kInvalid naming it.
  AdminAnswer usage(const std::optional<std::string>& user_id, const std::optional<std::string>& since,
                    const std::optional<std::string>& limit);
  // Wakes the sync loop: kAccepted; kConflict while sync.postgres_url is empty.
  AdminAnswer request_sync();
  // A message the organisation sends first (`body`: {"user_id", "body"}): kAccepted with the
  // queued parts' ids; kNotFound for an unknown user; kConflict when it cannot be delivered
  // (inactive, opted out, no number, no router number).
  AdminAnswer send_message(const nlohmann::json& body);

  // Users, as {"id", "email", "full_name", "phone_number", "extra_phone_numbers", "is_active"}.
  // Writes answer kConflict while sync.postgres_url is set: the central database owns users.
  AdminAnswer list_users();
  AdminAnswer get_user(UserId id);
  // `body` holds those fields (id optional, phone_number required); numbers are normalised.
  AdminAnswer create_user(const nlohmann::json& body);
  // Changes the fields present in `body`; absent fields keep their values. phone_number
  // and/or extra_phone_numbers replace the numbers.
  AdminAnswer update_user(UserId id, const nlohmann::json& body);
  AdminAnswer delete_user(UserId id);
  // `body`: {"phone_number": "..."}; the number becomes an extra number of the user.
  AdminAnswer add_phone(UserId id, const nlohmann::json& body);
  // Removes one of the user's numbers (primary or extra). kConflict when another user
  // claims it too (possible only with imported data): removing it would touch their claim.
  AdminAnswer remove_phone(UserId id, const std::string& phone);

 private:
  AdminAnswer user_answer(AdminStatus status, UserId id);

  AdminApiDeps deps_;
};

// Adds every admin route above to `router`; `api` must outlive it.
void add_admin_routes(Router& router, AdminApi& api);

}  // namespace smsr

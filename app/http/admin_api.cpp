#include "app/http/admin_api.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <set>
#include <vector>

#include "app/http/routes.hpp"
#include "app/routing/central_sync.hpp"
#include "app/routing/directory.hpp"
#include "app/routing/dispatcher.hpp"
#include "app/routing/proactive.hpp"
#include "app/routing/sender.hpp"
#include "app/routing/settings.hpp"
#include "app/routing/users.hpp"
#include "core/log.hpp"
#include "core/phone.hpp"
#include "storage/store.hpp"
#include "util/strings.hpp"
#include "util/time_format.hpp"
#include "util/utf8.hpp"

namespace smsr {
namespace {

using nlohmann::json;

constexpr int kDefaultUsageLimit = 100;
constexpr int kMaxUsageLimit = 1000;

AdminAnswer ok(json body) { return {AdminStatus::kOk, std::move(body)}; }
AdminAnswer fail(AdminStatus status, const std::string& message) { return {status, json{{"error", message}}}; }
AdminAnswer invalid(const std::string& message) { return fail(AdminStatus::kInvalid, message); }

// Runs one operation; the storage layer's errors become answers here, in one place.
template <class F>
AdminAnswer guarded(F&& operation) {
  try {
    return operation();
  } catch (const StoreError& e) {
    if (admin_status_of(e.kind()) == AdminStatus::kUnavailable) {
      LOG_ERROR("admin.storage_failed", {"error", e.what()});
    }
    return fail(admin_status_of(e.kind()), e.what());
  } catch (const UserEditError& e) {
    return fail(admin_status_of(e.kind()), e.what());
  }
}

std::optional<UserId> parse_user_id(std::string_view text) {
  auto id = parse_unsigned(text);
  if (!id || *id <= 0) return std::nullopt;
  return id;
}

// A query value that is absent or blank counts as not given.
std::optional<std::string> given(const std::optional<std::string>& value) {
  if (!value) return std::nullopt;
  std::string t(trim(*value));
  if (t.empty()) return std::nullopt;
  return t;
}

json nullable(const std::string& text) { return text.empty() ? json(nullptr) : json(text); }

json user_json(const UserWithPhones& u) {
  return {{"id", u.user.id},
          {"email", u.user.email},
          {"full_name", u.user.full_name},
          {"phone_number", nullable(u.user.phone_number)},
          {"extra_phone_numbers", u.extra_phones},
          {"is_active", u.user.active}};
}

json usage_json(const UsageLog& log) {
  json metadata = json::parse(log.metadata_json, nullptr, false);
  if (metadata.is_discarded()) metadata = log.metadata_json;
  return {{"id", log.id},
          {"user_id", log.user_id ? json(*log.user_id) : json(nullptr)},
          {"phone_number", log.phone_number},
          {"message_direction", log.direction},
          {"message_length", utf8_length(log.content)},
          {"message_content", log.content},
          {"success", log.success},
          {"processing_time_ms", log.processing_time_ms ? json(*log.processing_time_ms) : json(nullptr)},
          {"error_message", nullable(log.error_message)},
          {"sms_metadata", metadata},
          {"twilio_message_sid", nullable(log.twilio_message_sid)},
          {"final_status", log.final_status},
          {"created_at", format_iso8601(log.created_ms)},
          {"created_ms", log.created_ms}};
}

// ---- the user body: {"id", "email", "full_name", "phone_number", "extra_phone_numbers", "is_active"} ----

struct UserFields {
  std::optional<UserId> id;
  std::optional<std::string> email;
  std::optional<std::string> full_name;
  std::optional<std::string> phone_number;                     // E.164
  std::optional<std::vector<std::string>> extra_phone_numbers;  // E.164
  std::optional<bool> is_active;
};

constexpr const char* kUserFieldList = "id, email, full_name, phone_number, extra_phone_numbers, is_active";

// Restores a '+' that a query string turned into a space ("?phone=+1514..." unencoded).
std::string restore_plus(const std::string& raw) {
  if (!raw.empty() && raw.front() == ' ') {
    std::string t(trim(raw));
    if (!t.empty() && std::isdigit(static_cast<unsigned char>(t.front()))) return "+" + t;
  }
  return std::string(trim(raw));
}

// Reads and checks the fields present in `body`; throws UserEditError(kInvalid) naming the
// field that is wrong.
UserFields read_user_fields(const json& body, const UserService& users) {
  auto refuse = [](const std::string& problem) { throw UserEditError(UserEditError::Kind::kInvalid, problem); };
  UserFields out;
  for (const auto& [key, value] : body.items()) {
    if (key == "id") {
      if (!value.is_number_integer() || value.get<std::int64_t>() <= 0) refuse("id: expected a positive integer");
      out.id = value.get<UserId>();
    } else if (key == "email" || key == "full_name") {
      if (!value.is_string() && !value.is_null()) refuse(key + ": expected a string");
      (key == "email" ? out.email : out.full_name) = value.is_null() ? "" : value.get<std::string>();
    } else if (key == "phone_number") {
      if (!value.is_string()) refuse("phone_number: expected a string such as \"+15145550101\"");
      out.phone_number = users.to_e164(value.get<std::string>(), key);
    } else if (key == "extra_phone_numbers") {
      if (!value.is_array()) refuse("extra_phone_numbers: expected an array of strings");
      std::vector<std::string> numbers;
      for (std::size_t i = 0; i < value.size(); ++i) {
        std::string name = "extra_phone_numbers[" + std::to_string(i) + "]";
        if (!value[i].is_string()) refuse(name + ": expected a string");
        numbers.push_back(users.to_e164(value[i].get<std::string>(), name));
      }
      out.extra_phone_numbers = std::move(numbers);
    } else if (key == "is_active") {
      if (!value.is_boolean()) refuse("is_active: expected true or false");
      out.is_active = value.get<bool>();
    } else {
      refuse("unknown field \"" + key + "\"; the fields are " + kUserFieldList);
    }
  }
  return out;
}

}  // namespace

AdminStatus admin_status_of(UserEditError::Kind kind) {
  switch (kind) {
    case UserEditError::Kind::kInvalid: return AdminStatus::kInvalid;
    case UserEditError::Kind::kNotFound: return AdminStatus::kNotFound;
    case UserEditError::Kind::kConflict:
    case UserEditError::Kind::kManagedCentrally: return AdminStatus::kConflict;
  }
  return AdminStatus::kConflict;
}

AdminStatus admin_status_of(StoreError::Kind kind) {
  switch (kind) {
    case StoreError::Kind::kConflict: return AdminStatus::kConflict;
    case StoreError::Kind::kNotFound: return AdminStatus::kNotFound;
    case StoreError::Kind::kInvalid: return AdminStatus::kInvalid;
    case StoreError::Kind::kUnavailable:
    case StoreError::Kind::kCorrupt: return AdminStatus::kUnavailable;
  }
  return AdminStatus::kUnavailable;
}

AdminApi::AdminApi(AdminApiDeps deps) : deps_(std::move(deps)) {}

AdminAnswer AdminApi::user_answer(AdminStatus status, UserId id) {
  auto user = deps_.store.user(id);
  if (!user) return fail(AdminStatus::kNotFound, "no user with id " + std::to_string(id));
  return {status, user_json(*user)};
}

AdminAnswer AdminApi::lookup(const std::optional<std::string>& phone) {
  if (!given(phone)) return invalid("phone: required, e.g. ?phone=%2B15145550101");
  std::string input = restore_plus(*phone);
  auto e164 = deps_.normalizer.to_e164(input);
  if (!e164) {
    return invalid("phone: \"" + input + "\" is not a phone number (region " + deps_.normalizer.default_region() +
                   ")");
  }
  return guarded([&] {
    Resolution r = deps_.store.resolve(*e164);
    json out = {{"input", input},         {"e164", *e164},      {"user_id", nullptr},
                {"source", nullptr},      {"active", nullptr},  {"ambiguous", false}};
    switch (r.kind) {
      case Resolution::Kind::kUser:
        out["user_id"] = r.user->id;
        out["source"] = r.source == Resolution::Source::kPrimary ? "primary" : "mapping";
        out["active"] = r.user->active;
        break;
      case Resolution::Kind::kAmbiguous:
        out["ambiguous"] = true;
        out["claimants"] = r.claimants;
        break;
      case Resolution::Kind::kUnknown:
        break;
    }
    return ok(out);
  });
}

AdminAnswer AdminApi::stats() {
  return guarded([&] {
    StoreStats s = deps_.store.stats();
    auto cache = deps_.directory.stats();
    json by_outcome = json::object();
    for (const auto& [outcome, count] : s.inbound_by_outcome) by_outcome[outcome] = count;
    std::uint64_t lookups = cache.hits + cache.misses;
    json sync = {{"enabled", false}};
    if (deps_.central_sync) {
      const SyncStatus status = deps_.central_sync->status();
      sync = {{"enabled", true},
              {"runs", status.runs},
              {"failures", status.failures},
              {"last_success", status.last_success_ms ? json(format_iso8601(status.last_success_ms)) : json(nullptr)},
              {"usage_logs_unpushed", s.unpushed_usage_logs}};
    }
    return ok({{"users", s.users},
               {"active_users", s.active_users},
               {"mappings", s.mappings},
               {"messages", {{"by_outcome", by_outcome},
                             {"pending_agent", s.pending_inbound},
                             {"unsent_outbound", s.queued_outbound}}},
               {"queue", {{"agent", deps_.dispatcher.queue_depth()}, {"outbound", deps_.sender.queue_depth()}}},
               {"cache", {{"hits", cache.hits},
                          {"misses", cache.misses},
                          {"entries", cache.entries},
                          {"hit_rate", lookups ? json(static_cast<double>(cache.hits) / static_cast<double>(lookups))
                                               : json(nullptr)}}},
               {"ambiguous_numbers", s.ambiguous_numbers},
               {"sync", sync}});
  });
}

AdminAnswer AdminApi::usage(const std::optional<std::string>& user_id, const std::optional<std::string>& since,
                            const std::optional<std::string>& limit) {
  std::optional<UserId> user;
  if (auto text = given(user_id)) {
    user = parse_user_id(*text);
    if (!user) return invalid("user_id: expected a user id (a positive integer), got \"" + *text + "\"");
  }
  EpochMs since_ms = 0;
  if (auto text = given(since)) {
    auto parsed = parse_time(*text);
    if (!parsed) {
      return invalid("since: expected an ISO 8601 time such as 2026-01-31T12:00:00Z or epoch milliseconds, got \"" +
                     *text + "\"");
    }
    since_ms = *parsed;
  }
  int rows = kDefaultUsageLimit;
  if (auto text = given(limit)) {
    auto parsed = parse_unsigned(*text);
    if (!parsed || *parsed < 1 || *parsed > kMaxUsageLimit) {
      return invalid("limit: expected an integer from 1 to " + std::to_string(kMaxUsageLimit) + ", got \"" + *text +
                     "\"");
    }
    rows = static_cast<int>(*parsed);
  }
  return guarded([&] {
    json out = json::array();
    for (const auto& log : deps_.store.usage_logs(user, since_ms, rows)) out.push_back(usage_json(log));
    auto count = out.size();
    return ok({{"usage_logs", std::move(out)}, {"count", count}, {"limit", rows}});
  });
}

AdminAnswer AdminApi::request_sync() {
  if (deps_.settings.current()->sync.postgres_url.empty()) {
    return fail(AdminStatus::kConflict, "sync is not configured (sync.postgres_url is empty)");
  }
  if (!deps_.central_sync) {
    return fail(AdminStatus::kUnavailable, "sync is configured but no sync loop runs in this process");
  }
  deps_.central_sync->request();
  return {AdminStatus::kAccepted, {{"status", "sync requested"}}};
}

AdminAnswer AdminApi::send_message(const json& body) {
  if (!body.is_object() || !body.contains("user_id") || !body["user_id"].is_number_integer() ||
      !body.contains("body") || !body["body"].is_string()) {
    return invalid("expected JSON {\"user_id\": <integer>, \"body\": \"<text>\"}");
  }
  return guarded([&] {
    auto result = send_proactive(deps_.store, deps_.sender, *deps_.settings.current(), body["user_id"].get<UserId>(),
                                 body["body"].get<std::string>());
    switch (result.kind) {
      case ProactiveResult::Kind::kQueued:
        return AdminAnswer{AdminStatus::kAccepted,
                           json{{"status", "queued"}, {"message_ids", result.ids}, {"parts", result.ids.size()}}};
      case ProactiveResult::Kind::kInvalid: return invalid(result.detail);
      case ProactiveResult::Kind::kNoSuchUser: return fail(AdminStatus::kNotFound, result.detail);
      case ProactiveResult::Kind::kNotDeliverable: return fail(AdminStatus::kConflict, result.detail);
    }
    return fail(AdminStatus::kUnavailable, "unexpected result");
  });
}

AdminAnswer AdminApi::list_users() {
  return guarded([&] {
    json users = json::array();
    for (const auto& u : deps_.store.list_users()) users.push_back(user_json(u));
    auto count = users.size();
    return ok({{"users", std::move(users)}, {"count", count}});
  });
}

AdminAnswer AdminApi::get_user(UserId id) {
  return guarded([&] { return user_answer(AdminStatus::kOk, id); });
}

AdminAnswer AdminApi::create_user(const json& body) {
  return guarded([&] {
    deps_.users.require_local_management();  // before the body: its problems do not matter then
    UserFields f = read_user_fields(body, deps_.users);
    if (!f.phone_number) return invalid("phone_number: required (the user's primary number)");
    NewUser nu;
    nu.id = f.id;
    nu.email = f.email.value_or("");
    nu.full_name = f.full_name.value_or("");
    nu.active = f.is_active.value_or(true);
    nu.phones.push_back(*f.phone_number);
    if (f.extra_phone_numbers) {
      nu.phones.insert(nu.phones.end(), f.extra_phone_numbers->begin(), f.extra_phone_numbers->end());
    }
    // Returns once committed, after the directory dropped the numbers' cached owners.
    User created = deps_.users.create(nu);
    LOG_INFO("admin.user_created", {"user_id", created.id}, {"numbers", nu.phones.size()});
    return user_answer(AdminStatus::kCreated, created.id);
  });
}

AdminAnswer AdminApi::update_user(UserId id, const json& body) {
  return guarded([&] {
    deps_.users.require_local_management();
    UserFields f = read_user_fields(body, deps_.users);
    if (f.id && *f.id != id) {
      return invalid("id: the body names user " + std::to_string(*f.id) + " but the path names user " +
                     std::to_string(id));
    }
    UserChanges changes{f.email, f.full_name, f.is_active, f.phone_number, f.extra_phone_numbers};
    deps_.users.update(id, changes);
    LOG_INFO("admin.user_updated", {"user_id", id},
             {"numbers_replaced", f.phone_number || f.extra_phone_numbers ? "yes" : "no"});
    return user_answer(AdminStatus::kOk, id);
  });
}

AdminAnswer AdminApi::delete_user(UserId id) {
  return guarded([&] {
    deps_.users.remove(id);
    LOG_INFO("admin.user_deleted", {"user_id", id});
    return ok({{"status", "deleted"}, {"id", id}});
  });
}

AdminAnswer AdminApi::add_phone(UserId id, const json& body) {
  return guarded([&] {
    deps_.users.require_local_management();
    for (const auto& [key, value] : body.items()) {
      if (key != "phone_number") return invalid("unknown field \"" + key + "\"; expected {\"phone_number\": \"...\"}");
    }
    if (!body.contains("phone_number") || !body["phone_number"].is_string()) {
      return invalid("phone_number: required, a string such as \"+15145550101\"");
    }
    const std::string e164 = deps_.users.to_e164(body["phone_number"].get<std::string>(), "phone_number");
    deps_.users.add_phone(id, e164);
    LOG_INFO("admin.phone_added", {"user_id", id}, {"phone", redact_phone(e164)});
    return user_answer(AdminStatus::kCreated, id);
  });
}

AdminAnswer AdminApi::remove_phone(UserId id, const std::string& phone) {
  return guarded([&] {
    deps_.users.require_local_management();
    const std::string e164 = deps_.users.to_e164(restore_plus(phone), "phone");
    deps_.users.remove_phone(id, e164);
    LOG_INFO("admin.phone_removed", {"user_id", id}, {"phone", redact_phone(e164)});
    return user_answer(AdminStatus::kOk, id);
  });
}

// ======================= HTTP translation =======================

namespace {

// The one table from results to HTTP status codes.
int http_status_of(AdminStatus status) {
  switch (status) {
    case AdminStatus::kOk: return 200;
    case AdminStatus::kCreated: return 201;
    case AdminStatus::kAccepted: return 202;
    case AdminStatus::kInvalid: return 400;
    case AdminStatus::kNotFound: return 404;
    case AdminStatus::kConflict: return 409;
    case AdminStatus::kUnavailable: return 503;
  }
  return 500;
}

HttpResponse reply(const AdminAnswer& answer) {
  // Stored texts need not be valid UTF-8; never fail the answer over one.
  return HttpResponse::json(http_status_of(answer.status), answer.body.dump(-1, ' ', false, json::error_handler_t::replace));
}

// Path id and JSON body, or the answer explaining what is wrong with them.
std::optional<UserId> path_user_id(const HttpRequest& req, AdminAnswer& problem) {
  const std::string& text = req.path_params.at(0);
  auto id = parse_user_id(text);
  if (!id) problem = invalid("user id in the path must be a positive integer, got \"" + text + "\"");
  return id;
}

std::optional<json> json_body(const HttpRequest& req, AdminAnswer& problem) {
  json body = json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    problem = invalid("the request body must be a JSON object");
    return std::nullopt;
  }
  return body;
}

// Every admin operation runs on the worker pool: it reads or writes the database.
void add(Router& router, const char* method, const char* pattern, std::function<AdminAnswer(const HttpRequest&)> op) {
  router.add(method, pattern, Runs::kOnWorker,
             [op = std::move(op)](HttpRequest& req, Responder respond) { respond(reply(op(req))); });
}

// The routes under /users/{id}: the id from the path (and the JSON body), or the answer
// saying what is wrong with them.
template <class Operation>
auto with_user(AdminApi& api, Operation operation) {
  return [&api, operation](const HttpRequest& req) {
    AdminAnswer problem;
    auto id = path_user_id(req, problem);
    return id ? operation(api, *id, req) : problem;
  };
}

template <class Operation>
auto with_user_and_body(AdminApi& api, Operation operation) {
  return [&api, operation](const HttpRequest& req) {
    AdminAnswer problem;
    auto id = path_user_id(req, problem);
    auto body = id ? json_body(req, problem) : std::nullopt;
    return id && body ? operation(api, *id, *body) : problem;
  };
}

}  // namespace

void add_admin_routes(Router& router, AdminApi& api) {
  using Request = HttpRequest;
  add(router, "GET", routes::kAdminLookup, [&api](const Request& req) { return api.lookup(req.param("phone")); });
  add(router, "GET", routes::kAdminStats, [&api](const Request&) { return api.stats(); });
  add(router, "GET", routes::kAdminUsage, [&api](const Request& req) {
    return api.usage(req.param("user_id"), req.param("since"), req.param("limit"));
  });
  add(router, "POST", routes::kAdminSync, [&api](const Request&) { return api.request_sync(); });
  add(router, "POST", routes::kAdminMessages,
      [&api](const Request& req) { return api.send_message(json::parse(req.body, nullptr, false)); });

  add(router, "GET", routes::kAdminUsers, [&api](const Request&) { return api.list_users(); });
  add(router, "POST", routes::kAdminUsers, [&api](const Request& req) {
    AdminAnswer problem;
    auto body = json_body(req, problem);
    return body ? api.create_user(*body) : problem;
  });
  add(router, "GET", routes::kAdminUser,
      with_user(api, [](AdminApi& a, UserId id, const Request&) { return a.get_user(id); }));
  add(router, "PUT", routes::kAdminUser,
      with_user_and_body(api, [](AdminApi& a, UserId id, const json& body) { return a.update_user(id, body); }));
  add(router, "DELETE", routes::kAdminUser,
      with_user(api, [](AdminApi& a, UserId id, const Request&) { return a.delete_user(id); }));
  add(router, "POST", routes::kAdminUserPhones,
      with_user_and_body(api, [](AdminApi& a, UserId id, const json& body) { return a.add_phone(id, body); }));
  add(router, "DELETE", routes::kAdminUserPhone, with_user(api, [](AdminApi& a, UserId id, const Request& req) {
        return a.remove_phone(id, req.path_params.at(1));
      }));
}

}  // namespace smsr

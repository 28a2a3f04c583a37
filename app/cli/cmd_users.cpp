// `sms-router users ...`: local user management (standalone mode).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "app/cli/commands.hpp"
#include "app/routing/settings.hpp"
#include "app/routing/user_import.hpp"
#include "app/routing/users.hpp"
#include "core/clock.hpp"
#include "core/phone.hpp"
#include "storage/store.hpp"

namespace smsr {
namespace {

std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

void print_user(const UserWithPhones& u) {
  std::printf("user %lld (%s)\n", static_cast<long long>(u.user.id), u.user.active ? "active" : "inactive");
  std::printf("  name:    %s\n", u.user.full_name.c_str());
  std::printf("  email:   %s\n", u.user.email.c_str());
  std::printf("  primary: %s\n", u.user.phone_number.empty() ? "-" : u.user.phone_number.c_str());
  std::printf("  extra:   %s\n", u.extra_phones.empty() ? "-" : join(u.extra_phones, ", ").c_str());
}

// A user id is a short run of digits; anything with a '+', punctuation or 10+ digits is
// a phone number.
bool looks_like_id(const std::string& text) {
  return !text.empty() && text.size() < 10 &&
         std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); });
}

// A refused edit: the request is wrong (exit 2), or the state of the data is (exit 1).
[[noreturn]] void report_refusal(const UserEditError& e) {
  switch (e.kind()) {
    case UserEditError::Kind::kInvalid:
    case UserEditError::Kind::kManagedCentrally: throw UsageError(e.what());
    case UserEditError::Kind::kNotFound: throw StoreError(StoreError::Kind::kNotFound, e.what());
    case UserEditError::Kind::kConflict: throw StoreError(StoreError::Kind::kConflict, e.what());
  }
  throw UsageError(e.what());
}

// Runs one command, turning the editing rules' refusals into the CLI's errors.
template <class F>
auto editing(F&& command) -> decltype(command()) {
  try {
    return command();
  } catch (const UserEditError& e) {
    report_refusal(e);
  }
}

// What the commands that edit open, once the configuration allows local edits: the store
// and the editing rules.
struct Local {
  Config config;
  Settings settings;
  PhoneNormalizer normalizer;
  Store store;
  UserService users;
  explicit Local(const Config& c)
      : config(c),
        settings(c),
        normalizer(c.phone.default_region),
        store(c.database.path, system_clock()),
        users(store, normalizer, settings) {}
};

}  // namespace

int cmd_users_add(const ConfigLocation& where, const UserAddArgs& args) {
  Config config = where.load();
  return editing([&] {
    require_local_management(config);  // before the database is opened (or created)
    PhoneNormalizer normalizer(config.phone.default_region);
    NewUser nu;
    for (const auto& p : args.phones) nu.phones.push_back(user_phone_e164(normalizer, p));
    nu.email = args.email;
    nu.full_name = args.name;
    nu.active = !args.inactive;
    if (args.id) nu.id = *args.id;
    Local local(config);
    User u = local.users.create(nu);
    std::printf("added user %lld with %s%s\n", static_cast<long long>(u.id), join(nu.phones, ", ").c_str(),
                u.active ? "" : " (inactive)");
    return 0;
  });
}

int cmd_users_list(const ConfigLocation& where) {
  Local local(where.load());
  auto users = local.store.list_users();
  std::printf("%-8s %-8s %-16s %-24s %-28s %s\n", "ID", "ACTIVE", "PRIMARY", "EXTRA", "EMAIL", "NAME");
  for (const auto& u : users) {
    std::printf("%-8lld %-8s %-16s %-24s %-28s %s\n", static_cast<long long>(u.user.id),
                u.user.active ? "yes" : "no", u.user.phone_number.empty() ? "-" : u.user.phone_number.c_str(),
                u.extra_phones.empty() ? "-" : join(u.extra_phones, ",").c_str(), u.user.email.c_str(),
                u.user.full_name.c_str());
  }
  std::fprintf(stderr, "%zu user(s)\n", users.size());
  return 0;
}

int cmd_users_show(const ConfigLocation& where, const std::string& phone_or_id) {
  Local local(where.load());
  if (looks_like_id(phone_or_id)) {
    auto u = local.store.user(std::stoll(phone_or_id));
    if (!u) {
      std::fprintf(stderr, "sms-router: no user with id %s\n", phone_or_id.c_str());
      return 1;
    }
    print_user(*u);
    return 0;
  }
  const std::string e164 = editing([&] { return user_phone_e164(local.normalizer, phone_or_id); });
  Resolution r = local.store.resolve(e164);
  switch (r.kind) {
    case Resolution::Kind::kUnknown:
      std::fprintf(stderr, "sms-router: %s is not registered to any user\n", e164.c_str());
      return 1;
    case Resolution::Kind::kAmbiguous: {
      std::vector<std::string> ids;
      for (auto id : r.claimants) ids.push_back(std::to_string(id));
      std::printf("%s is AMBIGUOUS: claimed by users %s; it reaches no agent until one owner remains\n",
                  e164.c_str(), join(ids, ", ").c_str());
      return 0;
    }
    case Resolution::Kind::kUser:
      std::printf("%s belongs to user %lld (%s number)\n", e164.c_str(), static_cast<long long>(r.user->id),
                  r.source == Resolution::Source::kPrimary ? "primary" : "extra");
      if (auto u = local.store.user(r.user->id)) print_user(*u);
      return 0;
  }
  return 1;
}

int cmd_users_set_active(const ConfigLocation& where, long long id, bool active) {
  Config config = where.load();
  return editing([&] {
    require_local_management(config);
    Local local(config);
    local.users.set_active(id, active);
    std::printf("user %lld %s\n", id, active ? "enabled" : "disabled");
    return 0;
  });
}

int cmd_users_remove(const ConfigLocation& where, long long id) {
  Config config = where.load();
  return editing([&] {
    require_local_management(config);
    Local local(config);
    local.users.remove(id);
    std::printf("user %lld removed\n", id);
    return 0;
  });
}

int cmd_users_phones_add(const ConfigLocation& where, long long id, const std::string& phone) {
  Config config = where.load();
  return editing([&] {
    require_local_management(config);
    Local local(config);
    const std::string e164 = local.users.to_e164(phone);
    local.users.add_phone(id, e164);
    std::printf("%s added to user %lld\n", e164.c_str(), id);
    return 0;
  });
}

int cmd_users_phones_remove(const ConfigLocation& where, const std::string& phone) {
  Config config = where.load();
  return editing([&] {
    require_local_management(config);
    Local local(config);
    const std::string e164 = local.users.to_e164(phone);
    local.users.remove_number(e164);
    std::printf("%s removed\n", e164.c_str());
    return 0;
  });
}

int cmd_users_import(const ConfigLocation& where, const std::string& file) {
  Config config = where.load();
  editing([&] {
    require_local_management(config);
    return 0;
  });
  std::ifstream in(file, std::ios::binary);
  if (!in) throw UsageError("cannot read " + file);
  std::stringstream text;
  text << in.rdbuf();

  PhoneNormalizer normalizer(config.phone.default_region);
  ImportPlan plan = plan_import(text.str(), normalizer);
  if (!plan.problems.empty()) {
    for (const auto& p : plan.problems) {
      if (p.line) std::fprintf(stderr, "%s:%zu: %s\n", file.c_str(), p.line, p.reason.c_str());
      else std::fprintf(stderr, "%s: %s\n", file.c_str(), p.reason.c_str());
    }
    throw UsageError(std::to_string(plan.problems.size()) + " problem(s) in " + file +
                     "; nothing was imported. Fix the lines above and run the import again");
  }

  Store store(config.database.path, system_clock());
  const bool terminal = isatty(STDERR_FILENO);
  auto progress = [terminal](std::size_t done, std::size_t total) {
    if (!terminal) return;
    int width = 30;
    int filled = total ? static_cast<int>(width * done / total) : width;
    std::fprintf(stderr, "\r[%s%s] %zu/%zu", std::string(static_cast<std::size_t>(filled), '#').c_str(),
                 std::string(static_cast<std::size_t>(width - filled), ' ').c_str(), done, total);
    if (done == total) std::fprintf(stderr, "\n");
  };
  ImportResult result;
  try {
    result = apply_import(store, plan.rows, progress);
  } catch (const ImportRowError& e) {
    if (terminal) std::fprintf(stderr, "\n");
    if (e.kind() == StoreError::Kind::kConflict || e.kind() == StoreError::Kind::kInvalid) {
      throw UsageError(file + ":" + std::to_string(e.line()) + ": " + e.reason() + "; nothing was imported");
    }
    throw;
  }
  std::printf("imported %s: %zu created, %zu updated, %zu unchanged\n", file.c_str(), result.created,
              result.updated, result.unchanged);
  return 0;
}

}  // namespace smsr

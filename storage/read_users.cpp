// Store reads: who owns a number, users and their numbers.
#include "storage/store.hpp"

#include "storage/database.hpp"
#include "storage/rows.hpp"
#include "storage/store_internal.hpp"

namespace smsr {

using namespace rows;

Resolution Store::resolve(const std::string& e164) {
  return with_reader("looking up a number", [&](Connection& conn) {
    Resolution r;
    std::vector<User> owners;
    auto& primary = conn.prepare(std::string("SELECT ") + kUserColumns +
                                  " FROM users WHERE phone_number = ? ORDER BY id");
    primary.bind(1, e164);
    while (primary.executeStep()) owners.push_back(read_user(primary));
    r.source = Resolution::Source::kPrimary;
    if (owners.empty()) {
      // A primary number always wins over mappings; only look at mappings without one.
      auto& mapped = conn.prepare(
          "SELECT DISTINCT u.id, u.email, u.full_name, u.phone_number, u.is_active "
          "FROM phone_mappings m JOIN users u ON u.id = m.user_id WHERE m.phone_number = ? "
          "ORDER BY u.id");
      mapped.bind(1, e164);
      while (mapped.executeStep()) owners.push_back(read_user(mapped));
      r.source = Resolution::Source::kMapping;
    }
    if (owners.empty()) {
      r.kind = Resolution::Kind::kUnknown;
    } else if (owners.size() == 1) {
      r.kind = Resolution::Kind::kUser;
      r.user = owners.front();
    } else {
      r.kind = Resolution::Kind::kAmbiguous;
      for (const auto& u : owners) r.claimants.push_back(u.id);
    }
    return r;
  });
}

std::optional<UserWithPhones> Store::user(UserId id) {
  return with_reader("reading a user", [&](Connection& conn) -> std::optional<UserWithPhones> {
    auto& st = conn.prepare(std::string("SELECT ") + kUserColumns + " FROM users WHERE id = ?");
    st.bind(1, static_cast<std::int64_t>(id));
    if (!st.executeStep()) return std::nullopt;
    UserWithPhones out{read_user(st), {}};
    auto& m = conn.prepare(
        "SELECT phone_number FROM phone_mappings WHERE user_id = ? ORDER BY phone_number");
    m.bind(1, static_cast<std::int64_t>(id));
    while (m.executeStep()) out.extra_phones.push_back(m.getColumn(0).getString());
    return out;
  });
}

std::vector<UserWithPhones> Store::list_users() {
  return with_reader("listing users", [&](Connection& conn) {
    std::vector<UserWithPhones> out;
    auto& st = conn.prepare(std::string("SELECT ") + kUserColumns + " FROM users ORDER BY id");
    while (st.executeStep()) out.push_back({read_user(st), {}});
    auto& m = conn.prepare(
        "SELECT user_id, phone_number FROM phone_mappings ORDER BY user_id, phone_number");
    std::size_t i = 0;
    while (m.executeStep()) {
      UserId uid = m.getColumn(0).getInt64();
      while (i < out.size() && out[i].user.id < uid) ++i;
      if (i < out.size() && out[i].user.id == uid) out[i].extra_phones.push_back(m.getColumn(1).getString());
    }
    return out;
  });
}

}  // namespace smsr

// WriteTxn: users and their numbers (every change of a number's owner is journaled), and
// the ranges and settings central sync replaces.
#include "storage/store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <set>

#include <SQLiteCpp/Exception.h>

#include "core/log.hpp"
#include "storage/database.hpp"
#include "storage/rows.hpp"

namespace smsr {

using namespace rows;

void WriteTxn::note_changed(const std::string& e164) {
  auto& st = conn_.prepare("INSERT INTO phone_changes (phone_number, changed_ms) VALUES (?, ?)");
  st.bind(1, e164);
  st.bind(2, static_cast<std::int64_t>(now_));
  st.exec();
  changed_.push_back(e164);
}

std::optional<UserId> WriteTxn::owner_of(const std::string& e164) {
  auto& primary = conn_.prepare("SELECT id FROM users WHERE phone_number = ? ORDER BY id LIMIT 1");
  primary.bind(1, e164);
  if (primary.executeStep()) return primary.getColumn(0).getInt64();
  auto& mapping = conn_.prepare(
      "SELECT user_id FROM phone_mappings WHERE phone_number = ? ORDER BY user_id LIMIT 1");
  mapping.bind(1, e164);
  if (mapping.executeStep()) return mapping.getColumn(0).getInt64();
  return std::nullopt;
}

void WriteTxn::require_unowned(const std::string& e164, std::optional<UserId> except) {
  auto owner = owner_of(e164);
  if (owner && owner != except) {
    throw StoreError(StoreError::Kind::kConflict,
                     "number " + e164 + " already belongs to user " + std::to_string(*owner));
  }
}

std::vector<std::string> WriteTxn::numbers_of(UserId id) {
  std::vector<std::string> out;
  auto& p = conn_.prepare("SELECT phone_number FROM users WHERE id = ? AND phone_number IS NOT NULL");
  p.bind(1, static_cast<std::int64_t>(id));
  if (p.executeStep()) out.push_back(p.getColumn(0).getString());
  auto& m = conn_.prepare("SELECT phone_number FROM phone_mappings WHERE user_id = ?");
  m.bind(1, static_cast<std::int64_t>(id));
  while (m.executeStep()) out.push_back(m.getColumn(0).getString());
  return out;
}

std::optional<User> WriteTxn::find_user(UserId id) {
  auto& st = conn_.prepare(std::string("SELECT ") + kUserColumns + " FROM users WHERE id = ?");
  st.bind(1, static_cast<std::int64_t>(id));
  if (!st.executeStep()) return std::nullopt;
  return read_user(st);
}

User WriteTxn::insert_user(const NewUser& nu) {
  if (nu.phones.empty()) {
    throw StoreError(StoreError::Kind::kInvalid, "a user needs at least one phone number");
  }
  if (nu.id && find_user(*nu.id)) {
    throw StoreError(StoreError::Kind::kConflict, "user " + std::to_string(*nu.id) + " already exists");
  }
  std::set<std::string> seen;
  for (const auto& p : nu.phones) {
    if (!seen.insert(p).second) {
      throw StoreError(StoreError::Kind::kInvalid, "number " + p + " is listed twice");
    }
    require_unowned(p, std::nullopt);
  }
  auto& st = conn_.prepare(
      "INSERT INTO users (id, email, full_name, phone_number, is_active, created_ms, updated_ms) "
      "VALUES (?,?,?,?,?,?,?)");
  bind_optional(st, 1, nu.id);
  st.bind(2, nu.email);
  st.bind(3, nu.full_name);
  st.bind(4, nu.phones.front());
  st.bind(5, nu.active ? 1 : 0);
  st.bind(6, static_cast<std::int64_t>(now_));
  st.bind(7, static_cast<std::int64_t>(now_));
  st.exec();
  UserId id = conn_.db().getLastInsertRowid();
  note_changed(nu.phones.front());
  for (std::size_t i = 1; i < nu.phones.size(); ++i) add_phone(id, nu.phones[i]);
  return User{id, nu.email, nu.full_name, nu.phones.front(), nu.active};
}

void WriteTxn::update_user(const NewUser& nu) {
  if (!nu.id || !find_user(*nu.id)) {
    throw StoreError(StoreError::Kind::kNotFound,
                     "no user with id " + (nu.id ? std::to_string(*nu.id) : std::string("?")));
  }
  UserId id = *nu.id;
  auto& st = conn_.prepare(
      "UPDATE users SET email = ?, full_name = ?, is_active = ?, updated_ms = ? WHERE id = ?");
  st.bind(1, nu.email);
  st.bind(2, nu.full_name);
  st.bind(3, nu.active ? 1 : 0);
  st.bind(4, static_cast<std::int64_t>(now_));
  st.bind(5, static_cast<std::int64_t>(id));
  st.exec();
  // The cached answer for every number of this user carries the user's data: drop them all.
  auto before = numbers_of(id);
  if (!nu.phones.empty()) {
    std::set<std::string> seen;
    for (const auto& p : nu.phones) {
      if (!seen.insert(p).second) {
        throw StoreError(StoreError::Kind::kInvalid, "number " + p + " is listed twice");
      }
      require_unowned(p, id);
    }
    auto& clear = conn_.prepare("DELETE FROM phone_mappings WHERE user_id = ?");
    clear.bind(1, static_cast<std::int64_t>(id));
    clear.exec();
    auto& primary = conn_.prepare("UPDATE users SET phone_number = ? WHERE id = ?");
    primary.bind(1, nu.phones.front());
    primary.bind(2, static_cast<std::int64_t>(id));
    primary.exec();
    for (std::size_t i = 1; i < nu.phones.size(); ++i) add_phone(id, nu.phones[i]);
    note_changed(nu.phones.front());
  }
  for (const auto& p : before) note_changed(p);
}

void WriteTxn::set_user_active(UserId id, bool active) {
  auto& st = conn_.prepare("UPDATE users SET is_active = ?, updated_ms = ? WHERE id = ?");
  st.bind(1, active ? 1 : 0);
  st.bind(2, static_cast<std::int64_t>(now_));
  st.bind(3, static_cast<std::int64_t>(id));
  if (st.exec() == 0) {
    throw StoreError(StoreError::Kind::kNotFound, "no user with id " + std::to_string(id));
  }
  for (const auto& p : numbers_of(id)) note_changed(p);
}

void WriteTxn::delete_user(UserId id) {
  auto numbers = numbers_of(id);
  auto& st = conn_.prepare("DELETE FROM users WHERE id = ?");
  st.bind(1, static_cast<std::int64_t>(id));
  if (st.exec() == 0) {
    throw StoreError(StoreError::Kind::kNotFound, "no user with id " + std::to_string(id));
  }
  for (const auto& p : numbers) note_changed(p);
}

void WriteTxn::add_phone(UserId id, const std::string& e164) {
  if (!find_user(id)) {
    throw StoreError(StoreError::Kind::kNotFound, "no user with id " + std::to_string(id));
  }
  require_unowned(e164, std::nullopt);
  auto& st = conn_.prepare(
      "INSERT INTO phone_mappings (user_id, phone_number, created_ms) VALUES (?,?,?)");
  st.bind(1, static_cast<std::int64_t>(id));
  st.bind(2, e164);
  st.bind(3, static_cast<std::int64_t>(now_));
  st.exec();
  note_changed(e164);
}

void WriteTxn::remove_phone(const std::string& e164) {
  auto& m = conn_.prepare("DELETE FROM phone_mappings WHERE phone_number = ?");
  m.bind(1, e164);
  int removed = m.exec();
  auto& p = conn_.prepare("UPDATE users SET phone_number = NULL, updated_ms = ? WHERE phone_number = ?");
  p.bind(1, static_cast<std::int64_t>(now_));
  p.bind(2, e164);
  removed += p.exec();
  if (removed == 0) {
    throw StoreError(StoreError::Kind::kNotFound, "no user has the number " + e164);
  }
  note_changed(e164);
}


void WriteTxn::replace_user_range(std::int64_t bucket, std::int64_t first_id, std::int64_t count,
                                  const std::vector<SyncedUser>& users, const std::string& digest) {
  const std::int64_t end_id = first_id + count;
  // Every number of the range before and after: their cached owners may all be stale.
  auto& old_numbers = conn_.prepare(
      "SELECT phone_number FROM users WHERE id >= ? AND id < ? AND phone_number IS NOT NULL "
      "UNION SELECT phone_number FROM phone_mappings WHERE user_id >= ? AND user_id < ?");
  old_numbers.bind(1, first_id);
  old_numbers.bind(2, end_id);
  old_numbers.bind(3, first_id);
  old_numbers.bind(4, end_id);
  std::vector<std::string> touched;
  while (old_numbers.executeStep()) touched.push_back(old_numbers.getColumn(0).getString());

  auto& clear_mappings = conn_.prepare("DELETE FROM phone_mappings WHERE user_id >= ? AND user_id < ?");
  clear_mappings.bind(1, first_id);
  clear_mappings.bind(2, end_id);
  clear_mappings.exec();
  auto& clear_users = conn_.prepare("DELETE FROM users WHERE id >= ? AND id < ?");
  clear_users.bind(1, first_id);
  clear_users.bind(2, end_id);
  clear_users.exec();

  auto& insert_user = conn_.prepare(
      "INSERT INTO users (id, email, full_name, phone_number, is_active, created_ms, updated_ms) "
      "VALUES (?,?,?,?,?,?,?)");
  // Central data may list a number twice for one user once normalised: keep one.
  auto& insert_mapping = conn_.prepare(
      "INSERT OR IGNORE INTO phone_mappings (user_id, phone_number, created_ms) VALUES (?,?,?)");
  for (const auto& su : users) {
    insert_user.reset();
    insert_user.bind(1, su.user.id);
    insert_user.bind(2, su.user.email);
    insert_user.bind(3, su.user.full_name);
    if (su.user.phone_number.empty()) insert_user.bind(4);
    else insert_user.bind(4, su.user.phone_number);
    insert_user.bind(5, su.user.active ? 1 : 0);
    insert_user.bind(6, static_cast<std::int64_t>(now_));
    insert_user.bind(7, static_cast<std::int64_t>(now_));
    insert_user.exec();
    if (!su.user.phone_number.empty()) touched.push_back(su.user.phone_number);
    for (const auto& extra : su.extra_phones) {
      if (extra == su.user.phone_number) continue;
      insert_mapping.reset();
      insert_mapping.bind(1, su.user.id);
      insert_mapping.bind(2, extra);
      insert_mapping.bind(3, static_cast<std::int64_t>(now_));
      insert_mapping.exec();
      touched.push_back(extra);
    }
  }
  std::sort(touched.begin(), touched.end());
  touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
  for (const auto& n : touched) note_changed(n);

  if (digest.empty()) {
    auto& forget = conn_.prepare("DELETE FROM sync_buckets WHERE bucket = ?");
    forget.bind(1, bucket);
    forget.exec();
  } else {
    auto& remember = conn_.prepare("INSERT OR REPLACE INTO sync_buckets (bucket, digest) VALUES (?, ?)");
    remember.bind(1, bucket);
    remember.bind(2, digest);
    remember.exec();
  }
}

void WriteTxn::replace_configs(const std::vector<ConfigRow>& rows) {
  conn_.run("DELETE FROM configs");
  auto& st = conn_.prepare(
      "INSERT OR REPLACE INTO configs (config_key, config_value, is_active, updated_ms) VALUES (?,?,?,?)");
  for (const auto& r : rows) {
    st.reset();
    st.bind(1, r.key);
    st.bind(2, r.value);
    st.bind(3, r.active ? 1 : 0);
    st.bind(4, static_cast<std::int64_t>(now_));
    st.exec();
  }
}

}  // namespace smsr

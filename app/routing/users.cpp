#include "app/routing/users.hpp"

#include <algorithm>

#include "app/routing/settings.hpp"
#include "core/phone.hpp"

namespace smsr {

std::string user_phone_e164(const PhoneNormalizer& normalizer, const std::string& text, const std::string& field) {
  if (auto e164 = normalizer.to_e164(text)) return *e164;
  throw UserEditError(UserEditError::Kind::kInvalid,
                      (field.empty() ? "" : field + ": ") + "\"" + text + "\" is not a valid phone number for region " +
                          normalizer.default_region() + "; write it as +<country code><number>");
}

// With a central database configured, users belong to it: local edits would be undone by
// the next sync and confuse everybody.
void require_local_management(const Config& config) {
  if (config.sync.postgres_url.empty()) return;
  throw UserEditError(UserEditError::Kind::kManagedCentrally,
                      "users are managed in the central database (sync.postgres_url is set); "
                      "change them there, or unset sync.postgres_url to manage users locally");
}

std::string UserService::to_e164(const std::string& text, const std::string& field) const {
  return user_phone_e164(normalizer_, text, field);
}

void UserService::require_local_management() const { smsr::require_local_management(*settings_.current()); }

UserService::UserService(Store& store, const PhoneNormalizer& normalizer, const Settings& settings)
    : store_(store), normalizer_(normalizer), settings_(settings) {}

User UserService::create(const NewUser& user) {
  require_local_management();
  if (user.phones.empty()) {
    throw UserEditError(UserEditError::Kind::kInvalid, "phone_number: required (the user's primary number)");
  }
  return store_.write([&](WriteTxn& txn) { return txn.insert_user(user); });
}

void UserService::update(UserId id, const UserChanges& changes) {
  require_local_management();
  auto current = store_.user(id);
  if (!current) throw UserEditError(UserEditError::Kind::kNotFound, "no user with id " + std::to_string(id));
  NewUser next;
  next.id = id;
  next.email = changes.email.value_or(current->user.email);
  next.full_name = changes.full_name.value_or(current->user.full_name);
  next.active = changes.active.value_or(current->user.active);
  if (changes.primary_phone || changes.extra_phones) {
    const std::string primary = changes.primary_phone.value_or(current->user.phone_number);
    if (primary.empty()) {
      throw UserEditError(UserEditError::Kind::kInvalid, "phone_number: the user has no primary number; give one");
    }
    next.phones.push_back(primary);
    const auto& extras = changes.extra_phones ? *changes.extra_phones : current->extra_phones;
    next.phones.insert(next.phones.end(), extras.begin(), extras.end());
  }
  store_.write([&](WriteTxn& txn) { txn.update_user(next); });
}

void UserService::set_active(UserId id, bool active) {
  require_local_management();
  store_.write([&](WriteTxn& txn) { txn.set_user_active(id, active); });
}

void UserService::remove(UserId id) {
  require_local_management();
  store_.write([&](WriteTxn& txn) { txn.delete_user(id); });
}

void UserService::add_phone(UserId id, const std::string& e164) {
  require_local_management();
  store_.write([&](WriteTxn& txn) { txn.add_phone(id, e164); });
}

void UserService::remove_phone(UserId id, const std::string& e164) {
  require_local_management();
  auto user = store_.user(id);
  if (!user) throw UserEditError(UserEditError::Kind::kNotFound, "no user with id " + std::to_string(id));
  const auto& extras = user->extra_phones;
  if (user->user.phone_number != e164 && std::find(extras.begin(), extras.end(), e164) == extras.end()) {
    throw UserEditError(UserEditError::Kind::kNotFound, "user " + std::to_string(id) + " has no number " + e164);
  }
  // Removing a number removes every claim on it; refuse when that would touch another
  // user's claim (an ambiguous or shadowed number) rather than guess.
  Resolution r = store_.resolve(e164);
  if (r.kind == Resolution::Kind::kAmbiguous || (r.kind == Resolution::Kind::kUser && r.user->id != id)) {
    throw UserEditError(UserEditError::Kind::kConflict,
                        "number " + e164 + " is also claimed by another user; fix that user's numbers first");
  }
  store_.write([&](WriteTxn& txn) {
    if (txn.owner_of(e164) != id) {
      throw StoreError(StoreError::Kind::kConflict, "number " + e164 + " changed owner meanwhile; try again");
    }
    txn.remove_phone(e164);
  });
}

void UserService::remove_number(const std::string& e164) {
  require_local_management();
  store_.write([&](WriteTxn& txn) { txn.remove_phone(e164); });
}

}  // namespace smsr

// The rules for editing users, in one place for the admin API and `sms-router users`:
// numbers are normalised with phone.default_region, users are managed in the central
// database while sync is on, and removing a number never touches another user's claim.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/domain.hpp"
#include "storage/store.hpp"

namespace smsr {

class PhoneNormalizer;
class Settings;

// A user edit the rules refuse. Storage failures stay StoreError.
class UserEditError : public std::runtime_error {
 public:
  enum class Kind {
    kInvalid,           // the request is wrong (a number that is not one, a missing field)
    kNotFound,          // no such user, or the user has no such number
    kConflict,          // the number is also claimed by another user
    kManagedCentrally,  // sync.postgres_url is set: users are changed in the central database
  };
  UserEditError(Kind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

// The fields of an update; absent fields keep their values.
struct UserChanges {
  std::optional<std::string> email = std::nullopt;
  std::optional<std::string> full_name = std::nullopt;
  std::optional<bool> active = std::nullopt;
  std::optional<std::string> primary_phone = std::nullopt;              // E.164
  std::optional<std::vector<std::string>> extra_phones = std::nullopt;  // E.164; replaces all extras
};

// The E.164 form of `text`; UserEditError(kInvalid) otherwise, the message naming `field`
// when given.
std::string user_phone_e164(const PhoneNormalizer& normalizer, const std::string& text, const std::string& field = "");

// UserEditError(kManagedCentrally) while sync.postgres_url is set.
void require_local_management(const Config& config);

class UserService {
 public:
  // `settings` tells whether sync is on at the moment of each edit.
  UserService(Store& store, const PhoneNormalizer& normalizer, const Settings& settings);

  // user_phone_e164() with the service's normalizer.
  std::string to_e164(const std::string& text, const std::string& field = "") const;

  // require_local_management() with the configuration in force; every edit below asks it first.
  void require_local_management() const;

  // Each returns once the change is committed and cached owners of its numbers are dropped.
  // `user.phones` are E.164, the first the primary number.
  User create(const NewUser& user);
  void update(UserId id, const UserChanges& changes);
  void set_active(UserId id, bool active);
  void remove(UserId id);
  void add_phone(UserId id, const std::string& e164);
  // Removes one of the user's numbers (primary or extra). kNotFound when the user lacks it;
  // kConflict when another user claims it too (possible only with imported data): removing
  // it would touch their claim.
  void remove_phone(UserId id, const std::string& e164);
  // Removes a number from whoever has it (the CLI names a number, not a user).
  void remove_number(const std::string& e164);

 private:
  Store& store_;
  const PhoneNormalizer& normalizer_;
  const Settings& settings_;
};

}  // namespace smsr

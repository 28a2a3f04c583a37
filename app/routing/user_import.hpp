// `sms-router users import FILE.csv`: CSV rows -> validated users, applied all or nothing.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "core/phone.hpp"
#include "storage/store.hpp"

namespace smsr {

struct ImportRow {
  std::size_t line = 0;
  NewUser user;  // user.phones[0] is the primary number
};

struct ImportProblem {
  std::size_t line = 0;  // 0 for problems with the file as a whole (e.g. the header)
  std::string reason;
};

struct ImportPlan {
  std::vector<ImportRow> rows;
  std::vector<ImportProblem> problems;
};

// Parses and validates CSV text: header with `phone_number` required and only the known
// columns (phone_number, id, email, full_name, is_active, extra_phone_numbers), numbers
// normalised, booleans and ids checked, no number listed twice in the file. Pure.
ImportPlan plan_import(const std::string& csv_text, const PhoneNormalizer& normalizer);

// A row that cannot be applied (its number belongs to another user...): the whole import
// was rolled back.
class ImportRowError : public StoreError {
 public:
  ImportRowError(Kind kind, std::size_t line, const std::string& reason)
      : StoreError(kind, "line " + std::to_string(line) + ": " + reason), line_(line), reason_(reason) {}
  std::size_t line() const { return line_; }
  const std::string& reason() const { return reason_; }

 private:
  std::size_t line_;
  std::string reason_;
};

struct ImportResult {
  std::size_t created = 0;
  std::size_t updated = 0;
  std::size_t unchanged = 0;
};

// Applies a plan with no problems in one write: a row whose id exists, or (without id)
// whose primary number belongs to an existing user, updates that user; other rows create
// users. Any conflict (a number owned by a different user) rolls the whole import back
// and is thrown as ImportRowError (a StoreError) naming the line. `progress(done, total)` is called from the
// writer thread now and then.
ImportResult apply_import(Store& store, const std::vector<ImportRow>& rows,
                          const std::function<void(std::size_t, std::size_t)>& progress);

}  // namespace smsr

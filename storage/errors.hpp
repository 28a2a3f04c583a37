// The storage layer's one error type: SQLite errors are translated here and never leak.
#pragma once

#include <stdexcept>
#include <string>

namespace smsr {

class StoreError : public std::runtime_error {
 public:
  enum class Kind {
    kConflict,     // a uniqueness rule (e.g. the number already belongs to someone)
    kNotFound,     // the user / number does not exist
    kInvalid,      // the request itself is wrong
    kUnavailable,  // disk full, I/O error, database locked too long: try again later
    kCorrupt,      // the file is not a usable sms-router database
  };
  StoreError(Kind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

}  // namespace smsr

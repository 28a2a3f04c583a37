// What the store's tests share: a store on a temp file with a manual clock, and helpers to
// add users and messages, hold the writer, and read the file behind the store's back.
#pragma once

#include <catch2/catch.hpp>

#include <SQLiteCpp/Database.h>

#include <chrono>
#include <exception>
#include <functional>
#include <latch>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "storage/store.hpp"
#include "tests/unit/eventually.hpp"
#include "tests/unit/manual_clock.hpp"
#include "tests/unit/temp_dir.hpp"

namespace smsr::test {

constexpr EpochMs kStart = 1'760'000'000'000;  // an arbitrary instant in 2025

// A temp dir, a clock and a store on a file in that dir.
struct Fixture {
  TempDir dir;
  ManualClock clock{kStart};
  std::string path = dir.file("router.db");
  Store store{path, clock};
};

// Keeps the store's writer busy in a write of its own until release(), so that writes
// queued meanwhile run together in the next batch.
class WriterHold {
 public:
  explicit WriterHold(Store& store)
      : thread_([this, &store] {
          store.write([this](WriteTxn&) {
            running_.count_down();
            release_.wait();
          });
        }) {
    running_.wait();
  }
  ~WriterHold() { release(); }
  void release() {
    if (!thread_.joinable()) return;
    release_.count_down();
    thread_.join();
  }

 private:
  std::latch running_{1};
  std::latch release_{1};
  std::thread thread_;
};

inline NewUser new_user(std::vector<std::string> phones, std::optional<UserId> id = std::nullopt,
                 bool active = true) {
  NewUser u;
  u.id = id;
  u.email = "user-" + phones.front() + "@example.org";
  u.full_name = "User " + phones.front();
  u.phones = std::move(phones);
  u.active = active;
  return u;
}

inline User add_user(Store& store, std::vector<std::string> phones,
              std::optional<UserId> id = std::nullopt, bool active = true) {
  NewUser u = new_user(std::move(phones), id, active);
  return store.write([&](WriteTxn& txn) { return txn.insert_user(u); });
}

// Runs `fn`; returns the StoreError it threw, or nullopt if it threw nothing.
template <class F>
std::optional<StoreError> store_error_of(F&& fn) {
  try {
    fn();
  } catch (const StoreError& e) {
    return e;
  }
  return std::nullopt;
}

// Raw SQL on the file, for states the store's own API refuses to create.
inline void exec_sql(const std::string& path, const std::string& sql) {
  SQLite::Database db(path, SQLite::OPEN_READWRITE, /*busyTimeoutMs=*/5000);
  db.exec(sql);
}

inline std::vector<std::string> journal_after(Store& store, std::int64_t seq) {
  std::vector<std::string> out;
  for (auto& [s, phone] : store.phone_changes_after(seq)) out.push_back(phone);
  return out;
}

// The id of the single user a number resolves to, if any.
inline std::optional<UserId> owner(Store& store, const std::string& phone) {
  Resolution r = store.resolve(phone);
  if (r.kind != Resolution::Kind::kUser || !r.user) return std::nullopt;
  return r.user->id;
}

inline std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

inline InboundRecord inbound(const std::string& sid, const std::string& from,
                      std::optional<UserId> user, Outcome outcome, EpochMs received,
                      const std::string& body = "hello") {
  InboundRecord r;
  r.message_sid = sid;
  r.account_sid = "AC123";
  r.from_number = from;
  r.to_number = "+15005550006";
  r.body = body;
  r.user_id = user;
  r.outcome = outcome;
  r.state = outcome == Outcome::kRouted ? InboundState::kPending : InboundState::kDone;
  r.received_ms = received;
  return r;
}

inline std::int64_t insert(Store& store, const InboundRecord& r) {
  return store.write([&](WriteTxn& txn) { return txn.insert_inbound(r); });
}

struct DeliberateFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A write that inserts an unknown sender's message `sid` and then throws DeliberateFailure:
// none of it may be stored.
inline std::function<void(WriteTxn&)> insert_then_fail(const std::string& sid) {
  return [sid](WriteTxn& txn) {
    txn.insert_inbound(inbound(sid, "+15145550001", std::nullopt, Outcome::kUnknown, kStart));
    throw DeliberateFailure("no");
  };
}

// Checks that `error` carries the DeliberateFailure of insert_then_fail.
inline void check_deliberate_failure(std::exception_ptr error) {
  REQUIRE(error != nullptr);
  CHECK_THROWS_AS(std::rethrow_exception(error), DeliberateFailure);
}

}  // namespace smsr::test

// SyncEngine::run_once() alone: a central database kept in memory behind the
// CentralDatabase interface, a real store on a temp file, and a clock that moves only when
// told to. (tests/integration/sync_test.cpp runs the same against a real PostgreSQL.)
#include "sync/sync_engine.hpp"

#include <map>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/phone.hpp"
#include "tests/unit/manual_clock.hpp"
#include "tests/unit/temp_dir.hpp"

using namespace smsr;
using smsr::test::ManualClock;
using smsr::test::TempDir;

namespace {

constexpr EpochMs kStart = 1'767'225'600'000;  // 2026-01-01
constexpr EpochMs kDayMs = 24 * 3600 * 1000;

// The organisation's database, in memory. Shared by the connections the engine makes.
struct CentralState {
  std::map<std::int64_t, CentralUser> users;
  std::vector<CentralMapping> mappings;
  std::vector<ConfigRow> configs;
  std::map<std::pair<std::string, std::string>, std::map<std::int64_t, UsageLog>> logs;  // (edge, epoch) -> id -> log
  std::vector<std::int64_t> fetched;  // every bucket fetched, in order
  int connections = 0;
  bool unreachable = false;
  bool lose_next_push_answer = false;  // commit the push, then fail as if the answer was lost
};

class FakeCentral final : public CentralDatabase {
 public:
  explicit FakeCentral(CentralState& state) : state_(state) {}

  std::vector<BucketDigest> user_bucket_digests() override {
    check_reachable();
    std::map<std::int64_t, std::string> digests;
    for (const auto& [id, u] : state_.users) {
      digests[id / kUserBucketSize] += std::to_string(id) + "|" + u.email + "|" + u.full_name + "|" +
                                       u.phone_number + "|" + (u.is_active.value_or(false) ? "1" : "0") + ";";
    }
    for (const auto& m : state_.mappings) {
      digests[m.user_id / kUserBucketSize] += "m" + std::to_string(m.user_id) + "|" + m.phone_number + ";";
    }
    std::vector<BucketDigest> out;
    for (auto& [bucket, digest] : digests) out.push_back({bucket, digest});
    return out;
  }

  std::vector<CentralBucket> fetch_buckets(const std::vector<std::int64_t>& buckets) override {
    check_reachable();
    std::vector<CentralBucket> out;
    for (auto bucket : buckets) {
      state_.fetched.push_back(bucket);
      CentralBucket b;
      for (const auto& [id, u] : state_.users) {
        if (id / kUserBucketSize == bucket) b.users.push_back(u);
      }
      for (const auto& m : state_.mappings) {
        if (m.user_id / kUserBucketSize == bucket) b.mappings.push_back(m);
      }
      out.push_back(std::move(b));
    }
    return out;
  }

  std::vector<ConfigRow> configs() override {
    check_reachable();
    return state_.configs;
  }

  std::int64_t push_usage_logs(const std::string& edge_id, const std::string& db_epoch,
                               const std::vector<UsageLog>& logs) override {
    check_reachable();
    auto& recorded = state_.logs[{edge_id, db_epoch}];
    for (const auto& log : logs) recorded.emplace(log.id, log);  // a resend is not a second row
    if (state_.lose_next_push_answer) {
      state_.lose_next_push_answer = false;
      throw CentralError("connection lost after COMMIT");
    }
    return recorded_up_to(edge_id, db_epoch);
  }

  std::int64_t recorded_up_to(const std::string& edge_id, const std::string& db_epoch) override {
    check_reachable();
    auto it = state_.logs.find({edge_id, db_epoch});
    return it == state_.logs.end() || it->second.empty() ? 0 : it->second.rbegin()->first;
  }

 private:
  void check_reachable() const {
    if (state_.unreachable) throw CentralError("connection refused");
  }

  CentralState& state_;
};

struct Fixture {
  TempDir dir;
  ManualClock clock{kStart};
  Store store{dir.file("router.db"), clock};
  PhoneNormalizer normalizer{"US"};
  CentralState central;
  SyncEngine engine{store, normalizer,
                    [this]() -> std::unique_ptr<CentralDatabase> {
                      ++central.connections;
                      if (central.unreachable) throw CentralError("connection refused");
                      return std::make_unique<FakeCentral>(central);
                    },
                    "edge-1", /*log_retention_days=*/7, clock};

  void add_central_user(std::int64_t id, const std::string& phone, bool active = true) {
    central.users[id] = CentralUser{id, "u" + std::to_string(id) + "@example.org", "User", phone, active};
  }

  std::optional<UserId> owner(const std::string& e164) {
    Resolution r = store.resolve(e164);
    if (r.kind != Resolution::Kind::kUser) return std::nullopt;
    return r.user->id;
  }

  void add_usage_logs(int count) {
    store.write([&](WriteTxn& txn) {
      for (int i = 0; i < count; ++i) {
        UsageLog log;
        log.phone_number = "+15145550101";
        log.direction = "inbound";
        log.content = "message " + std::to_string(i);
        txn.insert_usage_log(log);
      }
    });
  }

  std::size_t central_log_rows() const {
    std::size_t n = 0;
    for (const auto& [stream, logs] : central.logs) n += logs.size();
    return n;
  }
};

}  // namespace

TEST_CASE("a first round pulls every central user with numbers normalised; a round with nothing changed fetches nothing") {
  Fixture f;
  f.add_central_user(1, "(514) 555-0101");
  f.add_central_user(2000, "+1 514 555 0102");
  f.central.mappings.push_back({1, "514.555.0111"});
  f.central.mappings.push_back({1, "not a number"});

  SyncReport first = f.engine.run_once();
  REQUIRE(first.ok);
  CHECK(first.buckets_compared == 2);
  CHECK(first.buckets_changed == 2);
  CHECK(first.users_applied == 2);
  CHECK(first.numbers_invalid == 1);
  CHECK(f.owner("+15145550101") == UserId{1});
  CHECK(f.owner("+15145550111") == UserId{1});
  CHECK(f.owner("+15145550102") == UserId{2000});

  f.central.fetched.clear();
  SyncReport second = f.engine.run_once();
  REQUIRE(second.ok);
  CHECK(second.buckets_changed == 0);
  CHECK(second.writes == 0);
  CHECK(f.central.fetched.empty());
  CHECK(f.central.connections == 1);  // the connection is kept between rounds
}

TEST_CASE("a change centrally is fetched by its bucket alone, and a user deleted centrally disappears locally") {
  Fixture f;
  f.add_central_user(1, "+15145550101");
  f.add_central_user(2000, "+15145550102");
  REQUIRE(f.engine.run_once().ok);

  f.central.fetched.clear();
  f.central.users[1].phone_number = "+15145550109";  // a number moves within bucket 0
  f.central.users.erase(2000);                        // bucket 1 is gone centrally
  SyncReport round = f.engine.run_once();
  REQUIRE(round.ok);
  CHECK(round.buckets_changed == 2);
  CHECK(f.central.fetched == std::vector<std::int64_t>{0});  // the empty bucket needs no fetch
  CHECK(f.owner("+15145550109") == UserId{1});
  CHECK_FALSE(f.owner("+15145550101"));
  CHECK_FALSE(f.owner("+15145550102"));
  CHECK_FALSE(f.store.user(2000));
}

TEST_CASE("central configs are copied when they change and only then") {
  Fixture f;
  f.central.configs = {{"spam_threshold", "0.5", true}};
  SyncReport first = f.engine.run_once();
  REQUIRE(first.ok);
  CHECK(first.configs_changed);
  REQUIRE(f.store.configs().size() == 1);
  CHECK(f.store.configs()[0].value == "0.5");
  CHECK_FALSE(f.engine.run_once().configs_changed);
  f.central.configs[0].active = false;
  CHECK(f.engine.run_once().configs_changed);
  CHECK_FALSE(f.store.configs()[0].active);
}

TEST_CASE("usage logs reach the central database exactly once, also when the answer to a push is lost") {
  Fixture f;
  f.add_usage_logs(3);
  f.central.lose_next_push_answer = true;
  SyncReport lost = f.engine.run_once();
  CHECK_FALSE(lost.ok);
  CHECK(f.central_log_rows() == 3);  // committed centrally...
  CHECK(f.store.count_unpushed_usage_logs() == 3);  // ...but not marked locally

  f.add_usage_logs(2);
  SyncReport next = f.engine.run_once();
  REQUIRE(next.ok);
  CHECK(f.central.connections == 2);  // the failed round dropped its connection
  CHECK(f.central_log_rows() == 5);   // the three again were no new rows
  CHECK(next.logs_pushed == 5);
  CHECK(f.store.count_unpushed_usage_logs() == 0);
  CHECK(f.engine.run_once().logs_pushed == 0);
}

TEST_CASE("an unreachable central database fails the round without touching local data, and the next round reconnects") {
  Fixture f;
  f.add_central_user(1, "+15145550101");
  REQUIRE(f.engine.run_once().ok);
  f.add_usage_logs(1);

  f.central.unreachable = true;
  f.central.users.erase(1);
  SyncReport failed = f.engine.run_once();
  CHECK_FALSE(failed.ok);
  CHECK(failed.error == "connection refused");
  CHECK(f.owner("+15145550101") == UserId{1});  // routing keeps its local data
  CHECK(f.store.count_unpushed_usage_logs() == 1);

  f.central.unreachable = false;
  SyncReport recovered = f.engine.run_once();
  REQUIRE(recovered.ok);
  CHECK(f.central.connections == 2);
  CHECK_FALSE(f.owner("+15145550101"));
  CHECK(f.store.count_unpushed_usage_logs() == 0);
}

TEST_CASE("pushed usage logs are deleted locally once older than sync.log_retention_days") {
  Fixture f;
  f.add_usage_logs(2);
  SyncReport first = f.engine.run_once();
  REQUIRE(first.ok);
  CHECK(first.logs_pushed == 2);
  CHECK(first.logs_pruned == 0);  // pushed, but new

  f.clock.advance(std::chrono::milliseconds(8 * kDayMs));
  f.add_usage_logs(1);
  SyncReport later = f.engine.run_once();
  REQUIRE(later.ok);
  CHECK(later.logs_pushed == 1);
  CHECK(later.logs_pruned == 2);  // the two of eight days ago; the new one stays
  auto left = f.store.usage_logs(std::nullopt, 0, 100);
  REQUIRE(left.size() == 1);
  CHECK(left[0].created_ms == kStart + 8 * kDayMs);
  CHECK(f.central_log_rows() == 3);  // the central copy keeps everything
}

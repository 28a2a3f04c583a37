#include <sys/socket.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
#include <pqxx/pqxx>
#pragma GCC diagnostic pop

#include <nlohmann/json.hpp>

#include "core/domain.hpp"
#include "sync/central.hpp"
#include "util/time_format.hpp"

namespace smsr {
namespace {

constexpr std::size_t kContentChars = 1000;  // message_content holds the first 1000 characters

// Shuts the connection's socket down if a round trip outlives its deadline: a frozen
// server answers neither queries nor cancel requests, and libpq would wait forever.
class Watchdog {
 public:
  Watchdog(int socket, std::chrono::seconds deadline)
      : thread_([this, socket, deadline] {
          std::unique_lock lock(mu_);
          if (!cv_.wait_for(lock, deadline, [&] { return done_; })) {
            fired_ = true;
            ::shutdown(socket, SHUT_RDWR);
          }
        }) {}
  ~Watchdog() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  bool fired() const {
    std::lock_guard lock(mu_);
    return fired_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  bool fired_ = false;
  std::thread thread_;
};

std::string with_parameter(const std::string& url, const std::string& key, const std::string& value) {
  bool uri = url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
  if (!uri) return url + " " + key + "=" + value;
  return url + (url.find('?') == std::string::npos ? "?" : "&") + key + "=" + value;
}

// The first `n` characters of UTF-8 text, never cutting a character.
std::string utf8_prefix(const std::string& text, std::size_t n, std::size_t& total_chars) {
  std::size_t chars = 0, cut = text.size();
  for (std::size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      if (chars == n) cut = std::min(cut, i);
      ++chars;
    }
  }
  total_chars = chars;
  return text.substr(0, cut);
}

std::string iso_timestamp(EpochMs ms) {
  std::string iso = format_iso8601(ms);  // 2026-11-24T10:15:30.123Z
  iso[10] = ' ';
  iso.pop_back();
  return iso;
}

class PostgresCentral final : public CentralDatabase {
 public:
  explicit PostgresCentral(const CentralOptions& options) : options_(options) { connect(); }

  std::vector<BucketDigest> user_bucket_digests() override {
    return guarded("comparing users", [&] {
      pqxx::read_transaction t(*conn_);
      // Per bucket: the row count and the sum of 64-bit row hashes (PostgreSQL's own
      // hashtextextended). Order-independent, so it aggregates in one pass with no sort and
      // no spill to disk.
      const std::string bucket = std::to_string(kUserBucketSize);
      auto rows = t.exec(
          "WITH u AS ("
          "  SELECT id / " + bucket + " AS bucket, count(*) || '.' || sum(hashtextextended(concat_ws('|', id,"
          "         email, coalesce(full_name, ''), coalesce(phone_number, ''), coalesce(is_active::text, 'null')), 0)) AS d"
          "  FROM users GROUP BY 1),"
          " m AS ("
          "  SELECT user_id / " + bucket + " AS bucket, count(*) || '.' || sum(hashtextextended(concat_ws('|',"
          "         user_id, phone_number), 0)) AS d"
          "  FROM user_phone_mappings GROUP BY 1)"
          " SELECT coalesce(u.bucket, m.bucket), coalesce(u.d, '') || ':' || coalesce(m.d, '')"
          " FROM u FULL OUTER JOIN m ON u.bucket = m.bucket ORDER BY 1");
      std::vector<BucketDigest> out;
      out.reserve(rows.size());
      for (const auto& r : rows) out.push_back({r[0].as<std::int64_t>(), r[1].as<std::string>()});
      return out;
    });
  }

  std::vector<CentralBucket> fetch_buckets(const std::vector<std::int64_t>& buckets) override {
    return guarded("fetching users", [&] {
      pqxx::read_transaction t(*conn_);
      std::map<std::int64_t, CentralBucket> by_bucket;
      for (auto b : buckets) by_bucket[b];
      auto add_users = [&](const pqxx::result& rows) {
        for (const auto& r : rows) {
          CentralUser u;
          u.id = r[0].as<std::int64_t>();
          u.email = r[1].is_null() ? "" : r[1].as<std::string>();
          u.full_name = r[2].is_null() ? "" : r[2].as<std::string>();
          u.phone_number = r[3].is_null() ? "" : r[3].as<std::string>();
          if (!r[4].is_null()) u.is_active = r[4].as<bool>();
          auto it = by_bucket.find(u.id / kUserBucketSize);
          if (it != by_bucket.end()) it->second.users.push_back(std::move(u));
        }
      };
      auto add_mappings = [&](const pqxx::result& rows) {
        for (const auto& r : rows) {
          CentralMapping m{r[0].as<std::int64_t>(), r[1].as<std::string>()};
          auto it = by_bucket.find(m.user_id / kUserBucketSize);
          if (it != by_bucket.end()) it->second.mappings.push_back(std::move(m));
        }
      };
      const std::string user_cols = "SELECT id, email, full_name, phone_number, is_active FROM users";
      const std::string map_cols = "SELECT user_id, phone_number FROM user_phone_mappings";
      if (buckets.size() > 64) {
        // Many buckets (a cold start): two scans beat one range query per bucket.
        add_users(t.exec(user_cols + " ORDER BY id"));
        add_mappings(t.exec(map_cols + " ORDER BY user_id, id"));
      } else {
        for (auto b : buckets) {
          auto lo = b * kUserBucketSize, hi = lo + kUserBucketSize;
          add_users(t.exec_params(user_cols + " WHERE id >= $1 AND id < $2 ORDER BY id", lo, hi));
          add_mappings(t.exec_params(map_cols + " WHERE user_id >= $1 AND user_id < $2 ORDER BY user_id, id", lo, hi));
        }
      }
      std::vector<CentralBucket> out;
      for (auto b : buckets) out.push_back(std::move(by_bucket[b]));
      return out;
    });
  }

  std::vector<ConfigRow> configs() override {
    return guarded("reading sms_router_configs", [&] {
      pqxx::read_transaction t(*conn_);
      std::vector<ConfigRow> out;
      for (const auto& r : t.exec("SELECT config_key, config_value, coalesce(is_active, true) FROM sms_router_configs")) {
        out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<bool>()});
      }
      return out;
    });
  }

  std::int64_t recorded_up_to(const std::string& edge_id, const std::string& db_epoch) override {
    return guarded("reading this edge's push state", [&] {
      pqxx::read_transaction t(*conn_);
      auto rows = t.exec_params(
          "SELECT last_local_id FROM sms_router_edge_state WHERE edge_id = $1 AND db_epoch = $2", edge_id, db_epoch);
      return rows.empty() ? std::int64_t{0} : rows[0][0].as<std::int64_t>();
    });
  }

  std::int64_t push_usage_logs(const std::string& edge_id, const std::string& db_epoch,
                               const std::vector<UsageLog>& logs) override {
    return guarded("pushing usage logs", [&] {
      pqxx::work t(*conn_);
      t.exec_params(
          "INSERT INTO sms_router_edge_state (edge_id, db_epoch) VALUES ($1, $2) ON CONFLICT DO NOTHING",
          edge_id, db_epoch);
      // The row lock orders concurrent pushes of the same edge; what it says decides what
      // was already recorded, so a resend after a lost answer inserts nothing twice.
      auto last = t.exec_params(
                       "SELECT last_local_id FROM sms_router_edge_state WHERE edge_id = $1 AND db_epoch = $2 "
                       "FOR UPDATE",
                       edge_id, db_epoch)[0][0]
                      .as<std::int64_t>();
      std::string values;
      std::int64_t highest = last;
      for (const auto& log : logs) {
        if (log.id <= last) continue;
        if (!values.empty()) values += ",";
        values += row_values(t, edge_id, db_epoch, log);
        highest = std::max(highest, log.id);
      }
      if (!values.empty()) {
        // user_id: NULL if the user was deleted centrally meanwhile (the column has a FK).
        t.exec(
            "INSERT INTO sms_usage_logs (user_id, phone_number, message_direction, message_length,"
            " message_content, success, processing_time_ms, error_message, sms_metadata, created_at,"
            " twilio_message_sid, final_status)"
            " SELECT (SELECT u.id FROM users u WHERE u.id = v.user_id::int), v.phone_number,"
            " v.direction, v.length::int, v.content, v.success::boolean, v.ms::int, v.error,"
            " v.metadata::json, v.created_at::timestamp, v.sid, v.status"
            " FROM (VALUES " + values + ") AS v(user_id, phone_number, direction, length, content, success,"
            " ms, error, metadata, created_at, sid, status)");
        t.exec_params(
            "UPDATE sms_router_edge_state SET last_local_id = $3, updated_at = now() "
            "WHERE edge_id = $1 AND db_epoch = $2",
            edge_id, db_epoch, highest);
      }
      t.commit();
      return highest;
    });
  }

 private:
  static std::string first_line(const std::string& text) {
    auto nl = text.find('\n');
    return nl == std::string::npos ? text : text.substr(0, nl);
  }

  // (Re)connects; a connection that failed once is never reused.
  void connect() {
    std::string url = with_parameter(options_.url, "connect_timeout", std::to_string(options_.connect_timeout.count()));
    url = with_parameter(url, "application_name", "sms-router");
    try {
      conn_ = std::make_unique<pqxx::connection>(url);  // bounded by connect_timeout
      Watchdog watchdog(conn_->sock(), options_.deadline);
      pqxx::nontransaction n(*conn_);
      n.exec("SET statement_timeout = " + std::to_string(options_.statement_timeout.count() * 1000));
      n.exec(
          "CREATE TABLE IF NOT EXISTS sms_router_edge_state ("
          " edge_id text NOT NULL, db_epoch text NOT NULL,"
          " last_local_id bigint NOT NULL DEFAULT 0,"
          " updated_at timestamp NOT NULL DEFAULT now(),"
          " PRIMARY KEY (edge_id, db_epoch))");
    } catch (const std::exception& e) {
      conn_.reset();
      throw CentralError("cannot connect to the central database " + redact_url(options_.url) + ": " +
                         first_line(e.what()));
    }
  }

  template <class F>
  auto guarded(const char* what, F&& fn) -> decltype(fn()) {
    if (!conn_) connect();
    Watchdog watchdog(conn_->sock(), options_.deadline);
    try {
      return fn();
    } catch (const pqxx::in_doubt_error& e) {
      conn_.reset();
      throw CentralError(std::string(what) + ": commit outcome unknown (" + first_line(e.what()) + ")");
    } catch (const std::exception& e) {
      bool timed_out = watchdog.fired();
      conn_.reset();  // a failed connection is not reused; the next round reconnects
      throw CentralError(std::string(what) + (timed_out ? ": no answer within the deadline" : ": " + first_line(e.what())));
    }
  }

  static std::string row_values(pqxx::work& t, const std::string& edge_id, const std::string& db_epoch,
                                const UsageLog& log) {
    // Built with append: GCC 12 reports a false -Wrestrict inside pqxx's own quote().
    auto q = [&](const std::string& v) {
      std::string out;
      out.reserve(v.size() + 2);
      out.append(1, '\'').append(t.esc(v)).append(1, '\'');
      return out;
    };
    auto q_or_null = [&](const std::string& v) { return v.empty() ? std::string("NULL") : t.quote(v); };
    std::size_t chars = 0;
    std::string content = utf8_prefix(log.content, kContentChars, chars);
    auto meta = nlohmann::json::parse(log.metadata_json, nullptr, false);
    if (!meta.is_object()) meta = nlohmann::json::object();
    meta["edge_id"] = edge_id;
    meta["db_epoch"] = db_epoch;
    meta["local_id"] = log.id;
    std::string row = "(";
    row += log.user_id ? q(std::to_string(*log.user_id)) : "NULL";
    row += "," + q(log.phone_number.substr(0, 20));
    row += "," + q(log.direction);
    row += "," + q(std::to_string(chars));
    row += "," + q(content);
    row += "," + q(log.success ? "true" : "false");
    row += "," + (log.processing_time_ms ? q(std::to_string(*log.processing_time_ms)) : std::string("NULL"));
    row += "," + q_or_null(log.error_message);
    row += "," + q(meta.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    row += "," + q(iso_timestamp(log.created_ms));
    row += "," + q_or_null(log.twilio_message_sid.substr(0, 50));
    row += "," + q(log.final_status);
    return row + ")";
  }

  const CentralOptions options_;
  std::unique_ptr<pqxx::connection> conn_;
};

}  // namespace

std::string redact_url(const std::string& url) {
  // URI form: hide what follows "user:" up to '@'.
  auto scheme = url.find("://");
  if (scheme != std::string::npos) {
    auto at = url.find('@', scheme);
    auto colon = url.find(':', scheme + 3);
    if (at != std::string::npos && colon != std::string::npos && colon < at) {
      return url.substr(0, colon + 1) + "***" + url.substr(at);
    }
    return url;
  }
  // Keyword form: hide password=...
  auto pos = url.find("password=");
  if (pos == std::string::npos) return url;
  auto end = url.find(' ', pos);
  return url.substr(0, pos) + "password=***" + (end == std::string::npos ? "" : url.substr(end));
}

std::string url_password(const std::string& url) {
  auto scheme = url.find("://");
  if (scheme != std::string::npos) {
    auto at = url.find('@', scheme);
    auto colon = url.find(':', scheme + 3);
    if (at != std::string::npos && colon != std::string::npos && colon < at) return url.substr(colon + 1, at - colon - 1);
    return "";
  }
  auto pos = url.find("password=");
  if (pos == std::string::npos) return "";
  auto end = url.find(' ', pos);
  return url.substr(pos + 9, end == std::string::npos ? std::string::npos : end - pos - 9);
}

CentralOptions central_options_for(const std::string& url, std::chrono::seconds interval) {
  CentralOptions o;
  o.url = url;
  o.deadline = std::clamp<std::chrono::seconds>(2 * interval, std::chrono::seconds(10), std::chrono::seconds(60));
  o.statement_timeout = o.deadline - std::chrono::seconds(2);  // the server gives up first when it can
  o.connect_timeout = std::chrono::seconds(5);
  return o;
}

std::unique_ptr<CentralDatabase> connect_central(const CentralOptions& options) {
  return std::make_unique<PostgresCentral>(options);
}

}  // namespace smsr

// The organisation's central PostgreSQL, as the sync sees it: one interface, so the sync
// step can be tested against a real cluster and its logic read without SQL in the way.
// The router never alters the organisation's tables; it keeps its own bookkeeping in
// `sms_router_edge_state`, created on first connect.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "storage/store.hpp"

namespace smsr {

// The central database is unreachable, too slow, or refused what we sent. what() is one
// line for logs; it never contains the connection password.
class CentralError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Users are compared in buckets of consecutive ids.
constexpr std::int64_t kUserBucketSize = 1024;

struct BucketDigest {
  std::int64_t bucket = 0;
  std::string digest;  // over the columns the router uses, of users and their mappings
};

struct CentralUser {
  std::int64_t id = 0;
  std::string email;
  std::string full_name;
  std::string phone_number;  // as stored centrally: often not E.164
  std::optional<bool> is_active;
};

struct CentralMapping {
  std::int64_t user_id = 0;
  std::string phone_number;  // as stored centrally
};

struct CentralBucket {
  std::vector<CentralUser> users;
  std::vector<CentralMapping> mappings;
};

class CentralDatabase {
 public:
  virtual ~CentralDatabase() = default;

  // One scan of users and user_phone_mappings, grouped by bucket.
  virtual std::vector<BucketDigest> user_bucket_digests() = 0;
  // The rows of the given buckets (users and their mappings).
  virtual std::vector<CentralBucket> fetch_buckets(const std::vector<std::int64_t>& buckets) = 0;
  virtual std::vector<ConfigRow> configs() = 0;
  // Inserts the logs not yet recorded for (edge_id, db_epoch) into sms_usage_logs, in one
  // transaction with the edge's bookkeeping row, and returns the highest local id now
  // recorded centrally (which may be higher than any id sent, after a lost answer).
  virtual std::int64_t push_usage_logs(const std::string& edge_id, const std::string& db_epoch,
                                       const std::vector<UsageLog>& logs) = 0;
  // The highest local id recorded for (edge_id, db_epoch); 0 if none.
  virtual std::int64_t recorded_up_to(const std::string& edge_id, const std::string& db_epoch) = 0;
};

struct CentralOptions {
  std::string url;
  std::chrono::seconds connect_timeout{5};
  std::chrono::seconds statement_timeout{30};
  // Client-side bound on any one round trip: a frozen server cannot hang the sync thread.
  std::chrono::seconds deadline{45};
};

// Deadlines for a sync running every `interval`: a round trip may take two intervals,
// but never less than 10 s nor more than 60 s.
CentralOptions central_options_for(const std::string& url, std::chrono::seconds interval);

// Connects (and creates the router's own bookkeeping table if missing). Throws CentralError.
std::unique_ptr<CentralDatabase> connect_central(const CentralOptions& options);

// "postgresql://user:secret@host/db" -> "postgresql://user:***@host/db", for logs.
std::string redact_url(const std::string& url);

// The password inside a connection URL ("" if none), so logs can scrub it on its own.
std::string url_password(const std::string& url);

}  // namespace smsr

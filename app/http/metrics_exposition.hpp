// GET /sms-router/metrics: the service's registry (app/routing/metrics.hpp) rendered with the
// values read from other components at scrape time (text exposition format 0.0.4), and the
// webhook's observation, which names refusals after their HTTP status.
//
// Nothing here holds a secret, a phone number or a message body, so GET /sms-router/metrics
// needs no authentication (like /health).
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "app/http/edge.hpp"
#include "app/routing/metrics.hpp"
#include "core/domain.hpp"

namespace smsr {

class Store;
class PhoneDirectory;
class Dispatcher;
class Sender;
class CentralSync;

// Values owned by other components, read when /metrics is scraped.
struct MetricsReadings {
  std::uint64_t cache_hits = 0;
  std::uint64_t cache_misses = 0;
  std::uint64_t cache_entries = 0;
  std::uint64_t agent_queue = 0;
  std::uint64_t outbound_queue = 0;
  std::uint64_t db_writes = 0;
  std::uint64_t db_commits = 0;
  // From the database; absent when it could not be read (the rest still renders).
  std::optional<std::int64_t> ambiguous_numbers;
  std::optional<std::int64_t> usage_logs_unpushed;
  // Seconds the oldest waiting message has waited (0 when none), per queue.
  std::optional<double> oldest_agent_wait_s;
  std::optional<double> oldest_outbound_wait_s;
  // The sync loop's counts; zero while sync is off.
  std::uint64_t sync_runs = 0;
  std::uint64_t sync_failures = 0;
  EpochMs sync_last_success_ms = 0;  // 0 = never
  // The HTTP edge: connections, refusals, deadlines, the certificate.
  EdgeReadings edge;
};

// The ambiguous-number count for metrics, read from the database at most once per
// `max_age` (the query scans every user and mapping; scrapes come every few seconds, and
// the count changes only with user data). Thread-safe.
class AmbiguousNumbersGauge {
 public:
  explicit AmbiguousNumbersGauge(std::chrono::seconds max_age = std::chrono::seconds(60)) : max_age_(max_age) {}
  std::int64_t read(Store& store);

 private:
  const std::chrono::seconds max_age_;
  std::mutex mu_;
  std::optional<std::chrono::steady_clock::time_point> read_at_;  // guarded by mu_
  std::int64_t value_ = 0;                                       // guarded by mu_
};

inline constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

// Reads the values other components own. A database that cannot be read leaves the
// database values out (and is logged); the in-memory values are always there.
// usage_logs_unpushed is only read with sync on (`central_sync` not null): standalone,
// nothing is ever pushed.
MetricsReadings read_metrics(Store& store, const PhoneDirectory& directory, const Dispatcher& dispatcher,
                             const Sender& sender, const CentralSync* central_sync, AmbiguousNumbersGauge& ambiguous);

// The whole exposition text.
std::string render_metrics(const Metrics& metrics, const MetricsReadings& readings);

// Times one SMS webhook and counts its outcome once, when it is answered: the outcome given
// to set_outcome(), else one named after the answer's HTTP status (403 rejected_signature,
// 413 too_large, other 4xx bad_request, else unavailable). One never answered (destroyed
// unfinished, e.g. by an exception) counts as unavailable. Thread-safe to hand on.
class WebhookObservation {
 public:
  explicit WebhookObservation(Metrics& metrics);
  ~WebhookObservation();
  WebhookObservation(const WebhookObservation&) = delete;
  WebhookObservation& operator=(const WebhookObservation&) = delete;

  void set_outcome(std::string outcome) { outcome_ = std::move(outcome); }
  void finish(int http_status);

  // The outcome of a webhook refused with `http_status` before any outcome was decided.
  static std::string_view outcome_of_status(int http_status);

 private:
  Metrics& metrics_;
  std::string outcome_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace smsr

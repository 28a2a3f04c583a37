// The service's Prometheus metrics: a tiny registry of counters and fixed-bucket histograms
// updated lock-free on hot paths, and one function that renders them with the values read
// from other components at scrape time (text exposition format 0.0.4).
//
// Nothing here holds a secret, a phone number or a message body, so GET /sms-router/metrics
// needs no authentication (like /health).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/domain.hpp"

namespace smsr {

class Agent;
class TwilioApi;
class Store;
class PhoneDirectory;
class Dispatcher;
class Sender;

// A monotonically increasing count.
class Counter {
 public:
  void inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// Observations counted into fixed buckets (upper bounds inclusive, as Prometheus's `le`).
class Histogram {
 public:
  // `upper_bounds` ascending; +Inf is implicit.
  explicit Histogram(std::vector<double> upper_bounds);

  // Counts `value` in the first bucket whose bound is >= value. NaN is ignored.
  void observe(double value);

  struct Snapshot {
    std::vector<double> upper_bounds;
    std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf (== count)
    double sum = 0;
    std::uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  const std::vector<double> upper_bounds_;                 // constant after construction
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // upper_bounds_.size() + 1, not cumulative
  std::atomic<double> sum_{0};
};

// Webhook outcomes: every SMS webhook is counted once under one of these. The first group
// are InboundService outcomes; the rest are requests refused or not stored.
inline constexpr std::array<std::string_view, 16> kWebhookOutcomes = {
    "routed",       "unknown",   "inactive",  "ambiguous", "opt_out",           "opt_in",
    "help",         "opted_out", "rate_limited", "spam",   "duplicate",         "rejected_signature",
    "bad_request",  "too_large", "unavailable", "other"};

// Counters sharing a name, one per value of a fixed label. Every value is rendered from the
// start (as 0), so rate() works before the first event.
class LabeledCounter {
 public:
  template <std::size_t N>
  explicit LabeledCounter(const std::array<std::string_view, N>& values) : values_(values.begin(), values.end()),
                                                                            counters_(new Counter[N]) {}
  // Counts under `value`; an unlisted value counts under the last one ("other").
  void inc(std::string_view value);
  std::uint64_t value(std::string_view value) const;
  const std::vector<std::string_view>& values() const { return values_; }

 private:
  std::size_t index_of(std::string_view value) const;

  const std::vector<std::string_view> values_;  // constant after construction
  std::unique_ptr<Counter[]> counters_;
};

// What the central sync reports. The sync thread updates it; zero while sync is off.
struct SyncMetrics {
  std::atomic<std::uint64_t> runs{0};
  std::atomic<std::uint64_t> failures{0};
  std::atomic<EpochMs> last_success_ms{0};  // 0 = never

  // One finished round.
  void record_round(bool ok, EpochMs now_ms) {
    runs.fetch_add(1, std::memory_order_relaxed);
    if (ok) {
      last_success_ms.store(now_ms, std::memory_order_relaxed);
    } else {
      failures.fetch_add(1, std::memory_order_relaxed);
    }
  }
};

// The registry: everything the service counts itself. Shared by reference; all members are
// safe to update from any thread.
struct Metrics {
  Metrics();

  LabeledCounter webhooks{kWebhookOutcomes};
  Histogram webhook_duration;  // seconds, 0.001 .. 10
  Counter agent_calls;         // attempts
  Counter agent_failures;      // attempts that produced no answer (timeouts, errors)
  Histogram agent_duration;    // seconds, 0.005 .. 60
  Counter outbound_sent;       // messages Twilio accepted
  Counter outbound_failed;     // attempts Twilio refused or that failed (retried ones too)
  SyncMetrics sync;
};

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
// usage_logs_unpushed is only read with sync on: standalone, nothing is ever pushed.
MetricsReadings read_metrics(Store& store, const PhoneDirectory& directory, const Dispatcher& dispatcher,
                             const Sender& sender, bool sync_enabled, AmbiguousNumbersGauge& ambiguous);

// The whole exposition text.
std::string render_metrics(const Metrics& metrics, const MetricsReadings& readings);

// Times one SMS webhook and counts its outcome when it ends: the outcome given to
// set_outcome(), else one named after the refusal's HTTP status (403 rejected_signature,
// 413 too_large, other 4xx bad_request), else "unavailable" (store failure or exception).
class WebhookObservation {
 public:
  WebhookObservation(Metrics& metrics, const int& http_status);
  ~WebhookObservation();
  WebhookObservation(const WebhookObservation&) = delete;
  WebhookObservation& operator=(const WebhookObservation&) = delete;

  void set_outcome(std::string outcome) { outcome_ = std::move(outcome); }

 private:
  Metrics& metrics_;
  const int& http_status_;
  std::string outcome_;
  int exceptions_at_start_;
  std::chrono::steady_clock::time_point started_;
};

// Decorators that count and time every attempt of the agent and of Twilio's REST API.
std::unique_ptr<Agent> metered_agent(std::unique_ptr<Agent> inner, Metrics& metrics);
std::unique_ptr<TwilioApi> metered_twilio_api(std::unique_ptr<TwilioApi> inner, Metrics& metrics);

}  // namespace smsr

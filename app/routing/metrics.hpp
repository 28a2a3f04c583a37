// What the service counts about itself: the registry that the webhook, the agent and Twilio
// decorators and the sync update, lock-free, from any thread. /metrics renders it
// (app/http/metrics_exposition.hpp).
//
// Nothing here holds a secret, a phone number or a message body.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>

#include "core/domain.hpp"
#include "util/metrics.hpp"

namespace smsr {

class Agent;
class TwilioApi;

// Webhook outcomes: every SMS webhook is counted once under one of these. The first group
// are InboundService outcomes; the rest are requests refused or not stored.
inline constexpr std::array<std::string_view, 16> kWebhookOutcomes = {
    "routed",       "unknown",   "inactive",  "ambiguous", "opt_out",           "opt_in",
    "help",         "opted_out", "rate_limited", "spam",   "duplicate",         "rejected_signature",
    "bad_request",  "too_large", "unavailable", "other"};

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

// Decorators that count and time every attempt of the agent and of Twilio's REST API.
std::unique_ptr<Agent> metered_agent(std::unique_ptr<Agent> inner, Metrics& metrics);
std::unique_ptr<TwilioApi> metered_twilio_api(std::unique_ptr<TwilioApi> inner, Metrics& metrics);

}  // namespace smsr

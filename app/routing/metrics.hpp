// What the service counts about itself: the registry that the webhook and the agent and
// Twilio decorators update, lock-free, from any thread. (Sync rounds are counted by the sync
// loop itself: SyncStatus.) /metrics renders it
// (app/http/metrics_exposition.hpp).
//
// Nothing here holds a secret, a phone number or a message body.
#pragma once

#include <array>
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
};

// Decorators that count and time every attempt of the agent and of Twilio's REST API.
std::unique_ptr<Agent> metered_agent(std::unique_ptr<Agent> inner, Metrics& metrics);
std::unique_ptr<TwilioApi> metered_twilio_api(std::unique_ptr<TwilioApi> inner, Metrics& metrics);

}  // namespace smsr

#include "app/routing/metrics.hpp"

#include <chrono>
#include <vector>

#include "app/agent/agent.hpp"
#include "app/twilio/rest_api.hpp"

namespace smsr {
namespace {

// Webhooks answer within agent.inline_wait_ms (3 s by default); 10 s is far past any answer.
const std::vector<double> kWebhookBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                             0.25,  0.5,    1,     2.5,  5,     10};
// Agent calls run up to agent.timeout_ms (30 s by default).
const std::vector<double> kAgentBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                           1,     2.5,  5,     10,   30,  60};

class MeteredAgent final : public Agent {
 public:
  MeteredAgent(std::unique_ptr<Agent> inner, Metrics& metrics) : inner_(std::move(inner)), metrics_(metrics) {}

  AgentResult call(const AgentRequest& request) override {
    auto started = std::chrono::steady_clock::now();
    metrics_.agent_calls.inc();
    AgentResult result;
    try {
      result = inner_->call(request);
    } catch (...) {
      record(started, false);
      throw;
    }
    record(started, result.kind == AgentResult::Kind::kReply || result.kind == AgentResult::Kind::kNoReply);
    return result;
  }

 private:
  void record(std::chrono::steady_clock::time_point started, bool answered) {
    metrics_.agent_duration.observe(seconds_since(started));
    if (!answered) metrics_.agent_failures.inc();
  }

  std::unique_ptr<Agent> inner_;
  Metrics& metrics_;
};

class MeteredTwilioApi final : public TwilioApi {
 public:
  MeteredTwilioApi(std::unique_ptr<TwilioApi> inner, Metrics& metrics)
      : inner_(std::move(inner)), metrics_(metrics) {}

  SendResult send(const SendRequest& request) override {
    SendResult result;
    try {
      result = inner_->send(request);
    } catch (...) {
      metrics_.outbound_failed.inc();
      throw;
    }
    (result.kind == SendResult::Kind::kAccepted ? metrics_.outbound_sent : metrics_.outbound_failed).inc();
    return result;
  }

 private:
  std::unique_ptr<TwilioApi> inner_;
  Metrics& metrics_;
};

}  // namespace

Metrics::Metrics() : webhook_duration(kWebhookBuckets), agent_duration(kAgentBuckets) {}

std::unique_ptr<Agent> metered_agent(std::unique_ptr<Agent> inner, Metrics& metrics) {
  return std::make_unique<MeteredAgent>(std::move(inner), metrics);
}

std::unique_ptr<TwilioApi> metered_twilio_api(std::unique_ptr<TwilioApi> inner, Metrics& metrics) {
  return std::make_unique<MeteredTwilioApi>(std::move(inner), metrics);
}

}  // namespace smsr

#include "app/http/metrics_exposition.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <SQLiteCpp/Database.h>

#include "app/agent/agent.hpp"
#include "app/twilio/rest_api.hpp"
#include "core/clock.hpp"
#include "storage/store.hpp"
#include "tests/unit/temp_dir.hpp"

using namespace smsr;

namespace {

// Every sample line of the exposition, as name{labels} -> value text.
std::map<std::string, std::string> samples(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto space = line.rfind(' ');
    out[line.substr(0, space)] = line.substr(space + 1);
  }
  return out;
}

class ScriptedAgent final : public Agent {
 public:
  explicit ScriptedAgent(std::vector<AgentResult::Kind> kinds) : kinds_(std::move(kinds)) {}
  AgentResult call(const AgentRequest&) override {
    if (next_ >= kinds_.size()) throw std::runtime_error("no more answers");
    AgentResult r;
    r.kind = kinds_[next_++];
    return r;
  }

 private:
  std::vector<AgentResult::Kind> kinds_;
  std::size_t next_ = 0;
};

class ScriptedTwilio final : public TwilioApi {
 public:
  explicit ScriptedTwilio(std::vector<SendResult::Kind> kinds) : kinds_(std::move(kinds)) {}
  SendResult send(const SendRequest&) override {
    SendResult r;
    r.kind = kinds_.at(next_++);
    return r;
  }

 private:
  std::vector<SendResult::Kind> kinds_;
  std::size_t next_ = 0;
};

}  // namespace

TEST_CASE("a histogram counts a value in the first bucket whose bound is at least the value") {
  Histogram h({0.001, 0.01, 0.1, 1});
  h.observe(0.001);   // on the bound: le is inclusive
  h.observe(0.0011);  // just above: next bucket
  h.observe(0.05);
  h.observe(1);
  h.observe(7.5);     // above every bound: only +Inf
  h.observe(0);
  auto s = h.snapshot();
  REQUIRE(s.upper_bounds == std::vector<double>{0.001, 0.01, 0.1, 1});
  CHECK(s.cumulative == std::vector<std::uint64_t>{2, 3, 4, 5, 6});
  CHECK(s.count == 6);
  CHECK(s.sum == Approx(0.001 + 0.0011 + 0.05 + 1 + 7.5));
}

TEST_CASE("a histogram ignores NaN and starts empty") {
  Histogram h({1, 2});
  auto empty = h.snapshot();
  CHECK(empty.cumulative == std::vector<std::uint64_t>{0, 0, 0});
  CHECK(empty.count == 0);
  h.observe(std::numeric_limits<double>::quiet_NaN());
  CHECK(h.snapshot().count == 0);
  CHECK(h.snapshot().sum == 0);
}

TEST_CASE("a labeled counter counts an unlisted value under the last value") {
  LabeledCounter c(kWebhookOutcomes);
  c.inc("routed");
  c.inc("routed");
  c.inc("something new");
  CHECK(c.value("routed") == 2);
  CHECK(c.value("other") == 1);
  CHECK(c.value("spam") == 0);
}

TEST_CASE("the exposition has HELP and TYPE for every family and every sample line is name{labels} value") {
  Metrics m;
  m.webhooks.inc("routed");
  m.webhook_duration.observe(0.004);
  m.agent_calls.inc(3);
  MetricsReadings r;
  r.cache_hits = 7;
  r.ambiguous_numbers = 2;
  r.usage_logs_unpushed = 0;
  std::string text = render_metrics(m, r);

  // name, optional {label="value",...}, one space, a number (or +Inf / NaN).
  static const std::regex sample(
      R"([a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*",?)*\})? [-+]?([0-9.eE+-]+|Inf|NaN))");
  static const std::regex help(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) \S.*)");
  static const std::regex type(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram))");
  std::istringstream in(text);
  std::string line;
  std::vector<std::string> families;
  std::smatch match;
  while (std::getline(in, line)) {
    INFO(line);
    if (line.rfind("# HELP", 0) == 0) {
      CHECK(std::regex_match(line, match, help));
      families.push_back(match[1]);
    } else if (line.rfind("# TYPE", 0) == 0) {
      REQUIRE(std::regex_match(line, match, type));
      CHECK(match[1] == families.back());  // TYPE follows its HELP
      if (match[2] == "counter") CHECK(families.back().size() > 6);
      if (match[2] == "counter") CHECK(families.back().substr(families.back().size() - 6) == "_total");
    } else {
      CHECK(std::regex_match(line, sample));
      CHECK(line.rfind(families.back(), 0) == 0);  // samples follow their family's header
    }
  }
  CHECK(text.back() == '\n');
  for (const char* name :
       {"sms_router_webhooks_total", "sms_router_webhook_duration_seconds", "sms_router_cache_hits_total",
        "sms_router_cache_misses_total", "sms_router_cache_entries", "sms_router_agent_calls_total",
        "sms_router_agent_failures_total", "sms_router_agent_duration_seconds", "sms_router_queue_depth",
        "sms_router_outbound_sent_total", "sms_router_outbound_failed_total", "sms_router_ambiguous_numbers",
        "sms_router_sync_runs_total", "sms_router_sync_failures_total",
        "sms_router_sync_last_success_timestamp_seconds", "sms_router_usage_logs_unpushed",
        "sms_router_db_writes_total", "sms_router_db_commits_total"}) {
    INFO(name);
    CHECK(std::count(families.begin(), families.end(), name) == 1);
  }
}

TEST_CASE("the exposition shows every webhook outcome from the start and the values counted") {
  Metrics m;
  m.webhooks.inc("routed");
  m.webhooks.inc("duplicate");
  m.webhooks.inc("duplicate");
  m.webhook_duration.observe(0.004);
  m.webhook_duration.observe(20);
  m.agent_calls.inc(3);
  m.agent_failures.inc();
  m.outbound_sent.inc(5);
  MetricsReadings r;
  r.sync_runs = 2;  // one round that succeeded, one that failed
  r.sync_failures = 1;
  r.sync_last_success_ms = 1767225600123;
  r.cache_hits = 7;
  r.cache_misses = 3;
  r.cache_entries = 2;
  r.agent_queue = 4;
  r.outbound_queue = 1;
  r.ambiguous_numbers = 2;
  r.usage_logs_unpushed = 9;
  r.oldest_agent_wait_s = 12.5;
  r.oldest_outbound_wait_s = 0;
  auto s = samples(render_metrics(m, r));

  for (auto outcome : kWebhookOutcomes) {
    INFO(outcome);
    CHECK(s.count("sms_router_webhooks_total{outcome=\"" + std::string(outcome) + "\"}") == 1);
  }
  CHECK(s["sms_router_webhooks_total{outcome=\"routed\"}"] == "1");
  CHECK(s["sms_router_webhooks_total{outcome=\"duplicate\"}"] == "2");
  CHECK(s["sms_router_webhooks_total{outcome=\"spam\"}"] == "0");
  CHECK(s["sms_router_webhook_duration_seconds_bucket{le=\"0.001\"}"] == "0");
  CHECK(s["sms_router_webhook_duration_seconds_bucket{le=\"0.005\"}"] == "1");
  CHECK(s["sms_router_webhook_duration_seconds_bucket{le=\"10\"}"] == "1");
  CHECK(s["sms_router_webhook_duration_seconds_bucket{le=\"+Inf\"}"] == "2");
  CHECK(s["sms_router_webhook_duration_seconds_count"] == "2");
  CHECK(std::stod(s["sms_router_webhook_duration_seconds_sum"]) == Approx(20.004));
  CHECK(s["sms_router_agent_duration_seconds_count"] == "0");
  CHECK(s["sms_router_cache_hits_total"] == "7");
  CHECK(s["sms_router_cache_misses_total"] == "3");
  CHECK(s["sms_router_cache_entries"] == "2");
  CHECK(s["sms_router_agent_calls_total"] == "3");
  CHECK(s["sms_router_agent_failures_total"] == "1");
  CHECK(s["sms_router_queue_depth{queue=\"agent\"}"] == "4");
  CHECK(s["sms_router_queue_depth{queue=\"outbound\"}"] == "1");
  CHECK(s["sms_router_outbound_sent_total"] == "5");
  CHECK(s["sms_router_outbound_failed_total"] == "0");
  CHECK(s["sms_router_ambiguous_numbers"] == "2");
  CHECK(s["sms_router_sync_runs_total"] == "2");
  CHECK(s["sms_router_sync_failures_total"] == "1");
  CHECK(std::stod(s["sms_router_sync_last_success_timestamp_seconds"]) == Approx(1767225600.123));
  CHECK(s["sms_router_usage_logs_unpushed"] == "9");
  CHECK(s["sms_router_oldest_pending_age_seconds{queue=\"agent\"}"] == "12.5");
  CHECK(s["sms_router_oldest_pending_age_seconds{queue=\"outbound\"}"] == "0");
}

TEST_CASE("database values that could not be read are left out while the rest still renders") {
  Metrics m;
  auto s = samples(render_metrics(m, MetricsReadings{}));
  CHECK(s.count("sms_router_ambiguous_numbers") == 0);
  CHECK(s.count("sms_router_usage_logs_unpushed") == 0);
  CHECK(s["sms_router_cache_hits_total"] == "0");
  CHECK(s["sms_router_sync_last_success_timestamp_seconds"] == "0");
}

TEST_CASE("a webhook observation counts the outcome it was given, else one named after the refusal status") {
  Metrics m;
  auto observe = [&m](int status, const std::string& outcome) {
    WebhookObservation observed(m);
    if (!outcome.empty()) observed.set_outcome(outcome);
    if (status > 0) observed.finish(status);
  };
  observe(200, "routed");
  observe(200, "duplicate");
  observe(403, "");
  observe(413, "");
  observe(400, "");
  observe(-1, "");  // ended without an answer
  CHECK(m.webhooks.value("routed") == 1);
  CHECK(m.webhooks.value("duplicate") == 1);
  CHECK(m.webhooks.value("rejected_signature") == 1);
  CHECK(m.webhooks.value("too_large") == 1);
  CHECK(m.webhooks.value("bad_request") == 1);
  CHECK(m.webhooks.value("unavailable") == 1);
  CHECK(m.webhook_duration.snapshot().count == 6);
}

TEST_CASE("a webhook observation ended by an exception counts as unavailable") {
  Metrics m;
  try {
    WebhookObservation observed(m);
    throw std::runtime_error("disk full");
  } catch (const std::runtime_error&) {
  }
  CHECK(m.webhooks.value("unavailable") == 1);
  CHECK(m.webhooks.value("other") == 0);
}

TEST_CASE("the metered agent counts every attempt, times it, and counts those without an answer as failures") {
  Metrics m;
  auto agent = metered_agent(std::make_unique<ScriptedAgent>(std::vector<AgentResult::Kind>{
                                 AgentResult::Kind::kReply, AgentResult::Kind::kNoReply,
                                 AgentResult::Kind::kRetryable, AgentResult::Kind::kFailed}),
                             m);
  AgentRequest request;
  for (int i = 0; i < 4; ++i) agent->call(request);
  CHECK_THROWS(agent->call(request));
  CHECK(m.agent_calls.value() == 5);
  CHECK(m.agent_failures.value() == 3);
  CHECK(m.agent_duration.snapshot().count == 5);
}

TEST_CASE("the metered Twilio API counts accepted messages as sent and every other attempt as failed") {
  Metrics m;
  auto api = metered_twilio_api(std::make_unique<ScriptedTwilio>(std::vector<SendResult::Kind>{
                                    SendResult::Kind::kAccepted, SendResult::Kind::kRetryable,
                                    SendResult::Kind::kOptedOut, SendResult::Kind::kRejected,
                                    SendResult::Kind::kAccepted}),
                                m);
  for (int i = 0; i < 5; ++i) api->send(SendRequest{});
  CHECK(m.outbound_sent.value() == 2);
  CHECK(m.outbound_failed.value() == 3);
}

TEST_CASE("the ambiguous-number gauge reads the database at most once per max_age") {
  test::TempDir dir;
  const std::string path = dir.file("router.db");
  Store store(path, system_clock());
  store.write([](WriteTxn& txn) {
    for (const char* phone : {"+15145550001", "+15145550002"}) {
      NewUser u;
      u.email = std::string(phone + 1) + "@example.org";
      u.phones = {phone};
      txn.insert_user(u);
    }
  });
  // Two users mapping one number: only data from the central database can do that, so it
  // is written directly.
  auto claim_by_both = [&](const std::string& phone) {
    SQLite::Database db(path, SQLite::OPEN_READWRITE);
    db.exec("INSERT INTO phone_mappings (user_id, phone_number, created_ms) VALUES (1, '" + phone + "', 0), (2, '" +
            phone + "', 0)");
  };
  claim_by_both("+15145550009");
  AmbiguousNumbersGauge cached(std::chrono::seconds(60));
  AmbiguousNumbersGauge uncached(std::chrono::seconds(0));
  CHECK(cached.read(store) == 1);
  CHECK(uncached.read(store) == 1);
  claim_by_both("+15145550008");
  CHECK(cached.read(store) == 1);
  CHECK(uncached.read(store) == 2);
}

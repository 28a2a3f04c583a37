#include <catch2/catch.hpp>

#include <algorithm>

#include "sync/central_settings.hpp"

using smsr::apply_central_settings;
using smsr::Config;
using smsr::ConfigRow;

namespace {
bool has(const std::vector<std::string>& v, const std::string& k) { return std::find(v.begin(), v.end(), k) != v.end(); }
}  // namespace

TEST_CASE("the organisation's own central keys override the settings they stand for") {
  Config base;
  auto r = apply_central_settings(base, {{"rate_limit_per_minute", "10", true},
                                         {"cache_ttl_seconds", "3600", true},
                                         {"max_concatenated_length", "1000", true},
                                         {"default_response_timeout", "30", true},
                                         {"enable_spam_detection", "true", true},
                                         {"spam_threshold", "0.5", true}});
  CHECK(r.config.limits.per_sender_per_minute == 10);
  CHECK(r.config.cache.ttl_s == 3600);
  CHECK(r.config.limits.max_message_chars == 1000);
  CHECK(r.config.agent.timeout_ms == 30000);
  CHECK(r.config.spam.enabled);
  CHECK(r.config.spam.threshold == Approx(0.5));
  CHECK(r.applied.size() == 6);
  CHECK(r.ignored.empty());
}

TEST_CASE("keys named like the router's settings override them and inactive rows change nothing") {
  Config base;
  base.replies.error = "file error text";
  auto r = apply_central_settings(base, {{"replies.unknown_sender", "join at example.com", true},
                                         {"limits.per_sender_per_minute", "5", true},
                                         {"replies.error", "central error text", false}});
  CHECK(r.config.replies.unknown_sender == "join at example.com");
  CHECK(r.config.limits.per_sender_per_minute == 5);
  CHECK(r.config.replies.error == "file error text");
  CHECK_FALSE(has(r.applied, "replies.error"));
}

TEST_CASE("unknown keys and unusable values are ignored and reported while the file setting stays") {
  Config base;
  auto r = apply_central_settings(base, {{"enable_command_processing", "true", true},
                                         {"rate_limit_per_minute", "lots", true},
                                         {"spam_threshold", "1.5", true},
                                         {"max_sms_length", "160", true}});
  CHECK(r.config.limits.per_sender_per_minute == base.limits.per_sender_per_minute);
  CHECK(r.config.spam.threshold == Approx(base.spam.threshold));
  CHECK(has(r.ignored, "enable_command_processing"));
  CHECK(has(r.ignored, "rate_limit_per_minute"));
  CHECK(has(r.ignored, "spam_threshold"));
  CHECK(has(r.ignored, "max_sms_length"));
  CHECK(r.applied.empty());
}

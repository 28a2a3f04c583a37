#include "sync/central_settings.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>

namespace smsr {
namespace {

std::optional<long long> to_int(const std::string& text) {
  long long v = 0;
  auto b = text.find_first_not_of(" \t");
  auto e = text.find_last_not_of(" \t");
  if (b == std::string::npos) return std::nullopt;
  auto [end, ec] = std::from_chars(text.data() + b, text.data() + e + 1, v);
  if (ec != std::errc() || end != text.data() + e + 1) return std::nullopt;
  return v;
}

std::optional<double> to_double(const std::string& text) {
  try {
    std::size_t used = 0;
    double v = std::stod(text, &used);
    if (used != text.size()) return std::nullopt;
    return v;
  } catch (...) {
    return std::nullopt;
  }
}

std::optional<bool> to_bool(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (text == "true" || text == "1" || text == "yes" || text == "on") return true;
  if (text == "false" || text == "0" || text == "no" || text == "off") return false;
  return std::nullopt;
}

}  // namespace

OverrideResult apply_central_settings(const Config& base, const std::vector<ConfigRow>& rows) {
  OverrideResult out{base, {}, {}};
  Config& c = out.config;
  for (const auto& row : rows) {
    if (!row.active) continue;
    const std::string& k = row.key;
    const std::string& v = row.value;
    bool ok = true;
    auto set_int = [&](int& field, long long min, long long max) {
      auto n = to_int(v);
      if (!n || *n < min || *n > max) return false;
      field = static_cast<int>(*n);
      return true;
    };
    if (k == "rate_limit_per_minute" || k == "limits.per_sender_per_minute") {
      ok = set_int(c.limits.per_sender_per_minute, 0, 1000000);
    } else if (k == "limits.unknown_sender_replies_per_day") {
      ok = set_int(c.limits.unknown_sender_replies_per_day, 0, 1000);
    } else if (k == "max_concatenated_length" || k == "limits.max_message_chars") {
      ok = set_int(c.limits.max_message_chars, 160, 1600);
    } else if (k == "cache_ttl_seconds") {
      ok = set_int(c.cache.ttl_s, 1, 7 * 24 * 3600);
    } else if (k == "default_response_timeout") {
      auto n = to_int(v);
      ok = n && *n >= 1 && *n <= 600;
      if (ok) c.agent.timeout_ms = static_cast<int>(*n * 1000);
    } else if (k == "enable_spam_detection") {
      auto b = to_bool(v);
      ok = b.has_value();
      if (ok) c.spam.enabled = *b;
    } else if (k == "spam_threshold") {
      auto d = to_double(v);
      ok = d && *d >= 0.0 && *d <= 1.0;
      if (ok) c.spam.threshold = *d;
    } else if (k == "replies.unknown_sender") {
      c.replies.unknown_sender = v;
    } else if (k == "replies.inactive_user") {
      c.replies.inactive_user = v;
    } else if (k == "replies.error") {
      c.replies.error = v;
    } else {
      ok = false;
    }
    (ok ? out.applied : out.ignored).push_back(k);
  }
  return out;
}

}  // namespace smsr

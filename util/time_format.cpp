#include "util/time_format.hpp"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <regex>

#include "util/strings.hpp"

namespace smsr {
namespace {

bool leap_second_free_time(int hour, int minute, int second) {
  return hour >= 0 && hour < 24 && minute >= 0 && minute < 60 && second >= 0 && second < 60;
}

}  // namespace

std::string format_iso8601(std::int64_t epoch_ms) {
  std::time_t secs = static_cast<std::time_t>(epoch_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(epoch_ms % 1000));
  return buf;
}

std::optional<std::int64_t> parse_unsigned(std::string_view text) {
  if (!is_digits(text)) return std::nullopt;
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<std::int64_t> parse_time(std::string_view text) {
  if (auto ms = parse_unsigned(text)) return ms;
  static const std::regex iso(
      R"((\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?([Zz]|[+\- ]\d{2}(?::?\d{2})?)?)?)");
  std::match_results<std::string_view::const_iterator> m;
  if (!std::regex_match(text.begin(), text.end(), m, iso)) return std::nullopt;
  auto number = [&](int i) { return m[i].matched ? std::stoi(m[i].str()) : 0; };
  using namespace std::chrono;
  year_month_day date{year{number(1)}, month{static_cast<unsigned>(number(2))},
                      day{static_cast<unsigned>(number(3))}};
  if (!date.ok()) return std::nullopt;
  int hour = number(4), minute = number(5), second = number(6);
  if (!leap_second_free_time(hour, minute, second)) return std::nullopt;
  std::int64_t millis = 0;
  if (m[7].matched) {
    std::string fraction = (m[7].str() + "00").substr(0, 3);
    millis = std::stoi(fraction);
  }
  std::int64_t offset_minutes = 0;
  if (m[8].matched && m[8].length() > 1) {
    std::string zone = m[8].str();
    int sign = zone[0] == '-' ? -1 : 1;
    std::string digits;
    for (char c : zone.substr(1)) {
      if (c != ':') digits.push_back(c);
    }
    int hours = std::stoi(digits.substr(0, 2));
    int minutes = digits.size() > 2 ? std::stoi(digits.substr(2, 2)) : 0;
    if (hours > 23 || minutes > 59) return std::nullopt;
    offset_minutes = sign * (hours * 60 + minutes);
  }
  auto midnight = sys_days(date).time_since_epoch();
  std::int64_t ms = duration_cast<milliseconds>(midnight).count() +
                    ((hour * 60 + minute - offset_minutes) * 60 + second) * 1000 + millis;
  if (ms < 0) return std::nullopt;
  return ms;
}

}  // namespace smsr

#include "core/phone.hpp"

#include <phonenumbers/logger.h>
#include <phonenumbers/phonenumberutil.h>

#include <algorithm>
#include <set>
#include <utility>

namespace smsr {
namespace {

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

constexpr std::string_view kEllipsis = "…";

// libphonenumber's singleton, with its logging silenced: by default it writes parse
// problems to stderr, which would put raw (unredacted) input into the service's output.
// The static initialiser runs once even when several threads get here first.
const PhoneNumberUtil& phone_util() {
  static const PhoneNumberUtil& util = []() -> const PhoneNumberUtil& {
    PhoneNumberUtil* instance = PhoneNumberUtil::GetInstance();
    instance->SetLogger(new i18n::phonenumbers::NullLogger());  // takes ownership
    return *instance;
  }();
  return util;
}

bool is_ascii_digit(char c) { return c >= '0' && c <= '9'; }

bool is_ascii_letter(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// RFC 3966 numbers ("tel:+1-514-555-1234"); URI schemes are case-insensitive.
std::string_view without_tel_scheme(std::string_view text) {
  constexpr std::string_view kTelScheme = "tel:";
  const bool has_scheme =
      text.size() >= kTelScheme.size() &&
      std::equal(kTelScheme.begin(), kTelScheme.end(), text.begin(),
                 [](char expected, char actual) { return expected == ascii_lower(actual); });
  if (has_scheme) text.remove_prefix(kTelScheme.size());
  return text;
}

// Carriers' short codes are 3 to 8 digits with no '+'. Checked before any national
// parse, which could otherwise read "12345678" as a (valid-looking) local number.
bool is_short_code(std::string_view from) {
  return from.size() >= 3 && from.size() <= 8 &&
         std::all_of(from.begin(), from.end(), is_ascii_digit);
}

bool has_ascii_letter(std::string_view from) {
  return std::any_of(from.begin(), from.end(), is_ascii_letter);
}

// UTF-8 continuation bytes look like 10xxxxxx; every other byte starts a character.
bool is_utf8_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// Byte offset at which the last `count` characters of UTF-8 `text` begin; 0 when it has
// no more than `count`. Counting characters rather than bytes keeps a redacted non-ASCII
// sender from being cut in the middle of a character.
std::size_t offset_of_last_chars(std::string_view text, std::size_t count) {
  std::size_t offset = text.size();
  for (std::size_t seen = 0; offset > 0 && seen < count;) {
    --offset;
    if (!is_utf8_continuation(text[offset])) ++seen;
  }
  return offset;
}

}  // namespace

namespace {
// Enough for the senders of a busy day; the TTL only bounds memory, answers never go stale.
constexpr std::size_t kSenderCacheEntries = 65536;
}  // namespace

PhoneNormalizer::PhoneNormalizer(std::string default_region)
    : default_region_(std::move(default_region)),
      sender_cache_(std::make_shared<LruCache<SenderAddress>>(kSenderCacheEntries, std::chrono::hours(24))) {}

std::optional<std::string> PhoneNormalizer::to_e164(std::string_view text) const {
  text = without_tel_scheme(text);
  if (text.empty()) return std::nullopt;

  const PhoneNumberUtil& util = phone_util();
  PhoneNumber number;
  const auto parsed = util.Parse(std::string(text), default_region_, &number);
  if (parsed != PhoneNumberUtil::NO_PARSING_ERROR || !util.IsValidNumber(number)) {
    return std::nullopt;
  }

  std::string e164;
  util.Format(number, PhoneNumberUtil::E164, &e164);
  return e164;
}

SenderAddress PhoneNormalizer::classify_sender(std::string_view from) const {
  std::string key(from);
  auto now = std::chrono::steady_clock::now();
  if (auto cached = sender_cache_->get(key, now)) return *cached;
  SenderAddress result = classify_uncached(from);
  sender_cache_->put(key, result, now);
  return result;
}

SenderAddress PhoneNormalizer::classify_uncached(std::string_view from) const {
  if (from.starts_with('+')) {
    if (auto e164 = to_e164(from)) return {SenderKind::kE164, std::move(*e164)};
  }
  if (is_short_code(from)) return {SenderKind::kShortCode, {}};
  if (has_ascii_letter(from)) return {SenderKind::kAlphanumeric, {}};
  if (auto e164 = to_e164(from)) return {SenderKind::kE164, std::move(*e164)};
  return {SenderKind::kInvalid, {}};
}

bool is_e164_shaped(std::string_view text) {
  if (text.size() < 9 || text.size() > 16 || text[0] != '+' || text[1] == '0') return false;
  return std::all_of(text.begin() + 1, text.end(), is_ascii_digit);
}

bool is_known_region(std::string_view region) {
  static const std::set<std::string, std::less<>> regions = [] {
    std::set<std::string> supported;
    phone_util().GetSupportedRegions(&supported);
    return std::set<std::string, std::less<>>(supported.begin(), supported.end());
  }();
  return regions.contains(region);
}

std::string redact_phone(std::string_view number) {
  std::string redacted(kEllipsis);
  // A tail of four characters would reveal a short input whole, so those stay fully masked.
  const std::size_t tail = offset_of_last_chars(number, 4);
  if (tail > 0) redacted.append(number.substr(tail));
  return redacted;
}

std::string redact_numbers_in(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t start = i;
    if (text[i] == '+') ++i;
    else if (text.substr(i, 3) == "%2B" || text.substr(i, 3) == "%2b") i += 3;
    std::size_t digits = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    if (i - digits >= 6) {
      out += redact_phone(text.substr(digits, i - digits));
    } else {
      if (i == start) ++i;  // not a digit and no prefix: copy one character
      out.append(text.substr(start, i - start));
    }
  }
  return out;
}

}  // namespace smsr

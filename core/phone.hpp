// Phone number normalisation: every number the router stores or looks up is E.164.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/lru_cache.hpp"

namespace smsr {

// What an inbound "From" is. Only kE164 senders can belong to a user.
enum class SenderKind {
  kE164,          // a valid number, normalised
  kShortCode,     // 3..8 digits without a leading '+', e.g. "12345"
  kAlphanumeric,  // contains letters, e.g. "ACME" (never replied to)
  kInvalid,       // anything else (empty, garbage, an invalid number)
};

struct SenderAddress {
  SenderKind kind = SenderKind::kInvalid;
  std::string e164;  // set only for kE164
};

// Thread-safe; construction is cheap (libphonenumber's instance is a singleton).
class PhoneNormalizer {
 public:
  // `default_region` is an ISO 3166 alpha-2 code used for numbers without a leading '+'.
  explicit PhoneNormalizer(std::string default_region);

  // The E.164 form of a number written in any common format ("(514) 555-1234",
  // "514.555.1234", "+44 20 7946 0958", "0044 20...", "tel:+1...") or nullopt when it is
  // not a valid number for its region.
  std::optional<std::string> to_e164(std::string_view text) const;

  // Classifies an inbound sender address as Twilio gives it in "From". Results are
  // memoised: parsing costs microseconds and the same senders write again and again.
  SenderAddress classify_sender(std::string_view from) const;

  const std::string& default_region() const { return default_region_; }

 private:
  SenderAddress classify_uncached(std::string_view from) const;

  std::string default_region_;
  // Shared by copies of this normalizer; the answers never change for a region.
  std::shared_ptr<LruCache<SenderAddress>> sender_cache_;
};

// True if `text` is written as E.164 is: '+', then 8 to 15 digits, the first not 0. Says
// nothing of whether the number exists (see PhoneNormalizer::to_e164 for that).
bool is_e164_shaped(std::string_view text);

// True if `region` is a region code libphonenumber knows ("US", "CA", "GB", ...).
bool is_known_region(std::string_view region);

// The last four digits of a number for logs: "+15145551234" -> "…1234". Shorter inputs
// are fully masked. Never returns more than four characters of the input.
std::string redact_phone(std::string_view number);
// `text` with every run of six or more digits (and a '+' or "%2B" before it) shown as
// redact_phone shows a number: for paths and URLs that may hold one. Shorter runs (ports,
// ids, short codes) stay.
std::string redact_numbers_in(std::string_view text);

}  // namespace smsr

// Times as text: the ISO 8601 form the router writes, and the forms it reads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace smsr {

// Epoch milliseconds as ISO 8601 UTC with milliseconds: "2026-11-24T10:15:30.123Z".
std::string format_iso8601(std::int64_t epoch_ms);

// A time given as epoch milliseconds ("1767225600000") or ISO 8601: a date
// ("2026-01-01", UTC midnight) or a date and time with optional fraction and zone
// ("2026-01-01T10:00:00Z", "2026-01-01T10:00:00.5+02:00"; no zone = UTC). A space where
// the zone's '+' belongs is accepted (an unencoded '+' in a query string decodes to one).
// nullopt for anything else, and for times before 1970.
std::optional<std::int64_t> parse_time(std::string_view text);

// Digits only, no sign, and fits the type; nullopt otherwise.
std::optional<std::int64_t> parse_unsigned(std::string_view text);

}  // namespace smsr

// Text helpers every layer needs: trimming, ASCII case, booleans. ASCII only, so text in
// other scripts passes through unchanged whatever the locale.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace smsr {

// ASCII whitespace. None of these bytes occurs inside a multi-byte UTF-8 sequence, so text
// can be scanned for them byte by byte.
inline constexpr std::string_view kAsciiWhitespace = " \t\n\r\f\v";

// `text` without leading and/or trailing ASCII whitespace (a view into `text`).
std::string_view trim_left(std::string_view text);
std::string_view trim_right(std::string_view text);
std::string_view trim(std::string_view text);

std::string upper_cased(std::string_view text);
std::string lower_cased(std::string_view text);

// Non-empty and only the ASCII digits 0 to 9 (no sign, no space).
bool is_digits(std::string_view text);

// "true"/"1" or "false"/"0", in any case; nullopt for anything else (callers decide what an
// empty value means, and whether they also take yes/no).
std::optional<bool> parse_bool(std::string_view text);

}  // namespace smsr

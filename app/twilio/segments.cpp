#include "app/twilio/segments.hpp"

#include <algorithm>
#include <array>
#include <string>

#include "util/strings.hpp"
#include "util/utf8.hpp"

namespace smsr {
namespace {

// ---- SMS segments ----

// GSM 03.38 basic character set in code-table order, 0x00 to 0x7F. 0x1B is left out: it
// is the escape into the extension table, not a character a text can contain.
constexpr std::u32string_view kGsmBasicCharacters =
    U"@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ"         // 0x00-0x1A
    U"ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"  // 0x1C-0x3F
    U"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"       // 0x40-0x5F
    U"¿abcdefghijklmnopqrstuvwxyzäöñüà";      // 0x60-0x7F
static_assert(kGsmBasicCharacters.size() == 127);

// Reached through the escape, so each costs two septets.
constexpr std::u32string_view kGsmExtensionCharacters = U"\f^{}\\[~]|€";

std::size_t gsm7_septets_by_search(char32_t c) {
  if (kGsmBasicCharacters.find(c) != std::u32string_view::npos) return 1;
  if (kGsmExtensionCharacters.find(c) != std::u32string_view::npos) return 2;
  return 0;
}

// Septets the code point takes in GSM-7, or 0 when GSM-7 cannot carry it. ASCII, most of
// every message, comes from a table: every webhook and reply is counted.
std::size_t gsm7_septets(const CodePoint& code_point) {
  static const auto kAscii = [] {
    std::array<unsigned char, 128> table{};
    for (char32_t c = 0; c < 128; ++c) table[c] = static_cast<unsigned char>(gsm7_septets_by_search(c));
    return table;
  }();
  if (!code_point.valid) return 0;
  if (code_point.value < 128) return kAscii[code_point.value];
  return gsm7_septets_by_search(code_point.value);
}

// An invalid byte is counted as the U+FFFD that replaces it on the wire.
std::size_t utf16_units(const CodePoint& code_point) {
  return code_point.valid && code_point.value > 0xFFFF ? 2 : 1;
}

struct SegmentLimits {
  std::size_t single;    // units in a message sent whole
  std::size_t per_part;  // units per part once split (the rest holds the concatenation header)
};

constexpr SegmentLimits kGsm7Limits{160, 153};
constexpr SegmentLimits kUcs2Limits{70, 67};

std::size_t segments_for(std::size_t units, SegmentLimits limits) {
  if (units <= limits.single) return 1;
  return (units + limits.per_part - 1) / limits.per_part;
}

// Takes the next part off the front of `rest`, which starts with a non-space and goes on
// past `limit`, the byte offset where the largest allowed part would end. Breaks at the last
// whitespace up to and including the character at `limit` (breaking there gives a full
// part); without one, the word is cut at `limit`, which is a code point boundary.
std::string_view take_part(std::string_view& rest, std::size_t limit) {
  const std::size_t space = rest.substr(0, limit + 1).find_last_of(kAsciiWhitespace);
  if (space == std::string_view::npos) {
    const std::string_view part = rest.substr(0, limit);
    rest.remove_prefix(limit);
    return part;
  }
  const std::string_view part = trim_right(rest.substr(0, space));
  rest = trim_left(rest.substr(space));
  return part;
}

}  // namespace

// Carriers never split an extension character's escape from the character itself, so a
// long GSM-7 text with extension characters can occasionally need one part more than this
// count; the count deliberately ignores that to stay a simple function of the length.
SegmentInfo count_segments(std::string_view utf8) {
  std::size_t septets = 0;
  std::size_t utf16 = 0;
  bool gsm7 = true;
  for_each_code_point(utf8, [&](const CodePoint& code_point, std::string_view) {
    const std::size_t width = gsm7_septets(code_point);
    gsm7 = gsm7 && width > 0;
    septets += width;
    utf16 += utf16_units(code_point);
  });

  SegmentInfo info;
  info.encoding = gsm7 ? SmsEncoding::kGsm7 : SmsEncoding::kUcs2;
  info.units = gsm7 ? septets : utf16;
  info.segments = segments_for(info.units, gsm7 ? kGsm7Limits : kUcs2Limits);
  return info;
}

std::vector<std::string> split_message(std::string_view utf8, std::size_t max_chars) {
  if (utf8_length(utf8) <= max_chars) return {std::string(utf8)};
  // A zero limit could never make progress; one character per part is the nearest that can.
  max_chars = std::max<std::size_t>(max_chars, 1);

  // The ends of the whole text are breaks too: no part starts or ends with whitespace.
  std::string_view rest = trim(utf8);
  std::vector<std::string> parts;
  while (true) {
    const std::size_t limit = advance_code_points(rest, max_chars);
    if (limit == rest.size()) break;
    parts.emplace_back(take_part(rest, limit));
  }
  // Whitespace alone leaves nothing to send; like an empty text, that is one empty part.
  parts.emplace_back(rest);
  return parts;
}

}  // namespace smsr

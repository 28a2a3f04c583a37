#include "util/utf8.hpp"

namespace smsr {

CodePoint decode_utf8(std::string_view text, std::size_t pos) {
  const auto byte_at = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte_at(pos);
  if (lead < 0x80) return {lead, 1, true};

  std::size_t length = 0;
  char32_t value = 0;
  // The ranges allowed for the second byte exclude overlongs (E0, F0), surrogates (ED)
  // and code points above U+10FFFF (F4).
  unsigned char second_min = 0x80;
  unsigned char second_max = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    value = lead & 0x1Fu;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    value = lead & 0x0Fu;
    if (lead == 0xE0) second_min = 0xA0;
    if (lead == 0xED) second_max = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    value = lead & 0x07u;
    if (lead == 0xF0) second_min = 0x90;
    if (lead == 0xF4) second_max = 0x8F;
  } else {
    return {};
  }
  if (pos + length > text.size()) return {};

  for (std::size_t i = 1; i < length; ++i) {
    const unsigned char continuation = byte_at(pos + i);
    const unsigned char min = i == 1 ? second_min : 0x80;
    const unsigned char max = i == 1 ? second_max : 0xBF;
    if (continuation < min || continuation > max) return {};
    value = (value << 6) | (continuation & 0x3Fu);
  }
  return {value, length, true};
}

std::size_t advance_code_points(std::string_view text, std::size_t count) {
  std::size_t pos = 0;
  for (; pos < text.size() && count > 0; --count) pos += decode_utf8(text, pos).length;
  return pos;
}

std::size_t utf8_length(std::string_view utf8) {
  std::size_t count = 0;
  for_each_code_point(utf8, [&](const CodePoint&, std::string_view) { ++count; });
  return count;
}

}  // namespace smsr

// UTF-8 decoding for the text formats (TwiML, SMS segments): strict, and resynchronising on
// the next byte after anything malformed.
#pragma once

#include <cstddef>
#include <string_view>

namespace smsr {

// U+FFFD, what a malformed byte becomes where the output must be valid UTF-8.
inline constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";

struct CodePoint {
  char32_t value = 0;
  std::size_t length = 1;  // bytes consumed; an invalid byte is consumed on its own
  bool valid = false;
};

// Decodes the code point starting at `pos` (< text.size()), accepting only well-formed
// UTF-8 (Unicode table 3-7): no overlong forms, no surrogates, nothing above U+10FFFF.
// Anything else is reported as one invalid byte so that callers can resynchronise on the
// next byte.
CodePoint decode_utf8(std::string_view text, std::size_t pos);

// Calls visit(code_point, bytes) for every code point of `text` in order; `bytes` is the
// slice of `text` the code point was decoded from.
template <typename Visitor>
void for_each_code_point(std::string_view text, Visitor&& visit) {
  for (std::size_t pos = 0; pos < text.size();) {
    const CodePoint code_point = decode_utf8(text, pos);
    visit(code_point, text.substr(pos, code_point.length));
    pos += code_point.length;
  }
}

// Byte offset just past the first `count` code points of `text` (or its size).
std::size_t advance_code_points(std::string_view text, std::size_t count);

// Number of Unicode code points in valid UTF-8 (invalid bytes count one each).
std::size_t utf8_length(std::string_view utf8);

}  // namespace smsr

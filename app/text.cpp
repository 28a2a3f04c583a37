#include "app/text.hpp"

#include <algorithm>
#include <array>
#include <string>
#include <utility>

namespace smsr {

namespace {

// ---- UTF-8 ----

constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";  // U+FFFD

struct CodePoint {
  char32_t value = 0;
  std::size_t length = 1;  // bytes consumed; an invalid byte is consumed on its own
  bool valid = false;
};

// Decodes the code point starting at `pos`, accepting only well-formed UTF-8 (Unicode
// table 3-7): no overlong forms, no surrogates, nothing above U+10FFFF. Anything else is
// reported as one invalid byte so that callers can resynchronise on the next byte.
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
std::size_t advance_code_points(std::string_view text, std::size_t count) {
  std::size_t pos = 0;
  for (; pos < text.size() && count > 0; --count) pos += decode_utf8(text, pos).length;
  return pos;
}

// ---- XML ----

// XML 1.0 "Char": tab, newline, carriage return, and everything from U+0020 except the
// surrogates (never produced by the decoder) and the non-characters U+FFFE and U+FFFF.
bool allowed_in_xml(char32_t c) {
  if (c < 0x20) return c == '\t' || c == '\n' || c == '\r';
  return c != 0xFFFE && c != 0xFFFF;
}

std::string_view xml_entity(char32_t c) {
  switch (c) {
    case '&': return "&amp;";
    case '<': return "&lt;";
    case '>': return "&gt;";
    case '"': return "&quot;";
    case '\'': return "&apos;";
    default: return {};
  }
}

// ---- CSV ----

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

// A single pass over the text with the position and the physical line number (lines are
// counted at every '\n', including those inside quoted fields).
class CsvParser {
 public:
  explicit CsvParser(std::string_view text) : text_(text) {
    if (text_.starts_with(kUtf8Bom)) text_.remove_prefix(kUtf8Bom.size());
  }

  std::optional<std::vector<CsvRow>> parse(std::string& error) {
    std::vector<CsvRow> rows;
    while (!at_end()) {
      if (skip_blank_line()) continue;
      CsvRow row;
      row.line = line_;
      if (!read_record(row.fields)) {
        error = std::move(error_);
        return std::nullopt;
      }
      rows.push_back(std::move(row));
    }
    return rows;
  }

 private:
  bool at_end() const { return pos_ >= text_.size(); }

  bool at_line_end() const {
    const std::string_view rest = text_.substr(pos_);
    return rest.starts_with('\n') || rest.starts_with("\r\n");
  }

  void consume_line_end() {
    pos_ += text_[pos_] == '\r' ? 2 : 1;
    ++line_;
  }

  // An empty line, or one holding only spaces and tabs, carries no record: consumes it.
  bool skip_blank_line() {
    const std::size_t start = pos_;
    while (!at_end() && (text_[pos_] == ' ' || text_[pos_] == '\t')) ++pos_;
    if (at_end()) return true;
    if (at_line_end()) {
      consume_line_end();
      return true;
    }
    pos_ = start;
    return false;
  }

  // Reads the fields of one record and the line end that closes it.
  bool read_record(std::vector<std::string>& fields) {
    while (true) {
      std::string field;
      const bool quoted = !at_end() && text_[pos_] == '"';
      const bool ok = quoted ? read_quoted_field(field) : read_unquoted_field(field);
      if (!ok) return false;
      fields.push_back(std::move(field));
      if (at_end()) return true;
      if (at_line_end()) {
        consume_line_end();
        return true;
      }
      ++pos_;  // a comma: both field readers stop only at a comma, a line end or the end
    }
  }

  bool read_unquoted_field(std::string& field) {
    while (!at_end() && !at_line_end() && text_[pos_] != ',') {
      if (text_[pos_] == '"') return fail(line_, "unexpected quote in unquoted field");
      field += text_[pos_++];
    }
    return true;
  }

  bool read_quoted_field(std::string& field) {
    const std::size_t opening_line = line_;
    ++pos_;  // the opening quote
    while (true) {
      if (at_end()) return fail(opening_line, "unterminated quoted field");
      const char c = text_[pos_++];
      if (c == '"') {
        if (at_end() || text_[pos_] != '"') break;
        ++pos_;  // "" stands for one quote
      } else if (c == '\n') {
        ++line_;
      }
      field += c;
    }
    if (at_end() || at_line_end() || text_[pos_] == ',') return true;
    return fail(line_, "unexpected character after closing quote");
  }

  bool fail(std::size_t line, std::string_view problem) {
    error_ = "line " + std::to_string(line) + ": " + std::string(problem);
    return false;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  std::size_t line_ = 1;
  std::string error_;
};

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

// ---- Splitting ----

// ASCII whitespace only: these bytes never occur inside a multi-byte UTF-8 sequence, so
// the text can be scanned for them byte by byte.
constexpr std::string_view kSpaces = " \t\n\r\f\v";

bool is_space(char c) { return kSpaces.find(c) != std::string_view::npos; }

std::string_view trim_left(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  return text;
}

std::string_view trim_right(std::string_view text) {
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

// Takes the next part off the front of `rest`, which starts with a non-space and goes on
// past `limit`, the byte offset where the largest allowed part would end. Breaks at the last
// whitespace up to and including the character at `limit` (breaking there gives a full
// part); without one, the word is cut at `limit`, which is a code point boundary.
std::string_view take_part(std::string_view& rest, std::size_t limit) {
  const std::size_t space = rest.substr(0, limit + 1).find_last_of(kSpaces);
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

std::string xml_escape(std::string_view text) {
  std::string escaped;
  escaped.reserve(text.size());
  for_each_code_point(text, [&](const CodePoint& code_point, std::string_view bytes) {
    if (!code_point.valid) {
      escaped += kReplacementCharacter;  // keeps the document well-formed UTF-8
      return;
    }
    if (!allowed_in_xml(code_point.value)) return;  // no escape makes it legal XML 1.0
    const std::string_view entity = xml_entity(code_point.value);
    escaped += entity.empty() ? bytes : entity;
  });
  return escaped;
}

std::string twiml_response(const std::optional<std::string>& message) {
  // Nothing may precede the declaration: Twilio rejects leading whitespace (error 12100).
  const std::string twiml = R"(<?xml version="1.0" encoding="UTF-8"?>)";
  if (!message || message->empty()) return twiml + "<Response/>";
  return twiml + "<Response><Message>" + xml_escape(*message) + "</Message></Response>";
}

std::optional<std::vector<CsvRow>> parse_csv(std::string_view text, std::string& error) {
  return CsvParser(text).parse(error);
}

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
  std::string_view rest = trim_left(trim_right(utf8));
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

std::size_t utf8_length(std::string_view utf8) {
  std::size_t count = 0;
  for_each_code_point(utf8, [&](const CodePoint&, std::string_view) { ++count; });
  return count;
}

}  // namespace smsr

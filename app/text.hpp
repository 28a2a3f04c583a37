// Small text formats the router speaks: TwiML, CSV, SMS segments.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace smsr {

// ---- TwiML ----

// Escapes text for XML element content and attributes: & < > " ' ; drops characters not
// allowed in XML 1.0 (control characters other than tab, newline, carriage return).
std::string xml_escape(std::string_view text);

// "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>" when `message` is empty/nullopt,
// otherwise the same with <Response><Message>escaped</Message></Response>. Never starts
// with whitespace (Twilio error 12100).
std::string twiml_response(const std::optional<std::string>& message);

// ---- CSV (RFC 4180) ----

struct CsvRow {
  std::size_t line = 0;  // 1-based line number where the record starts in the file
  std::vector<std::string> fields;
};

// Parses CSV text: comma separator, double-quoted fields with "" escapes and embedded
// newlines, CRLF or LF line ends, a UTF-8 BOM at the start ignored, blank lines skipped.
// On malformed input (a stray quote inside an unquoted field, an unterminated quote)
// returns nullopt and sets `error` to a message naming the line.
std::optional<std::vector<CsvRow>> parse_csv(std::string_view text, std::string& error);

// ---- SMS segments ----

enum class SmsEncoding { kGsm7, kUcs2 };

struct SegmentInfo {
  SmsEncoding encoding = SmsEncoding::kGsm7;
  std::size_t units = 0;     // GSM-7 septets (extension chars count 2) or UTF-16 units
  std::size_t segments = 0;  // 1 for an empty body
};

// Counts segments as carriers do: GSM-7 160 per single message / 153 per part; any
// character outside GSM-7 makes the whole text UCS-2: 70 / 67 per part, counted in UTF-16
// code units (an emoji counts 2). Extension chars (FF ^ { } \ [ ~ ] | €) count 2.
SegmentInfo count_segments(std::string_view utf8);

// Splits text longer than `max_chars` (counted in Unicode code points) into ordered parts
// of at most max_chars each, breaking at whitespace where possible (never inside a UTF-8
// sequence; a single word longer than max_chars is cut). Text within the limit is returned
// as one part. Parts are trimmed of the whitespace at the break.
std::vector<std::string> split_message(std::string_view utf8, std::size_t max_chars);

// Number of Unicode code points in valid UTF-8 (invalid bytes count one each).
std::size_t utf8_length(std::string_view utf8);

}  // namespace smsr

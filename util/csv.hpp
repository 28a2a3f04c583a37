// RFC 4180 CSV, as `users import` reads it.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace smsr {

struct CsvRow {
  std::size_t line = 0;  // 1-based line number where the record starts in the file
  std::vector<std::string> fields;
};

// Parses CSV text: comma separator, double-quoted fields with "" escapes and embedded
// newlines, CRLF or LF line ends, a UTF-8 BOM at the start ignored, blank lines skipped.
// On malformed input (a stray quote inside an unquoted field, an unterminated quote)
// returns nullopt and sets `error` to a message naming the line.
std::optional<std::vector<CsvRow>> parse_csv(std::string_view text, std::string& error);

}  // namespace smsr

#include "util/csv.hpp"

namespace smsr {
namespace {

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


}  // namespace

std::optional<std::vector<CsvRow>> parse_csv(std::string_view text, std::string& error) {
  return CsvParser(text).parse(error);
}

}  // namespace smsr

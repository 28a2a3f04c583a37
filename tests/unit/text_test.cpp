#include "app/twilio/segments.hpp"
#include "app/twilio/twiml.hpp"
#include "util/csv.hpp"
#include "util/utf8.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

using namespace std::string_literals;
using smsr::count_segments;
using smsr::CsvRow;
using smsr::parse_csv;
using smsr::SmsEncoding;
using smsr::split_message;
using smsr::twiml_response;
using smsr::utf8_length;
using smsr::xml_escape;

namespace {

const std::string kDeclaration = R"(<?xml version="1.0" encoding="UTF-8"?>)";
const std::string kReplacement = "\xEF\xBF\xBD";  // U+FFFD

std::string repeat(const std::string& piece, std::size_t times) {
  std::string out;
  for (std::size_t i = 0; i < times; ++i) out += piece;
  return out;
}

std::vector<CsvRow> parse_ok(std::string_view text) {
  std::string error;
  auto rows = parse_csv(text, error);
  INFO("error: " << error);
  REQUIRE(rows.has_value());
  return *rows;
}

std::string parse_error(std::string_view text) {
  std::string error;
  const auto rows = parse_csv(text, error);
  REQUIRE_FALSE(rows.has_value());
  return error;
}

using Fields = std::vector<std::string>;

std::vector<std::string> words_of(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

std::string join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string out;
  for (const auto& part : parts) out += (out.empty() ? "" : separator) + part;
  return out;
}

std::size_t total_length(const std::vector<std::string>& parts) {
  return std::accumulate(parts.begin(), parts.end(), std::size_t{0},
                         [](std::size_t sum, const std::string& part) {
                           return sum + utf8_length(part);
                         });
}

// Words of 1 to 12 letters, some of them multi-byte, from a fixed linear congruential
// sequence so that every run tests the same text.
std::string generated_text(std::size_t min_code_points) {
  const std::vector<std::string> letters = {"a", "b", "e", "k", "o", "s", "t", "é", "ß", "日"};
  std::uint32_t state = 12345;
  const auto next = [&state](std::uint32_t bound) {
    state = state * 1664525u + 1013904223u;
    return (state >> 16) % bound;
  };
  std::string text;
  while (utf8_length(text) < min_code_points) {
    if (!text.empty()) text += ' ';
    const std::uint32_t length = 1 + next(12);
    for (std::uint32_t i = 0; i < length; ++i) text += letters[next(10)];
  }
  return text;
}

}  // namespace

// ---- XML and TwiML ----

TEST_CASE("xml_escape replaces each of the five XML special characters with its entity") {
  CHECK(xml_escape("a&b<c>d\"e'f") == "a&amp;b&lt;c&gt;d&quot;e&apos;f");
  CHECK(xml_escape("&amp;") == "&amp;amp;");
  CHECK(xml_escape("plain text") == "plain text");
}

TEST_CASE("xml_escape drops control characters XML 1.0 forbids and keeps tab, LF and CR") {
  const std::string text = "a\0b\x01\x08\x0B\x0C\x1F"s + "c\td\ne\rf\x7F";
  CHECK(xml_escape(text) == "ab" "c\td\ne\rf\x7F");
}

TEST_CASE("xml_escape drops the non-characters U+FFFE and U+FFFF") {
  CHECK(xml_escape("a\xEF\xBF\xBE" "b\xEF\xBF\xBF" "c") == "abc");
}

TEST_CASE("xml_escape keeps valid multi-byte UTF-8 unchanged") {
  const std::string text = "héllo — Ωmega 日本語 😀 €";
  CHECK(xml_escape(text) == text);
}

TEST_CASE("xml_escape replaces every byte of invalid UTF-8 with U+FFFD") {
  CHECK(xml_escape("a\xFF" "b") == "a" + kReplacement + "b");
  CHECK(xml_escape("truncated \xC3") == "truncated " + kReplacement);
  CHECK(xml_escape("\xE2\x82" "x") == repeat(kReplacement, 2) + "x");
  CHECK(xml_escape("overlong \xC0\xAF") == "overlong " + repeat(kReplacement, 2));
  CHECK(xml_escape("surrogate \xED\xA0\x80") == "surrogate " + repeat(kReplacement, 3));
  CHECK(xml_escape("beyond \xF4\x90\x80\x80") == "beyond " + repeat(kReplacement, 4));
  CHECK(xml_escape("stray \x80<") == "stray " + kReplacement + "&lt;");
}

TEST_CASE("twiml_response is an empty Response for no message or an empty message") {
  const std::string empty = kDeclaration + "<Response/>";
  CHECK(twiml_response(std::nullopt) == empty);
  CHECK(twiml_response(std::string()) == empty);
  CHECK(empty == R"(<?xml version="1.0" encoding="UTF-8"?><Response/>)");
}

TEST_CASE("twiml_response puts the escaped message in Response and Message") {
  CHECK(twiml_response("Tom & Jerry say <hi> \"it's\"") ==
        R"(<?xml version="1.0" encoding="UTF-8"?><Response><Message>)"
        "Tom &amp; Jerry say &lt;hi&gt; &quot;it&apos;s&quot;</Message></Response>");
  CHECK(twiml_response("Café 😀") == kDeclaration + "<Response><Message>Café 😀</Message></Response>");
}

TEST_CASE("twiml_response starts with the XML declaration even for a message of whitespace") {
  const std::string twiml = twiml_response("  ");
  CHECK(twiml.rfind("<?xml", 0) == 0);
  CHECK(twiml == kDeclaration + "<Response><Message>  </Message></Response>");
}

// ---- CSV ----

TEST_CASE("parse_csv reads records with their fields and 1-based line numbers") {
  const auto rows = parse_ok("phone_number,email\n+15145550100,a@example.com\n4388290590,b@x.org\n");
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].line == 1);
  CHECK(rows[0].fields == Fields{"phone_number", "email"});
  CHECK(rows[1].line == 2);
  CHECK(rows[1].fields == Fields{"+15145550100", "a@example.com"});
  CHECK(rows[2].line == 3);
  CHECK(rows[2].fields == Fields{"4388290590", "b@x.org"});
}

TEST_CASE("parse_csv returns no rows for empty input or a lone byte order mark") {
  CHECK(parse_ok("").empty());
  CHECK(parse_ok("\xEF\xBB\xBF").empty());
  CHECK(parse_ok("\n\r\n  \n").empty());
}

TEST_CASE("parse_csv keeps a comma inside a quoted field") {
  const auto rows = parse_ok("name,phone\n\"Smith, Anna\",+15145550100\n");
  REQUIRE(rows.size() == 2);
  CHECK(rows[1].fields == Fields{"Smith, Anna", "+15145550100"});
}

TEST_CASE("parse_csv turns a doubled quote inside a quoted field into one quote") {
  const auto rows = parse_ok(R"("say ""hi""","""",x)");
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].fields == Fields{"say \"hi\"", "\"", "x"});
}

TEST_CASE("parse_csv keeps newlines inside quoted fields and numbers later records by physical line") {
  const auto rows = parse_ok("id,note\n1,\"first\nsecond\nthird\"\n2,plain\n3,\"a\n\nb\"\n4,last\n");
  REQUIRE(rows.size() == 5);
  CHECK(rows[1].line == 2);
  CHECK(rows[1].fields == Fields{"1", "first\nsecond\nthird"});
  CHECK(rows[2].line == 5);
  CHECK(rows[2].fields == Fields{"2", "plain"});
  CHECK(rows[3].line == 6);
  CHECK(rows[3].fields == Fields{"3", "a\n\nb"});
  CHECK(rows[4].line == 9);
  CHECK(rows[4].fields == Fields{"4", "last"});
}

TEST_CASE("parse_csv accepts CRLF line ends and keeps a CRLF inside a quoted field verbatim") {
  const auto rows = parse_ok("a,b\r\n\"x\r\ny\",z\r\nlast,row\r\n");
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].fields == Fields{"a", "b"});
  CHECK(rows[1].fields == Fields{"x\r\ny", "z"});
  CHECK(rows[2].line == 4);
  CHECK(rows[2].fields == Fields{"last", "row"});
}

TEST_CASE("parse_csv skips a UTF-8 byte order mark at the start of the text only") {
  const auto rows = parse_ok("\xEF\xBB\xBFphone_number\n\xEF\xBB\xBFx\n");
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].fields == Fields{"phone_number"});
  CHECK(rows[0].line == 1);
  CHECK(rows[1].fields == Fields{"\xEF\xBB\xBFx"});
}

TEST_CASE("parse_csv skips empty and whitespace-only lines but still counts them") {
  const auto rows = parse_ok("\nh1,h2\n\n   \n\t\r\nv1,v2\n\n");
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].line == 2);
  CHECK(rows[0].fields == Fields{"h1", "h2"});
  CHECK(rows[1].line == 6);
  CHECK(rows[1].fields == Fields{"v1", "v2"});
}

TEST_CASE("parse_csv keeps a line of empty fields or a quoted empty field, which are not blank") {
  const auto rows = parse_ok(",\n\"\"\n");
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].fields == Fields{"", ""});
  CHECK(rows[1].fields == Fields{""});
}

TEST_CASE("parse_csv reads the last record with or without a trailing line end") {
  for (const std::string ending : {"", "\n", "\r\n"}) {
    INFO("ending: " << ending.size() << " bytes");
    const auto rows = parse_ok("a,b\nc,d" + ending);
    REQUIRE(rows.size() == 2);
    CHECK(rows[1].fields == Fields{"c", "d"});
  }
  const auto quoted_last = parse_ok("a,\"b\"");
  REQUIRE(quoted_last.size() == 1);
  CHECK(quoted_last[0].fields == Fields{"a", "b"});
}

TEST_CASE("parse_csv keeps empty fields, including leading and trailing ones") {
  const auto rows = parse_ok(",a,,b,\nx,\n");
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].fields == Fields{"", "a", "", "b", ""});
  CHECK(rows[1].fields == Fields{"x", ""});
}

TEST_CASE("parse_csv keeps whitespace around unquoted fields for the caller to trim") {
  const auto rows = parse_ok(" a , b\t,c \n");
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].fields == Fields{" a ", " b\t", "c "});
}

TEST_CASE("parse_csv keeps multi-byte UTF-8 in fields unchanged") {
  const auto rows = parse_ok("José Ñúñez,\"Zoë, 日本\"\n");
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].fields == Fields{"José Ñúñez", "Zoë, 日本"});
}

TEST_CASE("parse_csv reports an unterminated quoted field with the line where it opened") {
  CHECK(parse_error("a,b\nc,d\n\"never closed,x\ny\nz\n") == "line 3: unterminated quoted field");
  CHECK(parse_error("h\n1\n2\n3\n4\n5\n\"oops") == "line 7: unterminated quoted field");
  CHECK(parse_error("\"") == "line 1: unterminated quoted field");
}

TEST_CASE("parse_csv reports a quote inside an unquoted field with its line") {
  CHECK(parse_error("a,b\nc,d\nsay \"hi\",x\n") == "line 3: unexpected quote in unquoted field");
  CHECK(parse_error("a, \"spaced\"\n") == "line 1: unexpected quote in unquoted field");
  CHECK(parse_error("\"multi\nline\",ab\"c\n") == "line 2: unexpected quote in unquoted field");
}

TEST_CASE("parse_csv reports text after a closing quote with its line") {
  CHECK(parse_error("ok\n\"abc\"def,x\n") == "line 2: unexpected character after closing quote");
  CHECK(parse_error("\"abc\" ,x\n") == "line 1: unexpected character after closing quote");
}

// ---- SMS segments ----

TEST_CASE("count_segments counts an empty body as one GSM-7 segment of zero units") {
  const auto info = count_segments("");
  CHECK(info.encoding == SmsEncoding::kGsm7);
  CHECK(info.units == 0);
  CHECK(info.segments == 1);
}

TEST_CASE("count_segments fits 160 GSM-7 characters in one segment and needs two for 161") {
  CHECK(count_segments(repeat("a", 160)).segments == 1);
  const auto info = count_segments(repeat("a", 161));
  CHECK(info.encoding == SmsEncoding::kGsm7);
  CHECK(info.units == 161);
  CHECK(info.segments == 2);
}

TEST_CASE("count_segments puts 153 septets in each part of a long GSM-7 text") {
  CHECK(count_segments(repeat("x", 306)).segments == 2);
  CHECK(count_segments(repeat("x", 307)).segments == 3);
  CHECK(count_segments(repeat("x", 459)).segments == 3);
  CHECK(count_segments(repeat("x", 460)).segments == 4);
}

TEST_CASE("count_segments counts every character of the GSM-7 basic table as one septet") {
  const std::string table =
      "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
      "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  const auto info = count_segments(table);
  CHECK(info.encoding == SmsEncoding::kGsm7);
  CHECK(info.units == 127);
}

TEST_CASE("count_segments counts each GSM-7 extension character as two septets") {
  for (const std::string c : {"\f", "^", "{", "}", "\\", "[", "~", "]", "|", "€"}) {
    INFO("character: " << c);
    const auto info = count_segments(c);
    CHECK(info.encoding == SmsEncoding::kGsm7);
    CHECK(info.units == 2);
  }
  CHECK(count_segments(repeat("€", 80)).segments == 1);
  CHECK(count_segments(repeat("€", 80) + "a").segments == 2);
  CHECK(count_segments("a[b]").units == 6);
}

TEST_CASE("count_segments keeps é in GSM-7 but makes ê UCS-2") {
  const auto e_acute = count_segments("é");
  CHECK(e_acute.encoding == SmsEncoding::kGsm7);
  CHECK(e_acute.units == 1);
  const auto e_circumflex = count_segments("ê");
  CHECK(e_circumflex.encoding == SmsEncoding::kUcs2);
  CHECK(e_circumflex.units == 1);
}

TEST_CASE("count_segments treats characters missing from GSM-7 as UCS-2") {
  for (const std::string c : {"`", "\x1B", "\t", "á", "ç", "Ç", "Ā", "€ê", "日"}) {
    INFO("text: " << c);
    const bool only_gsm7 = c == "Ç";
    CHECK((count_segments(c).encoding == SmsEncoding::kGsm7) == only_gsm7);
  }
}

TEST_CASE("count_segments makes the whole text UCS-2 for one emoji, counted as two units") {
  const auto info = count_segments(repeat("a", 100) + "😀");
  CHECK(info.encoding == SmsEncoding::kUcs2);
  CHECK(info.units == 102);
  CHECK(info.segments == 2);
}

TEST_CASE("count_segments counts extension characters as one unit once the text is UCS-2") {
  const auto info = count_segments("{€}ê");
  CHECK(info.encoding == SmsEncoding::kUcs2);
  CHECK(info.units == 4);
}

TEST_CASE("count_segments fits 70 UCS-2 units in one segment and 67 in each part") {
  CHECK(count_segments(repeat("ê", 70)).segments == 1);
  CHECK(count_segments(repeat("ê", 71)).segments == 2);
  CHECK(count_segments(repeat("ê", 134)).segments == 2);
  CHECK(count_segments(repeat("ê", 135)).segments == 3);
}

TEST_CASE("count_segments counts characters above U+FFFF as two UTF-16 units") {
  const auto thirty_five = count_segments(repeat("😀", 35));
  CHECK(thirty_five.units == 70);
  CHECK(thirty_five.segments == 1);
  const auto thirty_six = count_segments(repeat("😀", 36));
  CHECK(thirty_six.units == 72);
  CHECK(thirty_six.segments == 2);
  CHECK(count_segments("日本").units == 2);
}

TEST_CASE("count_segments counts invalid UTF-8 as the UCS-2 replacement character") {
  const auto info = count_segments("ab\xFF");
  CHECK(info.encoding == SmsEncoding::kUcs2);
  CHECK(info.units == 3);
}

// ---- Splitting ----

TEST_CASE("split_message returns one empty part for empty text") {
  CHECK(split_message("", 10) == Fields{""});
}

TEST_CASE("split_message returns text within the limit as one unchanged part") {
  CHECK(split_message("hello world", 11) == Fields{"hello world"});
  CHECK(split_message("  padded  ", 10) == Fields{"  padded  "});
  CHECK(split_message("日本語", 3) == Fields{"日本語"});
}

TEST_CASE("split_message breaks at the last whitespace within the limit") {
  CHECK(split_message("aaa bbb ccc", 7) == Fields{"aaa bbb", "ccc"});
  CHECK(split_message("one two three four", 9) == Fields{"one two", "three", "four"});
}

TEST_CASE("split_message breaks at whitespace just past the limit to fill a part") {
  CHECK(split_message("aaaa bbbb", 4) == Fields{"aaaa", "bbbb"});
}

TEST_CASE("split_message trims the whitespace at each break and at the ends of a long text") {
  CHECK(split_message("one   two\n\nthree", 5) == Fields{"one", "two", "three"});
  CHECK(split_message("  aaa \t bbb  ", 3) == Fields{"aaa", "bbb"});
}

TEST_CASE("split_message returns one empty part for whitespace longer than the limit") {
  CHECK(split_message("      ", 3) == Fields{""});
}

TEST_CASE("split_message cuts a word longer than the limit at the limit") {
  CHECK(split_message("abcdefghij", 4) == Fields{"abcd", "efgh", "ij"});
  CHECK(split_message("hi abcdefghij ok", 4) == Fields{"hi", "abcd", "efgh", "ij", "ok"});
}

TEST_CASE("split_message counts code points, not bytes") {
  CHECK(split_message("été à Noël", 5) == Fields{"été à", "Noël"});
}

TEST_CASE("split_message never splits a multi-byte character") {
  CHECK(split_message("ééééé", 2) == Fields{"éé", "éé", "é"});
  CHECK(split_message("😀😀😀", 2) == Fields{"😀😀", "😀"});

  const std::string mixed = "aé😀日bΩ€ß";
  for (std::size_t max_chars = 1; max_chars <= 8; ++max_chars) {
    INFO("max_chars: " << max_chars);
    const auto parts = split_message(mixed, max_chars);
    CHECK(join(parts, "") == mixed);
    // A cut inside a sequence would leave invalid bytes, each counted as a code point.
    CHECK(total_length(parts) == utf8_length(mixed));
    for (const auto& part : parts) CHECK(utf8_length(part) <= max_chars);
  }
}

TEST_CASE("split_message treats a zero limit as one character per part") {
  CHECK(split_message("ab", 0) == Fields{"a", "b"});
}

TEST_CASE("split_message keeps every word of a long text, in order, in parts within the limit") {
  const std::string text = generated_text(5000);
  REQUIRE(utf8_length(text) >= 5000);

  const auto parts = split_message(text, 1600);
  CHECK(parts.size() >= 4);
  for (const auto& part : parts) {
    CHECK(utf8_length(part) <= 1600);
    CHECK_FALSE(part.empty());
  }
  CHECK(join(parts, " ") == text);
  CHECK(words_of(join(parts, " ")) == words_of(text));
}

TEST_CASE("split_message keeps every word of a long text with irregular whitespace") {
  std::string text;
  for (int i = 0; i < 400; ++i) text += "word" + std::to_string(i) + (i % 7 == 0 ? "\n\n" : "  ");
  const auto parts = split_message(text, 160);
  for (const auto& part : parts) CHECK(utf8_length(part) <= 160);
  CHECK(words_of(join(parts, " ")) == words_of(text));
}

// ---- Code points ----

TEST_CASE("utf8_length counts code points and each invalid byte as one") {
  CHECK(utf8_length("") == 0);
  CHECK(utf8_length("abc") == 3);
  CHECK(utf8_length("é€😀") == 3);
  CHECK(utf8_length("a\xFF\xFE" "b") == 4);
  CHECK(utf8_length("\xC3") == 1);
  CHECK(utf8_length("\xF0\x9F\x98") == 3);
}

#include "app/twilio/twiml.hpp"

#include "util/utf8.hpp"

namespace smsr {
namespace {

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

}  // namespace smsr

// TwiML, the XML a webhook answers Twilio with.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace smsr {

// Escapes text for XML element content and attributes: & < > " ' ; drops characters not
// allowed in XML 1.0 (control characters other than tab, newline, carriage return).
std::string xml_escape(std::string_view text);

// "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>" when `message` is empty/nullopt,
// otherwise the same with <Response><Message>escaped</Message></Response>. Never starts
// with whitespace (Twilio error 12100).
std::string twiml_response(const std::optional<std::string>& message);

}  // namespace smsr

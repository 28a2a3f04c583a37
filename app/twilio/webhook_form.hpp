// What Twilio's webhook forms must hold to be read at all: the checks both webhooks share
// after the signature (SPEC "Every request gets an answer").
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "app/twilio/signature.hpp"

namespace smsr {

inline constexpr int kMaxNumMedia = 10;  // Twilio attaches at most ten media to a message

// The first value of `name`, or "" when absent.
const std::string& form_value(const FormFields& fields, std::string_view name);

// A one-line reason when the form cannot be a Twilio message: a value that is not valid
// UTF-8, a NumMedia that is not 0 to 10, a MediaUrlN missing for N below NumMedia, a
// MessageSid (SM or MM...) or AccountSid (AC...) of the wrong shape. nullopt when fine.
std::optional<std::string> webhook_form_problem(const FormFields& fields);

// Twilio's resource ids are a two-letter prefix and 32 hex digits. Test set-ups and other
// gateways use shorter ones, so the check is the prefix, then 1 to 62 letters, digits, '-'
// or '_': nothing that could be a URL, a quote or a control character.
bool is_sid_shaped(std::string_view sid, std::string_view prefix);

}  // namespace smsr

#include "app/twilio/webhook_form.hpp"

#include "util/strings.hpp"
#include "util/utf8.hpp"

namespace smsr {
namespace {

bool valid_utf8(std::string_view text) {
  bool valid = true;
  for_each_code_point(text, [&valid](const CodePoint& c, std::string_view) { valid = valid && c.valid; });
  return valid;
}

}  // namespace

const std::string& form_value(const FormFields& fields, std::string_view name) {
  static const std::string kEmpty;
  for (const auto& [k, v] : fields) {
    if (k == name) return v;
  }
  return kEmpty;
}

bool is_sid_shaped(std::string_view sid, std::string_view prefix) {
  if (!sid.starts_with(prefix)) return false;
  const std::string_view rest = sid.substr(prefix.size());
  if (rest.empty() || rest.size() > 62) return false;
  for (char c : rest) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::optional<std::string> webhook_form_problem(const FormFields& fields) {
  for (const auto& [name, value] : fields) {
    if (!valid_utf8(name) || !valid_utf8(value)) {
      return "form field " + (valid_utf8(name) ? name : std::string("name")) + " is not valid UTF-8";
    }
  }
  int num_media = 0;
  if (const std::string& text = form_value(fields, "NumMedia"); !text.empty()) {
    if (!is_digits(text) || text.size() > 2 || std::stoi(text) > kMaxNumMedia) {
      return "NumMedia must be a whole number from 0 to 10";
    }
    num_media = std::stoi(text);
  }
  for (int i = 0; i < num_media; ++i) {
    if (form_value(fields, "MediaUrl" + std::to_string(i)).empty()) {
      return "MediaUrl" + std::to_string(i) + " missing (NumMedia is " + std::to_string(num_media) + ")";
    }
  }
  std::string sid = form_value(fields, "MessageSid");
  if (sid.empty()) sid = form_value(fields, "SmsMessageSid");
  if (!sid.empty() && !is_sid_shaped(sid, "SM") && !is_sid_shaped(sid, "MM")) {
    return "MessageSid is not a message id (SM... or MM...)";
  }
  if (const std::string& account = form_value(fields, "AccountSid"); !account.empty() && !is_sid_shaped(account, "AC")) {
    return "AccountSid is not an account id (AC...)";
  }
  return std::nullopt;
}

}  // namespace smsr

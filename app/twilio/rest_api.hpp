// Twilio's REST API for sending SMS (SPEC "Sending"): one interface in front of it, so
// tests point it at a fake Twilio that is a real HTTP server (twilio.api_base_url).
#pragma once

#include <memory>
#include <string>

#include "config/config.hpp"

namespace smsr {

struct SendRequest {
  std::string from;
  std::string to;
  std::string body;
  std::string status_callback;  // URL Twilio posts delivery status to
};

struct SendResult {
  enum class Kind {
    kAccepted,   // Twilio created the message: `sid`, `status`
    kRetryable,  // 429, 5xx, network error, 21611 (queue full): try again later
    kOptedOut,   // 21610: the recipient has opted out; never retry
    kRejected,   // any other 4xx: bad number, landline, permissions... never retry
  };
  Kind kind = Kind::kRejected;
  std::string sid;
  std::string status;
  int error_code = 0;  // Twilio's error code, when it gave one
  std::string error;   // for logs: HTTP status, code and Twilio's message; never the token
};

class TwilioApi {
 public:
  virtual ~TwilioApi() = default;
  // One attempt to create a message. Thread-safe.
  virtual SendResult send(const SendRequest& request) = 0;
};

std::unique_ptr<TwilioApi> make_twilio_api(const TwilioConfig& config);

}  // namespace smsr

// The paths Twilio calls on the router: the inbound-message webhook and the status callback.
// The HTTP server serves them, the sender names the second as StatusCallback, and
// `sms-router simulate` posts to the first.
#pragma once

namespace smsr {

inline constexpr const char* kSmsWebhookPath = "/sms-router/webhook/sms";
inline constexpr const char* kStatusWebhookPath = "/sms-router/webhook/status";

}  // namespace smsr

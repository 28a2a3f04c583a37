// Twilio's error codes that change what the router does (https://www.twilio.com/docs/api/errors).
#pragma once

namespace smsr::twilio_error {

// "Attempt to send to unsubscribed recipient": the number opted out (STOP) with the carrier
// or Twilio. Marks it opted out; never retried.
inline constexpr int kUnsubscribedRecipient = 21610;
// The From number has too many messages queued: worth another attempt later.
inline constexpr int kQueueOverflow = 21611;

}  // namespace smsr::twilio_error

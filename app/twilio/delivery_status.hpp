// Twilio's delivery statuses (status callbacks) and their order. Callbacks arrive out of
// order, so only a status of higher rank than the one recorded may replace it.
#pragma once

#include <string>
#include <string_view>

namespace smsr {

// accepted/scheduled < queued < sending < sent < delivered|undelivered|failed|canceled|read;
// -1 for a status Twilio does not document.
int delivery_status_rank(std::string_view status);

// The central sms_usage_logs.final_status for a Twilio status: unknown, sent, delivered,
// failed or undelivered.
std::string final_status_for(std::string_view status);

}  // namespace smsr

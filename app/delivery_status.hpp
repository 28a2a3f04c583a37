// Twilio's delivery statuses (status callbacks). Callbacks arrive out of order, so only a
// status of higher rank than the one recorded replaces it.
#pragma once

#include <string>
#include <string_view>

namespace smsr {

class Store;

// accepted/scheduled < queued < sending < sent < delivered|undelivered|failed|canceled|read;
// -1 for a status Twilio does not document.
int delivery_status_rank(std::string_view status);

// The central sms_usage_logs.final_status for a Twilio status: unknown, sent, delivered,
// failed or undelivered.
std::string final_status_for(std::string_view status);

enum class StatusUpdate { kApplied, kStale, kUnknownMessage };

// Records one status callback. ErrorCode 21610 also marks the recipient opted out.
StatusUpdate record_status_callback(Store& store, const std::string& message_sid, const std::string& status,
                                    int error_code);

}  // namespace smsr

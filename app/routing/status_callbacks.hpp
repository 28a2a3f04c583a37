// Twilio's status callbacks, recorded on the outgoing message and its usage log; a status
// never replaces one of higher rank (app/twilio/delivery_status.hpp).
#pragma once

#include <string>

namespace smsr {

class Store;

enum class StatusUpdate { kApplied, kStale, kUnknownMessage };

// Records one status callback. ErrorCode 21610 also marks the recipient opted out.
StatusUpdate record_status_callback(Store& store, const std::string& message_sid, const std::string& status,
                                    int error_code);

}  // namespace smsr

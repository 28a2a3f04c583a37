#include "app/routing/status_callbacks.hpp"

#include "app/twilio/delivery_status.hpp"
#include "app/twilio/error_codes.hpp"
#include "storage/store.hpp"

namespace smsr {

StatusUpdate record_status_callback(Store& store, const std::string& message_sid, const std::string& status,
                                    int error_code) {
  return store.write([&](WriteTxn& txn) {
    auto message = txn.find_outbound_by_sid(message_sid);
    if (!message) return StatusUpdate::kUnknownMessage;
    if (error_code == twilio_error::kUnsubscribedRecipient) txn.set_opted_out(message->to_number, true);
    int rank = delivery_status_rank(status);
    if (rank < 0 || rank <= delivery_status_rank(message->delivery_status)) return StatusUpdate::kStale;
    txn.set_delivery_status(message->id, status, final_status_for(status), error_code);
    return StatusUpdate::kApplied;
  });
}

}  // namespace smsr

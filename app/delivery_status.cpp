#include "app/delivery_status.hpp"

#include "storage/store.hpp"

namespace smsr {

int delivery_status_rank(std::string_view status) {
  if (status == "accepted" || status == "scheduled") return 0;
  if (status == "queued") return 1;
  if (status == "sending") return 2;
  if (status == "sent") return 3;
  if (status == "delivered" || status == "undelivered" || status == "failed" || status == "canceled" ||
      status == "read" || status == "partially_delivered") {
    return 4;
  }
  return -1;
}

std::string final_status_for(std::string_view status) {
  if (status == "sent") return "sent";
  if (status == "delivered" || status == "read") return "delivered";
  if (status == "undelivered" || status == "partially_delivered") return "undelivered";
  if (status == "failed" || status == "canceled") return "failed";
  return "unknown";
}

StatusUpdate record_status_callback(Store& store, const std::string& message_sid, const std::string& status,
                                    int error_code) {
  return store.write([&](WriteTxn& txn) {
    auto message = txn.find_outbound_by_sid(message_sid);
    if (!message) return StatusUpdate::kUnknownMessage;
    if (error_code == 21610) txn.set_opted_out(message->to_number, true);
    int rank = delivery_status_rank(status);
    if (rank < 0 || rank <= delivery_status_rank(message->delivery_status)) return StatusUpdate::kStale;
    txn.set_delivery_status(message->id, status, final_status_for(status), error_code);
    return StatusUpdate::kApplied;
  });
}

}  // namespace smsr

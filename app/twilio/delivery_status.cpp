#include "app/twilio/delivery_status.hpp"

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

}  // namespace smsr

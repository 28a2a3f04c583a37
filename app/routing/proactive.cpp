#include "app/routing/proactive.hpp"

#include "app/routing/sender.hpp"
#include "core/log.hpp"
#include "core/phone.hpp"
#include "storage/store.hpp"
#include "util/utf8.hpp"

namespace smsr {

namespace {
// Ten parts of 1,600 characters (Twilio's limit): longer than any sensible proactive SMS.
constexpr std::size_t kMaxProactiveChars = 10 * 1600;
}  // namespace

ProactiveResult send_proactive(Store& store, Sender& sender, const Config& config, UserId user_id,
                               const std::string& body) {
  using Kind = ProactiveResult::Kind;
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return {Kind::kInvalid, "body is empty", {}};
  if (utf8_length(body) > kMaxProactiveChars) {
    return {Kind::kInvalid, "body is longer than " + std::to_string(kMaxProactiveChars) + " characters", {}};
  }
  auto user = store.user(user_id);
  if (!user) return {Kind::kNoSuchUser, "no user with id " + std::to_string(user_id), {}};
  const std::string& to = user->user.phone_number;
  if (!user->user.active) return {Kind::kNotDeliverable, "the user is inactive", {}};
  if (to.empty()) return {Kind::kNotDeliverable, "the user has no primary phone number", {}};
  if (config.twilio.numbers.empty()) {
    return {Kind::kNotDeliverable, "no router number to send from: set twilio.numbers", {}};
  }
  if (store.is_opted_out(to)) {
    return {Kind::kNotDeliverable, "the user has opted out (STOP); nothing is sent until they text START", {}};
  }
  OutgoingSms sms;
  sms.user_id = user_id;
  sms.to = to;
  sms.from = config.twilio.numbers.front();
  sms.body = body;
  sms.kind = OutgoingKind::kProactive;
  auto max_chars = static_cast<std::size_t>(config.limits.max_message_chars);
  auto ids = store.write([&](WriteTxn& txn) { return queue_outgoing(txn, sms, max_chars); });
  sender.schedule(to, ids);
  LOG_INFO("sms.proactive_queued", {"user_id", user_id}, {"to", redact_phone(to)}, {"parts", ids.size()});
  return {Kind::kQueued, "", ids};
}

}  // namespace smsr

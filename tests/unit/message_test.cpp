#include "core/message.hpp"

#include <set>
#include <string>

#include <catch2/catch.hpp>

#include "app/routing/metrics.hpp"

using namespace smsr;

namespace {

template <class Word>
void check_round_trip(std::initializer_list<Word> words, std::optional<Word> (*from_text)(std::string_view)) {
  std::set<std::string> texts;
  for (Word word : words) {
    const std::string text(to_text(word));
    INFO("text: " << text);
    CHECK(text != "?");
    CHECK(texts.insert(text).second);  // one text per word
    CHECK(from_text(text) == word);
  }
}

}  // namespace

TEST_CASE("each outcome and state has one text and reads back from it") {
  check_round_trip({Outcome::kRouted, Outcome::kUnknown, Outcome::kInactive, Outcome::kAmbiguous, Outcome::kOptOut,
                    Outcome::kOptIn, Outcome::kHelp, Outcome::kOptedOut, Outcome::kRateLimited, Outcome::kSpam},
                   outcome_from_text);
  check_round_trip({InboundState::kPending, InboundState::kDone, InboundState::kFailed}, inbound_state_from_text);
  check_round_trip({OutboundState::kQueued, OutboundState::kSending, OutboundState::kSent, OutboundState::kFailed},
                   outbound_state_from_text);
  CHECK(to_text(Outcome::kRouted) == "routed");
  CHECK(to_text(Outcome::kOptedOut) == "opted_out");
  CHECK(to_text(InboundState::kPending) == "pending");
  CHECK(to_text(OutboundState::kSending) == "sending");
  CHECK(to_text(OutgoingKind::kErrorReply) == "error_reply");
}

TEST_CASE("text the router never writes is no word") {
  CHECK_FALSE(outcome_from_text("Routed"));
  CHECK_FALSE(outcome_from_text(""));
  CHECK_FALSE(outcome_from_text("duplicate"));  // a webhook outcome, not a stored one
  CHECK_FALSE(inbound_state_from_text("queued"));
  CHECK_FALSE(outbound_state_from_text("pending"));
}

TEST_CASE("every stored outcome is a label of the webhook counter") {
  const std::set<std::string_view> labels(kWebhookOutcomes.begin(), kWebhookOutcomes.end());
  for (Outcome outcome : {Outcome::kRouted, Outcome::kUnknown, Outcome::kInactive, Outcome::kAmbiguous,
                          Outcome::kOptOut, Outcome::kOptIn, Outcome::kHelp, Outcome::kOptedOut,
                          Outcome::kRateLimited, Outcome::kSpam}) {
    INFO(to_text(outcome));
    CHECK(labels.count(to_text(outcome)) == 1);
  }
}

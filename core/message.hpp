// The words for what happens to a message, shared by the domain and the store. Each word has
// one text form, defined once here: what the database stores, what usage logs and the log
// carry, what metrics count.
#pragma once

#include <optional>
#include <string_view>

namespace smsr {

// Why an inbound message did or did not reach an agent.
enum class Outcome {
  kRouted,       // queued for its user's agent
  kUnknown,      // nobody has the number
  kInactive,     // the user is disabled
  kAmbiguous,    // two users claim the number and neither has it as primary
  kOptOut,       // STOP and its synonyms
  kOptIn,        // START/YES/UNSTOP from a number that had opted out
  kHelp,         // HELP/INFO
  kOptedOut,     // the sender had opted out earlier
  kRateLimited,  // over limits.per_sender_per_minute
  kSpam,         // the spam filter's verdict
};

// Where an inbound message is: waiting for (or at) its agent, or finished.
enum class InboundState { kPending, kDone, kFailed };

// Where an outgoing message is in the REST queue.
enum class OutboundState {
  kQueued,   // waiting for its turn (or for a retry)
  kSending,  // an attempt is under way (a crash mid-call leaves it so)
  kSent,     // Twilio accepted it
  kFailed,   // given up
};

// Why the router sends a message: the agent's reply, replies.error after a final agent
// failure, or a message the organisation sends first.
enum class OutgoingKind { kReply, kErrorReply, kProactive };

std::string_view to_text(Outcome outcome);
std::string_view to_text(InboundState state);
std::string_view to_text(OutboundState state);
std::string_view to_text(OutgoingKind kind);

// The word a text names; nullopt for text the router never writes.
std::optional<Outcome> outcome_from_text(std::string_view text);
std::optional<InboundState> inbound_state_from_text(std::string_view text);
std::optional<OutboundState> outbound_state_from_text(std::string_view text);

}  // namespace smsr

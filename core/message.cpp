#include "core/message.hpp"

#include <array>
#include <utility>

namespace smsr {
namespace {

template <class Word, std::size_t N>
using Names = std::array<std::pair<Word, std::string_view>, N>;

constexpr Names<Outcome, 10> kOutcomes = {{
    {Outcome::kRouted, "routed"},
    {Outcome::kUnknown, "unknown"},
    {Outcome::kInactive, "inactive"},
    {Outcome::kAmbiguous, "ambiguous"},
    {Outcome::kOptOut, "opt_out"},
    {Outcome::kOptIn, "opt_in"},
    {Outcome::kHelp, "help"},
    {Outcome::kOptedOut, "opted_out"},
    {Outcome::kRateLimited, "rate_limited"},
    {Outcome::kSpam, "spam"},
}};

constexpr Names<InboundState, 3> kInboundStates = {{
    {InboundState::kPending, "pending"},
    {InboundState::kDone, "done"},
    {InboundState::kFailed, "failed"},
}};

constexpr Names<OutboundState, 4> kOutboundStates = {{
    {OutboundState::kQueued, "queued"},
    {OutboundState::kSending, "sending"},
    {OutboundState::kSent, "sent"},
    {OutboundState::kFailed, "failed"},
}};

constexpr Names<OutgoingKind, 3> kOutgoingKinds = {{
    {OutgoingKind::kReply, "reply"},
    {OutgoingKind::kErrorReply, "error_reply"},
    {OutgoingKind::kProactive, "proactive"},
}};

template <class Word, std::size_t N>
std::string_view text_of(const Names<Word, N>& names, Word word) {
  for (const auto& [w, text] : names) {
    if (w == word) return text;
  }
  return "?";  // unreachable: every enumerator is in its table (see the unit test)
}

template <class Word, std::size_t N>
std::optional<Word> word_of(const Names<Word, N>& names, std::string_view text) {
  for (const auto& [word, t] : names) {
    if (t == text) return word;
  }
  return std::nullopt;
}

}  // namespace

std::string_view to_text(Outcome outcome) { return text_of(kOutcomes, outcome); }
std::string_view to_text(InboundState state) { return text_of(kInboundStates, state); }
std::string_view to_text(OutboundState state) { return text_of(kOutboundStates, state); }
std::string_view to_text(OutgoingKind kind) { return text_of(kOutgoingKinds, kind); }

std::optional<Outcome> outcome_from_text(std::string_view text) { return word_of(kOutcomes, text); }
std::optional<InboundState> inbound_state_from_text(std::string_view text) { return word_of(kInboundStates, text); }
std::optional<OutboundState> outbound_state_from_text(std::string_view text) {
  return word_of(kOutboundStates, text);
}

}  // namespace smsr

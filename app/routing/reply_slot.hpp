// The meeting point of a webhook waiting for a reply to answer inline, and the dispatcher
// producing that reply. Exactly one of them decides how the reply travels: if the
// dispatcher claims the slot before the webhook gives up, the reply goes out as TwiML;
// otherwise it is sent later through Twilio's REST API.
//
// Nobody blocks on a slot: the webhook's side is a callback that runs exactly once, on the
// thread of whoever settles the slot (the dispatcher's fulfil() or release(), or the
// webhook's own give_up() at its deadline).
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace smsr {

class ReplySlot {
 public:
  struct Inline {
    std::optional<std::string> text;  // nullopt: the agent chose not to reply
  };
  // The inline reply, or nullopt when there is none to give (given up, or released).
  using Settled = std::function<void(std::optional<Inline>)>;

  // Webhook side: `settled` is called once the slot settles. Set before the slot is shared.
  explicit ReplySlot(Settled settled = nullptr) : settled_(std::move(settled)) {}

  // Webhook side, at its deadline: true if the slot was still waiting (it is then settled
  // with nullopt and the dispatcher will send the reply by REST). False once claimed: the
  // reply is being recorded, which takes one commit, and fulfil() follows.
  bool give_up() { return settle_if(State::kWaiting, std::nullopt); }

  // Webhook side, when even a claimed reply took too long to be recorded: settles with
  // nullopt unless that has happened.
  void abandon() { settle_if(State::kClaimed, std::nullopt); }

  // Dispatcher side: true if the webhook is still waiting; the caller must then fulfil().
  bool claim() {
    std::lock_guard lock(mu_);
    if (state_ != State::kWaiting) return false;
    state_ = State::kClaimed;
    return true;
  }

  // The message will not reach an agent (not routed, a duplicate, not stored): the
  // webhook need not wait.
  void release() { settle_if(State::kWaiting, std::nullopt); }

  void fulfil(std::optional<std::string> text) { settle_if(State::kClaimed, Inline{std::move(text)}); }

 private:
  enum class State { kWaiting, kClaimed, kSettled };

  bool settle_if(State expected, std::optional<Inline> reply) {
    Settled settled;
    {
      std::lock_guard lock(mu_);
      if (state_ != expected) return false;
      state_ = State::kSettled;
      settled = std::move(settled_);
    }
    if (settled) settled(std::move(reply));
    return true;
  }

  std::mutex mu_;
  State state_ = State::kWaiting;  // guarded by mu_
  Settled settled_;                // guarded by mu_; moved out when the slot settles
};

}  // namespace smsr

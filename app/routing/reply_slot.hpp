// The meeting point of a webhook waiting for a reply to answer inline, and the dispatcher
// producing that reply. Exactly one of them decides how the reply travels: if the
// dispatcher claims the slot before the webhook gives up, the reply goes out as TwiML;
// otherwise it is sent later through Twilio's REST API.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>

namespace smsr {

class ReplySlot {
 public:
  struct Inline {
    std::optional<std::string> text;  // nullopt: the agent chose not to reply
  };

  // Webhook side. Waits up to `wait` for the dispatcher. Returns the inline reply, or
  // nullopt after giving the slot up (the dispatcher will then send the reply by REST) or
  // once it was released.
  std::optional<Inline> await(std::chrono::milliseconds wait) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, wait, [&] { return state_ != State::kWaiting; });
    if (state_ == State::kWaiting) {
      state_ = State::kAbandoned;
      return std::nullopt;
    }
    if (state_ == State::kReleased) return std::nullopt;
    // Claimed: the reply is being recorded; that takes one commit, so wait for it.
    cv_.wait_for(lock, std::chrono::seconds(10), [&] { return state_ == State::kFulfilled; });
    if (state_ != State::kFulfilled) return std::nullopt;
    return Inline{text_};
  }

  // Dispatcher side: true if the webhook is still waiting; the caller must then fulfil().
  bool claim() {
    std::lock_guard lock(mu_);
    if (state_ != State::kWaiting) return false;
    state_ = State::kClaimed;
    return true;
  }

  // The message will not reach an agent (not routed, a duplicate, not stored): the
  // webhook need not wait.
  void release() {
    {
      std::lock_guard lock(mu_);
      if (state_ == State::kWaiting) state_ = State::kReleased;
    }
    cv_.notify_all();
  }

  void fulfil(std::optional<std::string> text) {
    {
      std::lock_guard lock(mu_);
      text_ = std::move(text);
      state_ = State::kFulfilled;
    }
    cv_.notify_all();
  }

 private:
  enum class State { kWaiting, kClaimed, kFulfilled, kAbandoned, kReleased };
  std::mutex mu_;
  std::condition_variable cv_;
  State state_ = State::kWaiting;     // guarded by mu_
  std::optional<std::string> text_;  // guarded by mu_
};

}  // namespace smsr

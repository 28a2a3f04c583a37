// The agent: the service that writes a user's reply. One interface, two implementations
// chosen by agent.url: "builtin:echo" (in-process) and an HTTP endpoint (SPEC "The agent
// protocol").
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/domain.hpp"

namespace smsr {

struct AgentMedia {
  std::string url;
  std::string content_type;
};

struct AgentRequest {
  User user;
  std::string message_sid;
  std::string from;
  std::string to;
  std::string body;
  std::vector<AgentMedia> media;
  EpochMs received_ms = 0;
  struct Turn {
    std::string direction;  // inbound | outbound
    std::string body;
    EpochMs at = 0;
  };
  std::vector<Turn> history;  // this user's earlier messages only, oldest first
};

struct AgentResult {
  enum class Kind {
    kReply,      // `reply` holds the text
    kNoReply,    // 204 or {"reply": null}
    kRetryable,  // timeout, connection error, 408, 429, 5xx
    kFailed,     // any other 4xx, or an answer we cannot understand
  };
  Kind kind = Kind::kFailed;
  std::string reply;
  std::string error;  // for logs: status and reason, never the token or the body
};

class Agent {
 public:
  virtual ~Agent() = default;
  // One attempt. Thread-safe; called from many dispatcher threads at once.
  virtual AgentResult call(const AgentRequest& request) = 0;
};

// Builds the agent agent.url names. `timeout_ms` is asked before each call, so a changed
// agent.timeout_ms (central default_response_timeout, SIGHUP) applies at once. Throws
// ConfigError for an unusable URL.
std::unique_ptr<Agent> make_agent(const AgentConfig& config, std::function<int()> timeout_ms);

// The JSON body sent to an HTTP agent (exposed for tests).
std::string agent_request_json(const AgentRequest& request);

}  // namespace smsr

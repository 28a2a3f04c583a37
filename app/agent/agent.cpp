#include "app/agent/agent.hpp"

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "core/log.hpp"
#include "util/per_thread.hpp"
#include "util/time_format.hpp"

namespace smsr {

std::string agent_request_json(const AgentRequest& r) {
  nlohmann::json media = nlohmann::json::array();
  for (const auto& m : r.media) media.push_back({{"url", m.url}, {"content_type", m.content_type}});
  nlohmann::json history = nlohmann::json::array();
  for (const auto& t : r.history) {
    history.push_back({{"direction", t.direction}, {"body", t.body}, {"at", format_iso8601(t.at)}});
  }
  nlohmann::json body = {
      {"user",
       {{"id", r.user.id},
        {"email", r.user.email},
        {"full_name", r.user.full_name},
        {"phone_number", r.user.phone_number}}},
      {"message",
       {{"sid", r.message_sid},
        {"from", r.from},
        {"to", r.to},
        {"body", r.body},
        {"media", media},
        {"received_at", format_iso8601(r.received_ms)}}},
      {"history", history},
  };
  // Replace invalid UTF-8 rather than throw: a user's odd bytes must not fail delivery.
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

namespace {

// Answers with the user's own text: the default, so a fresh install works end to end.
class EchoAgent final : public Agent {
 public:
  AgentResult call(const AgentRequest& request) override {
    AgentResult r;
    r.kind = AgentResult::Kind::kReply;
    r.reply = "Echo: " + request.body;
    return r;
  }
};

struct ParsedUrl {
  std::string base;  // scheme://host[:port]
  std::string path;  // /path?query, may contain {user_id}
};

ParsedUrl parse_agent_url(const std::string& url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos ||
      (url.compare(0, scheme_end, "http") != 0 && url.compare(0, scheme_end, "https") != 0)) {
    throw ConfigError("agent.url \"" + url +
                      "\" must be builtin:echo or an http:// or https:// URL");
  }
  auto path_start = url.find('/', scheme_end + 3);
  ParsedUrl p;
  p.base = url.substr(0, path_start);
  p.path = path_start == std::string::npos ? "/" : url.substr(path_start);
  if (p.base.size() <= scheme_end + 3) throw ConfigError("agent.url \"" + url + "\" has no host");
  return p;
}

std::string replace_all(std::string text, const std::string& what, const std::string& with) {
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + with.size())) {
    text.replace(pos, what.size(), with);
  }
  return text;
}

bool is_retryable_status(int status) { return status == 408 || status == 429 || status >= 500; }

class HttpAgent final : public Agent {
 public:
  HttpAgent(const AgentConfig& config, std::function<int()> timeout_ms)
      : url_(parse_agent_url(config.url)), token_(config.token), timeout_ms_(std::move(timeout_ms)) {}

  AgentResult call(const AgentRequest& request) override {
    httplib::Client& client = client_for_this_thread();
    set_timeouts(client, timeout_ms_());
    httplib::Headers headers = {{"Idempotency-Key", request.message_sid}};
    if (!token_.empty()) headers.emplace("Authorization", "Bearer " + token_);
    // Lets the agent's logs be matched with ours.
    if (!current_request_id().empty()) headers.emplace("X-Request-Id", current_request_id());
    std::string path = replace_all(url_.path, "{user_id}", std::to_string(request.user.id));
    auto res = client.Post(path, headers, agent_request_json(request), "application/json");
    return interpret(res);
  }

 private:
  // httplib clients are not shareable between threads; each dispatcher thread keeps its
  // own, so connections to the agent are reused.
  httplib::Client& client_for_this_thread() {
    return per_thread<httplib::Client>(this, [this] {
      auto client = std::make_unique<httplib::Client>(url_.base);
      client->set_keep_alive(true);
      client->set_tcp_nodelay(true);
      return client;
    });
  }

  static void set_timeouts(httplib::Client& client, int timeout_ms) {
    auto secs = timeout_ms / 1000;
    auto usecs = (timeout_ms % 1000) * 1000;
    client.set_connection_timeout(std::min(secs, 5), secs >= 5 ? 0 : usecs);
    client.set_read_timeout(secs, usecs);
    client.set_write_timeout(secs, usecs);
  }

  static AgentResult interpret(const httplib::Result& res) {
    AgentResult r;
    if (!res) {
      r.kind = AgentResult::Kind::kRetryable;
      r.error = "agent unreachable: " + httplib::to_string(res.error());
      return r;
    }
    int status = res->status;
    if (status == 204) {
      r.kind = AgentResult::Kind::kNoReply;
      return r;
    }
    if (status < 200 || status >= 300) {
      r.kind = is_retryable_status(status) ? AgentResult::Kind::kRetryable : AgentResult::Kind::kFailed;
      r.error = "agent answered HTTP " + std::to_string(status);
      return r;
    }
    auto body = nlohmann::json::parse(res->body, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded() || !body.is_object() || !body.contains("reply")) {
      r.kind = AgentResult::Kind::kFailed;
      r.error = "agent answer is not JSON with a \"reply\" field";
      return r;
    }
    const auto& reply = body["reply"];
    if (reply.is_null() || (reply.is_string() && reply.get<std::string>().empty())) {
      r.kind = AgentResult::Kind::kNoReply;
    } else if (reply.is_string()) {
      r.kind = AgentResult::Kind::kReply;
      r.reply = reply.get<std::string>();
    } else {
      r.kind = AgentResult::Kind::kFailed;
      r.error = "agent \"reply\" is neither a string nor null";
    }
    return r;
  }

  const ParsedUrl url_;
  const std::string token_;
  const std::function<int()> timeout_ms_;
};

}  // namespace

std::unique_ptr<Agent> make_agent(const AgentConfig& config, std::function<int()> timeout_ms) {
  if (config.url == "builtin:echo") return std::make_unique<EchoAgent>();
  return std::make_unique<HttpAgent>(config, std::move(timeout_ms));
}

}  // namespace smsr

#include "app/http/server.hpp"

#include <httplib.h>
#include <sys/socket.h>

#include <nlohmann/json.hpp>

#include "app/http/admin_api.hpp"
#include "app/http/metrics_exposition.hpp"
#include "app/http/routes.hpp"
#include "app/routing/central_sync.hpp"
#include "app/routing/directory.hpp"
#include "app/routing/dispatcher.hpp"
#include "app/routing/inbound.hpp"
#include "app/routing/settings.hpp"
#include "app/routing/status_callbacks.hpp"
#include "app/twilio/signature.hpp"
#include "core/log.hpp"
#include "core/phone.hpp"
#include "core/thread_name.hpp"
#include "core/version.hpp"
#include "storage/store.hpp"
#include "util/time_format.hpp"

namespace smsr {
namespace {

// Worker threads. A keep-alive connection holds a worker until it closes, and a webhook
// may wait up to agent.inline_wait_ms for its reply, so the pool is sized for a few
// hundred concurrent connections rather than for the core count.
constexpr std::size_t kHttpWorkers = 256;
constexpr int kListenBacklog = 4096;

void plain_error(httplib::Response& res, int status, const std::string& reason) {
  res.status = status;
  res.set_content(reason + "\n", "text/plain; charset=utf-8");
}

const std::string* first_value(const FormFields& fields, const std::string& name) {
  for (const auto& [k, v] : fields) {
    if (k == name) return &v;
  }
  return nullptr;
}

std::string field(const FormFields& fields, const std::string& name) {
  const std::string* v = first_value(fields, name);
  return v ? *v : std::string();
}

InboundSms to_inbound_sms(const FormFields& fields) {
  InboundSms sms;
  sms.message_sid = field(fields, "MessageSid");
  if (sms.message_sid.empty()) sms.message_sid = field(fields, "SmsMessageSid");
  sms.account_sid = field(fields, "AccountSid");
  sms.from = field(fields, "From");
  sms.to = field(fields, "To");
  sms.body = field(fields, "Body");
  sms.opt_out_type = field(fields, "OptOutType");
  int num_media = std::atoi(field(fields, "NumMedia").c_str());
  for (int i = 0; i < std::min(num_media, 10); ++i) {
    auto n = std::to_string(i);
    auto url = field(fields, "MediaUrl" + n);
    if (!url.empty()) sms.media.push_back({url, field(fields, "MediaContentType" + n)});
  }
  return sms;
}

std::vector<std::string> signing_tokens(const Config& config) {
  return {config.twilio.auth_token, config.twilio.secondary_auth_token};
}

void json_reply(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void json_error(httplib::Response& res, int status, const std::string& message) {
  json_reply(res, status, {{"error", message}});
}

bool constant_time_equals(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

// Reads the body ourselves: cpp-httplib refuses form bodies over a compiled-in 8 KiB for
// ordinary handlers, and a 1,600-character SMS in a non-Latin script is larger than that
// once percent-encoded. Our own limit is limits.max_body_bytes.
// Returns false when the body is over the limit (httplib's payload limit, set to the same
// value, makes the reader fail before any data arrives) or could not be read.
bool read_body(const httplib::ContentReader& reader, std::int64_t max_bytes, std::string& body) {
  return reader([&](const char* data, std::size_t n) {
    if (static_cast<std::int64_t>(body.size() + n) > max_bytes) return false;
    body.append(data, n);
    return true;
  });
}

// The checks both Twilio webhooks share: size, form encoding, signature, account. Returns
// false after writing the error answer.
bool accept_twilio_form(const httplib::Request& req, const httplib::ContentReader& reader, httplib::Response& res,
                        const Config& config, FormFields& fields) {
  // Without a length (or chunks) a body ends only when the client closes the connection:
  // ask for one at once rather than let the client wait out the read timeout. Twilio always
  // sends it. The client is asked to close: its unread body cannot start another request.
  if (!req.has_header("Content-Length") &&
      req.get_header_value("Transfer-Encoding").find("chunked") == std::string::npos) {
    plain_error(res, 411, "Content-Length required");
    res.set_header("Connection", "close");
    return false;
  }
  std::string body;
  if (!read_body(reader, config.limits.max_body_bytes, body)) {
    plain_error(res, 413, "request body larger than limits.max_body_bytes");
    return false;
  }
  if (!parse_form(body, fields)) {
    plain_error(res, 400, "body is not valid application/x-www-form-urlencoded");
    return false;
  }
  if (config.twilio.validate_signature) {
    std::string url = config.public_url + req.target;
    std::string signature = req.get_header_value("X-Twilio-Signature");
    auto check = check_form_signature(url, fields, signature, signing_tokens(config));
    if (!check.valid) {
      LOG_WARN("webhook.signature_rejected", {"path", redact_numbers_in(req.path)},
               {"signed_url", redact_numbers_in(check.signed_url)},
               {"reason", signature.empty() ? "missing X-Twilio-Signature" : "signature mismatch"},
               {"hint", "public_url must be the exact scheme://host[:port] Twilio calls"});
      plain_error(res, 403, "invalid Twilio signature");
      return false;
    }
  }
  std::string account = field(fields, "AccountSid");
  if (!config.twilio.account_sid.empty() && account != config.twilio.account_sid) {
    LOG_WARN("webhook.account_rejected", {"path", redact_numbers_in(req.path)}, {"account_sid", account});
    plain_error(res, 403, "AccountSid does not match twilio.account_sid");
    return false;
  }
  return true;
}

// "degraded": serving, but the last sync round failed (or none has succeeded yet).
nlohmann::json sync_health(const CentralSync* central_sync) {
  if (!central_sync) return {{"enabled", false}};
  SyncStatus s = central_sync->status();
  nlohmann::json out = {{"enabled", true},
                        {"ok", s.runs > 0 && s.consecutive_failures == 0},
                        {"runs", s.runs},
                        {"consecutive_failures", s.consecutive_failures},
                        {"last_success", s.last_success_ms ? nlohmann::json(format_iso8601(s.last_success_ms)) : nlohmann::json()}};
  if (s.last_success_ms) {
    out["lag_s"] = (system_clock().now_ms() - s.last_success_ms) / 1000;
  }
  if (!s.last_error.empty()) out["last_error"] = s.last_error;
  return out;
}

}  // namespace

HttpServer::HttpServer(HttpDeps deps) : deps_(deps), server_(std::make_unique<httplib::Server>()) {
  auto config = deps_.settings.current();
  server_->new_task_queue = [] { return new httplib::ThreadPool(kHttpWorkers); };
  // Without TCP_NODELAY every keep-alive response waits for a delayed ACK (~40 ms).
  server_->set_tcp_nodelay(true);
  server_->set_keep_alive_max_count(10000);
  server_->set_keep_alive_timeout(15);
  server_->set_read_timeout(10, 0);
  server_->set_write_timeout(10, 0);
  server_->set_payload_max_length(static_cast<std::size_t>(config->limits.max_body_bytes));
  install_hooks();
  install_routes();
}

HttpServer::~HttpServer() { stop(); }

int HttpServer::bind(const std::string& host, int port) {
  // set_socket_options replaces httplib's defaults, so set SO_REUSEADDR ourselves; keep
  // the socket to deepen its backlog once bound (httplib compiles in a backlog of 5).
  int listen_fd = -1;
  server_->set_socket_options([&listen_fd](int fd) {
    int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listen_fd = fd;
  });
  int bound = port;
  if (port == 0) {
    bound = server_->bind_to_any_port(host);
    if (bound < 0) bound = 0;
  } else if (!server_->bind_to_port(host, port)) {
    bound = 0;
  }
  if (bound <= 0) {
    throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port) +
                             ": address in use or not available (listen.host / listen.port)");
  }
  if (listen_fd >= 0) ::listen(listen_fd, kListenBacklog);
  return bound;
}

void HttpServer::start() {
  // cpp-httplib's worker threads, started from this one, inherit its name.
  thread_ = named_thread("http", [this] { server_->listen_after_bind(); });
}

void HttpServer::stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

void HttpServer::install_hooks() {
  server_->set_exception_handler([](const httplib::Request& req, httplib::Response& res,
                                    std::exception_ptr ep) {
    std::string what = "unknown error";
    try {
      std::rethrow_exception(ep);
    } catch (const StoreError& e) {
      if (e.kind() == StoreError::Kind::kUnavailable) {
        LOG_ERROR("http.storage_unavailable", {"path", redact_numbers_in(req.path)}, {"error", e.what()});
        plain_error(res, 503, "storage unavailable; try again later");
        return;
      }
      what = e.what();
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    LOG_ERROR("http.internal_error", {"path", redact_numbers_in(req.path)}, {"error", what});
    plain_error(res, 500, "internal error");
  });
  // Every request gets an id (a proxy's X-Request-Id if it is sane), answered in the
  // X-Request-Id header and added to every line logged while it is handled.
  // Then the admin API: off without admin.token; bearer token compared in constant time.
  server_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    std::string request_id = req.get_header_value("X-Request-Id");
    if (!is_valid_request_id(request_id)) request_id = new_request_id();
    res.set_header("X-Request-Id", request_id);
    set_current_request_id(std::move(request_id));
    if (req.path.rfind(routes::kAdminPrefix, 0) != 0) return httplib::Server::HandlerResponse::Unhandled;
    auto config = deps_.settings.current();
    if (config->admin.token.empty()) {
      json_error(res, 403, "the admin API is disabled: set admin.token (at least 32 characters)");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (!constant_time_equals(req.get_header_value("Authorization"), "Bearer " + config->admin.token)) {
      res.set_header("WWW-Authenticate", "Bearer");
      json_error(res, 401, "missing or wrong bearer token");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // Answers httplib itself gives without a body (no such endpoint, a request it could not
  // read) get a reason, as JSON under the admin API.
  server_->set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req,
                                                                      httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string reason = res.status == 404 ? "no such endpoint: " + req.method + " " + redact_numbers_in(req.path)
                                           : "cannot handle this request (HTTP " + std::to_string(res.status) + ")";
    if (req.path.rfind(routes::kAdminPrefix, 0) == 0) {
      json_error(res, res.status, reason);
    } else {
      plain_error(res, res.status, reason);
    }
    return httplib::Server::HandlerResponse::Handled;
  }));
  server_->set_post_routing_handler([](const httplib::Request& req, const httplib::Response& res) {
    LOG_DEBUG("http.request", {"method", req.method}, {"path", redact_numbers_in(req.path)}, {"status", res.status});
    set_current_request_id("");  // this worker's next request is another one
  });
}

void HttpServer::install_routes() {
  server_->Post(kSmsWebhookPath, [this](const httplib::Request& req, httplib::Response& res,
                                        const httplib::ContentReader& reader) {
    WebhookObservation observed(deps_.metrics, res.status);  // counts the outcome and time at the end
    auto config = deps_.settings.current();
    FormFields fields;
    if (!accept_twilio_form(req, reader, res, *config, fields)) return;
    InboundSms sms = to_inbound_sms(fields);
    if (sms.message_sid.empty()) return plain_error(res, 400, "missing MessageSid");
    if (sms.from.empty()) return plain_error(res, 400, "missing From");
    auto answer = deps_.inbound.receive(sms);
    observed.set_outcome(answer.duplicate ? "duplicate" : std::string(to_text(answer.outcome)));
    res.set_content(answer.twiml, "text/xml");
  });

  server_->Post(kStatusWebhookPath, [this](const httplib::Request& req, httplib::Response& res,
                                           const httplib::ContentReader& reader) {
    auto config = deps_.settings.current();
    FormFields fields;
    if (!accept_twilio_form(req, reader, res, *config, fields)) return;
    std::string sid = field(fields, "MessageSid");
    std::string status = field(fields, "MessageStatus");
    if (sid.empty()) return plain_error(res, 400, "missing MessageSid");
    if (status.empty()) return plain_error(res, 400, "missing MessageStatus");
    int error_code = std::atoi(field(fields, "ErrorCode").c_str());
    auto update = record_status_callback(deps_.store, sid, status, error_code);
    if (update == StatusUpdate::kUnknownMessage) {
      LOG_DEBUG("status.unknown_message", {"sid", sid}, {"status", status});
    } else {
      LOG_INFO("sms.status", {"sid", sid}, {"status", status}, {"error_code", error_code},
               {"applied", update == StatusUpdate::kApplied ? "yes" : "stale"});
    }
    res.status = 200;
    res.set_content("", "text/plain");
  });

  // Unauthenticated like health: counts and timings only, no numbers, bodies or secrets.
  server_->Get(routes::kMetrics, [this](const httplib::Request&, httplib::Response& res) {
    auto readings =
        read_metrics(deps_.store, deps_.directory, deps_.dispatcher, deps_.sender, deps_.central_sync, ambiguous_gauge_);
    res.set_content(render_metrics(deps_.metrics, readings), kPrometheusContentType);
  });

  install_admin_routes(*server_, deps_.admin_api);

  server_->Get(routes::kHealth, [this](const httplib::Request&, httplib::Response& res) {
    nlohmann::json body = {{"version", version_string()}, {"sync", sync_health(deps_.central_sync)}};
    try {
      deps_.store.check_health();
      body["status"] = body["sync"].value("ok", true) ? "ok" : "degraded";
      body["database"] = "ok";
      res.status = 200;
    } catch (const std::exception& e) {
      LOG_ERROR("health.database_failed", {"error", e.what()});
      body["status"] = "unavailable";
      body["database"] = "error";
      res.status = 503;
    }
    res.set_content(body.dump(), "application/json");
  });
}

}  // namespace smsr

#include "app/http/server.hpp"

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

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
#include "app/twilio/webhook_form.hpp"
#include "core/log.hpp"
#include "core/phone.hpp"
#include "core/thread_name.hpp"
#include "core/version.hpp"
#include "storage/store.hpp"
#include "util/strings.hpp"
#include "util/time_format.hpp"

namespace smsr {
namespace {

// Threads for the handlers that wait for the database (status callbacks, health, metrics,
// the admin API). Webhooks do not use them.
constexpr int kWorkerThreads = 4;

const std::string& field(const FormFields& fields, const std::string& name) { return form_value(fields, name); }

InboundSms to_inbound_sms(const FormFields& fields) {
  InboundSms sms;
  sms.message_sid = field(fields, "MessageSid");
  if (sms.message_sid.empty()) sms.message_sid = field(fields, "SmsMessageSid");
  sms.account_sid = field(fields, "AccountSid");
  sms.from = field(fields, "From");
  sms.to = field(fields, "To");
  sms.body = field(fields, "Body");
  sms.opt_out_type = field(fields, "OptOutType");
  // Checked by webhook_form_problem(): 0 to 10.
  const int num_media = field(fields, "NumMedia").empty() ? 0 : std::stoi(field(fields, "NumMedia"));
  for (int i = 0; i < num_media; ++i) {
    auto n = std::to_string(i);
    auto url = field(fields, "MediaUrl" + n);
    if (!url.empty()) sms.media.push_back({url, field(fields, "MediaContentType" + n)});
  }
  return sms;
}

std::vector<std::string> signing_tokens(const Config& config) {
  return {config.twilio.auth_token, config.twilio.secondary_auth_token};
}

bool constant_time_equals(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}


HttpResponse json_error(int status, const std::string& message) {
  return HttpResponse::json(status, nlohmann::json{{"error", message}}.dump());
}

bool is_admin(const HttpRequest& request) { return request.path.rfind(routes::kAdminPrefix, 0) == 0; }

// An error answer in the endpoint's own format: JSON under the admin API, else one line.
HttpResponse error_answer(const HttpRequest& request, int status, const std::string& reason) {
  return is_admin(request) ? json_error(status, reason) : HttpResponse::text(status, reason);
}

// The checks both Twilio webhooks share: form encoding, signature, account, fields. Returns
// the refusal, or nullopt with `fields` filled.
std::optional<HttpResponse> accept_twilio_form(const HttpRequest& req, const Config& config, FormFields& fields) {
  if (req.media_type() != "application/x-www-form-urlencoded") {
    return HttpResponse::text(415, "a Twilio webhook must be application/x-www-form-urlencoded");
  }
  if (!parse_form(req.body, fields)) {
    return HttpResponse::text(400, "body is not valid application/x-www-form-urlencoded");
  }
  if (config.twilio.validate_signature) {
    const std::string url = config.public_url + req.target;
    const std::string& signature = req.header("x-twilio-signature");
    auto check = check_form_signature(url, fields, signature, signing_tokens(config));
    if (!check.valid) {
      LOG_WARN("webhook.signature_rejected", {"path", redact_numbers_in(req.path)},
               {"signed_url", redact_numbers_in(check.signed_url)},
               {"reason", signature.empty() ? "missing X-Twilio-Signature" : "signature mismatch"},
               {"hint", "public_url must be the exact scheme://host[:port] Twilio calls"});
      return HttpResponse::text(403, "invalid Twilio signature");
    }
  }
  const std::string& account = field(fields, "AccountSid");
  if (!config.twilio.account_sid.empty() && account != config.twilio.account_sid) {
    LOG_WARN("webhook.account_rejected", {"path", redact_numbers_in(req.path)},
             {"account_sid", is_sid_shaped(account, "AC") ? account : std::string("(malformed)")});
    return HttpResponse::text(403, "AccountSid does not match twilio.account_sid");
  }
  if (auto problem = webhook_form_problem(fields)) return HttpResponse::text(400, *problem);
  return std::nullopt;
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

// A few named threads running handlers that may block; each request is one task.
class HttpServer::WorkerPool {
 public:
  explicit WorkerPool(int threads) {
    for (int i = 0; i < threads; ++i) threads_.push_back(named_thread("http-work", [this] { run(); }));
  }
  ~WorkerPool() { stop(); }

  void post(std::function<void()> task) {
    {
      std::lock_guard lock(mu_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
  }

  // Runs what is queued, then joins.
  void stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

 private:
  void run() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
        if (tasks_.empty()) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::vector<std::thread> threads_;
};

HttpServer::HttpServer(HttpDeps deps)
    : deps_(deps),
      edge_(
          deps.settings, [this](HttpRequest& request, Responder respond) { handle(request, std::move(respond)); },
          // An SMS webhook the edge refused (too large, malformed) is counted as a webhook too.
          [&metrics = deps.metrics](std::string_view target, int status) {
            if (target.substr(0, target.find('?')) != kSmsWebhookPath) return;
            WebhookObservation observed(metrics);
            observed.finish(status);
          }),
      workers_(std::make_unique<WorkerPool>(kWorkerThreads)) {
  add_routes();
}

HttpServer::~HttpServer() { stop(std::chrono::milliseconds(0)); }

int HttpServer::bind(const std::string& host, int port) { return edge_.bind(host, port); }

void HttpServer::start() { edge_.start(); }

void HttpServer::stop(std::chrono::milliseconds grace) {
  edge_.stop(grace);
  workers_->stop();
}

void HttpServer::handle(HttpRequest& request, Responder respond) {
  // Every request gets an id (a proxy's X-Request-Id if it is sane), answered in the
  // X-Request-Id header and added to every line logged while it is handled.
  request.request_id = request.header("x-request-id");
  if (!is_valid_request_id(request.request_id)) request.request_id = new_request_id();
  ScopedRequestId scoped(request.request_id);
  Responder answer = [respond = std::move(respond), request_id = request.request_id, method = request.method,
                      path = redact_numbers_in(request.path)](HttpResponse response) {
    response.headers.emplace_back("X-Request-Id", request_id);
    if (response.status >= 500) {
      LOG_ERROR("http.failed", {"method", method}, {"path", path}, {"status", response.status});
    } else {
      LOG_DEBUG("http.request", {"method", method}, {"path", path}, {"status", response.status});
    }
    respond(std::move(response));
  };

  // The admin API: off without admin.token; bearer token compared in constant time.
  if (is_admin(request)) {
    auto config = deps_.settings.current();
    if (config->admin.token.empty()) {
      return answer(json_error(403, "the admin API is disabled: set admin.token (at least 32 characters)"));
    }
    if (!constant_time_equals(request.header("authorization"), "Bearer " + config->admin.token)) {
      HttpResponse refused = json_error(401, "missing or wrong bearer token");
      refused.headers.emplace_back("WWW-Authenticate", "Bearer");
      return answer(std::move(refused));
    }
  }

  // Routes match the path as sent: the router decodes each "{}" segment once itself.
  const std::string_view raw_path = std::string_view(request.target).substr(0, request.target.find('?'));
  auto match = router_.find(request.method, raw_path);
  if (!match.route) {
    if (!match.allow.empty()) {
      HttpResponse refused = error_answer(request, 405, request.method + " is not allowed here; allowed: " + match.allow);
      refused.headers.emplace_back("Allow", match.allow);
      return answer(std::move(refused));
    }
    return answer(error_answer(request, 404, "no such endpoint: " + request.method + " " + redact_numbers_in(request.path)));
  }
  if (is_admin(request) && !request.body.empty() && request.media_type() != "application/json") {
    return answer(json_error(415, "an admin request body must be application/json"));
  }
  request.path_params = std::move(match.params);
  const Route& route = *match.route;
  if (route.runs == Runs::kOnIoThread) return run(route, request, std::move(answer));
  workers_->post([this, &route, request = std::move(request), answer = std::move(answer)]() mutable {
    ScopedRequestId on_worker(request.request_id);
    run(route, request, std::move(answer));
  });
}

void HttpServer::run(const Route& route, HttpRequest& request, Responder respond) {
  try {
    route.handler(request, respond);
  } catch (const StoreError& e) {
    if (e.kind() == StoreError::Kind::kUnavailable) {
      LOG_ERROR("http.storage_unavailable", {"path", redact_numbers_in(request.path)}, {"error", e.what()});
      return respond(error_answer(request, 503, "storage unavailable; try again later"));
    }
    LOG_ERROR("http.internal_error", {"path", redact_numbers_in(request.path)}, {"error", e.what()});
    respond(error_answer(request, 500, "internal error (request " + request.request_id + ")"));
  } catch (const std::exception& e) {
    LOG_ERROR("http.internal_error", {"path", redact_numbers_in(request.path)}, {"error", e.what()});
    respond(error_answer(request, 500, "internal error (request " + request.request_id + ")"));
  }
}

void HttpServer::add_routes() {
  router_.add("POST", kSmsWebhookPath, Runs::kOnIoThread,
              [this](HttpRequest& req, Responder respond) { sms_webhook(req, std::move(respond)); });
  router_.add("POST", kStatusWebhookPath, Runs::kOnWorker,
              [this](HttpRequest& req, Responder respond) { respond(status_webhook(req)); });
  // Unauthenticated like health: counts and timings only, no numbers, bodies or secrets.
  router_.add("GET", routes::kMetrics, Runs::kOnWorker, [this](HttpRequest&, Responder respond) { respond(metrics()); });
  router_.add("GET", routes::kHealth, Runs::kOnWorker, [this](HttpRequest&, Responder respond) { respond(health()); });
  add_admin_routes(router_, deps_.admin_api);
}

void HttpServer::sms_webhook(HttpRequest& req, Responder respond) {
  // Counts the outcome and the time once answered, whichever thread answers.
  auto observed = std::make_shared<WebhookObservation>(deps_.metrics);
  auto answer = [observed, respond](HttpResponse response) {
    observed->finish(response.status);
    respond(std::move(response));
  };
  auto config = deps_.settings.current();
  FormFields fields;
  if (auto refused = accept_twilio_form(req, *config, fields)) return answer(std::move(*refused));
  InboundSms sms = to_inbound_sms(fields);
  if (sms.message_sid.empty()) return answer(HttpResponse::text(400, "missing MessageSid"));
  if (sms.from.empty()) return answer(HttpResponse::text(400, "missing From"));
  try {
    deps_.inbound.receive_async(sms, [observed, answer, path = redact_numbers_in(req.path)](InboundService::Answer a) {
      if (a.failure) {
        try {
          std::rethrow_exception(a.failure);
        } catch (const std::exception& e) {
          LOG_ERROR("http.storage_unavailable", {"path", path}, {"error", e.what()});
        }
        return answer(HttpResponse::text(503, "storage unavailable; try again later"));
      }
      observed->set_outcome(a.duplicate ? "duplicate" : std::string(to_text(a.outcome)));
      HttpResponse response;
      response.content_type = "text/xml";
      response.body = std::move(a.twiml);
      answer(std::move(response));
    });
  } catch (const StoreError& e) {
    LOG_ERROR("http.storage_unavailable", {"path", redact_numbers_in(req.path)}, {"error", e.what()});
    answer(HttpResponse::text(503, "storage unavailable; try again later"));
  }
}

HttpResponse HttpServer::status_webhook(const HttpRequest& req) {
  auto config = deps_.settings.current();
  FormFields fields;
  if (auto refused = accept_twilio_form(req, *config, fields)) return std::move(*refused);
  const std::string& sid = field(fields, "MessageSid");
  const std::string& status = field(fields, "MessageStatus");
  if (sid.empty()) return HttpResponse::text(400, "missing MessageSid");
  if (status.empty()) return HttpResponse::text(400, "missing MessageStatus");
  int error_code = 0;
  if (const std::string& code = field(fields, "ErrorCode"); !code.empty()) {
    if (!is_digits(code) || code.size() > 9) return HttpResponse::text(400, "ErrorCode must be a number");
    error_code = std::stoi(code);
  }
  auto update = record_status_callback(deps_.store, sid, status, error_code);
  if (update == StatusUpdate::kUnknownMessage) {
    LOG_DEBUG("status.unknown_message", {"sid", sid}, {"status", status});
  } else {
    LOG_INFO("sms.status", {"sid", sid}, {"status", status}, {"error_code", error_code},
             {"applied", update == StatusUpdate::kApplied ? "yes" : "stale"});
  }
  HttpResponse response;
  response.content_type = "text/plain";
  return response;
}

HttpResponse HttpServer::metrics() {
  auto readings =
      read_metrics(deps_.store, deps_.directory, deps_.dispatcher, deps_.sender, deps_.central_sync, ambiguous_gauge_);
  readings.edge = edge_.readings();
  HttpResponse response;
  response.content_type = kPrometheusContentType;
  response.body = render_metrics(deps_.metrics, readings);
  return response;
}

HttpResponse HttpServer::health() {
  nlohmann::json body = {{"version", version_string()}, {"sync", sync_health(deps_.central_sync)}};
  int status = 200;
  try {
    deps_.store.check_health();
    body["status"] = body["sync"].value("ok", true) ? "ok" : "degraded";
    body["database"] = "ok";
  } catch (const std::exception& e) {
    LOG_ERROR("health.database_failed", {"error", e.what()});
    body["status"] = "unavailable";
    body["database"] = "error";
    status = 503;
  }
  return HttpResponse::json(status, body.dump());
}

}  // namespace smsr

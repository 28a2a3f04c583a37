#include "app/twilio/rest_api.hpp"

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "app/twilio/error_codes.hpp"
#include "app/twilio/signature.hpp"
#include "util/per_thread.hpp"

namespace smsr {
namespace {

constexpr int kTimeoutSeconds = 15;

class HttpTwilioApi final : public TwilioApi {
 public:
  explicit HttpTwilioApi(const TwilioConfig& config)
      : base_url_(config.api_base_url),
        account_sid_(config.account_sid),
        auth_token_(config.auth_token) {}

  SendResult send(const SendRequest& r) override {
    if (account_sid_.empty() || auth_token_.empty()) {
      return {SendResult::Kind::kRejected, "", "", 0,
              "twilio.account_sid and twilio.auth_token are needed to send messages"};
    }
    FormFields form = {{"To", r.to}, {"From", r.from}, {"Body", r.body}};
    if (!r.status_callback.empty()) form.emplace_back("StatusCallback", r.status_callback);
    std::string path = "/2010-04-01/Accounts/" + account_sid_ + "/Messages.json";
    auto res = client().Post(path, encode_form(form), "application/x-www-form-urlencoded");
    return interpret(res);
  }

 private:
  httplib::Client& client() {
    // httplib clients are not shareable between threads; each sender thread keeps one.
    return per_thread<httplib::Client>(this, [this] {
      auto c = std::make_unique<httplib::Client>(base_url_);
      c->set_basic_auth(account_sid_, auth_token_);
      c->set_connection_timeout(5, 0);
      c->set_read_timeout(kTimeoutSeconds, 0);
      c->set_write_timeout(kTimeoutSeconds, 0);
      c->set_keep_alive(true);
      c->set_tcp_nodelay(true);
      return c;
    });
  }

  static SendResult interpret(const httplib::Result& res) {
    SendResult out;
    if (!res) {
      out.kind = SendResult::Kind::kRetryable;
      out.error = "Twilio unreachable: " + httplib::to_string(res.error());
      return out;
    }
    auto body = nlohmann::json::parse(res->body, nullptr, false);
    if (res->status >= 200 && res->status < 300) {
      if (body.is_object() && body.contains("sid") && body["sid"].is_string()) {
        out.kind = SendResult::Kind::kAccepted;
        out.sid = body["sid"].get<std::string>();
        out.status = body.value("status", "queued");
        return out;
      }
      // Created, but we cannot tell which message: retrying could send it twice.
      out.kind = SendResult::Kind::kRejected;
      out.error = "Twilio answered HTTP " + std::to_string(res->status) + " without a message sid";
      return out;
    }
    if (body.is_object()) {
      if (body.contains("code") && body["code"].is_number_integer()) out.error_code = body["code"].get<int>();
      if (body.contains("message") && body["message"].is_string()) out.error = body["message"].get<std::string>();
    }
    out.error = "Twilio answered HTTP " + std::to_string(res->status) +
                (out.error_code ? " code " + std::to_string(out.error_code) : "") +
                (out.error.empty() ? "" : ": " + out.error);
    if (out.error_code == twilio_error::kUnsubscribedRecipient) {
      out.kind = SendResult::Kind::kOptedOut;
    } else if (res->status == 429 || res->status >= 500 || out.error_code == twilio_error::kQueueOverflow ||
               out.error_code == 20429) {
      out.kind = SendResult::Kind::kRetryable;
    } else {
      out.kind = SendResult::Kind::kRejected;
    }
    return out;
  }

  const std::string base_url_;
  const std::string account_sid_;
  const std::string auth_token_;
};

}  // namespace

std::unique_ptr<TwilioApi> make_twilio_api(const TwilioConfig& config) {
  return std::make_unique<HttpTwilioApi>(config);
}

}  // namespace smsr

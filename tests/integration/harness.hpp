// Test fixtures for integration tests: a temporary directory, the real sms-router binary
// run as a child process on a free loopback port, and a fake agent that is a real HTTP
// server. Nothing here mocks a class of the router.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/twilio/signature.hpp"

namespace httplib {
class Server;
class Client;
}

namespace smsr::test {

// A directory removed with its contents at the end of the test.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void write_file(const std::string& path, const std::string& content);
std::string read_file(const std::string& path);

struct CommandResult {
  int status = -1;
  std::string out;
  std::string err;
};

// Runs `sms-router ARGS...` to completion with the given extra environment.
CommandResult run_cli(const std::vector<std::string>& args,
                      const std::map<std::string, std::string>& env = {});

// Polls `condition` until it holds or `timeout` passes; returns its last value.
bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds timeout = std::chrono::seconds(10));

// The configuration a test service starts with; tests adjust fields before start().
// With SMSR_TEST_TLS=1 in the environment (the suite's HTTPS run), it serves HTTPS with a
// certificate from a test CA, and every client below speaks HTTPS, trusting that CA.
nlohmann::json base_config(const TempDir& dir);
bool tls_mode();
// The test CA's certificate in TLS mode ("" otherwise).
const std::string& test_ca_file();
// A client for the service on 127.0.0.1:port, plain or HTTPS as the run says.
std::unique_ptr<httplib::Client> service_client(int port);
// "http://127.0.0.1:PORT", or https:// in TLS mode.
std::string service_url(int port);

constexpr const char* kAuthToken = "test-auth-token-0123456789abcdef";
constexpr const char* kAccountSid = "AC00000000000000000000000000000001";
constexpr const char* kRouterNumber = "+15005550006";

// The senders most tests use: Ada (two numbers), Bob, and a number nobody has.
constexpr const char* kAda = "+15145550101";
constexpr const char* kAdaSecond = "+15145550102";
constexpr const char* kBob = "+15145550201";
constexpr const char* kStranger = "+15145550999";

// `sms-router serve` as a child process.
class Service {
 public:
  Service(const TempDir& dir, nlohmann::json config);
  ~Service();  // SIGKILL if still running

  void start();                 // waits until the ready line names the port
  // Extra environment for the next start() (e.g. NOTIFY_SOCKET).
  void set_environment(std::map<std::string, std::string> env) { env_ = std::move(env); }
  int stop();                   // SIGTERM, wait; returns the exit status
  void kill9();                 // SIGKILL, wait
  void forget() { pid_ = -1; }  // the test reaped the process itself
  int port() const { return port_; }
  std::string log() const;      // everything the service wrote to stderr
  const std::string& config_path() const { return config_path_; }
  pid_t pid() const { return pid_; }

  // Runs a CLI command against the same configuration.
  CommandResult cli(std::vector<std::string> args) const;

 private:
  const TempDir& dir_;
  std::string config_path_;
  std::string log_path_;
  pid_t pid_ = -1;
  int port_ = 0;
  std::map<std::string, std::string> env_;
};

struct HttpAnswer {
  int status = 0;
  std::string body;
  std::string content_type;
  std::string request_id;  // the X-Request-Id response header
};

// An inbound SMS the way Twilio posts it.
struct Sms {
  Sms(std::string sender, std::string text) : from(std::move(sender)), body(std::move(text)) {}
  std::string from;
  std::string body;
  std::string sid;  // generated when empty
  std::string to = kRouterNumber;
  std::string account_sid = kAccountSid;
  FormFields extra;  // more fields (OptOutType, MediaUrl0, ...)
};

FormFields sms_fields(const Sms& sms);
std::string new_message_sid();

// Signs (with `token`, over public_url + path) and posts to the service.
HttpAnswer post_webhook(int port, const FormFields& fields, const std::string& token = kAuthToken,
                        const std::string& public_url = "http://localhost:8000");
HttpAnswer post_raw(int port, const std::string& path, const std::string& body,
                    const std::vector<std::pair<std::string, std::string>>& headers);
HttpAnswer http_get(int port, const std::string& path);

// The text of the <Message> in a TwiML answer, or nullopt for <Response/>.
std::optional<std::string> twiml_message(const std::string& twiml);

// A fake agent: a real HTTP server on 127.0.0.1 recording every request. By default it
// answers {"reply": "agent <user.id>: <body>"}; tests can change the behaviour.
class FakeAgent {
 public:
  struct Request {
    nlohmann::json body;
    std::string path;
    std::string authorization;
    std::string idempotency_key;
    std::string request_id;  // X-Request-Id
  };
  struct Response {
    int status = 200;
    std::string body;
    std::chrono::milliseconds delay{0};
  };
  using Behaviour = std::function<Response(const Request&)>;

  FakeAgent();
  ~FakeAgent();

  std::string url(const std::string& path = "/agent/{user_id}") const;
  void set_behaviour(Behaviour b);
  std::vector<Request> requests() const;
  std::size_t count() const;
  // Requests whose message.sid is `sid`.
  std::size_t count_sid(const std::string& sid) const;

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mu_;
  Behaviour behaviour_;             // guarded by mu_
  std::vector<Request> requests_;  // guarded by mu_
};


// A fake of Twilio's REST API for creating messages: a real HTTP server on 127.0.0.1 that
// accepts POST /2010-04-01/Accounts/<sid>/Messages.json, records every request and
// answers as the current behaviour says. By default: 201 {"sid": "SM<unique>",
// "status": "queued"}. Point twilio.api_base_url at url().
class FakeTwilio {
 public:
  struct Request {
    std::string account_sid;    // from the path
    std::string authorization;  // the Authorization header as sent
    std::string content_type;
    FormFields form;            // the decoded form fields, in order
    int answered_status = 0;    // what the fake answered
    std::string answered_sid;   // the sid it answered with (2xx only)
    // The first value of a form field, or "" when absent.
    std::string field(const std::string& name) const;
  };
  struct Response {
    int status = 201;
    std::string body;  // for a 2xx without a body: {"sid": <generated>, "status": "queued"}
    std::chrono::milliseconds delay{0};
  };
  // Called with the request and its 0-based position among all requests received.
  using Behaviour = std::function<Response(const Request&, std::size_t index)>;

  FakeTwilio();
  ~FakeTwilio();
  FakeTwilio(const FakeTwilio&) = delete;
  FakeTwilio& operator=(const FakeTwilio&) = delete;

  std::string url() const;  // scheme://host:port, for twilio.api_base_url
  void set_behaviour(Behaviour b);
  std::vector<Request> requests() const;
  std::size_t count() const;
  // Requests answered with a 2xx.
  std::vector<Request> accepted() const;

  // A Twilio error answer: {"code": code, "message": message, "status": status}.
  static Response error(int status, int code, const std::string& message);

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mu_;
  Behaviour behaviour_;             // guarded by mu_
  std::vector<Request> requests_;  // guarded by mu_
};

}  // namespace smsr::test

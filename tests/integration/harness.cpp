#include "tests/integration/harness.hpp"

#include "tests/integration/test_certs.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace smsr::test {
namespace {

// The child's environment: ours without any SMS_ROUTER_* variable, plus `extra`.
std::vector<std::string> child_environment(const std::map<std::string, std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    if (std::string(*e).rfind("SMS_ROUTER_", 0) == 0) continue;
    if (std::string(*e).rfind("JOURNAL_STREAM=", 0) == 0) continue;
    env.emplace_back(*e);
  }
  for (const auto& [k, v] : extra) env.push_back(k + "=" + v);
  return env;
}

pid_t spawn(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
            const std::string& out_path, const std::string& err_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  std::vector<std::string> argv_store = {SMSR_BINARY};
  argv_store.insert(argv_store.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_store) argv.push_back(a.data());
  argv.push_back(nullptr);
  auto env_store = child_environment(env);
  std::vector<char*> envp;
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, SMSR_BINARY, &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " + std::string(SMSR_BINARY));
  return pid;
}

int wait_status(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::atomic<int> g_counter{0};

}  // namespace

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "sms-router-test-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

CommandResult run_cli(const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
  TempDir scratch;
  auto out = scratch.file("out"), err = scratch.file("err");
  auto full = args;
  if (tls_mode() && std::find(args.begin(), args.end(), "simulate") != args.end()) {
    full.insert(full.end(), {"--ca-file", test_ca_file()});  // trust the test CA
  }
  pid_t pid = spawn(full, env, out, err);
  CommandResult r;
  r.status = wait_status(pid);
  r.out = read_file(out);
  r.err = read_file(err);
  return r;
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

nlohmann::json plain_base_config(const TempDir& dir);

bool tls_mode() {
  static const bool on = [] {
    const char* value = std::getenv("SMSR_TEST_TLS");
    return value && std::string(value) == "1";
  }();
  return on;
}

namespace {

// One CA and certificate for the whole test process, in TLS mode.
struct TlsMaterial {
  TempDir dir;
  TestCa ca{dir.path()};
  CertFiles pair = ca.issue("localhost");
};

const TlsMaterial& tls_material() {
  static const TlsMaterial material;
  return material;
}

}  // namespace

const std::string& test_ca_file() {
  static const std::string none;
  return tls_mode() ? tls_material().ca.ca_file() : none;
}

std::unique_ptr<httplib::Client> service_client(int port) {
  auto client = std::make_unique<httplib::Client>(service_url(port));
  if (tls_mode()) {
    client->set_ca_cert_path(test_ca_file().c_str());
    client->enable_server_certificate_verification(true);
  }
  return client;
}

std::string service_url(int port) {
  return std::string(tls_mode() ? "https" : "http") + "://127.0.0.1:" + std::to_string(port);
}

nlohmann::json base_config(const TempDir& dir) {
  if (tls_mode()) {
    auto config = plain_base_config(dir);
    config["listen"]["tls_cert_file"] = tls_material().pair.cert;
    config["listen"]["tls_key_file"] = tls_material().pair.key;
    return config;
  }
  return plain_base_config(dir);
}

nlohmann::json plain_base_config(const TempDir& dir) {
  return {
      {"listen", {{"host", "127.0.0.1"}, {"port", 0}}},
      {"public_url", "http://localhost:8000"},
      {"database", {{"path", dir.file("router.db")}}},
      {"twilio",
       {{"account_sid", kAccountSid}, {"auth_token", kAuthToken}, {"numbers", {kRouterNumber}}}},
      {"agent", {{"url", "builtin:echo"}, {"inline_wait_ms", 3000}, {"timeout_ms", 5000}}},
      {"log", {{"level", "info"}}},
  };
}

Service::Service(const TempDir& dir, nlohmann::json config)
    : dir_(dir),
      config_path_(dir.file("config-" + std::to_string(g_counter++) + ".json")),
      log_path_(dir.file("service.log")) {
  write_file(config_path_, config.dump(2));
}

Service::~Service() {
  if (pid_ > 0) kill9();
  // SMSR_TEST_SHOW_LOGS=1 prints every service's log, to debug a failing test.
  if (const char* show = std::getenv("SMSR_TEST_SHOW_LOGS"); show && std::string(show) == "1") {
    std::fprintf(stderr, "---- service log (%s) ----\n%s---- end of service log ----\n", config_path_.c_str(),
                 log().c_str());
  }
}

void Service::start() {
  auto offset = read_file(log_path_).size();
  pid_ = spawn({"serve", "--config", config_path_}, env_, dir_.file("service.out"), log_path_);
  static const std::regex ready(R"(event=serve\.ready listen=[^ :]+:(\d+))");
  std::smatch m;
  bool up = eventually([&] {
    std::string log = read_file(log_path_).substr(offset);
    if (std::regex_search(log, m, ready)) {
      port_ = std::stoi(m[1]);
      return true;
    }
    return waitpid(pid_, nullptr, WNOHANG) == pid_;  // exited: give up at once
  }, std::chrono::seconds(20));
  if (!up || port_ == 0) {
    throw std::runtime_error("service did not become ready; its log:\n" + read_file(log_path_));
  }
}

int Service::stop() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = wait_status(pid_);
  pid_ = -1;
  return status;
}

void Service::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  wait_status(pid_);
  pid_ = -1;
}

std::string Service::log() const { return read_file(log_path_); }

CommandResult Service::cli(std::vector<std::string> args) const {
  args.insert(args.begin(), {"--config", config_path_});
  return run_cli(args);
}

std::string new_message_sid() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* hex = "0123456789abcdef";
  std::string sid = "SM";
  for (int i = 0; i < 32; ++i) sid.push_back(hex[rng() % 16]);
  return sid;
}

FormFields sms_fields(const Sms& sms) {
  std::string sid = sms.sid.empty() ? new_message_sid() : sms.sid;
  FormFields f = {{"MessageSid", sid},     {"SmsMessageSid", sid},     {"SmsSid", sid},
                  {"AccountSid", sms.account_sid}, {"From", sms.from}, {"To", sms.to},
                  {"Body", sms.body},      {"NumMedia", "0"},          {"SmsStatus", "received"},
                  {"ApiVersion", "2010-04-01"}};
  for (const auto& kv : sms.extra) {
    bool replaced = false;
    for (auto& existing : f) {
      if (existing.first == kv.first) {
        existing.second = kv.second;
        replaced = true;
      }
    }
    if (!replaced) f.push_back(kv);
  }
  return f;
}

HttpAnswer post_raw(int port, const std::string& path, const std::string& body,
                    const std::vector<std::pair<std::string, std::string>>& headers) {
  auto client = service_client(port);
  client->set_read_timeout(30, 0);
  httplib::Headers h;
  for (const auto& [k, v] : headers) h.emplace(k, v);
  auto res = client->Post(path, h, body, "application/x-www-form-urlencoded");
  if (!res) return {0, "connection failed: " + httplib::to_string(res.error()), "", ""};
  return {res->status, res->body, res->get_header_value("Content-Type"), res->get_header_value("X-Request-Id")};
}

HttpAnswer post_webhook(int port, const FormFields& fields, const std::string& token,
                        const std::string& public_url) {
  const std::string path = "/sms-router/webhook/sms";
  std::string signature = compute_signature(token, signature_payload(public_url + path, fields));
  return post_raw(port, path, encode_form(fields), {{"X-Twilio-Signature", signature}});
}

HttpAnswer http_get(int port, const std::string& path) {
  auto res = service_client(port)->Get(path);
  if (!res) return {0, "connection failed", "", ""};
  return {res->status, res->body, res->get_header_value("Content-Type"), res->get_header_value("X-Request-Id")};
}

std::optional<std::string> twiml_message(const std::string& twiml) {
  static const std::regex message("<Message>([\\s\\S]*?)</Message>");
  std::smatch m;
  if (!std::regex_search(twiml, m, message)) return std::nullopt;
  return m[1].str();
}

FakeAgent::FakeAgent() : server_(std::make_unique<httplib::Server>()) {
  behaviour_ = [](const Request& r) {
    Response res;
    res.body = nlohmann::json{{"reply", "agent " + std::to_string(r.body["user"]["id"].get<long long>()) +
                                            ": " + r.body["message"]["body"].get<std::string>()}}
                   .dump();
    return res;
  };
  server_->new_task_queue = [] { return new httplib::ThreadPool(64); };
  server_->Post(R"(/.*)", [this](const httplib::Request& req, httplib::Response& res) {
    Request r;
    r.body = nlohmann::json::parse(req.body, nullptr, false);
    r.path = req.path;
    r.authorization = req.get_header_value("Authorization");
    r.idempotency_key = req.get_header_value("Idempotency-Key");
    r.request_id = req.get_header_value("X-Request-Id");
    Behaviour b;
    {
      std::lock_guard lock(mu_);
      requests_.push_back(r);
      b = behaviour_;
    }
    Response out = b(r);
    if (out.delay.count() > 0) std::this_thread::sleep_for(out.delay);
    res.status = out.status;
    res.set_content(out.body, "application/json");
  });
  port_ = server_->bind_to_any_port("127.0.0.1");
  thread_ = std::thread([this] { server_->listen_after_bind(); });
}

FakeAgent::~FakeAgent() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

std::string FakeAgent::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void FakeAgent::set_behaviour(Behaviour b) {
  std::lock_guard lock(mu_);
  behaviour_ = std::move(b);
}

std::vector<FakeAgent::Request> FakeAgent::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

std::size_t FakeAgent::count() const {
  std::lock_guard lock(mu_);
  return requests_.size();
}

std::size_t FakeAgent::count_sid(const std::string& sid) const {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (const auto& r : requests_) {
    if (r.body.is_object() && r.body["message"]["sid"] == sid) ++n;
  }
  return n;
}


std::string FakeTwilio::Request::field(const std::string& name) const {
  for (const auto& [k, v] : form) {
    if (k == name) return v;
  }
  return "";
}

FakeTwilio::FakeTwilio() : server_(std::make_unique<httplib::Server>()) {
  behaviour_ = [](const Request&, std::size_t) { return Response{}; };
  server_->new_task_queue = [] { return new httplib::ThreadPool(16); };
  server_->Post(R"(/2010-04-01/Accounts/([^/]+)/Messages\.json)",
                [this](const httplib::Request& req, httplib::Response& res) {
                  Request r;
                  r.account_sid = req.matches[1];
                  r.authorization = req.get_header_value("Authorization");
                  r.content_type = req.get_header_value("Content-Type");
                  if (!parse_form(req.body, r.form)) r.form.clear();
                  Behaviour b;
                  std::size_t index = 0;
                  {
                    std::lock_guard lock(mu_);
                    b = behaviour_;
                    index = requests_.size();
                    requests_.push_back(r);
                  }
                  Response out = b(r, index);
                  if (out.delay.count() > 0) std::this_thread::sleep_for(out.delay);
                  std::string sid;
                  std::string body = out.body;
                  if (out.status >= 200 && out.status < 300) {
                    if (body.empty()) {
                      sid = new_message_sid();
                      body = nlohmann::json{{"sid", sid}, {"status", "queued"}}.dump();
                    } else {
                      auto parsed = nlohmann::json::parse(body, nullptr, false);
                      if (parsed.is_object() && parsed.contains("sid") && parsed["sid"].is_string()) {
                        sid = parsed["sid"].get<std::string>();
                      }
                    }
                  }
                  {
                    std::lock_guard lock(mu_);
                    requests_[index].answered_status = out.status;
                    requests_[index].answered_sid = sid;
                  }
                  res.status = out.status;
                  res.set_content(body, "application/json");
                });
  port_ = server_->bind_to_any_port("127.0.0.1");
  thread_ = std::thread([this] { server_->listen_after_bind(); });
}

FakeTwilio::~FakeTwilio() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

std::string FakeTwilio::url() const { return "http://127.0.0.1:" + std::to_string(port_); }

void FakeTwilio::set_behaviour(Behaviour b) {
  std::lock_guard lock(mu_);
  behaviour_ = std::move(b);
}

std::vector<FakeTwilio::Request> FakeTwilio::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

std::size_t FakeTwilio::count() const {
  std::lock_guard lock(mu_);
  return requests_.size();
}

std::vector<FakeTwilio::Request> FakeTwilio::accepted() const {
  std::lock_guard lock(mu_);
  std::vector<Request> out;
  for (const auto& r : requests_) {
    if (r.answered_status >= 200 && r.answered_status < 300) out.push_back(r);
  }
  return out;
}

FakeTwilio::Response FakeTwilio::error(int status, int code, const std::string& message) {
  Response r;
  r.status = status;
  r.body = nlohmann::json{{"code", code}, {"message", message}, {"status", status}}.dump();
  return r;
}

}  // namespace smsr::test

// The HTTP edge over raw sockets: every malformed request gets its answer, nothing sent as a
// body is ever answered as a request, pipelined requests are answered in order, deadlines
// cut slow clients with 408, the caps refuse the excess and nobody else, and thousands of
// open connections cost no thread.
#include <algorithm>
#include <thread>

#include <catch2/catch.hpp>

#include "tests/integration/harness.hpp"
#include "tests/integration/raw_http.hpp"

using namespace smsr;
using namespace smsr::test;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* kAdminToken = "admin-token-for-the-http-edge-tests-0123456789";
constexpr int kMaxBody = 2048;

struct Fixture {
  TempDir dir;
  json config = base_config(dir);
  std::unique_ptr<Service> service;

  Fixture() {
    config["admin"]["token"] = kAdminToken;
    config["limits"]["max_body_bytes"] = kMaxBody;
    config["limits"]["per_sender_per_minute"] = 0;
  }

  void start() {
    service = std::make_unique<Service>(dir, config);
    REQUIRE(service->cli({"users", "add", "--id", "1", "--phone", kAda, "--name", "Ada"}).status == 0);
    service->start();
  }
  int port() const { return service->port(); }
};

// A signed webhook request, as raw bytes, with `fields` form-encoded.
std::string signed_webhook(const FormFields& fields, const std::string& content_type = "application/x-www-form-urlencoded",
                           const std::string& path = "/sms-router/webhook/sms") {
  const std::string body = encode_form(fields);
  const std::string signature =
      compute_signature(kAuthToken, signature_payload("http://localhost:8000" + path, fields));
  return "POST " + path + " HTTP/1.1\r\nHost: localhost:8000\r\nContent-Type: " + content_type +
         "\r\nX-Twilio-Signature: " + signature + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
         body;
}

FormFields webhook_fields(std::vector<std::pair<std::string, std::string>> changes,
                          std::vector<std::string> removed = {}) {
  FormFields fields = sms_fields(Sms(kAda, "hello"));
  for (const auto& name : removed) {
    fields.erase(std::remove_if(fields.begin(), fields.end(), [&](const auto& f) { return f.first == name; }),
                 fields.end());
  }
  for (const auto& [name, value] : changes) {
    bool replaced = false;
    for (auto& f : fields) {
      if (f.first == name) {
        f.second = value;
        replaced = true;
      }
    }
    if (!replaced) fields.emplace_back(name, value);
  }
  return fields;
}

std::string get(const std::string& target, const std::string& extra_headers = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: localhost\r\n" + extra_headers + "\r\n";
}

std::string admin_post(const std::string& path, const std::string& body, const std::string& content_type) {
  return "POST " + path + " HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + kAdminToken +
         "\r\nContent-Type: " + content_type + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string webhook_head(const std::string& headers) {
  return "POST /sms-router/webhook/sms HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\n" +
         headers;
}

struct Case {
  const char* name;
  std::string request;
  int status;
  bool closes;  // the edge refuses it and closes; else the connection serves the next request
};

std::vector<Case> malformed_requests() {
  const std::string long_target = "/sms-router/health?" + std::string(9000, 'a');
  const std::string big_header = "X-Big: " + std::string(20000, 'b') + "\r\n";
  std::string many_headers;
  for (int i = 0; i < 1000; ++i) many_headers += "X-H" + std::to_string(i) + ": " + std::string(20, 'v') + "\r\n";
  const std::string form = "From=%2B15145550101&Body=hi";
  auto with_body = [](const std::string& head, const std::string& body) { return head + "\r\n" + body; };
  return {
      // The request line.
      {"garbage", "GARBAGE\r\n\r\n", 400, true},
      {"method alone", "GET\r\n\r\n", 400, true},
      {"HTTP/0.9 request line", "GET /sms-router/health\r\n\r\n", 400, true},
      {"unknown HTTP version", "GET /sms-router/health HTTP/2.0\r\nHost: x\r\n\r\n", 400, true},
      {"malformed version", "GET /sms-router/health HTTX/1.1\r\nHost: x\r\n\r\n", 400, true},
      {"bare LF line endings", "GET /sms-router/health HTTP/1.1\nHost: x\n\n", 400, true},
      {"target not a path", "GET sms-router/health HTTP/1.1\r\nHost: x\r\n\r\n", 400, true},
      {"absolute-form target", "GET http://x/sms-router/health HTTP/1.1\r\nHost: x\r\n\r\n", 400, true},
      {"space in the target", "GET /sms router HTTP/1.1\r\nHost: x\r\n\r\n", 400, true},
      {"space inside the method", "G ET /sms-router/health HTTP/1.1\r\nHost: x\r\n\r\n", 400, true},
      {"separator in the method", "GE(T /sms-router/health HTTP/1.1\r\nHost: x\r\n\r\n", 400, true},
      {"NUL in the request line", std::string("GET /sms-router/") + '\0' + "health HTTP/1.1\r\nHost: x\r\n\r\n", 400, true},
      {"target over 8 KiB", "GET " + long_target + " HTTP/1.1\r\nHost: x\r\n\r\n", 414, true},
      {"request line without end", "GET /" + std::string(20000, 'x'), 414, true},
      // Headers.
      {"no Host in HTTP/1.1", "GET /sms-router/health HTTP/1.1\r\n\r\n", 400, true},
      {"two Host headers", "GET /sms-router/health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, true},
      {"header line without colon", "GET /sms-router/health HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", 400, true},
      {"space in a header name", "GET /sms-router/health HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n", 400, true},
      {"space before the colon", "GET /sms-router/health HTTP/1.1\r\nHost : x\r\n\r\n", 400, true},
      {"control character in a value", "GET /sms-router/health HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n", 400, true},
      {"one header over 16 KiB", get("/sms-router/health", big_header), 431, true},
      {"a thousand headers", get("/sms-router/health", many_headers), 431, true},
      // Framing.
      {"Content-Length not a number", with_body(webhook_head("Content-Length: abc\r\n"), form), 400, true},
      {"negative Content-Length", with_body(webhook_head("Content-Length: -1\r\n"), form), 400, true},
      {"Content-Length list", with_body(webhook_head("Content-Length: 27, 27\r\n"), form), 400, true},
      {"two different Content-Lengths", with_body(webhook_head("Content-Length: 27\r\nContent-Length: 5\r\n"), form), 400, true},
      {"two equal Content-Lengths", with_body(webhook_head("Content-Length: 27\r\nContent-Length: 27\r\n"), form), 400, true},
      {"Content-Length and chunked", with_body(webhook_head("Content-Length: 27\r\nTransfer-Encoding: chunked\r\n"), "1b\r\n" + form + "\r\n0\r\n\r\n"), 400, true},
      {"Transfer-Encoding gzip", with_body(webhook_head("Transfer-Encoding: gzip\r\n"), form), 400, true},
      {"chunked not the last coding", with_body(webhook_head("Transfer-Encoding: chunked, gzip\r\n"), form), 400, true},
      {"Transfer-Encoding identity", with_body(webhook_head("Transfer-Encoding: identity\r\n"), form), 400, true},
      {"chunk size not hex", with_body(webhook_head("Transfer-Encoding: chunked\r\n"), "zz\r\n" + form + "\r\n0\r\n\r\n"), 400, true},
      {"chunk without its CRLF", with_body(webhook_head("Transfer-Encoding: chunked\r\n"), "3\r\nabcdef\r\n0\r\n\r\n"), 400, true},
      {"chunk size overflowing", with_body(webhook_head("Transfer-Encoding: chunked\r\n"), "fffffffffffffffffff\r\nab\r\n"), 400, true},
      {"chunked body over the limit", with_body(webhook_head("Transfer-Encoding: chunked\r\n"), "1000\r\n" + std::string(4096, 'a') + "\r\n0\r\n\r\n"), 413, true},
      {"Content-Length over the limit", with_body(webhook_head("Content-Length: 3000\r\n"), std::string(3000, 'a')), 413, true},
      {"admin body over the limit", "POST /sms-router/admin/users HTTP/1.1\r\nHost: x\r\nContent-Length: 99999\r\n\r\n", 413, true},
      {"POST without a length", webhook_head("\r\n") + form, 411, true},
      {"admin POST without a length", "POST /sms-router/admin/sync HTTP/1.1\r\nHost: x\r\n\r\n", 411, true},
      {"Content-Encoding gzip", with_body(webhook_head("Content-Encoding: gzip\r\nContent-Length: 27\r\n"), form), 415, true},
      // What the endpoints refuse (the connection stays usable).
      {"no such endpoint", get("/nowhere"), 404, false},
      {"no such admin endpoint", get("/sms-router/admin/nothing", std::string("Authorization: Bearer ") + kAdminToken + "\r\n"), 404, false},
      {"DELETE on health", "DELETE /sms-router/health HTTP/1.1\r\nHost: x\r\n\r\n", 405, false},
      {"GET on the webhook", get("/sms-router/webhook/sms"), 405, false},
      {"PUT on the webhook", with_body(webhook_head("Content-Length: 27\r\n").replace(0, 4, "PUT"), form), 405, false},
      {"unknown method", "BREW /sms-router/health HTTP/1.1\r\nHost: x\r\n\r\n", 405, false},
      {"bad percent-encoding in the path", get("/sms-router/he%zzalth"), 400, true},
      {"bad percent-encoding in the query", get("/sms-router/admin/lookup?phone=%zz"), 400, true},
      {"admin without a token", get("/sms-router/admin/stats"), 401, false},
      {"admin with a wrong token", get("/sms-router/admin/stats", "Authorization: Bearer nope\r\n"), 401, false},
      {"admin body not JSON", admin_post("/sms-router/admin/users", "{not json", "application/json"), 400, false},
      {"admin body as text/plain", admin_post("/sms-router/admin/users", "{}", "text/plain"), 415, false},
      {"webhook as text/plain", signed_webhook(webhook_fields({}), "text/plain"), 415, false},
      {"webhook as multipart", signed_webhook(webhook_fields({}), "multipart/form-data"), 415, false},
      {"webhook as JSON", signed_webhook(webhook_fields({}), "application/json"), 415, false},
      {"webhook body not a form", with_body(webhook_head("Content-Length: 9\r\n"), "Body=%zz&"), 400, false},
      {"webhook without a signature", with_body(webhook_head("Content-Length: 27\r\n"), form), 403, false},
      {"webhook with a wrong signature", with_body(webhook_head("X-Twilio-Signature: AAAA\r\nContent-Length: 27\r\n"), form), 403, false},
      {"foreign AccountSid", signed_webhook(webhook_fields({{"AccountSid", "AC99999999999999999999999999999999"}})), 403, false},
      // Twilio's fields, checked after the signature.
      {"NumMedia -1", signed_webhook(webhook_fields({{"NumMedia", "-1"}})), 400, false},
      {"NumMedia 10^6", signed_webhook(webhook_fields({{"NumMedia", "1000000"}})), 400, false},
      {"NumMedia 11", signed_webhook(webhook_fields({{"NumMedia", "11"}})), 400, false},
      {"NumMedia not a number", signed_webhook(webhook_fields({{"NumMedia", "two"}})), 400, false},
      {"MediaUrl1 missing", signed_webhook(webhook_fields({{"NumMedia", "2"}, {"MediaUrl0", "https://x/1"}})), 400, false},
      {"invalid UTF-8 in Body", signed_webhook(webhook_fields({{"Body", "caf\xc3"}})), 400, false},
      {"invalid UTF-8 in From", signed_webhook(webhook_fields({{"From", "+1514\xff"}})), 400, false},
      {"MessageSid of the wrong shape", signed_webhook(webhook_fields({{"MessageSid", "hello world"}, {"SmsMessageSid", "x y"}})), 400, false},
      {"MessageSid missing", signed_webhook(webhook_fields({}, {"MessageSid", "SmsMessageSid", "SmsSid"})), 400, false},
      {"From missing", signed_webhook(webhook_fields({}, {"From"})), 400, false},
      {"status callback without MessageStatus", signed_webhook({{"MessageSid", "SMabc"}, {"AccountSid", kAccountSid}}, "application/x-www-form-urlencoded", "/sms-router/webhook/status"), 400, false},
      {"status callback ErrorCode not a number", signed_webhook({{"MessageSid", "SMabc"}, {"AccountSid", kAccountSid}, {"MessageStatus", "sent"}, {"ErrorCode", "x"}}, "application/x-www-form-urlencoded", "/sms-router/webhook/status"), 400, false},
      // Well-formed requests in the less common framings are served.
      {"obsolete line folding (read as a space)", "GET /sms-router/health HTTP/1.1\r\nHost: x\r\nX-A: a\r\n  folded\r\n\r\n", 200, false},
      {"HTTP/1.0 without Host", "GET /sms-router/health HTTP/1.0\r\n\r\n", 200, true},
      {"chunked webhook with upper-case coding and a trailer",
       with_body(webhook_head("Transfer-Encoding: CHUNKED\r\n"), "1b\r\n" + form + "\r\n0\r\nX-Trailer: t\r\n\r\n"), 403, false},
      {"Expect: 100-continue", signed_webhook(webhook_fields({})).insert(std::string("POST /sms-router/webhook/sms HTTP/1.1\r\n").size(), "Expect: 100-continue\r\n"), 200, false},
  };
}

}  // namespace

TEST_CASE("every malformed request gets its status and reason, and a normal webhook routes after them", "[plain-http]") {
  Fixture f;
  f.start();
  const auto cases = malformed_requests();
  REQUIRE(cases.size() >= 60);
  for (const auto& c : cases) {
    INFO("case: " << c.name);
    RawConnection connection(f.port());
    REQUIRE(connection.send(c.request));
    auto answer = connection.read_answer(5s);
    REQUIRE(answer);
    CHECK(answer->status == c.status);
    if (answer->status >= 400) {
      // One line saying why, in the endpoint's format.
      CHECK(!answer->body.empty());
      CHECK(std::count(answer->body.begin(), answer->body.end(), '\n') <= 1);
    }
    if (c.status == 405) CHECK(!answer->header("Allow").empty());
    if (c.closes) {
      CHECK(connection.closed_within(5s));
    } else {
      REQUIRE(connection.send(get("/sms-router/health")));
      auto next = connection.read_answer(5s);
      REQUIRE(next);
      CHECK(next->status == 200);
    }
  }
  CHECK(f.service->log().find("http.internal_error") == std::string::npos);

  auto answer = post_webhook(f.port(), sms_fields(Sms(kAda, "still here")));
  REQUIRE(answer.status == 200);
  INFO(answer.body);
  CHECK(twiml_message(answer.body) == "Echo: still here");
}

TEST_CASE("a body that arrives after its head is never answered as a request of its own", "[plain-http]") {
  Fixture f;
  f.start();
  const std::string smuggled = get("/sms-router/health");
  struct Smuggle {
    const char* name;
    std::string head;
    std::string body;
    int status;
  };
  const std::vector<Smuggle> cases = {
      {"after an admin 401", "POST /sms-router/admin/sync HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                                 std::to_string(smuggled.size()) + "\r\n\r\n",
       smuggled, 401},
      {"after a 411", webhook_head("\r\n"), smuggled, 411},
      {"inside a chunked body with CHUNKED", webhook_head("Transfer-Encoding: CHUNKED\r\n\r\n"),
       [&] {
         char size[16];
         std::snprintf(size, sizeof size, "%zx", smuggled.size());
         return std::string(size) + "\r\n" + smuggled + "\r\n0\r\n\r\n";
       }(),
       403},
      {"after Content-Length: abc", webhook_head("Content-Length: abc\r\n\r\n"), smuggled, 400},
      {"after two Content-Lengths", webhook_head("Content-Length: 5\r\nContent-Length: " + std::to_string(smuggled.size()) + "\r\n\r\n"),
       smuggled, 400},
      {"after a chunked body over the limit", webhook_head("Transfer-Encoding: chunked\r\n\r\n"),
       "1000\r\n" + std::string(4096, 'a') + "\r\n0\r\n\r\n" + smuggled, 413},
  };
  for (const auto& c : cases) {
    INFO("case: " << c.name);
    RawConnection connection(f.port());
    REQUIRE(connection.send(c.head));
    std::this_thread::sleep_for(100ms);  // as behind a proxy that reuses its connections
    connection.send(c.body);             // may fail once the router has closed
    auto answer = connection.read_answer(5s);
    REQUIRE(answer);
    CHECK(answer->status == c.status);
    auto second = connection.read_answer(1500ms);
    CHECK_FALSE(second);  // the health request inside the body got no answer
  }
}

TEST_CASE("pipelined requests are all answered, in order", "[plain-http]") {
  Fixture f;
  f.start();
  RawConnection connection(f.port());
  const std::string first = signed_webhook(sms_fields(Sms(kAda, "first")));
  const std::string second = signed_webhook(sms_fields(Sms(kAda, "second")));
  REQUIRE(connection.send(get("/sms-router/health") + first + get("/nowhere") + second + get("/sms-router/metrics")));
  auto a = connection.read_answer(10s);
  auto b = connection.read_answer(10s);
  auto c = connection.read_answer(10s);
  auto d = connection.read_answer(10s);
  auto e = connection.read_answer(10s);
  REQUIRE((a && b && c && d && e));
  CHECK(a->status == 200);
  CHECK(a->body.find("\"status\"") != std::string::npos);
  CHECK(b->status == 200);
  CHECK(twiml_message(b->body) == "Echo: first");
  CHECK(c->status == 404);
  CHECK(d->status == 200);
  CHECK(twiml_message(d->body) == "Echo: second");
  CHECK(e->status == 200);
  CHECK(e->body.find("sms_router_webhooks_total") != std::string::npos);
}

TEST_CASE("a head or body that does not arrive in time is cut with 408", "[plain-http]") {
  Fixture f;
  f.config["limits"]["header_timeout_ms"] = 1000;
  f.config["limits"]["body_timeout_ms"] = 1000;
  f.start();

  // A head trickled one line at a time: the deadline counts from its first byte.
  RawConnection slow_head(f.port());
  REQUIRE(slow_head.send("POST /sms-router/webhook/sms HTTP/1.1\r\n"));
  std::optional<RawAnswer> answer;
  for (int i = 0; i < 10 && !answer; ++i) {
    slow_head.send("X-Line-" + std::to_string(i) + ": v\r\n");
    answer = slow_head.read_answer(400ms);
  }
  REQUIRE(answer);
  CHECK(answer->status == 408);
  CHECK(answer->body.find("limits.header_timeout_ms") != std::string::npos);
  CHECK(slow_head.closed_within(3s));

  RawConnection slow_body(f.port());
  REQUIRE(slow_body.send(webhook_head("Content-Length: 100\r\n\r\n") + "From=%2B1"));
  answer = slow_body.read_answer(5s);
  REQUIRE(answer);
  CHECK(answer->status == 408);
  CHECK(answer->body.find("limits.body_timeout_ms") != std::string::npos);
  CHECK(slow_body.closed_within(3s));

  const std::string metrics = http_get(f.port(), "/sms-router/metrics").body;
  CHECK(metrics.find("sms_router_http_requests_timed_out_total 2") != std::string::npos);
  CHECK(metrics.find("sms_router_http_connections_closed_total{reason=\"header_timeout\"} 1") != std::string::npos);
}

TEST_CASE("the per-client cap refuses the excess from one address and nobody else", "[plain-http]") {
  Fixture f;
  f.config["limits"]["max_connections_per_client"] = 5;
  f.config["listen"]["trusted_proxies"] = {"127.0.0.9"};
  f.start();
  std::vector<RawConnection> held;
  for (int i = 0; i < 5; ++i) held.emplace_back(f.port(), "127.0.0.3");
  RawConnection excess(f.port(), "127.0.0.3");
  auto refused = excess.read_answer(5s);
  REQUIRE(refused);
  CHECK(refused->status == 503);
  CHECK(refused->body.find("limits.max_connections_per_client") != std::string::npos);
  CHECK(excess.closed_within(5s));

  // The five still work, and so do other addresses.
  REQUIRE(held[0].send(get("/sms-router/health")));
  auto answer = held[0].read_answer(5s);
  REQUIRE(answer);
  CHECK(answer->status == 200);
  RawConnection other(f.port(), "127.0.0.4");
  REQUIRE(other.send(get("/sms-router/health")));
  answer = other.read_answer(5s);
  REQUIRE(answer);
  CHECK(answer->status == 200);
  // A trusted proxy is not capped.
  std::vector<RawConnection> proxy;
  for (int i = 0; i < 8; ++i) proxy.emplace_back(f.port(), "127.0.0.9");
  for (auto& c : proxy) {
    REQUIRE(c.send(get("/sms-router/health")));
    auto a = c.read_answer(5s);
    REQUIRE(a);
    CHECK(a->status == 200);
  }
  CHECK(post_webhook(f.port(), sms_fields(Sms(kAda, "hi"))).status == 200);
  CHECK(http_get(f.port(), "/sms-router/metrics").body.find("sms_router_http_connections_closed_total{reason=\"per_client\"} 1") !=
        std::string::npos);
}

TEST_CASE("at limits.max_connections an idle connection is closed to make room", "[plain-http]") {
  Fixture f;
  f.config["limits"]["max_connections"] = 10;
  f.start();
  std::vector<RawConnection> idle;
  for (int i = 0; i < 10; ++i) idle.emplace_back(f.port(), "127.0.0.5");
  std::this_thread::sleep_for(200ms);  // all ten registered and idle
  RawConnection fresh(f.port(), "127.0.0.6");
  REQUIRE(fresh.send(get("/sms-router/health")));
  auto answer = fresh.read_answer(5s);
  REQUIRE(answer);
  CHECK(answer->status == 200);
  int closed = 0;
  for (auto& c : idle) closed += c.closed_within(200ms) ? 1 : 0;
  CHECK(closed >= 1);
}

TEST_CASE("thousands of idle connections and hundreds of slow heads cost no thread and do not stop webhooks", "[plain-http]") {
  const long files = raise_open_file_limit();
  const int idle_count = static_cast<int>(std::min<long>(2000, (files - 600) / 2));
  const int slow_count = 250;
  REQUIRE(idle_count >= 500);
  Fixture f;
  f.config["limits"]["header_timeout_ms"] = 6000;
  f.config["limits"]["max_connections_per_client"] = 256;
  f.start();
  REQUIRE(post_webhook(f.port(), sms_fields(Sms(kAda, "warm up"))).status == 200);
  const int threads_before = thread_count(f.service->pid());

  std::vector<RawConnection> idle;
  idle.reserve(idle_count);
  for (int i = 0; i < idle_count; ++i) idle.emplace_back(f.port(), "127.0.1." + std::to_string(1 + i / 250));
  std::vector<RawConnection> slow;
  slow.reserve(slow_count);
  for (int i = 0; i < slow_count; ++i) {
    slow.emplace_back(f.port(), "127.0.2.1");
    slow.back().send("POST /sms-router/webhook/sms HTTP/1.1\r\nHost: x\r\n");
  }
  // While the slow heads trickle, signed webhooks from another address keep routing.
  int routed = 0;
  for (int round = 0; round < 8; ++round) {
    for (auto& c : slow) c.send("X-Trickle: " + std::to_string(round) + "\r\n");
    auto answer = post_webhook(f.port(), sms_fields(Sms(kAda, "round " + std::to_string(round))));
    if (answer.status == 200 && twiml_message(answer.body) == "Echo: round " + std::to_string(round)) ++routed;
    std::this_thread::sleep_for(250ms);
  }
  CHECK(routed == 8);
  CHECK(thread_count(f.service->pid()) == threads_before);
  const std::string metrics = http_get(f.port(), "/sms-router/metrics").body;
  CHECK(metrics.find("sms_router_http_connections " + std::to_string(idle_count + slow_count + 1)) != std::string::npos);

  // Each slow head is cut at its deadline.
  int cut = 0;
  for (auto& c : slow) {
    auto answer = c.read_answer(8s);
    if (answer && answer->status == 408) ++cut;
  }
  CHECK(cut == slow_count);
}

TEST_CASE("an idle keep-alive connection is closed after limits.idle_timeout_s", "[plain-http]") {
  Fixture f;
  f.config["limits"]["idle_timeout_s"] = 1;
  f.start();
  RawConnection used(f.port());
  REQUIRE(used.send(get("/sms-router/health")));
  REQUIRE(used.read_answer(5s));
  RawConnection never_used(f.port());
  CHECK(used.closed_within(5s));
  CHECK(never_used.closed_within(5s));
  CHECK(http_get(f.port(), "/sms-router/metrics").body.find("sms_router_http_connections_closed_total{reason=\"idle_timeout\"} 2") !=
        std::string::npos);
}

// What the pipeline tests share: a service with a fake agent and a fake Twilio REST API that
// are both real HTTP servers, two users created through the CLI, and helpers to post status
// callbacks and admin messages and to read the database.
#pragma once

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <httplib.h>

#include <catch2/catch.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tests/integration/harness.hpp"

namespace smsr::test {

using namespace std::chrono_literals;
using nlohmann::json;

// A second router number: replies must come from the number the user wrote to.
inline constexpr const char* kOtherRouterNumber = "+15145550900";
inline constexpr const char* kAdminToken = "admin-token-for-pipeline-tests-0123456789";
inline constexpr const char* kStatusPath = "/sms-router/webhook/status";
inline constexpr const char* kAdminMessagesPath = "/sms-router/admin/messages";

// RFC 4648 base64, written here so the test does not share the router's code.
inline std::string base64(const std::string& in) {
  static const char* const table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  auto byte = [&](std::size_t k) { return static_cast<std::uint32_t>(static_cast<unsigned char>(in[k])); };
  for (; i + 2 < in.size(); i += 3) {
    std::uint32_t n = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out += table[(n >> 18) & 63];
    out += table[(n >> 12) & 63];
    out += table[(n >> 6) & 63];
    out += table[n & 63];
  }
  if (in.size() - i == 1) {
    std::uint32_t n = byte(i) << 16;
    out += table[(n >> 18) & 63];
    out += table[(n >> 12) & 63];
    out += "==";
  } else if (in.size() - i == 2) {
    std::uint32_t n = (byte(i) << 16) | (byte(i + 1) << 8);
    out += table[(n >> 18) & 63];
    out += table[(n >> 12) & 63];
    out += table[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

inline HttpAnswer post_json(int port, const std::string& path, const std::string& body, const std::string& authorization) {
  auto client = service_client(port);
  client->set_read_timeout(30, 0);
  httplib::Headers headers;
  if (!authorization.empty()) headers.emplace("Authorization", authorization);
  auto res = client->Post(path, headers, body, "application/json");
  if (!res) return {0, "connection failed: " + httplib::to_string(res.error()), "", ""};
  return {res->status, res->body, res->get_header_value("Content-Type"), res->get_header_value("X-Request-Id")};
}

// A status callback the way Twilio posts it.
inline FormFields status_fields(const std::string& sid, const std::string& status, const std::string& error_code = "") {
  FormFields f = {{"MessageSid", sid},       {"SmsSid", sid},       {"AccountSid", kAccountSid},
                  {"MessageStatus", status}, {"SmsStatus", status}, {"To", kAda},
                  {"From", kRouterNumber},   {"ApiVersion", "2010-04-01"}};
  if (!error_code.empty()) f.emplace_back("ErrorCode", error_code);
  return f;
}

// Signed like every Twilio request: over public_url + path, with the auth token.
inline HttpAnswer post_status(int port, const FormFields& fields, const std::string& token = kAuthToken,
                       const std::string& public_url = "http://localhost:8000") {
  std::string signature = compute_signature(token, signature_payload(public_url + kStatusPath, fields));
  return post_raw(port, kStatusPath, encode_form(fields), {{"X-Twilio-Signature", signature}});
}

inline std::string sql_literal(const std::string& text) { return "'" + text + "'"; }

struct PipelineFixture {
  TempDir dir;
  FakeAgent agent;
  FakeTwilio twilio;
  json config = base_config(dir);
  std::string public_url = "http://localhost:8000";
  std::unique_ptr<Service> service;

  PipelineFixture() {
    config["agent"]["url"] = agent.url();
    config["twilio"]["api_base_url"] = twilio.url();
    config["twilio"]["numbers"] = {kRouterNumber, kOtherRouterNumber};
  }

  // Writes the configuration and creates Ada (two numbers) and Bob through the CLI.
  void create() {
    config["public_url"] = public_url;
    service = std::make_unique<Service>(dir, config);
    REQUIRE(service->cli({"users", "add", "--id", "1", "--phone", kAda, "--phone", kAdaSecond,
                          "--email", "ada@example.com", "--name", "Ada"}).status == 0);
    REQUIRE(service->cli({"users", "add", "--id", "2", "--phone", kBob, "--email", "bob@example.com"})
                .status == 0);
  }

  void start() {
    if (!service) create();
    service->start();
  }

  // An agent slower than the webhook waits: its reply goes out through the REST API.
  void slow_agent(const std::string& reply) {
    config["agent"]["inline_wait_ms"] = 100;
    agent.set_behaviour([reply](const FakeAgent::Request&) {
      return FakeAgent::Response{200, json{{"reply", reply}}.dump(), 600ms};
    });
  }

  HttpAnswer send(const Sms& sms) { return post_webhook(service->port(), sms_fields(sms), kAuthToken, public_url); }

  HttpAnswer admin_message(long long user_id, const std::string& body,
                           const std::string& authorization = std::string("Bearer ") + kAdminToken) {
    return post_json(service->port(), kAdminMessagesPath, json{{"user_id", user_id}, {"body", body}}.dump(),
                     authorization);
  }

  long long count(const std::string& sql) {
    SQLite::Database db(dir.file("router.db"));
    return db.execAndGet(sql).getInt64();
  }

  // The first column of the first row as text; "" for no row or NULL.
  std::string text(const std::string& sql) {
    SQLite::Database db(dir.file("router.db"));
    SQLite::Statement st(db, sql);
    if (!st.executeStep() || st.getColumn(0).isNull()) return "";
    return st.getColumn(0).getString();
  }

  // Every row, every column as text (NULL as "").
  std::vector<std::vector<std::string>> rows(const std::string& sql) {
    SQLite::Database db(dir.file("router.db"));
    SQLite::Statement st(db, sql);
    std::vector<std::vector<std::string>> out;
    while (st.executeStep()) {
      std::vector<std::string> row;
      for (int i = 0; i < st.getColumnCount(); ++i) {
        row.push_back(st.getColumn(i).isNull() ? "" : st.getColumn(i).getString());
      }
      out.push_back(std::move(row));
    }
    return out;
  }

  std::string inbound_state(const std::string& sid) {
    return text("SELECT state FROM inbound_messages WHERE message_sid = " + sql_literal(sid));
  }

  // True when `reply` reached `to`: inline in the webhook's answer, or else later through
  // the REST API.
  bool reply_reached(const HttpAnswer& answer, const std::string& reply, const std::string& to) {
    if (twiml_message(answer.body) == reply) return true;
    return eventually([&] {
      for (const auto& r : twilio.accepted()) {
        if (r.field("Body") == reply && r.field("To") == to) return true;
      }
      return false;
    });
  }
};

// Words of varied lengths, about `chars` characters in all, separated by single spaces.
inline std::vector<std::string> many_words(std::size_t chars) {
  std::vector<std::string> words;
  std::size_t total = 0;
  for (int i = 0; total < chars; ++i) {
    std::string word = "w" + std::to_string(i) + std::string(static_cast<std::size_t>(i * 7 % 13), static_cast<char>('a' + i % 26));
    total += word.size() + 1;
    words.push_back(std::move(word));
  }
  return words;
}

inline std::string join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? separator : "") + parts[i];
  return out;
}

}  // namespace smsr::test

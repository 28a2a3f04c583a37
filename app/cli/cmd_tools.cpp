// Operator tools: `simulate` (post a signed webhook like Twilio) and `signature`
// (explain a 403). Both use the server's own signature code.
#include <httplib.h>

#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

#include "app/cli/commands.hpp"
#include "app/twilio/signature.hpp"
#include "app/twilio/webhook_paths.hpp"

namespace smsr {
namespace {

std::string random_sid(const char* prefix) {
  std::random_device rd;
  std::mt19937_64 rng(rd());
  static const char* hex = "0123456789abcdef";
  std::string sid = prefix;
  for (int i = 0; i < 32; ++i) sid.push_back(hex[rng() % 16]);
  return sid;
}

std::string xml_unescape(std::string text) {
  const std::pair<const char*, const char*> entities[] = {
      {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&apos;", "'"}, {"&amp;", "&"}};
  for (const auto& [from, to] : entities) {
    std::string f = from;
    for (auto pos = text.find(f); pos != std::string::npos; pos = text.find(f, pos + 1)) {
      text.replace(pos, f.size(), to);
    }
  }
  return text;
}

// The texts of every <Message> in a TwiML answer.
std::vector<std::string> twiml_messages(const std::string& twiml) {
  std::vector<std::string> out;
  const std::string open = "<Message>", close = "</Message>";
  for (auto pos = twiml.find(open); pos != std::string::npos; pos = twiml.find(open, pos)) {
    auto end = twiml.find(close, pos);
    if (end == std::string::npos) break;
    out.push_back(xml_unescape(twiml.substr(pos + open.size(), end - pos - open.size())));
    pos = end;
  }
  return out;
}

std::string read_file_or_throw(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError("cannot read " + path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> tokens_or_throw(const Config& config) {
  if (config.twilio.auth_token.empty()) {
    throw ConfigError(
        "twilio.auth_token is not set; signatures need it (config file, twilio.auth_token_file, "
        "or SMS_ROUTER_TWILIO_AUTH_TOKEN)");
  }
  return {config.twilio.auth_token, config.twilio.secondary_auth_token};
}

}  // namespace

int cmd_simulate(const ConfigLocation& where, const SimulateArgs& args) {
  Config config = where.load();
  std::string to = args.to;
  if (to.empty()) to = config.twilio.numbers.empty() ? "+15005550006" : config.twilio.numbers.front();
  std::string body;
  for (const auto& w : args.words) body += (body.empty() ? "" : " ") + w;

  // The fields Twilio sends for a plain SMS (SmsSid and SmsMessageSid repeat MessageSid).
  std::string sid = args.message_sid.empty() ? random_sid("SM") : args.message_sid;
  FormFields fields = {
      {"ToCountry", "US"},
      {"SmsMessageSid", sid},
      {"NumMedia", "0"},
      {"SmsSid", sid},
      {"SmsStatus", "received"},
      {"Body", body},
      {"To", to},
      {"NumSegments", "1"},
      {"MessageSid", sid},
      {"AccountSid", config.twilio.account_sid.empty() ? random_sid("AC") : config.twilio.account_sid},
      {"From", args.from},
      {"ApiVersion", "2010-04-01"},
  };

  httplib::Headers headers;
  if (config.twilio.validate_signature) {
    auto tokens = tokens_or_throw(config);
    std::string url = config.public_url + kSmsWebhookPath;
    headers.emplace("X-Twilio-Signature", compute_signature(tokens.front(), signature_payload(url, fields)));
  }
  headers.emplace("User-Agent", "TwilioProxy/1.1 (sms-router simulate)");

  std::string target = args.target;
  const bool own_port = target.empty();
  if (own_port) {
    std::string host = config.listen.host == "0.0.0.0" || config.listen.host == "::" ? "127.0.0.1"
                                                                                     : config.listen.host;
    target = (config.listen.tls() ? "https://" : "http://") + host + ":" + std::to_string(config.listen.port);
  }
  httplib::Client client(target);
  // The certificate names the public host, not 127.0.0.1: on this machine's own port it
  // cannot be checked. Any other https:// target is checked.
  if (own_port) client.enable_server_certificate_verification(false);
  if (!args.ca_file.empty()) client.set_ca_cert_path(args.ca_file.c_str());
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(20, 0);
  auto res = client.Post(kSmsWebhookPath, headers, encode_form(fields), "application/x-www-form-urlencoded");
  if (!res) {
    std::fprintf(stderr, "sms-router: error: cannot reach the service at %s (%s); is `sms-router serve` running?\n",
                 target.c_str(), httplib::to_string(res.error()).c_str());
    return 1;
  }
  if (res->status != 200) {
    std::string reason = res->body;
    while (!reason.empty() && (reason.back() == '\n' || reason.back() == '\r')) reason.pop_back();
    std::fprintf(stderr, "sms-router: error: the service answered HTTP %d: %s\n", res->status, reason.c_str());
    return 1;
  }
  auto messages = twiml_messages(res->body);
  if (messages.empty()) {
    std::printf("(no reply in the webhook answer: either none is due, or the agent's reply comes later "
                "through Twilio's API)\n");
  }
  for (const auto& m : messages) std::printf("%s\n", m.c_str());
  return 0;
}

int cmd_signature(const ConfigLocation& where, const SignatureArgs& args) {
  Config config = where.load();
  auto tokens = tokens_or_throw(config);
  std::string raw_json;
  FormFields fields;
  if (args.json_file) {
    raw_json = read_file_or_throw(*args.json_file);
  } else if (args.form_body && !parse_form(*args.form_body, fields)) {
    throw UsageError("--body is not valid application/x-www-form-urlencoded text");
  }

  auto check = [&](const std::string& signature) {
    return args.json_file ? check_json_signature(args.url, raw_json, signature, tokens)
                          : check_form_signature(args.url, fields, signature, tokens);
  };
  SignatureCheck expected = check("");
  std::printf("url signed:    %s\n", expected.signed_url.c_str());
  std::printf("string signed: %s\n", expected.payload.c_str());
  std::printf("signature:     %s\n", compute_signature(tokens.front(), expected.payload).c_str());
  if (args.json_file && args.url.find("bodySHA256=") == std::string::npos) {
    std::printf("note:          a JSON body is signed through ?bodySHA256=%s in the URL\n",
                sha256_hex(raw_json).c_str());
  }
  if (!args.signature) return 0;

  SignatureCheck result = check(*args.signature);
  if (result.valid) {
    std::printf("accepted:      the signature matches %s\n", result.signed_url.c_str());
    return 0;
  }
  std::printf("rejected:      no URL variant of %s signed with the configured token(s) gives %s\n",
              args.url.c_str(), args.signature->c_str());
  std::printf("hint:          the server signs over public_url + path + query exactly as Twilio "
              "calls it; check scheme, host, port and query\n");
  return 1;
}

}  // namespace smsr

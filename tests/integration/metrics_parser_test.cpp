// GET /sms-router/metrics read by a real Prometheus text-format parser: the one in the
// Prometheus Python client (Debian: python3-prometheus-client, installed by
// scripts/install-deps.sh), run as /usr/bin/python3, after real traffic through the real
// binary.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>

#include <cerrno>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "app/http/metrics_exposition.hpp"
#include "tests/integration/harness.hpp"

extern char** environ;

using namespace smsr;
using namespace smsr::test;
using nlohmann::json;

namespace {

// The distribution's interpreter, where python3-prometheus-client lives; a python3 earlier
// on PATH (a virtualenv, pyenv) would not have it.
constexpr const char* kPython = "/usr/bin/python3";

// Parses the exposition text in the file argv[1] with prometheus_client's parser and prints
// {"families": [{"name", "type", "help", "samples": [[name, labels, value], ...]}]} on
// stdout, and "name type samples" per family on stderr. The parser is lax (a sample that
// belongs to no declared family becomes an untyped ("unknown") family of its own; a family may be
// declared twice), so those cases, a family without HELP, and histograms whose buckets are
// not cumulative or do not end at +Inf == _count, are errors too. Any error: exit 1.
constexpr const char* kParserScript = R"PY(
import json, math, sys
from prometheus_client.parser import text_string_to_metric_families

text = open(sys.argv[1], encoding="utf-8").read()
errors = []
families = []
try:
    families = list(text_string_to_metric_families(text))
except Exception as e:
    print("parse error: %s: %s" % (type(e).__name__, e), file=sys.stderr)
    sys.exit(1)

seen = set()
out = []
for f in families:
    print("%s %s %d" % (f.name, f.type, len(f.samples)), file=sys.stderr)
    if f.name in seen:
        errors.append("family %s declared twice" % f.name)
    seen.add(f.name)
    if f.type in ("untyped", "unknown"):
        errors.append("sample %s outside its family (no TYPE line before it)" % f.name)
    if not f.documentation:
        errors.append("family %s has no HELP" % f.name)
    if not f.samples:
        errors.append("family %s has no sample" % f.name)
    for s in f.samples:
        if math.isnan(s.value):
            errors.append("%s%s is NaN" % (s.name, s.labels))
    if f.type == "histogram":
        buckets = [s for s in f.samples if s.name == f.name + "_bucket"]
        bounds = [float(s.labels.get("le", "nan")) for s in buckets]
        counts = [s.value for s in buckets]
        total = [s.value for s in f.samples if s.name == f.name + "_count"]
        if not buckets or bounds != sorted(bounds) or bounds[-1] != math.inf:
            errors.append("histogram %s: le bounds %s not ascending to +Inf" % (f.name, bounds))
        if counts != sorted(counts):
            errors.append("histogram %s: buckets not cumulative: %s" % (f.name, counts))
        if len(total) != 1 or not buckets or total[0] != counts[-1]:
            errors.append("histogram %s: _count %s differs from the +Inf bucket" % (f.name, total))
        if len([s for s in f.samples if s.name == f.name + "_sum"]) != 1:
            errors.append("histogram %s: no _sum" % f.name)
    out.append({"name": f.name, "type": f.type, "help": f.documentation,
                "samples": [[s.name, s.labels, s.value] for s in f.samples]})

for e in errors:
    print("error: " + e, file=sys.stderr)
print(json.dumps({"families": out}))
sys.exit(1 if errors else 0)
)PY";

// Runs `program args...` with stdin from /dev/null; returns the exit status and output.
CommandResult run_program(const std::vector<std::string>& args, const TempDir& dir) {
  const std::string out = dir.file("program.out"), err = dir.file("program.err");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<std::string> store = args;
  std::vector<char*> argv;
  for (auto& a : store) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " + args.front());
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  CommandResult r;
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_file(out);
  r.err = read_file(err);
  return r;
}

struct Family {
  std::string type;
  json samples;  // [[name, {labels}, value], ...]
};

// The families the Python parser found, by name. Like every Prometheus client it names a
// counter family without its "_total" suffix; the samples keep it.
std::map<std::string, Family> parse_with_prometheus_client(const std::string& text, const TempDir& dir) {
  const std::string path = dir.file("metrics.txt");
  write_file(path, text);
  // -I: ignore PYTHON* variables and the user's site-packages.
  auto result = run_program({kPython, "-I", "-c", kParserScript, path}, dir);
  INFO("python stderr:\n" << result.err << "\nmetrics text:\n" << text);
  if (result.err.find("No module named 'prometheus_client'") != std::string::npos) {
    FAIL("python3-prometheus-client is not installed; scripts/install-deps.sh installs it");
  }
  REQUIRE(result.status == 0);
  const json parsed = json::parse(result.out);
  std::map<std::string, Family> families;
  for (const auto& f : parsed.at("families")) {
    families[f.at("name").get<std::string>()] = {f.at("type").get<std::string>(), f.at("samples")};
  }
  return families;
}

// The value of the sample `name` with exactly `labels` in `family`, or -1 when absent.
double sample(const Family& family, const std::string& name, const json& labels = json::object()) {
  for (const auto& s : family.samples) {
    if (s[0] == name && s[1] == labels) return s[2].get<double>();
  }
  return -1;
}

// True when `value` could be a phone number: 7 or more digits, or a '+' before a digit.
bool looks_like_phone_number(const std::string& value) {
  int digits = 0;
  for (char c : value) digits += (c >= '0' && c <= '9') ? 1 : 0;
  auto plus = value.find('+');
  bool plus_digit = plus != std::string::npos && plus + 1 < value.size() && value[plus + 1] >= '0' &&
                    value[plus + 1] <= '9';
  return digits >= 7 || plus_digit;
}

}  // namespace

TEST_CASE("the metrics text parses with the Prometheus client's parser, with the expected families and types") {
  TempDir dir;
  FakeAgent agent;
  json config = base_config(dir);
  config["agent"]["url"] = agent.url();
  Service service(dir, config);
  REQUIRE(service.cli({"users", "add", "--id", "1", "--phone", kAda, "--phone", kAdaSecond}).status == 0);
  REQUIRE(service.cli({"users", "add", "--id", "2", "--phone", kBob}).status == 0);
  service.start();

  // Traffic: two routed messages (one from an extra number), an unknown sender, a STOP and
  // a forged signature.
  const int port = service.port();
  REQUIRE(twiml_message(post_webhook(port, sms_fields({kAda, "first"})).body) == "agent 1: first");
  REQUIRE(twiml_message(post_webhook(port, sms_fields({kAdaSecond, "second"})).body) == "agent 1: second");
  REQUIRE(post_webhook(port, sms_fields({kStranger, "who is this"})).status == 200);
  REQUIRE(post_webhook(port, sms_fields({kBob, "STOP"})).status == 200);
  REQUIRE(post_webhook(port, sms_fields({kBob, "forged"}), "not-the-auth-token").status == 403);

  auto answer = http_get(port, "/sms-router/metrics");
  REQUIRE(answer.status == 200);
  auto families = parse_with_prometheus_client(answer.body, dir);
  INFO("metrics text:\n" << answer.body);

  const std::map<std::string, std::string> expected = {
      {"sms_router_webhooks", "counter"},
      {"sms_router_webhook_duration_seconds", "histogram"},
      {"sms_router_cache_hits", "counter"},
      {"sms_router_cache_misses", "counter"},
      {"sms_router_cache_entries", "gauge"},
      {"sms_router_agent_calls", "counter"},
      {"sms_router_agent_failures", "counter"},
      {"sms_router_agent_duration_seconds", "histogram"},
      {"sms_router_queue_depth", "gauge"},
      {"sms_router_outbound_sent", "counter"},
      {"sms_router_outbound_failed", "counter"},
      {"sms_router_ambiguous_numbers", "gauge"},
      {"sms_router_sync_runs", "counter"},
      {"sms_router_sync_failures", "counter"},
      {"sms_router_sync_last_success_timestamp_seconds", "gauge"},
      {"sms_router_usage_logs_unpushed", "gauge"},
      {"sms_router_oldest_pending_age_seconds", "gauge"},
      {"sms_router_db_writes", "counter"},
      {"sms_router_db_commits", "counter"},
  };
  for (const auto& [name, type] : expected) {
    INFO(name);
    REQUIRE(families.count(name) == 1);
    CHECK(families.at(name).type == type);
  }

  // Webhooks by outcome: every outcome rendered from the start, these ones counted.
  const Family& webhooks = families.at("sms_router_webhooks");
  for (auto outcome : kWebhookOutcomes) {
    INFO(outcome);
    CHECK(sample(webhooks, "sms_router_webhooks_total", {{"outcome", std::string(outcome)}}) >= 0);
  }
  CHECK(sample(webhooks, "sms_router_webhooks_total", {{"outcome", "routed"}}) == 2);
  CHECK(sample(webhooks, "sms_router_webhooks_total", {{"outcome", "unknown"}}) == 1);
  CHECK(sample(webhooks, "sms_router_webhooks_total", {{"outcome", "opt_out"}}) == 1);
  CHECK(sample(webhooks, "sms_router_webhooks_total", {{"outcome", "rejected_signature"}}) == 1);

  // The latency histograms: buckets by le up to +Inf, _sum and _count (the parser script
  // already checked that the buckets are cumulative and +Inf == _count).
  const Family& latency = families.at("sms_router_webhook_duration_seconds");
  CHECK(sample(latency, "sms_router_webhook_duration_seconds_count") == 5);
  CHECK(sample(latency, "sms_router_webhook_duration_seconds_bucket", {{"le", "+Inf"}}) == 5);
  CHECK(sample(latency, "sms_router_webhook_duration_seconds_sum") > 0);
  int buckets = 0;
  for (const auto& s : latency.samples) buckets += s[0] == "sms_router_webhook_duration_seconds_bucket" ? 1 : 0;
  CHECK(buckets > 5);
  const Family& agent_latency = families.at("sms_router_agent_duration_seconds");
  CHECK(sample(agent_latency, "sms_router_agent_duration_seconds_count") == 2);
  CHECK(sample(families.at("sms_router_agent_calls"), "sms_router_agent_calls_total") == 2);

  const Family& queues = families.at("sms_router_queue_depth");
  CHECK(sample(queues, "sms_router_queue_depth", {{"queue", "agent"}}) >= 0);
  CHECK(sample(queues, "sms_router_queue_depth", {{"queue", "outbound"}}) >= 0);
  const Family& oldest = families.at("sms_router_oldest_pending_age_seconds");
  CHECK(sample(oldest, "sms_router_oldest_pending_age_seconds", {{"queue", "agent"}}) >= 0);
  CHECK(sample(oldest, "sms_router_oldest_pending_age_seconds", {{"queue", "outbound"}}) >= 0);

  // No label value is a phone number, and no number appears anywhere in the text.
  for (const auto& [name, family] : families) {
    for (const auto& s : family.samples) {
      for (const auto& [label, value] : s[1].items()) {
        INFO(s[0] << " " << label << "=" << value);
        CHECK_FALSE(looks_like_phone_number(value.get<std::string>()));
      }
    }
  }
  for (const char* number : {kAda, kAdaSecond, kBob, kStranger, kRouterNumber}) {
    CHECK(answer.body.find(std::string(number).substr(1)) == std::string::npos);
  }
}

TEST_CASE("the Prometheus parser check fails on text that is not valid exposition") {
  // The check itself: the same parser run must reject broken text, or the test above
  // proves nothing.
  TempDir dir;
  const std::vector<std::string> broken = {
      // A sample value that is not a number.
      "# HELP a_total x\n# TYPE a_total counter\na_total one\n",
      // A label value without quotes.
      "# HELP b x\n# TYPE b gauge\nb{queue=agent} 1\n",
      // A sample outside its family.
      "# HELP c x\n# TYPE c gauge\nc 1\nd 2\n",
      // Buckets that are not cumulative.
      "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 3\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 2\n",
  };
  for (const auto& text : broken) {
    INFO(text);
    write_file(dir.file("broken.txt"), text);
    auto result = run_program({kPython, "-I", "-c", kParserScript, dir.file("broken.txt")}, dir);
    INFO(result.err);
    CHECK(result.status == 1);
  }
}

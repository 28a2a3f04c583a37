#include "app/http/metrics_exposition.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <exception>

#include "app/routing/central_sync.hpp"
#include "app/routing/directory.hpp"
#include "app/routing/dispatcher.hpp"
#include "app/routing/sender.hpp"
#include "core/clock.hpp"
#include "core/log.hpp"
#include "storage/store.hpp"

namespace smsr {
namespace {

std::string format_number(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (std::isnan(value)) return "NaN";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  if (ec != std::errc()) return "NaN";
  return std::string(buf, end);
}

class Exposition {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out_.append("# TYPE ").append(name).append(" ").append(type).append("\n");
  }

  void sample(std::string_view name, std::string_view labels, const std::string& value) {
    out_.append(name);
    if (!labels.empty()) out_.append("{").append(labels).append("}");
    out_.append(" ").append(value).append("\n");
  }
  void sample(std::string_view name, std::string_view labels, std::uint64_t value) {
    sample(name, labels, std::to_string(value));
  }
  void sample(std::string_view name, std::uint64_t value) { sample(name, "", std::to_string(value)); }

  void counter(std::string_view name, std::string_view help, std::uint64_t value) {
    family(name, "counter", help);
    sample(name, value);
  }

  void gauge(std::string_view name, std::string_view help, const std::string& value) {
    family(name, "gauge", help);
    sample(name, "", value);
  }

  void histogram(const std::string& name, std::string_view help, const Histogram::Snapshot& h) {
    family(name, "histogram", help);
    for (std::size_t i = 0; i < h.upper_bounds.size(); ++i) {
      sample(name + "_bucket", "le=\"" + format_number(h.upper_bounds[i]) + "\"", h.cumulative[i]);
    }
    sample(name + "_bucket", "le=\"+Inf\"", h.count);
    sample(name + "_sum", "", format_number(h.sum));
    sample(name + "_count", h.count);
  }

  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace


std::int64_t AmbiguousNumbersGauge::read(Store& store) {
  std::lock_guard lock(mu_);  // concurrent scrapes share one query
  auto now = std::chrono::steady_clock::now();
  if (!read_at_ || now - *read_at_ >= max_age_) {
    value_ = store.count_ambiguous_numbers();
    read_at_ = now;
  }
  return value_;
}

MetricsReadings read_metrics(Store& store, const PhoneDirectory& directory, const Dispatcher& dispatcher,
                             const Sender& sender, const CentralSync* central_sync, AmbiguousNumbersGauge& ambiguous) {
  MetricsReadings r;
  if (central_sync) {
    const SyncStatus status = central_sync->status();
    r.sync_runs = status.runs;
    r.sync_failures = status.failures;
    r.sync_last_success_ms = status.last_success_ms;
  }
  auto cache = directory.stats();
  r.cache_hits = cache.hits;
  r.cache_misses = cache.misses;
  r.cache_entries = cache.entries;
  r.agent_queue = dispatcher.queue_depth();
  r.outbound_queue = sender.queue_depth();
  auto writer = store.writer_counts();
  r.db_writes = writer.writes;
  r.db_commits = writer.commits;
  try {
    r.ambiguous_numbers = ambiguous.read(store);
    r.usage_logs_unpushed = central_sync ? store.count_unpushed_usage_logs() : 0;
    auto oldest = store.oldest_pending();
    const EpochMs now = system_clock().now_ms();
    auto waited = [now](std::optional<EpochMs> since) {
      return since ? std::max(0.0, static_cast<double>(now - *since) / 1000.0) : 0.0;
    };
    r.oldest_agent_wait_s = waited(oldest.inbound_received_ms);
    r.oldest_outbound_wait_s = waited(oldest.outbound_created_ms);
  } catch (const StoreError& e) {
    LOG_WARN("metrics.database_unreadable", {"error", e.what()});
  }
  return r;
}

namespace {

void render_edge(Exposition& out, const EdgeReadings& edge) {
  out.gauge("sms_router_http_connections", "Open HTTP connections", std::to_string(edge.open_connections));
  if (const EdgeCounters* c = edge.counters) {
    out.counter("sms_router_http_connections_accepted_total", "HTTP connections accepted (refused ones included)",
                c->accepted.load());
    out.family("sms_router_http_connections_closed_total", "counter",
               "HTTP connections the router refused or cut, by reason: max_connections and per_client "
               "(refused at once), idle_for_new (an idle one closed to make room), idle_timeout, "
               "header_timeout and body_timeout (answered 408), write_timeout (the client did not read), "
               "tls_handshake");
    auto sample = [&out](const char* reason, const std::atomic<std::uint64_t>& value) {
      out.sample("sms_router_http_connections_closed_total", std::string("reason=\"") + reason + "\"", value.load());
    };
    sample("max_connections", c->refused_max_connections);
    sample("per_client", c->refused_per_client);
    sample("idle_for_new", c->closed_idle_for_new);
    sample("idle_timeout", c->closed_idle_timeout);
    sample("header_timeout", c->cut_header_timeout);
    sample("body_timeout", c->cut_body_timeout);
    sample("write_timeout", c->cut_write_timeout);
    sample("tls_handshake", c->tls_handshake_failed);
    out.counter("sms_router_http_requests_timed_out_total",
                "Requests answered 408: their head or body did not arrive in time",
                c->cut_header_timeout.load() + c->cut_body_timeout.load());
    out.counter("sms_router_http_requests_refused_total",
                "Requests the edge answered itself with a 4xx: framing, size, deadlines", c->bad_requests.load());
    out.counter("sms_router_http_requests_total", "Requests read and handed to an endpoint", c->requests.load());
  }
  if (edge.tls_not_after_s) {
    const double left = static_cast<double>(*edge.tls_not_after_s) - static_cast<double>(system_clock().now_ms()) / 1000.0;
    out.gauge("sms_router_tls_certificate_expiry_seconds",
              "Seconds until the served certificate (listen.tls_cert_file) expires; negative once expired",
              format_number(left));
  }
}

}  // namespace

std::string render_metrics(const Metrics& m, const MetricsReadings& r) {
  Exposition out;

  out.family("sms_router_webhooks_total", "counter",
             "Inbound SMS webhooks by outcome: what the router decided, duplicate (a repeated "
             "MessageSid), or why it refused (rejected_signature: bad signature or foreign AccountSid; "
             "bad_request; too_large; unavailable: not stored; other: an outcome this build does not name)");
  for (auto outcome : m.webhooks.values()) {
    out.sample("sms_router_webhooks_total", "outcome=\"" + std::string(outcome) + "\"", m.webhooks.value(outcome));
  }
  out.histogram("sms_router_webhook_duration_seconds", "Time to answer an inbound SMS webhook",
                m.webhook_duration.snapshot());

  out.counter("sms_router_cache_hits_total", "Number lookups answered from the in-process cache", r.cache_hits);
  out.counter("sms_router_cache_misses_total", "Number lookups that read the local database", r.cache_misses);
  out.gauge("sms_router_cache_entries", "Entries in the number cache (negative answers included)",
            std::to_string(r.cache_entries));

  out.counter("sms_router_agent_calls_total", "Agent call attempts", m.agent_calls.value());
  out.counter("sms_router_agent_failures_total",
              "Agent call attempts that produced no answer (timeout, connection error, error status)",
              m.agent_failures.value());
  out.histogram("sms_router_agent_duration_seconds", "Duration of one agent call attempt",
                m.agent_duration.snapshot());

  out.family("sms_router_queue_depth", "gauge",
             "Work waiting in memory: messages for agents, outgoing SMS for Twilio");
  out.sample("sms_router_queue_depth", "queue=\"agent\"", r.agent_queue);
  out.sample("sms_router_queue_depth", "queue=\"outbound\"", r.outbound_queue);

  out.counter("sms_router_db_writes_total", "Writes to the local database in committed transactions", r.db_writes);
  out.counter("sms_router_db_commits_total",
              "Transactions committed to the local database (each one fsync); writes per commit is how "
              "well concurrent webhooks share them",
              r.db_commits);

  if (r.oldest_agent_wait_s && r.oldest_outbound_wait_s) {
    out.family("sms_router_oldest_pending_age_seconds", "gauge",
               "How long the oldest message still waiting has waited (0 = none): inbound messages for "
               "their agent, outgoing SMS for Twilio. Growing steadily means that side is stuck");
    out.sample("sms_router_oldest_pending_age_seconds", "queue=\"agent\"", format_number(*r.oldest_agent_wait_s));
    out.sample("sms_router_oldest_pending_age_seconds", "queue=\"outbound\"",
               format_number(*r.oldest_outbound_wait_s));
  }

  out.counter("sms_router_outbound_sent_total", "Outgoing SMS (parts) accepted by Twilio's REST API",
              m.outbound_sent.value());
  out.counter("sms_router_outbound_failed_total",
              "Attempts to send an SMS that Twilio refused or that failed (retried attempts included)",
              m.outbound_failed.value());

  if (r.ambiguous_numbers) {
    out.gauge("sms_router_ambiguous_numbers",
              "Numbers claimed by two or more users: they reach no agent until the data is fixed",
              std::to_string(*r.ambiguous_numbers));
  }

  out.counter("sms_router_sync_runs_total", "Central sync rounds", r.sync_runs);
  out.counter("sms_router_sync_failures_total", "Central sync rounds that failed", r.sync_failures);
  out.gauge("sms_router_sync_last_success_timestamp_seconds",
            "Unix time of the last successful central sync round; 0 = never",
            format_number(static_cast<double>(r.sync_last_success_ms) / 1000.0));
  if (r.usage_logs_unpushed) {
    out.gauge("sms_router_usage_logs_unpushed", "Usage logs waiting to be pushed to the central database",
              std::to_string(*r.usage_logs_unpushed));
  }
  render_edge(out, r.edge);
  return out.take();
}

WebhookObservation::WebhookObservation(Metrics& metrics)
    : metrics_(metrics), started_(std::chrono::steady_clock::now()) {}

WebhookObservation::~WebhookObservation() {
  if (!finished_) finish(-1);
}

std::string_view WebhookObservation::outcome_of_status(int status) {
  if (status == 401 || status == 403) return "rejected_signature";
  if (status == 413) return "too_large";
  if (status >= 400 && status < 500) return "bad_request";
  return "unavailable";  // no answer was decided
}

void WebhookObservation::finish(int http_status) {
  if (finished_) return;
  finished_ = true;
  const std::string_view outcome =
      !outcome_.empty() && http_status == 200 ? std::string_view(outcome_) : outcome_of_status(http_status);
  metrics_.webhooks.inc(outcome);
  metrics_.webhook_duration.observe(seconds_since(started_));
}

}  // namespace smsr

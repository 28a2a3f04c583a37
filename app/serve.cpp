// `sms-router serve`: the service's life cycle as a list of steps.
#include <sched.h>
#include <sys/resource.h>
#include <signal.h>
#include <systemd/sd-daemon.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>

#include "app/agent/agent.hpp"
#include "app/http/admin_api.hpp"
#include "app/http/server.hpp"
#include "app/http/tls.hpp"
#include "app/routing/central_sync.hpp"
#include "app/routing/directory.hpp"
#include "app/routing/dispatcher.hpp"
#include "app/routing/inbound.hpp"
#include "app/routing/metrics.hpp"
#include "app/routing/pruner.hpp"
#include "app/routing/sender.hpp"
#include "app/routing/settings.hpp"
#include "app/routing/users.hpp"
#include "app/serve.hpp"
#include "app/twilio/rest_api.hpp"
#include "core/clock.hpp"
#include "core/log.hpp"
#include "core/phone.hpp"
#include "core/timer_queue.hpp"
#include "core/version.hpp"
#include "storage/store.hpp"
#include "sync/central.hpp"

namespace smsr {
namespace {

void apply_logging(const Config& config) {
  LogLevel level = LogLevel::kInfo;
  parse_log_level(config.log.level, level);
  set_log_level(level);
  auto secrets = secret_values(config);
  if (auto password = url_password(config.sync.postgres_url); !password.empty()) secrets.push_back(password);
  set_log_secrets(std::move(secrets));
}

// Signals are taken synchronously by the main thread: block them before any other thread
// exists so every thread inherits the mask.
sigset_t block_service_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return set;
}

// Like the signal mask, every thread started later inherits this. A SCHED_BATCH thread does
// not preempt the thread that wakes it: the notifier hands a commit's replies and messages
// to a score of waiting threads without being switched out after each wake-up, and they
// run once it is done (measured: lower p99, docs/PERFORMANCE.md). The threads still get
// their fair share of the CPU. A refusal (some containers) only costs that gain.
void use_batch_scheduling() {
  sched_param param{};
  if (sched_setscheduler(0, SCHED_BATCH, &param) != 0) {
    LOG_INFO("serve.batch_scheduling_unavailable", {"error", std::strerror(errno)});
  }
}

// Every open connection is a file descriptor. Takes the hard limit as the soft one (the
// default soft limit, 1024, is far below limits.max_connections) and warns when even that
// leaves too little room.
void check_open_file_limit(int max_connections) {
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) != 0) return;
  if (files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
    getrlimit(RLIMIT_NOFILE, &files);
  }
  constexpr rlim_t kOtherFiles = 256;  // the database, its WAL, logs, outgoing connections
  if (files.rlim_cur != RLIM_INFINITY && files.rlim_cur < static_cast<rlim_t>(max_connections) + kOtherFiles) {
    LOG_WARN("config.warning",
             {"warning", "limits.max_connections (" + std::to_string(max_connections) + ") does not fit the open-file limit (" +
                             std::to_string(files.rlim_cur) + "): raise LimitNOFILE or lower limits.max_connections"});
  }
}

// SIGHUP: re-read the file; keep the old configuration if the new one is wrong.
void reload(const ConfigLocation& where, Settings& settings, PhoneDirectory& directory, CentralSync* central_sync,
            HttpServer& http) {
  sd_notify(0, "RELOADING=1\nSTATUS=reloading the configuration");
  try {
    Config next = where.load();
    validate_service_config(next);
    if (auto pending = keep_restart_only(*settings.current(), next); !pending.empty()) {
      std::string names;
      for (const auto& name : pending) names += (names.empty() ? "" : ",") + name;
      LOG_WARN("config.reload_partial", {"needs_restart", names},
               {"hint", "these settings take effect after a restart; the others apply now"});
    }
    apply_logging(next);
    if (central_sync) {
      central_sync->rebase(next);  // central overrides stay on top
    } else {
      directory.set_ttl(std::chrono::seconds(next.cache.ttl_s));
      settings.replace(std::move(next));
    }
    // The certificate and key were read and checked above; new connections get them.
    std::string tls_error;
    if (!http.reload_tls(tls_error)) {
      LOG_ERROR("tls.reload_failed", {"error", tls_error}, {"hint", "the previous certificate is still served"});
    }
    for (const auto& warning : service_config_warnings(*settings.current())) LOG_WARN("config.warning", {"warning", warning});
    LOG_INFO("config.reloaded", {"path", where.path});
    sd_notify(0, "READY=1\nSTATUS=serving; configuration reloaded");
  } catch (const std::exception& e) {
    LOG_ERROR("config.reload_failed", {"path", where.path}, {"error", e.what()},
              {"hint", "the previous configuration stays in force"});
    sd_notify(0, "READY=1\nSTATUS=serving; reload failed, previous configuration kept (see the log)");
  }
}

}  // namespace

void validate_service_config(const Config& config) {
  validate_for_serve(config);
  if (!is_known_region(config.phone.default_region)) {
    throw ConfigError("phone.default_region \"" + config.phone.default_region +
                      "\" is not a region libphonenumber knows; use an ISO 3166 code such as US, CA, GB");
  }
  make_agent(config.agent, [] { return 0; });  // throws for an unusable agent.url
  if (config.listen.tls()) load_tls_pair(config.listen, system_clock().now_ms() / 1000);
}

std::vector<std::string> service_config_warnings(const Config& config) {
  std::vector<std::string> warnings;
  if (config.listen.tls()) {
    try {
      const std::int64_t now_s = system_clock().now_ms() / 1000;
      if (auto warning = expiry_warning(config.listen, load_tls_pair(config.listen, now_s), now_s); !warning.empty()) {
        warnings.push_back(std::move(warning));
      }
    } catch (const ConfigError&) {
      // validate_service_config() says what is wrong with the pair
    }
  }
  return warnings;
}

int cmd_serve(const ConfigLocation& where) {
  // 1. Configuration: load, check, set up logging.
  Config config = where.load();
  validate_service_config(config);
  apply_logging(config);
  if (!config.twilio.validate_signature) {
    LOG_WARN("config.signatures_disabled",
             {"hint", "twilio.validate_signature=false: anyone can post messages; local experiments only"});
  }
  sigset_t signals = block_service_signals();
  use_batch_scheduling();
  const Clock& clock = system_clock();

  // 2. The local database (created and migrated if needed).
  Store store(config.database.path, clock);

  // 3. The services, innermost first.
  Settings settings(config);
  PhoneNormalizer normalizer(config.phone.default_region);
  PhoneDirectory directory(store, clock, static_cast<std::size_t>(config.cache.capacity),
                           std::chrono::seconds(config.cache.ttl_s));
  store.set_phone_change_listener([&directory](const auto& numbers) { directory.invalidate(numbers); });
  Metrics metrics;  // counted by the metered agent and Twilio API, and the webhook
  std::unique_ptr<Agent> agent = metered_agent(
      make_agent(config.agent, [&settings] { return settings.current()->agent.timeout_ms; }), metrics);
  std::unique_ptr<TwilioApi> twilio = metered_twilio_api(make_twilio_api(config.twilio), metrics);
  Sender sender(store, *twilio, settings, clock, SenderOptions{});
  Dispatcher dispatcher(store, *agent, sender, settings, clock, DispatcherOptions{config.agent.concurrency});
  TimerQueue timers("timers");  // webhooks' inline waits end here
  InboundService inbound(store, directory, dispatcher, normalizer, settings, clock, timers);
  std::unique_ptr<CentralSync> central_sync;  // only with sync.postgres_url
  if (!config.sync.postgres_url.empty()) {
    central_sync = std::make_unique<CentralSync>(store, normalizer, settings, directory, config, clock);
  }
  UserService users(store, normalizer, settings);
  AdminApi admin_api(
      AdminApiDeps{settings, store, directory, dispatcher, sender, normalizer, users, central_sync.get()});
  HttpServer http(HttpDeps{settings, inbound, store, directory, dispatcher, sender, central_sync.get(), metrics,
                           admin_api});

  // 4. Bind the port before announcing anything.
  int port = http.bind(config.listen.host, config.listen.port);
  for (const auto& warning : service_config_warnings(config)) LOG_WARN("config.warning", {"warning", warning});
  check_open_file_limit(config.limits.max_connections);

  // 5. Start the workers: sender and dispatcher (both resume unfinished work), sync, the
  // pruner of old history, HTTP.
  sender.start();
  dispatcher.start();
  if (central_sync) central_sync->start();
  Pruner pruner(store, settings, clock);
  pruner.start();
  http.start();

  // 6. Ready: the database is open and the port is listening.
  LOG_INFO("serve.ready", {"listen", config.listen.host + ":" + std::to_string(port)},
           {"public_url", config.public_url}, {"database", config.database.path},
           {"agent", config.agent.url.rfind("builtin:", 0) == 0 ? config.agent.url : "http"},
           {"version", version_string()});
  sd_notifyf(0, "READY=1\nSTATUS=serving on %s:%d", config.listen.host.c_str(), port);

  // 7. Wait for signals; meanwhile notice user changes made by other processes (the CLI),
  // and tell systemd's watchdog we are alive, but only while the database still takes a
  // real write: a wedged service gets restarted instead of looking healthy.
  std::uint64_t watchdog_usec = 0;
  const bool watchdog = sd_watchdog_enabled(0, &watchdog_usec) > 0;
  auto next_ping = clock.steady();
  int stop_signal = 0;
  for (;;) {
    if (watchdog && clock.steady() >= next_ping) {
      try {
        store.check_health();
        // Agent calls end within agent.timeout_ms and sends within their own timeouts; a
        // task running far longer means a stuck worker, and systemd should restart us.
        auto limit = 2 * std::chrono::milliseconds(settings.current()->agent.timeout_ms) + std::chrono::seconds(60);
        if (dispatcher.oldest_running() > limit || sender.oldest_running() > limit) {
          LOG_ERROR("watchdog.worker_stuck", {"hint", "not pinging systemd's watchdog; a restart resumes the work"});
        } else {
          sd_notify(0, "WATCHDOG=1");
        }
      } catch (const std::exception& e) {
        LOG_ERROR("watchdog.database_failed", {"error", e.what()}, {"hint", "not pinging systemd's watchdog"});
      }
      next_ping = clock.steady() + std::chrono::microseconds(watchdog_usec / 3);
    }
    timespec tick{0, 500 * 1000 * 1000};
    int sig = sigtimedwait(&signals, nullptr, &tick);
    if (sig == SIGTERM || sig == SIGINT) {
      stop_signal = sig;
      break;
    }
    if (sig == SIGHUP) reload(where, settings, directory, central_sync.get(), http);
    try {
      directory.poll_changes();
    } catch (const std::exception& e) {
      LOG_ERROR("directory.poll_failed", {"error", e.what()});
    }
  }

  // 8. Drain: stop accepting; webhooks waiting for an inline reply answer now (the reply
  // goes out through the REST API), the others in progress answer, idle connections close.
  // Give agent calls and sends in flight a few seconds. Whatever is unfinished is already
  // durable and resumes at the next start, so if something hangs we leave without waiting.
  sd_notify(0, "STOPPING=1\nSTATUS=stopping");
  LOG_INFO("serve.stopping", {"signal", stop_signal == SIGINT ? "SIGINT" : "SIGTERM"});
  inbound.end_inline_waits();
  http.stop(std::chrono::seconds(2));
  pruner.stop();
  if (central_sync) central_sync->stop();
  bool finished = dispatcher.stop(std::chrono::seconds(4));
  // Replies the dispatcher handed on in its last moments are still queued: let the sender
  // take them within its share of the 10 s (what it cannot send resumes at the next start).
  const auto sender_deadline = clock.steady() + std::chrono::seconds(3);
  while (sender.queue_depth() > 0 && clock.steady() < sender_deadline - std::chrono::seconds(1)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  finished = sender.stop(std::chrono::duration_cast<std::chrono::milliseconds>(sender_deadline - clock.steady())) &&
             finished;
  timers.stop();
  auto pending = store.stats();
  LOG_INFO("serve.stopped", {"pending_messages", pending.pending_inbound},
           {"unsent_messages", pending.queued_outbound});
  if (!finished) {
    // Worker threads are still inside an agent or Twilio call and cannot be joined.
    std::fflush(stderr);
    std::_Exit(0);
  }
  return 0;
}

}  // namespace smsr

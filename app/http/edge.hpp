// The HTTP/1.1 edge on Boost.Beast / Boost.Asio: the listening port, its connections, their
// deadlines and caps, TLS, and the framing rules (SPEC "Every request gets an answer").
//
// A few I/O threads (listen.io_threads) serve every connection; no thread is held per
// connection or while a handler answers later. The edge reads one whole request at a time
// per connection (pipelined ones wait in its buffer, so they are answered in order), hands
// it to the application, writes the answer, and goes on. Whatever the edge cannot read as
// a request gets an answer naming why, and then the connection closes: the rest of what the
// client sent is never parsed as a request.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "app/http/http_message.hpp"

namespace smsr {

class Settings;

// What the edge counts; read by /metrics.
struct EdgeCounters {
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> refused_max_connections{0};  // no idle connection to close for it
  std::atomic<std::uint64_t> refused_per_client{0};       // limits.max_connections_per_client
  std::atomic<std::uint64_t> closed_idle_for_new{0};      // idle ones closed at max_connections
  std::atomic<std::uint64_t> cut_header_timeout{0};       // 408: head too slow
  std::atomic<std::uint64_t> cut_body_timeout{0};         // 408: body too slow
  std::atomic<std::uint64_t> closed_idle_timeout{0};      // limits.idle_timeout_s
  std::atomic<std::uint64_t> cut_write_timeout{0};        // the client did not read its answer
  std::atomic<std::uint64_t> tls_handshake_failed{0};
  std::atomic<std::uint64_t> bad_requests{0};  // answered by the edge itself (4xx framing)
  std::atomic<std::uint64_t> requests{0};      // handed to the application
};

struct EdgeReadings {
  std::uint64_t open_connections = 0;
  const EdgeCounters* counters = nullptr;
  std::optional<std::int64_t> tls_not_after_s;  // the served certificate's expiry (Unix time)
};

class Edge {
 public:
  // Told of every request the edge answered itself (framing, size, deadlines): its target
  // as far as it was read ("" if not even that), and the status.
  using RefusalObserver = std::function<void(std::string_view target, int status)>;

  // `app` answers every request the edge could read; it is called on an I/O thread and
  // must not block (hand slow work on, answer through the responder later).
  Edge(const Settings& settings, Handler app, RefusalObserver on_refused = nullptr);
  ~Edge();
  Edge(const Edge&) = delete;
  Edge& operator=(const Edge&) = delete;

  // Loads the certificate when listen.tls_* are set, binds host:port (0 = any free port)
  // and listens. Returns the port. Throws std::runtime_error naming the address or key.
  int bind(const std::string& host, int port);
  // Starts the I/O threads (listen.io_threads; 0 = one per core).
  void start();
  // Stops accepting, closes idle connections, lets requests in progress be answered (their
  // connections close after the answer) for up to `grace`, then closes the rest. Safe at
  // any moment after construction, also right after start(). Idempotent.
  void stop(std::chrono::milliseconds grace);
  // Rereads listen.tls_cert_file and listen.tls_key_file; new connections get the new pair.
  // On failure the old pair stays and the error says why. True when nothing changed or the
  // new pair was taken.
  bool reload_tls(std::string& error);

  EdgeReadings readings() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace smsr

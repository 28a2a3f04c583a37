#include "app/http/edge.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "app/http/framing.hpp"
#include "app/http/router.hpp"
#include "app/http/tls.hpp"
#include "app/routing/settings.hpp"
#include "app/twilio/signature.hpp"
#include "core/clock.hpp"
#include "core/log.hpp"
#include "core/phone.hpp"
#include "core/thread_name.hpp"
#include "util/strings.hpp"

namespace smsr {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

namespace {

// A client that does not read its answer within this is cut.
constexpr auto kWriteTimeout = std::chrono::seconds(10);
// After an answer that closes the connection, what the client still sends is read and
// dropped for up to this long before the socket closes, so that the kernel does not answer
// it with a reset that could destroy the answer before the client read it.
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr std::size_t kReadChunk = 4096;

std::string peer_address(const tcp::endpoint& endpoint) {
  auto address = endpoint.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return net::ip::make_address_v4(net::ip::v4_mapped, address.to_v6()).to_string();
  }
  return address.to_string();
}

}  // namespace

// ---------------------------------------------------------------------------------------
// The edge's shared state
// ---------------------------------------------------------------------------------------

class ConnectionBase {
 public:
  virtual ~ConnectionBase() = default;
  // Each runs on the connection's strand, soon.
  virtual void close_if_idle_soon() = 0;
  virtual void drain_soon() = 0;
  virtual void force_close_soon() = 0;
  std::atomic<bool> idle{false};  // waiting for the first byte of a request, nothing buffered
};

class Edge::Impl {
 public:
  Impl(const Settings& settings, Handler app, Edge::RefusalObserver on_refused)
      : settings_(settings), app_(std::move(app)), on_refused_(std::move(on_refused)) {}

  const Settings& settings_;
  Handler app_;
  Edge::RefusalObserver on_refused_;
  EdgeCounters counters_;
  std::atomic<bool> draining_{false};

  // Open connections, and how many come from each address.
  mutable std::mutex registry_mu_;
  std::unordered_map<ConnectionBase*, std::weak_ptr<ConnectionBase>> connections_;  // guarded
  std::unordered_map<std::string, int> per_peer_;                                   // guarded

  mutable std::mutex tls_mu_;
  std::shared_ptr<ssl::context> tls_;  // guarded by tls_mu_; null: plain HTTP
  std::int64_t tls_not_after_s_ = 0;   // guarded by tls_mu_
  bool tls_enabled_ = false;

  // Destroyed before the registry: pending handlers hold connections, whose destructors
  // leave the registry.
  net::io_context ioc_;
  // Keeps the I/O threads running while a connection has nothing in progress but waits for
  // its handler's answer (as when the acceptor has closed during a drain).
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_;
  std::optional<tcp::acceptor> acceptor_;
  std::vector<std::thread> threads_;
  bool stopped_ = false;

  std::shared_ptr<ssl::context> current_tls() const {
    std::lock_guard lock(tls_mu_);
    return tls_;
  }

  void accept();
  void on_accept(tcp::socket socket);
  // Registers a connection from `peer`; false (nothing registered) when a cap refuses it.
  bool admit(const std::string& peer, Refusal& refusal);
  void add(ConnectionBase* connection, const std::shared_ptr<ConnectionBase>& shared);
  void remove(ConnectionBase* connection, const std::string& peer);
  template <class F>
  void for_each_connection(F f);
};

namespace {

// ---------------------------------------------------------------------------------------
// One connection: plain TCP or TLS
// ---------------------------------------------------------------------------------------

template <class Stream>
class Connection : public ConnectionBase, public std::enable_shared_from_this<Connection<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, tcp::socket>;

  Connection(Edge::Impl& edge, tcp::socket socket, std::string peer, std::shared_ptr<ssl::context> tls)
      : edge_(edge),
        tls_(std::move(tls)),
        stream_(make_stream(std::move(socket), tls_.get())),
        timer_(stream_.get_executor()),
        peer_(std::move(peer)) {}

  ~Connection() override { edge_.remove(this, peer_); }

  void start() {
    if constexpr (kTls) {
      arm(std::chrono::milliseconds(limits().header_timeout_ms), Deadline::kHandshake);
      stream_.async_handshake(ssl::stream_base::server, [self = this->shared_from_this()](const error_code& ec) {
        self->disarm();
        if (ec) {
          self->edge_.counters_.tls_handshake_failed++;
          LOG_DEBUG("http.tls_handshake_failed", {"peer", self->peer_}, {"error", ec.message()});
          return self->close_now();
        }
        self->next_request();
      });
    } else {
      next_request();
    }
  }

  void launch() {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] { self->start(); });
  }

  // Picked to make room at limits.max_connections, while it was idle.
  void close_if_idle_soon() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] {
      if (self->closed_ || !self->idle) return;
      self->edge_.counters_.closed_idle_for_new++;
      self->close_now();
    });
  }

  // Shutting down: an idle connection closes now; one with a request in progress closes
  // after its answer (Connection: close).
  void drain_soon() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] {
      if (self->idle) self->close_now();
    });
  }

  void force_close_soon() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] { self->close_now(); });
  }

 private:
  enum class Deadline { kNone, kHandshake, kIdle, kHead, kBody, kWrite, kLinger };

  static Stream make_stream(tcp::socket socket, ssl::context* tls) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *tls);
    } else {
      return socket;
    }
  }

  tcp::socket& socket() {
    if constexpr (kTls) {
      return stream_.next_layer();
    } else {
      return stream_;
    }
  }

  LimitsConfig limits() const { return edge_.settings_.current()->limits; }

  // One deadline at a time. When it passes, the operation in progress is cancelled (the
  // socket stays open, so that a 408 can still be written).
  void arm(std::chrono::milliseconds after, Deadline what) {
    deadline_ = what;
    expired_ = Deadline::kNone;
    const unsigned generation = ++generation_;
    timer_.expires_after(after);
    timer_.async_wait([self = this->shared_from_this(), generation](const error_code& ec) {
      if (ec || generation != self->generation_ || self->closed_) return;
      self->expired_ = self->deadline_;
      error_code ignored;
      self->socket().cancel(ignored);
    });
  }
  void disarm() {
    ++generation_;
    deadline_ = Deadline::kNone;
    timer_.cancel();
  }

  // The next request on this connection: at once when its bytes are already buffered
  // (pipelining), else after the first byte arrives within limits.idle_timeout_s.
  void next_request() {
    parser_.emplace();
    parser_->header_limit(kMaxHeadBytes);
    parser_->body_limit(static_cast<std::uint64_t>(limits().max_body_bytes));
    request_id_.clear();
    if (buffer_.size() > 0) return read_head();
    if (edge_.draining_) return close_now();
    idle = true;
    arm(std::chrono::seconds(limits().idle_timeout_s), Deadline::kIdle);
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            [self = this->shared_from_this()](const error_code& ec, std::size_t n) {
                              self->idle = false;
                              self->disarm_if(Deadline::kIdle);
                              if (ec) {
                                if (self->expired_ == Deadline::kIdle) self->edge_.counters_.closed_idle_timeout++;
                                return self->close_now();
                              }
                              self->buffer_.commit(n);
                              self->read_head();
                            });
  }

  void disarm_if(Deadline what) {
    if (deadline_ == what) disarm();
  }

  void read_head() {
    arm(std::chrono::milliseconds(limits().header_timeout_ms), Deadline::kHead);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](const error_code& ec, std::size_t) {
                              self->on_head(ec);
                            });
  }

  void on_head(error_code ec) {
    const Deadline expired = expired_;
    disarm();
    if (expired == Deadline::kHead) {
      edge_.counters_.cut_header_timeout++;
      return refuse({408, "request head not complete within limits.header_timeout_ms"});
    }
    if (client_went_away(ec)) return close_now();  // nobody to answer
    // The parser takes the request line as soon as it is complete: no target yet means the
    // line alone was too long.
    if (ec == http::error::header_limit && parser_->get().target().empty()) {
      return refuse({414, "request target longer than 8 KiB"});
    }
    if (ec) return refuse(refusal_of(ec));

    const auto& head = parser_->get();
    if (auto problem = check_head(head)) return refuse(*problem);
    if (head.version() >= 11 && lower_cased(trim(sv(head[http::field::expect]))) == "100-continue" &&
        !parser_->is_done()) {
      return send_continue();
    }
    read_body();
  }

  void send_continue() {
    static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    arm(kWriteTimeout, Deadline::kWrite);
    net::async_write(stream_, net::buffer(kContinue), [self = this->shared_from_this()](const error_code& ec, std::size_t) {
      self->disarm();
      if (ec) return self->close_now();
      self->read_body();
    });
  }

  void read_body() {
    if (parser_->is_done()) return on_body({});
    arm(std::chrono::milliseconds(limits().body_timeout_ms), Deadline::kBody);
    http::async_read(stream_, buffer_, *parser_, [self = this->shared_from_this()](const error_code& ec, std::size_t) {
      self->on_body(ec);
    });
  }

  void on_body(error_code ec) {
    const Deadline expired = expired_;
    disarm();
    if (expired == Deadline::kBody) {
      edge_.counters_.cut_body_timeout++;
      return refuse({408, "request body not complete within limits.body_timeout_ms"});
    }
    if (client_went_away(ec)) return close_now();
    if (ec) return refuse(refusal_of(ec));

    auto message = parser_->release();
    HttpRequest request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    const std::string_view target = request.target;
    const auto question = target.find('?');
    if (!percent_decode(target.substr(0, question), request.path)) {
      return refuse({400, "malformed percent-encoding in the path"});
    }
    if (question != std::string_view::npos) {
      FormFields query;
      if (!parse_form(target.substr(question + 1), query)) return refuse({400, "malformed query string"});
      request.query = std::move(query);
    }
    request.headers.reserve(16);
    for (const auto& field : message) {
      request.headers.emplace_back(lower_cased(std::string(field.name_string())), std::string(field.value()));
    }
    request.body = std::move(message.body());
    request.peer = peer_;
    keep_alive_ = message.keep_alive();
    head_request_ = message.method() == http::verb::head;
    version_ = message.version();
    edge_.counters_.requests++;
    // The answer may come from any thread; it is written on this connection's strand.
    Responder respond = [self = this->shared_from_this()](HttpResponse response) {
      net::post(self->stream_.get_executor(),
                [self, response = std::move(response)]() mutable { self->write(std::move(response)); });
    };
    try {
      edge_.app_(request, std::move(respond));
    } catch (const std::exception& e) {
      // The application answers its own errors; this is a bug, and the request still gets an answer.
      LOG_ERROR("http.internal_error", {"path", redact_numbers_in(request.path)}, {"error", e.what()});
      write(HttpResponse::text(500, "internal error"));
    }
  }

  // Answers a request the edge could not read, then closes.
  void refuse(const Refusal& refusal) {
    edge_.counters_.bad_requests++;
    LOG_DEBUG("http.refused", {"peer", peer_}, {"status", refusal.status}, {"reason", refusal.reason});
    if (edge_.on_refused_) {
      std::string target;
      if (parser_) target = std::string(sv(parser_->get().target()));
      edge_.on_refused_(target, refusal.status);
    }
    keep_alive_ = false;
    head_request_ = false;
    version_ = 11;
    HttpResponse response = HttpResponse::text(refusal.status, refusal.reason);
    response.close = true;
    write(std::move(response));
  }

  void write(HttpResponse answer) {
    if (closed_) return;
    const bool keep = keep_alive_ && !answer.close && !edge_.draining_;
    response_.emplace(static_cast<http::status>(answer.status), version_);
    auto& res = *response_;
    if (!answer.content_type.empty()) res.set(http::field::content_type, answer.content_type);
    for (auto& [name, value] : answer.headers) res.insert(name, value);
    const std::size_t length = answer.body.size();
    if (!head_request_) res.body() = std::move(answer.body);
    res.keep_alive(keep);
    res.prepare_payload();
    if (head_request_) res.content_length(length);
    arm(kWriteTimeout, Deadline::kWrite);
    http::async_write(stream_, res, [self = this->shared_from_this(), keep](const error_code& ec, std::size_t) {
      const Deadline expired = self->expired_;
      self->disarm();
      self->response_.reset();
      if (expired == Deadline::kWrite) self->edge_.counters_.cut_write_timeout++;
      if (ec) return self->close_now();
      if (!keep) return self->close_after_answer();
      self->next_request();
    });
  }

  // The answer is out and the connection ends: say so to the client, drop what it still
  // sends for a moment, then close.
  void close_after_answer() {
    if constexpr (kTls) {
      arm(kLingerTime, Deadline::kLinger);
      stream_.async_shutdown([self = this->shared_from_this()](const error_code&) { self->close_now(); });
    } else {
      error_code ignored;
      socket().shutdown(tcp::socket::shutdown_send, ignored);
      arm(kLingerTime, Deadline::kLinger);
      linger();
    }
  }

  void linger() {
    buffer_.consume(buffer_.size());
    stream_.async_read_some(buffer_.prepare(kReadChunk), [self = this->shared_from_this()](const error_code& ec, std::size_t) {
      if (ec) return self->close_now();
      self->linger();
    });
  }

  void close_now() {
    if (closed_) return;
    closed_ = true;
    idle = false;
    disarm();
    error_code ignored;
    socket().shutdown(tcp::socket::shutdown_both, ignored);
    socket().close(ignored);
  }

  Edge::Impl& edge_;
  std::shared_ptr<ssl::context> tls_;  // kept alive for the stream
  Stream stream_;
  net::steady_timer timer_;
  const std::string peer_;
  boost::beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> response_;
  Deadline deadline_ = Deadline::kNone;
  Deadline expired_ = Deadline::kNone;
  unsigned generation_ = 0;
  bool keep_alive_ = true;
  bool head_request_ = false;
  unsigned version_ = 11;
  bool closed_ = false;
  std::string request_id_;
};

}  // namespace

// ---------------------------------------------------------------------------------------
// Accepting, caps and the registry
// ---------------------------------------------------------------------------------------

void Edge::Impl::accept() {
  acceptor_->async_accept(net::make_strand(ioc_), [this](const error_code& ec, tcp::socket socket) {
    if (!acceptor_->is_open()) return;  // stopping
    if (ec) {
      // Out of file descriptors, most likely: do not spin; the caps should prevent this.
      LOG_WARN("http.accept_failed", {"error", ec.message()},
               {"hint", "raise LimitNOFILE above limits.max_connections, or lower it"});
      auto timer = std::make_shared<net::steady_timer>(ioc_, std::chrono::milliseconds(100));
      timer->async_wait([this, timer](const error_code&) { accept(); });
      return;
    }
    on_accept(std::move(socket));
    accept();
  });
}

namespace {

// An answer for a connection refused before reading anything: written at once, then the
// connection closes after a short linger (as Connection::close_after_answer).
void refuse_connection(tcp::socket socket, const Refusal& refusal, bool tls) {
  auto s = std::make_shared<tcp::socket>(std::move(socket));
  if (tls) {  // it cannot be told in plain text; the client sees the connection closed
    error_code ignored;
    s->close(ignored);
    return;
  }
  auto text = std::make_shared<std::string>("HTTP/1.1 " + std::to_string(refusal.status) +
                                            " Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
                                            "Retry-After: 5\r\nConnection: close\r\nContent-Length: " +
                                            std::to_string(refusal.reason.size() + 1) + "\r\n\r\n" + refusal.reason + "\n");
  auto timer = std::make_shared<net::steady_timer>(s->get_executor(), kLingerTime);
  timer->async_wait([s](const error_code& cancelled) {
    error_code ignored;
    if (!cancelled) s->close(ignored);
  });
  net::async_write(*s, net::buffer(*text), [s, text, timer](const error_code& written, std::size_t) {
    error_code ignored;
    if (written) {
      timer->cancel();
      s->close(ignored);
      return;
    }
    s->shutdown(tcp::socket::shutdown_send, ignored);
    auto sink = std::make_shared<std::array<char, 1024>>();
    auto drain = std::make_shared<std::function<void()>>();
    *drain = [s, sink, drain, timer] {
      s->async_read_some(net::buffer(*sink), [s, drain, timer](const error_code& done, std::size_t) {
        if (done) {
          timer->cancel();
          error_code unused;
          s->close(unused);
          *drain = nullptr;  // ends the cycle
          return;
        }
        (*drain)();
      });
    };
    (*drain)();
  });
}

}  // namespace

void Edge::Impl::on_accept(tcp::socket socket) {
  error_code ec;
  const auto endpoint = socket.remote_endpoint(ec);
  if (ec) return;  // already gone
  const std::string peer = peer_address(endpoint);
  counters_.accepted++;
  Refusal refusal;
  if (draining_ || !admit(peer, refusal)) {
    if (draining_) refusal = {503, "the router is shutting down; try again"};
    LOG_DEBUG("http.connection_refused", {"peer", peer}, {"reason", refusal.reason});
    return refuse_connection(std::move(socket), refusal, tls_enabled_);
  }
  socket.set_option(tcp::no_delay(true), ec);
  auto tls = current_tls();
  std::shared_ptr<ConnectionBase> connection;
  if (tls_enabled_) {
    auto c = std::make_shared<Connection<ssl::stream<tcp::socket>>>(*this, std::move(socket), peer, tls);
    add(c.get(), c);
    c->launch();
  } else {
    auto c = std::make_shared<Connection<tcp::socket>>(*this, std::move(socket), peer, nullptr);
    add(c.get(), c);
    c->launch();
  }
}

bool Edge::Impl::admit(const std::string& peer, Refusal& refusal) {
  const auto config = settings_.current();
  const LimitsConfig& limits = config->limits;
  const auto& proxies = config->listen.trusted_proxies;
  const bool trusted = std::find(proxies.begin(), proxies.end(), peer) != proxies.end();
  std::shared_ptr<ConnectionBase> idle_one;
  {
    std::lock_guard lock(registry_mu_);
    auto it = per_peer_.find(peer);
    const int from_peer = it == per_peer_.end() ? 0 : it->second;
    if (!trusted && limits.max_connections_per_client > 0 && from_peer >= limits.max_connections_per_client) {
      counters_.refused_per_client++;
      refusal = {503, "too many connections from your address (limits.max_connections_per_client)"};
      return false;
    }
    if (static_cast<int>(connections_.size()) >= limits.max_connections) {
      // Make room: an idle keep-alive connection goes first.
      for (auto& [raw, weak] : connections_) {
        if (raw->idle) {
          idle_one = weak.lock();
          if (idle_one) break;
        }
      }
      if (!idle_one) {
        counters_.refused_max_connections++;
        refusal = {503, "too many open connections (limits.max_connections)"};
        return false;
      }
    }
    per_peer_[peer] = from_peer + 1;
  }
  if (idle_one) idle_one->close_if_idle_soon();
  return true;
}

void Edge::Impl::add(ConnectionBase* connection, const std::shared_ptr<ConnectionBase>& shared) {
  std::lock_guard lock(registry_mu_);
  connections_.emplace(connection, shared);
}

void Edge::Impl::remove(ConnectionBase* connection, const std::string& peer) {
  std::lock_guard lock(registry_mu_);
  connections_.erase(connection);
  auto it = per_peer_.find(peer);
  if (it != per_peer_.end() && --it->second <= 0) per_peer_.erase(it);
}

template <class F>
void Edge::Impl::for_each_connection(F f) {
  std::vector<std::shared_ptr<ConnectionBase>> open;
  {
    std::lock_guard lock(registry_mu_);
    open.reserve(connections_.size());
    for (auto& [raw, weak] : connections_) {
      if (auto c = weak.lock()) open.push_back(std::move(c));
    }
  }
  for (auto& c : open) f(c);
}

// ---------------------------------------------------------------------------------------
// Edge
// ---------------------------------------------------------------------------------------

Edge::Edge(const Settings& settings, Handler app, RefusalObserver on_refused)
    : impl_(std::make_unique<Impl>(settings, std::move(app), std::move(on_refused))) {}

Edge::~Edge() { stop(std::chrono::milliseconds(0)); }

int Edge::bind(const std::string& host, int port) {
  const auto config = impl_->settings_.current();
  if (config->listen.tls()) {
    TlsPair pair = load_tls_pair(config->listen, system_clock().now_ms() / 1000);
    std::lock_guard lock(impl_->tls_mu_);
    impl_->tls_ = pair.context;
    impl_->tls_not_after_s_ = pair.not_after_s;
    impl_->tls_enabled_ = true;
  }
  error_code ec;
  const auto address = net::ip::make_address(host, ec);
  if (ec) throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port) + ": not an IP address (listen.host)");
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
  auto& acceptor = impl_->acceptor_.emplace(impl_->ioc_);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message() +
                             " (listen.host / listen.port)");
  }
  return acceptor.local_endpoint().port();
}

void Edge::start() {
  int threads = impl_->settings_.current()->listen.io_threads;
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  impl_->work_.emplace(impl_->ioc_.get_executor());
  net::post(impl_->acceptor_->get_executor(), [this] { impl_->accept(); });
  for (int i = 0; i < threads; ++i) {
    impl_->threads_.push_back(named_thread("http-io", [this] { impl_->ioc_.run(); }));
  }
}

void Edge::stop(std::chrono::milliseconds grace) {
  Impl& impl = *impl_;
  if (impl.stopped_) return;
  impl.stopped_ = true;
  impl.draining_ = true;
  if (impl.acceptor_) {
    net::post(impl.acceptor_->get_executor(), [&impl] {
      error_code ignored;
      impl.acceptor_->close(ignored);
    });
  }
  impl.for_each_connection([](const std::shared_ptr<ConnectionBase>& c) { c->drain_soon(); });
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (!impl.threads_.empty() && std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lock(impl.registry_mu_);
      if (impl.connections_.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  impl.for_each_connection([](const std::shared_ptr<ConnectionBase>& c) { c->force_close_soon(); });
  impl.work_.reset();
  impl.ioc_.stop();
  for (auto& t : impl.threads_) t.join();
  impl.threads_.clear();
}

bool Edge::reload_tls(std::string& error) {
  Impl& impl = *impl_;
  const auto config = impl.settings_.current();
  if (config->listen.tls() != impl.tls_enabled_) {
    error = impl.tls_enabled_ ? "listen.tls_cert_file and listen.tls_key_file were unset: turning TLS off needs a restart"
                              : "listen.tls_cert_file and listen.tls_key_file were set: turning TLS on needs a restart";
    return false;
  }
  if (!impl.tls_enabled_) return true;
  try {
    TlsPair pair = load_tls_pair(config->listen, system_clock().now_ms() / 1000);
    std::lock_guard lock(impl.tls_mu_);
    impl.tls_ = pair.context;
    impl.tls_not_after_s_ = pair.not_after_s;
    return true;
  } catch (const std::exception& e) {
    error = e.what();
    return false;
  }
}

EdgeReadings Edge::readings() const {
  EdgeReadings r;
  r.counters = &impl_->counters_;
  {
    std::lock_guard lock(impl_->registry_mu_);
    r.open_connections = impl_->connections_.size();
  }
  if (impl_->tls_enabled_) {
    std::lock_guard lock(impl_->tls_mu_);
    r.tls_not_after_s = impl_->tls_not_after_s_;
  }
  return r;
}

}  // namespace smsr

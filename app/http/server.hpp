// The HTTP front: every endpoint, what a request must carry to reach it, and the edge that
// serves them (app/http/edge.hpp). Handlers only translate between HTTP and the domain
// (InboundService, Store, AdminApi); they hold no business rules.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "app/http/edge.hpp"
#include "app/http/metrics_exposition.hpp"
#include "app/http/router.hpp"

namespace smsr {

class Settings;
class InboundService;
class Store;
class PhoneDirectory;
class Dispatcher;
class Sender;
class CentralSync;
class AdminApi;

struct HttpDeps {
  const Settings& settings;
  InboundService& inbound;
  Store& store;
  PhoneDirectory& directory;
  Dispatcher& dispatcher;
  Sender& sender;
  CentralSync* central_sync;  // null when sync.postgres_url is empty
  Metrics& metrics;
  AdminApi& admin_api;
};

class HttpServer {
 public:
  explicit HttpServer(HttpDeps deps);
  ~HttpServer();

  // Binds host:port (port 0 = any free port); with listen.tls_* set, loads the certificate
  // first. Returns the port. Throws std::runtime_error (ConfigError for the certificate)
  // naming the address or the key.
  int bind(const std::string& host, int port);
  // Serves on the I/O threads until stop().
  void start();
  // Stops accepting, answers the requests in progress (within `grace`), closes the rest.
  // Safe at any moment, also right after start().
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(5));
  // SIGHUP: rereads the certificate and key; false with the reason when the new pair is
  // refused (the old one stays).
  bool reload_tls(std::string& error) { return edge_.reload_tls(error); }

 private:
  void add_routes();
  // Every request the edge read: request id, admin token, route, where it runs.
  void handle(HttpRequest& request, Responder respond);
  void run(const Route& route, HttpRequest& request, Responder respond);
  void sms_webhook(HttpRequest& request, Responder respond);
  HttpResponse status_webhook(const HttpRequest& request);
  HttpResponse health();
  HttpResponse metrics();

  HttpDeps deps_;
  AmbiguousNumbersGauge ambiguous_gauge_;
  Router router_;
  Edge edge_;
  // Handlers that wait for the database run here, off the I/O threads: few and fixed.
  class WorkerPool;
  std::unique_ptr<WorkerPool> workers_;
};

}  // namespace smsr

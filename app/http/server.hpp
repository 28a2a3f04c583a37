// The HTTP front: routes, limits and hooks in one place. Handlers only translate between
// HTTP and the domain (InboundService, Store); they hold no business rules.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "app/http/metrics_exposition.hpp"

namespace httplib {
class Server;
}

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

  // Binds host:port (port 0 = any free port) with a deep listen backlog. Returns the port.
  // Throws std::runtime_error naming the address when it cannot bind.
  int bind(const std::string& host, int port);
  // Serves on a background thread until stop().
  void start();
  // Stops accepting; requests in progress finish first.
  void stop();

 private:
  void install_routes();
  void install_hooks();

  HttpDeps deps_;
  AmbiguousNumbersGauge ambiguous_gauge_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace smsr

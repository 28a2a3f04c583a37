// The systemd notify protocol, with a real unix datagram socket standing in for systemd.
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "tests/integration/harness.hpp"

using namespace smsr::test;

namespace {

class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~NotifySocket() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  // Everything received so far, one datagram after another.
  std::string drain() {
    char buf[512];
    for (;;) {
      auto n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      received_.append(buf, static_cast<std::size_t>(n)).append("\n");
    }
    return received_;
  }

 private:
  std::string path_;
  int fd_ = -1;
  std::string received_;
};

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("serve tells systemd it is ready and keeps pinging the watchdog while the database works") {
  TempDir dir;
  NotifySocket notify(dir.file("notify.sock"));
  Service service(dir, base_config(dir));
  service.set_environment({{"NOTIFY_SOCKET", dir.file("notify.sock")}, {"WATCHDOG_USEC", "300000"}});
  service.start();
  CHECK(eventually([&] { return notify.drain().find("READY=1") != std::string::npos; }));
  CHECK(eventually([&] { return count(notify.drain(), "WATCHDOG=1") >= 3; }));
  CHECK(service.stop() == 0);
  CHECK(notify.drain().find("STOPPING=1") != std::string::npos);
}

TEST_CASE("SIGHUP reloads reloadable settings with RELOADING and READY and a broken file keeps the old configuration") {
  TempDir dir;
  NotifySocket notify(dir.file("notify.sock"));
  auto config = base_config(dir);
  config["replies"]["unknown_sender"] = "before reload";
  config["limits"] = {{"unknown_sender_replies_per_day", 100}};
  Service service(dir, config);
  service.set_environment({{"NOTIFY_SOCKET", dir.file("notify.sock")}});
  service.start();
  REQUIRE(eventually([&] { return notify.drain().find("READY=1") != std::string::npos; }));
  auto reply = [&] { return twiml_message(post_webhook(service.port(), sms_fields({"+15145559999", "hi"})).body); };
  CHECK(reply() == "before reload");

  config["replies"]["unknown_sender"] = "after reload";
  write_file(service.config_path(), config.dump());
  ::kill(service.pid(), SIGHUP);
  CHECK(eventually([&] { return count(notify.drain(), "RELOADING=1") == 1 && count(notify.drain(), "READY=1") == 2; }));
  CHECK(reply() == "after reload");

  write_file(service.config_path(), "{ not json");
  ::kill(service.pid(), SIGHUP);
  CHECK(eventually([&] { return count(notify.drain(), "RELOADING=1") == 2 && count(notify.drain(), "READY=1") == 3; }));
  CHECK(notify.drain().find("reload failed") != std::string::npos);
  CHECK(reply() == "after reload");
  CHECK(service.log().find("event=config.reload_failed") != std::string::npos);
}

TEST_CASE("a reload leaves restart-only settings as they run and says which ones wait for a restart") {
  TempDir dir;
  const std::string token = "admin-token-for-reload-test-0123456789abcdef";
  auto config = base_config(dir);
  config["admin"]["token"] = token;
  Service service(dir, config);
  service.start();
  auto add_user = [&](const std::string& phone) {
    return post_raw(service.port(), "/sms-router/admin/users",
                    nlohmann::json{{"phone_number", phone}, {"email", phone.substr(1) + "@example.com"}, {"full_name", "Reload Test"}}.dump(),
                    {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}});
  };
  REQUIRE(add_user("+15145550401").status == 201);

  // A central database named by reload is only used after a restart: until then the router
  // stays standalone and its own user writes keep working (they would answer 409 if synced).
  config["sync"]["postgres_url"] = "postgresql://router@127.0.0.1:1/central";
  config["cache"]["capacity"] = 1234;
  write_file(service.config_path(), config.dump());
  ::kill(service.pid(), SIGHUP);
  REQUIRE(eventually([&] { return service.log().find("event=config.reloaded") != std::string::npos; }));
  CHECK(service.log().find("event=config.reload_partial needs_restart=cache.capacity,sync.postgres_url") != std::string::npos);
  CHECK(add_user("+15145550402").status == 201);
  CHECK(http_get(service.port(), "/sms-router/health").body.find("\"enabled\":false") != std::string::npos);
}

TEST_CASE("a reload that changes limits.max_body_bytes refuses larger webhooks at once, and takes them again") {
  TempDir dir;
  auto config = base_config(dir);
  Service service(dir, config);
  service.start();
  const std::string body = "From=%2B15145550101&Body=" + std::string(3000, 'a');
  auto post = [&] {
    return post_raw(service.port(), "/sms-router/webhook/sms", body,
                    {{"Content-Type", "application/x-www-form-urlencoded"}}).status;
  };
  REQUIRE(post() == 403);  // within the limit: refused for its (missing) signature

  config["limits"]["max_body_bytes"] = 2048;
  write_file(service.config_path(), config.dump());
  ::kill(service.pid(), SIGHUP);
  REQUIRE(eventually([&] { return service.log().find("event=config.reloaded") != std::string::npos; }));
  CHECK(service.log().find("needs_restart") == std::string::npos);
  CHECK(post() == 413);

  config["limits"]["max_body_bytes"] = 8192;
  write_file(service.config_path(), config.dump());
  ::kill(service.pid(), SIGHUP);
  REQUIRE(eventually([&] {
    const std::string log = service.log();
    return log.find("event=config.reloaded") != log.rfind("event=config.reloaded");
  }));
  CHECK(post() == 403);
}

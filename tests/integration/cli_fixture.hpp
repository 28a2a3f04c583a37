// What the command-line tests share: a config file in a temporary directory that every run
// of the real binary reads, and helpers to pick lines out of its output.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/harness.hpp"

namespace smsr::test {

using nlohmann::json;

// A config file in a temporary directory; every run writes the current `config` first.
struct Cli {
  TempDir dir;
  json config = base_config(dir);

  std::string config_path(const std::string& name = "config.json") const {
    write_file(dir.file(name), config.dump(2));
    return dir.file(name);
  }

  // `sms-router --config PATH ARGS...`
  CommandResult run(std::vector<std::string> args, const std::map<std::string, std::string>& env = {}) const {
    args.insert(args.begin(), {"--config", config_path()});
    return run_cli(args, env);
  }

  std::string users_list() const {
    auto r = run({"users", "list"});
    REQUIRE(r.status == 0);
    return r.out;
  }

  std::string csv(const std::string& name, const std::string& text) const {
    write_file(dir.file(name), text);
    return dir.file(name);
  }
};

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The line of `text` that contains every one of `parts`, or "".
inline std::string line_with(const std::string& text, const std::vector<std::string>& parts) {
  for (const auto& line : lines_of(text)) {
    bool all = true;
    for (const auto& p : parts) all = all && contains(line, p);
    if (all) return line;
  }
  return "";
}

// The value printed after "label" (e.g. "signature:") on its own line, trimmed.
inline std::string labelled(const std::string& out, const std::string& label) {
  for (const auto& line : lines_of(out)) {
    if (line.rfind(label, 0) == 0) {
      auto value = line.substr(label.size());
      auto first = value.find_first_not_of(' ');
      return first == std::string::npos ? "" : value.substr(first);
    }
  }
  return "";
}

// A loopback port nobody listens on (bound then released).
inline int unused_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

inline std::string local_url(int port) { return service_url(port); }

}  // namespace smsr::test

// load_config: parse_config with the real process environment, file system and host name.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string_view>
#include <system_error>

#include "config/config.hpp"

extern char** environ;  // POSIX: the process environment

namespace smsr {
namespace {



struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};

// The whole file, or nullopt with errno telling why not.
std::optional<std::string> read_whole_file(const std::string& path) {
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) return std::nullopt;
  std::string text;
  char buffer[8192];
  while (const std::size_t count = std::fread(buffer, 1, sizeof buffer, file.get())) {
    text.append(buffer, count);
  }
  const bool failed = std::ferror(file.get()) != 0;
  const int read_error = errno;
  file.reset();  // fclose may overwrite errno
  if (failed) {
    errno = read_error;
    return std::nullopt;
  }
  return text;
}

std::map<std::string, std::string> router_environment() {
  std::map<std::string, std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view variable(*entry);
    const auto equals = variable.find('=');
    if (!variable.starts_with(kEnvPrefix) || equals == std::string_view::npos) continue;
    env.emplace(variable.substr(0, equals), variable.substr(equals + 1));
  }
  return env;
}

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "";
  return name;
}

ConfigSources system_sources() {
  ConfigSources sources;
  sources.env = router_environment();
  sources.read_file = read_whole_file;
  if (const char* directory = std::getenv("CREDENTIALS_DIRECTORY")) {
    sources.credentials_directory = directory;
  }
  sources.host_name = host_name();
  return sources;
}

}  // namespace

Config load_config(const std::string& path, bool explicit_path) {
  std::optional<std::string> text = read_whole_file(path);
  if (!text) {
    const int error = errno;
    if (error != ENOENT || explicit_path) {
      throw ConfigError("cannot read config file " + path + ": " +
                        std::generic_category().message(error) +
                        "; pass --config FILE or create it");
    }
    text.emplace();  // no file at the default path: every key keeps its default
  }
  return parse_config(*text, path, system_sources());
}

}  // namespace smsr

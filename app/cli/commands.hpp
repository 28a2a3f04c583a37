// The `sms-router` subcommands. Each returns the process exit status: 0 ok, 1 runtime
// failure, 2 usage or configuration error. Errors are one line on stderr.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace smsr {

// Raised for a wrong command line or input file: exit status 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

int cmd_migrate(const ConfigLocation& where);
int cmd_check_config(const ConfigLocation& where);
// One round with --once (exit 1 if it fails), else rounds every sync.interval_s until Ctrl-C.
enum class SyncRounds { kOnce, kUntilStopped };
int cmd_sync(const ConfigLocation& where, SyncRounds rounds);
// Installs, or removes, the trigger-fed change notifications on the central database.
int cmd_sync_install_notify(const ConfigLocation& where);
int cmd_sync_uninstall_notify(const ConfigLocation& where);
int cmd_version();

struct UserAddArgs {
  std::vector<std::string> phones;
  std::string email;
  std::string name;
  std::optional<long long> id;
  bool inactive = false;
};
int cmd_users_add(const ConfigLocation& where, const UserAddArgs& args);
int cmd_users_list(const ConfigLocation& where);
int cmd_users_show(const ConfigLocation& where, const std::string& phone_or_id);
int cmd_users_set_active(const ConfigLocation& where, long long id, bool active);
int cmd_users_remove(const ConfigLocation& where, long long id);
int cmd_users_phones_add(const ConfigLocation& where, long long id, const std::string& phone);
int cmd_users_phones_remove(const ConfigLocation& where, const std::string& phone);
int cmd_users_import(const ConfigLocation& where, const std::string& file);

struct SimulateArgs {
  std::string from;
  std::string to;
  std::string target;  // where to POST; default http(s)://127.0.0.1:<listen.port>
  std::string ca_file;  // trust this CA (PEM) for an https:// target
  std::vector<std::string> words;
  std::string message_sid;  // default: a fresh random SM...
};
int cmd_simulate(const ConfigLocation& where, const SimulateArgs& args);

struct SignatureArgs {
  std::string url;
  std::optional<std::string> form_body;
  std::optional<std::string> json_file;
  std::optional<std::string> signature;
};
int cmd_signature(const ConfigLocation& where, const SignatureArgs& args);

// Entry point of the binary.
int run(int argc, char** argv);

}  // namespace smsr

#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "app/cli/commands.hpp"
#include "app/serve.hpp"
#include "storage/errors.hpp"

namespace smsr {
namespace {

constexpr const char* kDefaultConfigPath = "/etc/sms-router/config.json";

int report(const char* kind, const std::string& message, int status) {
  std::fprintf(stderr, "sms-router: %s%s\n", kind, message.c_str());
  return status;
}

// One line naming what is wrong, instead of CLI11's two-line default.
std::string parse_error_line(const CLI::App& app, const CLI::ParseError& e, int argc, char** argv) {
  // CLI11 reports an unknown command as "a subcommand is required": name it instead.
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.empty() || arg[0] == '-') {
      if (arg == "-c" || arg == "--config") ++i;  // skip the option's value
      continue;
    }
    bool known = false;
    for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
      known = known || sub->check_name(arg);
    }
    if (!known) return "unknown command \"" + arg + "\"; run sms-router --help for the list";
    break;
  }
  return std::string(e.what()) + "; run sms-router --help for usage";
}

}  // namespace

int run(int argc, char** argv) {
  CLI::App app{
      "sms-router: routes SMS from one Twilio number to each user's own agent.\n"
      "Configuration: --config FILE (default /etc/sms-router/config.json, or $SMS_ROUTER_CONFIG);\n"
      "every key can be overridden with SMS_ROUTER_<SECTION>_<KEY>."};
  app.require_subcommand(1);
  // Lets --config come after the subcommand too (`sms-router serve --config FILE`);
  // subcommands created below inherit this.
  app.fallthrough();
  app.set_help_all_flag("--help-all", "Show help for every command");

  ConfigLocation where;
  where.path = kDefaultConfigPath;
  if (const char* env = std::getenv("SMS_ROUTER_CONFIG"); env && *env) {
    where.path = env;
    where.explicit_path = true;
  }
  auto* config_opt = app.add_option("-c,--config", where.path, "Configuration file (JSON)")
                         ->check(CLI::ExistingFile);
  config_opt->group("Global");

  int status = 0;
  auto on = [&status](auto fn) { return [&status, fn] { status = fn(); }; };
  auto config = [&where, config_opt] {
    if (config_opt->count() > 0) where.explicit_path = true;
    return where;
  };

  app.add_subcommand("serve", "Run the service: HTTP webhook, agent dispatcher, sync")
      ->callback(on([&] { return cmd_serve(config()); }));
  app.add_subcommand("migrate", "Create or upgrade the local database, then exit")
      ->callback(on([&] { return cmd_migrate(config()); }));
  app.add_subcommand("check-config", "Validate the configuration and print it, secrets masked")
      ->callback(on([&] { return cmd_check_config(config()); }));
  app.add_subcommand("version", "Print the version")->callback(on([] { return cmd_version(); }));

  bool sync_once = false;
  auto* sync = app.add_subcommand("sync", "Sync users, numbers and settings with the central PostgreSQL, "
                                          "and push usage logs");
  sync->add_flag("--once", sync_once, "One round, then exit (status 1 if it failed)");
  sync->add_subcommand("install-notify",
                       "On the central database: create a change log and triggers on users, "
                       "user_phone_mappings and sms_router_configs, so edges hear of changes at once")
      ->callback(on([&] { return cmd_sync_install_notify(config()); }));
  sync->add_subcommand("uninstall-notify", "Remove what install-notify created")
      ->callback(on([&] { return cmd_sync_uninstall_notify(config()); }));
  sync->callback(on([&, sync] {
    if (!sync->get_subcommands().empty()) return status;  // install-notify / uninstall-notify ran
    return cmd_sync(config(), sync_once ? SyncRounds::kOnce : SyncRounds::kUntilStopped);
  }));

  // ---- users ----
  auto* users = app.add_subcommand("users", "Manage users and their phone numbers (standalone mode)");
  users->require_subcommand(1);

  UserAddArgs add;
  auto* add_cmd = users->add_subcommand("add", "Add a user; the first --phone is the primary number");
  add_cmd->add_option("--phone", add.phones, "Phone number (repeat for more numbers)")->required();
  add_cmd->add_option("--email", add.email, "E-mail address");
  add_cmd->add_option("--name", add.name, "Full name");
  add_cmd->add_option("--id", add.id, "User id (default: next free id)")->check(CLI::PositiveNumber);
  add_cmd->add_flag("--inactive", add.inactive, "Create the user inactive");
  add_cmd->callback(on([&] { return cmd_users_add(config(), add); }));

  users->add_subcommand("list", "List users")->callback(on([&] { return cmd_users_list(config()); }));

  std::string show_key;
  auto* show = users->add_subcommand("show", "Show a user by id, or who owns a phone number");
  show->add_option("PHONE_OR_ID", show_key, "A user id, or a phone number (+E.164 or national)")->required();
  show->callback(on([&] { return cmd_users_show(config(), show_key); }));

  long long user_id = 0;
  for (const char* name : {"enable", "disable", "remove"}) {
    auto* cmd = users->add_subcommand(name, std::string(name == std::string("remove") ? "Remove" :
                                                        name == std::string("enable") ? "Activate" : "Deactivate") +
                                                " a user");
    cmd->add_option("ID", user_id, "User id")->required();
    std::string which = name;
    cmd->callback(on([&, which] {
      if (which == "remove") return cmd_users_remove(config(), user_id);
      return cmd_users_set_active(config(), user_id, which == "enable");
    }));
  }

  auto* phones = users->add_subcommand("phones", "Add or remove a user's extra numbers");
  phones->require_subcommand(1);
  long long phone_user = 0;
  std::string phone;
  auto* phones_add = phones->add_subcommand("add", "Give user ID one more number");
  phones_add->add_option("ID", phone_user, "User id")->required();
  phones_add->add_option("PHONE", phone, "Phone number")->required();
  phones_add->callback(on([&] { return cmd_users_phones_add(config(), phone_user, phone); }));
  auto* phones_remove = phones->add_subcommand("remove", "Take a number away from whoever has it");
  phones_remove->add_option("PHONE", phone, "Phone number")->required();
  phones_remove->callback(on([&] { return cmd_users_phones_remove(config(), phone); }));

  std::string import_file;
  auto* import = users->add_subcommand(
      "import", "Import users from CSV (header: phone_number[,id,email,full_name,is_active,extra_phone_numbers]); "
                "all rows or none");
  import->add_option("FILE", import_file, "CSV file")->required()->check(CLI::ExistingFile);
  import->callback(on([&] { return cmd_users_import(config(), import_file); }));

  // ---- tools ----
  SimulateArgs sim;
  auto* simulate = app.add_subcommand(
      "simulate", "Sign and POST an inbound SMS to the running service as Twilio would; print the reply");
  simulate->add_option("--from", sim.from, "Sender's phone number")->required();
  simulate->add_option("--to", sim.to, "Router number (default: the first of twilio.numbers)");
  simulate->add_option("--target", sim.target,
                       "Base URL to POST to (default: http://127.0.0.1:<listen.port>, or https:// with "
                       "listen.tls_* set, not checking the certificate of this machine's own port); the "
                       "signature is always computed over public_url");
  simulate->add_option("--ca-file", sim.ca_file,
                       "PEM file of the CA to trust for an https:// --target (default: the system's CAs)");
  simulate->add_option("--message-sid", sim.message_sid, "MessageSid to send (default: a new one)");
  simulate->add_option("TEXT", sim.words, "Message text")->required();
  simulate->callback(on([&] { return cmd_simulate(config(), sim); }));

  SignatureArgs sig;
  auto* signature = app.add_subcommand(
      "signature", "Compute X-Twilio-Signature for a request and print the exact string signed");
  signature->add_option("--url", sig.url, "Full URL Twilio called, query included")->required();
  auto* body_opt = signature->add_option("--body", sig.form_body, "Form body (a=1&b=2)");
  signature->add_option("--json-file", sig.json_file, "Raw JSON body file (URL carries bodySHA256)")
      ->check(CLI::ExistingFile)
      ->excludes(body_opt);
  signature->add_option("--signature", sig.signature,
                        "Check this signature: exit 0 only if the server would accept it");
  signature->callback(on([&] { return cmd_signature(config(), sig); }));

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return report("error: ", parse_error_line(app, e, argc, argv), 2);
  } catch (const ConfigError& e) {
    return report("configuration error: ", e.what(), 2);
  } catch (const UsageError& e) {
    return report("error: ", e.what(), 2);
  } catch (const StoreError& e) {
    return report("error: ", e.what(), 1);
  } catch (const std::exception& e) {
    return report("error: ", e.what(), 1);
  }
  return status;
}

}  // namespace smsr

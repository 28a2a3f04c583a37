// `migrate`, `check-config`, `version`.
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "app/cli/commands.hpp"
#include "app/serve.hpp"
#include "core/clock.hpp"
#include "core/phone.hpp"
#include "core/version.hpp"
#include "storage/database.hpp"
#include "storage/store.hpp"

namespace smsr {

int cmd_migrate(const ConfigLocation& where) {
  Config config = where.load();
  Connection conn(config.database.path, Connection::Mode::kWriter);
  int before = migrate_schema(conn);
  int now = current_schema_version();
  if (before == now) {
    std::printf("database %s is up to date (schema version %d)\n", config.database.path.c_str(), now);
  } else {
    std::printf("database %s migrated from schema version %d to %d\n", config.database.path.c_str(),
                before, now);
  }
  return 0;
}

int cmd_check_config(const ConfigLocation& where) {
  Config config = where.load();
  validate_service_config(config);
  std::cout << to_masked_json(config) << "\n";
  for (const auto& warning : service_config_warnings(config)) std::fprintf(stderr, "warning: %s\n", warning.c_str());
  std::error_code ec;
  bool file_read = where.explicit_path || std::filesystem::exists(where.path, ec);
  std::fprintf(stderr, "configuration OK (%s)\n", file_read ? where.path.c_str() : "defaults and environment");
  return 0;
}

int cmd_version() {
  std::printf("sms-router %s\n", version_string());
  return 0;
}

}  // namespace smsr

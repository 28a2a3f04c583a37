// `sms-router serve`: the service wired together (app/serve.cpp), and the checks a
// configuration must pass to run it.
#pragma once

#include "config/config.hpp"

namespace smsr {

// What `serve` needs beyond validate_for_serve: a known phone.default_region and a usable
// agent.url. check-config, serve and a reload all ask it. Throws ConfigError.
void validate_service_config(const Config& config);

// Runs the service until SIGTERM or SIGINT; SIGHUP reloads `where`. Returns the exit status.
int cmd_serve(const ConfigLocation& where);

}  // namespace smsr

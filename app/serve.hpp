// `sms-router serve`: the service wired together (app/serve.cpp), and the checks a
// configuration must pass to run it.
#pragma once

#include <string>
#include <vector>

#include "config/config.hpp"

namespace smsr {

// What `serve` needs beyond validate_for_serve: a known phone.default_region and a usable
// agent.url. check-config, serve and a reload all ask it. Throws ConfigError.
// With listen.tls_* set, it also reads the certificate and key and checks that they match
// and the certificate is valid now.
void validate_service_config(const Config& config);

// What is fine today but needs the operator soon (a certificate expiring within 14 days),
// one line each. check-config prints them; serve and a reload log them.
std::vector<std::string> service_config_warnings(const Config& config);

// Runs the service until SIGTERM or SIGINT; SIGHUP reloads `where`. Returns the exit status.
int cmd_serve(const ConfigLocation& where);

}  // namespace smsr

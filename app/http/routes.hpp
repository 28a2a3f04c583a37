// Every path the HTTP server answers, defined once (the webhooks' in app/twilio/).
#pragma once

#include "app/twilio/webhook_paths.hpp"

namespace smsr::routes {

inline constexpr const char* kHealth = "/sms-router/health";
inline constexpr const char* kMetrics = "/sms-router/metrics";

// The admin API: everything under this prefix needs the bearer token.
inline constexpr const char* kAdminPrefix = "/sms-router/admin/";
inline constexpr const char* kAdminLookup = "/sms-router/admin/lookup";
inline constexpr const char* kAdminStats = "/sms-router/admin/stats";
inline constexpr const char* kAdminUsage = "/sms-router/admin/usage";
inline constexpr const char* kAdminSync = "/sms-router/admin/sync";
inline constexpr const char* kAdminMessages = "/sms-router/admin/messages";
inline constexpr const char* kAdminUsers = "/sms-router/admin/users";
// Patterns (app/http/router.hpp): the user id, then the number.
inline constexpr const char* kAdminUser = "/sms-router/admin/users/{}";
inline constexpr const char* kAdminUserPhones = "/sms-router/admin/users/{}/phones";
inline constexpr const char* kAdminUserPhone = "/sms-router/admin/users/{}/phones/{}";

}  // namespace smsr::routes

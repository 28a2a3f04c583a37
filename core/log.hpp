// Structured logging: one line per event on stderr, key=value, journald-friendly.
// Secrets registered with set_log_secrets() are scrubbed from every line, as a last line of
// defence; callers still redact phone numbers (redact_phone) and never log message bodies
// at info level.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace smsr {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Parses "debug" | "info" | "warn" | "error"; returns false for anything else.
bool parse_log_level(std::string_view text, LogLevel& out);

void set_log_level(LogLevel level);
bool log_enabled(LogLevel level);

// Values that must never appear in a log line (tokens). Replaces the previous set.
void set_log_secrets(std::vector<std::string> secrets);

struct LogField {
  std::string_view key;
  std::string value;
  LogField(std::string_view k, std::string v) : key(k), value(std::move(v)) {}
  LogField(std::string_view k, std::string_view v) : key(k), value(v) {}
  LogField(std::string_view k, const char* v) : key(k), value(v) {}
  template <class N, class = std::enable_if_t<std::is_arithmetic_v<N>>>
  LogField(std::string_view k, N v) : key(k), value(std::to_string(v)) {}
};

// The request this thread is working for. While set, every line the thread logs ends with
// request_id=<id>, so an operator can follow one webhook through the HTTP worker, the
// dispatcher and the agent call with one grep. Thread-local; empty means none.
const std::string& current_request_id();
void set_current_request_id(std::string id);

// A fresh id: 16 lower-case hex digits, random.
std::string new_request_id();

// True for ids we accept from a client's X-Request-Id: 1 to 64 of [A-Za-z0-9._-], so a
// forwarded id cannot break a log line.
bool is_valid_request_id(std::string_view id);

// Sets the current request id for a scope and restores the previous one after it.
class ScopedRequestId {
 public:
  explicit ScopedRequestId(std::string id) : previous_(current_request_id()) {
    set_current_request_id(std::move(id));
  }
  ~ScopedRequestId() { set_current_request_id(std::move(previous_)); }
  ScopedRequestId(const ScopedRequestId&) = delete;
  ScopedRequestId& operator=(const ScopedRequestId&) = delete;

 private:
  std::string previous_;
};

// Writes one line: "level=info event=<event> k=v ... [request_id=<id>]". Values with spaces, quotes or '='
// are quoted. Under journald (JOURNAL_STREAM set) the line starts with a <N> priority
// prefix instead of a timestamp.
void log_event(LogLevel level, std::string_view event, std::initializer_list<LogField> fields);

}  // namespace smsr

// Checks the level before any field is formatted.
#define SMSR_LOG(level, event, ...)                                   \
  do {                                                                \
    if (::smsr::log_enabled(level)) {                                 \
      ::smsr::log_event(level, event, {__VA_ARGS__});                 \
    }                                                                 \
  } while (0)
#define LOG_DEBUG(event, ...) SMSR_LOG(::smsr::LogLevel::kDebug, event, __VA_ARGS__)
#define LOG_INFO(event, ...) SMSR_LOG(::smsr::LogLevel::kInfo, event, __VA_ARGS__)
#define LOG_WARN(event, ...) SMSR_LOG(::smsr::LogLevel::kWarn, event, __VA_ARGS__)
#define LOG_ERROR(event, ...) SMSR_LOG(::smsr::LogLevel::kError, event, __VA_ARGS__)

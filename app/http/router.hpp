// Which handler answers a method and path. Patterns are paths whose "{}" segments match any
// one non-empty segment (handed to the handler, percent-decoded, in order).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "app/http/http_message.hpp"

namespace smsr {

// Where a handler runs: on the I/O thread (it only computes, or hands on and answers
// later), or on the small pool for handlers that wait for the database.
enum class Runs { kOnIoThread, kOnWorker };

struct Route {
  std::string method;
  std::string pattern;
  Runs runs = Runs::kOnWorker;
  Handler handler;
};

class Router {
 public:
  void add(std::string method, std::string pattern, Runs runs, Handler handler);

  struct Match {
    const Route* route = nullptr;     // null: none for this method
    std::vector<std::string> params;  // the "{}" segments, decoded
    std::string allow;                // no route for the method, but for others: "GET, POST"
  };
  Match find(std::string_view method, std::string_view path) const;

 private:
  std::vector<Route> routes_;
};

// Percent-decodes `text` into `out` (a "+" becomes a space only with `plus_is_space`);
// false when a "%" is not followed by two hex digits.
bool percent_decode(std::string_view text, std::string& out, bool plus_is_space = false);

}  // namespace smsr

// A request as the handlers see it, already read and checked for framing by the edge
// (app/http/edge.hpp), and the answer they give. Handlers never see the wire library.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace smsr {

struct HttpRequest {
  std::string method;  // as sent: GET, POST, ...
  std::string target;  // path and query exactly as received (Twilio signs them so)
  std::string path;    // the target up to '?', percent-decoded
  std::vector<std::pair<std::string, std::string>> query;    // decoded, in order
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased, in order
  std::vector<std::string> path_params;  // what the route's "{}" segments matched, decoded
  std::string body;
  std::string peer;        // the client's address
  std::string request_id;  // answered in X-Request-Id and added to every log line

  // The first header of that (lower-case) name, or "" when absent.
  const std::string& header(std::string_view lower_name) const;
  bool has_header(std::string_view lower_name) const;
  // The first query parameter of that name.
  std::optional<std::string> param(std::string_view name) const;
  // The media type of Content-Type, lower-cased, without parameters ("" when absent).
  std::string media_type() const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // besides the ones the edge sets
  bool close = false;  // close the connection after this answer

  static HttpResponse text(int status, std::string_view reason);  // reason + "\n", text/plain
  static HttpResponse json(int status, std::string body);
};

// How a handler answers: once, from any thread.
using Responder = std::function<void(HttpResponse)>;
using Handler = std::function<void(HttpRequest&, Responder)>;

}  // namespace smsr

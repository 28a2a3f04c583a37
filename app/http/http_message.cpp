#include "app/http/http_message.hpp"

#include "util/strings.hpp"

namespace smsr {

const std::string& HttpRequest::header(std::string_view lower_name) const {
  static const std::string kEmpty;
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return value;
  }
  return kEmpty;
}

bool HttpRequest::has_header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return true;
  }
  return false;
}

std::optional<std::string> HttpRequest::param(std::string_view name) const {
  for (const auto& [key, value] : query) {
    if (key == name) return value;
  }
  return std::nullopt;
}

std::string HttpRequest::media_type() const {
  const std::string& value = header("content-type");
  return lower_cased(std::string(trim(value.substr(0, value.find(';')))));
}

HttpResponse HttpResponse::text(int status, std::string_view reason) {
  HttpResponse response;
  response.status = status;
  response.content_type = "text/plain; charset=utf-8";
  response.body.reserve(reason.size() + 1);
  response.body.append(reason).append("\n");
  return response;
}

HttpResponse HttpResponse::json(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.content_type = "application/json";
  response.body = std::move(body);
  return response;
}

}  // namespace smsr

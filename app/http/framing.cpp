#include "app/http/framing.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>

#include "util/strings.hpp"

namespace smsr {

namespace http = boost::beast::http;
namespace net = boost::asio;

Refusal refusal_of(const boost::system::error_code& ec) {
  if (ec == http::error::header_limit) return {431, "request head larger than 16 KiB"};
  if (ec == http::error::body_limit) return {413, "request body larger than limits.max_body_bytes"};
  if (ec == http::error::bad_method) return {400, "malformed request line: bad method"};
  if (ec == http::error::bad_target) return {400, "malformed request line: bad target"};
  if (ec == http::error::bad_version) return {400, "malformed request line: bad HTTP version"};
  if (ec == http::error::bad_line_ending) return {400, "malformed request: lines must end with CRLF"};
  if (ec == http::error::bad_field) return {400, "malformed header name"};
  if (ec == http::error::bad_value) return {400, "malformed header value"};
  if (ec == http::error::bad_content_length) return {400, "bad Content-Length (not a number, or given twice)"};
  if (ec == http::error::bad_transfer_encoding) return {400, "bad Transfer-Encoding (only chunked is accepted)"};
  if (ec == http::error::bad_chunk || ec == http::error::bad_chunk_extension) {
    return {400, "malformed chunked encoding"};
  }
  if (ec == http::error::bad_obs_fold) return {400, "obsolete line folding in a header is not accepted"};
  return {400, "malformed request (" + ec.message() + ")"};
}

namespace {

bool is_transfer_coding_chunked_only(boost::beast::string_view value) { return lower_cased(trim(sv(value))) == "chunked"; }

}  // namespace

bool client_went_away(const boost::system::error_code& ec) {
  return ec == http::error::end_of_stream || ec == http::error::partial_message || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == net::error::operation_aborted ||
         ec == net::ssl::error::stream_truncated;
}

std::optional<Refusal> check_head(const Head& head) {
  if (head.version() != 10 && head.version() != 11) return Refusal{505, "only HTTP/1.0 and HTTP/1.1 are served"};
  const std::string_view target = sv(head.target());
  if (target.size() > kMaxTargetBytes) return Refusal{414, "request target longer than 8 KiB"};
  if (target.empty() || target.front() != '/') return Refusal{400, "request target must be a path starting with /"};
  auto count = [&](http::field f) { return head.count(f); };
  if (head.version() == 11 && count(http::field::host) == 0) return Refusal{400, "Host header required"};
  if (count(http::field::host) > 1) return Refusal{400, "more than one Host header"};
  const bool has_length = count(http::field::content_length) > 0;
  // Beast takes repeated equal lengths ("5, 5" or two headers); behind a proxy that reads
  // them otherwise that is a way to smuggle a request, so only one plain number passes.
  if (count(http::field::content_length) > 1 || (has_length && !is_digits(sv(head[http::field::content_length])))) {
    return Refusal{400, "bad Content-Length (not a number, or given twice)"};
  }
  const bool has_coding = count(http::field::transfer_encoding) > 0;
  if (has_coding && count(http::field::transfer_encoding) > 1) return Refusal{400, "more than one Transfer-Encoding header"};
  if (has_coding && !is_transfer_coding_chunked_only(head[http::field::transfer_encoding])) {
    return Refusal{400, "bad Transfer-Encoding (only chunked is accepted)"};
  }
  if (has_length && has_coding) return Refusal{400, "both Content-Length and Transfer-Encoding given"};
  if (count(http::field::content_encoding) > 0) {
    const std::string coding = lower_cased(trim(sv(head[http::field::content_encoding])));
    if (coding != "identity") return Refusal{415, "Content-Encoding " + coding + " is not accepted; send the body as is"};
  }
  const auto method = head.method();
  if ((method == http::verb::post || method == http::verb::put || method == http::verb::patch) && !has_length &&
      !has_coding) {
    return Refusal{411, "Content-Length required"};
  }
  return std::nullopt;
}

}  // namespace smsr

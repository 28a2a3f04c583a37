// The framing rules of the edge (app/http/edge.cpp): what a parse error means for the
// client, and which well-parsed heads are still refused before their body is read.
// Pure functions over Beast's types; internal to app/http.
#pragma once

#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace smsr {

// The request line and all headers together; a longer head gets 431 (414 when the request
// line alone is longer than kMaxTargetBytes).
inline constexpr std::uint32_t kMaxHeadBytes = 16 * 1024;
inline constexpr std::size_t kMaxTargetBytes = 8 * 1024;

// A framing problem the edge answers itself, then closes.
struct Refusal {
  int status = 400;
  std::string reason;
};

using Head = boost::beast::http::request_header<>;

// What Beast's parser error means for the client, in SPEC's words.
Refusal refusal_of(const boost::system::error_code& ec);
// The client closed or reset the connection: nobody to answer.
bool client_went_away(const boost::system::error_code& ec);
// What the edge refuses before reading the body: framing it will not guess at (a second
// Host or Content-Length, CL with TE, a coding other than chunked, a Content-Encoding, a
// POST without a length, a target that is not a path).
std::optional<Refusal> check_head(const Head& head);

inline std::string_view sv(boost::beast::string_view text) { return {text.data(), text.size()}; }

}  // namespace smsr

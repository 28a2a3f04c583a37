#include "app/twilio/signature.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <optional>
#include <stdexcept>

namespace smsr {
namespace {

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// Byte-wise compare whose duration does not depend on where the inputs differ, so a
// forger cannot discover a valid signature one character at a time. Lengths are public.
bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string base64(const unsigned char* data, std::size_t size) {
  // EVP_EncodeBlock writes 4 characters per 3 bytes (padded) plus a terminating NUL.
  std::string out(4 * ((size + 2) / 3) + 1, '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data,
                                      static_cast<int>(size));
  out.resize(static_cast<std::size_t>(written));
  return out;
}

std::string lower_hex(const unsigned char* data, std::size_t size) {
  constexpr std::string_view kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(2 * size);
  for (std::size_t i = 0; i < size; ++i) {
    out.push_back(kDigits[data[i] >> 4]);
    out.push_back(kDigits[data[i] & 0x0F]);
  }
  return out;
}

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return ascii_lower(x) == ascii_lower(y);
         });
}

std::optional<int> hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return std::nullopt;
}

// Decodes one form name or value: '+' is a space, %XX one byte. Nullopt on a '%' that is
// not followed by two hex digits. The bytes are not checked as UTF-8: they are signed as
// received, and rejecting them here would turn an odd message into a lost one.
std::optional<std::string> form_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out.push_back(' ');
    } else if (text[i] != '%') {
      out.push_back(text[i]);
    } else {
      if (i + 2 >= text.size()) return std::nullopt;
      const std::optional<int> high = hex_value(text[i + 1]);
      const std::optional<int> low = hex_value(text[i + 2]);
      if (!high || !low) return std::nullopt;
      out.push_back(static_cast<char>(*high * 16 + *low));
      i += 2;
    }
  }
  return out;
}

bool is_unreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '_' || c == '.' || c == '~';
}

void append_form_encoded(std::string& out, std::string_view text) {
  constexpr std::string_view kDigits = "0123456789ABCDEF";
  for (char c : text) {
    if (is_unreserved(c)) {
      out.push_back(c);
    } else if (c == ' ') {
      out.push_back('+');
    } else {
      const auto byte = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(kDigits[byte >> 4]);
      out.push_back(kDigits[byte & 0x0F]);
    }
  }
}

std::string_view without_fragment(std::string_view url) { return url.substr(0, url.find('#')); }

// Where the port of an http(s) URL is, or would go, as offsets into the URL.
struct PortLocation {
  std::size_t host_end = 0;              // the ':' of the port, or where one would go
  std::size_t authority_end = 0;         // the '/' or '?' after host[:port], or the end
  std::optional<std::string_view> port;  // the digits after ':', when a ':' is present
  std::string_view default_port;         // "443" for https, "80" for http
};

// Nullopt for schemes other than http and https, whose default ports are not varied.
std::optional<PortLocation> locate_port(std::string_view url) {
  constexpr std::string_view kHttps = "https://";
  constexpr std::string_view kHttp = "http://";
  PortLocation location;
  std::size_t authority_start = 0;
  if (equal_ignoring_case(url.substr(0, kHttps.size()), kHttps)) {
    location.default_port = "443";
    authority_start = kHttps.size();
  } else if (equal_ignoring_case(url.substr(0, kHttp.size()), kHttp)) {
    location.default_port = "80";
    authority_start = kHttp.size();
  } else {
    return std::nullopt;
  }

  location.authority_end = std::min(url.find_first_of("/?", authority_start), url.size());
  const std::string_view authority =
      url.substr(authority_start, location.authority_end - authority_start);

  // Userinfo ("user:pass@") may contain ':' as well; the host starts after the last '@'.
  const std::size_t at = authority.rfind('@');
  std::size_t host_start = at == std::string_view::npos ? 0 : at + 1;
  // An IPv6 literal ("[::1]") is full of ':'; only a ':' after its ']' starts a port.
  if (authority.substr(host_start).starts_with('[')) {
    const std::size_t bracket = authority.find(']', host_start);
    if (bracket == std::string_view::npos) return std::nullopt;
    host_start = bracket + 1;
  }

  const std::size_t colon = authority.find(':', host_start);
  if (colon == std::string_view::npos) {
    location.host_end = location.authority_end;
  } else {
    location.host_end = authority_start + colon;
    location.port = authority.substr(colon + 1);
  }
  return location;
}

// The first value of query parameter `name` in `url`, decoded; nullopt when absent.
std::optional<std::string> query_parameter(std::string_view url, std::string_view name) {
  url = without_fragment(url);
  const std::size_t question = url.find('?');
  if (question == std::string_view::npos) return std::nullopt;
  FormFields query;
  if (!parse_form(url.substr(question + 1), query)) return std::nullopt;
  const auto match = std::find_if(query.begin(), query.end(),
                                  [&](const auto& field) { return field.first == name; });
  if (match == query.end()) return std::nullopt;
  return match->second;
}

// Tries every URL variant with every token. Which token or variant matched is not
// secret, so stopping at the first match gives an attacker nothing.
SignatureCheck check_signature(std::string_view url, const FormFields& fields,
                               std::string_view signature,
                               const std::vector<std::string>& tokens) {
  const std::vector<std::string> variants = url_port_variants(url);
  for (const std::string& variant : variants) {
    std::string payload = signature_payload(variant, fields);
    for (const std::string& token : tokens) {
      if (token.empty()) continue;
      if (constant_time_equal(compute_signature(token, payload), signature)) {
        return {true, variant, std::move(payload)};
      }
    }
  }
  return {false, variants.front(), signature_payload(variants.front(), fields)};
}

}  // namespace

std::string signature_payload(std::string_view url, const FormFields& fields) {
  FormFields sorted = fields;
  std::sort(sorted.begin(), sorted.end());  // by name, then value; byte order
  // Twilio's helper libraries (twilio-python, twilio-node) sign a repeated identical
  // name=value pair once; doing the same keeps this check in agreement with them.
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());

  std::string payload(url);
  for (const auto& [name, value] : sorted) {
    payload.append(name);
    payload.append(value);
  }
  return payload;
}

std::string compute_signature(std::string_view auth_token, std::string_view payload) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int mac_size = 0;
  if (HMAC(EVP_sha1(), auth_token.data(), static_cast<int>(auth_token.size()), bytes(payload),
           payload.size(), mac.data(), &mac_size) == nullptr) {
    // Only a broken OpenSSL setup gets here; an empty signature must never be produced.
    throw std::runtime_error("HMAC-SHA1 is unavailable");
  }
  return base64(mac.data(), mac_size);
}

std::vector<std::string> url_port_variants(std::string_view url) {
  url = without_fragment(url);
  std::vector<std::string> variants{std::string(url)};
  const std::optional<PortLocation> location = locate_port(url);
  if (!location) return variants;

  const std::string_view before_port = url.substr(0, location->host_end);
  const std::string_view after_authority = url.substr(location->authority_end);
  if (!location->port) {
    variants.push_back(std::string(before_port) + ":" + std::string(location->default_port) +
                       std::string(after_authority));
  } else if (*location->port == location->default_port) {
    variants.push_back(std::string(before_port) + std::string(after_authority));
  }
  return variants;
}

SignatureCheck check_form_signature(std::string_view url, const FormFields& fields,
                                    std::string_view signature,
                                    const std::vector<std::string>& tokens) {
  return check_signature(url, fields, signature, tokens);
}

SignatureCheck check_json_signature(std::string_view url, std::string_view raw_body,
                                    std::string_view signature,
                                    const std::vector<std::string>& tokens) {
  SignatureCheck check = check_signature(url, FormFields{}, signature, tokens);
  // The signature covers the URL and so the hash in it; the hash ties the body to it.
  const std::optional<std::string> body_hash = query_parameter(url, "bodySHA256");
  check.valid = check.valid && body_hash && equal_ignoring_case(*body_hash, sha256_hex(raw_body));
  return check;
}

std::string sha256_hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int digest_size = 0;
  if (EVP_Digest(data.data(), data.size(), digest.data(), &digest_size, EVP_sha256(), nullptr) !=
      1) {
    throw std::runtime_error("SHA-256 is unavailable");
  }
  return lower_hex(digest.data(), digest_size);
}

bool parse_form(std::string_view body, FormFields& out) {
  FormFields fields;
  while (!body.empty()) {
    const std::size_t amp = body.find('&');
    const std::string_view segment = body.substr(0, amp);
    body.remove_prefix(amp == std::string_view::npos ? body.size() : amp + 1);
    if (segment.empty()) continue;

    const std::size_t equals = segment.find('=');
    std::optional<std::string> name = form_decode(segment.substr(0, equals));
    std::optional<std::string> value =
        equals == std::string_view::npos ? std::string() : form_decode(segment.substr(equals + 1));
    if (!name || !value) return false;
    fields.emplace_back(std::move(*name), std::move(*value));
  }
  out = std::move(fields);
  return true;
}

std::string encode_form(const FormFields& fields) {
  std::string body;
  for (const auto& [name, value] : fields) {
    if (!body.empty()) body.push_back('&');
    append_form_encoded(body, name);
    body.push_back('=');
    append_form_encoded(body, value);
  }
  return body;
}

}  // namespace smsr

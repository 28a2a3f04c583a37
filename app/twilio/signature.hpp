// Twilio's request signature (X-Twilio-Signature): computing and checking it.
// Used by the webhook, by `sms-router simulate` and by `sms-router signature`, so the
// operator's tool and the server always agree.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace smsr {

// A form field as received, decoded, in the order it appeared. Repeated names allowed.
using FormFields = std::vector<std::pair<std::string, std::string>>;

// The exact string that is signed for a form POST: url, then every field sorted by name
// in byte order (values of a repeated name sorted too), name + value, no separators.
std::string signature_payload(std::string_view url, const FormFields& fields);

// base64(HMAC-SHA1(token, payload)): the 28-character signature.
std::string compute_signature(std::string_view auth_token, std::string_view payload);

// The URL variants Twilio may have signed: the URL as given, and the same URL with the
// scheme's default port (:443 for https, :80 for http) removed if present or added if
// absent. The #fragment is dropped. The first element is always the URL as given
// (minus any fragment).
std::vector<std::string> url_port_variants(std::string_view url);

struct SignatureCheck {
  bool valid = false;
  std::string signed_url;  // the URL variant that matched, or the URL as given
  std::string payload;     // the string signed for signed_url (for the operator's tool)
};

// Checks `signature` for a form-encoded POST against every port variant of `url` and
// every non-empty token (primary, secondary during rotation). Constant-time compare.
SignatureCheck check_form_signature(std::string_view url, const FormFields& fields,
                                    std::string_view signature,
                                    const std::vector<std::string>& tokens);

// JSON bodies: the URL carries bodySHA256=<hex sha256 of the raw body>; only the URL is
// signed, and the hash must match the body. Same variants and tokens as above.
SignatureCheck check_json_signature(std::string_view url, std::string_view raw_body,
                                    std::string_view signature,
                                    const std::vector<std::string>& tokens);

// Lower-case hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);

// Parses application/x-www-form-urlencoded text into fields (decoding '+' and %XX).
// Returns false on malformed input (a bad % escape, invalid UTF-8 is allowed through).
bool parse_form(std::string_view body, FormFields& out);

// Encodes fields as application/x-www-form-urlencoded (for simulate and the REST client).
std::string encode_form(const FormFields& fields);

}  // namespace smsr

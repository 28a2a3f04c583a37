// The port's certificate: listen.tls_cert_file (PEM, the chain may follow the certificate)
// and listen.tls_key_file (PEM). check-config, serve and SIGHUP check a pair the same way.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "config/config.hpp"

namespace boost::asio::ssl {
class context;
}

namespace smsr {

// A certificate closer than this to its expiry is warned about.
inline constexpr std::int64_t kCertificateWarnSeconds = 14 * 24 * 3600;

struct TlsPair {
  std::shared_ptr<boost::asio::ssl::context> context;  // ready for a server: TLS 1.2 and 1.3
  std::int64_t not_after_s = 0;                        // the certificate's expiry, Unix time
  std::string subject;                                 // for logs: the certificate's subject
};

// Reads both files and checks them: readable PEM, the key matches the certificate, the
// certificate is already valid and not expired at `now_s`. Throws ConfigError naming the key
// (listen.tls_cert_file or listen.tls_key_file) and what is wrong.
TlsPair load_tls_pair(const ListenConfig& listen, std::int64_t now_s);

// "listen.tls_cert_file expires in 3 days (2026-12-05T10:00:00Z): renew it", or "" when
// the expiry is further away than kCertificateWarnSeconds.
std::string expiry_warning(const ListenConfig& listen, const TlsPair& pair, std::int64_t now_s);

}  // namespace smsr

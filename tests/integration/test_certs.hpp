// Certificates for the TLS tests, made with OpenSSL at run time: a test CA and server
// certificates it signs (for localhost and 127.0.0.1), valid, expiring or expired.
#pragma once

#include <chrono>
#include <string>

namespace smsr::test {

struct CertFiles {
  std::string cert;  // PEM: the certificate, then the CA's (a chain)
  std::string key;   // PEM: its private key
};

class TestCa {
 public:
  // Writes ca.pem into `dir`.
  explicit TestCa(const std::string& dir);
  ~TestCa();
  TestCa(const TestCa&) = delete;
  TestCa& operator=(const TestCa&) = delete;

  const std::string& ca_file() const { return ca_file_; }
  // A server certificate named `name` (its CN and the files' stem), valid from
  // `not_before` to `not_after` relative to now.
  CertFiles issue(const std::string& name, std::chrono::seconds not_before = std::chrono::hours(-1),
                  std::chrono::seconds not_after = std::chrono::hours(24 * 365));

 private:
  std::string dir_;
  std::string ca_file_;
  void* ca_key_ = nullptr;   // EVP_PKEY*
  void* ca_cert_ = nullptr;  // X509*
};

// Connects to 127.0.0.1:port over TLS, verifying against `ca_file` with SNI "localhost",
// at most protocol version `max_version` (e.g. TLS1_2_VERSION; 0 = any). Returns the
// server certificate's subject CN, or "error: ..." when the handshake fails.
std::string tls_peer_name(int port, const std::string& ca_file, int max_version = 0);

// GET `path` over HTTPS, verifying against `ca_file`: status and body ("" on failure).
std::pair<int, std::string> https_get(int port, const std::string& ca_file, const std::string& path);

}  // namespace smsr::test

#include "app/http/tls.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/ssl/context.hpp>
#include <cstdio>
#include <ctime>

#include "util/time_format.hpp"

namespace smsr {
namespace {

// Mozilla's "intermediate" list for TLS 1.2 (TLS 1.3 suites are OpenSSL's defaults): forward
// secrecy and AEAD ciphers only.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// OpenSSL's reason for the last failure, one line, and clears its queue.
std::string openssl_reason() {
  unsigned long code = ERR_peek_last_error();
  std::string reason;
  if (code != 0) {
    const char* text = ERR_reason_error_string(code);
    reason = text ? text : "unknown OpenSSL error";
  }
  ERR_clear_error();
  return reason.empty() ? "not readable as PEM" : reason;
}

[[noreturn]] void fail(const char* key, const std::string& file, const std::string& problem) {
  throw ConfigError(std::string("\"") + key + "\" (" + file + "): " + problem);
}

std::int64_t asn1_to_epoch(const ASN1_TIME* time) {
  struct tm tm {};
  if (ASN1_TIME_to_tm(time, &tm) != 1) return 0;
  return static_cast<std::int64_t>(timegm(&tm));
}

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};

}  // namespace

TlsPair load_tls_pair(const ListenConfig& listen, std::int64_t now_s) {
  if (listen.tls_cert_file.empty()) fail("listen.tls_cert_file", "unset", "must be set together with listen.tls_key_file");
  if (listen.tls_key_file.empty()) fail("listen.tls_key_file", "unset", "must be set together with listen.tls_cert_file");
  const std::string& cert_file = listen.tls_cert_file;
  const std::string& key_file = listen.tls_key_file;
  ERR_clear_error();

  std::unique_ptr<FILE, FileCloser> cert_in(std::fopen(cert_file.c_str(), "r"));
  if (!cert_in) fail("listen.tls_cert_file", cert_file, std::string("cannot be read: ") + std::strerror(errno));
  std::unique_ptr<X509, decltype(&X509_free)> cert(PEM_read_X509(cert_in.get(), nullptr, nullptr, nullptr), X509_free);
  if (!cert) fail("listen.tls_cert_file", cert_file, "holds no PEM certificate (" + openssl_reason() + ")");

  std::unique_ptr<FILE, FileCloser> key_in(std::fopen(key_file.c_str(), "r"));
  if (!key_in) fail("listen.tls_key_file", key_file, std::string("cannot be read: ") + std::strerror(errno));
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(PEM_read_PrivateKey(key_in.get(), nullptr, nullptr, nullptr),
                                                          EVP_PKEY_free);
  if (!key) fail("listen.tls_key_file", key_file, "holds no PEM private key, or it is encrypted (" + openssl_reason() + ")");
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    fail("listen.tls_key_file", key_file, "does not match the certificate in listen.tls_cert_file (" + cert_file + ")");
  }

  TlsPair pair;
  pair.not_after_s = asn1_to_epoch(X509_get0_notAfter(cert.get()));
  const std::int64_t not_before_s = asn1_to_epoch(X509_get0_notBefore(cert.get()));
  if (pair.not_after_s <= now_s) {
    fail("listen.tls_cert_file", cert_file, "the certificate expired at " + format_iso8601(pair.not_after_s * 1000));
  }
  if (not_before_s > now_s) {
    fail("listen.tls_cert_file", cert_file, "the certificate is not valid before " + format_iso8601(not_before_s * 1000));
  }
  char subject[256] = {0};
  X509_NAME_oneline(X509_get_subject_name(cert.get()), subject, sizeof subject);
  pair.subject = subject;

  namespace ssl = boost::asio::ssl;
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                       ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  SSL_CTX* ctx = context->native_handle();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_cipher_list(ctx, kTls12Ciphers);
  SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    fail("listen.tls_cert_file", cert_file, "the certificate chain cannot be used (" + openssl_reason() + ")");
  }
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    fail("listen.tls_key_file", key_file, "does not match the certificate in listen.tls_cert_file (" + openssl_reason() + ")");
  }
  pair.context = std::move(context);
  return pair;
}

std::string expiry_warning(const ListenConfig& listen, const TlsPair& pair, std::int64_t now_s) {
  const std::int64_t left = pair.not_after_s - now_s;
  if (left > kCertificateWarnSeconds) return "";
  const std::int64_t days = left / (24 * 3600);
  return "listen.tls_cert_file (" + listen.tls_cert_file + ") expires in " + std::to_string(days) +
         (days == 1 ? " day (" : " days (") + format_iso8601(pair.not_after_s * 1000) + "): renew it";
}

}  // namespace smsr

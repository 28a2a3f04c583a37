#include "tests/integration/test_certs.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <stdexcept>

namespace smsr::test {
namespace {

EVP_PKEY* new_key() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (!key) throw std::runtime_error("EC key generation failed");
  return key;
}

void write_pem(const std::string& path, X509* cert, X509* chain, EVP_PKEY* key) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) throw std::runtime_error("cannot write " + path);
  if (cert) PEM_write_X509(f, cert);
  if (chain) PEM_write_X509(f, chain);
  if (key) PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
}

void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

X509* make_cert(const std::string& cn, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key, long from_s, long to_s, bool ca) {
  static long serial = 1;
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert), from_s);
  X509_gmtime_adj(X509_getm_notAfter(cert), to_s);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name);
  if (ca) {
    add_extension(cert, issuer ? issuer : cert, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(cert, issuer ? issuer : cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_extension(cert, issuer, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
    add_extension(cert, issuer, NID_ext_key_usage, "serverAuth");
  }
  X509_sign(cert, issuer_key, EVP_sha256());
  return cert;
}

int connect_loopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

struct TlsClient {
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  int fd = -1;
  std::string error;
  ~TlsClient() {
    if (ssl) SSL_free(ssl);
    if (ctx) SSL_CTX_free(ctx);
    if (fd >= 0) ::close(fd);
  }
  bool open(int port, const std::string& ca_file, int max_version) {
    ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    if (max_version) {
      SSL_CTX_set_min_proto_version(ctx, 0);
      SSL_CTX_set_max_proto_version(ctx, max_version);
      SSL_CTX_set_security_level(ctx, 0);  // let an old version be offered at all
    }
    fd = connect_loopback(port);
    if (fd < 0) {
      error = "error: connect failed";
      return false;
    }
    ssl = SSL_new(ctx);
    static char kHost[] = "localhost";
    SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, kHost);  // SNI
    SSL_set1_host(ssl, "localhost");
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) != 1) {
      char buf[256];
      ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
      error = std::string("error: ") + buf;
      ERR_clear_error();
      return false;
    }
    return true;
  }
};

}  // namespace

TestCa::TestCa(const std::string& dir) : dir_(dir), ca_file_(dir + "/ca.pem") {
  EVP_PKEY* key = new_key();
  X509* cert = make_cert("sms-router test CA", key, nullptr, key, -3600, 3600L * 24 * 3650, true);
  write_pem(ca_file_, cert, nullptr, nullptr);
  ca_key_ = key;
  ca_cert_ = cert;
}

TestCa::~TestCa() {
  X509_free(static_cast<X509*>(ca_cert_));
  EVP_PKEY_free(static_cast<EVP_PKEY*>(ca_key_));
}

CertFiles TestCa::issue(const std::string& name, std::chrono::seconds not_before, std::chrono::seconds not_after) {
  EVP_PKEY* key = new_key();
  X509* ca = static_cast<X509*>(ca_cert_);
  X509* cert = make_cert(name, key, ca, static_cast<EVP_PKEY*>(ca_key_), static_cast<long>(not_before.count()),
                         static_cast<long>(not_after.count()), false);
  CertFiles files{dir_ + "/" + name + ".crt", dir_ + "/" + name + ".key"};
  write_pem(files.cert, cert, ca, nullptr);
  write_pem(files.key, nullptr, nullptr, key);
  X509_free(cert);
  EVP_PKEY_free(key);
  return files;
}

std::string tls_peer_name(int port, const std::string& ca_file, int max_version) {
  TlsClient client;
  if (!client.open(port, ca_file, max_version)) return client.error;
  X509* peer = SSL_get1_peer_certificate(client.ssl);
  if (!peer) return "error: no certificate";
  char cn[256] = {0};
  X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof cn);
  X509_free(peer);
  return cn;
}

std::pair<int, std::string> https_get(int port, const std::string& ca_file, const std::string& path) {
  TlsClient client;
  if (!client.open(port, ca_file, 0)) return {0, client.error};
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  SSL_write(client.ssl, request.data(), static_cast<int>(request.size()));
  std::string response;
  char buf[4096];
  for (int n; (n = SSL_read(client.ssl, buf, sizeof buf)) > 0;) response.append(buf, static_cast<std::size_t>(n));
  if (response.rfind("HTTP/1.1 ", 0) != 0) return {0, response};
  const auto body = response.find("\r\n\r\n");
  return {std::atoi(response.c_str() + 9), body == std::string::npos ? "" : response.substr(body + 4)};
}

}  // namespace smsr::test

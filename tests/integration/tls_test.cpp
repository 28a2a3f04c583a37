// The port speaking TLS itself: HTTPS with a test CA, nothing through in plain HTTP, TLS 1.2
// and 1.3 only, a renewed certificate served after SIGHUP by the same process, a bad new
// pair refused with the old one kept, and check-config's verdict on certificate files.
#include <openssl/ssl.h>
#include <signal.h>

#include <catch2/catch.hpp>

#include "tests/integration/harness.hpp"
#include "tests/integration/raw_http.hpp"
#include "tests/integration/test_certs.hpp"

using namespace smsr;
using namespace smsr::test;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

struct TlsFixture {
  TempDir dir;
  TestCa ca{dir.path()};
  CertFiles pair = ca.issue("localhost");
  json config = base_config(dir);

  TlsFixture() {
    config["listen"]["tls_cert_file"] = pair.cert;
    config["listen"]["tls_key_file"] = pair.key;
  }
};

CommandResult check_config(const TempDir& dir, const json& config) {
  const std::string path = dir.file("check.json");
  write_file(path, config.dump());
  return run_cli({"--config", path, "check-config"});
}

}  // namespace

TEST_CASE("with a certificate the port speaks HTTPS: health and a signed webhook work, plain HTTP gets nothing through") {
  TlsFixture f;
  Service service(f.dir, f.config);
  REQUIRE(service.cli({"users", "add", "--id", "1", "--phone", kAda}).status == 0);
  service.start();

  auto [status, body] = https_get(service.port(), f.ca.ca_file(), "/sms-router/health");
  CHECK(status == 200);
  CHECK(body.find("\"status\":\"ok\"") != std::string::npos);
  CHECK(tls_peer_name(service.port(), f.ca.ca_file()) == "localhost");

  // Plain HTTP: no answer, the connection closes; no webhook is stored.
  RawConnection plain(service.port());
  plain.send("GET /sms-router/health HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK_FALSE(plain.read_answer(3s));
  CHECK(plain.closed_within(3s));

  // TLS 1.2 and 1.3 are spoken; 1.1 is not.
  CHECK(tls_peer_name(service.port(), f.ca.ca_file(), TLS1_2_VERSION) == "localhost");
  CHECK(tls_peer_name(service.port(), f.ca.ca_file(), TLS1_3_VERSION) == "localhost");
  CHECK(tls_peer_name(service.port(), f.ca.ca_file(), TLS1_1_VERSION).rfind("error:", 0) == 0);

  const std::string metrics = https_get(service.port(), f.ca.ca_file(), "/sms-router/metrics").second;
  CHECK(metrics.find("sms_router_tls_certificate_expiry_seconds ") != std::string::npos);
  CHECK(service.stop() == 0);
}

TEST_CASE("SIGHUP serves a renewed certificate from the same process; a bad new pair keeps the old one") {
  TlsFixture f;
  Service service(f.dir, f.config);
  service.start();
  const pid_t pid = service.pid();
  REQUIRE(tls_peer_name(service.port(), f.ca.ca_file()) == "localhost");

  // Renewal: new files at the same paths, as certbot's deploy hook leaves them.
  CertFiles renewed = f.ca.issue("renewed");
  write_file(f.pair.cert, read_file(renewed.cert));
  write_file(f.pair.key, read_file(renewed.key));
  ::kill(pid, SIGHUP);
  REQUIRE(eventually([&] { return tls_peer_name(service.port(), f.ca.ca_file()) == "renewed"; }));
  CHECK(service.pid() == pid);

  // A key that does not match: refused, and the renewed pair is still served.
  CertFiles other = f.ca.issue("other");
  write_file(f.pair.key, read_file(other.key));
  ::kill(pid, SIGHUP);
  REQUIRE(eventually([&] { return service.log().find("event=config.reload_failed") != std::string::npos; }));
  CHECK(service.log().find("listen.tls_key_file") != std::string::npos);
  CHECK(tls_peer_name(service.port(), f.ca.ca_file()) == "renewed");
  CHECK(service.stop() == 0);
}

TEST_CASE("check-config refuses a key that does not match, an expired certificate and unreadable files, naming the key") {
  TempDir dir;
  TestCa ca(dir.path());
  CertFiles good = ca.issue("good");
  CertFiles other = ca.issue("other");
  CertFiles expired = ca.issue("expired", -std::chrono::hours(48), -std::chrono::hours(24));
  CertFiles soon = ca.issue("soon", -std::chrono::hours(1), std::chrono::hours(24 * 10 + 1));
  json config = base_config(dir);

  config["listen"]["tls_cert_file"] = good.cert;
  config["listen"]["tls_key_file"] = good.key;
  auto ok = check_config(dir, config);
  CHECK(ok.status == 0);
  CHECK(ok.err.find("warning") == std::string::npos);

  config["listen"]["tls_key_file"] = other.key;
  auto mismatch = check_config(dir, config);
  CHECK(mismatch.status != 0);
  CHECK(mismatch.err.find("listen.tls_key_file") != std::string::npos);
  CHECK(mismatch.err.find("does not match") != std::string::npos);

  config["listen"]["tls_cert_file"] = expired.cert;
  config["listen"]["tls_key_file"] = expired.key;
  auto old = check_config(dir, config);
  CHECK(old.status != 0);
  CHECK(old.err.find("listen.tls_cert_file") != std::string::npos);
  CHECK(old.err.find("expired") != std::string::npos);

  config["listen"]["tls_cert_file"] = dir.file("missing.pem");
  config["listen"]["tls_key_file"] = good.key;
  auto missing = check_config(dir, config);
  CHECK(missing.status != 0);
  CHECK(missing.err.find("listen.tls_cert_file") != std::string::npos);
  CHECK(missing.err.find("cannot be read") != std::string::npos);

  config["listen"]["tls_cert_file"] = good.cert;
  config["listen"]["tls_key_file"] = "";
  auto half = check_config(dir, config);
  CHECK(half.status != 0);
  CHECK(half.err.find("listen.tls_key_file") != std::string::npos);

  config["listen"]["tls_cert_file"] = soon.cert;
  config["listen"]["tls_key_file"] = soon.key;
  auto expiring = check_config(dir, config);
  CHECK(expiring.status == 0);
  CHECK(expiring.err.find("warning: listen.tls_cert_file") != std::string::npos);
  INFO(expiring.err);
  CHECK(expiring.err.find("expires in 10 days") != std::string::npos);
}

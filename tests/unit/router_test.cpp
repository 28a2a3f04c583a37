// The route table: exact paths, "{}" segments decoded once, and what a miss says.
#include <catch2/catch.hpp>

#include "app/http/router.hpp"

using namespace smsr;

namespace {

Router table() {
  Router router;
  auto none = [](HttpRequest&, Responder) {};
  router.add("GET", "/sms-router/health", Runs::kOnWorker, none);
  router.add("GET", "/sms-router/admin/users/{}", Runs::kOnWorker, none);
  router.add("PUT", "/sms-router/admin/users/{}", Runs::kOnWorker, none);
  router.add("DELETE", "/sms-router/admin/users/{}/phones/{}", Runs::kOnWorker, none);
  return router;
}

}  // namespace

TEST_CASE("a route matches its method and path, and hands over its segments decoded once") {
  Router router = table();
  auto health = router.find("GET", "/sms-router/health");
  REQUIRE(health.route);
  CHECK(health.route->pattern == "/sms-router/health");

  auto phone = router.find("DELETE", "/sms-router/admin/users/7/phones/%2B15145550101");
  REQUIRE(phone.route);
  CHECK(phone.params == std::vector<std::string>{"7", "+15145550101"});
  // Decoded once: an encoded percent sign stays a percent sign.
  auto twice = router.find("DELETE", "/sms-router/admin/users/7/phones/%252B1");
  REQUIRE(twice.route);
  CHECK(twice.params.at(1) == "%2B1");
}

TEST_CASE("a miss says which methods the path allows, or nothing when no route has the path") {
  Router router = table();
  auto wrong_method = router.find("POST", "/sms-router/admin/users/7");
  CHECK_FALSE(wrong_method.route);
  CHECK(wrong_method.allow == "GET, PUT");
  auto unknown = router.find("GET", "/sms-router/nothing");
  CHECK_FALSE(unknown.route);
  CHECK(unknown.allow.empty());
  CHECK_FALSE(router.find("GET", "/sms-router/admin/users/").route);   // an empty segment
  CHECK_FALSE(router.find("GET", "/sms-router/health/").route);        // a trailing slash
  CHECK_FALSE(router.find("GET", "/sms-router/admin/users/%zz").route);  // bad encoding
}

TEST_CASE("percent-decoding refuses a % without two hex digits") {
  std::string out;
  CHECK(percent_decode("a%20b", out));
  CHECK(out == "a b");
  CHECK(percent_decode("a+b", out));
  CHECK(out == "a+b");
  CHECK(percent_decode("a+b", out, true));
  CHECK(out == "a b");
  CHECK_FALSE(percent_decode("%", out));
  CHECK_FALSE(percent_decode("%2", out));
  CHECK_FALSE(percent_decode("%g0", out));
}
